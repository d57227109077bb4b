"""The common syslog lines read a batch at a time, so that only the rare shapes cost Python per line.

Almost every line an appliance or relay sends has one of a few shapes: an RFC 5424 header with
``-`` for its structured data, an RFC 3164 header (``<PRI>Mmm dd hh:mm:ss host``), a bare
``<PRI>``, or no header at all, in front of a CEF, FortiGate or PAN-OS body that starts right
there. ``logscan.scan_headers`` (Cyberwell's native scanner) reads those over the batch's bytes,
with every line's SHA-256; the clocks are placed in time here, once per distinct clock. The
scanner is strict on purpose: a line is taken only where
``collectors.reading.syslog_frame.parse_header`` and ``collectors.formats.syslog._read_body``
would read it the same way; every other line (a year in the clock, a TAG, two spaces, a bad
PRI, a body behind a prefix, bytes that are not UTF-8, anything not quite right) is left to the
per-line reader, which says why it rejects what it rejects.
``tests/tolerance/test_syslog_speed_identity.py`` checks that both ways give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.appliances import cef, cef_bulk, fortigate, panos, panos_layouts
from collectors.formats.appliances.pair_columns import spans
from collectors.formats.syslog_rows import FRAME_SCHEMA, Taken
from collectors.reading.line_batch import LineBatch
from collectors.reading.syslog_frame import FrameError, iso_us, yearless_us
from store.epoch import to_micros

#: The scanner's body kinds (``logscan.scan_headers``' ``kind``), 0 being the per-line reader's.
KINDS = {1: cef.DATASET, 2: fortigate.DATASET, 3: panos.DATASET}
_LOG_TYPES = [name.encode() for name in panos_layouts.LOG_TYPES]
#: Arrow's string offsets are 32 bits: a bigger batch is read line by line.
_MAX_BYTES = 2**31 - 1


@dataclass
class Routed:
    """A batch routed: each dataset's lines read here, the positions left to the per-line
    reader (in order), and every message's id."""

    taken: dict[str, Taken]
    others: np.ndarray
    ids: pa.Array


def route(batch: LineBatch, now: datetime, bulk: bool = True) -> Routed:
    """Read the batch's common lines; ``bulk=False`` leaves every line to the per-line reader
    (the ids are still every message's)."""
    if len(batch.data) > _MAX_BYTES:
        raise ValueError(f"a syslog batch of {len(batch.data)} bytes is over Arrow's {_MAX_BYTES}")
    found = logscan.scan_headers(batch.data, batch.starts, batch.ends, _LOG_TYPES)
    ids = found["id"]
    kind = found["kind"].copy()
    if not bulk:
        kind[:] = 0
    times, bad = _times(found, kind, now)
    kind[bad] = 0
    body_start = found["body"]
    data = pa.py_buffer(batch.data)
    cef_rows = np.flatnonzero(kind == 1)
    if len(cef_rows):  # a header cef_bulk does not read (a backslash in it) is parse_cef's
        readable = cef_bulk.readable(spans(data, body_start[cef_rows], batch.ends[cef_rows]))
        kind[cef_rows[~readable]] = 0
    columns = {
        "event.original": found["original"],
        "_header_time_us": pa.array(times, pa.int64(), mask=times == _NO_TIME),
        "log.syslog.priority": pa.array(found["priority"], pa.int32(), mask=found["priority"] < 0),
        **{f"log.syslog.{name}": found[name] for name in ("hostname", "appname", "procid", "msgid")},
    }
    taken = {}
    for code, name in KINDS.items():
        rows = np.flatnonzero(kind == code)
        if not len(rows):
            continue
        index = pa.array(rows)
        frame = pa.table(
            [index] + [columns[field.name].take(index) for field in FRAME_SCHEMA if field.name != "_seq"],
            schema=FRAME_SCHEMA,
        )
        taken[name] = Taken(frame, spans(data, body_start[rows], batch.ends[rows]))
    return Routed(taken, np.flatnonzero(kind == 0), ids)


_NO_TIME = np.iinfo(np.int64).min


def _times(found: dict, kind: np.ndarray, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Each taken line's header time (epoch microseconds, ``_NO_TIME`` for none), converted once
    per distinct clock, and the lines whose clock the per-line reader must see (no year has
    the date, or an ISO clock Python cannot read)."""
    times = np.full(len(kind), _NO_TIME, np.int64)
    bad = np.zeros(len(kind), bool)
    taken = kind > 0
    bsd = found["bsd_clock"]
    has_bsd = taken & (bsd >= 0)
    if has_bsd.any():
        now_us = to_micros(now)
        clocks, inverse = np.unique(bsd[has_bsd], return_inverse=True)
        values = np.array([_bsd_us(int(clock), now_us) for clock in clocks], np.int64)
        times[has_bsd] = values[inverse]
    iso = found["iso_clock"]
    has_iso = taken & pc.is_valid(iso).to_numpy(zero_copy_only=False)
    if has_iso.any():
        encoded = pc.dictionary_encode(iso.filter(pa.array(has_iso)))
        values = np.array([_iso_us(text) for text in encoded.dictionary.to_pylist()], np.int64)
        times[has_iso] = values[encoded.indices.to_numpy(zero_copy_only=False)]
    bad = (has_bsd | has_iso) & (times == _NO_TIME)
    return times, bad


def _bsd_us(clock: int, now_us: int) -> int:
    """``MMDDhhmmss`` in the year that puts it nearest before ``now``; ``_NO_TIME`` when no year
    has the date."""
    month, rest = divmod(clock, 100_000_000)
    day, rest = divmod(rest, 1_000_000)
    hour, rest = divmod(rest, 10_000)
    minute, second = divmod(rest, 100)
    stamp = yearless_us(month, day, hour, minute, second, None, now_us)
    return _NO_TIME if stamp is None else stamp


def _iso_us(text: str) -> int:
    try:
        return iso_us(text)
    except FrameError:
        return _NO_TIME
