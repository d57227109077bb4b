"""What every check is given: the snapshots, the moment judged, the thresholds; and the one way a
check reads its evidence, as DuckDB views over the snapshots' Parquet files.

A check names the sources it needs; each becomes a view (``users``, ``registration``...) of the
latest snapshot taken at or before the moment judged. A source never collected, or whose latest
attempt failed, stops the check with :class:`NotEvidenced` carrying the manifest's reason: a
report must say "not evidenced, because ..." and never fall back on an older reading or on an
empty table that would read as "nothing wrong". Rows stay in DuckDB; Python sees counts and the
first few items only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import duckdb

from reports.checks.result import Items
from reports.registry import EvidenceSource
from store.snapshots import SnapshotEntry, SnapshotStore


class NotEvidenced(Exception):
    """A source a check needs has no usable snapshot at the moment judged; the text says why."""

    def __init__(self, reason: str, evidence: tuple[SnapshotEntry, ...] = ()):
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence


@dataclass(frozen=True)
class Thresholds:
    """The numbers a check measures against; the defaults are Cyber Essentials' or common policy."""

    #: An enabled account with no successful sign-in for this long is stale (a policy choice).
    stale_after_days: int = 90
    #: v3.3: high-risk and critical fixes installed within 14 days of release.
    fix_within_days: int = 14
    #: End of support this close is flagged before it becomes a failure.
    support_ending_days: int = 90
    #: How many items a result lists; the total is always stated.
    listed: int = 20


@dataclass(frozen=True)
class CheckContext:
    snapshots: SnapshotStore
    at: datetime
    thresholds: Thresholds = Thresholds()
    #: The start of the period the report covers, for checks that list what happened in it
    #: (accounts created); None when a caller judges a moment, not a period.
    since: datetime | None = None

    def views(self, **sources: EvidenceSource) -> Views:
        """A connection with one view per ``alias=source``; raises :class:`NotEvidenced` naming
        the first source that has no collected snapshot in force at ``at``."""
        entries = tuple(self._entry(source) for source in sources.values())
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for alias, entry in zip(sources, entries, strict=True):
            self.snapshots.relation(con, entry).create_view(alias)
        return Views(con, entries, self.at.astimezone(UTC), self.thresholds.listed)

    def optional(self, views: Views, alias: str, source: EvidenceSource) -> bool:
        """Add ``source`` to ``views`` when it is evidenced; whether it was. For numbers that
        enrich a result (the whole a count is part of) but are not what it is judged by."""
        try:
            entry = self._entry(source)
        except NotEvidenced:
            return False
        self.snapshots.relation(views.con, entry).create_view(alias)
        views.entries = (*views.entries, entry)
        return True

    def _entry(self, source: EvidenceSource) -> SnapshotEntry:
        entry = self.snapshots.latest(source.value, self.at)
        if entry is None:
            raise NotEvidenced(f"no snapshot of {source.value} was taken at or before {_iso(self.at)}")
        if not entry.collected:
            why = entry.reason or "no reason recorded"
            raise NotEvidenced(f"{source.value} could not be read at {_iso(entry.taken_at)}: {why}", (entry,))
        return entry


class Views:
    """An open connection over a check's snapshots; closed when the check is done."""

    def __init__(self, con: duckdb.DuckDBPyConnection, entries: tuple[SnapshotEntry, ...], at: datetime, limit: int):
        self.con = con
        self.entries = entries
        self.at = at
        self.limit = limit

    def __enter__(self) -> Views:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.con.close()

    def one(self, sql: str, params: Mapping[str, object] | None = None) -> tuple[int, ...]:
        """A single row of counts (``count(*) FILTER (...)``, never null)."""
        # fetchall, not fetchone: an unfinished result would block the next view on the connection.
        rows = self.con.execute(sql, self._params(sql, params)).fetchall()
        if not rows:
            raise ValueError(f"the query returned no row: {sql}")
        return tuple(int(value or 0) for value in rows[0])

    def items(self, noun: str, sql: str, order: str, params: Mapping[str, object] | None = None) -> Items:
        """The rows of ``sql``: their count, and the first few in ``order``."""
        values = self._params(sql, params)
        total = self.one(f"SELECT count(*) FROM ({sql})", values)[0]
        cursor = self.con.execute(f"SELECT * FROM ({sql}) ORDER BY {order} LIMIT {int(self.limit)}", values)
        columns = tuple(d[0] for d in cursor.description)
        return Items(noun, total, columns, tuple(tuple(row) for row in cursor.fetchall()))

    def _params(self, sql: str, params: Mapping[str, object] | None) -> dict[str, object]:
        # DuckDB refuses a named parameter the query does not use, so ``at`` only when it does.
        values = dict(params or {})
        if "$at" in sql:
            values.setdefault("at", self.at)
        return values


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
