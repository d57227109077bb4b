"""Framing: an export file's bytes into the raw texts of its JSON records, and where each came from.

Shared by the JSON parsers of sign-ins (Graph and Log Analytics). Accepted: NDJSON (line ends
found in a memory map, no per-line Python work for clean files), one document — a single record,
a Graph page ``{"value": [...]}``, a diagnostic export ``{"records": [...]}``, a query API
``{"tables": [...]}`` response, or a top-level array of any of these (split by DuckDB when
large) — and lines that are themselves such containers. Records keep their text verbatim where
they were a line, and are written compactly where they came out of a larger document.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

import logscan
from collectors.reading.duckdb_session import connect
from collectors.reading.literal_path import duckdb_path
from collectors.reading.rawfile import duckdb_compression, read_content
from store.batch import Quarantined
from store.sql.literals import quote_literal

_BOM = b"\xef\xbb\xbf"


@dataclass
class Framed:
    """Raw record texts of one file and where each came from.

    ``raw`` holds NDJSON lines with their line end still attached (cutting it off would copy the
    whole file; JSON parsing ignores it, and :func:`_originals` trims it once for the survivors).
    """

    path: Path
    raw: pa.Array  # large_string
    # Line of each record (None for one inside a document); None here: record i is on line i + first_line.
    lines: list[int | None] | None = None
    pointers: list[str | None] | None = None  # where in its document each record sits, or None
    quarantined: list[Quarantined] = field(default_factory=list)
    whole_lines: bool = False  # the records are the file's lines, every one of them, as they are
    trimmed: pa.ChunkedArray | None = None  # every text without its line end, when made ahead
    elements: bool = False  # record i is element i of the file's top-level array
    first_line: int = 1  # the file's line of record 0 when ``lines`` is None (a piece of a file)
    borrowed: bool = False  # event.original may stay views of ``raw``'s bytes (see line_views)

    def line(self, row: int) -> int | None:
        if self.elements:
            return None
        return self.lines[row] if self.lines is not None else row + self.first_line

    def pointer(self, row: int) -> str | None:
        if self.elements:
            return f"$[{row}]"
        return self.pointers[row] if self.pointers is not None else None

    def origin(self, row: int) -> str:
        line, pointer = self.line(row), self.pointer(row)
        where = f"{self.path}:{line}" if line else str(self.path)
        return f"{where} {pointer}" if pointer else where


def line_offsets(data: bytes | mmap.mmap, start: int, stop: int | None = None) -> np.ndarray:
    """Start offset of every line of ``data[start:stop]``, then the end: the offsets of an Arrow
    string array (int64, found by ``logscan`` without the GIL, so a DuckDB reader beside it
    keeps both cores).

    Each line keeps its line end: cutting it off here would copy the whole file, which costs
    more than trimming the survivors once (:func:`_originals`); JSON parsing ignores it.
    """
    return logscan.line_offsets(data, start, len(data) if stop is None else stop)


def _as_utf8(binary: pa.Array, path: Path, source: str, first_line: int = 1) -> tuple[pa.Array, list[Quarantined]]:
    """The lines as strings. Lines that are not UTF-8 are quarantined and left blank."""
    try:
        return binary.cast(pa.large_string()), []
    except pa.ArrowInvalid:
        pass
    texts, bad = [], []
    for index, value in enumerate(binary.to_pylist()):
        try:
            texts.append(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            texts.append("")
            record = value.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
            reason = f"not valid UTF-8: byte 0x{value[exc.start]:02x} at column {exc.start + 1}"
            bad.append(Quarantined(source, reason, record, f"{path}:{index + first_line}"))
    return pa.array(texts, pa.large_string()), bad


def _first_text(data: bytes | mmap.mmap, start: int) -> int | None:
    """Where the first byte that is not white space is; None for a blank file."""
    for block in range(start, len(data), 65_536):
        chunk = data[block : block + 65_536]
        stripped = chunk.lstrip()
        if stripped:
            return block + len(chunk) - len(stripped)
    return None


def _first_line_is_json(data: bytes | mmap.mmap, start: int) -> bool:
    end = data.find(b"\n", start)
    try:
        orjson.loads(data[start : end if end >= 0 else len(data)])
        return True
    except orjson.JSONDecodeError:
        return False


def unwrap(value: Any, pointer: str = "$") -> Iterator[tuple[str, Any]]:
    """Records inside a container: an array, a Graph page, a diagnostic export, an LA response."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{pointer}[{index}]", item
        return
    if isinstance(value, dict):
        for key in ("value", "records"):
            if isinstance(value.get(key), list):
                for index, item in enumerate(value[key]):
                    yield f"{pointer}.{key}[{index}]", item
                return
        if isinstance(value.get("tables"), list):
            yield from _unwrap_tables(value["tables"], pointer)
            return
    yield pointer, value


def _unwrap_tables(tables: list, pointer: str) -> Iterator[tuple[str, Any]]:
    """The Log Analytics query API's ``{"tables": [{"columns": [...], "rows": [[...]]}]}``."""
    for t, table in enumerate(tables):
        if not isinstance(table, dict):
            yield f"{pointer}.tables[{t}]", table
            continue
        names = [c.get("name") if isinstance(c, dict) else c for c in table.get("columns") or []]
        for r, row in enumerate(table.get("rows") or []):
            where = f"{pointer}.tables[{t}].rows[{r}]"
            yield where, dict(zip(names, row)) if isinstance(row, list) else row


def is_container(value: Any) -> bool:
    """An array holding objects (or nothing), or an object holding the records of a page."""
    if isinstance(value, list):
        return not value or any(isinstance(item, dict) for item in value)
    return isinstance(value, dict) and any(isinstance(value.get(k), list) for k in ("value", "records", "tables"))


class Verbatim(str):
    """A record's text to be kept as it is, not a JSON string value to serialise."""


def records_of(items: list[tuple[int | None, str | None, Any]], path: Path) -> Framed:
    """Records (line, pointer, value) as texts: values serialised compactly, verbatim ones kept."""
    raw = [item if isinstance(item, Verbatim) else orjson.dumps(item).decode() for _, _, item in items]
    return Framed(
        path,
        pa.array(raw, pa.large_string()),
        lines=[line for line, _, _ in items],
        pointers=[pointer for _, pointer, _ in items],
    )


def frame(path: Path, source: str) -> Framed:
    """Split a file into raw record texts: NDJSON lines, or the records of one JSON document."""
    path = Path(path)
    data, quarantined = read_content(path, source)
    start = len(_BOM) if data[: len(_BOM)] == _BOM else 0
    text = _first_text(data, start)
    if text is None:
        return Framed(path, pa.array([], pa.large_string()), quarantined=quarantined)
    if data[text : text + 1] == b"[" and not quarantined:
        elements = _array_elements(path)
        if elements is not None:
            return elements
    if not _first_line_is_json(data, text):
        document = _whole_document(data, start, path, source)
        if document is not None:
            document.quarantined[:0] = quarantined
            return document
    offsets = line_offsets(data, start)
    binary = pa.Array.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    raw, bad = _as_utf8(binary, path, source)
    return Framed(path, raw, quarantined=quarantined + bad, whole_lines=not quarantined and not bad)


def frame_lines(data, start: int, stop: int, path: Path, source: str, first_line: int) -> Framed:
    """The lines of ``data[start:stop]``, a piece of whole lines of a larger NDJSON export whose
    first line is the file's line ``first_line``, as records, without copying them.

    Replay reads a large export this way, piece by piece, straight from the file's memory map
    (or a decompressed block): each line is a record, as :func:`frame` takes the lines of an
    NDJSON file, and quarantine origins name the file and its own line numbers.
    """
    offsets = line_offsets(data, start, stop)
    binary = pa.Array.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    raw, bad = _as_utf8(binary, path, source, first_line)
    return Framed(Path(path), raw, quarantined=bad, whole_lines=not bad, first_line=first_line)


def _array_elements(path: Path) -> Framed | None:
    """The elements of a file that is one JSON array, compact, split by DuckDB's reader (only
    text that is spaced out is re-written: a compact array's elements are kept as they are).

    orjson would hold the whole array as Python objects (gigabytes for a million rows); DuckDB
    streams it. None when DuckDB cannot read it as one array (NDJSON of arrays, damage).
    """
    compression = duckdb_compression(path)
    con = connect()
    try:
        with duckdb_path(path) as name:
            table = con.sql(f"""
                SELECT CASE WHEN strpos(json, chr(10)) > 0 OR strpos(json, '": ') > 0 OR strpos(json, ', "') > 0
                            THEN json(json)::VARCHAR ELSE json END AS raw
                FROM read_json_objects({quote_literal(name)}, format = 'array', compression = '{compression}')
            """).to_arrow_table()
    except (duckdb.Error, OSError):
        return None
    finally:
        con.close()
    raw = table.column("raw").cast(pa.large_string()).combine_chunks()
    return Framed(path, raw, elements=True)


def _whole_document(data, start: int, path: Path, source: str) -> Framed | None:
    """The file as one (pretty-printed) JSON document; None when it reads better as NDJSON."""
    text = data[start:]
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if _looks_like_ndjson(data, start):
            return None
        document = _lenient(text)
        if document is None:
            framed = Framed(path, pa.array([], pa.large_string()))
            record = bytes(text).decode("utf-8", "backslashreplace")
            framed.quarantined.append(Quarantined(source, f"not a JSON document: {exc}", record, str(path)))
            return framed
    return records_of([(None, pointer, item) for pointer, item in unwrap(document)], path)


def _lenient(text: bytes) -> Any:
    """The document as DuckDB's JSON parser reads it, or None.

    It accepts trailing commas, as in Microsoft's own Graph documentation samples, and the
    NDJSON lines DuckDB reads are held to the same rule.
    """
    con = duckdb.connect()
    try:
        [(minified,)] = con.execute("SELECT json(?::VARCHAR)", [bytes(text).decode("utf-8")]).fetchall()
        return orjson.loads(minified)
    except (duckdb.Error, UnicodeDecodeError, orjson.JSONDecodeError, TypeError):
        return None
    finally:
        con.close()


def _looks_like_ndjson(data, start: int) -> bool:
    """A broken first line followed by a line that is a JSON object on its own: NDJSON."""
    lines = bytes(data[start : start + 1_048_576]).split(b"\n")[1:]
    return any(is_object(line) for line in lines[:-1] if line.strip())


def is_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
