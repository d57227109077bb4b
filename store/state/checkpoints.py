"""Collector checkpoints and run records, in the state database.

A checkpoint says where a source's next collection starts (a time, a page link, a spool offset:
the collector decides its shape). It is committed in the same breath as nothing else: only after
the events it covers are durably stored, so a crash between the two re-reads a little and the
store's ``event.id`` dedupe absorbs it. Nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from store.protocol import AppendResult
from store.state.database import StateDB, utc_now_iso


@dataclass(frozen=True)
class CollectorRun:
    """One collection pass of one source, as `cyberwell status` reports it."""

    source: str
    started_at: str  # ISO, UTC
    finished_at: str
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    newest_event: str | None = None  # event time of the newest event seen (ISO, UTC)
    error: str | None = None  # what went wrong, for a person; never a secret

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunTally:
    """What a collection pass has done so far, counted as it goes, so that every collector ends
    its run the same way: a :class:`CollectorRun` with the same counts and time formats."""

    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    newest: datetime | None = None  # the newest event time seen

    def count(self, appended: AppendResult) -> None:
        """Add what one ``store.append`` did, the events the store refused (and quarantined) too."""
        self.stored += appended.stored
        self.duplicates += appended.duplicates
        self.quarantined += appended.rejected

    def saw(self, moment: datetime | None) -> None:
        """Note an event time; the run reports the newest."""
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment

    def finish(
        self, source: str, started: datetime, error: str | None = None, finished: datetime | None = None
    ) -> CollectorRun:
        """The run, ending now (or at ``finished``, for a collector with its own clock)."""
        finished = finished or datetime.now(UTC)
        return CollectorRun(
            source=source,
            started_at=_iso(started),
            finished_at=_iso(finished),
            stored=self.stored,
            duplicates=self.duplicates,
            quarantined=self.quarantined,
            newest_event=_iso(self.newest) if self.newest else None,
            error=error,
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


class Checkpoints:
    """Per-source positions and run history over a :class:`StateDB`."""

    def __init__(self, state: StateDB):
        self.state = state

    def get(self, source: str) -> dict | None:
        with self.state.connect() as con:
            row = con.execute("SELECT value FROM checkpoints WHERE source = ?", (source,)).fetchone()
        return json.loads(row[0]) if row else None

    def commit(self, source: str, value: dict) -> None:
        """Record the new position; call only once the events before it are stored."""
        with self.state.transaction() as con:
            con.execute(
                "INSERT INTO checkpoints (source, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (source, json.dumps(value, sort_keys=True), utc_now_iso()),
            )

    def record_run(self, run: CollectorRun) -> None:
        with self.state.transaction() as con:
            con.execute(
                "INSERT INTO collector_runs (source, started_at, finished_at, stored, duplicates,"
                " quarantined, newest_event, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.source,
                    run.started_at,
                    run.finished_at,
                    run.stored,
                    run.duplicates,
                    run.quarantined,
                    run.newest_event,
                    run.error,
                ),
            )

    def runs(self, source: str, since: datetime | None = None) -> list[CollectorRun]:
        """The source's runs, oldest first (since a moment, when given)."""
        query = "SELECT * FROM collector_runs WHERE source = ?"
        params: list = [source]
        if since is not None:
            query += " AND finished_at >= ?"
            params.append(since.isoformat(timespec="microseconds"))
        with self.state.connect() as con:
            rows = con.execute(query + " ORDER BY id", params).fetchall()
        return [CollectorRun(**{k: row[k] for k in row.keys() if k != "id"}) for row in rows]

    def sources(self) -> list[str]:
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT source FROM checkpoints UNION SELECT source FROM collector_runs ORDER BY 1"
            ).fetchall()
        return [row[0] for row in rows]
