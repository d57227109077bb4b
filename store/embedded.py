"""The embedded event store: immutable Parquet segments, queried with DuckDB.

Layout under the home: ``events/<dataset>/<day>/<uuid>.parquet``. A segment becomes visible only
when the catalogue in the state database lists it, and the catalogue row is written after the file
is complete, fsynced and renamed into place. So a reader — another process, at any moment — sees a
batch entirely or not at all, and a crash leaves at worst an unlisted file that nobody reads.
Writers take a file lock so two appends cannot both decide that the same event is new.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from collectors.batch import check_required
from store import sql_functions
from store.state import StateDB, utc_now_iso


@dataclass(frozen=True)
class AppendResult:
    stored: int
    duplicates: int


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware (UTC)")
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class EmbeddedStore:
    """Events in Parquet under ``home/events``, catalogue and state in ``home/state.sqlite``."""

    query_language = "duckdb-sql"

    def __init__(self, home: Path):
        self.home = Path(home)
        self.events_dir = self.home / "events"
        self.events_dir.mkdir(parents=True, exist_ok=True)
        self.state = StateDB(self.home / "state.sqlite")
        self._lock_path = self.home / "events.lock"

    # -- connections ------------------------------------------------------------------------

    @staticmethod
    def _duckdb() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        sql_functions.install(con)
        return con

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- writing ----------------------------------------------------------------------------

    def append(self, events: pa.Table) -> AppendResult:
        """Store the events not stored before (by ``event.id``); return how many were new."""
        check_required(events)
        if events.num_rows == 0:
            return AppendResult(0, 0)
        with self._writer_lock():
            con = self._duckdb()
            try:
                return self._append_locked(con, events)
            finally:
                con.close()

    def _append_locked(self, con: duckdb.DuckDBPyConnection, events: pa.Table) -> AppendResult:
        con.register("incoming", events)
        # Within a batch the first copy of an id wins; a later copy is a duplicate.
        con.execute(
            """CREATE TEMP TABLE batch AS
               SELECT *, strftime("@timestamp", '%Y-%m-%d') AS __day FROM incoming
               QUALIFY row_number() OVER (PARTITION BY "event.id" ORDER BY "@timestamp") = 1"""
        )
        partitions = con.execute(
            'SELECT DISTINCT "event.dataset", __day FROM batch ORDER BY 1, 2'
        ).fetchall()
        for dataset, day in partitions:
            existing = self._segment_paths(dataset=dataset, day=day)
            if existing:
                con.execute(
                    f"""DELETE FROM batch WHERE "event.dataset" = ? AND __day = ? AND "event.id" IN
                        (SELECT "event.id" FROM read_parquet({_path_list(existing)}))""",
                    [dataset, day],
                )
        new_rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
        written = [self._write_segment(con, dataset, day) for dataset, day in partitions]
        written = [segment for segment in written if segment is not None]
        with self.state.transaction() as state:
            state.executemany(
                "INSERT INTO segments (dataset, day, path, min_ts, max_ts, rows, columns, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                written,
            )
        return AppendResult(stored=new_rows, duplicates=events.num_rows - new_rows)

    def _write_segment(self, con: duckdb.DuckDBPyConnection, dataset: str, day: str):
        where = f'"event.dataset" = {quote_literal(dataset)} AND __day = {quote_literal(day)}'
        rows, min_ts, max_ts = con.execute(
            f'SELECT count(*), epoch_us(min("@timestamp")), epoch_us(max("@timestamp"))'
            f" FROM batch WHERE {where}"
        ).fetchone()
        if rows == 0:
            return None
        directory = self.events_dir / dataset / day
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{uuid.uuid4().hex}.parquet"
        temporary = directory / f".{final.name}.tmp"
        con.execute(
            f"COPY (SELECT * EXCLUDE (__day) FROM batch WHERE {where} ORDER BY \"@timestamp\")"
            f" TO {quote_literal(str(temporary))} (FORMAT parquet, COMPRESSION zstd)"
        )
        _fsync_file(temporary)
        os.replace(temporary, final)
        _fsync_file(directory)
        columns = dict(
            con.execute(
                f"SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (__day) FROM batch)"
            ).fetchall()
        )
        relative = str(final.relative_to(self.home))
        return (dataset, day, relative, min_ts, max_ts, rows, json.dumps(columns), utc_now_iso())

    # -- reading ----------------------------------------------------------------------------

    def _segment_paths(
        self,
        dataset: str | None = None,
        day: str | None = None,
        datasets: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[str]:
        return [str(self.home / row["path"]) for row in self._segments(dataset, day, datasets, start, end)]

    def _segments(self, dataset=None, day=None, datasets=None, start=None, end=None):
        clauses, params = [], []
        if dataset is not None:
            clauses.append("dataset = ?")
            params.append(dataset)
        if day is not None:
            clauses.append("day = ?")
            params.append(day)
        if datasets is not None:
            clauses.append(f"dataset IN ({','.join('?' * len(datasets))})")
            params.extend(datasets)
        if start is not None:
            clauses.append("max_ts >= ?")
            params.append(to_micros(start))
        if end is not None:
            clauses.append("min_ts < ?")
            params.append(to_micros(end))
        where = " AND ".join(clauses) or "1"
        with self.state.connect() as con:
            return con.execute(
                f"SELECT path, columns, rows FROM segments WHERE {where} ORDER BY id", params
            ).fetchall()

    def datasets(self) -> dict[str, int]:
        """Event count per dataset."""
        with self.state.connect() as con:
            return {
                row[0]: row[1]
                for row in con.execute("SELECT dataset, sum(rows) FROM segments GROUP BY dataset ORDER BY 1")
            }

    def columns(self, datasets: Sequence[str] | None = None) -> dict[str, str]:
        """The union of stored columns (name -> DuckDB type) over the datasets' segments."""
        union: dict[str, str] = {}
        for row in self._segments(datasets=datasets):
            union.update(json.loads(row["columns"]))
        return union

    def search(
        self,
        datasets: Sequence[str],
        start: datetime,
        end: datetime,
        where_sql: str = "true",
        columns: Sequence[str] = (),
        order: bool = True,
    ) -> pa.Table:
        """Events of the datasets with ``start <= @timestamp < end`` matching a SQL condition.

        The result always has ``@timestamp``, ``event.id`` and ``event.dataset``, plus the asked
        ``columns``. A column that no segment has (a rule naming a field this data never carries)
        reads as NULL rather than failing the query.
        """
        wanted = list(dict.fromkeys(["@timestamp", "event.id", "event.dataset", *columns]))
        segments = self._segments(datasets=list(datasets), start=start, end=end)
        if not segments:
            return pa.table({name: pa.array([], pa.string()) for name in wanted})
        present: set[str] = set()
        for row in segments:
            present.update(json.loads(row["columns"]))
        missing = [name for name in wanted if name not in present]
        source = f"read_parquet({_path_list([str(self.home / r['path']) for r in segments])}, union_by_name = true)"
        extra = "".join(f", NULL::VARCHAR AS {quote_ident(name)}" for name in missing)
        select = ", ".join(quote_ident(name) for name in wanted)
        sql = (
            f"SELECT {select} FROM (SELECT *{extra} FROM {source})"
            f' WHERE "@timestamp" >= ? AND "@timestamp" < ? AND ({where_sql})'
            + (' ORDER BY "@timestamp", "event.id"' if order else "")
        )
        con = self._duckdb()
        try:
            return con.sql(sql, params=[start, end]).to_arrow_table()
        finally:
            con.close()

    def count(self, datasets: Sequence[str] | None = None) -> int:
        with self.state.connect() as con:
            if datasets is None:
                return con.execute("SELECT coalesce(sum(rows), 0) FROM segments").fetchone()[0]
            marks = ",".join("?" * len(datasets))
            return con.execute(
                f"SELECT coalesce(sum(rows), 0) FROM segments WHERE dataset IN ({marks})", list(datasets)
            ).fetchone()[0]

    def time_range(self) -> tuple[datetime, datetime] | None:
        with self.state.connect() as con:
            low, high = con.execute("SELECT min(min_ts), max(max_ts) FROM segments").fetchone()
        if low is None:
            return None
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return epoch + timedelta(microseconds=low), epoch + timedelta(microseconds=high)


def _path_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(quote_literal(path) for path in paths) + "]"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
