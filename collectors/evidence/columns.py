"""How one page of an API's JSON records becomes an Arrow table of an evidence source's columns.

Each source declares its columns: a name, an Arrow type and where the value is in Microsoft's
record (a path of keys, since the values the checks need are often nested, like
``signInActivity.lastSuccessfulSignInDateTime``). A page is turned into columns in one pass and
its times are read by DuckDB in bulk (``TRY_CAST`` to ``TIMESTAMPTZ`` takes every form these APIs
send: ``...Z`` with seven decimals, ``+00:00``, Defender's ``2020-12-30 14:17:26`` without a zone,
which Defender documents as UTC). The records of the page are dropped once its table is built,
so a tenant of any size costs one page of Python objects at a time.

A value that does not fit its column (a time that cannot be read, a word where a number was
documented) becomes null and is counted, so the snapshot says so rather than lose it silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson
import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")
TEXT_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    """One column of an evidence table and where its value is in Microsoft's record."""

    name: str
    type: pa.DataType
    path: tuple[str, ...]
    #: "value" (as sent), "json" (a nested object kept as JSON text), "text_bool" (Defender's
    #: "True"/"False" strings), "count" (the length of a list).
    kind: str = "value"


def col(name: str, type_: pa.DataType, path: str, kind: str = "value") -> Column:
    """A column from a dotted path: ``col("last_success", TIME, "signInActivity.lastSuccessfulSignInDateTime")``."""
    return Column(name, type_, tuple(path.split(".")), kind)


def schema_of(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in columns])


class PageConverter:
    """Turns pages of records into tables of ``columns``; keeps a count of unreadable values."""

    def __init__(self, columns: Sequence[Column]):
        self.columns = tuple(columns)
        self.schema = schema_of(columns)
        self.unreadable: dict[str, int] = {}
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        self._con.close()

    def table(self, records: Sequence[dict[str, Any]]) -> pa.Table:
        raw = pa.table({c.name: self._array(c, records) for c in self.columns})
        times = [c.name for c in self.columns if c.type == TIME]
        if not times or raw.num_rows == 0:
            return raw.cast(self.schema)
        return self._read_times(raw, times)

    def notes(self) -> list[str]:
        return [
            f"{count} value(s) of {name} were not of its type ({self.schema.field(name).type}) and are null"
            for name, count in self.unreadable.items()
        ]

    def _array(self, column: Column, records: Sequence[dict[str, Any]]) -> pa.Array:
        values = [_dig(record, column.path) for record in records]
        if column.kind == "json":
            texts = [_json_text(v) for v in values]
            self._count_misses(column.name, values, texts)
            return pa.array(texts, pa.string())
        if column.kind == "text_bool":
            return pa.array([_text_bool(v) for v in values], pa.bool_())
        if column.kind == "count":
            return pa.array([len(v) if isinstance(v, list) else None for v in values], pa.int32())
        if column.type == TIME:
            return pa.array([v if isinstance(v, str) else None for v in values], pa.string())
        if column.type == TEXT_LIST:
            return pa.array([[str(x) for x in v] if isinstance(v, list) else None for v in values], TEXT_LIST)
        fitted = [_scalar(v, column.type) for v in values]
        self._count_misses(column.name, values, fitted)
        return pa.array(fitted, column.type)

    def _count_misses(self, name: str, values: Sequence[Any], fitted: Sequence[Any]) -> None:
        missed = sum(1 for v, f in zip(values, fitted, strict=True) if v is not None and f is None)
        if missed:
            self.unreadable[name] = self.unreadable.get(name, 0) + missed

    def _read_times(self, raw: pa.Table, times: list[str]) -> pa.Table:
        selects = ", ".join(
            f'TRY_CAST("{c.name}" AS TIMESTAMPTZ) AS "{c.name}"' if c.name in times else f'"{c.name}"'
            for c in self.columns
        )
        self._con.register("page", raw)
        try:
            table = self._con.sql(f"SELECT {selects} FROM page").to_arrow_table()
        finally:
            self._con.unregister("page")
        for name in times:
            # A text that was there and is null now is a time DuckDB could not read.
            missed = table.column(name).null_count - raw.column(name).null_count
            if missed:
                self.unreadable[name] = self.unreadable.get(name, 0) + missed
        return table.cast(self.schema)


def _dig(record: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _text_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _scalar(value: Any, type_: pa.DataType) -> Any:
    """The value if it fits the column, else None: one odd record must not fail the page."""
    if value is None:
        return None
    if pa.types.is_boolean(type_):
        return value if isinstance(value, bool) else None
    if pa.types.is_integer(type_):
        fits = isinstance(value, int) and not isinstance(value, bool) and _in_bounds(value, type_)
        return value if fits else None
    if pa.types.is_floating(type_):
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(value, dict | list):
        return _json_text(value)
    return str(value)


def _json_text(value: Any) -> str | None:
    """``value`` as JSON text; None when JSON has it but orjson cannot write it (an integer past
    64 bits), so one odd record is counted, not the page lost."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return None


def _in_bounds(value: int, type_: pa.DataType) -> bool:
    """Whether ``value`` fits the integer column (JSON numbers have no bound; Arrow's do)."""
    bits = type_.bit_width
    if pa.types.is_unsigned_integer(type_):
        return 0 <= value < 1 << bits
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)
