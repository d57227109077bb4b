"""PAN-OS CSV syslog bodies → the ``panw.panos`` dataset.

PAN-OS writes one CSV record per log: ``FUTURE_USE,Receive Time,Serial Number,Type,Subtype,...``
where Type (the fourth field) says which layout the rest follows. Fields are positional;
values holding commas are double-quoted with ``""`` for a quote, as in RFC 4180.

Each field becomes a string column ``panw.panos.<name>`` with the field's name in the PAN-OS
10.x/11.x syslog field descriptions, snake_case (``panos_layouts``). Fields past the end of a known layout (newer
PAN-OS versions append fields) and every field of a type without a layout here are kept as
``panw.panos.field_<n>`` (0-based position), so nothing is lost. The common fields
(``receive_time``, ``serial_number``, ``type``, ``subtype``, ``generated_time``) are named for
every type. ``FUTURE_USE`` fields are ``future_use_<n>``.

Times: PAN-OS writes the firewall's local time without a zone; they are read as UTC, like
RFC 3164 clocks. ``high_res_timestamp`` (ISO 8601 with an offset) wins when the record has it.
Besides the usual ``2024/01/12 11:21:15``, the generated and receive times are read as ISO 8601,
``1/12/24 11:21:15`` and ``Jan 12 2024 11:21:15``, as exports and forwarders that re-format them
write them.

Tolerance, because PAN-OS versions and forwarders differ (PAN-OS syslog field descriptions,
9.1 to 11.x): a record is read whatever its number of fields, from the four that name its type
upwards; names are given to what is there and the rest keeps positional names. The HIP Match type
is ``HIPMATCH`` on the wire but ``HIP-MATCH`` in the field descriptions: both are read. A record
whose CSV is not well formed (a quote inside a quoted value that was not doubled, a quoted value
cut off by a truncated UDP datagram) is read leniently rather than quarantined, and says so in
``panw.panos.csv_problem``.
"""

from __future__ import annotations

import csv
import re
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.appliances.pair_columns import buffer_of
from collectors.formats.appliances.panos_layouts import ALIASES, COMMON, LAYOUTS, LOG_TYPES
from store.schema import EVENTS

DATASET = "panw.panos"
PREFIX = "panw.panos."

#: ECS columns this dataset fills beyond those every syslog dataset has (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(EVENTS.dataset(DATASET).own_types)

# Type is the fourth field; the first three never hold quotes or commas. A record may end there.
_TYPE_FIELD = re.compile(r"[^,\"]*,[^,\"]*,[^,\"]*,([A-Z][A-Z-]*)(?:,|$)")

#: Fields up to and including the type: fewer, and the record does not say what it is.
MIN_FIELDS: Final = 4


class PanosError(ValueError):
    """A body that looked like PAN-OS CSV but is not readable as a PAN-OS record."""


class Repaired(list[str]):
    """The fields of a record whose CSV was not well formed, read leniently; ``problem`` says
    what the strict reader found, and lands in ``panw.panos.csv_problem``."""

    def __init__(self, fields: list[str], problem: str):
        super().__init__(fields)
        self.problem = problem


def looks_like(body: str) -> bool:
    """Whether a body is a PAN-OS CSV record (a known log type in the fourth field)."""
    match = _TYPE_FIELD.match(body)
    return match is not None and match.group(1) in LOG_TYPES


def split_fields(body: str) -> list[str]:
    """The CSV fields of one record.

    A record the strict reader refuses is read leniently as :class:`Repaired` (its fields stay in
    place: a stray quote only changes the value it is in). ``PanosError`` only when even that
    cannot find the type in the fourth field.
    """
    try:
        rows = list(csv.reader([body], strict=True))
        fields: list[str] = rows[0] if len(rows) == 1 else []
    except csv.Error as exc:
        problem = f"malformed CSV read leniently: {exc}"
        try:
            rows = list(csv.reader([body], strict=False))
        except csv.Error as lenient:  # not seen; the record is kept in quarantine with why
            raise PanosError(f"malformed PAN-OS CSV: {exc}; read leniently: {lenient}") from None
        fields = Repaired(rows[0], problem) if len(rows) == 1 else []
    if len(fields) < MIN_FIELDS or fields[3] not in LOG_TYPES:
        raise PanosError(
            f"malformed PAN-OS CSV: {len(fields)} fields, expected at least {MIN_FIELDS} with a log type in the fourth"
        )
    return fields


def field_names(log_type: str, count: int) -> list[str]:
    """Column names for a record of ``log_type`` with ``count`` fields."""
    layout = LAYOUTS.get(ALIASES.get(log_type, log_type), COMMON)
    return [layout[i] if i < len(layout) else f"field_{i}" for i in range(count)]


def to_row(fields: list[str]) -> dict[str, str]:
    """The vendor columns of one record."""
    names = field_names(fields[3], len(fields))
    return {PREFIX + name: value for name, value in zip(names, fields)}


def build(bodies: pa.Array) -> pa.Table:
    """The vendor columns of many records (their CSV bodies), one row each, in order.

    The CSV is split by ``logscan.split_fields`` over the batch's bytes; a record its strict
    reading refuses is read here by ``split_fields`` (leniently, saying so). Records of one type
    and length share their column names, so each such group becomes columns at once.
    """
    strings, _raw, bounds = buffer_of(bodies)
    data = strings.buffers()[2] or pa.py_buffer(b"")
    owners, values, failed = logscan.split_fields(data, bounds[:-1], bounds[1:])
    problems: dict[int, str] = {}
    if len(failed):
        owners, values = _with_lenient(strings, failed, owners, values, problems)
    count = len(bodies)
    firsts = np.searchsorted(owners, np.arange(count))  # each record's first field
    lengths = np.bincount(owners, minlength=count)
    types = values.take(pa.array(firsts + 3))  # every record has its type in the fourth field
    encoded = pc.dictionary_encode(types)
    type_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    group_of = type_codes * (int(lengths.max()) + 1) + lengths
    parts = []
    groups, first_rows = np.unique(group_of, return_index=True)
    for group in groups[np.argsort(first_rows)].tolist():  # in the order the records first show them
        rows = np.flatnonzero(group_of == group)
        length = int(lengths[rows[0]])
        names = field_names(encoded.dictionary[int(type_codes[rows[0]])].as_py(), length)
        data = {PREFIX + name: values.take(pa.array(firsts[rows] + i)) for i, name in enumerate(names)}
        data["_row"] = pa.array(rows, pa.int64())
        parts.append(pa.table(data))
    table = pa.concat_tables(parts, promote_options="default")
    if len(parts) > 1:
        table = table.take(pc.sort_indices(table["_row"]))
    table = table.drop_columns(["_row"])
    if problems:  # rare: the column is there only when a record needed it
        notes = pa.array([problems.get(row) for row in range(count)], pa.string())
        table = table.append_column(PREFIX + "csv_problem", notes)
    return table


def _with_lenient(
    strings: pa.Array, failed: np.ndarray, owners: np.ndarray, values: pa.Array, problems: dict[int, str]
) -> tuple[np.ndarray, pa.Array]:
    """The fields of the records the strict reading refused, read by ``split_fields``, merged
    in record order; what was wrong with each goes to ``problems``."""
    lenient_owners: list[int] = []
    lenient_values: list[str] = []
    for row in failed.tolist():
        fields = split_fields(strings[row].as_py())
        if type(fields) is Repaired:
            problems[row] = fields.problem
        lenient_owners += [row] * len(fields)
        lenient_values += fields
    owners = np.concatenate([owners, np.array(lenient_owners, np.int64)])
    order = np.argsort(owners, kind="stable")
    values = pa.concat_arrays([values, pa.array(lenient_values, pa.string())]).take(pa.array(order))
    return owners[order], values


# --- ECS ------------------------------------------------------------------------------------


def _f(name: str) -> str:
    return f"nullif(\"{PREFIX}{name}\", '')"


def _first(*names: str) -> str:
    return f"coalesce({', '.join(_f(name) for name in names)})"


def _ip(name: str) -> str:
    """An address field; PAN-OS writes 0.0.0.0 for "none" (no NAT, say)."""
    return f"ip_or_null(nullif({_f(name)}, '0.0.0.0'))"


def _port(name: str) -> str:
    return f"nullif(TRY_CAST({_f(name)} AS INTEGER), 0)"


#: Vendor columns the ECS mapping reads; absent ones are added as nulls before it runs.
SQL_INPUTS = tuple(
    PREFIX + name
    for name in (
        "type",
        "subtype",
        "receive_time",
        "generated_time",
        "high_res_timestamp",
        "source_address",
        "source_ip",
        "public_ip",
        "host",
        "destination_address",
        "nat_source_ip",
        "nat_destination_ip",
        "source_port",
        "destination_port",
        "nat_source_port",
        "nat_destination_port",
        "rule_name",
        "rule_uuid",
        "application",
        "protocol",
        "action",
        "source_user",
        "user",
        "destination_user",
        "admin",
        "serial_number",
        "device_name",
        "threat_id",
        "severity",
        "description",
        "event_id",
        "url_filename",
        "result",
        "status",
        "command",
        "event_type",
    )
)

#: DuckDB macros the ECS mapping uses.
SQL_MACROS = (
    # Receive and generated times: "2024/01/12 11:21:15" (told by the slash after a four-digit
    # year: DuckDB's %Y would also take the "1" of "1/1/24"), else ISO 8601 (told by its dashes),
    # or "9/16/19 10:00" and "Jan 12 2024 11:21:15" as some exports and forwarders rewrite them.
    # One format per value in the usual case: a list of formats costs more per value.
    r"""CREATE OR REPLACE MACRO panos_time(t) AS CASE
        WHEN strpos(t, '/') = 5 THEN coalesce(try_strptime(t, '%Y/%m/%d %H:%M:%S'),
                                                 try_strptime(t, '%Y/%m/%d %H:%M:%S.%f'))::TIMESTAMPTZ
        WHEN contains(t, '-') THEN TRY_CAST(t AS TIMESTAMPTZ)
        ELSE try_strptime(t, ['%m/%d/%y %H:%M:%S', '%m/%d/%y %H:%M', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M',
                              '%b %d %Y %H:%M:%S', '%b %d %H:%M:%S %Y'])::TIMESTAMPTZ END""",
    # "Microsoft Windows SMB Null Session Attempt(31914)", "(9999)" for URL logs.
    r"""CREATE OR REPLACE MACRO panos_threat_id(t) AS
        nullif(regexp_extract(t, '\((\d+)\)\s*$', 1), '')""",
    r"""CREATE OR REPLACE MACRO panos_threat_name(t) AS
        nullif(trim(regexp_replace(t, '\(\d+\)\s*$', '')), '')""",
)

_CATEGORY = f"""CASE {_f("type")}
    WHEN 'TRAFFIC' THEN 'network' WHEN 'DECRYPTION' THEN 'network'
    WHEN 'THREAT' THEN CASE WHEN lower({_f("subtype")}) IN ('virus', 'wildfire-virus', 'wildfire', 'ml-virus')
                            THEN 'malware' WHEN lower({_f("subtype")}) = 'url' THEN 'web'
                            ELSE 'intrusion_detection' END
    WHEN 'SYSTEM' THEN CASE WHEN lower({_f("subtype")}) = 'auth' THEN 'authentication'
                            ELSE 'host' END
    WHEN 'CONFIG' THEN 'configuration'
    WHEN 'USERID' THEN 'authentication' WHEN 'AUTH' THEN 'authentication'
    WHEN 'GLOBALPROTECT' THEN 'authentication' WHEN 'HIPMATCH' THEN 'host' WHEN 'HIP-MATCH' THEN 'host'
    END"""

# SYSTEM auth events name the user only in the description: "... for user 'jdoe'. ..." or
# "... for user jdoe. Reason: ...".
_SYSTEM_USER = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN nullif(coalesce("
    f"nullif(regexp_extract({_f('description')}, 'for user ''([^'']+)''', 1), ''), "
    f"regexp_extract({_f('description')}, 'for user ([^\\s'']+?)\\.?(?:\\s|$)', 1)), '') END"
)

# ... and the client address as "From: 10.0.0.1." (auth) or "from 10.0.0.1," or
# "initiated by: 10.0.0.1", the directory or RADIUS server as "server address 10.0.0.2".
_SYSTEM_CLIENT = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN ip_or_null(regexp_extract({_f('description')}, "
    f"'(?i)(?:from|initiated by):? ''?([0-9a-f:.]*[0-9a-f])', 1)) END"
)
_SYSTEM_SERVER = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN ip_or_null(regexp_extract({_f('description')}, "
    f"'(?i)server (?:address )?''?([0-9a-f:.]*[0-9a-f])', 1)) END"
)

#: (column, DuckDB expression over the vendor columns) for the ECS part.
ECS_SQL: tuple[tuple[str, str], ...] = (
    (
        "_body_time",
        f"""coalesce(TRY_CAST({_f("high_res_timestamp")} AS TIMESTAMPTZ),
                                panos_time({_f("generated_time")}),
                                panos_time({_f("receive_time")}))""",
    ),
    ("event.kind", "'event'"),
    ("event.category", _CATEGORY),
    # Sessions have an action; other logs say what happened in their event id, command or
    # subtype (USERID login/logout).
    (
        "event.action",
        f"""CASE {_f("type")}
        WHEN 'TRAFFIC' THEN normalise_action({_f("action")})
        WHEN 'THREAT' THEN normalise_action({_f("action")})
        WHEN 'DECRYPTION' THEN normalise_action({_f("action")})
        WHEN 'SYSTEM' THEN lower({_f("event_id")})
        WHEN 'GLOBALPROTECT' THEN lower({_f("event_id")})
        WHEN 'CONFIG' THEN lower({_f("command")})
        WHEN 'AUTH' THEN lower({_first("event_type", "subtype")})
        WHEN 'HIPMATCH' THEN 'hip-match'
        WHEN 'HIP-MATCH' THEN 'hip-match'
        ELSE lower({_f("subtype")}) END""",
    ),
    (
        "event.outcome",
        f"""CASE
        WHEN {_f("type")} = 'SYSTEM' AND lower({_f("event_id")}) LIKE '%-success' THEN 'success'
        WHEN {_f("type")} = 'SYSTEM' AND lower({_f("event_id")}) LIKE '%-fail%' THEN 'failure'
        WHEN {_f("type")} = 'CONFIG' AND lower({_f("result")}) = 'succeeded' THEN 'success'
        WHEN {_f("type")} = 'CONFIG' AND lower({_f("result")}) IN ('failed', 'failure') THEN 'failure'
        WHEN {_f("type")} = 'GLOBALPROTECT' AND lower({_f("status")}) = 'success' THEN 'success'
        WHEN {_f("type")} = 'GLOBALPROTECT' AND lower({_f("status")}) = 'failure' THEN 'failure'
        END""",
    ),
    ("message", _f("description")),
    ("log.level", _f("severity")),
    (
        "source.ip",
        f"coalesce({_ip('source_address')}, {_ip('source_ip')}, {_ip('public_ip')}, {_ip('host')}, {_SYSTEM_CLIENT})",
    ),
    ("source.port", _port("source_port")),
    ("source.nat.ip", _ip("nat_source_ip")),
    ("source.nat.port", _port("nat_source_port")),
    ("destination.ip", f"coalesce({_ip('destination_address')}, {_SYSTEM_SERVER})"),
    ("destination.port", _port("destination_port")),
    ("destination.nat.ip", _ip("nat_destination_ip")),
    ("destination.nat.port", _port("nat_destination_port")),
    ("network.transport", f"transport_name({_f('protocol')})"),
    ("network.application", _f("application")),
    ("url.original", f"CASE WHEN lower({_f('subtype')}) = 'url' THEN {_f('url_filename')} END"),
    ("rule.name", _f("rule_name")),
    ("rule.uuid", _f("rule_uuid")),
    ("user.name", f"coalesce({_first('source_user', 'user', 'admin')}, {_SYSTEM_USER})"),
    ("destination.user.name", _f("destination_user")),
    ("observer.vendor", "'Palo Alto Networks'"),
    ("observer.product", "'PAN-OS'"),
    ("observer.name", _f("device_name")),
    ("observer.serial_number", _f("serial_number")),
    ("panw.panos.threat.id", f"panos_threat_id({_f('threat_id')})"),
    ("panw.panos.threat.name", f"panos_threat_name({_f('threat_id')})"),
)
