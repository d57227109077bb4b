"""An export file's bytes as the texts a JSON parser's query reads: its lines, or one document.

The Azure Firewall and Defender alert parsers take whatever an administrator exported: NDJSON,
or one (often pretty-printed) document such as an envelope, a page or an array. Both need the
same first decision, made once here so the two cannot drift apart: is the file one JSON
document, or lines that each stand alone (so one bad line costs only itself)? What is inside a
text (envelopes, pages, incidents) is each parser's own business.

The sign-in parsers frame differently (memory-mapped, line ends kept): see ``collectors.reading.jsonframe``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

_NON_BLANK = re.compile(rb"\S")
_BOM = b"\xef\xbb\xbf"
#: One row per text: ``n`` is the file's line number (1 for a whole document).
TEXTS = pa.schema([("n", pa.int64()), ("raw", pa.large_string())])
#: What :func:`loads` answers for text that is not JSON even to DuckDB's lenient reader.
NOT_JSON = object()


def lines_or_document(con: duckdb.DuckDBPyConnection, data: bytes) -> tuple[pa.Table, bool]:
    """The file as a table (n, raw) of texts, and whether it is one JSON document.

    It is one document when it has a single line, or when its first line is not JSON on its own
    (``{`` of a pretty-printed record, ``[`` of an array) and the whole text is. Otherwise every
    line is a text, without its line end. A BOM is dropped, CRLF read as LF, and bytes that are
    not UTF-8 become U+FFFD, so every text is valid for DuckDB. A blank file has no texts.
    """
    data = _valid_utf8(_prepared(data))
    first = _NON_BLANK.search(data)
    if first is None:
        return TEXTS.empty_table(), False
    end = data.find(b"\n", first.start())
    single_line = end == -1 or _NON_BLANK.search(data, end) is None
    if single_line or (not _json_valid(con, data[first.start() : end]) and _json_valid(con, data)):
        return pa.table(
            [pa.array([1], pa.int64()), pa.array([data.decode("utf-8")], pa.large_string())], schema=TEXTS
        ), True
    lines = _lines(data)
    return pa.table([pa.array(range(1, len(lines) + 1), pa.int64()), lines], schema=TEXTS), False


def original_digests(data: bytes, whole: bool) -> pa.Array | None:
    """The SHA-256 (hex) of each text's original bytes, by ``n - 1`` (the framing of
    :func:`lines_or_document`; ``whole``: it read one document); None when the file is valid UTF-8.

    A text holds U+FFFD where the file had bytes that are not UTF-8, so two records that differ
    only there read alike: a record id made from the text would merge them. Rare, so the bytes
    are hashed one text at a time, and only then.
    """
    data = _prepared(data)
    if _valid_utf8(data) is data:
        return None
    texts = [data] if whole else data.split(b"\n")
    if not whole and data.endswith(b"\n"):
        texts.pop()  # the last line end opens no line
    return pa.array([hashlib.sha256(text).hexdigest() for text in texts], pa.string())


def _prepared(data: bytes) -> bytes:
    """Without a BOM, CRLF read as LF: the bytes the texts are cut from."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    return data


def loads(con: duckdb.DuckDBPyConnection, text: str) -> Any:
    """The JSON value of a text, or :data:`NOT_JSON`. orjson is strict, so text it refuses
    (trailing commas, as in Elastic's and Microsoft's documentation samples) is minified by
    DuckDB's more lenient reader first, the same reader that decided the framing."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    minified = con.execute("SELECT CASE WHEN json_valid($1) THEN json($1)::VARCHAR END", [text]).fetchall()[0][0]
    try:
        return NOT_JSON if minified is None else orjson.loads(minified)
    except orjson.JSONDecodeError:
        return NOT_JSON


def _json_valid(con: duckdb.DuckDBPyConnection, text: bytes) -> bool:
    """Whether DuckDB reads the text as JSON (it allows trailing commas, as :func:`loads` does)."""
    return bool(con.execute("SELECT json_valid(?)", [text.decode("utf-8")]).fetchall()[0][0])


def _valid_utf8(data: bytes) -> bytes:
    """The bytes, with invalid UTF-8 sequences replaced by U+FFFD (rare; the check is cheap)."""
    view = pa.LargeStringArray.from_buffers(1, pa.array([0, len(data)], pa.int64()).buffers()[1], pa.py_buffer(data))
    try:
        view.validate(full=True)
        return data
    except pa.ArrowInvalid:
        return data.decode("utf-8", errors="replace").encode("utf-8")


def _lines(data: bytes) -> pa.Array | pa.ChunkedArray:
    """The file's lines, without their line ends, the last one dropped when empty.

    Arrow's multi-threaded CSV reader, told that a line is one unquoted column, splits lines
    twice as fast as ``split_pattern``. It would also split at a bare CR and at the delimiter
    (U+001F, which valid JSON never holds raw), and refuses a line longer than its block, so
    such files take the plain way.
    """
    if b"\r" not in data and b"\x1f" not in data:
        try:
            return _csv_lines(data)
        except pa.ArrowInvalid:
            pass
    lines = pc.split_pattern(pa.array([data.decode("utf-8")], pa.large_string()), "\n").flatten()
    return lines.slice(0, len(lines) - 1) if data.endswith(b"\n") else lines


def _csv_lines(data: bytes) -> pa.ChunkedArray:
    table = pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=["raw"]),
        parse_options=pa_csv.ParseOptions(
            delimiter="\x1f", quote_char=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pa_csv.ConvertOptions(  # UTF-8 was checked for the whole file already
            column_types={"raw": pa.large_string()}, strings_can_be_null=False, check_utf8=False
        ),
    )
    return table.column("raw")
