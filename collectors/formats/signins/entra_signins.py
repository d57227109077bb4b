"""Entra ID sign-ins as Microsoft Graph writes them → ``azure.signinlogs`` (source ``entra-signins``).

Accepted, told apart by content (gzip by its magic bytes, not its name):

* NDJSON: one Graph ``signIn`` object per line, or one diagnostic-settings record per line
  (``{"category": "SignInLogs", "properties": {...signIn...}, "time": ...}``), or lines that are
  themselves containers (``{"records": [...]}`` as an Event Hub capture writes them, a Graph page);
* one JSON document: a single ``signIn`` (pretty-printed too), a Graph page
  ``{"value": [...], "@odata.nextLink": ...}``, a diagnostic export ``{"records": [...]}``, or an
  array of any of these.

How the work is split, for speed: Python frames the file into an Arrow array of raw record
texts (:mod:`collectors.reading.jsonframe`: line ends found in a memory map; a top-level array split by
DuckDB; any other document unwrapped with orjson); Arrow later trims them into ``event.original``. One SQL SELECT
(:func:`graph_sql`) computes every column and a quarantine reason from a relation ``fields`` of
parsed sign-ins, which comes either from DuckDB's own JSON reader over the file (the fast path:
strict, one parse per record, NDJSON in parallel; it runs while Python frames) or from
``json_transform`` over the framed texts (any shape, any damage). A file the fast path cannot
read exactly goes the second way; both give the same columns. Python touches records one at a
time only when they are rejected. Replay reads a big NDJSON export in pieces of whole lines
(:func:`parse_pieces`): DuckDB's reader runs once over the whole file, ahead, and its rows are
matched to the lines Python cuts out of the file's memory map, piece by piece.

Decisions, so a reader need not guess:

* ``@timestamp`` is the sign-in's ``createdDateTime``, also inside a diagnostic record (whose
  ``time`` is only the fallback): the same sign-in then lands on the same instant, and the same
  day partition, whichever way it was exported.
* ``event.id`` is the sign-in ``id`` (diagnostic records too: the id inside ``properties``), so a
  sign-in fetched from Graph and exported by diagnostic settings is stored once. Without an id it
  is the SHA-256 (hex) of ``event.original``.
* ``event.original`` is the NDJSON line as it was (without its line end); a record taken out of
  a larger document is written compactly (by DuckDB for the elements of a top-level array, kept
  as they are when already compact; by orjson otherwise).
* JSON is read as DuckDB reads it, which accepts trailing commas (Microsoft's own Graph samples
  have them); a document only DuckDB can read is still read.
* An empty string Graph writes is kept as one: Graph writes ``deviceDetail.deviceId: ""`` for a
  device Entra does not know, and SigmaHQ's unknown-device rules ask for exactly that (``''``).
  Only where ``""`` cannot mean anything but "none" is it stored as null: the id (the record's
  hash stands in), the address (an empty string is no IP, and Elasticsearch's ``ip`` field would
  refuse it), the user name and domain (alerts are grouped by them) and the country (a
  ``value_count`` of countries must not count ``""`` as one).
* ``azure.signinlogs.category``: the diagnostic record's ``category``; else from
  ``signInEventTypes``; else ``isInteractive`` (false with no user but a service principal:
  ``ServicePrincipalSignInLogs``); else null.
* Quarantined, with the reason: a line that is not UTF-8 or not JSON, JSON that is not an object,
  a diagnostic record of another category (``AuditLogs``...), a record without a readable
  ``createdDateTime``. Blank lines are not records and are skipped. A file that cannot be read at
  all (corrupt gzip, a broken JSON document) becomes one quarantined record for the file; a
  truncated gzip keeps what decompressed.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.azure_time import time_sql
from collectors.formats.records import Records, joined, record_texts
from collectors.formats.signins.signin_schema import (
    COLUMNS,
    DATASET,
    DEVICE_DETAIL_SHAPE,
    SQL_COLUMNS,
    absent_if_empty,
    conform,
    empty,
    select_items,
)
from collectors.reading.duckdb_session import RowStream, connect
from collectors.reading.jsonframe import (
    Framed,
    Verbatim,
    frame,
    frame_lines,
    is_container,
    is_object,
    read_content,
    records_of,
    unwrap,
)
from collectors.reading.line_views import copied_without_line_ends, without_line_ends
from collectors.reading.literal_path import duckdb_path
from collectors.reading.rawfile import duckdb_compression, is_gzip
from store.batch import ParsedBatch, Quarantined, check_required
from store.sql.literals import quote_literal

SOURCE = "entra-signins"

__all__ = [
    "COLUMNS",
    "DATASET",
    "SOURCE",
    "finish",
    "parse_file",
    "parse_json_records",
    "parse_pieces",
    "parse_records",
]

_BOM = b"\xef\xbb\xbf"

#: Rows per Arrow batch handed to DuckDB: several per piece of a big file, so both cores parse.
_BATCH = 8_192

# --- normalisation: one SQL over the raw texts ----------------------------------------------

V = "VARCHAR"

#: What ``json_transform`` takes out of a ``signIn``; leaves are text, cast in SQL, so a value of
#: an unexpected type becomes null in its column instead of failing the record.
SIGNIN_STRUCT: dict[str, Any] = {
    "id": V,
    "createdDateTime": V,
    "userPrincipalName": V,
    "userId": V,
    "userDisplayName": V,
    "ipAddress": V,
    "location": {"countryOrRegion": V, "city": V, "state": V},
    "userAgent": V,
    "homeTenantId": V,
    "resourceTenantId": V,
    "signInEventTypes": [V],
    "isInteractive": V,
    "servicePrincipalId": V,
    "status": {"errorCode": V, "failureReason": V, "additionalDetails": V},
    "appId": V,
    "appDisplayName": V,
    "resourceDisplayName": V,
    "clientAppUsed": V,
    "conditionalAccessStatus": V,
    "authenticationRequirement": V,
    "authenticationProtocol": V,
    "riskState": V,
    "riskLevelDuringSignIn": V,
    "riskLevelAggregated": V,
    "deviceDetail": DEVICE_DETAIL_SHAPE,
    # Objects and arrays read as VARCHAR are their JSON text, compact: as the JSON type gives
    # them, without a second conversion.
    "networkLocationDetails": V,
    "authenticationDetails": V,
    "appliedConditionalAccessPolicies": V,
    "correlationId": V,
}

#: A diagnostic-settings record: the sign-in under ``properties`` plus the envelope's fields.
RECORD_STRUCT: dict[str, Any] = {
    "properties": SIGNIN_STRUCT,
    "category": V,
    "time": V,
    "tenantId": V,
    "resultType": V,
    "resultDescription": V,
    "callerIpAddress": V,
    "location": V,
}

#: Diagnostic-settings categories that carry sign-ins.
SIGNIN_CATEGORIES = (
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "ADFSSignInLogs",
    "MicrosoftServicePrincipalSignInLogs",
)


def _bare_signin() -> str:
    """A bare ``signIn`` in the record's shape, so both shapes share one struct type."""
    envelope = ", ".join(f"'{k}': NULL::VARCHAR" for k in RECORD_STRUCT if k != "properties")
    return f"{{'properties': json_transform(raw, '{json.dumps(SIGNIN_STRUCT)}'), {envelope}}}"


def read_json_columns(struct: dict[str, Any]) -> str:
    """``struct`` as the ``columns`` argument of DuckDB's ``read_json``."""

    def sql_type(value: Any) -> str:
        if isinstance(value, dict):
            return "STRUCT(" + ", ".join(f'"{k}" {sql_type(v)}' for k, v in value.items()) + ")"
        if isinstance(value, list):
            return f"{sql_type(value[0])}[]"
        return value

    return "{" + ", ".join(f"'{k}': '{sql_type(v)}'" for k, v in struct.items()) + "}"


#: Where each column comes from in a Graph ``signIn`` (``p``) or its diagnostic envelope.
_GRAPH_TEXTS = {
    "event.id": absent_if_empty("p.id"),
    "user.id": "p.userId",
    "user.full_name": "p.userDisplayName",
    "source.ip": absent_if_empty("coalesce(NULLIF(p.ipAddress, ''), envelope_callerIpAddress)"),
    "source.geo.country_iso_code": absent_if_empty(
        "coalesce(NULLIF(p.location.countryOrRegion, ''), envelope_location)"
    ),
    "source.geo.city_name": "p.location.city",
    "source.geo.region_name": "p.location.state",
    "user_agent.original": "p.userAgent",
    "azure.tenant_id": "coalesce(NULLIF(p.homeTenantId, ''), NULLIF(p.resourceTenantId, ''), envelope_tenantId)",
    "azure.signinlogs.result_description": "coalesce(p.status.failureReason, envelope_resultDescription)",
    "azure.signinlogs.properties.status.failure_reason": "p.status.failureReason",
    "azure.signinlogs.properties.status.additional_details": "p.status.additionalDetails",
    "azure.signinlogs.properties.app_id": "p.appId",
    "azure.signinlogs.properties.app_display_name": "p.appDisplayName",
    "azure.signinlogs.properties.resource_display_name": "p.resourceDisplayName",
    "azure.signinlogs.properties.client_app_used": "p.clientAppUsed",
    "azure.signinlogs.properties.conditional_access_status": "p.conditionalAccessStatus",
    "azure.signinlogs.properties.authentication_requirement": "p.authenticationRequirement",
    "azure.signinlogs.properties.authentication_protocol": "p.authenticationProtocol",
    "azure.signinlogs.properties.is_interactive": "p.isInteractive",
    "azure.signinlogs.properties.risk_state": "p.riskState",
    "azure.signinlogs.properties.risk_level_during_signin": "p.riskLevelDuringSignIn",
    "azure.signinlogs.properties.risk_level_aggregated": "p.riskLevelAggregated",
    "azure.signinlogs.properties.device_detail.device_id": "p.deviceDetail.deviceId",
    "azure.signinlogs.properties.device_detail.display_name": "p.deviceDetail.displayName",
    "azure.signinlogs.properties.device_detail.operating_system": "p.deviceDetail.operatingSystem",
    "azure.signinlogs.properties.device_detail.browser": "p.deviceDetail.browser",
    "azure.signinlogs.properties.device_detail.is_compliant": "p.deviceDetail.isCompliant",
    "azure.signinlogs.properties.device_detail.is_managed": "p.deviceDetail.isManaged",
    "azure.signinlogs.properties.device_detail.trust_type": "p.deviceDetail.trustType",
    "azure.signinlogs.properties.correlation_id": "p.correlationId",
}
_GRAPH_CATEGORY = """CASE
        WHEN envelope_category IS NOT NULL THEN envelope_category
        WHEN list_contains(p.signInEventTypes, 'servicePrincipal') THEN 'ServicePrincipalSignInLogs'
        WHEN list_contains(p.signInEventTypes, 'managedIdentity') THEN 'ManagedIdentitySignInLogs'
        WHEN list_contains(p.signInEventTypes, 'nonInteractiveUser') THEN 'NonInteractiveUserSignInLogs'
        WHEN list_contains(p.signInEventTypes, 'interactiveUser') THEN 'SignInLogs'
        WHEN TRY_CAST(p.isInteractive AS BOOLEAN) THEN 'SignInLogs'
        WHEN NOT TRY_CAST(p.isInteractive AS BOOLEAN) AND NULLIF(p.userId, '') IS NULL
             AND NULLIF(p.servicePrincipalId, '') IS NOT NULL THEN 'ServicePrincipalSignInLogs'
        WHEN NOT TRY_CAST(p.isInteractive AS BOOLEAN) THEN 'NonInteractiveUserSignInLogs'
    END"""
_GRAPH_ITEMS = select_items(
    _GRAPH_TEXTS,
    {
        "azure.signinlogs.category": _GRAPH_CATEGORY,
        "azure.signinlogs.properties.network_location_details": "p.networkLocationDetails",
        "azure.signinlogs.properties.authentication_details": "p.authenticationDetails",
        "azure.signinlogs.properties.applied_conditional_access_policies": "p.appliedConditionalAccessPolicies",
    },
)

_CATEGORIES_SQL = ", ".join(f"'{c}'" for c in SIGNIN_CATEGORIES)

#: Which records are what, when every text is checked to be JSON first. Nested CASEs, not
#: AND/OR: DuckDB skips a WHEN's rows that an earlier one took, but evaluates both sides of AND
#: and OR, and every json_* call parses the text again. strpos, not contains: a needle that
#: starts with a quote is slow to find in JSON.
_SHAPE_CHECKED = """
        CASE
            WHEN NOT json_valid(raw) THEN
                CASE WHEN trim(raw, ' ' || chr(9) || chr(10) || chr(13)) = '' THEN 'blank' ELSE 'json' END
            WHEN strpos(raw, 'properties"') > 0 THEN
                CASE WHEN json_type(raw, '$.properties') = 'OBJECT' THEN 'record'
                     WHEN starts_with(raw, '{') THEN 'signin'
                     WHEN json_type(raw) = 'OBJECT' THEN 'signin'
                     ELSE 'object' END
            WHEN starts_with(raw, '{') THEN 'signin'
            WHEN json_type(raw) = 'OBJECT' THEN 'signin'
            ELSE 'object'
        END"""

#: The same, trusting that a text starting with ``{`` is JSON: one parse per record instead of
#: two. ``json_transform`` fails the query on the first one that is not.
_SHAPE_TRUSTING = f"""
        CASE
            WHEN strpos(raw, 'properties"') > 0 THEN {_SHAPE_CHECKED}
            WHEN starts_with(raw, '{{') THEN 'signin'
            ELSE {_SHAPE_CHECKED}
        END"""

#: Columns of ``fields`` besides the sign-in ``p``, null where a source has no envelope.
_ENVELOPE = ("category", "time", "tenantId", "resultType", "resultDescription", "callerIpAddress", "location")


def _fields_from_records(checked: bool) -> str:
    """``fields`` from ``records(_row, raw)``: bare ``signIn`` objects and diagnostic records."""
    envelope = ", ".join(f'j."{k}" AS "envelope_{k}"' for k in _ENVELOPE)
    return f"""
shaped AS (
    SELECT _row, raw, {_SHAPE_CHECKED if checked else _SHAPE_TRUSTING} AS shape FROM records
),
parsed AS (
    SELECT _row, shape,
        CASE WHEN shape = 'object' THEN json_type(raw) END AS json_kind,
        CASE shape
            WHEN 'signin' THEN {_bare_signin()}
            WHEN 'record' THEN json_transform(raw, '{json.dumps(RECORD_STRUCT)}')
        END AS j
    FROM shaped
),
fields AS (
    SELECT _row, shape, json_kind, j.properties AS p, {envelope} FROM parsed
)"""


def _fields_from_file(path_literal: str, compression: str, layout: str) -> str:
    """``fields`` read by DuckDB's own JSON reader from a file of bare ``signIn`` objects."""
    envelope = ", ".join(f'NULL::VARCHAR AS "envelope_{k}"' for k in _ENVELOPE)
    return f"""
fields AS (
    SELECT NULL::BIGINT AS _row, 'signin' AS shape, NULL::VARCHAR AS json_kind, r AS p, {envelope}
    FROM read_json({path_literal}, format = '{layout}', compression = '{compression}',
                   columns = {read_json_columns(SIGNIN_STRUCT)}) r
)"""


def graph_sql(fields: str) -> str:
    """From ``fields`` (a sign-in ``p`` and its envelope) to every SQL column, plus ``_row``,
    ``_problem`` (blank, json, object, category, time) and ``_reason`` for a person."""
    not_signin = f"envelope_category NOT IN ({_CATEGORIES_SQL})"
    return f"""
WITH {fields},
computed AS (
    SELECT *,
        coalesce(TRY_CAST(p.createdDateTime AS TIMESTAMPTZ), {time_sql("envelope_time")}) AS ts,
        coalesce(NULLIF(p.createdDateTime, ''), envelope_time) AS ts_text,
        CASE WHEN NULLIF(p.createdDateTime, '') IS NULL THEN 'time' ELSE 'createdDateTime' END AS ts_field,
        {absent_if_empty("coalesce(p.status.errorCode, envelope_resultType)")} AS result_type,
        {absent_if_empty("p.userPrincipalName")} AS upn
    FROM fields
)
SELECT
    _row,
    CASE
        WHEN shape IN ('blank', 'json', 'object') THEN shape
        WHEN {not_signin} THEN 'category'
        WHEN ts IS NULL THEN 'time'
    END AS _problem,
    CASE
        WHEN shape = 'json' THEN 'not valid JSON'
        WHEN shape = 'object' THEN 'a JSON ' || CASE json_kind WHEN 'ARRAY' THEN 'array'
            WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null'
            ELSE 'number' END || ', not an object'
        WHEN {not_signin} THEN concat('diagnostic record of category "', envelope_category, '", not a sign-in log')
        WHEN ts_text IS NULL THEN CASE WHEN envelope_category IS NULL THEN 'no createdDateTime'
            ELSE 'no createdDateTime in properties and no time on the record' END
        WHEN ts IS NULL THEN concat(ts_field, ' "', left(ts_text, 64), '" is not a timestamp')
    END AS _reason,
    {_GRAPH_ITEMS}
FROM computed
"""


# --- running: records → events and rejects ---------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How one source's JSON records become the dataset's columns: one final SELECT, over
    records handed over by Python, or over an NDJSON file DuckDB reads itself (the fast path)."""

    source: str
    from_records: Callable[[bool], str]  # SQL over records(_row, raw); True: check JSON first
    #: SQL over a file DuckDB reads itself: (the path as a SQL literal, compression,
    #: ``newline_delimited`` or ``array``).
    from_file: Callable[[str, str, str], str]
    #: A first line containing this is read record by record: a shape the file reader's fixed
    #: columns do not fit (a diagnostic record for Graph).
    not_for_file: str = ""


GRAPH = Dialect(
    SOURCE,
    lambda checked: graph_sql(_fields_from_records(checked)),
    lambda path, compression, layout: graph_sql(_fields_from_file(path, compression, layout)),
    not_for_file='properties"',
)


def _records_table(raw: pa.Array) -> pa.Table:
    """``records(_row, raw)`` in several batches, so DuckDB parses on every core."""
    rows = pa.array(range(len(raw)), pa.int64())
    batches = [
        pa.record_batch([rows.slice(s, _BATCH), raw.slice(s, _BATCH)], names=["_row", "raw"])
        for s in range(0, len(raw), _BATCH)
    ]
    schema = pa.schema([("_row", pa.int64()), ("raw", pa.large_string())])
    return pa.Table.from_batches(batches, schema=schema)


def _run(con: duckdb.DuckDBPyConnection, dialect: Dialect, raw: pa.Array, trusting: bool) -> pa.Table:
    """The dialect's SQL over these records; trusting first, checked if a text is not JSON."""
    con.register("records", _records_table(raw))
    try:
        if trusting:
            try:
                return con.sql(dialect.from_records(False)).to_arrow_table()
            except duckdb.InvalidInputException as exc:
                if "Malformed JSON" not in str(exc):
                    raise
        return con.sql(dialect.from_records(True)).to_arrow_table()
    finally:
        con.unregister("records")


def _fast_layout(path: Path, dialect: Dialect) -> str | None:
    """How DuckDB's strict reader should read the file, or None when it is not worth trying:
    ``array`` for one JSON array, ``newline_delimited`` when the first line is a JSON object
    that is not of a shape the reader's fixed columns miss (``Dialect.not_for_file``)."""
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as handle:
            first = handle.readline(1_048_576)
    except (OSError, EOFError, zlib.error):
        return None
    if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return "array"
    if dialect.not_for_file and dialect.not_for_file.encode() in first:
        return None
    return "newline_delimited" if is_object(first) else None


def _read_file(
    con: duckdb.DuckDBPyConnection, dialect: Dialect, path: Path, layout: str
) -> tuple[pa.Table | None, bool]:
    """The fast path: DuckDB reads the file itself, one parse per record, NDJSON in parallel.

    Its reader is strict: a record that is not a JSON object of the expected shape fails the
    query. Then None, and the records go the general way; True with it when a line was not
    JSON at all (the general way then checks every text first).
    """
    compression = duckdb_compression(path)
    try:
        with duckdb_path(path) as name:
            result = con.sql(dialect.from_file(quote_literal(name), compression, layout)).to_arrow_table()
    except (duckdb.Error, OSError) as exc:  # an optimisation only: whatever stops it, the general way reads
        return None, "Malformed JSON" in str(exc)
    rows = pa.array(range(result.num_rows), pa.int64())
    return result.set_column(result.column_names.index("_row"), "_row", rows), False


def _originals(framed: Framed, rows: pa.Array | None, trim: bool = True) -> pa.ChunkedArray:
    """The surviving records' texts without line ends (``trim``: lines have them): ``event.original``.

    Lines cut out of a memory map the caller stores before the file can change
    (``framed.borrowed``) stay views of the file's bytes (:mod:`collectors.reading.line_views`); others
    are copied, so a batch handed back does not change if its file is later rewritten.
    """
    lines = framed.raw if rows is None else framed.raw.take(rows)
    return without_line_ends(lines, trim) if framed.borrowed else copied_without_line_ends(lines, trim)


def _json_error(text: str) -> str:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON: {exc}"
    return "not valid JSON"


def parse_json_records(path: Path, dialect: Dialect) -> ParsedBatch:
    """Frame ``path``, normalise its records with ``dialect``, split events from rejects.

    For a file that looks like NDJSON, DuckDB reads it (releasing the GIL) while Python frames
    it and trims the lines into ``event.original``: the two overlap on the two cores. Records
    rejected as not a sign-in that turn out to be containers (a Graph page or
    ``{"records": [...]}`` on one line, an array) are opened and their records go through the
    same SQL; the hot path never looks for containers.
    """
    path = Path(path)
    con = connect()
    try:
        with ThreadPoolExecutor(max_workers=1) as worker:
            layout = _fast_layout(path, dialect)
            fast = worker.submit(_read_file, con, dialect, path, layout) if layout else None
            try:
                framed = frame(path, dialect.source)
                if fast is not None and (framed.whole_lines or framed.elements):
                    # what the fast path will want
                    framed.trimmed = _originals(framed, None, trim=framed.whole_lines)
            except OSError as exc:  # unreadable, not malformed: one entry, never an exception
                reason = f"cannot read the file: {exc}"
                return ParsedBatch(empty(), [Quarantined(dialect.source, reason, "", str(path))])
            result, malformed = fast.result() if fast is not None else (None, False)
        lined_up = framed.elements if layout == "array" else framed.whole_lines
        if result is not None and not (lined_up and result.num_rows == len(framed.raw)):
            result = None  # DuckDB skipped blank lines, or read what Python could not: go slowly
        return _normalise(con, dialect, framed, result, malformed)
    except duckdb.Error as exc:  # not expected from any input: keep the file, say why
        return ParsedBatch(empty(), [_whole_file(path, dialect.source, f"could not be parsed: {exc}")])
    finally:
        con.close()


def parse_pieces(path: Path, pieces: Iterable, dialect: Dialect = GRAPH) -> Iterator[ParsedBatch]:
    """One batch per piece of a big plain NDJSON export (``collectors.reading.chunking.Lines``: whole
    lines, in order, from the file's memory map, the first piece at the file's start).

    The file is read by nobody but DuckDB and Python's memory map, each once, and no piece is
    written to disk again. DuckDB's strict JSON reader reads the whole file ahead, on its own
    threads (:class:`RowStream`), while Python cuts each piece into lines (Arrow strings over
    the mapped bytes) for ``event.original``; the reader's rows are matched to the lines one for
    one. That needs every line to be a row: from the first piece where that cannot be known (a
    blank line, a line that is not UTF-8) or the reader stops (text that is not JSON), pieces go
    to DuckDB as Arrow strings and are read the general way. Rows of a shape the reader's fixed
    columns miss go the general way too, as in :func:`parse_file`. Events and quarantine
    (origins name ``path`` and its own line numbers) are what :func:`parse_file` gives for the
    same lines.
    """
    path = Path(path)
    with duckdb_path(path) as name:
        yield from _pieces(path, name, pieces, dialect)


def _pieces(path: Path, name: str, pieces: Iterable, dialect: Dialect) -> Iterator[ParsedBatch]:
    """:func:`parse_pieces`, with DuckDB reading the file by ``name`` (a literal path)."""
    stream, line = None, 1
    if _fast_layout(path, dialect) == "newline_delimited":
        stream = RowStream(dialect.from_file(quote_literal(name), "none", "newline_delimited"))
    try:
        for piece in pieces:
            framed = frame_lines(piece.data, piece.start, piece.stop, path, dialect.source, line)
            framed.borrowed = True  # replay stores each batch before it reads on
            line += len(framed.raw)  # every line is a record here, blank or not
            result = None
            if stream is not None:
                if framed.whole_lines and not _has_blank(framed.raw):
                    result = stream.take(len(framed.raw))
                if result is None:
                    stream.close()
                    stream = None
                else:
                    rows = pa.array(range(result.num_rows), pa.int64())
                    result = result.set_column(result.column_names.index("_row"), "_row", rows)
            yield _parse_piece(framed, result, dialect, _text_of(piece))
    finally:
        if stream is not None:
            stream.close()


def _has_blank(raw: pa.Array) -> bool:
    """Whether a line is only white space: DuckDB's reader skips those, so its rows would no
    longer line up with the lines. (Lines that start with ``{`` are not: the usual case, told
    without reading further into any line.)"""
    if pc.all(pc.starts_with(raw, "{")).as_py() is not False:
        return False
    return pc.any(pc.match_substring_regex(raw, r"^[ \t\r\n]*$")).as_py() or False


def _text_of(piece: Any) -> Callable[[], bytes]:
    """The piece's bytes, cut out only if a rejected record needs them."""
    return lambda: piece.data[piece.start : piece.stop]


def _parse_piece(framed: Framed, result: pa.Table | None, dialect: Dialect, text: Callable[[], bytes]) -> ParsedBatch:
    con = connect()
    try:
        return _normalise(con, dialect, framed, result, False)
    except duckdb.Error as exc:  # not expected from any input: keep the piece, say why
        record = bytes(text()).decode("utf-8", "backslashreplace")
        where = f"{framed.path}:{framed.first_line}"
        return ParsedBatch(empty(), [Quarantined(dialect.source, f"could not be parsed: {exc}", record, where)])
    finally:
        con.close()


def _normalise(
    con: duckdb.DuckDBPyConnection, dialect: Dialect, framed: Framed, result: pa.Table | None, malformed: bool
) -> ParsedBatch:
    """Events and rejects of framed records; ``result`` is the fast path's reading of them, if
    any (``malformed``: it met a line that is not JSON)."""
    quarantined, parts = list(framed.quarantined), []
    retry = result is not None  # what the strict reader could not use, the general way reads
    while len(framed.raw):
        if result is None:
            result = _run(con, dialect, framed.raw, trusting=not malformed)
        events, rejects, framed = _split(result, framed, dialect.source, retry)
        result, malformed, retry = None, False, False
        if events.num_rows:
            parts.append(events)
        quarantined.extend(rejects)
    table = pa.concat_tables(parts) if parts else empty()
    check_required(table)
    return ParsedBatch(table, quarantined)


def _whole_file(path: Path, source: str, reason: str) -> Quarantined:
    data, _ = read_content(path, source)
    return Quarantined(source, reason, bytes(data).decode("utf-8", "backslashreplace"), str(path))


def _split(result: pa.Table, framed: Framed, source: str, retry: bool) -> tuple[pa.Table, list[Quarantined], Framed]:
    """Events and rejects of ``framed``, and the records to read again: those of containers
    found among the rejects, and with ``retry`` every reject as it is (a fast-path result: the
    line may be a diagnostic record or a container, which only the general way reads)."""
    problems = result.column("_problem")
    rows = None
    rejects: list[Quarantined] = []
    inner: list[tuple[int | None, str | None, Any]] = []
    if problems.null_count < len(problems):
        bad = result.filter(pc.is_valid(problems)).select(["_row", "_problem", "_reason"]).to_pylist()
        for reject in bad:
            if retry:
                row = reject["_row"]
                text = Verbatim(framed.raw[row].as_py().rstrip("\r\n"))
                inner.append((framed.line(row), framed.pointer(row), text))
            else:
                _reject(framed, reject, source, rejects, inner)
        result = result.filter(pc.is_null(problems))
        rows = result.column("_row").combine_chunks()
    elif result.num_rows != len(framed.raw):
        rows = result.column("_row").combine_chunks()
    # else every record survived, in order: the raw texts are the originals as they are
    if rows is None and framed.trimmed is not None:
        originals = framed.trimmed
    else:
        originals = _originals(framed, rows, trim=not framed.elements)
    events = hash_missing_ids(finish(result, originals))
    nested = records_of(inner, framed.path) if inner else Framed(framed.path, pa.array([], pa.large_string()))
    nested.borrowed = framed.borrowed  # one type of event.original per batch
    return events, rejects, nested


def _reject(framed: Framed, reject: dict, source: str, rejects: list, inner: list) -> None:
    """Quarantine one rejected record, or open it when it is a container of records."""
    if reject["_problem"] == "blank":  # not a record: nothing to keep
        return
    row = reject["_row"]
    text = framed.raw[row].as_py().rstrip("\r\n")
    if reject["_problem"] in ("object", "time"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:  # DuckDB is laxer than orjson (trailing commas)
            value = None
        if is_container(value):
            line, prefix = framed.line(row), framed.pointer(row) or "$"
            inner.extend((line, pointer, item) for pointer, item in unwrap(value, prefix))
            return
    reason = _json_error(text) if reject["_problem"] == "json" else reject["_reason"]
    rejects.append(Quarantined(source, reason, text, framed.origin(row)))


def finish(result: pa.Table, originals: pa.Array | pa.ChunkedArray) -> pa.Table:
    """The SQL's columns plus ``event.original`` and ``event.ingested``, in the dataset's order."""
    ingested = pa.scalar(datetime.now(UTC), COLUMNS["event.ingested"])
    table = result.select(SQL_COLUMNS)
    table = table.append_column("event.original", originals)
    table = table.append_column("event.ingested", pa.repeat(ingested, table.num_rows))
    return conform(table)


def hash_missing_ids(table: pa.Table) -> pa.Table:
    """``event.id`` of records without an id: the SHA-256 (hex) of ``event.original``, hashed
    where the texts lie (``logscan``), for those records only."""
    if not table.column("event.id").null_count:
        return table
    filled = [_hashed_ids(batch.column("event.id"), batch.column("event.original")) for batch in table.to_batches()]
    ids = pa.chunked_array(filled, pa.string())
    return table.set_column(table.column_names.index("event.id"), "event.id", ids)


def _hashed_ids(ids: pa.Array, texts: pa.Array) -> pa.Array:
    """``ids`` with each null replaced by the SHA-256 of its row's text."""
    if not ids.null_count:
        return ids
    missing = ids.is_null()
    if not pa.types.is_large_string(texts.type):  # string_view (a file read in place) or string
        texts = texts.cast(pa.large_string())
    rows = np.flatnonzero(missing.to_numpy(zero_copy_only=False))
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset : texts.offset + len(texts) + 1]
    digests = logscan.sha256_hex(texts.buffers()[2] or b"", offsets[rows], offsets[rows + 1])
    return pc.replace_with_mask(ids, missing, digests)


def parse_file(path: Path) -> ParsedBatch:
    """Every sign-in in ``path`` as ``azure.signinlogs`` events, and what could not be read."""
    return parse_json_records(Path(path), GRAPH)


#: Where records handed over in memory are, while they are framed: origins are made with it and
#: then given the caller's ``origin`` (a page's URL is no path: ``Path`` would fold its ``//``).
_IN_MEMORY = Path("in-memory-records")


def parse_records(records: Records, origin: str) -> ParsedBatch:
    """What :func:`parse_file` gives for ``records`` written as NDJSON lines, without the file;
    ``origin`` names them where the file's path would (``<origin>:<record number>``).

    Plain records go to the general way's SQL as one Arrow string array (the way a file's lines
    take when DuckDB's own reader cannot be used); records with a line end, bytes that are not
    UTF-8 or a byte-order mark are framed as a file's lines are, from their bytes in memory. A
    live page's records are records: unlike a file, they are never read together as one JSON
    document, so the first record should be a record (it always is on a Graph page).
    """
    plain = record_texts(records)
    if plain is not None:
        framed = Framed(_IN_MEMORY, plain, whole_lines=True)
    else:
        data = joined(records)
        start = len(_BOM) if data.startswith(_BOM) else 0
        framed = frame_lines(data, start, len(data), _IN_MEMORY, SOURCE, 1)
    con = connect()
    try:
        batch = _normalise(con, GRAPH, framed, None, False)
    except duckdb.Error as exc:  # not expected from any input: keep the records, say why
        record = joined(records).decode("utf-8", "backslashreplace")
        return ParsedBatch(empty(), [Quarantined(SOURCE, f"could not be parsed: {exc}", record, origin)])
    finally:
        con.close()
    prefix = len(str(_IN_MEMORY))
    return ParsedBatch(batch.events, [replace(q, origin=origin + q.origin[prefix:]) for q in batch.quarantined])
