"""Throw-away stores for the rule pack's tests: embedded in a temporary folder, Elasticsearch under
a temporary index prefix. Both leave nothing behind: the folder is removed, and every index and
template under the prefix is deleted when the run closes them (also after a failure).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from store import ElasticStore, EmbeddedStore

#: Index prefixes of rule-pack runs start so: recognisable in ``_cat/indices`` if a run was killed.
ES_PREFIX = "cyberwell-rules-test-"


class EmbeddedStores:
    """Fresh embedded stores (Parquet + SQLite) in one temporary folder."""

    name = "embedded"

    def __init__(self) -> None:
        self.folder = _Scratch("cyberwell-rules-test-")
        self.stores: list[EmbeddedStore] = []

    def open(self, label: str) -> EmbeddedStore:
        store = EmbeddedStore(self.folder.path() / f"{len(self.stores) + 1}-{label}")
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in self.stores:
            store.close()  # its DuckDB connections, before the files go
        self.stores.clear()
        self.folder.remove()


class ElasticStores:
    """Fresh Elasticsearch stores on ``client``: each its own index prefix below one run prefix,
    its state database in a temporary folder. ``close`` deletes the run's indices and templates
    by name (a node refuses wildcard deletes by default), then the folder."""

    name = "elasticsearch"

    def __init__(self, client) -> None:
        self.client = client
        self.prefix = f"{ES_PREFIX}{uuid.uuid4().hex[:8]}-"
        self.folder = _Scratch("cyberwell-rules-test-es-")
        self.opened = 0

    def open(self, label: str) -> ElasticStore:
        self.opened += 1
        home = self.folder.path() / str(self.opened)
        return ElasticStore(self.client, home, prefix=f"{self.prefix}{self.opened}-")

    def close(self) -> None:
        try:
            if self.opened:
                self._delete_indices()
                self._delete_templates()
        finally:
            self.folder.remove()

    def _delete_indices(self) -> None:
        found = self.client.indices.get(index=f"{self.prefix}*", expand_wildcards="all", allow_no_indices=True)
        names = sorted(found.body)
        for start in range(0, len(names), 50):  # a request line holds some 4 KB of names
            self.client.indices.delete(index=",".join(names[start : start + 50]))

    def _delete_templates(self) -> None:
        # A wildcard that matches no template answers 404 with an empty list: nothing to delete.
        templates = self.client.options(ignore_status=404).indices.get_index_template(name=f"{self.prefix}*")
        for template in templates.body.get("index_templates", []):
            self.client.indices.delete_index_template(name=template["name"])


class _Scratch:
    """A temporary folder made on first use, so a run that stops before its first store (the
    cluster did not answer) leaves no folder behind."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.made: Path | None = None

    def path(self) -> Path:
        if self.made is None:
            self.made = Path(tempfile.mkdtemp(prefix=self.prefix))
        return self.made

    def remove(self) -> None:
        if self.made is not None:
            shutil.rmtree(self.made, ignore_errors=True)
            self.made = None
