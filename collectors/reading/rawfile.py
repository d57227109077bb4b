"""Reading export files as they come: plain or gzip, whatever the file is called."""

from __future__ import annotations

import gzip
import mmap
import zlib
from pathlib import Path
from typing import NamedTuple

from collectors.reading.gunzip import gunzip
from store.batch import Quarantined

GZIP_MAGIC = b"\x1f\x8b"
#: What reading an export can raise: the file is gone or unreadable, or its gzip is broken.
READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile)


class Content(NamedTuple):
    """A file's content, decompressed within the bounds of ``collectors.reading.gunzip``, and
    what reading it refused: over-long records, the damage of a broken gzip stream."""

    data: bytes | mmap.mmap
    quarantined: list[Quarantined]


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def read_content(path: Path, source: str) -> Content:
    """The file's content: a plain file memory-mapped (no copy; pages come straight from the page
    cache), a gzip one (told by its magic bytes, not its name) decompressed as a bounded stream.
    A damaged gzip keeps what was read before the damage and says why in ``quarantined``."""
    with open(path, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            if handle.seek(0, 2) == 0:
                return Content(b"", [])
            return Content(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), [])
    return Content(*gunzip(path, source))


def opening(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the content, decompressed when gzip; a stream cut short gives
    what it has (the whole read says what is wrong with it), a corrupt one raises ``zlib.error``."""
    with open(path, "rb") as handle:
        head = handle.read(max(size, 65_536))
    if head[:2] != GZIP_MAGIC:
        return head[:size]
    return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, size)


def read_bytes(path: Path) -> bytes:
    """The file's content as bytes, decompressed within bounds when it is gzip (for keeping a
    whole unreadable file in quarantine; parsers read with :func:`read_content`)."""
    return bytes(read_content(path, "").data)


def unreadable(source: str, path: Path, error: Exception) -> Quarantined:
    """The whole file as a quarantined record, when it could not be read at all."""
    return Quarantined(source, f"cannot read file: {error}", "", str(path))


def duckdb_compression(path: Path) -> str:
    """The ``compression`` argument DuckDB's readers need for this file."""
    return "gzip" if is_gzip(path) else "none"
