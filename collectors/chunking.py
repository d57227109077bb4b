"""Big line-oriented exports in bounded pieces, so memory stays flat however large the file.

A parser reads a whole file at once because that is fastest (DuckDB parses it in parallel). For
an NDJSON export of millions of records that would hold the file, its records and their columns
in memory together, so replay cuts such a file into temporary chunk files of whole lines, parses
each in turn and rewrites quarantine origins back to the original file and line number.
"""

from __future__ import annotations

import gzip
import mmap
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from collectors.batch import ParsedBatch
from collectors.rawfile import GZIP_MAGIC

#: Uncompressed bytes per chunk. ~32 MB of sign-ins is ~18,000 records: a few hundred MB of
#: working memory in the parser, and large enough that per-call costs stay small.
CHUNK_BYTES = 48 * 1024 * 1024

_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)(?P<rest>.*)$", re.DOTALL)


def _open(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")



def is_large_ndjson(path: Path, threshold: int | None = None) -> bool:
    """More than one chunk of data, one JSON object per line (a whole document is never cut)."""
    threshold = threshold or CHUNK_BYTES
    try:
        with _open(path) as handle:
            head = handle.read(threshold + 1)
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    if len(head) <= threshold:
        return False
    # Most of the first complete lines are single objects: a damaged line among them does not
    # matter, while a pretty-printed or single-line document never qualifies.
    complete = [line.strip() for line in head.split(b"\n")[:-1][:20] if line.strip()]
    objects = sum(1 for line in complete if line.startswith(b"{") and line.endswith(b"}"))
    return len(complete) >= 2 and objects * 2 > len(complete)


@dataclass(frozen=True)
class Chunk:
    path: Path  # the temporary file
    lines_before: Callable[[], int]  # lines of the original before it; counted only when needed


def chunks(path: Path, chunk_bytes: int | None = None) -> Iterator[Chunk]:
    """Temporary files of whole lines, one at a time; each is removed when the next is made."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    folder = Path(tempfile.mkdtemp(prefix="cyberwell-chunks-"))
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        pieces = _gzip_pieces(path, chunk_bytes) if compressed else _plain_pieces(path, chunk_bytes)
        for number, (write, lines_before) in enumerate(pieces):
            chunk = folder / f"{number:06d}.ndjson"
            with open(chunk, "wb") as out:
                write(out)
            yield Chunk(chunk, lines_before)
            chunk.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _plain_pieces(path: Path, chunk_bytes: int):
    """Byte ranges cut after a line end, copied by the kernel (no pass through Python)."""
    if Path(path).stat().st_size == 0:
        return
    with open(path, "rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as view:
        size, start = len(view), 0
        while start < size:
            end = min(start + chunk_bytes, size)
            if end < size:
                last = view.rfind(b"\n", start, end)
                end = last + 1 if last >= 0 else (view.find(b"\n", end) + 1 or size)

            def write(out, start=start, end=end):
                offset = start
                while offset < end:
                    offset += os.copy_file_range(source.fileno(), out.fileno(), end - offset, offset)

            def lines_before(start=start) -> int:
                return sum(view[at:min(at + chunk_bytes, start)].count(b"\n") for at in range(0, start, chunk_bytes))

            yield write, lines_before
            start = end


def _gzip_pieces(path: Path, chunk_bytes: int):
    with gzip.open(path, "rb") as source:
        lines, carry = 0, b""
        while True:
            block = source.read(chunk_bytes)
            data = carry + block
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if cut == 0:  # one line longer than a chunk: keep reading
                carry = data
                continue
            data, carry = data[:cut], data[cut:]
            yield (lambda out, data=data: out.write(data)), (lambda lines=lines: lines)
            lines += data.count(b"\n")


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
