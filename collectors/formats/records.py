"""Records a live collector already holds in memory, handed to a parser without a file.

A Graph page or a Log Analytics answer arrives as records, one JSON text each. The JSON parsers
(:mod:`collectors.formats.signins.entra_signins`, :mod:`collectors.formats.defender_alerts`,
:mod:`collectors.formats.azure_firewall`) each have ``parse_records(records, origin)``, typed by
:class:`RecordsParser`: it gives exactly what the parser's ``parse_file`` gives for the same
records written as NDJSON lines, with ``origin`` standing where the file's path would (so a
reject's origin reads ``<origin>:<record number>``). Writing a page to a temporary file only to
read it back cost a write, a read and a second framing of every record, and left files behind
when a process was killed.

Records that are plain lines — valid UTF-8 without a line end, the usual case and always the
case for what orjson writes — go to the parser's query as one Arrow string array, untouched.
Anything else (a line end inside a record, bytes that are not UTF-8, a byte-order mark) is
joined into the NDJSON bytes a file would hold and framed as a file's bytes are, in memory, so
the two ways cannot disagree on odd input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from store.batch import ParsedBatch

#: What a collector may hand over: encoded texts, Python strings, or an Arrow string/binary array.
Records: TypeAlias = Sequence[bytes] | Sequence[str] | pa.Array | pa.ChunkedArray

#: A character that is not white space as Python's ``bytes`` ``\S`` sees it (RE2's ``\s`` lacks
#: the vertical tab), so "blank" means the same here as in the file framing.
BLANKS = " \t\n\r\x0b\x0c"
NON_BLANK = f"[^{BLANKS}]"


class RecordsParser(Protocol):
    """``parse_records`` of a JSON format: records in memory to events and quarantine."""

    def __call__(self, records: Records, origin: str) -> ParsedBatch: ...


def record_texts(records: Records) -> pa.LargeStringArray | None:
    """The records as one Arrow ``large_string`` array when each is a plain line (valid UTF-8,
    no CR or LF, no byte-order mark at the start); None when they must be framed as bytes."""
    array = _as_array(records)
    if array.null_count:
        raise ValueError(f"records: record {_first_null(array)} is null; expected a JSON text")
    try:
        texts = array.cast(pa.large_string())
    except pa.ArrowInvalid:  # bytes that are not UTF-8: the file framing decides what becomes of them
        return None
    if not len(texts):
        return texts
    if pc.any(pc.match_substring_regex(texts, "[\r\n]")).as_py() or texts[0].as_py().startswith("\ufeff"):
        return None
    return texts


def read_as_lines(con: duckdb.DuckDBPyConnection, plain: pa.Array) -> bool:
    """Whether ``collectors.reading.jsondoc.lines_or_document`` reads the NDJSON of these plain
    records as lines rather than one document: at least two are not blank, and the first of
    those is JSON on its own (as DuckDB reads JSON, trailing commas and all)."""
    filled = plain.filter(pc.match_substring_regex(plain, NON_BLANK))
    if len(filled) < 2:
        return False
    return bool(con.execute("SELECT json_valid(?)", [filled[0].as_py().lstrip(BLANKS)]).fetchall()[0][0])


def joined(records: Records) -> bytes:
    """The NDJSON bytes a file of these records holds: each record, then a line end."""
    array = _as_array(records)
    if not len(array):
        return b""
    binary = array.cast(pa.large_binary()) if not pa.types.is_large_binary(array.type) else array
    return b"\n".join(binary.to_pylist()) + b"\n"


def _as_array(records: Records) -> pa.Array:
    if isinstance(records, pa.ChunkedArray):
        return records.combine_chunks()
    if isinstance(records, pa.Array):
        return records
    if not len(records):
        return pa.array([], pa.large_string())
    kind = pa.large_binary() if isinstance(records[0], (bytes, bytearray, memoryview)) else pa.large_string()
    try:
        return pa.array(records, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"records: expected all bytes or all str, as the first record is: {exc}") from exc


def _first_null(array: pa.Array) -> int:
    return int(pc.index(pc.is_null(array), True).as_py())
