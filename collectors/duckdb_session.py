"""The in-memory DuckDB the parsers normalise records in."""

from __future__ import annotations

import os
import threading

import duckdb

_DATABASES: dict[tuple[int, int], duckdb.DuckDBPyConnection] = {}


def connect() -> duckdb.DuckDBPyConnection:
    """A connection, in UTC and silent, to this thread's in-memory DuckDB.

    The database lives as long as the process: a new one per file would hand its memory back to
    the kernel and fault it in again for the next chunk of a large export (seconds of system time
    per million records). Closing the connection leaves the database; temporary tables and
    registered arrays belong to the connection, so callers stay isolated.
    """
    key = (os.getpid(), threading.get_ident())
    if key not in _DATABASES:
        _DATABASES[key] = duckdb.connect()
    con = _DATABASES[key].cursor()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con
