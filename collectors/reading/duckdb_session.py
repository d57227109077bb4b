"""The in-memory DuckDB the parsers normalise records in, and a stream of a query's rows."""

from __future__ import annotations

import os
import queue
import threading

import duckdb
import pyarrow as pa

_DATABASES: dict[tuple[int, int | str], duckdb.DuckDBPyConnection] = {}


def connect(single_threaded: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection, in UTC and silent, to this thread's in-memory DuckDB (``single_threaded``:
    to the process's database that runs each query on its caller's thread only).

    The database lives as long as the process: a new one per file would hand its memory back to
    the kernel and fault it in again for the next chunk of a large export (seconds of system time
    per million records). Closing the connection leaves the database; temporary tables and
    registered arrays belong to the connection, so callers stay isolated.
    """
    key = (os.getpid(), "single-threaded" if single_threaded else threading.get_ident())
    if key not in _DATABASES:
        _DATABASES[key] = duckdb.connect(config={"threads": 1} if single_threaded else {})
    con = _DATABASES[key].cursor()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


class RowStream:
    """The rows of one query, read ahead by DuckDB in a thread of its own, taken in order in
    runs of a given length.

    A parser reading a big file matches these rows, run by run, with the lines Python cut out
    of the same bytes; while Python works on one run, DuckDB (which releases the GIL) reads the
    next ones on the other core. Bounded: at most ``ahead`` batches wait. A query that fails
    ends the stream: :meth:`take` then returns None, and the caller reads the rest another way.
    """

    _END = object()

    def __init__(self, sql: str, batch_rows: int = 8_192, ahead: int = 12):
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._carry: pa.RecordBatch | None = None
        self._done = False
        # One thread reads: on two cores a parallel read competes with the parser and the
        # store's writer for the same cores, which was measured slower and costlier than DuckDB
        # on one core and the rest of the pipeline on the other.
        self._con = connect(single_threaded=True)
        self._thread = threading.Thread(target=self._read, args=(sql, batch_rows), daemon=True, name="cyberwell-rows")
        self._thread.start()

    def _read(self, sql: str, batch_rows: int) -> None:
        try:
            reader = self._con.sql(sql).to_arrow_reader(batch_rows)
            for batch in reader:
                if not self._put(batch):
                    return
        except Exception as exc:  # noqa: BLE001 - whatever stops the query ends the stream, and says so
            self._put(exc)
            return
        finally:
            self._con.close()
        self._put(self._END)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take(self, rows: int) -> pa.Table | None:
        """The next ``rows`` rows, or None when the query failed or ended before them."""
        if self._done:
            return None
        parts, have = [], 0
        if self._carry is not None:
            parts.append(self._carry)
            have, self._carry = self._carry.num_rows, None
        while have < rows:
            item = self._queue.get()
            if item is self._END or isinstance(item, Exception):
                self._done = True
                return None
            parts.append(item)
            have += item.num_rows
        if have > rows:
            last = parts[-1]
            keep = last.num_rows - (have - rows)
            parts[-1], self._carry = last.slice(0, keep), last.slice(keep)
        if not parts:
            return None
        return pa.Table.from_batches(parts)

    def close(self) -> None:
        """Stop reading (the rest is not wanted) and wait for the thread."""
        self._done = True
        self._stop.set()
        try:
            self._con.interrupt()
        except duckdb.Error:  # already closed: the query ended by itself
            pass
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()
