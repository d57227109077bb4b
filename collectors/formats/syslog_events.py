"""Each syslog dataset's collected rows as events: the vendor module builds its columns, one
DuckDB query per dataset maps them to ECS (with the macros the vendors share), and the
datasets' tables are put one after the other (each in the order of the input).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from collectors.formats.appliances import cef, cef_bulk, fortigate, panos
from collectors.formats.syslog_rows import Rows
from store.batch import check_required
from store.epoch import to_micros
from store.schema import EVENTS
from store.sql.literals import quote_ident

#: Columns every syslog dataset has (the event schema's ``syslog`` group).
SYSLOG_COLUMNS: dict[str, pa.DataType] = dict(EVENTS.group("syslog").types)
SYSLOG_SCHEMA = EVENTS.group("syslog").arrow_schema

VENDORS = {cef.DATASET: cef, fortigate.DATASET: fortigate, panos.DATASET: panos}

#: Every dataset's ECS columns, in the order its rows have them; vendor columns follow.
DATASET_COLUMNS: dict[str, dict[str, pa.DataType]] = {name: dict(EVENTS.dataset(name).types) for name in VENDORS}

#: When messages arrived: one time for all of them (a datetime), one per message (epoch
#: microseconds, None where unknown: ints, not a datetime per message), or not known.
ReceivedAt = datetime | Sequence[int | None] | np.ndarray | None

_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_IPV6 = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,7}(?::" + _IPV4 + r")?(?:%[\w.]+)?"

# Shared by the vendors' mappings: DuckDB macros, defined once per connection.
_MACROS = (
    """CREATE OR REPLACE MACRO normalise_action(a) AS CASE
        WHEN a IS NULL OR trim(a) = '' THEN NULL
        WHEN lower(trim(a)) IN ('accept', 'accepted', 'allow', 'allowed', 'permit', 'permitted',
             'pass', 'passthrough', 'close', 'server-rst', 'client-rst', 'timeout', 'start')
             THEN 'allow'
        WHEN lower(trim(a)) IN ('deny', 'denied', 'block', 'blocked', 'reject', 'rejected',
             'block-url', 'block-ip', 'block-continue') THEN 'deny'
        WHEN lower(trim(a)) IN ('drop', 'dropped', 'drop-icmp', 'drop-all-packets') THEN 'drop'
        ELSE lower(trim(a)) END""",
    # Protocol numbers (FortiGate, some CEF) to names; names pass through lower-cased.
    """CREATE OR REPLACE MACRO transport_name(p) AS CASE lower(trim(p))
        WHEN '' THEN NULL WHEN '6' THEN 'tcp' WHEN '17' THEN 'udp' WHEN '1' THEN 'icmp'
        WHEN '58' THEN 'ipv6-icmp' WHEN '47' THEN 'gre' WHEN '50' THEN 'esp' WHEN '51' THEN 'ah'
        WHEN '132' THEN 'sctp' ELSE lower(trim(p)) END""",
    # ECS address columns hold addresses only; anything else (FortiGate may write a host name
    # in dstip) stays in the vendor column alone.
    f"""CREATE OR REPLACE MACRO ip_or_null(x) AS CASE
        WHEN regexp_full_match(x, '{_IPV4}')
          OR (contains(x, ':') AND regexp_full_match(x, '{_IPV6}')) THEN x END""",
)

_LOCAL = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection, made once: setting it up costs more than a small batch.

    One per thread because a DuckDB connection must not run two queries at once, and a live
    receiver may parse from several threads.
    """
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = _connect()
    return con


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    # The parsing threads (``syslog._pool``) each run their own queries: DuckDB's threads on
    # top of them would only contend for the same cores.
    con.execute("SET threads = 1")
    # Rows come back in the order they went in (DuckDB's default, relied upon; set explicitly).
    con.execute("SET preserve_insertion_order = true")
    for macro in _MACROS + fortigate.SQL_MACROS + panos.SQL_MACROS:
        con.execute(macro)
    return con


def to_events(
    con: duckdb.DuckDBPyConnection, name: str, rows: Rows, now: datetime, received_at: ReceivedAt
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """One dataset's rows as events, and (row, reason) for those it could not map."""
    module = VENDORS[name]
    try:
        if module is cef:
            vendor = cef_bulk.build(rows.bodies, now)
        elif module is fortigate:
            vendor = fortigate.build(rows.bodies, con)
        else:
            vendor = panos.build(rows.bodies)
        ecs = _map_ecs(con, name, module, rows, vendor, now, received_at)
    except Exception as exc:  # a bug, not bad input: the dataset's lines go to quarantine
        return empty(), [(i, f"parser error: {exc}") for i in range(len(rows))]
    vendor = vendor.drop_columns([c for c in vendor.column_names if c.startswith("_")])
    for column in vendor.column_names:
        ecs = ecs.append_column(column, vendor[column])
    return ecs, []


def _map_ecs(
    con: duckdb.DuckDBPyConnection,
    name: str,
    module,
    rows: Rows,
    vendor: pa.Table,
    now: datetime,
    received_at: ReceivedAt,
) -> pa.Table:
    """Run the vendor's ECS mapping in DuckDB over the frame and vendor columns."""
    frame = rows.frame
    inputs = {column: frame[column] for column in frame.column_names}
    inputs["event.id"] = rows.ids
    inputs["_received_us"] = _received_us(received_at, rows.positions)
    # Only the columns the mapping reads go to DuckDB: its names are case-insensitive, and
    # vendor keys that differ only in case must not collide there.
    for column in module.SQL_INPUTS + ("_body_time_us",):
        if column in vendor.column_names:
            inputs[column] = vendor[column]
        elif column != "_body_time_us":
            inputs[column] = pa.nulls(len(rows), pa.string())
    raw = pa.table(inputs)
    con.register("raw", raw)
    table = con.sql(
        _MAPPING_SQL[name],
        params={
            "ingested": _micros(now),
            "dataset": name,
        },
    ).to_arrow_table()
    con.unregister("raw")
    seq = table["_seq"].to_numpy()
    if len(seq) > 1 and not bool(np.all(seq[1:] > seq[:-1])):
        # DuckDB scans an Arrow table's record batches in parallel and may hand them back in
        # another order; the vendor columns joined after are in input order.
        table = table.take(pa.array(np.argsort(seq, kind="stable")))
    return table.cast(_MAPPED_SCHEMA[name])


# The columns every dataset takes from the frame (the syslog header, the line) rather than from
# its vendor's mapping; ``_map_ecs`` hands each ``log.syslog.*`` column over in its inputs.
_FRAME_SQL = {
    "@timestamp": "coalesce(_body_time::TIMESTAMPTZ,"
    " make_timestamp(_header_time_us)::TIMESTAMPTZ,"
    " make_timestamp(_received_us)::TIMESTAMPTZ,"
    " make_timestamp($ingested)::TIMESTAMPTZ)",
    # Which clock @timestamp is (docs/events.md): in the order of the coalesce above.
    "cyberwell.time_source": "CASE WHEN _body_time IS NOT NULL THEN 'event'"
    " WHEN _header_time_us IS NOT NULL THEN 'header'"
    " WHEN _received_us IS NOT NULL THEN 'received' ELSE 'ingested' END",
    "event.ingested": "make_timestamp($ingested)::TIMESTAMPTZ",
    "event.dataset": "$dataset",
    "event.id": quote_ident("event.id"),
    "event.original": quote_ident("event.original"),
    "host.hostname": quote_ident("log.syslog.hostname"),
    **{column: quote_ident(column) for column in SYSLOG_COLUMNS if column.startswith("log.syslog.")},
}


def _mapping_sql(name: str) -> str:
    """The query from one dataset's ``raw`` inputs to its columns, cast to the schema's types."""
    module = VENDORS[name]
    derived = dict(module.ECS_SQL)
    select = ",\n".join(
        f"CAST({_FRAME_SQL.get(column.name) or _derived_or_null(column.name, derived)} AS {column.type.sql})"
        f" AS {quote_ident(column.name)}"
        for column in EVENTS.dataset(name).columns
    )
    inner = ", ".join(f"{expr} AS {quote_ident(column)}" for column, expr in module.ECS_SQL)
    return f"SELECT {select}, _seq FROM (SELECT *, {inner} FROM raw)"


def _derived_or_null(column: str, derived: dict[str, str]) -> str:
    return quote_ident(column) if column in derived else "NULL"


# Built once: the same for every batch.
_MAPPING_SQL = {name: _mapping_sql(name) for name in VENDORS}
_MAPPED_SCHEMA = {name: EVENTS.dataset(name).arrow_schema.append(pa.field("_seq", pa.int64())) for name in VENDORS}


def _received_us(received_at: ReceivedAt, positions: np.ndarray) -> pa.Array:
    """The receive time of each row (by its position in the batch), in epoch microseconds."""
    if received_at is None or isinstance(received_at, datetime):
        return pa.repeat(pa.scalar(_micros(received_at), pa.int64()), len(positions))
    return pa.array(received_at, pa.int64()).take(pa.array(positions))


def _micros(stamp: datetime | None) -> int | None:
    """Epoch microseconds; a naive datetime is taken as UTC."""
    if stamp is None:
        return None
    return to_micros(aware(stamp))


def aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def union(tables: list[pa.Table]) -> pa.Table:
    """One table for all datasets, one dataset's rows after another's; other datasets' columns
    are nulls."""
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return empty()
    table = pa.concat_tables(tables, promote_options="default")
    table = case_unique(table.drop_columns(["_seq"]))
    check_required(table)
    return table


def case_unique(table: pa.Table) -> pa.Table:
    """Rename vendor columns whose names differ from an earlier one only in case.

    Appliances may send ``src`` and ``SRC``; Arrow and Parquet keep both, but DuckDB (the
    store's engine) treats names case-insensitively and would refuse the table. The later
    column becomes ``<name>_2`` (``_3``, ...), so nothing is lost.
    """
    seen: set[str] = set()
    names = []
    for name in table.column_names:
        unique, n = name, 1
        while unique.lower() in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique.lower())
        names.append(unique)
    return table if names == table.column_names else table.rename_columns(names)


def empty() -> pa.Table:
    return SYSLOG_SCHEMA.empty_table()
