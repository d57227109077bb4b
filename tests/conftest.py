"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment. Rich reads them
# once, when a console is made, and would hold every CLI table at 80 columns: the tests that
# give the CLI a width of their own (CliRunner's env) would not get it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


def _shared_data_dir() -> Path:
    candidates = [
        os.environ.get("CYBERWELL_SHARED_DATA"),
        REPO.parent / "shared" / "data",
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and Path(candidate, "README.md").is_file():
            return Path(candidate)
    raise RuntimeError("third-party sample data not found: set CYBERWELL_SHARED_DATA to the shared/data folder")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Third-party sample data (../shared/data): sources and licences in its README.

    The samples are used in place, not copied into this repository: some carry licences that
    allow use as local test fixtures but not redistribution.
    """
    return _shared_data_dir()


def pytest_configure(config: pytest.Config) -> None:
    """With ``-n`` (pytest-xdist), start one node for every worker instead of one each.

    Workers inherit the environment of this (the controller) process, so ``CYBERWELL_ES_URL``
    set here points them all at the node; it stops when the session ends.
    """
    workers = config.getoption("numprocesses", default=None)
    if not workers or os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("CYBERWELL_ES_URL"):
        return
    from contextlib import ExitStack

    from tests.support.elastic_node import running_node

    stack = ExitStack()
    node = stack.enter_context(running_node())
    os.environ["CYBERWELL_ES_URL"] = node.url
    config.add_cleanup(stack.close)


@pytest.fixture(scope="session")
def elastic_node():
    """The session's real Elasticsearch node (tests/support/elastic_node.py), started on first use.

    ``CYBERWELL_ES_URL`` points the suite at a node that is already running instead; then this
    fixture yields None and tests that must stop a node start their own.
    """
    if os.environ.get("CYBERWELL_ES_URL"):
        yield None
        return
    from tests.support.elastic_node import running_node

    with running_node() as node:
        yield node


@pytest.fixture(scope="session")
def elastic_url(elastic_node) -> str:
    return elastic_node.url if elastic_node is not None else os.environ["CYBERWELL_ES_URL"].rstrip("/")


@pytest.fixture
def es_prefix(elastic_url, request):
    """An index prefix of this test's own, and its indices and templates deleted afterwards."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    prefix = f"cwt-{name}-{uuid.uuid4().hex[:6]}-"
    yield prefix
    delete_indices(elastic_url, prefix)


def delete_indices(url: str, prefix: str) -> None:
    """Delete a prefix's indices by name and its templates.

    Elasticsearch 8 refuses wildcard index deletes (action.destructive_requires_name), so the
    names are listed first and deleted in groups that fit the node's request line.
    """
    import urllib.error
    import urllib.request

    from store.elastic.store import name_batches

    try:
        with urllib.request.urlopen(f"{url}/_cat/indices/{prefix}*?h=index&expand_wildcards=all", timeout=30) as answer:
            names = answer.read().decode().split()
        for group in name_batches(names):
            urllib.request.urlopen(urllib.request.Request(f"{url}/{group}", method="DELETE"), timeout=60)
        urllib.request.urlopen(urllib.request.Request(f"{url}/_index_template/{prefix}*", method="DELETE"), timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 404:  # nothing to delete is fine; anything else must be seen
            raise
    except urllib.error.URLError:
        pass  # a test that stopped the node and left it stopped fails on its own
