"""The ``azure.signinlogs`` columns, shared by the Graph and the Log Analytics sign-in parsers.

Both parsers must hand the store tables of exactly this shape, in this order, so that segments of
either source are uniform and a rule sees the same columns whichever way a sign-in arrived. The
shape is the event schema's (:mod:`store.schema`); this module holds what the two parsers' SQL
shares.
"""

from __future__ import annotations

import pyarrow as pa

from store.batch import ORIGINAL_VIEW
from store.schema import EVENTS, ColumnType
from store.sql.literals import quote_ident, quote_literal

DATASET = "azure.signinlogs"

_DATASET = EVENTS.dataset(DATASET)

#: Every column of the dataset, in the order every batch has them.
COLUMNS: dict[str, pa.DataType] = dict(_DATASET.types)

SCHEMA = _DATASET.arrow_schema

#: The columns the parsers' SQL computes: the rest (``event.ingested``, ``event.original``) are
#: attached in Arrow, where they cost no per-row work in the query.
SQL_COLUMNS = [name for name in COLUMNS if name not in ("event.ingested", "event.original")]


def conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly the dataset's columns, in order, cast to their types; only
    ``event.original`` may stay views of the file's bytes (:data:`store.batch.ORIGINAL_VIEW`)."""
    arrays = []
    for name, type_ in COLUMNS.items():
        if name in table.column_names:
            column = table.column(name)
            kept = column.type == type_ or (name == "event.original" and column.type == ORIGINAL_VIEW)
            arrays.append(column if kept else column.cast(type_))
        else:
            arrays.append(pa.nulls(table.num_rows, type_))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def empty() -> pa.Table:
    return SCHEMA.empty_table()


#: The ``deviceDetail`` fields both parsers read, as text (Graph's object and LA's dynamic column
#: have the same names).
DEVICE_DETAIL_SHAPE = {
    name: "VARCHAR"
    for name in (
        "deviceId",
        "displayName",
        "operatingSystem",
        "browser",
        "isCompliant",
        "isManaged",
        "trustType",
    )
}

#: Output expressions the same for both parsers, over columns each query computes first:
#: ``ts`` (the sign-in's time), ``upn`` (the user principal name) and ``result_type`` (the
#: error code as text, "0" for success).
_COMMON_SQL = {
    "@timestamp": "ts",
    "event.dataset": quote_literal(DATASET),
    "event.kind": "'event'",
    "event.category": "'authentication'",
    "event.action": "'sign-in'",
    "event.outcome": "CASE WHEN result_type IS NULL THEN NULL "
    "WHEN TRY_CAST(result_type AS BIGINT) = 0 THEN 'success' ELSE 'failure' END",
    "user.name": "lower(upn)",
    "user.domain": "CASE WHEN contains(upn, '@') THEN NULLIF(lower(split_part(upn, '@', -1)), '') END",
    "azure.signinlogs.result_type": "result_type",
    "azure.signinlogs.properties.status.error_code": "TRY_CAST(result_type AS BIGINT)",
}
#: The boolean columns (``isInteractive`` and the device's two flags), read from text.
_FLAGS = frozenset(column.name for column in _DATASET.columns if column.type is ColumnType.BOOL)


def absent_if_empty(expr: str) -> str:
    """``expr``, null when it is the empty string: for a value where ``""`` cannot mean anything
    but "none" (an address, an id, a country to count) or where the source cannot write a null
    (Log Analytics' string columns)."""
    return f"NULLIF({expr}, '')"


def select_items(texts: dict[str, str], other: dict[str, str]) -> str:
    """The SELECT items of every SQL column, in order, so the two parsers' queries differ only in
    where a value comes from: ``texts`` holds the expression of each text column as it is stored
    (an empty string the source wrote stays one: Sigma's ``field: ''`` must find it, as SigmaHQ's
    unknown-device rules ask of ``deviceId``; each parser wraps in :func:`absent_if_empty` what
    it reads as absent), ``other`` the whole expression of the columns that are not plain text;
    the boolean columns take their source from ``texts`` too and are cast to BOOLEAN."""
    items = []
    for name in SQL_COLUMNS:
        if name in _COMMON_SQL:
            expr = _COMMON_SQL[name]
        elif name in _FLAGS:
            expr = f"TRY_CAST({texts[name]} AS BOOLEAN)"
        elif name in other:
            expr = other[name]
        else:
            expr = texts[name]
        items.append(f"{expr} AS {quote_ident(name)}")
    return ",\n    ".join(items)
