"""Collector health for screens that refresh every few seconds: the same ``SourceStatus`` records
as ``queries.collector_status``, with the counting done by SQLite.

``collector_status`` reads every run a source ever had into Python (a week of one-a-minute runs
is 10,000 objects per source, a third of a second per refresh); here each figure is one indexed
statement and only the last day's runs are read, to count the last hour exactly whatever the
offset a time was written with. tests/dashboard/test_dashboard_home.py holds the two to the same answers.
Times are compared as the text ``CollectorRun`` writes (ISO, UTC), as the index orders them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from queries.collector_status import SourceStatus
from queries.receiver_status import receiver_status
from queries.timestamps import parse_iso
from store.protocol import Store
from store.state.checkpoints import Checkpoints

#: Runs read back into Python to count the last hour: a day's margin covers any zone offset.
_MARGIN = timedelta(days=1)


def collector_health(
    store: Store, syslog_spools: Mapping[str, Path] | None = None, now: datetime | None = None
) -> tuple[SourceStatus, ...]:
    """Every source with a checkpoint or a run record, and every syslog source given, by name."""
    now = now or datetime.now(UTC)
    spools = dict(syslog_spools or {})
    checkpoints = Checkpoints(store.state)
    with store.state.connect() as con:
        sources = sorted(set(checkpoints.sources()) | set(spools))
        return tuple(_status(con, checkpoints, source, now, spools.get(source)) for source in sources)


def _status(
    con: sqlite3.Connection, checkpoints: Checkpoints, source: str, now: datetime, spool: Path | None
) -> SourceStatus:
    def one(sql: str, *params: object) -> sqlite3.Row | None:
        return con.execute(sql, (source, *params)).fetchone()

    # The newest run by its id, found as max(id) over an index on source (every index holds the
    # id): ``ORDER BY id DESC LIMIT 1`` made SQLite sort all of a source's runs, a week of
    # one-a-minute runs ten milliseconds per source and refresh.
    latest = one(
        "SELECT error, finished_at FROM collector_runs WHERE id = (SELECT max(id) FROM collector_runs WHERE source = ?)"
    )
    success = (
        (latest[1],)
        if latest is not None and latest[0] is None
        else one("SELECT finished_at FROM collector_runs WHERE id ="
                 " (SELECT max(id) FROM collector_runs WHERE source = ? AND error IS NULL)")
    )  # fmt: skip
    failure = one(
        "SELECT error, finished_at FROM collector_runs WHERE source = ? AND error IS NOT NULL ORDER BY id DESC LIMIT 1"
    )
    newest_row = one("SELECT max(newest_event) FROM collector_runs WHERE source = ? AND newest_event != ''")
    recent = con.execute(
        "SELECT finished_at, stored FROM collector_runs WHERE source = ? AND finished_at >= ?",
        (source, (now - timedelta(hours=1) - _MARGIN).isoformat(timespec="microseconds")),
    ).fetchall()
    hour = [stored for finished, stored in recent if parse_iso(finished) >= now - timedelta(hours=1)]
    newest = parse_iso(newest_row[0]) if newest_row and newest_row[0] else None
    return SourceStatus(
        source=source,
        last_success=success[0] if success else None,
        newest_event=newest.isoformat() if newest else None,
        lag_seconds=round((now - newest).total_seconds(), 1) if newest else None,
        events_per_minute=round(sum(hour) / 60, 2),
        runs_last_hour=len(hour),
        failing=latest is not None and latest[0] is not None,
        last_error=failure[0] if failure else None,
        last_error_at=failure[1] if failure else None,
        checkpoint=checkpoints.get(source),
        receiver=receiver_status(spool, now) if spool is not None else None,
    )
