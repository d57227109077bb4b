"""Fixtures of the dashboard tests: the event loop Textual's Pilot runs on, and a filled home."""

from __future__ import annotations

import pytest

from store import EmbeddedStore
from tests.dashboard.test_dashboard_home import fill_home


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def home(tmp_path):
    """An embedded store with the dashboard's alerts, runs and events (``fill_home``), and their ids."""
    store = EmbeddedStore(tmp_path / "home")
    ids = fill_home(store)
    yield store, ids
    store.close()
