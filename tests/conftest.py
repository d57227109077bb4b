"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    candidates = [
        os.environ.get("CYBERWELL_SHARED_DATA"),
        REPO.parent / "shared" / "data",
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and Path(candidate, "README.md").is_file():
            return Path(candidate)
    raise RuntimeError(
        "third-party sample data not found: set CYBERWELL_SHARED_DATA to the shared/data folder"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Third-party sample data (../shared/data): sources and licences in its README.

    The samples are used in place, not copied into this repository: some carry licences that
    allow use as local test fixtures but not redistribution.
    """
    return _shared_data_dir()


@pytest.fixture(scope="session")
def elastic_node():
    """The session's real Elasticsearch node (tests/elastic_node.py), started on first use.

    ``CYBERWELL_ES_URL`` points the suite at a node that is already running instead; then this
    fixture yields None and tests that must stop a node start their own.
    """
    if os.environ.get("CYBERWELL_ES_URL"):
        yield None
        return
    from tests.elastic_node import ElasticNode

    node = ElasticNode()
    node.start()
    try:
        yield node
    finally:
        node.remove()


@pytest.fixture(scope="session")
def elastic_url(elastic_node) -> str:
    return elastic_node.url if elastic_node is not None else os.environ["CYBERWELL_ES_URL"].rstrip("/")


@pytest.fixture
def es_prefix(elastic_url, request):
    """An index prefix of this test's own, and its indices and templates deleted afterwards."""
    import re
    import uuid
    import urllib.request

    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    prefix = f"cwt-{name}-{uuid.uuid4().hex[:6]}-"
    yield prefix
    for path in (f"/{prefix}*?expand_wildcards=all&ignore_unavailable=true", f"/_index_template/{prefix}*"):
        try:
            urllib.request.urlopen(urllib.request.Request(elastic_url + path, method="DELETE"), timeout=30)
        except OSError:
            pass  # a test that stopped the node, or nothing to delete
