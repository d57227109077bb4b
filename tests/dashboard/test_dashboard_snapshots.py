"""The dashboard's screens as pictures (pytest-textual-snapshot), at 80×24 and 160×48, dark and
light: the accepted SVGs are in tests/__snapshots__/test_dashboard_snapshots/. The clock and the
data are frozen (tests/dashboard/test_dashboard_home.py), so a change in a picture is a change in the
screen. After a deliberate change: ``pytest tests/dashboard/test_dashboard_snapshots.py --snapshot-update``,
then look at the new pictures before committing them.
"""

from __future__ import annotations

import pytest

from store import EmbeddedStore
from tests.dashboard.test_dashboard_home import fill_home
from tests.dashboard.test_dashboard_pilot import make_app, settle


@pytest.fixture
def filled(tmp_path):
    store = EmbeddedStore(tmp_path / "home")
    ids = fill_home(store)
    yield store, ids
    store.close()


def opening(*keys: str, theme: str | None = None, alert: str | None = None, ids: dict | None = None):
    """What to do before the picture: a theme, keys, or an alert to open from the queue."""

    async def before(pilot) -> None:
        app = pilot.app
        if theme:
            app.theme = theme
        await settle(pilot, app)
        if alert is not None and ids is not None:
            await pilot.press("2")
            await settle(pilot, app)
            table = app.screen.query_one("#queue")
            table.move_cursor(row=table.get_row_index(ids[alert]))
            await pilot.press("enter")
            await settle(pilot, app)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, app)

    return before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_overview(snap_compare, filled, size):
    store, _ = filled
    assert snap_compare(make_app(store), terminal_size=size, run_before=opening())


def test_overview_light_theme(snap_compare, filled):
    store, _ = filled
    assert snap_compare(make_app(store), terminal_size=(80, 24), run_before=opening(theme="textual-light"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_alert_queue(snap_compare, filled, size):
    store, _ = filled
    assert snap_compare(make_app(store), terminal_size=size, run_before=opening("2"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_alert_detail_with_a_hostile_raw_record(snap_compare, filled, size):
    store, ids = filled
    assert snap_compare(make_app(store), terminal_size=size, run_before=opening(alert="signin", ids=ids))


def test_approvals(snap_compare, filled):
    store, _ = filled
    assert snap_compare(make_app(store), terminal_size=(80, 24), run_before=opening("4"))


def test_help(snap_compare, filled):
    store, _ = filled
    assert snap_compare(make_app(store), terminal_size=(80, 24), run_before=opening("question_mark"))
