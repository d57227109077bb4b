"""The embedded event store: immutable Parquet segments, queried with DuckDB.

Layout under the home: ``events/<dataset>/<day>/<uuid>.parquet``. A segment becomes visible only
when the catalogue in the state database lists it, and the catalogue row is written after the file
is complete, fsynced and renamed into place. So a reader — another process, at any moment — sees a
batch entirely or not at all, and a crash leaves at worst an unlisted file that nobody reads (the
next open of the store removes it). Writers take a file lock so two appends cannot both decide
that the same event is new. A record no store can keep (a time outside ``store.batch``'s
storable range) is quarantined before any of this, and the rest of its batch is stored.

Replaceable datasets (``store.batch.VERSION_COLUMNS``: a Defender alert whose status
changes) are stored the same way, every version a row, but a row is new when its (``event.id``,
version) pair is, and every read answers with the newest version of each ``event.id`` only. The
versions of one alert share its ``@timestamp`` (its creation time), hence its day: the dedupe and
the newest-version pick stay within a partition, as for any other event.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import store.alert_groups as alert_groups
import store.sql.functions as sql_functions
from store.aggregation import AggregationRequest
from store.batch import VERSION_COLUMNS, check_required, plain_text, storable
from store.durable import fsync_path, private_dir, private_file
from store.epoch import MICROS_PER_DAY, day_label, first_day_kept, from_micros, to_micros
from store.protocol import (
    Aggregation,
    AlertGroupQuery,
    AlertGroups,
    AlertStore,
    AppendResult,
    CountRow,
    Keep,
    QueryLanguage,
    ReachingQuery,
    Scalar,
)
from store.sql.groups import KNOWN_TABLE, groups_sql
from store.sql.literals import quote_ident, quote_literal
from store.sql.reaching import keep_sql, reaching_sql
from store.state.alerts import AlertBook
from store.state.database import StateDB, utc_now_iso

#: Rows per Parquet row group: small enough that a time-window read skips most of a segment.
ROW_GROUP_ROWS = 64_000
#: Columns whose values are nearly all distinct: dictionary encoding only costs time on them
#: (the raw record is most of a segment's bytes).
_NO_DICTIONARY = {"event.original", "event.id"}
#: How far apart two copies of one event may be stamped: sources write the same instant with
#: different precision (Graph's createdDateTime in 100 ns, a Log Analytics export in ms).
_SAME_INSTANT = timedelta(seconds=1)
#: Segments whose ids a store keeps in memory: a large replay appends to the same few days
#: batch after batch, and reading their ids back from Parquet each time would cost more than
#: writing them.
_IDS_KEPT = 64


class EmbeddedStore:
    """Events in Parquet under ``home/events``, catalogue and state in ``home/state.sqlite``."""

    query_language: QueryLanguage = "duckdb-sql"

    def __init__(self, home: Path):
        opened = time.time()
        self.home = Path(home)
        self.events_dir = private_dir(self.home / "events")
        self.state = StateDB(self.home / "state.sqlite")
        self.alerts: AlertStore = AlertBook(self.state)  # alerts are only in the state database
        self._lock_path = self.home / "events.lock"
        self._connections: dict[tuple[int, int], duckdb.DuckDBPyConnection] = {}
        self._segment_ids: dict[str, pa.Array] = {}  # segment path -> its ids (segments never change)
        #: Segment files an interrupted append or retention left behind, removed by this open.
        self.leftovers_removed = self._remove_leftovers(opened)

    # -- connections ------------------------------------------------------------------------

    def _duckdb(self) -> duckdb.DuckDBPyConnection:
        """This thread's DuckDB connection, opened once: opening one and installing the rule
        macros costs more than most rule queries. Events live in Parquet, so the
        in-memory database holds nothing but the macros; a forked child opens its own."""
        key = (os.getpid(), threading.get_ident())
        con = self._connections.get(key)
        if con is None:
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            sql_functions.install(con)
            self._connections[key] = con
        return con

    def close(self) -> None:
        """Drop the DuckDB connections (and the ids kept from segments); the store opens what it
        needs again if used after."""
        connections, self._connections = list(self._connections.values()), {}
        for con in connections:
            con.close()
        self._segment_ids.clear()

    @contextmanager
    def _writer_lock(self, wait: bool = True) -> Iterator[bool]:
        """Hold the writers' lock; without ``wait``, yield False at once if another holds it."""
        with open(private_file(self._lock_path), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_leftovers(self, opened: float) -> int:
        """Remove the segment files (and temporary files) the catalogue does not list, older than
        this open; return how many.

        A kill -9 mid-append can leave a ``.tmp`` or a renamed segment that never got its
        catalogue row: nobody reads them, but they take disk. Only under the writers' lock,
        when no append is between writing a file and listing it; if a writer holds the lock
        now, the next open cleans instead of this one waiting. A home this process cannot
        write is left as it is.
        """
        try:
            with self._writer_lock(wait=False) as locked:
                if not locked:
                    return 0
                with self.state.connect() as con:
                    listed = {row[0] for row in con.execute("SELECT path FROM segments")}
                removed = 0
                for directory in _day_directories(self.events_dir):
                    removed += _remove_unlisted(directory, self.home, listed, opened)
                    _remove_if_empty(directory)
                return removed
        except OSError:
            return 0

    # -- writing ----------------------------------------------------------------------------

    def append(self, events: pa.Table) -> AppendResult:
        """Store the events not stored before (by ``event.id``); return how many were new.

        The work is columnar: the day of each event and the duplicate checks are Arrow compute
        over narrow columns, and rows are only copied when a batch's days are interleaved. Parsers
        hand over bounded batches, so memory stays flat however large the file.
        """
        check_required(events)
        if events.num_rows == 0:
            return AppendResult(0, 0)
        split = storable(events)
        rejected = self.state.quarantine(split.refused)
        events = split.events
        if events.num_rows == 0:
            return AppendResult(0, 0, rejected)
        with self._writer_lock():
            written, stored = [], 0
            for (dataset, day), part in _partitions(events):
                part = self._only_new(_first_copies(part, dataset), dataset, day)
                if part.num_rows:
                    written.append(self._write_segment(part, dataset, day))
                    stored += part.num_rows
            with self.state.transaction() as state:
                state.executemany(
                    "INSERT INTO segments (dataset, day, path, min_ts, max_ts, rows, columns, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    written,
                )
        return AppendResult(stored=stored, duplicates=events.num_rows - stored, rejected=rejected)

    def flush(self) -> None:
        """Nothing to do: an append is visible to every reader once it returns."""

    def _only_new(self, part: pa.Table, dataset: str, day: str) -> pa.Table:
        """The rows whose keys (``dedupe_keys``) no listed segment of the same dataset and day holds.

        An event's id and time are fixed, so a stored copy can only be in its own day, in a
        segment whose time range covers it (give or take ``_SAME_INSTANT``): a replay in time
        order checks each batch against no earlier segment at all. The stored keys are looked
        up in the batch's (a hash table of the batch, not of the day: the day grows, the batch
        does not), and only when some match is the batch filtered.
        """
        low, high = pc.min_max(part.column("@timestamp")).values()
        existing = self._segment_paths(
            dataset=dataset, day=day, start=low.as_py() - _SAME_INSTANT, end=high.as_py() + _SAME_INSTANT
        )
        if not existing:
            return part
        stored = self._stored_ids(existing, dataset)
        ids = dedupe_keys(part, dataset)
        hits = pc.is_in(stored, value_set=ids)
        if not pc.any(hits).as_py():
            return part
        seen = pc.is_in(ids, value_set=stored.filter(hits).combine_chunks())
        return plain_text(part).filter(pc.invert(seen))

    def _stored_ids(self, paths: list[str], dataset: str) -> pa.ChunkedArray:
        """The keys in these segments of one dataset: kept from earlier appends, the rest read
        from disk."""
        # A replaceable dataset's key needs its version column, which an odd segment may lack.
        key_columns = '* EXCLUDE ("event.original")' if dataset in VERSION_COLUMNS else '"event.id"'
        found = []
        for path in paths:
            ids = self._segment_ids.get(path)
            if ids is None:
                ids = dedupe_keys(
                    self._duckdb()
                    .sql(f"SELECT {key_columns} FROM read_parquet({quote_literal(path)})")
                    .to_arrow_table(),
                    dataset,
                )
                self._keep_ids(path, ids)
            found.append(ids.cast(pa.string()))
        return pa.chunked_array(found, pa.string())

    def _keep_ids(self, path: str, ids: pa.Array) -> None:
        self._segment_ids[path] = ids.cast(pa.string())
        while len(self._segment_ids) > _IDS_KEPT:
            del self._segment_ids[next(iter(self._segment_ids))]

    def _write_segment(self, part: pa.Table, dataset: str, day: str) -> tuple:
        directory = private_dir(self.events_dir / dataset / day)
        final = directory / f"{uuid.uuid4().hex}.parquet"
        temporary = directory / f".{final.name}.tmp"
        names = part.column_names
        pq.write_table(
            part,
            private_file(temporary),  # created 0600 here; Arrow only truncates and writes it
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            use_dictionary=[name for name in names if name not in _NO_DICTIONARY],
            write_statistics=[field.name for field in part.schema if not _is_text(field.type)],
        )
        fsync_path(temporary)
        os.replace(temporary, final)
        fsync_path(directory)
        self._keep_ids(str(final), dedupe_keys(part, dataset))
        low, high = pc.min_max(part.column("@timestamp")).values()
        columns = {field.name: str(field.type) for field in part.schema}
        relative = str(final.relative_to(self.home))
        return (
            dataset,
            day,
            relative,
            to_micros(low.as_py()),
            to_micros(high.as_py()),
            part.num_rows,
            json.dumps(columns),
            utc_now_iso(),
        )

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
                f"SELECT dataset, path, columns, rows FROM segments WHERE {where} ORDER BY id", params
            ).fetchall()

    def datasets(self) -> dict[str, int]:
        """Event count per dataset (for a replaceable dataset: its events, not their versions)."""
        with self.state.connect() as con:
            counts = {
                row[0]: row[1]
                for row in con.execute("SELECT dataset, sum(rows) FROM segments GROUP BY dataset ORDER BY 1")
            }
        for dataset in VERSION_COLUMNS.keys() & counts.keys():
            counts[dataset] = self._distinct_ids(dataset)
        return counts

    def _distinct_ids(self, dataset: str) -> int:
        """How many events a replaceable dataset holds: its distinct ids, whatever their versions."""
        paths = self._segment_paths(dataset=dataset)
        if not paths:
            return 0
        return (
            self._duckdb()
            .execute(f'SELECT count(DISTINCT "event.id") FROM read_parquet({_path_list(paths)})')
            .fetchall()[0][0]
        )

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
        query: str | None = None,
        columns: Sequence[str] = (),
        order: bool = True,
        keep: Keep | None = None,
    ) -> pa.Table:
        """Events of the datasets with ``start <= @timestamp < end`` matching a SQL condition
        (``query``; None: every event) and ``keep`` (``store.protocol.Keep``).

        The result always has ``@timestamp``, ``event.id`` and ``event.dataset``, plus the asked
        ``columns``. A column that no segment has (a rule naming a field this data never carries)
        reads as NULL rather than failing the query.
        """
        wanted = list(dict.fromkeys(["@timestamp", "event.id", "event.dataset", *columns]))
        segments = self._segments(datasets=list(datasets), start=start, end=end)
        if not segments:
            return pa.table({name: pa.array([], pa.string()) for name in wanted})
        source = self._source(segments, [*wanted, *(keep or {})], _stored_columns(segments))
        select = ", ".join(quote_ident(name) for name in wanted)
        condition = "" if query is None or not query.strip() else f" AND ({query})"
        kept, kept_params = keep_sql(keep or {})
        sql = f'SELECT {select} FROM {source} WHERE "@timestamp" >= ? AND "@timestamp" < ?{condition} AND {kept}' + (
            ' ORDER BY "@timestamp", "event.id", "event.dataset"' if order else ""
        )
        return self._duckdb().sql(sql, params=[start, end, *kept_params]).to_arrow_table()

    def reaching(self, asked: ReachingQuery) -> list[tuple[str | None, ...]] | None:
        """The groups that reach the count, as one DuckDB ``GROUP BY ... HAVING`` (``store.sql.reaching``)."""
        segments = self._segments(datasets=list(asked.datasets), start=asked.start, end=asked.end)
        if not segments:
            return []
        needed = [*asked.fields, *asked.group_by, *([asked.distinct] if asked.distinct else [])]
        source = self._source(segments, needed, _stored_columns(segments))
        found = self._duckdb().execute(reaching_sql(asked, source), [asked.start, asked.end]).fetchall()
        return None if len(found) > asked.limit else [tuple(row) for row in found]

    def aggregate(
        self,
        datasets: Sequence[str] | None,
        start: datetime,
        end: datetime,
        group_by: Sequence[str] = (),
        bucket: timedelta | None = None,
        filters: Mapping[str, Sequence[Scalar]] | None = None,
        max_groups: int = 10_000,
    ) -> Aggregation:
        """Counts by time bucket and field values, as one DuckDB ``GROUP BY`` over the segments
        (the newest version of a replaceable event only, as ``search`` reads them)."""
        asked = AggregationRequest.checked(group_by, bucket, filters, max_groups)
        segments = self._segments(datasets=None if datasets is None else list(datasets), start=start, end=end)
        if not segments:
            return asked.result([])
        stored = _stored_columns(segments)
        asked.refuse_times(name for name in asked.fields if stored.get(name, "").startswith("timestamp"))
        keys = [quote_ident(name) for name in asked.group_by]
        if asked.bucket_micros is not None:
            # Floor, not DuckDB's truncating division: a time before the epoch stays in its bucket.
            micros, size = 'epoch_us("@timestamp")', asked.bucket_micros
            keys.insert(0, f"{micros} - (({micros} % {size}) + {size}) % {size}")
        conditions = ['"@timestamp" >= ?', '"@timestamp" < ?']
        params: list[object] = [start, end]
        for name, values in asked.filters.items():
            condition, values_params = _one_of(name, values, present=name in stored)
            conditions.append(condition)
            params.extend(values_params)
        positions = [str(number) for number in range(1, len(keys) + 1)]
        sql = (
            f"SELECT {', '.join([*keys, 'count(*)'])} FROM {self._source(segments, asked.group_by, stored)}"
            f" WHERE {' AND '.join(conditions)}"
            + (f" GROUP BY {', '.join(positions)}" if keys else "")
            + (f" ORDER BY {', '.join(f'{number} NULLS LAST' for number in positions)}" if keys else "")
            + f" LIMIT {asked.max_groups + 1}"
        )
        found = self._duckdb().execute(sql, params).fetchall()
        rows = []
        for row in found:
            if row[-1] == 0:  # no groups: the one row of a plain count, of nothing
                continue
            if asked.bucket_micros is None:
                rows.append(CountRow(None, tuple(row[:-1]), row[-1]))
            else:
                rows.append(CountRow(from_micros(row[0]), tuple(row[1:-1]), row[-1]))
        return asked.result(rows)

    def alert_groups(self, asked: AlertGroupQuery) -> AlertGroups:
        """A rule's alert groups as one DuckDB statement over the segments (``store.sql.groups``)."""
        asked = alert_groups.checked(asked)
        segments = self._segments(datasets=list(asked.datasets), start=asked.group_start, end=asked.end)
        if not segments:
            return alert_groups.empty(asked)
        needed = [*asked.fields, *asked.entity, *(name for where in asked.exceptions for name, _ in where)]
        source = self._source(segments, needed, _stored_columns(segments))
        con = self._duckdb()
        con.register(KNOWN_TABLE, _known_table(asked))
        try:
            found = con.sql(groups_sql(asked, source), params=[asked.group_start, asked.end]).to_arrow_table()
        finally:
            con.unregister(KNOWN_TABLE)
        return _groups_of(asked, found)

    def _source(self, segments, needed: Sequence[str], stored: Mapping[str, str]) -> str:
        """The FROM source over these segments (whose columns are ``stored``), with a NULL column
        for each needed one that no segment has (so a query may name a field this data never
        carries)."""
        extra = "".join(
            f", NULL::VARCHAR AS {quote_ident(name)}" for name in dict.fromkeys(needed) if name not in stored
        )
        return f"(SELECT *{extra} FROM {self._newest_versions(segments)})"

    def _newest_versions(self, segments) -> str:
        """The FROM source of ``search``: the segments' rows, but only the newest version of each
        event of a replaceable dataset, picked before any condition so a rule judges an alert
        as it is now, never as it was. Other datasets are read as they are (no extra work)."""
        plain = [str(self.home / row["path"]) for row in segments if row["dataset"] not in VERSION_COLUMNS]
        versioned: dict[str, list[str]] = {}
        versions_stored: set[str] = set()  # replaceable datasets with their version column
        for row in segments:
            if row["dataset"] in VERSION_COLUMNS:
                versioned.setdefault(row["dataset"], []).append(str(self.home / row["path"]))
                if VERSION_COLUMNS[row["dataset"]] in json.loads(row["columns"]):
                    versions_stored.add(row["dataset"])
        if not versioned:
            return f"read_parquet({_path_list(plain)}, union_by_name = true)"
        parts = [f"SELECT * FROM read_parquet({_path_list(plain)}, union_by_name = true)"] if plain else []
        for dataset, paths in versioned.items():
            # Events written without a version (a hand-made test table) are their only version.
            version = quote_ident(VERSION_COLUMNS[dataset]) if dataset in versions_stored else "NULL"
            parts.append(
                f"SELECT * FROM read_parquet({_path_list(paths)}, union_by_name = true)"
                f' QUALIFY row_number() OVER (PARTITION BY "event.id" ORDER BY'
                f' {version} DESC NULLS LAST, "event.ingested" DESC) = 1'
            )
        return "(" + " UNION ALL BY NAME ".join(f"({part})" for part in parts) + ")"

    def count(self, datasets: Sequence[str] | None = None) -> int:
        """Stored events (for a replaceable dataset: its events, not their versions)."""
        with self.state.connect() as con:
            if datasets is None:
                rows = con.execute("SELECT dataset, coalesce(sum(rows), 0) FROM segments GROUP BY dataset")
            else:
                marks = ",".join("?" * len(datasets))
                rows = con.execute(
                    f"SELECT dataset, coalesce(sum(rows), 0) FROM segments WHERE dataset IN ({marks}) GROUP BY dataset",
                    list(datasets),
                )
            counts = dict(rows.fetchall())
        return sum(
            self._distinct_ids(dataset) if dataset in VERSION_COLUMNS else rows for dataset, rows in counts.items()
        )

    def time_range(self) -> tuple[datetime, datetime] | None:
        with self.state.connect() as con:
            low, high = con.execute("SELECT min(min_ts), max(max_ts) FROM segments").fetchone()
        if low is None:
            return None
        return from_micros(low), from_micros(high)

    # -- retention --------------------------------------------------------------------------

    def delete_older_than(self, days: int, now: datetime | None = None) -> list[str]:
        """Delete the segments of every day that ended ``days`` days before ``now`` or earlier;
        return the partitions deleted (``dataset/YYYY-MM-DD``).

        The catalogue rows go first, in one transaction, so readers stop seeing the days at once
        and all together; then the files. A crash in between leaves unlisted files, which nobody
        reads. The writer lock keeps an append from deciding what is new against a day that is
        being deleted.
        """
        kept_from = day_label(first_day_kept(days, now))
        with self._writer_lock():
            with self.state.transaction() as con:
                old = con.execute(
                    "SELECT dataset, day, path FROM segments WHERE day < ? ORDER BY dataset, day", (kept_from,)
                ).fetchall()
                con.execute("DELETE FROM segments WHERE day < ?", (kept_from,))
            for row in old:
                path = self.home / row["path"]
                self._segment_ids.pop(str(path), None)
                path.unlink(missing_ok=True)
            for dataset, day in dict.fromkeys((row["dataset"], row["day"]) for row in old):
                _remove_if_empty(self.events_dir / dataset / day)
                _remove_if_empty(self.events_dir / dataset)
        return list(dict.fromkeys(f"{row['dataset']}/{row['day']}" for row in old))


def _known_table(asked: AlertGroupQuery) -> pa.Table:
    """The known groups as the statement joins them: text keys and span start in microseconds."""
    columns = {
        key: pa.array([group.keys[position] for group in asked.known], pa.string())
        for position, key in enumerate(alert_groups.key_names(asked))
    }
    columns["w"] = pa.array([to_micros(group.window_start) for group in asked.known], pa.int64())
    return pa.table(columns)


def _groups_of(asked: AlertGroupQuery, found: pa.Table) -> AlertGroups:
    """The statement's answer: counts in every row (one row of nulls when no group was kept)."""
    if found.num_rows == 0:
        return alert_groups.empty(asked)
    total, matched, excepted = (found.column(i)[0].as_py() for i in range(found.num_columns - 3, found.num_columns))
    kept = found.filter(pc.is_valid(found.column(len(asked.entity))))
    names = alert_groups.schema(asked).names
    columns = [kept.column(i) for i in range(len(names))]
    for position in range(len(asked.entity), len(asked.entity) + 3):  # window_start, first, last seen
        columns[position] = columns[position].cast(alert_groups.TIMESTAMP)
    rows = pa.Table.from_arrays(columns, names=names).cast(alert_groups.schema(asked))
    return AlertGroups(rows, total, matched or 0, excepted or 0)


def _is_text(type_: pa.DataType) -> bool:
    """Min/max of text only costs time: events are in time order, so a row group's text values
    span nearly the whole range and prune nothing; times and numbers keep theirs."""
    return pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_)


def _path_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(quote_literal(path) for path in paths) + "]"


def _stored_columns(segments) -> dict[str, str]:
    """Column -> type over these catalogue rows (the union of what their segments hold)."""
    union: dict[str, str] = {}
    for row in segments:
        union.update(json.loads(row["columns"]))
    return union


def _one_of(name: str, values: Sequence[Scalar], present: bool) -> tuple[str, list[Scalar]]:
    """``name`` is one of ``values`` (None: the field is missing), as SQL and its parameters.

    A field no segment has is missing from every event: the test is decided here, without
    comparing a NULL column with values of another type.
    """
    if not present:
        return ("true" if None in values else "false"), []
    column = quote_ident(name)
    given = [value for value in values if value is not None]
    tests = [f"{column} IN ({', '.join('?' * len(given))})"] if given else []
    if None in values:
        tests.append(f"{column} IS NULL")
    return "(" + (" OR ".join(tests) or "false") + ")", list(given)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:  # not empty (or already gone): it stays
        pass


#: The names an append gives its files: ``<uuid>.parquet``, written first as ``.<uuid>.parquet.tmp``.
_SEGMENT_FILE = re.compile(r"[0-9a-f]{32}\.parquet|\.[0-9a-f]{32}\.parquet\.tmp")


def _day_directories(events_dir: Path) -> Iterator[Path]:
    """``events/<dataset>/<day>`` directories, real ones only (a symlink is not the store's)."""
    for dataset in _subdirectories(events_dir):
        yield from _subdirectories(dataset)


def _subdirectories(directory: Path) -> list[Path]:
    with os.scandir(directory) as entries:
        return [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]


def _remove_unlisted(directory: Path, home: Path, listed: set[str], before: float) -> int:
    """Remove the segment and temporary files in ``directory`` that the catalogue does not list
    and that were last written before ``before``; return how many. Other files are not ours."""
    removed = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or not _SEGMENT_FILE.fullmatch(entry.name):
                continue
            if str(Path(entry.path).relative_to(home)) in listed:
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= before:
                continue
            os.unlink(entry.path)
            removed += 1
    return removed


def _partitions(events: pa.Table):
    """(dataset, day) -> rows. Contiguous runs become zero-copy slices; interleaved days are filtered."""
    # Day numbers by integer division: an order of magnitude cheaper than formatting every
    # timestamp; only one value per run is turned into a date string. Integer, not float: a
    # double holds microseconds exactly only until 2255. Times are never before 1970 here
    # (``store.batch.storable``), so truncating division is the floor.
    micros = events.column("@timestamp").combine_chunks().cast(pa.int64())
    days = pc.divide(micros, MICROS_PER_DAY)
    datasets = events.column("event.dataset").combine_chunks()
    total = events.num_rows
    boundary = pc.or_(
        pc.not_equal(days.slice(1), days.slice(0, total - 1)),
        pc.not_equal(datasets.slice(1), datasets.slice(0, total - 1)),
    )
    changes = [0, *(index + 1 for index in pc.indices_nonzero(boundary).to_pylist())]
    runs = list(zip(changes, [*changes[1:], total]))
    keys_in_order = [(datasets[low].as_py(), days[low].as_py()) for low, _ in runs]
    label = {day: day_label(day) for _, day in keys_in_order}
    if len(set(keys_in_order)) == len(keys_in_order):
        for (low, high), (dataset, day) in zip(runs, keys_in_order):
            yield (dataset, label[day]), events.slice(low, high - low)
        return
    events = plain_text(events)
    for dataset, day in dict.fromkeys(keys_in_order):
        mask = pc.and_(pc.equal(datasets, dataset), pc.equal(days, day))
        yield (dataset, label[day]), events.filter(mask)


def dedupe_keys(part: pa.Table, dataset: str) -> pa.Array:
    """What makes a row of ``dataset`` new: its ``event.id``, or for a replaceable dataset the id
    and its version (``<id>`` + US + version in microseconds, empty when it has none), so a
    newer version is stored and a re-read of the same version is a duplicate."""
    ids = part.column("event.id").combine_chunks()
    version = VERSION_COLUMNS.get(dataset)
    if version is None:
        return ids
    if version in part.column_names:
        micros = part.column(version).combine_chunks().cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        stamps = pc.fill_null(micros.cast(pa.string()), "")
    else:
        stamps = pa.array([""] * part.num_rows, pa.string())
    return pc.binary_join_element_wise(ids, stamps, "\x1f")


def _first_copies(part: pa.Table, dataset: str) -> pa.Table:
    """Within one batch the first copy of a key wins; later copies are duplicates."""
    ids = dedupe_keys(part, dataset)
    if pc.count_distinct(ids).as_py() == part.num_rows:
        return part
    indexed = pa.table({"id": ids, "row": pa.array(range(part.num_rows), pa.int64())})
    first = indexed.group_by("id", use_threads=False).aggregate([("row", "min")]).column("row_min")
    return plain_text(part).take(pc.take(first, pc.sort_indices(first)))  # first copies, in input order
