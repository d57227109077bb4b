"""``cyberwell webhook status|replay`` as the operator runs them: parked messages shown with
their reasons (escaped), replay making them due again and writing who did it to the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from store.state.audit import recent_audit
from store.state.database import StateDB
from store.state.outbox import Delivered, NewMessage, Park, claim_due, enqueue, outbox_status, settle

runner = CliRunner()


def run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "webhook", *args], env={"COLUMNS": "300"})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Three messages: one delivered, two parked (one reason carries a terminal escape)."""
    state = StateDB(tmp_path / "state.sqlite")
    with state.transaction() as con:
        enqueue(con, [NewMessage(f"alert-{n}", n, "new", f"alert-{n}:{n}", "{}") for n in (1, 2, 3)])
    claimed = claim_due(state, 10, timedelta(minutes=1))
    by_alert = {m.alert_id: m for m in claimed}
    settle(
        state,
        [
            Delivered(by_alert["alert-1"].id, 1, 200),
            Park(by_alert["alert-2"].id, 1, "HTTP 410 from the receiver"),
            Park(by_alert["alert-3"].id, 1, "HTTP 400: \x1b[2Jbad"),
        ],
        actor="cyberwell deliverer",
        target="127.0.0.1:9",
    )
    return tmp_path


def test_status_shows_counts_and_why_each_message_was_parked(home: Path):
    result = run(home, "status")
    assert result.exit_code == 0, result.output
    assert "HTTP 410 from the receiver" in result.output
    assert "\x1b[2J" not in result.output and "\\x1b[2Jbad" in result.output
    data = json.loads(run(home, "status", "--json").output)
    assert (data["delivered"], data["parked"], data["pending"]) == (1, 2, 0)
    assert {m["alert_id"] for m in data["parked_messages"]} == {"alert-2", "alert-3"}


def test_status_says_how_many_parked_messages_it_did_not_show(home: Path):
    result = run(home, "status", "--limit", "1")
    assert "Parked: 2 (1 more not shown)" in result.output


def test_replay_makes_the_named_message_due_again_and_audits_who(home: Path):
    state = StateDB(home / "state.sqlite")
    parked = {m.alert_id: m.id for m in outbox_status(state).parked_messages}
    result = run(home, "replay", str(parked["alert-2"]), "--actor", "alice", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"replayed": [parked["alert-2"]], "not_parked": []}
    status = outbox_status(state)
    assert (status.pending, status.parked) == (1, 1)
    assert [m.alert_id for m in claim_due(state, 10, timedelta(minutes=1))] == ["alert-2"]
    replays = [r for r in recent_audit(state, kind="delivery") if r.what == "replay parked message"]
    assert [(r.actor, r.subject) for r in replays] == [("alice", f"webhook:{parked['alert-2']}")]


def test_replay_all_and_ids_that_are_not_parked(home: Path):
    result = run(home, "replay", "999", "--json")
    assert json.loads(result.output) == {"replayed": [], "not_parked": [999]}
    result = run(home, "replay", "--all", "--actor", "bob")
    assert result.exit_code == 0 and "Replayed 2 parked message(s)" in result.output
    assert outbox_status(StateDB(home / "state.sqlite")).parked == 0


def test_replay_needs_ids_or_all_but_not_both(home: Path):
    for args in ((), ("1", "--all")):
        result = run(home, "replay", *args)
        assert result.exit_code != 0
        assert "give parked message ids or --all" in result.output + (result.stderr or "")
