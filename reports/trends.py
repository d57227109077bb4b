"""Trends over the period: one number per evidence snapshot, computed in DuckDB over every
snapshot's rows at once (``SnapshotStore.series_relation``), so only the points reach Python.

Each trend states its definition, printed under its chart: a share of what, counted how. A
source with no snapshot in the period gives no trend, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from reports.checks.devices.updates import QUALIFYING
from reports.document import Point
from reports.registry import EvidenceSource
from store.snapshots import SnapshotError, SnapshotStore


@dataclass(frozen=True)
class Trend:
    name: str
    source: EvidenceSource
    #: What the number is, for the reader (printed with the chart).
    definition: str
    y_label: str
    percent: bool
    #: One row per snapshot: (snapshot_taken_at, value), over a view named ``rows``.
    sql: str


TRENDS: tuple[Trend, ...] = (
    Trend(
        "MFA registration",
        EvidenceSource.GRAPH_AUTHENTICATION_METHODS,
        "Share of the accounts in Entra's registration report that are registered for MFA, per snapshot.",
        "registered for MFA",
        True,
        """SELECT snapshot_taken_at,
                  100.0 * count(*) FILTER (coalesce(is_mfa_registered, false)) / greatest(count(*), 1)
           FROM rows GROUP BY snapshot_taken_at ORDER BY snapshot_taken_at""",
    ),
    Trend(
        "Devices with overdue high or critical fixes",
        EvidenceSource.DEFENDER_MISSING_UPDATES,
        "Devices with a high, critical, CVSS 7+ or unrated vulnerability whose fix was first seen more than "
        "14 days before the snapshot, per snapshot.",
        "devices",
        False,
        f"""SELECT snapshot_taken_at,
                   count(DISTINCT device_id) FILTER (first_seen < snapshot_taken_at - INTERVAL 14 DAYS)
            FROM ({QUALIFYING.replace("FROM vulnerabilities", "FROM rows")}) GROUP BY snapshot_taken_at
            ORDER BY snapshot_taken_at""",
    ),
)


@dataclass(frozen=True)
class TrendSeries:
    trend: Trend
    points: tuple[Point, ...]
    #: Why there are no points, when there are none.
    missing: str | None = None


def trend_series(snapshots: SnapshotStore, start: datetime, end: datetime) -> tuple[TrendSeries, ...]:
    """Every trend of :data:`TRENDS` over [start, end]."""
    return tuple(_one(trend, snapshots, start, end) for trend in TRENDS)


def _one(trend: Trend, snapshots: SnapshotStore, start: datetime, end: datetime) -> TrendSeries:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        try:
            snapshots.series_relation(con, trend.source.value, start, end).create_view("rows")
        except SnapshotError:
            return TrendSeries(trend, (), f"no collected snapshot of {trend.source.value} in the period")
        rows = con.execute(trend.sql).fetchall()
        return TrendSeries(trend, tuple(Point(at, float(value or 0)) for at, value in rows))
    finally:
        con.close()
