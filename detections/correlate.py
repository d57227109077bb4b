"""Sigma correlations over sliding windows, from the events the base rules matched.

One implementation for every store: it takes the matched events as an Arrow table and never asks a
store for anything, so the embedded store and Elasticsearch give the same windows for the same
events. DuckDB (in memory, over the Arrow table) does the per-event work with window functions; a
Python loop only walks the start times whose window satisfies the condition, as plain integers.

Semantics, decided here once:

* **Window.** A window starts at a matched event at time ``s`` and holds every event of the same
  group with ``s <= t <= s + timespan`` (inclusive, like EQL's ``maxspan``). Sliding, not clock
  buckets: a burst that straddles a bucket edge is still seen.
* **Which windows become alerts.** Per group, events are scanned in time order. The first start
  whose window satisfies the condition gives one window; the scan continues after that window's
  last event. So a burst of 500 failures raises one alert, not 490 overlapping ones, and the choice
  depends only on the events, never on where a run happened to begin — provided the caller passes
  ``resume_after`` (the end of the last window it already found that began before this scan's
  start) and scans from at least one timespan before the time it cares about. That is what makes
  overlapping runs and restarts find the same window, and so the same alert id (a property test
  splits events into two overlapping runs and gets the windows of one run). Events arriving after
  a window that would have included them was judged complete can still shift later windows.
* **Incomplete windows.** Events up to ``horizon`` are known. A window whose span reaches past the
  horizon may still gain events. Conditions that only grow more true with more events (a count
  with ``gt`` or ``gte``, and extended temporal conditions without ``not``) are evaluated on it
  anyway — a later run finds the same start and the alert id merges the new events. Every other
  condition waits until the window is complete, so a later event cannot turn an alert already
  raised into a false one: a count with ``lt``, ``lte``, ``eq``, ``neq`` or a range (its upper
  bound), and every metric, whatever its bounds — a later value can lower a sum (values may be
  negative), an average or a percentile. Waiting keeps the choice of windows right: a complete
  window's verdict depends only on its own events, which every later run sees again, so the
  greedy scan (with ``resume_after``) picks the same starts however the runs cut the time; the
  price is an alert one timespan later, never a wrong or a duplicate one.
* **Groups.** Rows with a NULL in any group-by field are left out, as Sigma backends do (an
  Elasticsearch terms aggregation and Splunk's ``stats by`` drop missing values): "ten failures
  for no user" is not a group. Group values are compared as text, so ``22`` and ``"22"`` agree
  across stores.
* **Counting.** ``event_count`` counts distinct ``event.id`` (an event matched by two referenced
  rules counts once); ``value_count`` counts distinct non-NULL values; ``temporal`` counts the
  distinct referenced rules present; ``temporal_ordered`` needs every referenced rule in the order
  listed, each at or after the previous one.
* **Metrics.** ``value_sum``, ``value_avg`` and ``value_percentile`` read the condition's field
  as a number (stores hand fields over as text; text reads as a number as rules' ``|gt`` reads it:
  sign, digits, optional fraction). A value that is not a number is left out of the metric and
  counted on the window (``Window.not_numbers``); a window without a single number has no metric
  and satisfies no condition. A percentile interpolates linearly between the nearest values.
* **Conditions.** One bound (``gte: 10``) or a range of one lower and one upper bound (``gte: 10,
  lte: 20``); limits may be fractions. Both hold for every correlation type that has a count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from detections.correlation_conditions import Condition, UnsupportedCorrelation, parse_condition
from store.epoch import from_micros, to_micros
from store.sql import functions as sql_functions
from store.sql.literals import quote_ident, quote_literal

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

#: Column of the matched-events table naming the referenced rule (its key) that matched a row.
RULE_COLUMN = "correlation.rule"
TIME_COLUMN = "@timestamp"
ID_COLUMN = "event.id"

#: Metrics over a numeric field of the window's events (the specification's "metric" types).
METRICS = ("value_sum", "value_avg", "value_percentile")
KINDS = ("event_count", "value_count", "temporal", "temporal_ordered", *METRICS)
#: The kinds whose condition names a field.
VALUE_KINDS = ("value_count", *METRICS)
#: A detection run scans one timespan back from its start: a longer window would read the whole
#: store on every run, and Python's timedelta ends at 999,999,999 days.
LONGEST_TIMESPAN = timedelta(days=366)


@dataclass(frozen=True)
class Expression:
    """An extended temporal condition (``a and not b``) with leaves naming rule keys."""

    op: str  # "rule", "and", "or", "not"
    args: tuple[Expression, ...] = ()
    rule: str | None = None  # the rule key of a "rule" leaf; None on every other node

    def __post_init__(self) -> None:
        if (self.op == "rule") != (self.rule is not None):
            raise ValueError(f"an expression {self.op!r} node {'needs' if self.op == 'rule' else 'has no'} rule")

    def rules(self) -> set[str]:
        if self.rule is not None:
            return {self.rule}
        return set().union(*(arg.rules() for arg in self.args))

    @property
    def grows_with_events(self) -> bool:
        return self.op != "not" and all(arg.grows_with_events for arg in self.args)

    def sql(self, presence: Mapping[str, str]) -> str:
        if self.rule is not None:
            return presence[self.rule]
        if self.op == "not":
            return f"(NOT {self.args[0].sql(presence)})"
        joiner = " AND " if self.op == "and" else " OR "
        return "(" + joiner.join(arg.sql(presence) for arg in self.args) + ")"


@dataclass(frozen=True)
class Correlation:
    """What a correlation rule asks, free of pySigma objects and of any store.

    ``rules`` are the keys of the referenced rules, in the order written; ``aliases`` maps an alias
    to ``{rule key: field}``. The matched-events table must name its columns as ``group_by`` and
    ``value_field`` do — the caller resolves aliases with ``field_for`` when it reads each rule's
    events.
    """

    rule_id: str
    title: str
    kind: str
    rules: tuple[str, ...]
    timespan: timedelta
    group_by: tuple[str, ...] = ()
    condition: Condition | None = None
    expression: Expression | None = None
    value_field: str | None = None
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    percentile: float | None = None  # value_percentile: which one, 0 to 100

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnsupportedCorrelation(f"correlation type {self.kind!r} is not supported")
        if not timedelta(0) < self.timespan <= LONGEST_TIMESPAN:
            raise UnsupportedCorrelation(f"timespan must be positive and at most {LONGEST_TIMESPAN.days} days")
        if self.kind in VALUE_KINDS and not self.value_field:
            raise UnsupportedCorrelation(f"{self.kind} needs a condition field")
        if (self.kind == "value_percentile") != (self.percentile is not None):
            raise UnsupportedCorrelation(
                "value_percentile needs a percentile in its condition"
                if self.kind == "value_percentile"
                else f"{self.kind} takes no percentile"
            )
        if self.percentile is not None and not 0 <= self.percentile <= 100:
            raise UnsupportedCorrelation(f"percentile {self.percentile} is not between 0 and 100")
        if self.condition is None and self.expression is None:
            raise UnsupportedCorrelation("a condition is required")
        if self.expression is not None and self.kind != "temporal":
            raise UnsupportedCorrelation("extended conditions are supported for temporal only")
        if self.kind == "temporal_ordered" and not (
            self.condition is not None
            and self.condition.op in ("gte", "eq")
            and self.condition.count == len(self.rules)
        ):
            # The specification defines temporal_ordered as "all rules, in order"; a partial
            # count has no agreed meaning (which rules, in which order?), so refuse it.
            raise UnsupportedCorrelation("temporal_ordered supports only its default condition (all rules, in order)")

    @property
    def counted(self) -> Condition:
        """The count condition, which every correlation without an extended expression has."""
        if self.condition is None:
            raise UnsupportedCorrelation(f"correlation {self.rule_id}: {self.kind} needs a count condition")
        return self.condition

    @property
    def grows_with_events(self) -> bool:
        """Whether a window the horizon still cuts may be judged now (module docstring).

        Counts only grow as events arrive, so a lower bound on one is final once met. A metric
        is not a count: a later value can lower a sum (values may be negative), an average or a
        percentile, so a metric window is judged only once complete, whatever its bounds.
        """
        if self.expression is not None:
            return self.expression.grows_with_events
        if self.kind in METRICS:
            return False
        return self.kind == "temporal_ordered" or self.counted.grows_with_events

    def field_for(self, name: str, rule_key: str) -> str:
        """The field of ``rule_key``'s events that the correlation calls ``name``."""
        alias = self.aliases.get(name)
        if alias is None:
            return name
        if rule_key not in alias:
            raise UnsupportedCorrelation(f"alias {name!r} has no field for rule {rule_key}")
        return alias[rule_key]

    def fields(self) -> tuple[str, ...]:
        """The correlation's own column names: group-by then the value field."""
        names = list(self.group_by)
        if self.value_field and self.value_field not in names:
            names.append(self.value_field)
        return tuple(names)


@dataclass(frozen=True)
class Window:
    """One satisfied window: the group, its first and last event time and its events.

    ``not_numbers``: for a metric, the window's events whose field held something other than a
    number; they are in the window but not in the metric, and this says how many were left out.
    """

    group: tuple[str, ...]
    start: datetime
    end: datetime
    event_ids: tuple[str, ...]
    not_numbers: int = 0

    @property
    def count(self) -> int:
        return len(self.event_ids)


def find_windows(
    correlation: Correlation,
    events: pa.Table,
    horizon: datetime | None = None,
    resume_after: Mapping[tuple[str | None, ...], datetime] | None = None,
) -> list[Window]:
    """The windows that satisfy the correlation, per group, in time order.

    ``events`` has ``@timestamp``, ``event.id``, the correlation's group-by and value columns and,
    when several rules are referenced, ``correlation.rule`` (which rule key matched the row).
    ``horizon`` is where the caller's knowledge of events ends (None: the events are final).
    ``resume_after`` gives, per group, the last event time of a window already found before this
    scan began: events at or before it belong to that window and are not looked at again.
    """
    if events.num_rows == 0:
        return []
    groups = [f"g{i}" for i in range(len(correlation.group_by))]
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        sql_functions.install(con)  # cw_num: what reads as a number, as rules' |gt and |lt read it
        con.register("matched", events)
        _load_rows(con, correlation, events.column_names, resume_after or {})
        _drop_hopeless_groups(con, correlation)
        sat = _satisfied_sql(correlation, horizon)
        candidates = con.sql(f"SELECT grp, t, last FROM ({sat}) ORDER BY grp, t").to_arrow_table()
        chosen = _choose_windows(*(candidates.column(i).to_pylist() for i in range(3)))
        if not chosen:
            return []
        con.register(
            "chosen",
            pa.table(
                {name: pa.array([c[i] for c in chosen], pa.int64()) for i, name in enumerate(("grp", "s", "last"))}
            ),
        )
        rows = con.execute(_window_events_sql(groups, len(correlation.rules) > 1)).fetchall()
    finally:
        con.close()
    return [
        Window(
            group=tuple(row[4:]),
            start=from_micros(row[0]),
            end=from_micros(row[1]),
            event_ids=tuple(row[2]),
            not_numbers=row[3],
        )
        for row in rows
    ]


def from_sigma(
    rule: SigmaCorrelationRule,
    key_of: Callable[[SigmaRule | SigmaCorrelationRule], str],
    condition: Mapping[str, Any] | None = None,
) -> Correlation:
    """Translate a pySigma correlation rule whose references are resolved.

    ``key_of`` gives the key the caller uses for a referenced rule (the same key it writes in the
    ``correlation.rule`` column). ``condition`` is the condition mapping as the rule file wrote
    it, read instead of pySigma's (see ``parse_condition``). Raises ``UnsupportedCorrelation``
    naming what is not supported.
    """
    from sigma.correlations import (  # pySigma is only needed to translate, not to evaluate
        CorrelationConditionAND,
        CorrelationConditionNOT,
        CorrelationConditionOR,
        SigmaExtendedCorrelationCondition,
        SigmaRuleReference,
    )

    kind = rule.type.name.lower()
    if condition is None and not isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        condition = rule.condition.to_dict()
    if kind == "value_median" and condition is not None:  # pySigma's extra type: the 50th percentile
        kind, condition = "value_percentile", {**condition, "percentile": 50}
    if kind not in KINDS:
        raise UnsupportedCorrelation(f"correlation type {kind!r} is not supported")
    if rule.timespan.seconds > LONGEST_TIMESPAN.total_seconds():
        raise UnsupportedCorrelation(
            f"timespan {rule.timespan.spec} is longer than the longest supported, {LONGEST_TIMESPAN.days} days"
        )
    keys = {ref.reference: key_of(ref.rule) for ref in rule.referenced_rules}
    resolved = {ref.reference for ref in rule.referenced_rules}
    for alias in rule.aliases:
        for ref in alias.mapping:
            if ref.reference not in resolved:
                raise UnsupportedCorrelation(
                    f"alias {alias.alias!r} names rule {ref.reference!r}, which the correlation does not reference"
                )
    aliases = {alias.alias: {key_of(ref.rule): name for ref, name in alias.mapping.items()} for alias in rule.aliases}
    for name, mapping in aliases.items():
        lacking = [ref.reference for ref in rule.referenced_rules if key_of(ref.rule) not in mapping]
        if lacking:
            raise UnsupportedCorrelation(f"alias {name!r} gives no field for {', '.join(lacking)}")

    def tree(node) -> Expression:
        if isinstance(node, SigmaRuleReference):
            return Expression("rule", rule=keys[node.reference])
        op = {CorrelationConditionAND: "and", CorrelationConditionOR: "or", CorrelationConditionNOT: "not"}[type(node)]
        return Expression(op, args=tuple(tree(arg) for arg in node.args))

    counted = expression = value_field = percentile = None
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        expression = tree(rule.condition.parsed)
    elif condition is not None:
        counted, named, percentile = parse_condition(condition)
        if isinstance(named, list):
            raise UnsupportedCorrelation("a condition over several fields is not supported")
        value_field = named
    return Correlation(
        rule_id=str(key_of(rule)),
        title=rule.title,
        kind=kind,
        rules=tuple(key_of(ref.rule) for ref in rule.referenced_rules),
        timespan=timedelta(seconds=rule.timespan.seconds),
        group_by=tuple(rule.group_by or ()),
        condition=counted,
        expression=expression,
        value_field=value_field if kind in VALUE_KINDS else None,
        aliases=aliases,
        percentile=percentile if kind == "value_percentile" else None,
    )


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    correlation: Correlation,
    columns: Sequence[str],
    resume_after: Mapping[tuple[str | None, ...], datetime],
) -> None:
    """Normalise the matched events into ``rows(t, id, r, g0.., v, n, bad)`` and apply resume points.

    ``v`` is the value field as text; ``n`` its number for a metric (NULL when it is missing or is
    not a number), and ``bad`` marks a metric's value that is there but is not a number. Numbers are read
    as rules read them (``cw_num``): the stores hand every field over as text, and an
    Elasticsearch ``long`` and a Parquet ``BIGINT`` must give the same sum.
    """
    missing = [name for name in (TIME_COLUMN, ID_COLUMN, *correlation.fields()) if name not in columns]
    if missing:
        raise ValueError(f"matched events lack columns: {', '.join(missing)}")
    if RULE_COLUMN in columns:
        rule = f"CAST({quote_ident(RULE_COLUMN)} AS VARCHAR)"
    elif len(correlation.rules) == 1:
        rule = quote_literal(correlation.rules[0])
    else:
        raise ValueError(f"matched events for several rules need a {RULE_COLUMN!r} column")
    groups = [f"CAST({quote_ident(name)} AS VARCHAR) AS g{i}" for i, name in enumerate(correlation.group_by)]
    value = f"CAST({quote_ident(correlation.value_field)} AS VARCHAR)" if correlation.value_field else "NULL"
    not_null = "".join(f" AND {quote_ident(name)} IS NOT NULL" for name in correlation.group_by)
    select = ", ".join(
        [
            f"epoch_us({quote_ident(TIME_COLUMN)}) AS t",
            f"CAST({quote_ident(ID_COLUMN)} AS VARCHAR) AS id",
            f"{rule} AS r",
            *groups,
            f"{value} AS v",
            f"{_number(correlation)} AS n",
        ]
    )
    rows = f"SELECT {select} FROM matched WHERE {quote_ident(TIME_COLUMN)} IS NOT NULL{not_null}"
    group_names = [f"g{i}" for i in range(len(correlation.group_by))]
    if resume_after:
        con.register(
            "resume",
            pa.table(
                {
                    **{name: [key[i] for key in resume_after] for i, name in enumerate(group_names)},
                    "after": pa.array([to_micros(moment) for moment in resume_after.values()], pa.int64()),
                }
            ),
        )
        if group_names:
            on = " AND ".join(f"b.{name} = resume.{name}" for name in group_names)
            rows = (
                f"SELECT b.* FROM ({rows}) b LEFT JOIN resume ON {on} WHERE resume.after IS NULL OR b.t > resume.after"
            )
        else:
            rows = f"SELECT b.* FROM ({rows}) b WHERE b.t > (SELECT max(after) FROM resume)"
    bad = "b.v IS NOT NULL AND b.n IS NULL" if correlation.kind in METRICS else "false"
    rows = f"SELECT b.*, {bad} AS bad FROM ({rows}) b"
    con.execute(f"CREATE TEMP TABLE raw AS {rows}")
    # Number the groups once: windows partition and joins match on one integer, not on text.
    if group_names:
        names = ", ".join(group_names)
        con.execute(
            f"""CREATE TEMP TABLE rows AS SELECT raw.*, g.grp FROM raw JOIN
                  (SELECT {names}, row_number() OVER () AS grp FROM (SELECT DISTINCT {names} FROM raw)) g
                USING ({names})"""
        )
    else:
        con.execute("CREATE TEMP TABLE rows AS SELECT *, 1 AS grp FROM raw")


def _number(correlation: Correlation) -> str:
    """SQL for the value field's number, for a metric (finite numbers only: no NaN in a sum)."""
    if correlation.kind not in METRICS or not correlation.value_field:
        return "CAST(NULL AS DOUBLE)"
    number = f"cw_num(CAST({quote_ident(correlation.value_field)} AS VARCHAR))"
    return f"CASE WHEN isfinite({number}) THEN {number} END"


def _drop_hopeless_groups(con: duckdb.DuckDBPyConnection, correlation: Correlation) -> None:
    """Drop groups whose every event together cannot reach a count's lower bound.

    A window's count, or distinct count, is never more than its whole group's, so for ``gt`` and
    ``gte`` (alone or as a range's lower end) a group failing as a whole has no window that
    passes. Most groups are like that (one country per user all week), and dropping them first
    spares the sliding-window pass.
    """
    if correlation.kind not in ("event_count", "value_count") or correlation.condition is None:
        return
    lower = correlation.condition.lower
    if lower is None:
        return
    if correlation.kind == "value_count":
        total = "count(DISTINCT v)"
    else:
        total = "count(DISTINCT id)" if len(correlation.rules) > 1 else "count(*)"
    con.execute(f"DELETE FROM rows WHERE grp IN (SELECT grp FROM rows GROUP BY grp HAVING NOT {lower.sql(total)})")


def _satisfied_sql(correlation: Correlation, horizon: datetime | None) -> str:
    """Per group and start time ``t``: the window's last event time, where the condition holds."""
    span = _span_micros(correlation.timespan)
    frame = f"(PARTITION BY grp ORDER BY t RANGE BETWEEN CURRENT ROW AND {span} FOLLOWING)"
    if correlation.kind == "temporal_ordered":
        return _ordered_sql(correlation, frame, span)
    complete = "true"
    if horizon is not None and not correlation.grows_with_events:
        # Wait for windows the horizon still cuts: their verdict could change (module docstring).
        complete = f"t + {span} < {to_micros(horizon)}"
    if correlation.kind == "event_count":
        # An event matched by two referenced rules is one event.
        counted = "count(DISTINCT id)" if len(correlation.rules) > 1 else "count(*)"
        satisfied = correlation.counted.sql(f"{counted} OVER {frame}")
    elif correlation.kind == "value_count":
        satisfied = correlation.counted.sql(f"count(DISTINCT v) OVER {frame}")
    elif correlation.kind in METRICS:
        satisfied = correlation.counted.sql(f"{_metric_sql(correlation)} OVER {frame}")
    else:  # temporal
        presence = {key: f"bool_or(r = {quote_literal(key)}) OVER {frame}" for key in correlation.rules}
        if correlation.expression is not None:
            satisfied = correlation.expression.sql(presence)
        else:
            distinct = " + ".join(f"CAST({p} AS INTEGER)" for p in presence.values())
            satisfied = correlation.counted.sql(distinct)
    return f"""SELECT DISTINCT grp, t, last FROM (
                 SELECT grp, t, max(t) OVER {frame} AS last, {satisfied} AS ok FROM rows)
               WHERE ok AND {complete}"""


def _metric_sql(correlation: Correlation) -> str:
    """The metric's aggregate over ``n``; NULLs (no number) are left out, so a window without a
    single number has no metric and satisfies no condition.

    A percentile interpolates between the two nearest values (``quantile_cont``, numpy's default):
    exact, so both stores give one answer, where Elasticsearch's percentiles aggregation would be
    an estimate.
    """
    if correlation.kind == "value_sum":
        return "sum(n)"
    if correlation.kind == "value_avg":
        return "avg(n)"
    fraction = (correlation.percentile or 0) / 100
    return f"quantile_cont(n, CAST({fraction!r} AS DOUBLE))"


def _ordered_sql(correlation: Correlation, frame: str, span: int) -> str:
    """temporal_ordered: from each start, chase each rule's first match at or after the previous.

    Its condition always grows with events, so no completeness test is needed here.
    """
    steps = [f"starts AS (SELECT DISTINCT grp, t AS s, max(t) OVER {frame} AS last FROM rows)"]
    previous, cursor = "starts", "s"
    for index, key in enumerate(correlation.rules):
        steps.append(
            f"""step{index} AS (
                  SELECT p.grp, p.s, p.last, m.t AS a FROM {previous} p
                  ASOF JOIN (SELECT grp, t FROM rows WHERE r = {quote_literal(key)}) m
                    ON p.grp = m.grp AND p.{cursor} <= m.t)"""
        )
        previous, cursor = f"step{index}", "a"
    return f"""WITH {", ".join(steps)}
               SELECT DISTINCT grp, s AS t, last FROM {previous} WHERE a <= s + {span}"""


def _choose_windows(groups: list[int], starts: list[int], lasts: list[int]) -> list[tuple[int, int, int]]:
    """Greedy per group: the first satisfied start, then the first one after that window's last
    event, and so on. A sequential walk, but over plain lists of the satisfied starts only (a
    recursive query would do it in DuckDB, but its ASOF joins are not allowed in recursion)."""
    chosen: list[tuple[int, int, int]] = []
    group: int | None = None
    consumed_until: int | None = None
    for grp, start, last in zip(groups, starts, lasts):  # ordered by group, then start
        if grp != group:
            group, consumed_until = grp, None
        if consumed_until is not None and start <= consumed_until:
            continue
        chosen.append((grp, start, last))
        consumed_until = last
    return chosen


def _window_events_sql(groups: list[str], distinct: bool) -> str:
    """Each chosen window with its group values and events, in time order (each event once:
    ``distinct`` when several rules may have matched one event)."""
    values = "".join(f", any_value({g})" for g in groups)
    return f"""SELECT s, last, list(id ORDER BY t, id), count(DISTINCT id) FILTER (WHERE bad){values}
               FROM (SELECT {"DISTINCT" if distinct else ""} c.grp, c.s, c.last, e.t, e.id, e.bad{"".join(f", e.{g}" for g in groups)}
                     FROM rows e ASOF JOIN chosen c ON e.grp = c.grp AND e.t >= c.s
                     WHERE e.t <= c.last)
               GROUP BY grp, s, last
               ORDER BY {"".join(f"any_value({g}), " for g in groups)}s"""


def _span_micros(span: timedelta) -> int:
    """A timespan in exact microseconds, the unit of the ``t`` column."""
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
