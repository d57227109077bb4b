"""Where events and state live.

Two interchangeable event stores implement one interface (``store.protocol.Store``: append a
batch idempotently, search and count a time window, keep alerts); the embedded one is the default.
State (catalogue, quarantine, alerts, rule runs) is SQLite in WAL mode.
"""

from typing import TYPE_CHECKING

from store.elastic.client import ElasticSettings
from store.embedded import EmbeddedStore
from store.protocol import AppendResult, Store
from store.state.database import StateDB

if TYPE_CHECKING:
    from store.elastic.store import ElasticStore

    def _conforms(embedded: EmbeddedStore, elastic: ElasticStore) -> tuple[Store, Store]:
        """Never called: the type checker fails here when either store drifts from ``Store``."""
        return embedded, elastic


def __getattr__(name: str):
    # The Elasticsearch client is slow to import: only commands that use that store pay for it.
    if name == "ElasticStore":
        from store.elastic.store import ElasticStore

        return ElasticStore
    raise AttributeError(f"module 'store' has no attribute {name!r}")


__all__ = ["AppendResult", "ElasticSettings", "ElasticStore", "EmbeddedStore", "StateDB", "Store"]
