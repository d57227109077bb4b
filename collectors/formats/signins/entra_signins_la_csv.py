"""The Log Analytics portal's CSV export of ``SigninLogs``, read in bulk.

``logscan`` reads the records (strictly, as Python's ``csv`` module reads each: a record with
a cell too few or too many, a byte that is not UTF-8, or quoting it cannot read is refused and
quarantined with why), in parts side by side, into Arrow columns of the cells the parser uses
and each record's text as ``event.original``; a line end inside a quoted cell continues the
record. The rows then go through the shared SQL
(:func:`collectors.formats.signins.entra_signins_la_sql.la_select`). Replay reads a big plain
export in place, piece by piece (:func:`parse_csv_pieces`), with the same events and quarantine.
"""

from __future__ import annotations

import csv
import mmap
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.signins.entra_signins import finish, hash_missing_ids
from collectors.formats.signins.entra_signins_la_sql import HANDED_OVER, LA_COLUMNS, SOURCE, handed_over, la_select
from collectors.formats.signins.signin_schema import empty
from collectors.reading.chunking import Lines
from collectors.reading.duckdb_session import connect
from collectors.reading.jsonframe import line_offsets
from collectors.reading.rawfile import READ_ERRORS, read_bytes, read_content
from store.batch import ParsedBatch, Quarantined, check_required
from store.sql.literals import quote_ident

BOM = b"\xef\xbb\xbf"

#: Parts of a file read at once: one per core, at most four.
PARTS = min(os.cpu_count() or 1, 4)


def _forms(header: list[str]) -> dict[str, list[str]]:
    """The header's names of each ``SigninLogs`` column (the portal writes some in two forms,
    ``Status_dynamic`` and ``Status_string``)."""
    found: dict[str, list[str]] = {}
    for name in header:
        found.setdefault(_canonical(name), []).append(name)
    return found


def _handed(header: list[str]) -> dict[str, str]:
    """The dataset's columns the cells hand over as they are (see ``HANDED_OVER``), and the
    header's name of the cells: those whose column has one form."""
    forms = _forms(header)
    return {column: forms[source][0] for column, source in HANDED_OVER.items() if len(forms.get(source, [])) == 1}


def _cells_sql(header: list[str]) -> str:
    """The ``la`` relation from ``cells`` (the header's columns the parser reads, as text, empty
    as null), then the shared SQL. A column the header names in two forms is the first of them
    that is not empty."""
    found = _forms(header)
    projection = []
    for column in LA_COLUMNS:
        cells = [f"NULLIF({quote_ident(name)}, '')" for name in found.get(column, [])]
        value = f"coalesce({', '.join(cells)})" if cells else "NULL::VARCHAR"
        projection.append(f"{value} AS {column}")
    return f"""
WITH la AS (
    SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _problem_in, {", ".join(projection)}
    FROM cells
)
{la_select(with_original=False, handed=_handed(header))}
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


def parse_csv(path: Path) -> ParsedBatch:
    """Every row of the CSV export ``path`` as events, and the rows it cannot use."""
    try:
        data, damage = read_content(path, SOURCE)
    except READ_ERRORS as exc:
        return unreadable(path, f"cannot read the file: {exc}")
    return _parse_content(path, data, damage)


def _parse_content(path: Path, data: bytes | mmap.mmap, damage: list[Quarantined]) -> ParsedBatch:
    """The CSV export ``path`` as ``data`` (decompressed within bounds when gzip: a damaged gzip
    gives its rows before the damage, and the damage in quarantine, ``damage``)."""
    export = _Export.of(path, data)
    if isinstance(export, str):
        return unreadable(path, export, damage)
    table = export.read(export.first, len(data))
    return export.batch(table, damage)


def parse_csv_pieces(path: Path, pieces: Iterable[Lines]) -> Iterator[ParsedBatch]:
    """A big plain CSV export, piece by piece, read in place (``pieces``: ranges of whole lines
    of the file's memory map, from ``collectors.reading.chunking.line_pieces``; a record is read
    with the piece it starts in, to its end). Events and quarantine are those of
    :func:`parse_csv` for the whole file, in batches."""
    pieces = iter(pieces)
    first = next(pieces, None)
    if first is None:  # an empty file
        return
    export = _Export.of(path, first.data)
    if isinstance(export, str):
        yield unreadable(path, export)
        return
    at = export.first
    for piece in chain([first], pieces):
        if at < piece.stop:  # else a record of the piece before ran to its end
            table = export.read(at, piece.stop)
            at = table.end
            yield export.batch(table, [])


@dataclass
class _Export:
    """A CSV export's content and header, and how its records become events."""

    path: Path
    data: bytes | mmap.mmap
    header: list[str]
    columns: dict[str, int]  # the header's columns the parser reads: name → index
    first: int  # where the first record starts
    lines: _Lines

    @classmethod
    def of(cls, path: Path, data: bytes | mmap.mmap) -> _Export | str:
        """The export, or why it cannot be read at all."""
        try:
            header = _header(data)
        except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
            return f"no readable CSV header: {exc}"
        if not header:
            return "no readable CSV header: the first line is empty"
        if len(set(header)) != len(header):
            return "the CSV header names a column twice"
        # A header without a column the parser reads still reads its first, so rows are counted.
        read = {name: k for k, name in enumerate(header) if _canonical(name) in LA_COLUMNS} or {header[0]: 0}
        return cls(path, data, header, read, _after_header(data), _Lines(data))

    def read(self, start: int, stop: int) -> logscan.CsvTable:
        """The records starting in ``data[start:stop]``, each to its end."""
        return logscan.read_csv_table(self.data, start, len(self.header), self.columns, PARTS, stop)

    def batch(self, table: logscan.CsvTable, damage: list[Quarantined]) -> ParsedBatch:
        """The events of the records read, and what is quarantined (``damage`` first)."""
        result = _mapped(table.cells, list(self.columns))
        quarantined = [*damage, *_refused(self.path, self.data, table.refused, len(self.header), self.lines)]
        originals = table.original
        problems = result.column("_problem")
        if problems.null_count < len(problems):
            quarantined.extend(_unusable_rows(self.path, result, originals, table.starts, self.lines))
            keep = problems.is_null()
            result, originals = result.filter(keep), originals.filter(keep)
        events = hash_missing_ids(finish(result, originals))
        check_required(events)
        return ParsedBatch(events, quarantined)


def _mapped(batches: list[pa.RecordBatch], read: list[str]) -> pa.Table:
    """The shared SQL over the cells read (columns ``read``), a few batches at a time, with the
    cells that are columns as they are handed over (not copied again by the SQL). A group's
    other cells are let go once mapped, so a large export's cells and its events are never all
    in memory at once. Empties ``batches``."""
    schema = pa.schema([(name, pa.string()) for name in read])
    sql, handed = _cells_sql(read), _handed(read)
    results = []
    con = connect()
    try:
        while True:
            group, batches[:_GROUP] = pa.Table.from_batches(batches[:_GROUP], schema=schema), []
            con.register("cells", group)
            result = con.sql(sql).to_arrow_table()
            con.unregister("cells")
            results.append(handed_over(result, {column: group.column(name) for column, name in handed.items()}))
            del group
            if not batches:
                return pa.concat_tables(results)
    finally:
        con.close()


#: Batches of cells (of up to 65,536 rows each) mapped by one query.
_GROUP = 4


def _after_header(data: bytes | mmap.mmap) -> int:
    """Where the first record starts: after the header's line."""
    end = data.find(b"\n")
    return len(data) if end < 0 else end + 1


class _Lines:
    """Line numbers of places in the file, found when first asked for (only a file with
    records to quarantine needs them)."""

    def __init__(self, data: bytes | mmap.mmap):
        self._data = data
        self._starts: np.ndarray | None = None

    def of(self, positions: np.ndarray) -> np.ndarray:
        """The 1-based line each byte position is on."""
        if not len(positions):
            return positions
        if self._starts is None:
            self._starts = line_offsets(self._data, 0)
        return np.searchsorted(self._starts, positions, side="right")


def _refused(
    path: Path, data: bytes | mmap.mmap, refused: dict[str, np.ndarray], width: int, lines: _Lines
) -> list[Quarantined]:
    """The records the reader refused, each with why and the line it starts on."""
    starts = refused["start"]
    at_lines = lines.of(starts)
    out = []
    for start, end, kind, value, byte, line in zip(
        starts.tolist(),
        refused["end"].tolist(),
        refused["kind"].tolist(),
        refused["value"].tolist(),
        refused["byte"].tolist(),
        at_lines.tolist(),
    ):
        text = bytes(data[start:end]).decode("utf-8", "backslashreplace")
        out.append(Quarantined(SOURCE, _why(kind, value, byte, width), text, f"{path}:{line}"))
    return out


def _why(kind: int, value: int, byte: int, width: int) -> str:
    if kind == logscan.CSV_CELLS:
        return f"row has {value} cells, the header has {width}"
    if kind == logscan.CSV_NOT_UTF8:
        return f"not valid UTF-8: byte 0x{byte:02x} at column {value}"
    if kind == logscan.CSV_AFTER_QUOTE:
        return f"not valid CSV: a character after a closing quote, at column {value}"
    if kind == logscan.CSV_UNCLOSED:
        return "not valid CSV: a quoted cell is never closed"
    return f"record of {value:,} bytes, over the 2 GiB one record can hold"


def _unusable_rows(
    path: Path, result: pa.Table, originals: pa.ChunkedArray, starts: np.ndarray, lines: _Lines
) -> list[Quarantined]:
    """Rows read but not usable (no readable time)."""
    bad = pc.indices_nonzero(result.column("_problem").is_valid()).to_numpy()
    reasons = result.column("_reason").take(bad).to_pylist()
    records = originals.take(bad).to_pylist()
    at_lines = lines.of(starts[bad]).tolist()
    return [
        Quarantined(SOURCE, reason, record, f"{path}:{line}")
        for reason, record, line in zip(reasons, records, at_lines)
    ]
