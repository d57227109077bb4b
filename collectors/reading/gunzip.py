"""Gzip decompressed as a stream, with bounds, so a small file cannot take the machine's memory.

A gzip of a few hundred KB can hold gigabytes (one repeated byte compresses a thousandfold), and
decompressing it whole held all of it at once. Here the stream is read a block at a time and
given out as blocks of whole lines, with two documented limits:

* one record (a line) may be at most :data:`MAX_RECORD_BYTES` long. A longer one is not kept:
  it is quarantined with its length, an excerpt of :data:`EXCERPT_BYTES` and the reason, an
  empty line stands in its place (so the lines after it keep their numbers), and reading goes on.
  Only the line being read is ever held, so memory stays within the limit whatever the file.
* past the first :data:`FREE_EXPANSION_BYTES`, the output may be at most :data:`MAX_EXPANSION`
  times the compressed bytes read. Real exports compress ten to fifty fold; a stream that
  expands further is a decompression bomb: what was read before is kept, the rest is refused
  with the reason.

A damaged stream (truncated, corrupt, followed by junk) keeps every line read before the damage,
and the damage is quarantined with the reason. A plain file needs none of this: its records are
no bigger than the file on disk.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from store.batch import Quarantined

#: The longest record (line) kept from a gzip stream, in bytes.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: How much of an over-long record is kept in quarantine.
EXCERPT_BYTES = 1024
#: The output allowed before the expansion bound applies.
FREE_EXPANSION_BYTES = 16 * 1024 * 1024
#: The most decompressed bytes per compressed byte read, past :data:`FREE_EXPANSION_BYTES`.
MAX_EXPANSION = 200

_GZIP = zlib.MAX_WBITS | 16
_IN_BLOCK = 256 * 1024
_OUT_BLOCK = 1024 * 1024


class BoundedGunzip:
    """The decompressed content of a gzip file as blocks of whole lines (the last may have no
    line end); :attr:`quarantined` holds, once iterated, what was refused and why."""

    def __init__(self, path: Path, source: str, max_record: int = MAX_RECORD_BYTES):
        self.path, self.source, self.max_record = Path(path), source, max_record
        self.quarantined: list[Quarantined] = []
        self._pending = bytearray()  # the open line: held back until its end or its limit
        self._skipped: int | None = None  # length of an over-long line being passed over
        self._excerpt = b""
        self._line = 1  # the number of the open line

    def __iter__(self) -> Iterator[bytes]:
        for block in self._inflated():
            lines = self._feed(block)
            if lines:
                yield lines
        if self._skipped is not None:
            self._refuse_overlong()
        elif self._pending:
            yield bytes(self._pending)
            self._pending = bytearray()

    def _inflated(self) -> Iterator[bytes]:
        """Decompressed blocks of at most ``_OUT_BLOCK``, members one after another; damage and
        bombs end the stream with a quarantined entry."""
        inflater, produced, consumed = zlib.decompressobj(_GZIP), 0, 0
        with open(self.path, "rb") as handle:
            data = handle.read(_IN_BLOCK)
            while True:
                try:
                    block = inflater.decompress(data, _OUT_BLOCK)
                except zlib.error as exc:
                    self._damaged(produced, f"corrupt deflate data: {exc}")
                    return
                consumed += len(data) - len(inflater.unconsumed_tail)
                produced += len(block)
                if block:
                    yield block
                if produced > FREE_EXPANSION_BYTES and produced > MAX_EXPANSION * max(consumed, 1):
                    self.quarantined.append(
                        Quarantined(
                            self.source,
                            f"gzip stream refused after {produced} decompressed bytes: it expands more than"
                            f" {MAX_EXPANSION}-fold ({consumed} compressed bytes gave {produced}), a decompression"
                            " bomb; the rest was not read",
                            "",
                            f"{self.path}:{self._line}",
                        )
                    )
                    return
                if inflater.unconsumed_tail:
                    data = inflater.unconsumed_tail
                    continue
                if inflater.eof:
                    rest = inflater.unused_data + handle.read(_IN_BLOCK)
                    if _only_padding(rest, handle):
                        return
                    if not rest.startswith(b"\x1f\x8b"):
                        self._damaged(produced, "data after the end of the gzip stream is not gzip")
                        return
                    inflater, data = zlib.decompressobj(_GZIP), rest  # the next member
                    continue
                data = handle.read(_IN_BLOCK)
                if not data:
                    self._damaged(produced, "the file ends before the gzip stream does (truncated)")
                    return

    def _feed(self, block: bytes) -> bytes:
        """The whole lines this block completes; the open line is held or passed over."""
        first = block.find(b"\n")
        if first < 0:
            self._extend(block)
            return b""
        self._extend(block[:first])
        if self._skipped is not None:
            self._refuse_overlong()
            done = b"\n"  # stands for the refused record, so later lines keep their numbers
        else:
            done = bytes(self._pending) + b"\n"
            self._pending = bytearray()
        last = block.rfind(b"\n")
        middle = block[first + 1 : last + 1]  # shorter than a block: within the limit
        self._line += 1 + middle.count(b"\n")
        self._extend(block[last + 1 :])
        return done + middle

    def _extend(self, piece: bytes) -> None:
        if self._skipped is not None:
            self._skipped += len(piece)
        elif len(self._pending) + len(piece) > self.max_record:
            self._excerpt = bytes(self._pending[:EXCERPT_BYTES]) + piece[: max(0, EXCERPT_BYTES - len(self._pending))]
            self._skipped = len(self._pending) + len(piece)
            self._pending = bytearray()
        else:
            self._pending += piece

    def _refuse_overlong(self) -> None:
        length = self._skipped or 0
        reason = (
            f"record of {length} bytes is longer than the limit of {self.max_record} bytes for one record;"
            f" its first {len(self._excerpt)} bytes are kept"
        )
        record = self._excerpt.decode("utf-8", "backslashreplace")
        self.quarantined.append(Quarantined(self.source, reason, record, f"{self.path}:{self._line}"))
        self._skipped, self._excerpt = None, b""

    def _damaged(self, produced: int, detail: str) -> None:
        """The damage, said where it is; with nothing read before it, the file was not readable."""
        if produced == 0:
            self.quarantined.append(Quarantined(self.source, f"cannot read file: {detail}", "", str(self.path)))
            return
        reason = f"gzip stream damaged after {produced} decompressed bytes: {detail}"
        self.quarantined.append(Quarantined(self.source, reason, "", f"{self.path}:{self._line}"))


def _only_padding(rest: bytes, handle) -> bool:
    """Whether the file ends in zero bytes only, which gzip allows after its last member."""
    while rest:
        if rest.strip(b"\x00"):
            return False
        rest = handle.read(_IN_BLOCK)
    return True


def gunzip(path: Path, source: str, max_record: int = MAX_RECORD_BYTES) -> tuple[bytes, list[Quarantined]]:
    """The whole decompressed content within the bounds, and what was refused."""
    reader = BoundedGunzip(path, source, max_record)
    data = b"".join(reader)
    return data, reader.quarantined
