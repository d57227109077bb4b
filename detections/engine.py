"""Run a rule set over a time window of a store: search, correlate, write alerts.

Each rule is compiled once (by the loader) and searched once, however many correlations use it.
A rule that fails at run time — a DuckDB error, a missing column type — is recorded as failed with
its name and the reason; the other rules still run, and correlations that needed it fail with a
reason that names it.

Windows on event time:

* single-event rules search ``[start, end)`` — reaching back to the start of the suppression span
  ``start`` falls in, so a span's count is whole — and raise one alert per entity and span;
* exceptions (``detections.exceptions``) take allowed events out of each rule's matches (an Arrow
  filter), before alerts and correlations see them; the run counts them as ``excepted``;
* new alerts beyond a rule's cap are held back and counted on its run, never dropped silently;
* a correlation scans from ``start - timespan`` (and earlier when an enclosing correlation needs
  its windows from earlier), so a window that began just before this run's start and continues
  into it is found; where its scan resumes per group comes from the windows recorded by earlier
  runs (``store.state.alerts.resume_points``) — see ``detections.correlate`` for why that makes
  overlapping runs and restarts choose the same windows;
* ``end`` is the horizon: windows it still cuts are judged as the correlation module explains;
* a correlation may use another (the specification's chaining): each window of the inner one is
  an event of the outer one, timed at its first event and carrying the inner group-by values, and
  the outer alert lists the underlying events.

Alerts, correlation windows and the finished rule runs are written in one transaction at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from detections.alerts import DEFAULT_VOLUME, SAMPLE_IDS, SEVERITIES, Alert, AlertVolume, alert_id, iso
from detections.correlate import ID_COLUMN, RULE_COLUMN, TIME_COLUMN, Window, find_windows
from detections.exceptions import applicable, apply_exceptions
from detections.loader import CorrelationRule, DetectionRule, RuleProblem, RuleSet, load_rules
from store.epoch import from_micros, to_micros
from store.protocol import CorrelationWindow, RunOutcome
from store.schema import DATASET_COLUMNS
from store.sql_literals import quote_ident
from store.state.alerts import record_rule_runs, resume_points

_TS = pa.timestamp("us", tz="UTC")


@dataclass
class RuleResult:
    rule_id: str
    title: str
    kind: str  # "detection" or "correlation"
    status: str  # "succeeded", "failed" or "skipped"
    matched: int = 0  # events the rule matched in the window (for a correlation: events it weighed)
    alerts: int = 0  # alerts kept: new plus updated
    seconds: float = 0.0
    error: str | None = None
    new: int = 0  # alerts opened by this run
    updated: int = 0  # alerts already open that this run's events joined
    suppressed: int = 0  # matched events that joined an alert instead of raising their own
    held_back: int = 0  # new alerts over the rule's cap: counted here, not stored
    excepted: int = 0  # matched events an exception took out

    def to_dict(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "matched": self.matched,
            "alerts": self.alerts,
            "new": self.new,
            "updated": self.updated,
            "suppressed": self.suppressed,
            "held_back": self.held_back,
            "excepted": self.excepted,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }


@dataclass
class DetectionReport:
    start: datetime
    end: datetime
    rules: list[RuleResult] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alerts_new: int = 0
    alerts_updated: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[RuleResult]:
        return [result for result in self.rules if result.status == "failed"]

    @property
    def ok(self) -> bool:
        """Every rule that was run succeeded (load problems are reported separately)."""
        return not self.failed

    @property
    def alerts_held_back(self) -> int:
        return sum(result.held_back for result in self.rules)

    def to_dict(self) -> dict:
        """The run's summary, counts per rule; the alerts themselves are read with ``alerts list``
        (a run over a flood must not print every alert)."""
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "rules": [result.to_dict() for result in self.rules],
            "problems": [problem.to_dict() for problem in self.problems],
            "alerts_new": self.alerts_new,
            "alerts_updated": self.alerts_updated,
            "alerts_held_back": self.alerts_held_back,
            "seconds": round(self.seconds, 6),
        }


class _RuleFailed(Exception):
    """A rule could not be evaluated; the message is for the person reading the report."""


def run_detections(
    store,
    rule_dirs: Sequence[Path | str],
    start: datetime,
    end: datetime,
    rules: RuleSet | None = None,
    on_new=None,
    exception_dirs: Sequence[Path | str] = (),
    defaults: AlertVolume = DEFAULT_VOLUME,
) -> DetectionReport:
    """Run every rule under ``rule_dirs`` over events with ``start <= @timestamp < end``.

    ``rules`` skips loading when the caller already holds a loaded rule set (the scheduler runs
    the same rules every few minutes). ``on_new(connection, alerts)`` runs in the transaction that
    stores new alerts (for the webhook outbox). ``exception_dirs``: exceptions beyond the shipped
    ones and the rule folders' own. ``defaults``: suppression and cap of rules without their own.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC)")
    if not start < end:
        raise ValueError(f"start ({iso(start)}) must be before end ({iso(end)})")
    began = time.perf_counter()
    ruleset = (
        rules
        if rules is not None
        else load_rules(rule_dirs, compile=_compiler_for(store), exception_dirs=exception_dirs, defaults=defaults)
    )
    run = _Run(store, ruleset, start, end)
    report = run.execute()
    report.problems = list(ruleset.problems)
    # The store's alert book also updates where else the store shows alerts (Kibana's index).
    report.alerts_new, report.alerts_updated = store.alerts.save_run(
        report.alerts, run.windows, run.outcomes, on_new=on_new
    )
    report.seconds = time.perf_counter() - began
    return report


def _compiler_for(store):
    language = store.query_language
    if language == "duckdb-sql":
        from detections.compile import compile_rule

        return compile_rule
    if language == "elasticsearch-lucene":
        from detections.compile_es import compile_rule as compile_lucene

        return compile_lucene
    raise ValueError(f"no rule compiler for a store speaking {language!r}")


class _Run:
    """One pass of a rule set over one window; collects results, alerts, windows and outcomes."""

    def __init__(self, store, ruleset: RuleSet, start: datetime, end: datetime):
        self.store, self.ruleset, self.start, self.end = store, ruleset, start, end
        self.by_key: dict[str, DetectionRule | CorrelationRule] = {r.key: r for r in ruleset.detections}
        self.by_key.update((r.key, r) for r in ruleset.correlations)
        self.scan_start = self._correlation_scan_starts()
        self.matches: dict[str, pa.Table] = {}  # detection key -> matched events (scan range)
        self.found: dict[str, list[Window]] = {}  # correlation key -> windows found
        self.failures: dict[str, str] = {}
        self.excepted: dict[str, int] = {}  # detection key -> matched events exceptions took out
        self.alerts: list[Alert] = []
        self.windows: list[CorrelationWindow] = []
        self.outcomes: list[RunOutcome] = []

    # -- planning ----------------------------------------------------------------------------

    def _users(self, key: str) -> list[CorrelationRule]:
        return [c for c in self.ruleset.correlations if key in c.correlation.rules]

    def _correlation_scan_starts(self) -> dict[str, datetime]:
        """Per correlation: its own look-back, or earlier when an enclosing one needs it."""
        starts: dict[str, datetime] = {}

        def scan_start(rule: CorrelationRule, depth: int = 0) -> datetime:
            if rule.key not in starts:
                earliest = self.start - rule.correlation.timespan
                if depth < len(self.ruleset.correlations):  # cycles are refused by the loader
                    for outer in self._users(rule.key):
                        earliest = min(earliest, scan_start(outer, depth + 1))
                starts[rule.key] = earliest
            return starts[rule.key]

        for rule in self.ruleset.correlations:
            scan_start(rule)
        return starts

    def _detection_plan(self, rule: DetectionRule) -> tuple[datetime, list[str]] | None:
        """Search start and columns for a detection rule, or None when nothing needs it."""
        users = self._users(rule.key)
        if not rule.generates and not users:
            return None
        # A generating rule reads back to the start of the suppression span its window starts in,
        # so an alert's count covers its whole span, whichever run saw which part of it.
        search_start: datetime | None = _span_start(self.start, rule.volume.suppression) if rule.generates else None
        # The fields the rule's SQL reads are asked for too: the store fills a column no segment
        # has with NULL only when it is asked for, and a rule may test a field this data lacks.
        columns = list(rule.compiled.fields) + (list(rule.entity) if rule.generates else [])
        columns += [name for e in self._exceptions(rule) for name in e.fields]
        for user in users:
            begin = self.scan_start[user.key]
            search_start = begin if search_start is None else min(search_start, begin)
            columns += [user.correlation.field_for(name, rule.key) for name in user.correlation.fields()]
        if search_start is None:  # unreachable: a rule that does not generate has users here
            return None
        return search_start, list(dict.fromkeys(columns))

    def _exceptions(self, rule: DetectionRule):
        known = set().union(*(DATASET_COLUMNS.get(d, frozenset()) for d in rule.compiled.datasets))
        return applicable(self.ruleset.exceptions, rule.key, known)

    def _ordered_correlations(self) -> list[CorrelationRule]:
        """Inner correlations before the correlations that use them."""
        ordered, placed = [], set()

        def place(rule: CorrelationRule) -> None:
            if rule.key in placed:
                return
            placed.add(rule.key)
            for key in rule.correlation.rules:
                inner = self.by_key.get(key)
                if isinstance(inner, CorrelationRule):
                    place(inner)
            ordered.append(rule)

        for rule in self.ruleset.correlations:
            place(rule)
        return ordered

    # -- running -----------------------------------------------------------------------------

    def execute(self) -> DetectionReport:
        report = DetectionReport(self.start, self.end)
        plans = {rule.key: self._detection_plan(rule) for rule in self.ruleset.detections}
        to_run = [r for r in self.ruleset.detections if plans[r.key] is not None]
        correlations = self._ordered_correlations()
        run_ids = record_rule_runs(
            self.store.state,
            [(r.key, r.title) for r in (*to_run, *correlations)],
            self.start,
            self.end,
        )
        run_id = dict(zip([r.key for r in (*to_run, *correlations)], run_ids))
        for rule in self.ruleset.detections:
            if plans[rule.key] is None:
                report.rules.append(
                    RuleResult(
                        rule.key,
                        rule.title,
                        "detection",
                        "skipped",
                        error="used only by correlations that cannot run (see problems)",
                    )
                )
        con = duckdb.connect(":memory:")
        ran: list[RuleResult] = []
        try:
            for rule in to_run:
                ran.append(self._timed(rule, "detection", lambda r=rule: self._detect(r, plans[r.key], con)))
            for correlation in correlations:
                ran.append(self._timed(correlation, "correlation", lambda r=correlation: self._correlate(r)))
        finally:
            con.close()
        self._bound(ran)
        report.rules.extend(ran)
        self.outcomes.extend(_outcome(run_id[result.rule_id], result) for result in ran)
        report.alerts = self.alerts
        return report

    def _bound(self, results: list[RuleResult]) -> None:
        """Keep at most each rule's cap of new alerts (earliest first); count the rest as held back.

        One look-up for the whole run says which alerts are already open: those are updated,
        never capped, since a repeat of a known alert adds no work for the person triaging.
        """
        known = self.store.alerts.existing([alert.id for alert in self.alerts])
        by_rule: dict[str, list[Alert]] = {}
        for alert in self.alerts:
            by_rule.setdefault(alert.rule_id, []).append(alert)
        kept: list[Alert] = []
        for result in results:
            own = by_rule.get(result.rule_id, [])
            # By id: two sightings of one alert in a run are one alert (the store merges them).
            first_seen = {a.id: a.first_seen for a in sorted(own, key=lambda a: a.first_seen, reverse=True)}
            fresh = sorted((i for i in first_seen if i not in known), key=lambda i: (first_seen[i], i))
            cap = self.by_key[result.rule_id].volume.max_alerts
            promoted = set(fresh[:cap])
            result.new, result.held_back = min(len(fresh), cap), max(len(fresh) - cap, 0)
            result.updated = len(first_seen) - len(fresh)
            result.alerts = result.new + result.updated
            if result.kind == "detection" and self.by_key[result.rule_id].generates:
                result.suppressed = max(result.matched - len(first_seen), 0)
            kept += [a for a in own if a.id in known or a.id in promoted]
        self.alerts = kept

    def _timed(self, rule, kind: str, work) -> RuleResult:
        began = time.perf_counter()
        try:
            matched, alerts = work()
        except Exception as error:  # a rule's failure is its own; the rest of the set runs on
            reason = " ".join(str(error).split()) or type(error).__name__
            self.failures[rule.key] = reason
            return RuleResult(rule.key, rule.title, kind, "failed", seconds=time.perf_counter() - began, error=reason)
        result = RuleResult(rule.key, rule.title, kind, "succeeded", matched, len(alerts), time.perf_counter() - began)
        result.excepted = self.excepted.get(rule.key, 0)
        return result

    def _detect(self, rule: DetectionRule, plan, con) -> tuple[int, list[Alert]]:
        search_start, columns = plan
        compiled = rule.compiled
        found = self.store.search(compiled.datasets, search_start, self.end, compiled.query, columns=columns)
        table, _ = apply_exceptions(found, self._exceptions(rule))
        self.excepted[rule.key] = _since(found, self.start).num_rows - _since(table, self.start).num_rows
        self.matches[rule.key] = table
        own = _since(table, self.start)
        if not rule.generates:
            return own.num_rows, []
        span = _since(table, _span_start(self.start, rule.volume.suppression))
        alerts = _single_event_alerts(rule, span, self.start, con)
        self.alerts.extend(alerts)
        return own.num_rows, alerts

    def _correlate(self, rule: CorrelationRule) -> tuple[int, list[Alert]]:
        correlation = rule.correlation
        scan_start = self.scan_start[rule.key]
        inner_windows: dict[str, tuple[Window, str]] = {}  # pseudo event id -> (window, rule key)
        parts = []
        for key in correlation.rules:
            if key in self.failures:
                raise _RuleFailed(f"referenced rule '{self.by_key[key].title}' failed: {self.failures[key]}")
            used = self.by_key[key]
            if isinstance(used, DetectionRule):
                parts.append(_correlation_input(correlation, key, _since(self.matches[key], scan_start)))
            else:
                parts.append(self._inner_input(correlation, used, scan_start, inner_windows))
        events = pa.concat_tables(parts)
        resume = {
            tuple(keys.get(name) for name in correlation.group_by): end
            for keys, end in resume_points(self.store.state, rule.key, scan_start)
        }
        windows = find_windows(correlation, events, horizon=self.end, resume_after=resume)
        self.found[rule.key] = windows
        for window in windows:
            keys: dict[str, str | None] = dict(zip(correlation.group_by, window.group))
            self.windows.append(CorrelationWindow(rule.key, keys, window.start, window.end))
        alerts = [self._correlation_alert(rule, w, inner_windows) for w in windows] if rule.generates else []
        self.alerts.extend(alerts)
        return events.num_rows, alerts

    def _inner_input(self, outer, inner: CorrelationRule, scan_start, inner_windows) -> pa.Table:
        """An inner correlation's windows as events of the outer one, timed at their start."""
        names = outer.fields()
        sources = [outer.field_for(name, inner.key) for name in names]
        carried = inner.correlation.group_by
        lacking = [source for source in sources if source not in carried]
        if lacking:
            raise _RuleFailed(
                f"it uses '{inner.title}', whose windows carry only its group-by fields "
                f"({', '.join(carried) or 'none'}), not {', '.join(lacking)}"
            )
        rows = [w for w in self.found.get(inner.key, []) if w.start >= scan_start]
        ids = []
        for window in rows:
            pseudo = alert_id(inner.key, dict(zip(carried, window.group)), window.start)
            inner_windows[pseudo] = (window, inner.key)
            ids.append(pseudo)
        columns = {
            TIME_COLUMN: pa.array([w.start for w in rows], _TS),
            ID_COLUMN: pa.array(ids, pa.string()),
            RULE_COLUMN: pa.array([inner.key] * len(rows), pa.string()),
        }
        for name, source in zip(names, sources):
            position = carried.index(source)
            columns[name] = pa.array([w.group[position] for w in rows], pa.string())
        return pa.table(columns)

    def _correlation_alert(self, rule: CorrelationRule, window: Window, inner_windows) -> Alert:
        event_ids, last_seen = [], window.end
        for event_id in window.event_ids:
            if event_id in inner_windows:  # a window of an inner correlation: its own events
                inner, _ = inner_windows[event_id]
                event_ids.extend(inner.event_ids)
                last_seen = max(last_seen, inner.end)
            else:
                event_ids.append(event_id)
        event_ids = list(dict.fromkeys(event_ids))
        return Alert.build(
            rule_id=rule.key,
            rule_title=rule.title,
            severity=_correlation_severity(rule, self.by_key),
            tags=_correlation_tags(rule, self.by_key),
            group_keys=dict(zip(rule.correlation.group_by, window.group)),
            window_start=window.start,
            first_seen=window.start,
            last_seen=last_seen,
            event_ids=event_ids,
        )


# -- single-event alerts -------------------------------------------------------------------------


def _single_event_alerts(rule: DetectionRule, matched: pa.Table, start: datetime, con) -> list[Alert]:
    """One alert per (entity values, suppression span), built in one DuckDB aggregation.

    Spans are clock spans of the rule's suppression duration counted from the Unix epoch, so any
    run that sees an event puts it in the same alert, whatever its own window was. ``matched``
    reaches back to the start of the first span; a span gets an alert only when some of its
    events are in this run's window (``start`` on), and its count and sample cover the whole span.
    """
    if matched.num_rows == 0:
        return []
    span = int(rule.volume.suppression.total_seconds()) * 1_000_000
    keys = [f"CAST({quote_ident(name)} AS VARCHAR)" for name in rule.entity]
    con.register("matched", matched)
    try:
        rows = con.execute(
            f"""SELECT {"".join(f"{key} AS k{i}, " for i, key in enumerate(keys))}
                       (epoch_us("@timestamp") // {span}) * {span} AS span,
                       min(epoch_us("@timestamp")), max(epoch_us("@timestamp")),
                       list("event.id" ORDER BY "@timestamp", "event.id")[1:{SAMPLE_IDS}],
                       count(DISTINCT "event.id")
                FROM matched
                GROUP BY ALL HAVING max(epoch_us("@timestamp")) >= {to_micros(start)}
                ORDER BY span{"".join(f", k{i}" for i in range(len(keys)))}"""
        ).fetchall()
    finally:
        con.unregister("matched")
    return [_alert_of_row(rule, row, len(keys)) for row in rows]


def _alert_of_row(rule: DetectionRule, row: tuple, width: int) -> Alert:
    values, (span_us, first, last, sample, count) = row[:width], row[width:]
    return Alert.build(
        rule_id=rule.key,
        rule_title=rule.title,
        severity=rule.severity,
        tags=rule.tags,
        group_keys=dict(zip(rule.entity, values)),
        window_start=from_micros(span_us),
        first_seen=from_micros(first),
        last_seen=from_micros(last),
        event_ids=sample,
        event_count=count,
    )


def _span_start(moment: datetime, span) -> datetime:
    """The start of the epoch-aligned span of width ``span`` that ``moment`` falls in."""
    width = int(span.total_seconds()) * 1_000_000
    return from_micros((to_micros(moment) // width) * width)


# -- helpers of this module ----------------------------------------------------------------------


def _correlation_input(correlation, key: str, matched: pa.Table) -> pa.Table:
    """A base rule's matches under the correlation's own column names (aliases resolved)."""
    columns = {
        TIME_COLUMN: matched.column(TIME_COLUMN).cast(_TS),
        ID_COLUMN: matched.column(ID_COLUMN).cast(pa.string()),
        RULE_COLUMN: pa.repeat(pa.scalar(key, pa.string()), matched.num_rows),
    }
    for name in correlation.fields():
        columns[name] = matched.column(correlation.field_for(name, key)).cast(pa.string())
    return pa.table(columns)


def _since(table: pa.Table, start: datetime) -> pa.Table:
    if table.num_rows == 0:
        return table
    column = table.column(TIME_COLUMN)
    return table.filter(pc.greater_equal(column, pa.scalar(start, type=column.type)))


def _correlation_severity(rule: CorrelationRule, by_key) -> str:
    """Its own level; without one (the spec lets only the outermost rule set it), the highest of
    the rules it uses — a correlation is never less severe than its parts."""
    if rule.rule.level is not None:
        return rule.severity
    levels = [
        _correlation_severity(by_key[k], by_key) if isinstance(by_key[k], CorrelationRule) else by_key[k].severity
        for k in rule.correlation.rules
    ]
    return max(levels, key=SEVERITIES.index)


def _correlation_tags(rule: CorrelationRule, by_key) -> list[str]:
    tags = list(rule.tags)
    for key in rule.correlation.rules:
        used = by_key[key]
        tags += _correlation_tags(used, by_key) if isinstance(used, CorrelationRule) else used.tags
    return list(dict.fromkeys(tags))


def _outcome(run_id: int, result: RuleResult) -> RunOutcome:
    return RunOutcome(
        run_id, result.status, result.matched, result.alerts, result.error, result.held_back, result.excepted
    )
