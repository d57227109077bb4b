"""Detection runs that are recorded: the scheduled runs of ``serve``, backfills and manual runs.

Every run here is a row of the run history (store/state/schedule.py) written ``running`` before
the rules run and finished after their alerts are stored. Only then, in the transaction that
finishes the row, do the watermarks of the groups whose rules all succeeded move and the gaps the
run covered close. A kill at any point before that leaves the watermark where it was, so the next
run searches the window again; alert ids are deterministic, so that updates alerts, never
doubles them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detections.alerts import DEFAULT_VOLUME, AlertVolume, iso
from detections.engine import DetectionReport, compiler_for, run_detections
from detections.loader import RuleSet, load_rules
from detections.scheduling.schedule import (
    DueWindow,
    ScheduleDefaults,
    ScheduleGroup,
    chunks,
    due_window,
    seconds_until_due,
)
from store.protocol import OnSavedAlerts
from store.state.schedule import Gap, RunTotals, ScheduleBook

log = logging.getLogger("cyberwell.detect")

#: The longest ``serve`` sleeps between looks at the schedule: a stop is seen within it anyway
#: (the stop event wakes it), but a clock jump or a rule becoming due is not missed for long.
LONGEST_WAIT = 30.0


def load_for(store, rule_dirs: Sequence[Path], exception_dirs: Sequence[Path], volume: AlertVolume) -> RuleSet:
    """The rules compiled for the store's query language (as ``run_detections`` loads them)."""
    return load_rules(rule_dirs, compile=compiler_for(store), exception_dirs=exception_dirs, defaults=volume)


@dataclass
class RecordedRun:
    """A detection run and what became of it: the report (None when the run itself failed)."""

    id: int
    start: datetime
    end: datetime
    status: str
    report: DetectionReport | None
    advanced: list[str] = field(default_factory=list)  # groups whose watermark moved

    def to_dict(self) -> dict[str, object]:
        """The run's window, how it ended and its alerts (the rules' counts are in ``detect --json``)."""
        report = self.report
        return {
            "id": self.id,
            "start": iso(self.start),
            "end": iso(self.end),
            "status": self.status,
            "alerts_new": report.alerts_new if report else 0,
            "alerts_updated": report.alerts_updated if report else 0,
            "alerts_held_back": report.alerts_held_back if report else 0,
            "errors": [f"{r.title}: {r.error}" for r in report.failed] if report else [],
            "seconds": round(report.seconds, 6) if report else None,
        }


def run_recorded(
    store,
    groups: Sequence[ScheduleGroup],
    start: datetime,
    end: datetime,
    kind: str,
    volume: AlertVolume = DEFAULT_VOLUME,
    watermark: datetime | None = None,
    on_saved: OnSavedAlerts | None = None,
) -> RecordedRun:
    """Run the groups over ``[start, end)`` as one run and record it. ``watermark``: where the
    groups that succeed have now run up to (scheduled runs only). ``on_saved``: handed to
    ``run_detections`` (the webhook outbox). A failure of the whole run (the store went away) is
    recorded and raised again."""
    book = ScheduleBook(store.state)
    run_id = book.begin(kind, [g.key for g in groups], start, end)
    began = time.perf_counter()
    try:
        report = run_detections(store, (), start, end, rules=_together(groups), defaults=volume, on_saved=on_saved)
    except Exception as error:
        totals = RunTotals(time.perf_counter() - began, None, 0, 0, 0, 0, (f"{type(error).__name__}: {error}",))
        book.finish(run_id, "failed", totals)
        raise
    failed = {result.rule_id for result in report.failed}
    ok = [g for g in groups if not failed.intersection(g.rule_keys)]
    status = "succeeded" if len(ok) == len(groups) else "partly failed" if ok else "failed"
    totals = RunTotals(
        seconds=time.perf_counter() - began,
        events_scanned=_events_scanned(store, groups, start, end),
        rules=len(report.rules),
        alerts_new=report.alerts_new,
        alerts_updated=report.alerts_updated,
        alerts_held_back=report.alerts_held_back,
        errors=tuple(f"{r.title}: {r.error}" for r in report.failed),
    )
    advanced = {g.key: watermark for g in ok} if watermark is not None else {}
    book.finish(run_id, status, totals, advanced, [Gap(g.key, start, end) for g in ok])
    return RecordedRun(run_id, start, end, status, report, list(advanced))


def _together(groups: Sequence[ScheduleGroup]) -> RuleSet:
    """One rule set of the groups' rules (the exceptions in force are the same in every group)."""
    if not groups:
        return RuleSet()
    return replace(
        groups[0].rules,
        detections=[r for g in groups for r in g.rules.detections],
        correlations=[r for g in groups for r in g.rules.correlations],
        problems=[],
    )


def _events_scanned(store, groups: Sequence[ScheduleGroup], start: datetime, end: datetime) -> int | None:
    """The events of the datasets the rules read in the window, counted by the store itself."""
    datasets = list(dict.fromkeys(d for g in groups for d in g.datasets))
    if not datasets:
        return 0
    try:
        return store.aggregate(datasets, start, end).total
    except Exception as error:  # noqa: BLE001 — a count for the history must not fail a run that succeeded
        log.warning("could not count the events scanned: %s", error)
        return None


def backfill(
    store,
    groups: Sequence[ScheduleGroup],
    start: datetime,
    end: datetime,
    longest: timedelta,
    volume: AlertVolume = DEFAULT_VOLUME,
    stop: Callable[[], bool] = lambda: False,
    on_saved: OnSavedAlerts | None = None,
    on_run: Callable[[RecordedRun], None] | None = None,
) -> list[RecordedRun]:
    """Every group over ``[start, end)`` in runs of at most ``longest``, oldest first, each
    closing the gaps it covered as it finishes (so a backfill cut short keeps what it did).
    ``on_run`` is told of each run as it finishes (a progress bar: ``chunks`` says how many)."""
    done = []
    for chunk_start, chunk_end in chunks(start, end, longest):
        if stop():
            break
        done.append(run_recorded(store, groups, chunk_start, chunk_end, "backfill", volume, on_saved=on_saved))
        if on_run is not None:
            on_run(done[-1])
    return done


class Scheduler:
    """The groups of a rule set run on their schedules (``serve``'s detection thread)."""

    def __init__(
        self,
        store,
        groups: Sequence[ScheduleGroup],
        defaults: ScheduleDefaults,
        volume: AlertVolume = DEFAULT_VOLUME,
        clock: Callable[[], datetime] | None = None,
        on_saved: OnSavedAlerts | None = None,
    ):
        """``on_saved``: called in the transaction that stores each run's alerts (the outbox)."""
        self.store, self.groups, self.defaults, self.volume = store, list(groups), defaults, volume
        self.on_saved = on_saved
        self.book = ScheduleBook(store.state)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.retry_at: dict[str, datetime] = {}  # a failed group waits its interval before again

    def tick(self, stop: Callable[[], bool] = lambda: False) -> list[RecordedRun]:
        """Run every group that is due, groups with the same window as one run; between runs,
        ``stop()`` ends the tick (the run in progress is always finished)."""
        now = self.clock()
        due = self._due(now)
        skipped = [d.skipped for d in due if d.skipped is not None]
        if skipped:
            self.book.skip(skipped)
            for gap in skipped:
                log.warning("%s: %s .. %s not run (older than max_catchup): a gap", gap.group_key, gap.start, gap.end)
        done = []
        for (start, end), groups in _by_window(due).items():
            if stop():
                break
            run = self._run(groups, start, end)
            if run is not None:
                done.append(run)
        return done

    def wait_seconds(self) -> float:
        """How long until some group is due again."""
        now, marks = self.clock(), self.book.watermarks()
        waits = [
            max(seconds_until_due(g, marks.get(g.key), now), (self.retry_at.get(g.key, now) - now).total_seconds())
            for g in self.groups
        ]
        return min([LONGEST_WAIT, *waits])

    def _due(self, now: datetime) -> list[DueWindow]:
        marks = self.book.watermarks()
        found = []
        for group in self.groups:
            if self.retry_at.get(group.key, now) > now:
                continue
            window = due_window(group, marks.get(group.key), now, self.defaults)
            if window is not None:
                found.append(window)
        return found

    def _run(self, groups: list[ScheduleGroup], start: datetime, end: datetime) -> RecordedRun | None:
        try:
            run = run_recorded(
                self.store, groups, start, end, "scheduled", self.volume, watermark=end, on_saved=self.on_saved
            )
        except Exception as error:  # noqa: BLE001 — recorded on the run; serving goes on
            log.error("detection run over %s .. %s failed: %s", start, end, error)
            self._back_off(groups)
            return None
        self._back_off([g for g in groups if g.key not in run.advanced])
        return run

    def _back_off(self, failed: list[ScheduleGroup]) -> None:
        """A group that failed is not due again before its interval: a rule failing on every run
        must not run in a loop (it falls behind until max_catchup turns its backlog into a gap)."""
        now = self.clock()
        for group in failed:
            self.retry_at[group.key] = now + group.schedule.interval


def _by_window(due: list[DueWindow]) -> dict[tuple[datetime, datetime], list[ScheduleGroup]]:
    """Groups due over the same window run as one run: one search per rule, one transaction."""
    found: dict[tuple[datetime, datetime], list[ScheduleGroup]] = {}
    for window in due:
        found.setdefault((window.start, window.end), []).append(window.group)
    return found
