"""Big line-oriented exports in bounded pieces, so memory stays flat however large the file.

A parser reads a whole file at once because that is fastest (DuckDB parses it in parallel). For
an export of millions of records that would hold the file, its records and their columns in
memory together, so replay cuts a large export into pieces of whole records and parses each in
turn. A plain NDJSON or CSV export is cut in place for parsers that take records from memory
(:func:`line_pieces`: byte ranges of the file's memory map); otherwise an export is cut into
temporary chunk files (:func:`chunks`: a CSV chunk repeats the header; a quoted cell may hold
line ends, so a CSV cut is only made where the quotes before it balance; a gzip export is
decompressed within the bounds of ``collectors.reading.gunzip``), and quarantine origins are
rewritten back to the original file and line number (:func:`relocate`).
"""

from __future__ import annotations

import gzip
import mmap
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from collectors.reading.gunzip import BoundedGunzip
from collectors.reading.rawfile import GZIP_MAGIC
from store.batch import ParsedBatch, Quarantined

_BOM = b"\xef\xbb\xbf"

#: Uncompressed bytes per chunk: tens of thousands of records, so the parser's working memory
#: stays bounded while its per-call costs stay small.
CHUNK_BYTES = 48 * 1024 * 1024
#: Bytes per piece of an export read in place (:func:`line_pieces`): each piece is a
#: segment, and every segment costs two fsyncs, a catalogue commit and Parquet's per-column
#: setup, so pieces are larger than chunks (larger still measured slower).
PIECE_BYTES = 96 * 1024 * 1024

#: How much of a file's opening is read to tell its shape.
_HEAD_BYTES = 1 << 20

_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)(?P<rest>.*)$", re.DOTALL)


def _open(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def layout(path: Path, threshold: int | None = None) -> str | None:
    """``"ndjson"`` or ``"csv"`` for a file of more than one chunk that can be cut; else None."""
    threshold = threshold or CHUNK_BYTES
    try:
        with _open(path) as handle:
            compressed = isinstance(handle, gzip.GzipFile)
            # The opening lines tell the shape: reading a whole chunk's worth only to look at them
            # delays the parse. Size is known without reading unless compressed.
            head = handle.read(threshold + 1 if compressed else _HEAD_BYTES)
            if head.count(b"\n") < 2:
                head += handle.read(threshold + 1 - len(head))
            big = len(head) > threshold if compressed else os.fstat(handle.fileno()).st_size > threshold
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if not big:
        return None
    # Most of the first complete lines are single objects: a damaged line among them does not
    # matter, while a pretty-printed or single-line document never qualifies.
    complete = [line.strip() for line in head.split(b"\n", 21)[:-1][:20] if line.strip()]
    objects = sum(1 for line in complete if line.startswith(b"{") and line.endswith(b"}"))
    if len(complete) >= 2 and objects * 2 > len(complete):
        return "ndjson"
    first = complete[0].lstrip(b"\xef\xbb\xbf") if complete else b""
    if first[:1] not in (b"{", b"[") and first.count(b",") >= 2 and first.count(b'"') % 2 == 0:
        return "csv"
    return None


@dataclass(frozen=True)
class Chunk:
    path: Path  # the temporary file
    lines_before: Callable[[], int]  # lines of the original before it; counted only when needed
    # What reading a gzip original refused up to this chunk (over-long records, damage), its
    # origins naming the original already.
    refused: list[Quarantined] = field(default_factory=list)


def chunks(path: Path, chunk_bytes: int | None = None, csv: bool = False, source: str = "") -> Iterator[Chunk]:
    """Temporary files of whole records, one at a time; each is removed when the next is made.
    ``source`` (the source kind) names what reading a gzip refuses, in :attr:`Chunk.refused`."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    folder = Path(tempfile.mkdtemp(prefix="cyberwell-chunks-"))
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        refused: list[Quarantined] = []
        if compressed:
            pieces = _gzip_pieces(path, chunk_bytes, csv, source, refused)
        else:
            pieces = _plain_pieces(path, chunk_bytes, csv)
        for number, (header, write, lines_before) in enumerate(pieces):
            chunk = folder / f"{number:06d}.part"
            with open(chunk, "wb") as out:
                out.write(header)
                out.flush()  # the kernel copy below writes at the descriptor's own position
                write(out)
            yield Chunk(chunk, lines_before, list(refused))
            refused.clear()
            chunk.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cut(data, start: int, end: int, csv: bool) -> int:
    """Where a chunk of ``data[start:end]`` may end: after a line end (with balanced quotes)."""
    last = data.rfind(b"\n", start, end)
    while csv and last >= 0 and _quotes(data, start, last + 1) % 2:
        last = data.rfind(b"\n", start, last)
    return last + 1 if last >= 0 else start


def _quotes(data, start: int, end: int, block: int = 1 << 20) -> int:
    """Quote characters in ``data[start:end]``, counted a block at a time: slicing a memory map
    copies, and one copy of a whole chunk is tens of MB of fresh memory per chunk."""
    return sum(data[at : min(at + block, end)].count(b'"') for at in range(start, end, block))


def _ranges(view, start: int, chunk_bytes: int, csv: bool) -> Iterator[tuple[int, int]]:
    """(start, end) of pieces of whole records from ``start`` to the end of ``view``."""
    size = len(view)
    while start < size:
        end = size
        if start + chunk_bytes < size:
            end = _cut(view, start, start + chunk_bytes, csv)
            reach = start + chunk_bytes
            while end == start and reach < size:  # one record longer than a chunk
                reach = min(reach + chunk_bytes, size)
                end = _cut(view, start, reach, csv) if reach < size else size
        yield start, end
        start = end


def _plain_pieces(path: Path, chunk_bytes: int, csv: bool):
    """Byte ranges cut after a record, copied by the kernel (no pass through Python)."""
    if Path(path).stat().st_size == 0:
        return
    with open(path, "rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as view:
        size = len(view)
        first = (view.find(b"\n") + 1 or size) if csv else 0
        header = view[:first] if csv else b""
        released = 0
        for start, end in _ranges(view, first, chunk_bytes, csv):

            def write(out, start=start, end=end):
                offset = start
                while offset < end:
                    offset += os.copy_file_range(source.fileno(), out.fileno(), end - offset, offset)

            def lines_before(start=start) -> int:
                counted = sum(
                    view[at : min(at + chunk_bytes, start)].count(b"\n") for at in range(0, start, chunk_bytes)
                )
                return counted - (1 if csv else 0)  # a CSV chunk's own header is its line 1

            yield header, write, lines_before
            # Pages the cut and the quote count read stay mapped, and count as this process's
            # memory, until released: without this a large CSV would look like a leak. (Each
            # range once: releasing from the start every time walks the whole mapping again.)
            upto = end - end % mmap.PAGESIZE
            if upto > released:
                view.madvise(mmap.MADV_DONTNEED, released, upto - released)
                released = upto


@dataclass(frozen=True)
class Lines:
    """A piece of whole lines of a plain NDJSON or CSV export, in memory: ``data[start:stop]``."""

    data: mmap.mmap  # the file's memory map
    start: int
    stop: int


def line_pieces(path: Path, chunk_bytes: int | None = None) -> Iterator[Lines]:
    """A plain (not gzip) NDJSON or CSV export as pieces of whole lines, read in place.

    For parsers that take records from memory (``parse_pieces``, ``parse_csv_pieces``; a CSV
    record whose quoted cell holds a line end is read with the piece it starts in, to its end):
    nothing is copied to a temporary file and read again, which for a 2 GB export is a second of
    kernel time. Each piece's pages are released when the piece after next is asked for (its
    events, which may point into the map, are stored by then), so the mapping never counts as
    more than a few pieces of memory.
    """
    chunk_bytes = chunk_bytes or PIECE_BYTES
    with open(path, "rb") as source:
        if os.fstat(source.fileno()).st_size == 0:
            return
        view = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ)
    first, released = (len(_BOM) if view[: len(_BOM)] == _BOM else 0), 0
    for start, end in _ranges(view, first, chunk_bytes, csv=False):
        yield Lines(view, start, end)
        # Behind the piece just parsed, not up to its end: its events may point into the map
        # (collectors.reading.line_views) while the store writes them, and replay stores a batch
        # before it asks for the piece after next.
        upto = start - start % mmap.PAGESIZE  # each range once
        if upto > released:
            view.madvise(mmap.MADV_DONTNEED, released, upto - released)
            released = upto
    # The map is closed when the last Arrow buffer over it is gone, not here: a parser's
    # result may still be in the store's writer thread.


def _gzip_pieces(path: Path, chunk_bytes: int, csv: bool, source: str, refused: list[Quarantined]):
    """Pieces of the decompressed stream, read within the bounds of ``collectors.reading.gunzip``;
    what it refuses is added to ``refused`` before the piece it was met in is given out."""
    stream = BoundedGunzip(path, source)
    header, carry, lines, started = b"", b"", 0, not csv
    for block in _sized(iter(stream), chunk_bytes):
        refused.extend(stream.quarantined)
        stream.quarantined.clear()
        data = carry + block
        if not started:  # a CSV's header line, repeated in every piece
            end = data.find(b"\n")
            if end < 0:
                carry = data
                continue
            header, data, started = data[: end + 1], data[end + 1 :], True
        cut = _cut(data, 0, len(data), csv)
        if cut == 0:  # one record longer than a chunk (a record is bounded): keep reading
            carry = data
            continue
        piece, carry = data[:cut], data[cut:]
        yield header, (lambda out, piece=piece: out.write(piece)), (lambda lines=lines: lines)
        lines += piece.count(b"\n")
    refused.extend(stream.quarantined)
    if carry or refused:  # the last record without its line end, or damage found at the end
        yield header, (lambda out: out.write(carry)), (lambda: lines)


def _sized(blocks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Blocks joined into pieces of at least ``size`` bytes (the last may be shorter)."""
    parts: list[bytes] = []
    have = 0
    for block in blocks:
        parts.append(block)
        have += len(block)
        if have >= size:
            yield b"".join(parts)
            parts, have = [], 0
    if parts:
        yield b"".join(parts)


def relocate(batch: ParsedBatch, chunk: Chunk, original: Path) -> ParsedBatch:
    """Quarantine origins name the original file and its line, not the temporary chunk."""
    if not batch.quarantined:
        return batch
    lines_before = chunk.lines_before()
    moved = []
    for record in batch.quarantined:
        match = _ORIGIN.match(record.origin)
        if match and match["path"] == str(chunk.path):
            origin = f"{original}:{int(match['line']) + lines_before}{match['rest']}"
        else:
            origin = record.origin.replace(str(chunk.path), str(original))
        moved.append(replace(record, origin=origin))
    return ParsedBatch(batch.events, moved)
