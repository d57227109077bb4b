"""A batch of records read from the syslog spool, as columns over the bytes read.

The drain reads tens of thousands of records at a time; ``logscan.read_spool`` checks each one's
CRC-32 and finds its fields without holding the GIL, and the batch keeps them as numpy columns
beside the bytes. A ``Record`` is made only for one that is asked for (a reject's origin, the
odd records the receiver spooled so that the drain quarantines them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import logscan
from collectors.reading.line_batch import LineBatch


class Record(NamedTuple):
    """One spooled message and where it sits in the spool."""

    segment: int
    ordinal: int  # 0-based record number within the segment (``index`` is the tuple's method)
    received_us: int
    peer: str  # e.g. "tcp:10.0.0.1:51234"
    kind: int  # syslog_spool.MESSAGE, OVERSIZED, TRUNCATED or REJECTED
    size: int  # the message's size as received (larger than ``data`` when oversized)
    data: bytes

    @property
    def origin(self) -> str:
        """Where the message came from and where it was spooled, for the quarantine."""
        return f"{self.peer} spool {self.segment}#{self.ordinal}"


@dataclass(frozen=True)
class Records:
    """Records ``first``, ``first + 1``, … of spool segment ``segment``: each one's peer name
    (``data[peer:start]``), message (``data[start:end]``), receive time (µs), size as
    received and kind, as columns."""

    segment: int
    first: int
    data: bytes
    columns: dict[str, np.ndarray]

    @classmethod
    def read(cls, data: bytes, segment: int, first: int, max_records: int) -> tuple[Records, int, str | None]:
        """Whole, intact records from the front of ``data``: the records, the bytes they took,
        and the damage that stopped the reading (None when none did)."""
        columns, used, problem = logscan.read_spool(data, max_records)
        return cls(segment, first, data, columns), used, problem

    @classmethod
    def none(cls, segment: int, first: int) -> Records:
        return cls.read(b"", segment, first, 0)[0]

    def __len__(self) -> int:
        return len(self.columns["kind"])

    def __getitem__(self, i: int) -> Record:
        if not -len(self) <= i < len(self):
            raise IndexError(f"record {i} of {len(self)}")
        i %= len(self)
        peer, start, end = (int(self.columns[name][i]) for name in ("peer", "start", "end"))
        received, size, kind = (int(self.columns[name][i]) for name in ("received", "size", "kind"))
        name = self.data[peer:start].decode("utf-8", errors="replace")
        return Record(self.segment, self.first + i, received, name, kind, size, self.data[start:end])

    def __iter__(self) -> Iterator[Record]:
        return (self[i] for i in range(len(self)))

    def where(self, kind: int) -> np.ndarray:
        """The positions of the records of one kind."""
        return np.flatnonzero(self.columns["kind"] == kind)

    def messages(self, positions: np.ndarray) -> LineBatch:
        """The messages of the records at ``positions``, as a batch over the same bytes, each
        without the line ends a sender may have left on it."""
        return LineBatch(
            self.data, self.columns["start"][positions], self.columns["end"][positions]
        ).without_line_ends()

    def received_us(self, positions: np.ndarray) -> np.ndarray:
        return self.columns["received"][positions]
