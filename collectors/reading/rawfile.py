"""Reading export files as they come: plain or gzip, whatever the file is called."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from store.batch import Quarantined

GZIP_MAGIC = b"\x1f\x8b"
#: What reading an export can raise: the file is gone or unreadable, or its gzip is broken.
READ_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (detected by magic bytes, not name)."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def unreadable(source: str, path: Path, error: Exception) -> Quarantined:
    """The whole file as a quarantined record, when it could not be read at all."""
    return Quarantined(source, f"cannot read file: {error}", "", str(path))


def duckdb_compression(path: Path) -> str:
    """The ``compression`` argument DuckDB's readers need for this file."""
    return "gzip" if is_gzip(path) else "none"
