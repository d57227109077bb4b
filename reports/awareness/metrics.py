"""The awareness metrics, counted by DuckDB over the ``recipients`` table: per campaign, per
department, per month or week, and per campaign and department; always per source.

Each metric is a numerator and a denominator (``count(*) FILTER``) or a median, in SQL; Python
receives one row per group, never a row per person. A group with fewer recipients than the
minimum group size is marked suppressed, and so are as many more as it takes that the hidden
groups cannot be worked out from the total minus the shown ones (see :func:`suppress`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import duckdb

#: Each rate's numerator and denominator, as conditions on ``recipients``.
RATES: Mapping[str, tuple[str, str]] = {
    "report_rate": ("delivered AND reported", "delivered"),
    "click_rate": ("delivered AND clicked", "delivered"),
    "credential_rate": ("delivered AND submitted", "delivered AND submitted IS NOT NULL"),
    "compromise_rate": ("delivered AND compromised", "delivered AND compromised IS NOT NULL"),
    "training_completion": ("training_completed", "training_assigned"),
}
#: The groupings a report shows: the key columns (SQL) and their names.
GROUPINGS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "campaign": (
        ("campaign_id", "campaign_id"),
        ("any_value(campaign)", "campaign"),
        ("any_value(technique)", "technique"),
        ("min(launched_at)", "launched_at"),
    ),
    "department": (("department", "department"),),
    "month": (("date_trunc('month', launched_at)", "period"),),
    "week": (("date_trunc('week', launched_at)", "period"),),
    "campaign_department": (("campaign_id", "campaign_id"), ("department", "department")),
}
#: The order of a grouping's rows when it is not its keys' order.
ORDER: Mapping[str, str] = {"campaign": "launched_at, campaign, campaign_id"}
#: Key columns computed by an aggregate rather than grouped by.
_AGGREGATED_KEYS = frozenset({"campaign", "technique", "launched_at"})


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class GroupMetrics:
    """One group's figures for one source. ``recipients`` is the number of people delivered in
    the group (each once), which the minimum group size is measured against."""

    source: str
    key: Mapping[str, object]
    recipients: int
    delivered: int
    rates: Mapping[str, Ratio]
    median_minutes_to_report: float | None
    timed_reports: int
    suppressed: bool = False


def group_metrics(con: duckdb.DuckDBPyConnection, grouping: str) -> list[GroupMetrics]:
    """Every source's groups of ``grouping``, in key order."""
    keys = GROUPINGS[grouping]
    grouped = [sql for sql, name in keys if name not in _AGGREGATED_KEYS]
    selects = ", ".join(f"{sql} AS {name}" for sql, name in keys)
    counts = ", ".join(
        f"count(*) FILTER (WHERE {num}) AS {metric}_num, count(*) FILTER (WHERE {den}) AS {metric}_den"
        for metric, (num, den) in RATES.items()
    )
    sql = f"""
        SELECT source, {selects},
               count(DISTINCT user_key) FILTER (WHERE delivered) AS recipients,
               count(*) FILTER (WHERE delivered) AS delivered,
               {counts},
               median(minutes_to_report) FILTER (WHERE delivered AND reported) AS median_minutes,
               count(minutes_to_report) FILTER (WHERE delivered AND reported) AS timed_reports
        FROM recipients
        GROUP BY source, {", ".join(grouped)}
        ORDER BY source, {ORDER.get(grouping, ", ".join(name for _, name in keys))}
    """
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    found = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        found.append(
            GroupMetrics(
                source=row["source"],
                key={name: row[name] for _, name in keys},
                recipients=int(row["recipients"]),
                delivered=int(row["delivered"]),
                rates={m: Ratio(int(row[f"{m}_num"]), int(row[f"{m}_den"])) for m in RATES},
                median_minutes_to_report=None if row["median_minutes"] is None else float(row["median_minutes"]),
                timed_reports=int(row["timed_reports"]),
            )
        )
    return found


def suppress(groups: Sequence[GroupMetrics], minimum: int) -> list[GroupMetrics]:
    """Mark the groups too small to show, per source (see :func:`hidden`)."""
    marked = list(groups)
    for source in {g.source for g in groups}:
        mine = [i for i, g in enumerate(groups) if g.source == source]
        for n in hidden([groups[i].recipients for i in mine], minimum):
            marked[mine[n]] = replace(groups[mine[n]], suppressed=True)
    return marked


def hidden(sizes: Sequence[int], minimum: int) -> set[int]:
    """Which of the groups of ``sizes`` (people per group) not to show: those under ``minimum``,
    and, since the total is shown elsewhere and the hidden groups together are the total minus
    the shown ones, the smallest shown groups until the hidden ones hold at least ``minimum``
    people between them (or none at all)."""
    hide = {i for i, size in enumerate(sizes) if size < minimum}
    while True:
        together = sum(sizes[i] for i in hide)
        shown = [i for i in range(len(sizes)) if i not in hide]
        if not shown or together == 0 or together >= minimum:
            return hide
        hide.add(min(shown, key=lambda i: (sizes[i], i)))


@dataclass(frozen=True)
class RepeatOffenders:
    """How many people failed in ``threshold`` or more consecutive campaigns they received, of
    those who received at least ``threshold``: a count, never a list of names."""

    source: str
    department: str | None
    offenders: int
    eligible: int


def repeat_offenders(
    con: duckdb.DuckDBPyConnection, threshold: int, by_department: bool = False
) -> list[RepeatOffenders]:
    """Consecutive failures found as runs ("gaps and islands"): within a person's campaigns in
    launch order, failed campaigns that are consecutive share ``position - position among failed``."""
    department = "department" if by_department else "NULL::VARCHAR"
    sql = f"""
        WITH received AS (
            SELECT source, user_key, {department} AS department, failed,
                   row_number() OVER (PARTITION BY source, user_key ORDER BY launched_at, campaign_id) AS n,
                   row_number() OVER (PARTITION BY source, user_key, failed ORDER BY launched_at, campaign_id) AS m
            FROM recipients WHERE delivered
        ),
        runs AS (
            SELECT source, user_key, count(*) AS length
            FROM received WHERE failed GROUP BY source, user_key, n - m
        ),
        people AS (
            SELECT source, user_key, any_value(department) AS department, count(*) AS campaigns
            FROM received GROUP BY source, user_key
        )
        SELECT p.source, p.department,
               count(*) FILTER (WHERE p.user_key IN (SELECT user_key FROM runs AS r
                                                      WHERE r.source = p.source AND r.length >= $threshold)) AS offenders,
               count(*) FILTER (WHERE p.campaigns >= $threshold) AS eligible
        FROM people AS p
        GROUP BY p.source, p.department
        ORDER BY p.source, p.department
    """
    rows = con.execute(sql, {"threshold": threshold}).fetchall()
    return [RepeatOffenders(s, d, int(o), int(e)) for s, d, o, e in rows]
