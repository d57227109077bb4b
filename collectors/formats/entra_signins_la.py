"""Log Analytics ``SigninLogs`` rows → ``azure.signinlogs`` (source ``entra-signins-la``).

Accepted, told apart by content (gzip by its magic bytes):

* CSV with a header, as the Log Analytics portal exports it: a BOM, CRLF line ends, dynamic
  columns as JSON text in cells (spanning lines when pretty-printed), and the portal's suffixes
  on column names (``CreatedDateTime [UTC]``, ``Status_dynamic``/``Status_string``) and time
  format (``4/28/2021, 2:08:45.221 PM``, UTC);
* JSON rows keyed by column name: an array, NDJSON, or the query API's response
  ``{"tables": [{"columns": [{"name": ..., "type": ...}], "rows": [[...]]}]}``. Dynamic columns
  may be objects or JSON text (the query API sends text).

The rows of either form become one relation ``la`` of text columns named as in the table (see
``LA_COLUMNS``); one SQL (``_la_select``) turns it into the dataset's columns, the same ones the
Graph parser fills. CSV is read by DuckDB's CSV reader, JSON framed as in
:mod:`collectors.formats.entra_signins`.

Decisions, so a reader need not guess:

* ``@timestamp`` is ``TimeGenerated``, else ``CreatedDateTime``; a time without a zone is UTC.
* ``azure.tenant_id`` is ``HomeTenantId``, else ``ResourceTenantId``, else ``AADTenantId``, as the
  Graph form of the same sign-in has it; never ``TenantId``, which in Log Analytics is the
  workspace's id, not the Entra tenant's.
* Empty strings: a string column of Log Analytics cannot be null, so its ``""`` (an empty CSV
  cell) is stored as null, as Graph's null is; inside a dynamic column (``DeviceDetail``,
  ``Status``, ``LocationDetails``) the JSON is Graph's, and its ``""`` is kept as an empty string
  (``DeviceDetail.deviceId: ""`` is how an unknown device looks).
* ``azure.signinlogs.category``: ``Category``, else from the table name in ``Type``
  (``AADNonInteractiveUserSignInLogs`` → ``NonInteractiveUserSignInLogs``).
* ``event.original`` of a CSV row is the record as it is in the file (its line, or its lines
  when a quoted cell spans several); only when the records cannot be cut out of the text in
  agreement with the CSV reader, the row as a compact JSON object keyed by the header's column
  names. Of a JSON row, the NDJSON line, or the row re-serialised compactly. JSON text in
  dynamic columns is stored minified, whichever form it came in.
* Quarantined, with the reason: a CSV row with the wrong number of cells (or not UTF-8, or
  otherwise unreadable to the CSV reader), a row without a readable time, and for JSON what the
  Graph parser quarantines. A file that cannot be read at all becomes one quarantined record.
"""

from __future__ import annotations

import csv
import json
import mmap
import re
import zlib
from array import array
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.azure_time import time_sql
from collectors.formats.entra_signins import (
    Dialect,
    finish,
    hash_missing_ids,
    parse_json_records,
    read_json_columns,
)
from collectors.formats.entra_signins import (
    parse_pieces as _signin_pieces,
)
from collectors.formats.signin_schema import (
    COLUMNS,
    DATASET,
    DEVICE_DETAIL_SHAPE,
    absent_if_empty,
    empty,
    select_items,
)
from collectors.reading.duckdb_session import connect
from collectors.reading.jsonframe import line_offsets
from collectors.reading.line_views import copied_without_line_ends
from collectors.reading.rawfile import READ_ERRORS, PlainFile, opening, plain_file, read_bytes
from store.batch import ParsedBatch, Quarantined, check_required
from store.sql.literals import quote_ident, quote_literal

SOURCE = "entra-signins-la"

_BOM = b"\xef\xbb\xbf"

__all__ = ["COLUMNS", "DATASET", "LA_COLUMNS", "SOURCE", "parse_file", "parse_pieces"]

#: The ``SigninLogs`` columns the dataset is filled from.
LA_COLUMNS = (
    "TimeGenerated",
    "CreatedDateTime",
    "Id",
    "ResultType",
    "ResultDescription",
    "UserPrincipalName",
    "UserId",
    "UserDisplayName",
    "IPAddress",
    "Location",
    "LocationDetails",
    "UserAgent",
    "HomeTenantId",
    "ResourceTenantId",
    "AADTenantId",
    "Category",
    "Type",
    "Status",
    "AppId",
    "AppDisplayName",
    "ResourceDisplayName",
    "ClientAppUsed",
    "ConditionalAccessStatus",
    "AuthenticationRequirement",
    "AuthenticationProtocol",
    "IsInteractive",
    "RiskState",
    "RiskLevelDuringSignIn",
    "RiskLevelAggregated",
    "DeviceDetail",
    "NetworkLocationDetails",
    "AuthenticationDetails",
    "ConditionalAccessPolicies",
    "CorrelationId",
)

#: Log Analytics table names (``Type``) → diagnostic categories.
_TABLE_CATEGORIES = {
    "SigninLogs": "SignInLogs",
    "AADNonInteractiveUserSignInLogs": "NonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs": "ServicePrincipalSignInLogs",
    "AADManagedIdentitySignInLogs": "ManagedIdentitySignInLogs",
    "ADFSSignInLogs": "ADFSSignInLogs",
}

V = "VARCHAR"
_LOCATION = {"countryOrRegion": V, "city": V, "state": V}
_STATUS = {"errorCode": V, "failureReason": V, "additionalDetails": V}


def _dynamic(column: str, struct: dict) -> str:
    """A dynamic column's JSON text as a struct, null when it is not JSON. (``try`` rather than
    a ``json_valid`` guard: one parse instead of two, 0.7 CPU-s per million rows.)"""
    return f"try(json_transform({column}, '{json.dumps(struct)}'))"


def _minified(column: str) -> str:
    """JSON text as Graph's form of it reads: compact. Only text with a line end or a colon
    and a space is re-written; parsing every cell twice would cost a fifth of the CSV's time.
    (``': '``, not ``'": '``: a needle starting with a quote is slow to find in JSON.)"""
    spaced = f"strpos({column}, chr(10)) > 0 OR strpos({column}, ': ') > 0"
    return (
        f"CASE WHEN {spaced} THEN CASE WHEN json_valid({column}) THEN json({column})::VARCHAR "
        f"ELSE {column} END ELSE NULLIF({column}, '') END"
    )


_CATEGORY_OF_TYPE = " ".join(f"WHEN '{t}' THEN '{c}'" for t, c in _TABLE_CATEGORIES.items())


#: Where each column comes from in a ``SigninLogs`` row; the dynamic columns are parsed as
#: ``loc``, ``st`` and ``dev``. A string column of Log Analytics is never null: ``""`` is how it
#: says "no value" (where Graph writes null), so those read as absent. Inside a dynamic column
#: the JSON is Graph's own, and an empty string there is a value: ``DeviceDetail``'s
#: ``"deviceId": ""`` is what SigmaHQ's unknown-device rules look for.
_LA_TEXTS = {
    **{
        column: absent_if_empty(source)
        for column, source in {
            "event.id": "Id",
            "user.id": "UserId",
            "user.full_name": "UserDisplayName",
            "source.ip": "IPAddress",
            "source.geo.country_iso_code": "coalesce(NULLIF(loc.countryOrRegion, ''), Location)",
            "user_agent.original": "UserAgent",
            "azure.tenant_id": "coalesce(NULLIF(HomeTenantId, ''), NULLIF(ResourceTenantId, ''), AADTenantId)",
            "azure.signinlogs.properties.app_id": "AppId",
            "azure.signinlogs.properties.app_display_name": "AppDisplayName",
            "azure.signinlogs.properties.resource_display_name": "ResourceDisplayName",
            "azure.signinlogs.properties.client_app_used": "ClientAppUsed",
            "azure.signinlogs.properties.conditional_access_status": "ConditionalAccessStatus",
            "azure.signinlogs.properties.authentication_requirement": "AuthenticationRequirement",
            "azure.signinlogs.properties.authentication_protocol": "AuthenticationProtocol",
            "azure.signinlogs.properties.is_interactive": "IsInteractive",
            "azure.signinlogs.properties.risk_state": "RiskState",
            "azure.signinlogs.properties.risk_level_during_signin": "RiskLevelDuringSignIn",
            "azure.signinlogs.properties.risk_level_aggregated": "RiskLevelAggregated",
            "azure.signinlogs.properties.correlation_id": "CorrelationId",
        }.items()
    },
    "source.geo.city_name": "loc.city",
    "source.geo.region_name": "loc.state",
    "azure.signinlogs.result_description": "coalesce(NULLIF(ResultDescription, ''), st.failureReason)",
    "azure.signinlogs.properties.status.failure_reason": "st.failureReason",
    "azure.signinlogs.properties.status.additional_details": "st.additionalDetails",
    "azure.signinlogs.properties.device_detail.device_id": "dev.deviceId",
    "azure.signinlogs.properties.device_detail.display_name": "dev.displayName",
    "azure.signinlogs.properties.device_detail.operating_system": "dev.operatingSystem",
    "azure.signinlogs.properties.device_detail.browser": "dev.browser",
    "azure.signinlogs.properties.device_detail.is_compliant": "dev.isCompliant",
    "azure.signinlogs.properties.device_detail.is_managed": "dev.isManaged",
    "azure.signinlogs.properties.device_detail.trust_type": "dev.trustType",
}
_LA_ITEMS = select_items(
    _LA_TEXTS,
    {
        "azure.signinlogs.category": f"coalesce({absent_if_empty('Category')}, CASE Type {_CATEGORY_OF_TYPE} END)",
        "azure.signinlogs.properties.network_location_details": _minified("NetworkLocationDetails"),
        "azure.signinlogs.properties.authentication_details": _minified("AuthenticationDetails"),
        "azure.signinlogs.properties.applied_conditional_access_policies": _minified("ConditionalAccessPolicies"),
    },
)


def _la_select(with_original: bool) -> str:
    """SQL from ``la(_row, original, _problem_in, <LA_COLUMNS>)`` to the dataset's SQL columns.

    Plus ``_row``, ``_problem`` and ``_reason`` as in :func:`collectors.formats.entra_signins.graph_sql`,
    and ``event.original`` when the reader does not attach it itself.
    """
    original = ', original AS "event.original"' if with_original else ""
    return f"""
, typed AS (
    SELECT *,
        {time_sql("TimeGenerated")} AS generated_ts,
        {time_sql("CreatedDateTime")} AS created_ts,
        {_dynamic("LocationDetails", _LOCATION)} AS loc,
        {_dynamic("Status", _STATUS)} AS st,
        {_dynamic("DeviceDetail", DEVICE_DETAIL_SHAPE)} AS dev
    FROM la
),
fields AS (
    SELECT *,
        coalesce(generated_ts, created_ts) AS ts,
        {absent_if_empty("coalesce(NULLIF(ResultType, ''), st.errorCode)")} AS result_type,
        {absent_if_empty("UserPrincipalName")} AS upn
    FROM typed
)
SELECT
    _row,
    CASE WHEN _problem_in IS NOT NULL THEN _problem_in WHEN ts IS NULL THEN 'time' END AS _problem,
    CASE
        WHEN _problem_in = 'json' THEN 'not valid JSON'
        WHEN _problem_in = 'object' THEN 'not a JSON object'
        WHEN _problem_in IS NOT NULL THEN _problem_in
        WHEN NULLIF(TimeGenerated, '') IS NULL AND NULLIF(CreatedDateTime, '') IS NULL
            THEN 'no TimeGenerated or CreatedDateTime'
        WHEN ts IS NULL THEN 'time ''' || left(coalesce(NULLIF(TimeGenerated, ''), CreatedDateTime), 64)
            || ''' is not a timestamp'
    END AS _reason,
    {_LA_ITEMS}
    {original}
FROM fields
"""


_LA_STRUCT = json.dumps({name: V for name in LA_COLUMNS})

_LA_SHAPE_CHECKED = """
        CASE
            WHEN NOT json_valid(raw) THEN
                CASE WHEN trim(raw, ' ' || chr(9) || chr(10) || chr(13)) = '' THEN 'blank' ELSE 'json' END
            WHEN starts_with(raw, '{') THEN NULL
            WHEN json_type(raw) = 'OBJECT' THEN NULL
            ELSE 'object'
        END"""


def json_sql(checked: bool) -> str:
    """JSON rows, ``records(_row, raw)`` framed by :func:`collectors.reading.jsonframe.frame`.

    Unchecked, a line starting with ``{`` is trusted to be JSON (one parse instead of two); a
    line that is not fails the query and the caller runs the checked form.
    """
    shape = _LA_SHAPE_CHECKED if checked else f"CASE WHEN starts_with(raw, '{{') THEN NULL ELSE {_LA_SHAPE_CHECKED} END"
    return f"""
WITH shaped AS (
    SELECT _row, raw, {shape} AS shape
    FROM records
),
la AS (
    SELECT _row, shape AS _problem_in, j.*
    FROM (SELECT *, CASE WHEN shape IS NULL THEN json_transform(raw, '{_LA_STRUCT}') END AS j FROM shaped)
)
{_la_select(with_original=False)}
"""


def json_file_sql(path_literal: str, compression: str, layout: str) -> str:
    """JSON rows read by DuckDB's own reader (the fast path; see ``Dialect``)."""
    columns = read_json_columns({name: V for name in LA_COLUMNS})
    return f"""
WITH la AS (
    SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _problem_in, r.*
    FROM read_json({path_literal}, format = '{layout}', compression = '{compression}', columns = {columns}) r
)
{_la_select(with_original=False)}
"""


LA_JSON = Dialect(SOURCE, json_sql, json_file_sql)


def _csv_sql(file_name: str, header: list[str], with_original: bool) -> str:
    """Read the plain file ``file_name`` (a path DuckDB reads literally) with DuckDB's CSV reader, every column text, into the ``la`` relation.

    ``with_original`` makes ``event.original`` the row as a JSON object, for the rare file whose
    rows cannot be cut out of the text as they are (see :func:`_csv_rows`).
    """
    columns = ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in header)
    found: dict[str, list[str]] = {}
    for name in header:
        found.setdefault(_canonical(name), []).append(name)
    projection = []
    for column in LA_COLUMNS:
        cells = [f"NULLIF({quote_ident(name)}, '')" for name in found.get(column, [])]
        value = f"coalesce({', '.join(cells)})" if cells else "NULL::VARCHAR"
        projection.append(f"{value} AS {column}")
    original = "to_json(src)::VARCHAR" if with_original else "NULL::VARCHAR"
    return f"""
WITH src AS (
    SELECT * FROM read_csv({quote_literal(file_name)}, columns = {{{columns}}}, header = true,
        delim = ',', quote = '"', escape = '"', auto_detect = false, strict_mode = true,
        store_rejects = true, compression = 'none')
),
la AS (
    SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _problem_in, {original} AS original,
        {", ".join(projection)}
    FROM src
)
{_la_select(with_original)}
"""


_BY_LOWER = {name.lower(): name for name in LA_COLUMNS}


def _canonical(header_name: str) -> str:
    """``CreatedDateTime [UTC]`` → ``CreatedDateTime``; ``Status_dynamic`` → ``Status``; any case."""
    name = re.sub(r"\s*\[[^\]]*\]\s*$", "", header_name.strip())
    name = re.sub(r"_(dynamic|string)$", "", name, flags=re.IGNORECASE)
    return _BY_LOWER.get(name.lower(), name)


# --- files --------------------------------------------------------------------------------


def _opening(path: Path, size: int = 4096) -> bytes:
    """The first bytes of the file's content (decompressed when gzip), BOM removed."""
    head = opening(path, size)
    return head[3:] if head.startswith(_BOM) else head


def _header(data: bytes | mmap.mmap) -> list[str]:
    """The column names on the first line (decoding only that line: a bad byte further on is
    one row's problem, not the file's)."""
    end = data.find(b"\n")
    line = bytes(data[: end if end >= 0 else len(data)])
    return next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")]))


def parse_file(path: Path) -> ParsedBatch:
    """Every ``SigninLogs`` row in ``path`` as ``azure.signinlogs`` events, and the rejects."""
    path = Path(path)
    try:
        head = _opening(path)
    except (OSError, zlib.error) as exc:
        return _unreadable(path, f"cannot read the file: {exc}")
    if not head.strip() or head.lstrip()[:1] in (b"{", b"["):  # blank: JSON framing says why, if anything
        return parse_json_records(path, LA_JSON)
    return _parse_csv(path)


def parse_pieces(path: Path, pieces: Iterable) -> Iterator[ParsedBatch]:
    """A big plain NDJSON export of rows, piece by piece, as replay reads it (see
    :func:`collectors.formats.entra_signins.parse_pieces`)."""
    return _signin_pieces(path, pieces, LA_JSON)


def _unreadable(path: Path, reason: str, damage: list[Quarantined] | None = None) -> ParsedBatch:
    """The file as one quarantined record, after what reading it refused (``damage``)."""
    try:
        record = read_bytes(path).decode("utf-8", "backslashreplace")
    except (OSError, EOFError):
        record = ""
    return ParsedBatch(empty(), [*(damage or []), Quarantined(SOURCE, reason, record, str(path))])


@dataclass
class _CsvRows:
    """The records after a CSV header as they are in the file, and where each starts.

    Blank lines count as records, as DuckDB numbers them in its rejects, but are no rows.
    """

    texts: pa.Array  # large_binary, line ends attached
    lines: list[int] | None  # the line each record starts on; None: record k is on line k + 2
    blank: frozenset[int] = frozenset()
    trimmed: pa.ChunkedArray | None = None  # every record as event.original, when made ahead

    def line(self, k: int) -> int:
        return self.lines[k] if self.lines is not None else k + 2

    def text(self, k: int) -> str:
        return self.texts[k].as_py().rstrip(b"\r\n").decode("utf-8", "backslashreplace")

    def read(self, rejected: set[int]) -> pa.Array | None:
        """The record behind each row the CSV reader returned, in order; None: record k is row k."""
        if not self.blank and not rejected:
            return None
        skipped = self.blank | {number - 2 for number in rejected}
        return pa.array([k for k in range(len(self.texts)) if k not in skipped], pa.int64())

    def originals(self, records: pa.Array | None) -> pa.ChunkedArray:
        if records is None and self.trimmed is not None:
            return self.trimmed
        return _trimmed(self.texts if records is None else self.texts.take(records))


def _trimmed(texts: pa.Array) -> pa.ChunkedArray:
    """Binary record texts without line ends (UTF-8 checked), as ``string``."""
    return copied_without_line_ends(texts.cast(pa.large_string()))


@dataclass
class _CsvText:
    """The file's text cut into lines, before it is known how the records lie on them."""

    data: Any  # bytes or a memory map
    offsets: array
    lines: pa.Array  # large_binary, the header's line first
    trimmed: pa.ChunkedArray | None  # the lines after the header as event.original, if UTF-8


def _csv_text(data: bytes | mmap.mmap) -> _CsvText:
    """Lines of the file, and (ahead, in case each is a record) their texts."""
    start = len(_BOM) if data[: len(_BOM)] == _BOM else 0
    offsets = line_offsets(data, start)
    lines = pa.Array.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        trimmed = _trimmed(lines.slice(1))
    except pa.ArrowInvalid:  # a line that is not UTF-8: the reader rejects it, the rest is taken later
        trimmed = None
    return _CsvText(data, offsets, lines, trimmed)


def _csv_rows(text: _CsvText | None, expected: int) -> _CsvRows | None:
    """The ``expected`` records (rows read and rejected) cut out of the file's text; None when
    that disagrees with the CSV reader.

    When every record is one line (the usual case) the lines are the records. Otherwise a line
    end inside an open quote continues the record: the count of quotes tells.
    """
    if text is None:
        return None
    data, offsets = text.data, text.offsets
    if len(offsets) - 2 == expected:  # the header and one line per record
        return _CsvRows(text.lines.slice(1), None, trimmed=text.trimmed)
    starts, lines, blank, inside = array("q"), [], set(), False
    for index in range(len(offsets) - 1):
        line = data[offsets[index] : offsets[index + 1]]
        if not inside:
            if not line.strip(b"\r\n"):
                blank.add(len(starts) - 1)  # numbered after the header, like the rows
            starts.append(offsets[index])
            lines.append(index + 1)
        if line.count(b'"') % 2:
            inside = not inside
    if len(starts) - 1 - len(blank) != expected:
        return None
    starts.append(offsets[-1])
    texts = pa.Array.from_buffers(pa.large_binary(), len(starts) - 1, [None, pa.py_buffer(starts), pa.py_buffer(data)])
    return _CsvRows(texts.slice(1), lines[1:], frozenset(blank))


def _read_csv(
    con: duckdb.DuckDBPyConnection, name: str, header: list[str]
) -> tuple[pa.Table, dict[int, tuple[str, str, str]]]:
    """DuckDB's reading of the CSV, and the rows it refused (record number → why)."""
    result = con.sql(_csv_sql(name, header, with_original=False)).to_arrow_table()
    rejected: dict[int, tuple[str, str, str]] = {}
    for line, error_type, message, csv_line in con.sql(
        "SELECT line, error_type, error_message, csv_line FROM reject_errors ORDER BY line, column_idx"
    ).fetchall():
        rejected.setdefault(int(line), (error_type, message, csv_line))  # a short row: once per cell
    return result, rejected


def _parse_csv(path: Path) -> ParsedBatch:
    try:
        with plain_file(path, SOURCE) as plain:
            return _parse_plain_csv(path, plain)
    except READ_ERRORS as exc:
        return _unreadable(path, f"cannot read the file: {exc}")


def _parse_plain_csv(path: Path, plain: PlainFile) -> ParsedBatch:
    """The CSV export ``path``, read (by DuckDB, and cut into lines by Python) as ``plain``: the
    same bytes, decompressed within bounds when gzip; a damaged gzip gives its rows before the
    damage and the damage in quarantine."""
    data, damage = plain.content
    try:
        header = _header(data)
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        return _unreadable(path, f"no readable CSV header: {exc}", damage)
    if not header:
        return _unreadable(path, "no readable CSV header: the first line is empty", damage)
    if len(set(header)) != len(header):
        return _unreadable(path, "the CSV header names a column twice", damage)
    con = connect()
    try:
        # DuckDB reads the cells (releasing the GIL) while Python cuts the same text into lines.
        with ThreadPoolExecutor(max_workers=1) as worker:
            reading = worker.submit(_read_csv, con, plain.name, header)
            text = _csv_text(data)
            try:
                result, rejected = reading.result()
            except duckdb.Error as exc:  # not expected of plain text: the file as one record
                return _unreadable(path, f"not readable as CSV: {exc}", damage)
        rows = _csv_rows(text, result.num_rows + len(rejected))
        if rows is None:
            result = con.sql(_csv_sql(plain.name, header, with_original=True)).to_arrow_table()
    finally:
        con.close()
    if rows is not None:
        records = rows.read(set(rejected))
        originals = rows.originals(records)
    else:  # record numbers as the reader counts them, blank lines not known
        records = pa.array([k for k in range(result.num_rows + len(rejected)) if k + 2 not in rejected], pa.int64())
        originals = result.column("event.original")
    quarantined = list(damage)
    quarantined += [_rejected_row(path, number, *why, len(header), rows) for number, why in rejected.items()]
    problems = result.column("_problem")
    if problems.null_count < len(problems):
        quarantined.extend(_unusable_rows(path, result, originals, records, rows))
        keep = problems.is_null()
        result, originals = result.filter(keep), originals.cast(pa.string()).filter(keep)
    table = hash_missing_ids(finish(result, originals))
    check_required(table)
    return ParsedBatch(table, quarantined)


def _rejected_row(
    path: Path, number: int, error_type: str, message: str, csv_line: str, width: int, rows: _CsvRows | None
) -> Quarantined:
    """A row DuckDB's CSV reader refused."""
    found = re.search(r"Found: (\d+)", message or "")
    if error_type in ("MISSING COLUMNS", "TOO MANY COLUMNS") and found:
        reason = f"row has {found.group(1)} cells, the header has {width}"
    else:
        reason = f"{(error_type or 'unreadable row').lower()}: {message}"
    if rows is None:
        return Quarantined(SOURCE, reason, (csv_line or "").lstrip("\r\n"), f"{path}: record {number}")
    return Quarantined(SOURCE, reason, rows.text(number - 2), f"{path}:{rows.line(number - 2)}")


def _unusable_rows(
    path: Path, result: pa.Table, originals: pa.ChunkedArray, records: pa.Array | None, rows: _CsvRows | None
) -> list[Quarantined]:
    """Rows read but not usable (no readable time)."""
    bad = pc.indices_nonzero(result.column("_problem").is_valid()).to_pylist()
    reasons = result.column("_reason")
    out = []
    for index in bad:
        record = records[index].as_py() if records is not None else index  # k-th after the header
        where = f"{path}:{rows.line(record)}" if rows is not None else f"{path}: record {record + 2}"
        out.append(Quarantined(SOURCE, reasons[index].as_py(), originals[index].as_py(), where))
    return out
