"""The dashboard driven from the keyboard with Textual's Pilot, over a real embedded store.

Each test presses keys as the security manager would and then checks what they would notice:
the screen's text, and what the store, the alert's history, the audit trail and the exceptions
folder kept.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from console.dashboard.app import DashboardApp
from console.dashboard.context import DashboardContext
from console.dashboard.screens.detail_pane import DetailPane
from console.dashboard.screens.help_screen import HelpScreen
from console.dashboard.screens.queue_screen import QueueScreen
from detections.exceptions import load_exceptions
from store.state.audit import recent_audit
from store.state.playbook_runs import PlaybookRuns
from tests.dashboard.test_dashboard_home import ALICE, HOSTILE, NOW, SCAN_RULE, SIGNIN_RULE

pytestmark = pytest.mark.anyio
NOTE = "Call the user on a known number; if they did not sign in, disable the account."


def make_app(store, refresh: float = 60.0) -> DashboardApp:
    """The app over ``store`` with the frozen clock; closing the store stays the caller's."""
    ctx = DashboardContext(
        store=store,
        actor="alice",
        exceptions_folder=store.home / "exceptions",
        clock=lambda: NOW,
        notes={SIGNIN_RULE: NOTE},
    )
    return DashboardApp(ctx, refresh_seconds=refresh)


async def settle(pilot, app) -> None:
    """Let the workers read and the screen show what they read (a worker a newer one replaced
    is cancelled: it is waited for like the others, never awaited for a result)."""
    for _ in range(3):
        await pilot.pause()
        deadline = time.monotonic() + 10
        while any(not worker.is_finished for worker in app.workers) and time.monotonic() < deadline:
            await pilot.pause(0.01)
    await pilot.pause()


def shown(app, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.screen.query_one(selector, Static).render())


def table_texts(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


async def open_alert(pilot, app, alert_id: str) -> None:
    await pilot.press("2")
    await settle(pilot, app)
    table = app.screen.query_one("#queue", DataTable)
    table.move_cursor(row=table.get_row_index(alert_id))
    await pilot.press("enter")
    await settle(pilot, app)
    assert isinstance(app.screen, QueueScreen) and app.screen.query_one(DetailPane).display


async def test_overview_says_what_is_open_and_what_waits(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert "3 open of 3" in shown(app, "#panel-open")
        assert "‼ CRIT 1" in shown(app, "#panel-open") and "▲ HIGH 1" in shown(app, "#panel-open")
        assert "entra-signins ✔ ok  lag 10 min" in shown(app, "#panel-collectors")
        assert "1 gap waiting for a backfill" in shown(app, "#panel-detection")
        assert "1 pending (1 due)" in shown(app, "#panel-webhook")
        assert "#1 compromised_account: disable the account" in shown(app, "#panel-approvals")
        assert "No Cyber Essentials report yet." in shown(app, "#panel-compliance")
        assert ALICE in shown(app, "#panel-users") and "203.0.113.7" in shown(app, "#panel-addresses")


async def test_keys_move_between_every_screen_and_help(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("2")
        await settle(pilot, app)
        assert isinstance(app.screen, QueueScreen) and app.screen.query_one("#queue", DataTable).row_count == 3
        await pilot.press("3")
        await settle(pilot, app)
        collectors = table_texts(app.screen.query_one("#collectors", DataTable))
        assert collectors[0][:3] == ["entra-signins", "✔ ok", "10 min"]
        await pilot.press("4")
        await settle(pilot, app)
        approvals = table_texts(app.screen.query_one("#approvals", DataTable))
        assert approvals[0][:4] == ["#1", "compromised_account", "disable the account", "disable_user"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("1")
        await settle(pilot, app)
        assert app.current_mode == "overview"


async def test_the_command_palette_opens_a_screen(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"approvals waiting")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.current_mode == "approvals"


async def test_queue_filters_and_search_from_the_keyboard(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.screen.query_one("#queue", DataTable)
        await pilot.press("slash", *"alice.smith")
        await settle(pilot, app)
        assert [key.value for key in table.rows] == [ids["signin"]]
        assert shown(app, "#queue-count") == "1 of 1 alerts"
        await pilot.press(*["backspace"] * len("alice.smith"))
        # Severity: the filter key, then the list (blank, critical, high, ...): high or above.
        await pilot.press("escape", "f", "enter", "down", "down", "enter")
        await settle(pilot, app)
        assert set(key.value for key in table.rows) == {ids["signin"], ids["spray"]}
        await pilot.press("tab", "tab", *"port")  # past the status filter, into the rule filter
        await settle(pilot, app)
        assert [key.value for key in table.rows] == []
        assert shown(app, "#queue-count") == "0 of 0 alerts"
        await pilot.press("tab", *"bad")  # the entity filter: nothing; then a wrong "since"
        await pilot.press("tab", *"3x")
        await settle(pilot, app)
        assert "since: expected a number and m, h or d" in shown(app, "#problem")


async def test_triage_acknowledge_assign_note_close(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_alert(pilot, app, ids["signin"])
        assert NOTE in shown(app, "#todo")
        await pilot.press("k")
        await settle(pilot, app)
        await pilot.press("u", *"bob", "enter")
        await settle(pilot, app)
        await pilot.press("n", *"called alice: it was her in Spain", "enter")
        await settle(pilot, app)
        await pilot.press("c", "down", "down", "enter", *"on holiday", "enter")  # the third reason: benign
        await settle(pilot, app)
        assert "○ closed   assigned to bob" in shown(app, "#summary")
        assert "alice: new → acknowledged" in shown(app, "#history")
    history = store.alerts.history(ids["signin"])
    assert [(c.previous, c.status, c.reason, c.note) for c in history] == [
        ("new", "acknowledged", None, None),
        ("acknowledged", "acknowledged", None, "assigned to bob"),
        ("acknowledged", "acknowledged", None, "called alice: it was her in Spain"),
        ("acknowledged", "closed", "benign", "on holiday"),
    ]
    assert {c.actor for c in history} == {"alice"}
    trail = recent_audit(store.state, kind="triage", subject=f"alert:{ids['signin']}")
    assert len(trail) == 4 and trail[0].what == "status acknowledged -> closed (benign)"


async def test_a_false_positive_becomes_an_exception_the_loader_reads(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_alert(pilot, app, ids["scan"])
        await pilot.press("x", *"our quarterly pentest", "enter", "backspace", "backspace", *"45", "enter")
        await settle(pilot, app)
    alert = store.alerts.get(ids["scan"])
    assert alert is not None and alert.status == "closed"
    (change,) = store.alerts.history(ids["scan"])
    assert change.reason == "false_positive" and "until 2027-01-04" in (change.note or "")
    active, problems = load_exceptions([store.home / "exceptions"], today=date(2026, 11, 20))
    assert problems == []
    (exception,) = active
    assert exception.rules == (SCAN_RULE,) and exception.where == (("source.ip", ("203.0.113.7",)),)
    assert (exception.owner, exception.reason, exception.expires) == (
        "alice",
        "our quarterly pentest",
        date(2027, 1, 4),
    )


async def test_approve_and_deny_ask_first_and_are_audited(home):
    store, ids = home
    runs = PlaybookRuns(store.state)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot, app)
        await pilot.press("y", "n")  # asked, and said no: nothing happens
        await settle(pilot, app)
        assert runs.get(1).state == "awaiting_approval"
        await pilot.press("y", "y")
        await settle(pilot, app)
        assert runs.get(1).state == "running"
        assert app.screen.query_one("#approvals", DataTable).row_count == 0
    approval = recent_audit(store.state, kind="approval")[0]
    assert (approval.actor, approval.subject) == ("alice", "playbook-run:1")


async def test_deny_keeps_the_reason(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot, app)
        await pilot.press("d", *"she is travelling", "enter", "y")
        await settle(pilot, app)
    run = PlaybookRuns(store.state).get(1)
    assert run.state == "cancelled" and "she is travelling" in (run.error or "")
    denial = recent_audit(store.state, kind="denial")[0]
    assert denial.result == "denied: she is travelling"


async def test_log_values_are_shown_literally_never_as_markup(home):
    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alert(pilot, app, ids["signin"])
        raw = app.screen.query_one("#raw", Static).render()
        assert "[bold red]ADMIN[/bold red] [link=https://evil.example]click[/link]" in str(raw)
        assert "\\x1b[2J\\x1b[31mred" in str(raw) and "\x1b" not in str(raw)
        await pilot.press("escape")
        await settle(pilot, app)
        cells = table_texts(app.screen.query_one("#queue", DataTable))
        spray = next(row for row in cells if row[0].endswith("CRIT"))
        assert spray[2] == "Password spray [link=https://evil.examp…"  # cut at 40, as text
        assert spray[3] == "user.name=[bold]bob[/bold]"
        row = app.screen.query_one("#queue", DataTable).get_row(ids["spray"])
        assert all(isinstance(cell, Text) and not any("link" in str(s.style) for s in cell.spans) for cell in row)
    assert HOSTILE.startswith('{"user":"[bold red]')


async def test_a_failed_read_is_said_and_the_last_figures_stay(home):
    store, _ = home
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        with store.state.transaction() as con:
            con.execute("ALTER TABLE alerts RENAME TO alerts_away")
        await pilot.press("r")
        await settle(pilot, app)
        assert "could not read the store (OperationalError: no such table: alerts)" in shown(app, "#problem")
        assert "3 open of 3" in shown(app, "#panel-open")
        with store.state.transaction() as con:
            con.execute("ALTER TABLE alerts_away RENAME TO alerts")
        await pilot.press("r")
        await settle(pilot, app)
        assert not app.screen.query_one("#problem", Static).display


async def test_an_alert_opens_in_place_of_the_queue_and_escape_returns_to_its_row(home):
    from console.dashboard.screens.footer import KeyBar

    store, ids = home
    app = make_app(store)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_alert(pilot, app, ids["scan"])
        keys = str(app.screen.query_one(KeyBar).render())
        assert "k Ack" in keys and "esc Back" in keys and "/ Search" not in keys and "^p palette" in keys
        await pilot.press("slash")  # the queue's search key does nothing while an alert is open
        assert app.focused is not None and app.focused.id == "events"
        await pilot.press("escape")
        await settle(pilot, app)
        table = app.screen.query_one("#queue", DataTable)
        assert app.focused is table and not app.screen.query_one(DetailPane).display
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == ids["scan"]
        assert "/ Search" in str(app.screen.query_one(KeyBar).render())
