"""``cyberwell alerts show|ack|close|assign|note`` as a person types them: by the start of an id,
each change in the alert's history and the audit trail, refusals as one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from store import EmbeddedStore
from store.state.alert_record import Alert
from store.state.alerts import AlertBook
from store.state.audit import recent_audit
from tests.support.events_factory import event_table

START = datetime(2026, 11, 30, 9, tzinfo=UTC)
HOSTILE = "[bold red]boss[/] \x1b[31m"


def cyberwell(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "200"})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    store = EmbeddedStore(tmp_path)
    events = [
        {
            "@timestamp": START,
            "event.id": f"ev-{n}",
            "event.dataset": "test.events",
            "user.name": f"jo.bloggs{n}@council.gov.uk",
            "event.original": f'{{"n": {n}, "ua": "{HOSTILE}"}}',
        }
        for n in range(3)
    ]
    store.append(event_table(events))
    alert = Alert.build(
        "rule-1",
        f"Spray {HOSTILE}",
        "high",
        [],
        {"user.name": "jo.bloggs0@council.gov.uk"},
        START,
        START,
        START,
        ["ev-0", "ev-1", "ev-2"],
    )
    store.alerts.save_run([alert])
    store.close()
    return tmp_path


def only_alert(home: Path) -> Alert:
    from store.state.database import StateDB

    [alert] = AlertBook(StateDB(home / "state.sqlite")).list()
    return alert


def test_triage_by_the_start_of_the_id_is_kept_in_history_and_audit_trail(home):
    alert = only_alert(home)
    short = alert.id[:12]
    assert cyberwell(home, "alerts", "ack", short, "--actor", "priya").exit_code == 0
    assigned = cyberwell(home, "alerts", "assign", short, "sam", "--actor", "priya")
    assert assigned.exit_code == 0 and "assigned to sam" in assigned.output
    assert cyberwell(home, "alerts", "note", short, "called the user", "--actor", "sam").exit_code == 0
    closed = cyberwell(home, "alerts", "close", short, "--reason", "true_positive", "--note", "reset", "--actor", "sam")
    assert closed.exit_code == 0, closed.output

    shown = json.loads(cyberwell(home, "alerts", "show", short, "--json").stdout)
    assert shown["alert"]["status"] == "closed" and shown["assignee"] == "sam"
    assert [(c["actor"], c["status"], c["reason"]) for c in shown["history"]][-1] == ("sam", "closed", "true_positive")
    assert [c["actor"] for c in shown["history"]] == ["priya", "priya", "sam", "sam"]
    assert [c["assignee"] for c in shown["history"]] == [None, "sam", "sam", "sam"]  # who has it after each
    from store.state.database import StateDB

    trail = recent_audit(StateDB(home / "state.sqlite"), kind="triage")
    assert len(trail) == 4 and {entry.actor for entry in trail} == {"priya", "sam"}


def test_show_lists_the_matched_events_and_shows_log_values_literally(home):
    alert = only_alert(home)
    shown = cyberwell(home, "alerts", "show", alert.id)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "Events (3 of 3)" in text and "jo.bloggs2@council.gov.uk" in text
    assert "[bold red]boss[/]" in text and "\x1b" not in text  # markup and escapes shown, never obeyed
    assert "assigned to" in text and "nobody" in text and "no change since it was raised" in text
    raw = json.loads(cyberwell(home, "alerts", "show", alert.id, "--json").stdout)
    assert {e["event.id"] for e in raw["events"]} == {"ev-0", "ev-1", "ev-2"}
    assert all(HOSTILE in e["event.original"] for e in raw["events"])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["alerts", "ack", "no-such-alert"], "there is no alert no-such-alert"),
        (["alerts", "show", "no-such-alert"], "there is no alert no-such-alert"),
        (["alerts", "close", "{id}"], "Missing option '--reason'"),
        (["alerts", "close", "{id}", "--reason", "fixed"], "--reason: expected one of true_positive, false_positive"),
        (["alerts", "note", "{id}", "  "], "a note needs some text"),
    ],
)
def test_a_refused_change_is_one_line_and_changes_nothing(home, args, said):
    alert = only_alert(home)
    done = cyberwell(home, *(a.replace("{id}", alert.id) for a in args))
    assert done.exit_code == 2, done.output
    assert said in done.output and "Traceback" not in done.output
    assert only_alert(home).status == "new"
