"""One syslog dataset's accepted messages, column by column, before they become Arrow.

The per-line reader adds them a message at a time and the bulk reader (``syslog_bulk``) a batch
at a time; :meth:`Collected.in_order` puts the rows back in the order of the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from collectors.formats import syslog_bulk
from collectors.reading.syslog_frame import Header


class Collected:
    """One dataset's accepted messages, column by column, before they become Arrow."""

    def __init__(self) -> None:
        self.positions: list[int] = []  # index in the batch, to restore the input order
        self.originals: list[str] = []
        self.keys: list[bytes] = []  # the bytes as received, when the batch has them (else empty)
        self.items: list = []  # what the vendor module's reader returned
        self.priorities: list[int | None] = []
        self.times: list[int | None] = []
        self.hostnames: list[str | None] = []
        self.appnames: list[str | None] = []
        self.procids: list[str | None] = []
        self.msgids: list[str | None] = []
        self._sorted = True

    def add(self, position: int, message: str, key: bytes | None, item: object, header: Header) -> None:
        if self.positions and position < self.positions[-1]:
            self._sorted = False
        self.positions.append(position)
        self.originals.append(message)
        if key is not None:  # given for every message of a batch or for none
            self.keys.append(key)
        self.items.append(item)
        self.priorities.append(header.priority)
        self.times.append(header.time_us)
        self.hostnames.append(header.hostname)
        self.appnames.append(header.appname)
        self.procids.append(header.procid)
        self.msgids.append(header.msgid)

    def extend(self, rows: syslog_bulk.Taken, messages: list[str], keys: Sequence[bytes] | None) -> None:
        """The lines the bulk reader took (before any per-line ones: ``in_order`` sorts)."""
        self.positions.extend(rows.positions)
        self.originals.extend(messages[p] for p in rows.positions)
        if keys is not None:
            self.keys.extend(keys[p] for p in rows.positions)
        self.items.extend(rows.items)
        self.priorities.extend(rows.priorities)
        self.times.extend(rows.times)
        self.hostnames.extend(rows.hostnames)
        self.appnames.extend(rows.appnames)
        self.procids.extend(rows.procids)
        self.msgids.extend(rows.msgids)
        self._sorted = False

    def in_order(self) -> None:
        """Rows in the order of the input, as the per-line reader collects them."""
        if self._sorted:
            return
        positions = np.array(self.positions, np.int64)
        self._sorted = True
        if not len(positions) or bool(np.all(positions[1:] > positions[:-1])):
            return  # the usual batch: every line read in bulk, already in order
        order = np.argsort(positions, kind="stable").tolist()
        for name in _COLUMNS:
            values = getattr(self, name)
            if values:
                setattr(self, name, list(map(values.__getitem__, order)))


_COLUMNS = (
    "positions",
    "originals",
    "keys",
    "items",
    "priorities",
    "times",
    "hostnames",
    "appnames",
    "procids",
    "msgids",
)
