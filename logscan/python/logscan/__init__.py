"""Byte scanners for a batch of appliance syslog lines, in Rust (``src/``), with Arrow results, and
the reader of the syslog receiver's spool records.

Each scanner takes the batch as one buffer and the byte range of each line (int64 arrays of
starts and ends), reads the lines without holding the GIL, and returns numpy arrays and Arrow
string arrays, never a Python object per line. What a scanner cannot read exactly as Cyberwell's
per-line readers do is named (``failed``, or kind 0) for those readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from logscan import _logscan

__all__ = [
    "after_lines",
    "line_offsets",
    "read_csv_table",
    "read_spool",
    "scan_headers",
    "sha256_hex",
    "split_fields",
    "split_pairs",
    "unescape_cef",
    "write_spool",
]


def scan_headers(data: Any, starts: np.ndarray, ends: np.ndarray, log_types: Sequence[bytes]) -> dict[str, Any]:
    """Every line's syslog header, body kind and SHA-256.

    ``kind`` (uint8: 0 for the per-line reader, 1 CEF, 2 FortiGate, 3 PAN-OS with a type in
    ``log_types``), ``priority`` (int32, -1 for none), ``bsd_clock`` (int64 ``MMDDhhmmss``, -1 for
    none), ``body`` (int64, where the body starts in ``data``) as numpy arrays; ``iso_clock``,
    ``hostname``, ``appname``, ``procid``, ``msgid``, ``original`` (null where kind is 0) and ``id``
    (hex) as Arrow string arrays.
    """
    found = _logscan.scan_headers(_bytes(data), _int64(starts), _int64(ends), list(log_types))
    return {
        "kind": np.frombuffer(found["kind"], np.uint8),
        "priority": np.frombuffer(found["priority"], np.int32),
        "bsd_clock": np.frombuffer(found["bsd_clock"], np.int64),
        "body": np.frombuffer(found["body"], np.int64),
        **{name: _strings(found[name]) for name in ("iso_clock", "hostname", "appname", "procid", "msgid")},
        "original": _strings(found["original"]),
        "id": _strings(found["id"]),
    }


def split_pairs(data: Any, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, pa.Array, pa.Array, np.ndarray]:
    """FortiGate bodies (the spaced layout) as pairs: each pair's body, keys, values (a quoted
    value without its quotes), and the bodies left to the grammar's regular expression."""
    found = _logscan.split_pairs(_bytes(data), _int64(starts), _int64(ends))
    rows = np.frombuffer(found["rows"], np.int64)
    return rows, _strings(found["keys"]), _strings(found["values"]), np.frombuffer(found["failed"], np.int64)


def split_fields(data: Any, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """CSV records as ``csv.reader(strict=True)`` reads them: each field's record, the fields'
    values, and the records that reader would refuse (or could read across lines)."""
    found = _logscan.split_fields(_bytes(data), _int64(starts), _int64(ends))
    rows = np.frombuffer(found["rows"], np.int64)
    return rows, _strings(found["values"]), np.frombuffer(found["failed"], np.int64)


def unescape_cef(data: Any, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """CEF extension values unescaped as ``cef._VALUE_ESCAPE`` does (``\\n``, ``\\r``, ``\\=``,
    ``\\\\``; any other backslash kept with what follows it), one string per range."""
    return _strings(_logscan.unescape_cef(_bytes(data), _int64(starts), _int64(ends))["values"])


def sha256_hex(data: Any, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Each range's SHA-256 as 64 lower-case hex digits, one string per range."""
    return _strings(_logscan.sha256_hex(_bytes(data), _int64(starts), _int64(ends))["values"])


def read_spool(data: Any, max_records: int) -> tuple[dict[str, np.ndarray], int, str | None]:
    """Whole spool records from the front of ``data``, as columns (int64 unless said): ``peer``
    (where a record's peer name starts; it ends at ``start``), ``start`` and ``end`` (its
    message), ``received`` (µs), ``size`` (as received) and ``kind`` (uint8); then the bytes
    they took, and why reading stopped at damage (None when it did not)."""
    found = _logscan.read_spool(_bytes(data), max_records)
    columns = {name: np.frombuffer(found[name], np.int64) for name in ("peer", "start", "end", "received", "size")}
    columns["kind"] = np.frombuffer(found["kind"], np.uint8)
    return columns, found["used"], found["problem"]


def write_spool(received_us: int, peer: bytes, kind: int, messages: list[bytes]) -> bytes:
    """The spool records of ``messages``, all received at ``received_us`` from ``peer``, of one
    ``kind``, each with its own length as its size, back to back. Raises ValueError when a peer
    name (over 255 bytes) or a message (4 GiB) is too long for a record."""
    return _logscan.write_spool(received_us, peer, kind, messages)


def line_offsets(data: Any, start: int, stop: int) -> np.ndarray:
    """Where every line of ``data[start:stop]`` starts, then ``stop`` (int64): the offsets of an
    Arrow array of the lines, each keeping its line end."""
    return np.frombuffer(_logscan.line_offsets(_bytes(data), start, stop), np.int64)


def after_lines(data: Any, start: int, lines: int) -> int:
    """Where the ``lines``-th line from ``start`` ends (after its ``\\n``), or ``len(data)``
    when fewer lines end there."""
    return _logscan.after_lines(_bytes(data), start, lines)


@dataclass
class CsvTable:
    """A CSV export's records read into columns by :func:`read_csv_table`.

    ``cells`` holds a batch per run of rows (the columns asked for, named as asked), ``original``
    each row's record text without its line end, ``starts`` where each row's record starts in
    the data; ``refused`` the records refused, as numpy columns ``start`` and ``end`` (the text),
    ``kind`` (:data:`CSV_CELLS` and the others below), ``value`` (the cells the record has, the
    1-based column of the byte at fault, or the record's size) and ``byte`` (that byte).
    """

    cells: list[pa.RecordBatch]
    original: pa.ChunkedArray
    starts: np.ndarray
    refused: dict[str, np.ndarray]
    end: int  # where the last record read ended


#: Why ``read_csv_table`` refused a record: a count of cells other than the header's; a byte
#: that is not UTF-8; a character after a closing quote; a quote never closed; over 2 GiB.
CSV_CELLS, CSV_NOT_UTF8, CSV_AFTER_QUOTE, CSV_UNCLOSED, CSV_TOO_LONG = 1, 2, 3, 4, 5


def read_csv_table(
    data: Any, start: int, width: int, read: dict[str, int], parts: int, stop: int | None = None
) -> CsvTable:
    """The records of a CSV export that start in ``data[start:stop]`` (after its header; to the
    end of ``data`` when ``stop`` is None), each read to its end, as Python's
    ``csv.reader(strict=True)`` reads it, in up to ``parts`` parts at once: the cells of the
    header columns ``read`` (name → index), for each record with ``width`` cells that is UTF-8;
    an empty cell is null. ``end`` says where the last record ended, so that the next call can
    start there.

    A record that breaks the quoting is refused as its first line and reading goes on at the
    next; empty lines are no records.
    """
    view = _bytes(data)
    found = _logscan.read_csv_table(view, start, len(view) if stop is None else stop, width, list(read.values()), parts)
    names = list(read)
    cells, originals, starts = [], [], []
    for batch in found["batches"]:
        cells.append(pa.RecordBatch.from_arrays([_strings(column) for column in batch["columns"]], names=names))
        originals.append(_strings(batch["original"]))
        starts.append(np.frombuffer(batch["starts"], np.int64))
    refused = {name: np.frombuffer(found["refused"][name], np.int64) for name in ("start", "end", "value")}
    refused |= {name: np.frombuffer(found["refused"][name], np.uint8) for name in ("kind", "byte")}
    return CsvTable(
        cells,
        pa.chunked_array(originals, pa.string()),
        np.concatenate(starts) if starts else np.empty(0, np.int64),
        refused,
        found["end"],
    )


def _bytes(data: Any) -> memoryview:
    """Any contiguous buffer as unsigned bytes (Arrow's buffers say signed)."""
    return memoryview(data).cast("B")


def _int64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, np.int64)


def _strings(parts: tuple) -> pa.Array:
    length, nulls, validity, offsets, data = parts
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), length, buffers, null_count=nulls)
