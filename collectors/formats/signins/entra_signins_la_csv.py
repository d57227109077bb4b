"""The Log Analytics portal's CSV export of ``SigninLogs``, read in bulk.

DuckDB's CSV reader reads the cells (strict: a row with a cell too few or too many, or a cell it
reads that is not UTF-8, is refused and listed); Python cuts the same bytes into records on a
thread of its own, so each event keeps its record as it is in the file as ``event.original``.
When every record is one line the lines are the records; otherwise a line end inside an open
quote continues a record. The rows then go through the shared SQL
(:func:`collectors.formats.signins.entra_signins_la_sql.la_select`).
"""

from __future__ import annotations

import csv
import mmap
import re
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.signins.entra_signins import finish, hash_missing_ids
from collectors.formats.signins.entra_signins_la_sql import LA_COLUMNS, SOURCE, la_select
from collectors.formats.signins.signin_schema import empty
from collectors.reading.duckdb_session import connect
from collectors.reading.jsonframe import line_offsets
from collectors.reading.line_views import copied_without_line_ends
from collectors.reading.rawfile import READ_ERRORS, PlainFile, plain_file, read_bytes
from store.batch import ParsedBatch, Quarantined, check_required
from store.sql.literals import quote_ident, quote_literal

BOM = b"\xef\xbb\xbf"


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
{la_select(with_original)}
"""


_BY_LOWER = {name.lower(): name for name in LA_COLUMNS}


def _canonical(header_name: str) -> str:
    """``CreatedDateTime [UTC]`` → ``CreatedDateTime``; ``Status_dynamic`` → ``Status``; any case."""
    name = re.sub(r"\s*\[[^\]]*\]\s*$", "", header_name.strip())
    name = re.sub(r"_(dynamic|string)$", "", name, flags=re.IGNORECASE)
    return _BY_LOWER.get(name.lower(), name)


def _header(data: bytes | mmap.mmap) -> list[str]:
    """The column names on the first line (decoding only that line: a bad byte further on is
    one row's problem, not the file's)."""
    end = data.find(b"\n")
    line = bytes(data[: end if end >= 0 else len(data)])
    return next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")]))


def unreadable(path: Path, reason: str, damage: list[Quarantined] | None = None) -> ParsedBatch:
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
    offsets: np.ndarray
    lines: pa.Array  # large_binary, the header's line first
    trimmed: pa.ChunkedArray | None  # the lines after the header as event.original, if UTF-8


def _csv_text(data: bytes | mmap.mmap) -> _CsvText:
    """Lines of the file, and (ahead, in case each is a record) their texts."""
    start = len(BOM) if data[: len(BOM)] == BOM else 0
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
    if len(text.offsets) - 2 == expected:  # the header and one line per record
        return _CsvRows(text.lines.slice(1), None, trimmed=text.trimmed)
    rows = _records_by_quotes(text)
    return rows if len(rows.texts) - len(rows.blank) == expected else None


def _records_by_quotes(text: _CsvText) -> _CsvRows:
    """The records after the header, cut where a line end is outside quotes (the general cut,
    line by line in Python; :func:`_csv_rows` takes the lines as they are when their count
    shows every record is one line)."""
    data, offsets = text.data, text.offsets.tolist()
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


def parse_csv(path: Path) -> ParsedBatch:
    """Every row of the CSV export ``path`` as events, and the rows it cannot use."""
    try:
        with plain_file(path, SOURCE) as plain:
            return _parse_plain_csv(path, plain)
    except READ_ERRORS as exc:
        return unreadable(path, f"cannot read the file: {exc}")


def _parse_plain_csv(path: Path, plain: PlainFile) -> ParsedBatch:
    """The CSV export ``path``, read (by DuckDB, and cut into lines by Python) as ``plain``: the
    same bytes, decompressed within bounds when gzip; a damaged gzip gives its rows before the
    damage and the damage in quarantine."""
    data, damage = plain.content
    try:
        header = _header(data)
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        return unreadable(path, f"no readable CSV header: {exc}", damage)
    if not header:
        return unreadable(path, "no readable CSV header: the first line is empty", damage)
    if len(set(header)) != len(header):
        return unreadable(path, "the CSV header names a column twice", damage)
    con = connect()
    try:
        # DuckDB reads the cells (releasing the GIL) while Python cuts the same text into lines.
        with ThreadPoolExecutor(max_workers=1) as worker:
            reading = worker.submit(_read_csv, con, plain.name, header)
            text = _csv_text(data)
            try:
                result, rejected = reading.result()
            except duckdb.Error as exc:  # not expected of plain text: the file as one record
                return unreadable(path, f"not readable as CSV: {exc}", damage)
        rows = _csv_rows(text, result.num_rows + len(rejected))
        if rows is None:
            result = con.sql(_csv_sql(plain.name, header, with_original=True)).to_arrow_table()
    finally:
        con.close()
    foreign: list[Quarantined] = []
    if rows is not None:
        records = rows.read(set(rejected))
        try:
            originals = rows.originals(records)
        except pa.ArrowInvalid:  # a byte that is not UTF-8 in a column the reader was not asked for
            result, records, foreign = _without_foreign_bytes(path, result, records, rows)
            originals = rows.originals(records)
    else:  # record numbers as the reader counts them, blank lines not known
        records = pa.array([k for k in range(result.num_rows + len(rejected)) if k + 2 not in rejected], pa.int64())
        originals = result.column("event.original")
    quarantined = list(damage)
    quarantined += [_rejected_row(path, number, *why, len(header), rows) for number, why in rejected.items()]
    quarantined += foreign
    problems = result.column("_problem")
    if problems.null_count < len(problems):
        quarantined.extend(_unusable_rows(path, result, originals, records, rows))
        keep = problems.is_null()
        result, originals = result.filter(keep), originals.cast(pa.string()).filter(keep)
    table = hash_missing_ids(finish(result, originals))
    check_required(table)
    return ParsedBatch(table, quarantined)


def _without_foreign_bytes(
    path: Path, result: pa.Table, records: pa.Array | None, rows: _CsvRows
) -> tuple[pa.Table, pa.Array, list[Quarantined]]:
    """The rows whose record is UTF-8, their records, and the others quarantined.

    DuckDB checks the encoding of the cells it is asked for only, so a stray byte in a column
    the parser does not read passes it; the record would then not be text to keep as
    ``event.original``. Checked in slices, so only a slice with a bad record is read in Python.
    """
    behind = records if records is not None else pa.array(range(len(rows.texts)), pa.int64())
    keep: list[pa.Array] = []  # per slice, which of its rows are UTF-8
    bad: list[Quarantined] = []
    for start in range(0, len(behind), _CHECK_SLICE):
        piece = behind.slice(start, _CHECK_SLICE)
        try:
            rows.texts.take(piece).cast(pa.large_string())
            keep.append(pc.is_valid(piece))  # all true: the slice is text
            continue
        except pa.ArrowInvalid:
            pass
        reasons = [_not_utf8(rows.texts[record].as_py()) for record in piece.to_pylist()]
        keep.append(pa.array([reason is None for reason in reasons], pa.bool_()))
        bad += [
            Quarantined(SOURCE, reason, rows.text(record), f"{path}:{rows.line(record)}")
            for record, reason in zip(piece.to_pylist(), reasons)
            if reason is not None
        ]
    mask = pa.chunked_array(keep, pa.bool_())
    return result.filter(mask), behind.filter(mask).combine_chunks(), bad


#: Rows per slice when looking for records that are not UTF-8.
_CHECK_SLICE = 65_536


def _not_utf8(record: bytes) -> str | None:
    """Why ``record`` is not UTF-8 (the byte and its column, as the JSON forms say it), or None."""
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8: byte 0x{record[exc.start]:02x} at column {exc.start + 1}"
    return None


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
