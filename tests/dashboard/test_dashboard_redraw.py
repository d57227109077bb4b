"""What the dashboard's speed work must not cost: a refresh that skips unchanged panels still
draws a changed one, reused alert counts are never stale, and an alert opened is never shown
half-read (nor pops up after the person went back to the table).

Real parts only: the embedded store, a second store object on the same home for "another
connection", and the Textual app under its Pilot.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.geometry import Region
from textual.widgets import DataTable, Static

from console.dashboard.screens.detail_pane import DetailPane
from console.dashboard.screens.queue_screen import QueueScreen
from queries.dashboard.alert_counts import alert_counts
from store import EmbeddedStore
from store.state.alert_record import Alert
from tests.dashboard.test_dashboard_home import ALICE, NOW
from tests.dashboard.test_dashboard_pilot import make_app, settle

pytestmark = pytest.mark.anyio
#: Panels a new alert does not touch, and panels it does.
UNTOUCHED = ("collectors", "detection", "webhook", "approvals", "compliance")
TOUCHED = ("open", "chart", "rules", "users")


def late_alert() -> Alert:
    moment = NOW - timedelta(minutes=30)
    return Alert.build("rule-late", "Impossible travel (late)", "critical", [], {"user.name": ALICE},
                       moment, moment, moment, ["late-1"])  # fmt: skip


def drawn(panel: Static) -> str:
    """What the panel's lines on the screen say (its render cache: stale if not redrawn)."""
    region = Region(0, 0, panel.outer_size.width, panel.outer_size.height)
    return "\n".join(strip.text for strip in panel.render_lines(region))


async def test_a_refresh_draws_the_changed_panels_and_keeps_the_others(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        panels = {key: app.screen.query_one(f"#panel-{key}", Static) for key in (*UNTOUCHED, *TOUCHED)}
        before = {key: panel.content for key, panel in panels.items()}
        assert "3 open of 3" in drawn(panels["open"])
        other = EmbeddedStore(store.home)  # another connection, as `cyberwell serve` would be
        other.alerts.save_run([late_alert()])
        other.close()
        await pilot.press("r")
        await settle(pilot, app)
        # The changed panels are drawn again: the open count has the same number of lines, so
        # this is the redraw without a layout.
        assert "4 open of 4" in drawn(panels["open"]) and "‼ CRIT 2" in drawn(panels["open"])
        assert "Impossible travel (late)" in drawn(panels["rules"])
        assert all(panels[key].content is not before[key] for key in TOUCHED)
        # The others were not given their text again.
        assert all(panels[key].content is before[key] for key in UNTOUCHED)


async def test_reused_alert_counts_follow_every_kind_of_change(home):
    store, ids = home
    with store.state.connect() as con:
        first = alert_counts(con)
        assert alert_counts(con, previous=first) is first  # nothing changed: the same record
    store.alerts.set_status(ids["spray"], "closed", "alice", reason="false_positive")
    other = EmbeddedStore(store.home)
    other.alerts.save_run([late_alert()])
    other.close()
    with store.state.connect() as con:
        again = alert_counts(con, previous=first)
        fresh = alert_counts(con)
    assert again == fresh and again != first
    assert (again.open_total, again.all_total) == (3, 4)


async def test_an_alert_is_shown_only_once_read_and_not_after_going_back(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        assert isinstance(app.screen, QueueScreen)
        table = app.screen.query_one("#queue", DataTable)
        pane = app.screen.query_one(DetailPane)
        table.move_cursor(row=table.get_row_index(ids["scan"]))
        with app.ctx.lock:  # the store is slow to answer: the read waits
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert not pane.display and app.focused is table  # no pane of "…" meanwhile
        await settle(pilot, app)
        assert pane.display and "203.0.113.7" in str(app.screen.query_one("#summary", Static).render())
        await pilot.press("escape")
        await settle(pilot, app)
        table.move_cursor(row=table.get_row_index(ids["signin"]))
        with app.ctx.lock:
            await pilot.press("enter")
            await pilot.press("escape")  # back to the table before the alert came
        await settle(pilot, app)
        assert not pane.display and app.focused is table


async def test_an_alert_that_cannot_be_read_never_shows_the_last_ones_sections(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.screen.query_one("#queue", DataTable)
        table.move_cursor(row=table.get_row_index(ids["scan"]))
        await pilot.press("enter")
        await settle(pilot, app)
        assert "203.0.113.7" in str(app.screen.query_one("#summary", Static).render())
        await pilot.press("escape")
        await settle(pilot, app)
        with store.state.transaction() as con:
            con.execute("ALTER TABLE alerts RENAME TO alerts_away")
        table.move_cursor(row=table.get_row_index(ids["signin"]))
        await pilot.press("enter")
        await settle(pilot, app)
        pane = app.screen.query_one(DetailPane)
        problem = str(app.screen.query_one("#detail-problem", Static).render())
        assert pane.display and "could not read the store (OperationalError: no such table" in problem
        for key in ("summary", "timeline", "raw"):
            assert "203.0.113.7" not in str(app.screen.query_one(f"#{key}", Static).render())
        assert app.screen.query_one("#events", DataTable).row_count == 0
        with store.state.transaction() as con:
            con.execute("ALTER TABLE alerts_away RENAME TO alerts")


async def test_the_queue_keeps_its_table_when_nothing_changed_and_shows_a_new_alert(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.screen.query_one("#queue", DataTable)
        rows = list(table.ordered_rows)
        await pilot.press("r")
        await settle(pilot, app)
        # The same rows, not rebuilt: a rebuilt table has new row objects.
        assert len(rows) == 3 and all(a is b for a, b in zip(rows, table.ordered_rows, strict=True))
        other = EmbeddedStore(store.home)
        other.alerts.save_run([late_alert()])
        other.close()
        await pilot.press("r")
        await settle(pilot, app)
        assert table.row_count == 4 and "Impossible travel (late)" in str(table.get_row_at(0)[2])
        assert "4 of 4 alerts" in str(app.screen.query_one("#queue-count", Static).render())


async def test_a_refresh_while_the_queue_takes_its_widgets_down_reads_the_queue(home):
    """The refresh timer may fire while the queue screen is taken down (its widgets removed
    before it): it reads the queue again instead of stopping the dashboard on a missing widget."""
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await screen.query_one("#switcher").remove()
        await pilot.press("r")
        await settle(pilot, app)
        assert app.is_running and not screen.showing_alert


async def test_a_refresh_while_an_open_alert_loses_its_pane_reads_the_queue(home):
    """Taken down with an alert open, the screen may lose the alert's pane before its switcher
    (seen once in a fresh clone's run of test_new_alerts_appear_without_a_restart_on_elasticsearch)."""
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, QueueScreen) and screen.showing_alert
        await screen.query_one(DetailPane).remove()
        await pilot.press("r")
        await settle(pilot, app)
        assert app.is_running
