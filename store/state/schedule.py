"""Scheduled detection in the state database: watermarks, gaps and the history of detection runs.

A schedule group (detections/scheduling/schedule.py) has run up to its **watermark**: every event time
before it has been searched by a run that succeeded. The watermark moves only forward and only
in the transaction that finishes a successful run, so a run killed half-way is run again whole
(alert ids are deterministic: running a window twice updates, never duplicates).

A **gap** is a window a group skipped on purpose — the daemon was down longer than the catch-up
allowed — kept until a backfill covers it. Recording a gap and moving the watermark past it are
one transaction: a window is always either run, or a gap, never neither.

Each detection run (scheduled, backfill or a manual ``detect``) is a row: its window, how long it
took, the events it scanned, its alerts (new, updated, held back) and its errors. A run a crash
cut short stays ``running`` until the next ``serve`` marks it ``abandoned``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from store.state.alert_record import iso
from store.state.database import StateDB, utc_now_iso

#: How a detection run may end (``running`` until then, ``abandoned`` if its process died).
RUN_ENDINGS = ("succeeded", "partly failed", "failed")


@dataclass(frozen=True)
class Gap:
    """Event times ``[start, end)`` a schedule group has not run over, and why."""

    group_key: str
    start: datetime
    end: datetime
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"group": self.group_key, "start": iso(self.start), "end": iso(self.end), "reason": self.reason}


@dataclass(frozen=True)
class RunTotals:
    """What a finished detection run did, as its history row keeps it."""

    seconds: float
    events_scanned: int | None  # None when the store could not count them
    rules: int
    alerts_new: int
    alerts_updated: int
    alerts_held_back: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class DetectionRun:
    """One row of the run history."""

    id: int
    kind: str  # scheduled, backfill or manual
    groups: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    seconds: float | None
    events_scanned: int | None
    rules: int
    alerts_new: int
    alerts_updated: int
    alerts_held_back: int
    errors: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "groups": list(self.groups),
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at) if self.finished_at else None,
            "status": self.status,
            "seconds": self.seconds,
            "events_scanned": self.events_scanned,
            "rules": self.rules,
            "alerts_new": self.alerts_new,
            "alerts_updated": self.alerts_updated,
            "alerts_held_back": self.alerts_held_back,
            "errors": list(self.errors),
        }


class ScheduleBook:
    """Watermarks, gaps and detection runs of one home."""

    def __init__(self, state: StateDB):
        self.state = state

    # -- watermarks and gaps --------------------------------------------------------------------

    def watermarks(self) -> dict[str, datetime]:
        with self.state.connect() as con:
            rows = con.execute("SELECT group_key, watermark FROM detection_watermarks").fetchall()
        return {row[0]: datetime.fromisoformat(row[1]) for row in rows}

    def skip(self, gaps: Sequence[Gap]) -> None:
        """Record the gaps and move each group's watermark to its gap's end, in one transaction."""
        with self.state.transaction() as con:
            _add_gaps(con, gaps)
            _advance(con, {gap.group_key: gap.end for gap in gaps})

    def gaps(self, limit: int | None = None) -> tuple[list[Gap], int]:
        """Open gaps, oldest first (at most ``limit``), and how many there are in all."""
        with self.state.connect() as con:
            total = con.execute("SELECT count(*) FROM detection_gaps").fetchone()[0]
            rows = con.execute(
                "SELECT * FROM detection_gaps ORDER BY gap_start, group_key LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [_gap_of(row) for row in rows], total

    # -- runs -----------------------------------------------------------------------------------

    def begin(self, kind: str, groups: Sequence[str], start: datetime, end: datetime) -> int:
        """A ``running`` row for a run about to start; committed at once, so a crash leaves it."""
        with self.state.transaction() as con:
            cursor = con.execute(
                "INSERT INTO detection_runs (kind, groups, window_start, window_end, started_at, status)"
                " VALUES (?, ?, ?, ?, ?, 'running')",
                (kind, json.dumps(list(groups)), iso(start), iso(end), utc_now_iso()),
            )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
        return cursor.lastrowid

    def finish(
        self,
        run_id: int,
        status: str,
        totals: RunTotals,
        advanced: Mapping[str, datetime] | None = None,
        filled: Iterable[Gap] = (),
    ) -> None:
        """End the run, move the watermarks of the groups it ran successfully (``advanced``) and
        take the windows it covered (``filled``) out of the open gaps — in one transaction."""
        if status not in RUN_ENDINGS:
            raise ValueError(f"a detection run ends as one of {', '.join(RUN_ENDINGS)}, not {status!r}")
        with self.state.transaction() as con:
            con.execute(
                "UPDATE detection_runs SET finished_at = ?, status = ?, seconds = ?, events_scanned = ?, rules = ?,"
                " alerts_new = ?, alerts_updated = ?, alerts_held_back = ?, errors = ? WHERE id = ?",
                (
                    utc_now_iso(),
                    status,
                    round(totals.seconds, 6),
                    totals.events_scanned,
                    totals.rules,
                    totals.alerts_new,
                    totals.alerts_updated,
                    totals.alerts_held_back,
                    json.dumps(list(totals.errors)),
                    run_id,
                ),
            )
            _advance(con, advanced or {})
            for covered in filled:
                _fill(con, covered)

    def abandon_unfinished(self, kind: str) -> int:
        """Mark ``running`` runs of this kind as ``abandoned`` (their process is gone); how many.

        Only ``serve`` calls it, for its own scheduled runs, when it starts: one daemon serves a
        home, so a scheduled run still ``running`` then is one a crash or a kill cut short.
        """
        with self.state.transaction() as con:
            cursor = con.execute(
                "UPDATE detection_runs SET status = 'abandoned', finished_at = ? WHERE status = 'running' AND kind = ?",
                (utc_now_iso(), kind),
            )
        return cursor.rowcount

    def runs(self, limit: int) -> tuple[list[DetectionRun], int]:
        """The newest ``limit`` runs, newest first, and how many there are in all."""
        with self.state.connect() as con:
            total = con.execute("SELECT count(*) FROM detection_runs").fetchone()[0]
            rows = con.execute("SELECT * FROM detection_runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_run_of(row) for row in rows], total


def _advance(con: sqlite3.Connection, watermarks: Mapping[str, datetime]) -> None:
    """Move watermarks forward only: a slow run finishing after a later one never moves one back."""
    now = utc_now_iso()
    con.executemany(
        "INSERT INTO detection_watermarks (group_key, watermark, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (group_key) DO UPDATE SET watermark = max(watermark, excluded.watermark),"
        " updated_at = excluded.updated_at",
        [(key, iso(moment), now) for key, moment in watermarks.items()],
    )


def _add_gaps(con: sqlite3.Connection, gaps: Iterable[Gap]) -> None:
    now = utc_now_iso()
    con.executemany(
        "INSERT INTO detection_gaps (group_key, gap_start, gap_end, reason, recorded_at) VALUES (?, ?, ?, ?, ?)",
        [(g.group_key, iso(g.start), iso(g.end), g.reason, now) for g in gaps if g.start < g.end],
    )


def _fill(con: sqlite3.Connection, covered: Gap) -> None:
    """Take ``[covered.start, covered.end)`` out of the group's open gaps, keeping what sticks
    out on either side as a gap of its own (with the reason it had)."""
    rows = con.execute(
        "SELECT * FROM detection_gaps WHERE group_key = ? AND gap_start < ? AND gap_end > ?",
        (covered.group_key, iso(covered.end), iso(covered.start)),
    ).fetchall()
    con.executemany("DELETE FROM detection_gaps WHERE id = ?", [(row["id"],) for row in rows])
    left: list[Gap] = []
    for gap in map(_gap_of, rows):
        left.append(Gap(gap.group_key, gap.start, min(gap.end, covered.start), gap.reason))
        left.append(Gap(gap.group_key, max(gap.start, covered.end), gap.end, gap.reason))
    _add_gaps(con, left)


def _gap_of(row: sqlite3.Row) -> Gap:
    return Gap(
        row["group_key"],
        datetime.fromisoformat(row["gap_start"]),
        datetime.fromisoformat(row["gap_end"]),
        row["reason"],
    )


def _run_of(row: sqlite3.Row) -> DetectionRun:
    return DetectionRun(
        id=row["id"],
        kind=row["kind"],
        groups=tuple(json.loads(row["groups"])),
        window_start=datetime.fromisoformat(row["window_start"]),
        window_end=datetime.fromisoformat(row["window_end"]),
        started_at=datetime.fromisoformat(row["started_at"]),
        finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
        status=row["status"],
        seconds=row["seconds"],
        events_scanned=row["events_scanned"],
        rules=row["rules"],
        alerts_new=row["alerts_new"],
        alerts_updated=row["alerts_updated"],
        alerts_held_back=row["alerts_held_back"],
        errors=tuple(json.loads(row["errors"])),
    )
