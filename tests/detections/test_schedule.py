"""Scheduled detection on a real embedded store: schedule groups, watermarks that move only when
a run succeeds, overlapping windows that never double an alert, gaps and bounded backfills.

The scheduler's clock is a parameter (``serve`` passes the wall clock): the tests move it by hand,
so "five minutes later" takes no time.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from detections.alerts import DEFAULT_VOLUME
from detections.scheduling.schedule import Schedule, ScheduleDefaults, chunks, due_window, schedule_groups
from detections.scheduling.scheduler import Scheduler, backfill, load_for
from queries.detection_runs import detection_runs
from store import EmbeddedStore
from store.state.schedule import Gap, ScheduleBook
from tests.support.events_factory import event_table

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
DEFAULTS = ScheduleDefaults(
    Schedule(interval=timedelta(minutes=5), lookback=timedelta(minutes=2), delay=timedelta(minutes=1)),
    max_catchup=timedelta(days=1),
    max_window=timedelta(hours=6),
    start=T0,
)

LEGACY = """
title: Legacy Protocol Sign-In
id: 6a1d0000-0000-4000-8000-000000000001
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    azure.signinlogs.properties.client_app_used: IMAP4
  condition: selection
level: high
"""

SPRAY = """
title: Wrong Password
id: 6a1d0000-0000-4000-8000-000000000010
name: wrong_password
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 50126}
  condition: selection
level: low
cyberwell: {interval: 1m}
---
title: Password Spray
id: 6a1d0000-0000-4000-8000-000000000011
correlation:
  type: event_count
  rules: [wrong_password]
  group-by: [source.ip]
  timespan: 30m
  condition: {gte: 3}
level: high
cyberwell: {interval: 15m, lookback: 30m, delay: 0}
"""


def signin(n: int, minute: float, app: str = "IMAP4", code: int = 0, user: str = "alice@westbrook-dc.gov.uk") -> dict:
    return {
        "@timestamp": T0 + timedelta(minutes=minute),
        "event.id": f"signin-{n}",
        "event.dataset": "azure.signinlogs",
        "user.name": user,
        "source.ip": "192.0.2.10",
        "azure.signinlogs.properties.status.error_code": code,
        "azure.signinlogs.properties.client_app_used": app,
    }


def append(store: EmbeddedStore, rows: list[dict]) -> None:
    store.append(event_table(rows, {"azure.signinlogs.properties.status.error_code": pa.int64()}))


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "home")


def rule_folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def scheduler_for(store, folder: Path, clock: Clock, defaults: ScheduleDefaults = DEFAULTS) -> Scheduler:
    groups, problems = schedule_groups(load_for(store, [folder], [], DEFAULT_VOLUME), defaults.schedule)
    assert problems == []
    return Scheduler(store, groups, defaults, clock=clock)


# -- groups and windows -------------------------------------------------------------------------


def test_a_correlation_runs_with_its_rules_on_the_correlations_schedule(store, tmp_path):
    folder = rule_folder(tmp_path, legacy=LEGACY, spray=SPRAY)
    groups, problems = schedule_groups(load_for(store, [folder], [], DEFAULT_VOLUME), DEFAULTS.schedule)
    assert problems == []
    by_key = {group.key: group for group in groups}
    spray = by_key["6a1d0000-0000-4000-8000-000000000011"]
    # The base rule's own 1m interval does not split it from the correlation that needs its matches.
    assert set(spray.rule_keys) == {"6a1d0000-0000-4000-8000-000000000010", "6a1d0000-0000-4000-8000-000000000011"}
    assert spray.schedule == Schedule(timedelta(minutes=15), timedelta(minutes=30), timedelta(0))
    assert by_key["6a1d0000-0000-4000-8000-000000000001"].schedule == DEFAULTS.schedule


def test_a_wrong_schedule_value_leaves_out_the_rule_and_its_correlation_naming_the_key(store, tmp_path):
    folder = rule_folder(tmp_path, legacy=LEGACY, spray=SPRAY.replace("{interval: 1m}", "{interval: soon}"))
    groups, problems = schedule_groups(load_for(store, [folder], [], DEFAULT_VOLUME), DEFAULTS.schedule)
    assert [g.key for g in groups] == ["6a1d0000-0000-4000-8000-000000000001"]
    reasons = {p.name: p.reason for p in problems}
    assert (
        "'cyberwell: interval' must be a duration" in reasons["Wrong Password (6a1d0000-0000-4000-8000-000000000010)"]
    )
    assert "not scheduled" in reasons["Password Spray (6a1d0000-0000-4000-8000-000000000011)"]


def test_windows_start_at_the_watermark_less_the_lookback_and_stop_short_by_the_delay(store, tmp_path):
    [group], _ = schedule_groups(
        load_for(store, [rule_folder(tmp_path, legacy=LEGACY)], [], DEFAULT_VOLUME), DEFAULTS.schedule
    )
    first = due_window(group, None, T0 + timedelta(minutes=10), DEFAULTS)
    assert first is not None and (first.start, first.end) == (T0 - timedelta(minutes=2), T0 + timedelta(minutes=9))
    assert due_window(group, first.end, T0 + timedelta(minutes=14), DEFAULTS) is None  # 4 minutes: not yet
    later = due_window(group, first.end, T0 + timedelta(minutes=15), DEFAULTS)
    assert later is not None and (later.start, later.end) == (T0 + timedelta(minutes=7), T0 + timedelta(minutes=14))
    # Three days behind: the part older than a day is a gap; the run covers at most six hours.
    behind = due_window(group, T0, T0 + timedelta(days=3, minutes=1), DEFAULTS)
    assert behind is not None and behind.skipped is not None
    assert (behind.skipped.start, behind.skipped.end) == (T0, T0 + timedelta(days=2))
    assert (behind.start, behind.end) == (T0 + timedelta(days=2, minutes=-2), T0 + timedelta(days=2, hours=6))
    assert chunks(T0, T0 + timedelta(hours=13), timedelta(hours=6))[-1] == (
        T0 + timedelta(hours=12),
        T0 + timedelta(hours=13),
    )


# -- running on a schedule ----------------------------------------------------------------------


def test_scheduled_runs_move_the_watermark_and_a_late_event_joins_its_alert_once(store, tmp_path):
    clock = Clock(T0 + timedelta(minutes=10))
    scheduler = scheduler_for(store, rule_folder(tmp_path, legacy=LEGACY), clock)
    append(store, [signin(1, 5), signin(2, 6), signin(3, 7, app="Browser")])

    [run] = scheduler.tick()
    assert run.status == "succeeded" and run.report is not None and run.report.alerts_new == 1
    book = ScheduleBook(store.state)
    assert book.watermarks() == {"6a1d0000-0000-4000-8000-000000000001": T0 + timedelta(minutes=9)}
    assert scheduler.tick() == []  # nothing is due before the interval has passed

    # A sign-in that arrived late (timed before the watermark, inside the look-back), and a new one.
    append(store, [signin(4, 8), signin(5, 12)])
    clock.now = T0 + timedelta(minutes=15)
    [second] = scheduler.tick()
    assert (second.start, second.end) == (T0 + timedelta(minutes=7), T0 + timedelta(minutes=14))
    assert second.report is not None and (second.report.alerts_new, second.report.alerts_updated) == (0, 1)
    [alert] = store.alerts.list()
    assert alert.event_count == 4  # 5, 6, the late 8 and 12: one alert, counted once each

    listing = detection_runs(store)
    assert [(r.kind, r.status, r.alerts_new, r.alerts_updated) for r in listing.runs] == [
        ("scheduled", "succeeded", 0, 1),
        ("scheduled", "succeeded", 1, 0),
    ]
    assert [r.events_scanned for r in listing.runs] == [3, 3]  # minutes 7, 8, 12; then 5, 6, 7
    assert all(r.seconds is not None and r.seconds > 0 for r in listing.runs)


def test_a_failed_run_leaves_the_watermark_and_a_later_run_covers_its_window(store, tmp_path):
    clock = Clock(T0 + timedelta(minutes=10))
    scheduler = scheduler_for(store, rule_folder(tmp_path, legacy=LEGACY), clock)
    append(store, [signin(1, 5)])
    scheduler.tick()
    append(store, [signin(2, 11)])
    # The segment holding the new event is lost for a while (a disk gone read-only, a restore).
    with sqlite3.connect(store.state.path) as con:
        [segment] = [Path(row[0]) for row in con.execute("SELECT path FROM segments ORDER BY id DESC LIMIT 1")]
    segment = segment if segment.is_absolute() else store.home / segment
    hidden = segment.with_suffix(".hidden")
    segment.rename(hidden)
    clock.now = T0 + timedelta(minutes=15)
    [failed] = scheduler.tick()
    assert failed.status == "failed"
    book = ScheduleBook(store.state)
    assert book.watermarks()["6a1d0000-0000-4000-8000-000000000001"] == T0 + timedelta(minutes=9)
    [record] = [r for r in detection_runs(store).runs if r.id == failed.id]
    assert record.status == "failed" and record.errors[0].startswith("Legacy Protocol Sign-In: ")

    hidden.rename(segment)
    assert scheduler.tick() == []  # a failed group waits its interval before trying again
    clock.now = T0 + timedelta(minutes=20)
    [again] = scheduler.tick()
    assert again.status == "succeeded" and again.start == T0 + timedelta(minutes=7)
    assert book.watermarks()["6a1d0000-0000-4000-8000-000000000001"] == T0 + timedelta(minutes=19)
    [alert] = store.alerts.list()
    assert alert.event_count == 2


def test_missed_time_is_a_gap_until_a_bounded_backfill_covers_it(store, tmp_path):
    clock = Clock(T0 + timedelta(minutes=10))
    scheduler = scheduler_for(store, rule_folder(tmp_path, legacy=LEGACY), clock)
    scheduler.tick()
    # serve was down three days; a sign-in on the first day is older than the catch-up allows.
    append(store, [signin(1, 60 * 20, user="bob@westbrook-dc.gov.uk"), signin(2, 60 * 51)])
    clock.now = T0 + timedelta(days=3, minutes=10)
    [run] = scheduler.tick()
    gaps, total = ScheduleBook(store.state).gaps()
    # From the old watermark to where the catch-up run began searching (its look-back included).
    assert total == 1 and (gaps[0].start, gaps[0].end) == (T0 + timedelta(minutes=9), T0 + timedelta(days=2, minutes=7))
    assert run.end - run.start <= DEFAULTS.max_window + DEFAULTS.schedule.lookback
    assert {a.group_keys["user.name"] for a in store.alerts.list()} == {"alice@westbrook-dc.gov.uk"}

    # Backfill part of the gap: six-hour runs, each closing what it covered; the rest stays open.
    groups = scheduler.groups
    done = backfill(store, groups, T0, T0 + timedelta(hours=21), timedelta(hours=6))
    assert [r.end - r.start for r in done] == [timedelta(hours=6)] * 3 + [timedelta(hours=3)]
    gaps, total = ScheduleBook(store.state).gaps()
    assert total == 1 and gaps[0].start == T0 + timedelta(hours=21)
    assert {a.group_keys["user.name"] for a in store.alerts.list()} == {
        "alice@westbrook-dc.gov.uk",
        "bob@westbrook-dc.gov.uk",
    }
    backfill(store, groups, T0 + timedelta(hours=21), T0 + timedelta(days=2, minutes=9), timedelta(hours=6))
    assert ScheduleBook(store.state).gaps() == ([], 0)
    listing = detection_runs(store, limit=3)  # 2 scheduled runs, 4 backfill runs, then 5 (27 h 9 m)
    assert (len(listing.runs), listing.runs_total, listing.runs_held_back) == (3, 11, 8)
    assert json.loads(json.dumps(listing.to_dict()))["runs"][0]["kind"] == "backfill"


def test_a_backfill_cut_short_keeps_the_runs_it_finished(store, tmp_path):
    scheduler = scheduler_for(store, rule_folder(tmp_path, legacy=LEGACY), Clock(T0))
    [group] = scheduler.groups
    book = ScheduleBook(store.state)
    book.skip([Gap(group.key, T0, T0 + timedelta(hours=12), "missed")])
    done = backfill(store, [group], T0, T0 + timedelta(hours=12), timedelta(hours=3), stop=lambda: book.runs(5)[1] == 2)
    assert len(done) == 2
    gaps, _ = book.gaps()
    assert [(g.start, g.end, g.reason) for g in gaps] == [(T0 + timedelta(hours=6), T0 + timedelta(hours=12), "missed")]
