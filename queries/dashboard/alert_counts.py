"""Alerts counted by the state database for the overview: by severity over time, the open ones by
severity, the rules and the users and addresses with most open alerts.

Alerts live in the state database beside either event store, so one SQLite ``GROUP BY`` each
answers for both stores; 10,000 alerts are a few milliseconds, and nothing here holds an alert.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.state.alert_record import SEVERITIES, iso

#: The chart's buckets: one hour each, a day of them.
BUCKET = timedelta(hours=1)
BUCKETS = 24
#: Entity fields are grouped by what they name: a user or an address (ECS names end so).
USER_SUFFIXES = ("user.name", "user.id", "user.email", "user.domain")
ADDRESS_SUFFIXES = (".ip", ".address", ".domain", "host.name", "device.name")


@dataclass(frozen=True)
class SeverityTrend:
    """Alerts per hour (by first event) for one severity, oldest bucket first."""

    severity: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Ranked:
    """A value and how many open alerts carry it."""

    name: str
    alerts: int
    detail: str = ""  # the rule's severity, or the entity's field


@dataclass(frozen=True)
class AlertCounts:
    trend_end: datetime | None  # the end of the chart's last bucket (None: no alert at all)
    trends: tuple[SeverityTrend, ...]  # most severe first, every level
    open_by_severity: tuple[tuple[str, int], ...]  # most severe first, every level
    open_total: int
    all_total: int
    top_rules: tuple[Ranked, ...]
    rules_total: int  # rules with an open alert, shown or not
    top_users: tuple[Ranked, ...]
    top_addresses: tuple[Ranked, ...]
    version: tuple[int, int] = (0, 0)  # ``alerts_version`` when counted


def alerts_version(con: sqlite3.Connection) -> tuple[int, int]:
    """The alerts table's state in two indexed look-ups: every save, status change and
    assignment gives the alert the next ``sequence`` and no alert is deleted on its own, so
    while both numbers stay the same every count here stays the same (the count guards a table
    rebuilt from nothing)."""
    newest = con.execute("SELECT coalesce(max(sequence), 0) FROM alerts").fetchone()[0]
    total = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
    return int(newest), int(total)


def alert_counts(con: sqlite3.Connection, top: int = 5, previous: AlertCounts | None = None) -> AlertCounts:
    """Every count the overview shows about alerts, read in one connection (one snapshot).

    ``previous`` (the last counts read) is given back when no alert changed since: a screen
    that reads every few seconds then pays two look-ups, not a pass over every alert's
    entities (tens of milliseconds at 10,000 alerts). The version is read first, so counts
    are never older than the version they carry."""
    version = alerts_version(con)
    if previous is not None and previous.version == version:
        return previous
    open_rows = dict(con.execute("SELECT severity, count(*) FROM alerts WHERE status != 'closed' GROUP BY severity"))
    all_total = int(con.execute("SELECT count(*) FROM alerts").fetchone()[0])
    end, trends = _trends(con)
    rules = con.execute(
        "SELECT rule_title, severity, count(*) AS n FROM alerts WHERE status != 'closed'"
        " GROUP BY rule_title, severity ORDER BY n DESC, rule_title"
    ).fetchall()
    users, addresses = _entities(con, top)
    return AlertCounts(
        trend_end=end,
        trends=trends,
        open_by_severity=tuple((level, int(open_rows.get(level, 0))) for level in reversed(SEVERITIES)),
        open_total=sum(open_rows.values()),
        all_total=all_total,
        top_rules=tuple(Ranked(row[0], row[2], row[1]) for row in rules[:top]),
        rules_total=len(rules),
        top_users=users,
        top_addresses=addresses,
        version=version,
    )


def _trends(con: sqlite3.Connection) -> tuple[datetime | None, tuple[SeverityTrend, ...]]:
    """The 24 hours up to the newest alert's first event: a quiet week still shows its last day
    of alerts, and a live home shows the day up to now."""
    newest = con.execute("SELECT max(first_seen) FROM alerts").fetchone()[0]
    if newest is None:
        return None, tuple(SeverityTrend(level, (0,) * BUCKETS) for level in reversed(SEVERITIES))
    last = datetime.fromisoformat(newest).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = last + BUCKET
    start = end - BUCKET * BUCKETS
    counts = {level: [0] * BUCKETS for level in SEVERITIES}
    # The hour is the first 13 characters of the stored ISO text (2026-11-20T09): no parsing.
    for level, hour, n in con.execute(
        "SELECT severity, substr(first_seen, 1, 13), count(*) FROM alerts WHERE first_seen >= ? GROUP BY 1, 2",
        (iso(start),),
    ):
        slot = int((datetime.fromisoformat(hour + ":00+00:00") - start) / BUCKET)
        if level in counts and 0 <= slot < BUCKETS:
            counts[level][slot] += n
    return end, tuple(SeverityTrend(level, tuple(counts[level])) for level in reversed(SEVERITIES))


def _entities(con: sqlite3.Connection, top: int) -> tuple[tuple[Ranked, ...], tuple[Ranked, ...]]:
    """The users and the addresses with most open alerts: one pass over the alerts' entities,
    ranked per kind by SQLite (no row per entity value reaches Python)."""
    is_user = " OR ".join("j.key LIKE ?" for _ in USER_SUFFIXES)
    is_address = " OR ".join("j.key LIKE ?" for _ in ADDRESS_SUFFIXES)
    rows = con.execute(
        "SELECT kind, key, value, n FROM ("
        " SELECT kind, key, value, n, row_number() OVER (PARTITION BY kind ORDER BY n DESC, value) AS place FROM ("
        f"  SELECT CASE WHEN {is_user} THEN 'user' WHEN {is_address} THEN 'address' END AS kind,"
        "   j.key AS key, j.value AS value, count(*) AS n"
        "   FROM alerts, json_each(alerts.group_keys) AS j"
        "   WHERE alerts.status != 'closed' AND j.type = 'text' GROUP BY j.key, j.value))"
        " WHERE kind IS NOT NULL AND place <= ? ORDER BY kind, place",
        [*(f"%{suffix}" for suffix in USER_SUFFIXES), *(f"%{suffix}" for suffix in ADDRESS_SUFFIXES), top],
    ).fetchall()
    users = tuple(Ranked(str(value), n, key) for kind, key, value, n in rows if kind == "user")
    addresses = tuple(Ranked(str(value), n, key) for kind, key, value, n in rows if kind == "address")
    return users, addresses
