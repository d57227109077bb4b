"""``cyberwell serve`` detecting on a schedule, as a real subprocess on a real home.

The hard case is the point of the watermark: ``serve`` killed with SIGKILL while a detection run
is writing must lose no window and double no alert. The run is made slow with data (a few hundred
thousand sign-ins and forty rules), not with sleeps in the product; the test kills it while a run
is recorded as running, restarts it, lets the watermark catch up, and compares every alert with
one run of the same rules over the whole window on a second home holding the same events.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from detections import run_detections
from detections.alerts import AlertVolume
from store import EmbeddedStore
from store.batch import REQUIRED_COLUMNS
from store.state.schedule import ScheduleBook

REPO = Path(__file__).resolve().parents[2]
RULES = 40
USERS = 60
APPS = (
    "IMAP4",
    "POP3",
    "SMTP",
    "Browser",
    "Mobile Apps",
    "Exchange ActiveSync",
    "Other",
    "MAPI",
    "AutoDiscover",
    "EWS",
)
LOOKBACK = timedelta(seconds=1)
CAP = 1_000_000  # no cap: what a run holds back depends on how the windows were cut


def rule(number: int) -> str:
    """Forty different rules over the same sign-ins, each raising per user and hour."""
    return f"""
title: Scheduled Rule {number}
id: 5c4ed000-0000-4000-8000-{number:012d}
logsource: {{product: azure, service: signinlogs}}
detection:
  selection:
    azure.signinlogs.properties.client_app_used: {APPS[number % len(APPS)]}
    azure.signinlogs.properties.status.error_code: {number % 4}
  condition: selection
level: low
"""


def signins(count: int, start: datetime, span: timedelta) -> pa.Table:
    """``count`` sign-ins spread evenly over ``span`` from ``start``, built column by column."""
    step = span / count
    times = [start + step * i for i in range(count)]
    columns = {
        "@timestamp": pa.array(times, REQUIRED_COLUMNS["@timestamp"]),
        "event.ingested": pa.array([start + span] * count, REQUIRED_COLUMNS["event.ingested"]),
        "event.dataset": pa.array(["azure.signinlogs"] * count, pa.string()),
        "event.id": pa.array([f"s-{i}" for i in range(count)], pa.string()),
        "event.original": pa.array(["{}"] * count, pa.string()),
        "user.name": pa.array([f"user{i % USERS}@westbrook-dc.gov.uk" for i in range(count)], pa.string()),
        "source.ip": pa.array([f"192.0.2.{i % 200}" for i in range(count)], pa.string()),
        "azure.signinlogs.properties.client_app_used": pa.array([APPS[(i // 7) % len(APPS)] for i in range(count)]),
        "azure.signinlogs.properties.status.error_code": pa.array([(i // 3) % 4 for i in range(count)], pa.int64()),
    }
    return pa.table(columns)


def make_home(home: Path, events: pa.Table, start: datetime) -> None:
    (home / "rules").mkdir(parents=True)
    for number in range(RULES):
        (home / "rules" / f"rule{number}.yml").write_text(rule(number))
    (home / "cyberwell.toml").write_text(
        "[detections]\n"
        'rule_dirs = ["rules"]\n'
        f"max_alerts = {CAP}\n"
        'interval = "2s"\n'
        'lookback = "1s"\n'
        'delay = "0"\n'
        'backfill_max_window = "20m"\n'
        f'start = "{start.isoformat()}"\n'
    )
    store = EmbeddedStore(home)
    store.append(events)
    store.close()


def serve(home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve", "--log-level", "INFO"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def runs(home: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(home / "state.sqlite", timeout=30) as con:
        con.row_factory = sqlite3.Row
        return con.execute("SELECT * FROM detection_runs ORDER BY id").fetchall()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_serve_killed_mid_run_loses_no_window_and_doubles_no_alert(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    events = signins(300_000, start, timedelta(hours=3) - timedelta(minutes=1))
    home = tmp_path / "home"
    make_home(home, events, start)

    killed = kill_mid_run(home)
    killed_at = datetime.fromisoformat(killed["window_start"])
    marks = ScheduleBook(EmbeddedStore(home).state).watermarks()
    assert marks and max(marks.values()) <= killed_at + LOOKBACK  # the killed run moved nothing

    newest = events.column("@timestamp")[-1].as_py()
    second = serve(home)
    try:
        book = ScheduleBook(EmbeddedStore(home).state)
        wait_for(lambda: (m := book.watermarks()) and min(m.values()) > newest, 180, "the watermark to catch up")
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, err
    assert "were cut short before; their windows run again" in err

    history = runs(home)
    assert [r["status"] for r in history if r["id"] == killed["id"]] == ["abandoned"]
    assert book.gaps() == ([], 0)
    assert covered(history, start) >= newest

    ours = EmbeddedStore(home).alerts.list(limit=100_000)
    reference_home = tmp_path / "reference"
    make_home(reference_home, events, start)
    reference = EmbeddedStore(reference_home)
    report = run_detections(
        reference,
        [reference_home / "rules"],
        start - LOOKBACK,
        newest + timedelta(seconds=1),
        defaults=AlertVolume(max_alerts=CAP),
    )
    assert report.ok and report.alerts_new > 1000
    expected = {(a.id, a.event_count, a.first_seen, a.last_seen) for a in reference.alerts.list(limit=100_000)}
    assert len({a.id for a in ours}) == len(ours) == len(expected)
    assert {(a.id, a.event_count, a.first_seen, a.last_seen) for a in ours} == expected


def covered(history: list[sqlite3.Row], start: datetime) -> datetime:
    """How far the succeeded scheduled runs cover from ``start`` without a hole."""
    reach = start
    windows = sorted(
        (datetime.fromisoformat(r["window_start"]), datetime.fromisoformat(r["window_end"]))
        for r in history
        if r["status"] == "succeeded" and r["kind"] == "scheduled"
    )
    for window_start, window_end in windows:
        assert window_start <= reach, f"a hole from {reach} to {window_start}"
        reach = max(reach, window_end)
    return reach


def test_sigterm_mid_run_finishes_the_run_and_moves_its_watermark(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    home = tmp_path / "home"
    make_home(home, signins(300_000, start, timedelta(hours=3) - timedelta(minutes=1)), start)
    process = serve(home)  # no collectors configured: serve detects all the same
    try:
        wait_for(lambda: len(runs(home)) > 0, 120, "a run")  # recorded as running as it starts
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in err
    history = runs(home)  # the run in progress was finished, none left running or abandoned
    assert {r["status"] for r in history} == {"succeeded"} and history[0]["alerts_new"] > 0
    marks = ScheduleBook(EmbeddedStore(home).state).watermarks()
    assert set(marks.values()) == {datetime.fromisoformat(history[-1]["window_end"])}


def kill_mid_run(home: Path) -> sqlite3.Row:
    """Start ``serve`` and SIGKILL it while a catch-up run is at work (its rules' runs recorded as
    running); the killed run's row. A run that finished first is simply tried again on the next
    one, a little sooner each time (the engine may have become faster)."""
    for delay in (0.3, 0.15, 0.05, 0.0, 0.0):
        before = len(runs(home))
        process = serve(home)
        try:
            wait_for(lambda n=before + 1: len(runs(home)) > n and runs(home)[-1]["status"] == "running", 120, "a run")
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        if runs(home)[-1]["status"] == "running":
            return runs(home)[-1]
    raise AssertionError("every run finished before the kill: give the runs more events")
