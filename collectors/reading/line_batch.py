"""A batch of syslog messages as one buffer and each message's byte range in it.

The readers that work a batch at a time (``logscan``'s scanners, Arrow) take the bytes whole;
only the messages the per-line reader must see are decoded into Python strings, one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_LF, _CR = 0x0A, 0x0D


@dataclass(frozen=True)
class LineBatch:
    """``data[starts[i]:ends[i]]`` is message ``i``, without its line end."""

    data: bytes
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.starts)

    def raw(self, i: int) -> bytes:
        return self.data[self.starts[i] : self.ends[i]]

    def message(self, i: int) -> str:
        """Message ``i`` as text; bytes that are not UTF-8 read as U+FFFD."""
        return self.raw(i).decode("utf-8", errors="replace")

    def without_line_ends(self) -> LineBatch:
        """The same messages without the CRs and LFs they end in (a sender's line end left on a
        framed message), over the same bytes."""
        raw = np.frombuffer(self.data, np.uint8)
        ends = self.ends.copy()
        while True:
            last = raw[np.maximum(ends - 1, 0)]
            trailing = (ends > self.starts) & ((last == _LF) | (last == _CR))
            if not trailing.any():
                return LineBatch(self.data, self.starts, ends)
            ends -= trailing

    @classmethod
    def of_lines(cls, data: bytes) -> LineBatch:
        """A newline-delimited stream cut at LF, a CR before it dropped; the terminator of the
        last line opens no new line, and blank lines are kept so that every line keeps its number."""
        raw = np.frombuffer(data, np.uint8)
        if not len(raw):
            return cls(data, np.zeros(0, np.int64), np.zeros(0, np.int64))
        newlines = np.flatnonzero(raw == _LF)
        ends = newlines if raw[-1] == _LF else np.append(newlines, len(raw))
        starts = np.empty(len(ends), np.int64)
        starts[0] = 0
        starts[1:] = newlines[: len(ends) - 1] + 1
        ends = ends.astype(np.int64)
        crlf = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == _CR)
        return cls(data, starts, ends - crlf)

    @classmethod
    def of_messages(cls, messages: Sequence[bytes]) -> LineBatch:
        """Messages already framed, one per item, back to back in one buffer."""
        lengths = np.fromiter((len(m) for m in messages), np.int64, len(messages))
        ends = np.cumsum(lengths)
        return cls(b"".join(messages), ends - lengths, ends)
