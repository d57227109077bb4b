"""Evidence snapshots: what a Microsoft API said about the estate at one moment, kept with that moment.

Compliance evidence is a state, not an event stream: the users, their MFA registration, the
devices and their missing fixes, as they stood when they were read. Keeping each reading as its
own immutable Parquet file, named by the time it was taken, lets a report ask for "the latest
snapshot of X at or before T" (what was true on the audit date) and for the series over time
(trends, time to remediate), with DuckDB SQL over the files and never the rows in Python.

Layout under the Cyberwell home::

    evidence/
      index.jsonl                 the manifest: one line per attempt, collected or not
      graph.users/20261205T134500123456Z-1a2b3c4d.parquet

A source that could not be read (a permission missing, a throttling storm) is still recorded,
as ``not_evidenced`` with the reason: a report must show "not evidenced, because ..." rather
than quietly fall back on an older reading. Files are written to a temporary name, fsynced and
renamed (0600, in 0700 directories); the manifest is rewritten the same way under a lock, so a
reader never sees a half-written snapshot or a snapshot the manifest does not list.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from store.durable import fsync_path, private_dir, private_file

COLLECTED = "collected"
NOT_EVIDENCED = "not_evidenced"
#: A source name is also a directory name: nothing that could climb out of ``evidence/``.
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class SnapshotError(ValueError):
    """A snapshot that cannot be written or read as asked; the message says which and why."""


@dataclass(frozen=True)
class SnapshotEntry:
    """One attempt to read a source: its time, whether it was collected, and where its rows are."""

    source: str
    taken_at: datetime  # UTC, when the reading started
    status: str  # COLLECTED or NOT_EVIDENCED
    run_id: str
    rows: int = 0
    file: str | None = None  # relative to the evidence directory; None when not evidenced
    reason: str | None = None  # why not evidenced, for a person (names the missing permission)
    http_status: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. values that could not be read

    @property
    def collected(self) -> bool:
        return self.status == COLLECTED

    def to_json(self) -> str:
        values = asdict(self)
        values["taken_at"] = _iso(self.taken_at)
        values["notes"] = list(self.notes)
        return json.dumps(values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> SnapshotEntry:
        values = json.loads(line)
        values["taken_at"] = datetime.fromisoformat(values["taken_at"])
        values["notes"] = tuple(values.get("notes") or ())
        return cls(**values)


class SnapshotStore:
    """The evidence snapshots under ``home``: write one, find the one in force at a time, read a series."""

    def __init__(self, home: Path):
        self.root = Path(home) / "evidence"
        self.index = self.root / "index.jsonl"

    # -- writing ---------------------------------------------------------------------------------

    def writer(self, source: str, taken_at: datetime, schema: pa.Schema, run_id: str) -> SnapshotWriter:
        """A writer for one snapshot of ``source``: feed it tables page by page, then commit."""
        folder = private_dir(self.root / _checked(source))
        name = f"{taken_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{run_id[:8]}.parquet"
        return SnapshotWriter(self, source, _utc(taken_at), schema, run_id, folder / name)

    def record_failure(
        self, source: str, taken_at: datetime, run_id: str, reason: str, http_status: int | None = None
    ) -> SnapshotEntry:
        """Record that ``source`` could not be read at ``taken_at``, and why."""
        entry = SnapshotEntry(
            _checked(source), _utc(taken_at), NOT_EVIDENCED, run_id, reason=reason, http_status=http_status
        )
        self._append(entry)
        return entry

    def _append(self, entry: SnapshotEntry) -> None:
        """Rewrite the manifest with ``entry`` added: tmp + fsync + rename, under a lock, so two
        runs at once lose neither line and a reader sees the old manifest or the new one."""
        private_dir(self.root)
        with self._locked():
            lines = self.index.read_text(encoding="utf-8").splitlines() if self.index.exists() else []
            lines.append(entry.to_json())
            tmp = self.index.with_suffix(".jsonl.tmp")
            tmp.unlink(missing_ok=True)
            private_file(tmp)
            with tmp.open("w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.index)
            fsync_path(self.root)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = private_file(self.root / ".index.lock")
        with lock.open("r") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- finding ---------------------------------------------------------------------------------

    def entries(self, source: str | None = None) -> list[SnapshotEntry]:
        """Every attempt recorded (for ``source`` when given), oldest first. The manifest is one
        short line per attempt, so reading it whole is cheap; the rows stay in Parquet."""
        if not self.index.exists():
            return []
        found = [SnapshotEntry.from_json(line) for line in self.index.read_text(encoding="utf-8").splitlines() if line]
        found = [e for e in found if source is None or e.source == source]
        return sorted(found, key=lambda e: (e.taken_at, e.run_id))

    def latest(self, source: str, at: datetime | None = None, collected_only: bool = False) -> SnapshotEntry | None:
        """The last attempt at ``source`` taken at or before ``at`` (now when None). With
        ``collected_only`` the last one that was collected; otherwise a failed latest attempt is
        returned as such, so a report can say the source is not evidenced now."""
        bound = _utc(at) if at is not None else None
        candidates = [
            e
            for e in self.entries(source)
            if (bound is None or e.taken_at <= bound) and (e.collected or not collected_only)
        ]
        return candidates[-1] if candidates else None

    def series(self, source: str, start: datetime | None = None, end: datetime | None = None) -> list[SnapshotEntry]:
        """The collected snapshots of ``source`` taken in [start, end], oldest first."""
        return [
            e
            for e in self.entries(source)
            if e.collected and (start is None or e.taken_at >= _utc(start)) and (end is None or e.taken_at <= _utc(end))
        ]

    # -- reading ---------------------------------------------------------------------------------

    def relation(self, con: duckdb.DuckDBPyConnection, entry: SnapshotEntry) -> duckdb.DuckDBPyRelation:
        """The rows of one collected snapshot, as a DuckDB relation to query with SQL."""
        if entry.file is None:
            raise SnapshotError(f"{entry.source} was not evidenced at {_iso(entry.taken_at)}: {entry.reason}")
        return con.read_parquet(str(self.root / entry.file))

    def series_relation(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """Every row of every collected snapshot of ``source`` in [start, end], with the
        snapshot's time as ``snapshot_taken_at``: one relation for trends and time to remediate."""
        snapshots = self.series(source, start, end)
        if not snapshots:
            raise SnapshotError(f"no collected snapshot of {source} in the period asked")
        files = [str(self.root / e.file) for e in snapshots if e.file]
        times = pa.table(
            {
                "file": files,
                "snapshot_taken_at": pa.array([e.taken_at for e in snapshots], pa.timestamp("us", tz="UTC")),
            }
        )
        # A name of its own per call: two series on one connection must not share their times.
        name = f"_snapshot_times_{uuid.uuid4().hex}"
        con.register(name, times)
        return con.sql(
            "SELECT t.snapshot_taken_at, d.* EXCLUDE (filename) "
            "FROM read_parquet($files, filename = true, union_by_name = true) AS d "
            f"JOIN {name} AS t ON d.filename = t.file",
            params={"files": files},
        )


class SnapshotWriter:
    """One snapshot being written: ``write`` each page's table, ``commit`` when the source is done.

    Rows go straight to the Parquet file page by page, so a snapshot of any size takes the memory
    of one page. Leaving the ``with`` block by an exception removes the temporary file and
    records nothing: the caller records the failure with the reason.
    """

    def __init__(
        self, snapshots: SnapshotStore, source: str, taken_at: datetime, schema: pa.Schema, run_id: str, path: Path
    ):
        self.snapshots = snapshots
        self.source = source
        self.taken_at = taken_at
        self.schema = schema
        self.run_id = run_id
        self.path = path
        self.rows = 0
        self.notes: list[str] = []
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._tmp.unlink(missing_ok=True)
        private_file(self._tmp)
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._tmp, schema, compression="zstd")

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self.abort()

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            raise SnapshotError(f"the snapshot of {self.source} is already closed")
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def note(self, text: str) -> None:
        """Something a reader of this snapshot should know (a value that could not be read)."""
        self.notes.append(text)

    def commit(self) -> SnapshotEntry:
        """Make the snapshot visible: close, fsync, rename, then list it in the manifest."""
        if self._writer is None:
            raise SnapshotError(f"the snapshot of {self.source} is already closed")
        self._writer.close()
        self._writer = None
        fsync_path(self._tmp)
        self._tmp.replace(self.path)
        fsync_path(self.path.parent)
        entry = SnapshotEntry(
            self.source,
            self.taken_at,
            COLLECTED,
            self.run_id,
            rows=self.rows,
            file=str(self.path.relative_to(self.snapshots.root)),
            notes=tuple(self.notes),
        )
        self.snapshots._append(entry)
        return entry

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


def _checked(source: str) -> str:
    if not _SOURCE_NAME.match(source):
        raise SnapshotError(f"evidence source name {source!r}: expected lower-case letters, digits, '.', '_' or '-'")
    return source


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise SnapshotError(f"snapshot time {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
