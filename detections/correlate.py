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
  horizon may still gain events. Conditions that only grow more true with more events (``gt``,
  ``gte``, and extended temporal conditions without ``not``) are evaluated on it anyway — a later
  run finds the same start and the alert id merges the new events. Other conditions (``lt``,
  ``lte``, ``eq``, ``neq``) wait until the window is complete, so a later event cannot turn an
  alert already raised into a false one.
* **Groups.** Rows with a NULL in any group-by field are left out, as Sigma backends do (an
  Elasticsearch terms aggregation and Splunk's ``stats by`` drop missing values): "ten failures
  for no user" is not a group. Group values are compared as text, so ``22`` and ``"22"`` agree
  across stores.
* **Counting.** ``event_count`` counts distinct ``event.id`` (an event matched by two referenced
  rules counts once); ``value_count`` counts distinct non-NULL values; ``temporal`` counts the
  distinct referenced rules present; ``temporal_ordered`` needs every referenced rule in the order
  listed, each at or after the previous one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from store.epoch import from_micros, to_micros
from store.sql_literals import quote_ident, quote_literal

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

#: Column of the matched-events table naming the referenced rule (its key) that matched a row.
RULE_COLUMN = "correlation.rule"
TIME_COLUMN = "@timestamp"
ID_COLUMN = "event.id"

KINDS = ("event_count", "value_count", "temporal", "temporal_ordered")
#: A detection run scans one timespan back from its start: a longer window would read the whole
#: store on every run, and Python's timedelta ends at 999,999,999 days.
LONGEST_TIMESPAN = timedelta(days=366)
_SQL_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}


class UnsupportedCorrelation(ValueError):
    """A correlation this engine will not evaluate; the message says what and why."""


@dataclass(frozen=True)
class Condition:
    op: str  # gt, gte, lt, lte, eq, neq
    count: int

    def __post_init__(self) -> None:
        if self.op not in _SQL_OPS:
            raise UnsupportedCorrelation(f"unknown condition operator {self.op!r}")

    @property
    def grows_with_events(self) -> bool:
        """True when more events can only keep the condition true (so partial windows may fire)."""
        return self.op in ("gt", "gte")

    def holds(self, value: int) -> bool:
        return {
            "gt": value > self.count,
            "gte": value >= self.count,
            "lt": value < self.count,
            "lte": value <= self.count,
            "eq": value == self.count,
            "neq": value != self.count,
        }[self.op]

    def sql(self, expression: str) -> str:
        return f"({expression} {_SQL_OPS[self.op]} {int(self.count)})"


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

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnsupportedCorrelation(f"correlation type {self.kind!r} is not supported")
        if not timedelta(0) < self.timespan <= LONGEST_TIMESPAN:
            raise UnsupportedCorrelation(f"timespan must be positive and at most {LONGEST_TIMESPAN.days} days")
        if self.kind == "value_count" and not self.value_field:
            raise UnsupportedCorrelation("value_count needs a condition field")
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
        if self.expression is not None:
            return self.expression.grows_with_events
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
    """One satisfied window: the group, its first and last event time and its events."""

    group: tuple[str, ...]
    start: datetime
    end: datetime
    event_ids: tuple[str, ...]

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
        Window(group=tuple(row[3:]), start=from_micros(row[0]), end=from_micros(row[1]), event_ids=tuple(row[2]))
        for row in rows
    ]


def from_sigma(rule: SigmaCorrelationRule, key_of: Callable[[SigmaRule | SigmaCorrelationRule], str]) -> Correlation:
    """Translate a pySigma correlation rule whose references are resolved.

    ``key_of`` gives the key the caller uses for a referenced rule (the same key it writes in the
    ``correlation.rule`` column). Raises ``UnsupportedCorrelation`` naming what is not supported.
    """
    from sigma.correlations import (  # pySigma is only needed to translate, not to evaluate
        CorrelationConditionAND,
        CorrelationConditionNOT,
        CorrelationConditionOR,
        SigmaExtendedCorrelationCondition,
        SigmaRuleReference,
    )

    kind = rule.type.name.lower()
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

    condition = expression = value_field = None
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        expression = tree(rule.condition.parsed)
    else:
        condition = Condition(rule.condition.op.name.lower(), rule.condition.count)
        if isinstance(rule.condition.fieldref, list):
            raise UnsupportedCorrelation("a condition over several fields is not supported")
        value_field = rule.condition.fieldref
    return Correlation(
        rule_id=str(key_of(rule)),
        title=rule.title,
        kind=kind,
        rules=tuple(key_of(ref.rule) for ref in rule.referenced_rules),
        timespan=timedelta(seconds=rule.timespan.seconds),
        group_by=tuple(rule.group_by or ()),
        condition=condition,
        expression=expression,
        value_field=value_field if kind == "value_count" else None,
        aliases=aliases,
    )


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    correlation: Correlation,
    columns: Sequence[str],
    resume_after: Mapping[tuple[str | None, ...], datetime],
) -> None:
    """Normalise the matched events into ``rows(t, id, r, g0.., v)`` and apply resume points."""
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


def _drop_hopeless_groups(con: duckdb.DuckDBPyConnection, correlation: Correlation) -> None:
    """Drop groups whose every event together cannot satisfy a growing count condition.

    A window's count, or distinct count, is never more than its whole group's, so for ``gt`` and
    ``gte`` a group failing as a whole has no window that passes. Most groups are like that (one
    country per user all week), and dropping them first spares the sliding-window pass.
    """
    if correlation.kind not in ("event_count", "value_count") or correlation.condition is None:
        return
    if not correlation.condition.grows_with_events:
        return
    if correlation.kind == "value_count":
        total = "count(DISTINCT v)"
    else:
        total = "count(DISTINCT id)" if len(correlation.rules) > 1 else "count(*)"
    con.execute(
        "DELETE FROM rows WHERE grp IN"
        f" (SELECT grp FROM rows GROUP BY grp HAVING NOT {correlation.condition.sql(total)})"
    )


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
    return f"""SELECT s, last, list(id ORDER BY t, id){values}
               FROM (SELECT {"DISTINCT" if distinct else ""} c.grp, c.s, c.last, e.t, e.id{"".join(f", e.{g}" for g in groups)}
                     FROM rows e ASOF JOIN chosen c ON e.grp = c.grp AND e.t >= c.s
                     WHERE e.t <= c.last)
               GROUP BY grp, s, last
               ORDER BY {"".join(f"any_value({g}), " for g in groups)}s"""


def _span_micros(span: timedelta) -> int:
    """A timespan in exact microseconds, the unit of the ``t`` column."""
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
