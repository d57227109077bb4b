"""Run a rule set over a time window of a store: search, correlate, write alerts.

Each rule is compiled once (by the loader) and searched once, however many correlations use it.
A rule that fails at run time — a DuckDB error, a missing column type — is recorded as failed with
its name and the reason; the other rules still run, and correlations that needed it fail with a
reason that names it.

Windows on event time:

* single-event rules raise one alert per entity and suppression span with an event in
  ``[start, end)``; a span's count covers the whole span. The store groups, counts, samples and
  caps (``Store.alert_groups``): of a flood of half a million groups only the rule's cap of new
  ones and the groups that are already open alerts come back to Python, and the rest are counted;
* exceptions (``detections.exceptions``) take allowed events out of each rule's matches before
  alerts and correlations see them — handed to the store as data, rendered in its own language
  for alerts, an Arrow filter on the matches a correlation reads; the run counts them as
  ``excepted``;
* new alerts beyond a rule's cap are held back and counted on its run, never dropped silently;
* a correlation scans from ``start - timespan`` (and earlier when an enclosing correlation needs
  its windows from earlier), so a window that began just before this run's start and continues
  into it is found; where its scan resumes per group comes from the windows recorded by earlier
  runs (``store.state.alerts.resume_points``) — see ``detections.correlate`` for why that makes
  overlapping runs and restarts choose the same windows;
* ``end`` is the horizon: windows it still cuts are judged as the correlation module explains;
* a count correlation (``event_count``, ``value_count``) with a lower bound over detection rules
  first asks the store which groups' events in its whole scan can reach the bound
  (``Store.reaching``), and reads its rules' matches only for those groups (``search``'s ``keep``):
  a window never holds more than its group's whole scan, so the other groups cannot pass, and
  most groups are like that (one country per user all week). The counts a run reports are the
  store's, as without the filter;
* a correlation may use another (the specification's chaining): each window of the inner one is
  an event of the outer one, timed at its first event and carrying the inner group-by values, and
  the outer alert lists the underlying events.

Alerts, correlation windows and the finished rule runs are written in one transaction at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from detections.alerts import DEFAULT_VOLUME, SAMPLE_IDS, SEVERITIES, Alert, AlertVolume, alert_id, iso
from detections.correlate import ID_COLUMN, RULE_COLUMN, TIME_COLUMN, Window, find_windows
from detections.exceptions import applicable, apply_exceptions
from detections.loader import CorrelationRule, DetectionRule, RuleProblem, RuleSet, load_rules
from store.epoch import from_micros, to_micros
from store.protocol import (
    AlertGroupQuery,
    CorrelationWindow,
    Keep,
    KnownGroup,
    OnSavedAlerts,
    ReachingQuery,
    RunOutcome,
)
from store.schema import DATASET_COLUMNS
from store.state.alerts import record_rule_runs, resume_points

_TS = pa.timestamp("us", tz="UTC")
#: Candidate groups of a correlation beyond this many: a filter that long spares little, so its
#: rules' matches are searched whole, as without pruning.
PRUNE_LIMIT = 10_000
#: The span of the store's counting question (``_counted``): any whole span would do, as the
#: counts asked for are of ``[since, end)``; a day keeps the spans few.
_COUNTING_SPAN = timedelta(days=1)


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
    search_seconds: float = 0.0  # of ``seconds``: the store grouping and counting (for --profile)
    build_seconds: float = 0.0  # of ``seconds``: building the alerts of the rows the store kept

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
            "search_seconds": round(self.search_seconds, 6),
            "build_seconds": round(self.build_seconds, 6),
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


class _Plan(NamedTuple):
    """What a detection rule reads besides its alert groups: from when, and which columns, its
    matched events are searched for the correlations that use it (None: no correlation does)."""

    search_start: datetime | None
    columns: list[str]


class _Volume(NamedTuple):
    """A detection rule's alert groups in a run: all of them, the known ones, the new ones kept."""

    groups: int
    known: int
    kept: int


class _RuleFailed(Exception):
    """A rule could not be evaluated; the message is for the person reading the report."""


def run_detections(
    store,
    rule_dirs: Sequence[Path | str],
    start: datetime,
    end: datetime,
    rules: RuleSet | None = None,
    on_saved: OnSavedAlerts | None = None,
    exception_dirs: Sequence[Path | str] = (),
    defaults: AlertVolume = DEFAULT_VOLUME,
) -> DetectionReport:
    """Run every rule under ``rule_dirs`` over events with ``start <= @timestamp < end``.

    ``rules`` skips loading when the caller already holds a loaded rule set (the scheduler runs
    the same rules every few minutes). ``on_saved(connection, new, updated)`` runs in the transaction
    that stores the run's alerts, with those new and those changed (for the webhook outbox). ``exception_dirs``: exceptions beyond the shipped
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
        else load_rules(rule_dirs, compile=compiler_for(store), exception_dirs=exception_dirs, defaults=defaults)
    )
    run = _Run(store, ruleset, start, end)
    report = run.execute()
    report.problems = list(ruleset.problems)
    # The store's alert book also updates where else the store shows alerts (Kibana's index).
    report.alerts_new, report.alerts_updated = store.alerts.save_run(
        report.alerts, run.windows, run.outcomes, on_saved=on_saved
    )
    report.seconds = time.perf_counter() - began
    return report


def compiler_for(store):
    language = store.query_language
    if language == "duckdb-sql":
        from detections.backends.compile import compile_rule

        return compile_rule
    if language == "elasticsearch-lucene":
        from detections.backends.compile_es import compile_rule as compile_lucene

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
        self.candidates: dict[str, set[tuple[str | None, ...]] | None] = {}  # correlation key -> groups that can pass
        self.weighed: dict[str, int] = {}  # pruned detection key -> its matches over the scan, unpruned
        self.volume: dict[str, _Volume] = {}  # generating detection key -> its groups, as the store counted
        self.profile: dict[str, tuple[float, float]] = {}  # detection key -> (store seconds, build seconds)
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

    def _detection_plan(self, rule: DetectionRule) -> _Plan | None:
        """What a detection rule needs read, or None when nothing needs it: its alert groups
        (asked of the store by ``_detect``) and, for correlations using it, its matched events
        from the earliest of their scans."""
        users = self._users(rule.key)
        if not rule.generates and not users:
            return None
        if not users:
            return _Plan(None, [])
        # The fields the rule's SQL reads are asked for too: the store fills a column no segment
        # has with NULL only when it is asked for, and a rule may test a field this data lacks.
        columns = list(rule.compiled.fields)
        columns += [name for e in self._exceptions(rule) for name in e.fields]
        for user in users:
            columns += [user.correlation.field_for(name, rule.key) for name in user.correlation.fields()]
        search_start = min(self.scan_start[user.key] for user in users)
        return _Plan(search_start, list(dict.fromkeys(columns)))

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
        planned = {rule.key: self._detection_plan(rule) for rule in self.ruleset.detections}
        plans = {key: plan for key, plan in planned.items() if plan is not None}
        to_run = [r for r in self.ruleset.detections if r.key in plans]
        correlations = self._ordered_correlations()
        run_ids = record_rule_runs(
            self.store.state,
            [(r.key, r.title) for r in (*to_run, *correlations)],
            self.start,
            self.end,
        )
        run_id = dict(zip([r.key for r in (*to_run, *correlations)], run_ids))
        for rule in self.ruleset.detections:
            if rule.key not in plans:
                report.rules.append(
                    RuleResult(
                        rule.key,
                        rule.title,
                        "detection",
                        "skipped",
                        error="used only by correlations that cannot run (see problems)",
                    )
                )
        ran: list[RuleResult] = []
        for rule in to_run:
            ran.append(self._timed(rule, "detection", lambda r=rule: self._detect(r, plans[r.key])))
        for correlation in correlations:
            ran.append(self._timed(correlation, "correlation", lambda r=correlation: self._correlate(r)))
        self._bound(ran)
        report.rules.extend(ran)
        self.outcomes.extend(_outcome(run_id[result.rule_id], result) for result in ran)
        report.alerts = self.alerts
        return report

    def _bound(self, results: list[RuleResult]) -> None:
        """Keep at most each rule's cap of new alerts (earliest first); count the rest as held back.

        A detection rule's store already kept its known groups and its first ``max_alerts``
        others, and counted the rest. A correlation's windows are few; one look-up for them says
        which alerts are already open: those are updated, never capped, since a repeat of a known
        alert adds no work for the person triaging.
        """
        for result in results:
            volume = self.volume.get(result.rule_id)
            if volume is not None:
                result.new, result.updated = volume.kept, volume.known
                result.held_back = max(volume.groups - volume.known - volume.kept, 0)
                result.alerts = result.new + result.updated
                result.suppressed = max(result.matched - volume.groups, 0)
                result.search_seconds, result.build_seconds = self.profile.get(result.rule_id, (0.0, 0.0))
        correlated = {r.rule_id for r in results if r.kind == "correlation"}
        own = [a for a in self.alerts if a.rule_id in correlated]
        known = self.store.alerts.existing([alert.id for alert in own])
        by_rule: dict[str, list[Alert]] = {}
        for alert in own:
            by_rule.setdefault(alert.rule_id, []).append(alert)
        kept: list[Alert] = [a for a in self.alerts if a.rule_id not in correlated]
        for result in results:
            if result.rule_id not in correlated:
                continue
            mine = by_rule.get(result.rule_id, [])
            # By id: two sightings of one alert in a run are one alert (the store merges them).
            first_seen = {a.id: a.first_seen for a in sorted(mine, key=lambda a: a.first_seen, reverse=True)}
            fresh = sorted((i for i in first_seen if i not in known), key=lambda i: (first_seen[i], i))
            cap = self.by_key[result.rule_id].volume.max_alerts
            promoted = set(fresh[:cap])
            result.new, result.held_back = min(len(fresh), cap), max(len(fresh) - cap, 0)
            result.updated = len(first_seen) - len(fresh)
            result.alerts = result.new + result.updated
            kept += [a for a in mine if a.id in known or a.id in promoted]
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

    def _detect(self, rule: DetectionRule, plan: _Plan) -> tuple[int, list[Alert]]:
        """Matches for the correlations that use the rule; alert groups, counted by the store."""
        matched = 0
        if plan.search_start is not None:
            matched = self._search_matches(rule, plan)
        if not rule.generates:
            return matched, []
        began = time.perf_counter()
        groups = self.store.alert_groups(self._group_query(rule))
        searched = time.perf_counter()
        alerts = [_alert_of_row(rule, row) for row in groups.rows.to_pylist()]
        self.profile[rule.key] = (searched - began, time.perf_counter() - searched)
        self.excepted[rule.key] = groups.excepted
        self.volume[rule.key] = _Volume(groups.groups, groups.known, groups.rows.num_rows - groups.known)
        self.alerts.extend(alerts)
        return groups.matched, alerts

    def _search_matches(self, rule: DetectionRule, plan: _Plan) -> int:
        """The rule's matching events over the correlations' scan, exceptions taken out; only
        the groups that can pass when the correlation using it can say which (``_keep``)."""
        compiled = rule.compiled
        assert plan.search_start is not None  # only rules that correlations use are searched
        keep = self._keep(rule)
        found = self.store.search(
            compiled.datasets, plan.search_start, self.end, compiled.query, columns=plan.columns, keep=keep
        )
        table, _ = apply_exceptions(found, self._exceptions(rule))
        self.matches[rule.key] = table
        if keep is not None:
            return self._counted(rule, plan.search_start)
        self.excepted[rule.key] = _since(found, self.start).num_rows - _since(table, self.start).num_rows
        return _since(table, self.start).num_rows

    def _counted(self, rule: DetectionRule, search_start: datetime) -> int:
        """A pruned rule's counts, as an unpruned search would give them, counted by the store:
        matched and excepted since the run's start, and the matches its correlation weighs."""
        now = self.store.alert_groups(self._count_query(rule, self.start))
        self.weighed[rule.key] = self.store.alert_groups(self._count_query(rule, search_start)).matched
        self.excepted[rule.key] = now.excepted
        return now.matched

    def _count_query(self, rule: DetectionRule, since: datetime) -> AlertGroupQuery:
        """The store's question for a rule's counts over ``[since, end)``: no groups, no rows."""
        return AlertGroupQuery(
            datasets=tuple(rule.compiled.datasets),
            query=rule.compiled.query,
            entity=(),
            span=_COUNTING_SPAN,
            since=since,
            end=self.end,
            exceptions=tuple(e.where for e in self._exceptions(rule)),
            max_new=0,
            sample=0,
            fields=tuple(rule.compiled.fields),
        )

    def _keep(self, rule: DetectionRule) -> Keep | None:
        """The rule's fields and the values its correlation's candidate groups hold there, or
        None (search every group): when another correlation also reads the rule's matches, or
        its one correlation cannot say which groups can pass (``_candidates``)."""
        users = self._users(rule.key)
        if len(users) != 1:
            return None
        user = users[0]
        if user.key not in self.candidates:
            self.candidates[user.key] = self._candidates(user)
        groups = self.candidates[user.key]
        if groups is None:
            return None
        correlation = user.correlation
        # Per field, not per tuple: a superset of the candidates' events, which the correlation
        # then weighs as always.
        return {
            correlation.field_for(name, rule.key): list(dict.fromkeys(group[position] for group in groups))
            for position, name in enumerate(correlation.group_by)
        }

    def _candidates(self, user: CorrelationRule) -> set[tuple[str | None, ...]] | None:
        """The groups of ``user`` whose events over its scan can reach its lower bound, or None.

        Over several rules a group's total is at most the sum of its per-rule totals (an event
        two rules match counts once; a value two rules see too), so a group that can pass
        reaches ``bound / rules`` in at least one rule: the union of those is a superset.
        None when pruning cannot help or say: no count with a lower bound, no group-by, an inner
        correlation among its rules, a bound every group with an event reaches, or more
        candidates than ``PRUNE_LIMIT`` (the store answers None past it too).
        """
        correlation = user.correlation
        bound = _least_count(correlation)
        if bound is None or not all(isinstance(self.by_key[key], DetectionRule) for key in correlation.rules):
            return None
        per_rule = math.ceil(bound / len(correlation.rules))
        if per_rule <= 1:
            return None
        found: set[tuple[str | None, ...]] = set()
        for key in correlation.rules:
            keys = self.store.reaching(self._reaching_query(user, key, per_rule))
            if keys is None:
                return None
            found.update(keys)
            if len(found) > PRUNE_LIMIT:
                return None
        return found

    def _reaching_query(self, user: CorrelationRule, key: str, at_least: int) -> ReachingQuery:
        correlation, rule = user.correlation, self.by_key[key]
        assert isinstance(rule, DetectionRule)  # checked by _candidates
        value = correlation.value_field if correlation.kind == "value_count" else None
        return ReachingQuery(
            datasets=tuple(rule.compiled.datasets),
            query=rule.compiled.query,
            start=self.scan_start[user.key],
            end=self.end,
            group_by=tuple(correlation.field_for(name, key) for name in correlation.group_by),
            at_least=at_least,
            distinct=None if value is None else correlation.field_for(value, key),
            limit=PRUNE_LIMIT,
            fields=tuple(rule.compiled.fields),
        )

    def _group_query(self, rule: DetectionRule) -> AlertGroupQuery:
        """The store's question for a generating rule: its groups in this run, the known ones named."""
        span = rule.volume.suppression
        asked = AlertGroupQuery(
            datasets=tuple(rule.compiled.datasets),
            query=rule.compiled.query,
            entity=tuple(rule.entity),
            span=span,
            since=self.start,
            end=self.end,
            exceptions=tuple(e.where for e in self._exceptions(rule)),
            max_new=rule.volume.max_alerts,
            sample=SAMPLE_IDS,
            fields=tuple(rule.compiled.fields),
        )
        return replace(asked, known=tuple(self._known_groups(rule, asked)))

    def _known_groups(self, rule: DetectionRule, asked: AlertGroupQuery) -> list[KnownGroup]:
        """The rule's stored alerts this run may update. Their first event lies in their span,
        so spans from the run's first one up to the one ``end`` falls in cover them; an alert
        raised under another suppression span or group-by has another id and is not one."""
        known = []
        for alert in self.store.alerts.first_seen_between(rule.key, asked.group_start, self.end + asked.span):
            if set(alert.group_keys) != set(rule.entity):
                continue
            window = _span_start(alert.first_seen, asked.span)
            if alert_id(rule.key, alert.group_keys, window) == alert.id:
                known.append(KnownGroup(tuple(alert.group_keys[name] for name in rule.entity), window))
        return known

    def _correlate(self, rule: CorrelationRule) -> tuple[int, list[Alert]]:
        correlation = rule.correlation
        scan_start = self.scan_start[rule.key]
        inner_windows: dict[str, tuple[Window, str]] = {}  # pseudo event id -> (window, rule key)
        parts, weighed = [], 0
        for key in correlation.rules:
            if key in self.failures:
                raise _RuleFailed(f"referenced rule '{self.by_key[key].title}' failed: {self.failures[key]}")
            used = self.by_key[key]
            if isinstance(used, DetectionRule):
                parts.append(_correlation_input(correlation, key, _since(self.matches[key], scan_start)))
            else:
                parts.append(self._inner_input(correlation, used, scan_start, inner_windows))
            weighed += self.weighed.get(key, parts[-1].num_rows)
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
        return weighed, alerts

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


def _alert_of_row(rule: DetectionRule, row: dict) -> Alert:
    """An alert of one row of ``Store.alert_groups`` (at most the cap plus the known per rule)."""
    return Alert.build(
        rule_id=rule.key,
        rule_title=rule.title,
        severity=rule.severity,
        tags=rule.tags,
        group_keys={name: row[f"k{position}"] for position, name in enumerate(rule.entity)},
        window_start=row["window_start"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        event_ids=row["event_ids"],
        event_count=row["event_count"],
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


def _least_count(correlation) -> int | None:
    """The least whole count that passes a count correlation's lower bound; None without one
    (or for another kind: a metric or a temporal count is not a count of events or values)."""
    if correlation.kind not in ("event_count", "value_count") or correlation.condition is None:
        return None
    if not correlation.group_by or correlation.condition.lower is None:
        return None
    lower = correlation.condition.lower
    return math.ceil(lower.count) if lower.op == "gte" else math.floor(lower.count) + 1


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
