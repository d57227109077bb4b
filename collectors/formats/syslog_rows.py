"""One syslog dataset's accepted messages, before they become events.

The bulk reader (``syslog_bulk``) hands over a batch's common lines at once as Arrow columns; the
per-line reader adds the rest a message at a time. :meth:`Collected.finish` puts both together
in the order of the input: the frame columns (the line, its id, what the header said) as one
table, and the vendor bodies as one string array for the vendor's ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from collectors.reading.syslog_frame import Header

#: The frame columns, as ``finish`` gives them (``_seq``: the message's place in the batch).
FRAME_SCHEMA = pa.schema(
    [
        ("_seq", pa.int64()),
        ("event.original", pa.string()),
        ("_header_time_us", pa.int64()),
        ("log.syslog.priority", pa.int32()),
        ("log.syslog.hostname", pa.string()),
        ("log.syslog.appname", pa.string()),
        ("log.syslog.procid", pa.string()),
        ("log.syslog.msgid", pa.string()),
    ]
)


@dataclass
class Taken:
    """Lines of one dataset read in bulk: the frame columns (``FRAME_SCHEMA``) and the bodies."""

    frame: pa.Table
    bodies: pa.Array


@dataclass
class Rows:
    """One dataset's messages in input order: the frame columns, each message's id (the SHA-256
    of its bytes) and its body, as its vendor's reader takes it."""

    frame: pa.Table
    ids: pa.Array
    bodies: pa.Array

    @property
    def positions(self) -> np.ndarray:
        return self.frame["_seq"].to_numpy()

    def __len__(self) -> int:
        return self.frame.num_rows


class Collected:
    """One dataset's accepted messages: a bulk part and the per-line reader's, in any order."""

    def __init__(self) -> None:
        self._taken: list[Taken] = []
        self._positions: list[int] = []
        self._originals: list[str] = []
        self._bodies: list[str] = []
        self._headers: list[Header] = []

    def add(self, position: int, message: str, body: str, header: Header) -> None:
        """A message the per-line reader read, with the body its vendor's reader takes."""
        self._positions.append(position)
        self._originals.append(message)
        self._bodies.append(body)
        self._headers.append(header)

    def extend(self, taken: Taken) -> None:
        """Lines the bulk reader read."""
        self._taken.append(taken)

    def __bool__(self) -> bool:
        return bool(self._positions) or any(part.frame.num_rows for part in self._taken)

    def finish(self, ids: pa.Array) -> Rows:
        """The rows in input order; ``ids``: the id of every message of the batch, by position."""
        frames = [part.frame for part in self._taken]
        bodies = [part.bodies for part in self._taken]
        if self._positions:
            frames.append(self._frame_of_lines())
            bodies.append(pa.array(self._bodies, pa.string()))
        frame = pa.concat_tables(frames) if len(frames) > 1 else frames[0]
        body = pa.concat_arrays(bodies) if len(bodies) > 1 else bodies[0]
        positions = frame["_seq"].to_numpy()
        if len(positions) > 1 and not bool(np.all(positions[1:] > positions[:-1])):
            order = pa.array(np.argsort(positions, kind="stable"))
            frame, body = frame.take(order), body.take(order)
        return Rows(frame.combine_chunks(), ids.take(frame["_seq"]), body)

    def _frame_of_lines(self) -> pa.Table:
        headers = self._headers
        return pa.table(
            [
                pa.array(self._positions, pa.int64()),
                pa.array(self._originals, pa.string()),
                pa.array([h.time_us for h in headers], pa.int64()),
                pa.array([h.priority for h in headers], pa.int32()),
                pa.array([h.hostname for h in headers], pa.string()),
                pa.array([h.appname for h in headers], pa.string()),
                pa.array([h.procid for h in headers], pa.string()),
                pa.array([h.msgid for h in headers], pa.string()),
            ],
            schema=FRAME_SCHEMA,
        )
