"""The common syslog lines read a batch at a time, so that only the rare shapes cost Python per line.

Almost every line an appliance or relay sends has one of a few shapes: an RFC 5424 header with
``-`` for its structured data, an RFC 3164 header (``<PRI>Mmm dd hh:mm:ss host``), a bare
``<PRI>``, or no header at all, in front of a CEF, FortiGate or PAN-OS body that starts right
there. Those are split into header fields and bodies and classified with Arrow's regular
expressions (RE2) over the whole batch. The patterns below are strict on purpose: a line is
taken here only where ``collectors.reading.syslog_frame.parse_header`` and
``collectors.formats.syslog._read_body`` would read it the same way; every other line (a year in
the clock, a TAG, two spaces, a bad PRI, a body behind a prefix, anything not quite right) is
left to the per-line reader, which says why it rejects what it rejects.
``tests/tolerance/test_syslog_speed_identity.py`` checks that both ways give the same tables.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.appliances import cef, cef_bulk, fortigate, panos, panos_layouts
from collectors.reading.syslog_frame import MONTH_NUMBERS, FrameError, iso_us, yearless_us
from store.epoch import to_micros

# Where a body starts that ``_read_body`` reads as it stands: CEF with or without its prefix, a
# key=value pair, or a CSV record's first field. A first character that is white space, ":" or
# a BOM (which the per-line reader strips) is never one of these.
# Only the body's first characters are matched, not the rest of the line: RE2 pays for a capture
# by its length, and the body is most of the line. The header is captured whole (``head``), and
# the body is the rest of the line (``_after``).
_BODY = r"(?:CEF:|\d{1,3}\||[A-Za-z0-9_.\-]+=|\d+,)"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG``: single spaces, no empty field, no SD.
_RFC5424 = (
    r"^(?P<head><(?P<pri>\d{1,3})>1 "
    r"(?P<ts>-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d))"
    r" (?P<host>[^ ]+) (?P<app>[^ ]+) (?P<proc>[^ ]+) (?P<msgid>[^ ]+) - )" + _BODY
)
# ``[<PRI>][Mmm dd hh:mm:ss [host ]]BODY``: no year, fraction, zone or colon after the clock, one
# space after it, a host name of plain characters (never "UTC" or "GMT": the per-line reader
# takes those as the clock's zone), and no TAG (a body start is never a TAG).
_RFC3164 = (
    r"^(?P<head>(?:<(?P<pri>\d{1,3})>)?"
    r"(?:(?P<mon>" + _MONTHS + r") {1,2}(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
    r"(?:(?P<host>[A-Za-z0-9_.\-]+) )?)?)" + _BODY
)
_BARE_CEF = r"^(?:CEF:|\d{1,3}\|)"
_FORTI_KEY = r"(?:^|[ ,])(?:logid|log_id|devname|devid|subtype)="
_PAIR_FIRST = r"^[A-Za-z0-9_.\-]+="
_PANOS_TYPE = r'^[^,"]*,[^,"]*,[^,"]*,(?P<type>[A-Z][A-Z-]*)(?:,|$)'


@dataclass
class Taken:
    """The lines of one dataset read here: their positions in the batch, header fields, items."""

    positions: list[int] = field(default_factory=list)
    priorities: list[int | None] = field(default_factory=list)
    times: list[int | None] = field(default_factory=list)
    hostnames: list[str | None] = field(default_factory=list)
    appnames: list[str | None] = field(default_factory=list)
    procids: list[str | None] = field(default_factory=list)
    msgids: list[str | None] = field(default_factory=list)
    items: list = field(default_factory=list)


def route(messages: list[str], now: datetime) -> tuple[dict[str, Taken], set[int]]:
    """The lines read here, by dataset, and the positions of all the others (per-line reader)."""
    text = pa.array(messages, pa.string())
    taken: dict[str, Taken] = {cef.DATASET: Taken(), fortigate.DATASET: Taken(), panos.DATASET: Taken()}
    is5424 = pc.fill_null(pc.match_substring_regex(text, r"^<\d{1,3}>1 "), False)
    for pattern, mask in ((_RFC5424, is5424), (_RFC3164, pc.invert(is5424))):
        rows = pc.indices_nonzero(mask)
        if not len(rows):
            continue
        lines = text.take(rows)
        parts = pc.extract_regex(lines, pattern)
        matched = pc.is_valid(parts)
        rows, parts, lines = rows.filter(matched), parts.filter(matched), lines.filter(matched)
        if not len(rows):
            continue
        _take(rows.to_pylist(), parts, _after(lines, parts.field("head")), pattern is _RFC5424, now, taken)
    positions = set()
    for rows in taken.values():
        positions.update(rows.positions)
    return taken, set(range(len(messages))) - positions


def _after(lines: pa.Array, heads: pa.Array) -> pa.Array:
    """Each line without its header (``heads``, which each line starts with), cut by byte offsets
    from the lines' own buffer."""
    lines = pa.concat_arrays([lines]) if lines.offset else lines  # offsets from zero
    bounds = np.frombuffer(lines.buffers()[1], np.int32)[: len(lines) + 1]
    starts = bounds[:-1] + pc.binary_length(heads).to_numpy(zero_copy_only=False).astype(np.int32)
    cuts = np.empty(2 * len(lines) + 1, np.int32)
    cuts[0:-1:2], cuts[1:-1:2], cuts[-1] = bounds[:-1], starts, bounds[-1]
    halves = pa.Array.from_buffers(pa.string(), 2 * len(lines), [None, pa.py_buffer(cuts), lines.buffers()[2]])
    return halves.take(pa.array(np.arange(1, 2 * len(lines), 2)))


def _take(
    rows: list[int], parts: pa.StructArray, body: pa.Array, ietf: bool, now: datetime, taken: dict[str, Taken]
) -> None:
    """Header fields and items of the matched lines; lines whose values need the per-line reader
    (a PRI over 191, a date no year has, a body its vendor's reader refuses) are not taken."""
    # RE2 gives an optional group that did not take part as "", not as null.
    priorities = [int(pri) if pri else None for pri in parts.field("pri").to_pylist()]
    if ietf:
        times = _unique_times(parts.field("ts"), _ietf_us)
        hostnames, appnames, procids, msgids = (_nil(parts.field(name)) for name in ("host", "app", "proc", "msgid"))
    else:
        month = parts.field("mon")
        clock = pc.if_else(
            pc.equal(month, ""),
            pa.scalar(None, pa.string()),
            pc.binary_join_element_wise(month, parts.field("day"), parts.field("hms"), " "),
        )
        now_us = to_micros(now)
        times = _unique_times(clock, lambda value: _bsd_us(value, now_us))
        host = parts.field("host")
        hostnames = [name or None for name in host.to_pylist()]
        appnames = procids = msgids = [None] * len(rows)
    kinds = _kinds(body)
    bodies = body.to_pylist()
    # Which lines the per-line reader must see instead: a PRI over 191, a date no year has, a
    # 3164 host name that it takes for the clock's zone. Masks over the batch, not a loop.
    refused = pc.fill_null(
        pc.greater(pc.cast(pc.if_else(pc.equal(parts.field("pri"), ""), None, parts.field("pri")), pa.int32()), 191),
        False,
    )
    if not ietf:
        refused = pc.or_(refused, pc.fill_null(pc.is_in(parts.field("host"), pa.array(["UTC", "GMT"])), False))
    ok = ~refused.to_numpy(zero_copy_only=False) & ~np.fromiter((t is _BAD for t in times), bool, len(times))
    kind_codes = np.fromiter((_KIND_CODES.get(kind or "", 0) for kind in kinds), np.int8, len(kinds))
    items_of: dict[str, dict[int, Any]] = {
        cef.DATASET: _cef_items(bodies, kinds),
        panos.DATASET: _panos_items(bodies, kinds),
    }
    for code, kind in enumerate(_KIND_ORDER, 1):
        chosen = np.flatnonzero(ok & (kind_codes == code)).tolist()
        if kind in items_of:  # a body its vendor's reader refuses is the per-line reader's
            read = items_of[kind]
            chosen = [i for i in chosen if i in read]
            items = list(map(read.__getitem__, chosen))
        else:
            items = list(map(bodies.__getitem__, chosen))
        if not chosen:
            continue
        rows_of = taken[kind]
        rows_of.positions.extend(map(rows.__getitem__, chosen))
        rows_of.priorities.extend(map(priorities.__getitem__, chosen))
        rows_of.times.extend(map(times.__getitem__, chosen))
        rows_of.hostnames.extend(map(hostnames.__getitem__, chosen))
        rows_of.appnames.extend(map(appnames.__getitem__, chosen))
        rows_of.procids.extend(map(procids.__getitem__, chosen))
        rows_of.msgids.extend(map(msgids.__getitem__, chosen))
        rows_of.items.extend(items)


_KIND_ORDER = (cef.DATASET, fortigate.DATASET, panos.DATASET)
_KIND_CODES = {kind: code for code, kind in enumerate(_KIND_ORDER, 1)}


def _kinds(body: pa.Array) -> list[str | None]:
    """Each body's dataset, in the order ``_read_body`` tries them; None for none of them."""
    is_cef = pc.match_substring_regex(body, _BARE_CEF)
    is_forti = pc.and_(pc.match_substring_regex(body, _PAIR_FIRST), pc.match_substring_regex(body, _FORTI_KEY))
    log_type = pc.struct_field(pc.extract_regex(body, _PANOS_TYPE), [0])
    is_panos = pc.fill_null(pc.is_in(log_type, value_set=pa.array(panos_layouts.LOG_TYPES, pa.string())), False)
    kind = pc.case_when(
        pc.make_struct(is_cef, is_forti, is_panos),
        pa.scalar(cef.DATASET),
        pa.scalar(fortigate.DATASET),
        pa.scalar(panos.DATASET),
    )
    return kind.to_pylist()


def _cef_items(bodies: list[str], kinds: list[str | None]) -> dict[int, cef.CefRecord | str]:
    """The CEF bodies as items: a body whose header ``cef_bulk`` reads stays a string (read with
    the batch in ``cef_bulk.build``), any other is read here by ``parse_cef``."""
    chosen = [i for i, kind in enumerate(kinds) if kind == cef.DATASET]
    if not chosen:
        return {}
    readable = cef_bulk.readable(pa.array([bodies[i] for i in chosen], pa.string()))
    items: dict[int, cef.CefRecord | str] = {}
    for i, fast in zip(chosen, readable.tolist()):
        if fast:
            items[i] = bodies[i]
            continue
        try:
            items[i] = cef.parse_cef(bodies[i])
        except ValueError:
            pass  # the per-line reader quarantines it, with its reason
    return items


def _panos_items(bodies: list[str], kinds: list[str | None]) -> dict[int, list[str]]:
    """The CSV fields of the PAN-OS bodies, read by one ``csv.reader`` for all of them (a reader
    per line costs more than the reading). Bodies a strict reader could read differently one by
    one (a line end or an odd number of quotes) are left to the per-line reader."""
    chosen = [
        i
        for i, kind in enumerate(kinds)
        if kind == panos.DATASET and "\n" not in bodies[i] and "\r" not in bodies[i] and bodies[i].count('"') % 2 == 0
    ]
    try:
        records = list(csv.reader([bodies[i] for i in chosen], strict=True))
    except csv.Error:
        return {}
    if len(records) != len(chosen):
        return {}
    return {
        i: fields
        for i, fields in zip(chosen, records)
        if len(fields) >= panos.MIN_FIELDS and fields[3] in panos_layouts.LOG_TYPES
    }


_BAD = object()


def _unique_times(clock: pa.Array, convert) -> list:
    """Each clock's epoch microseconds, converted once per distinct clock; ``_BAD`` where the
    per-line reader would reject it."""
    encoded = pc.dictionary_encode(clock)
    values = []
    for text in encoded.dictionary.to_pylist():
        try:
            values.append(convert(text))
        except FrameError:
            values.append(_BAD)
    return [None if index is None else values[index] for index in encoded.indices.to_pylist()]


def _ietf_us(text: str | None) -> int | None:
    return None if text is None or text == "-" else iso_us(text)


def _bsd_us(text: str | None, now_us: int):
    if text is None:
        return None
    month, day, hms = text.split(" ")
    hh, mm, ss = hms.split(":")
    stamp = yearless_us(MONTH_NUMBERS[month], int(day), int(hh), int(mm), int(ss), None, now_us)
    return _BAD if stamp is None else stamp


def _nil(column: pa.Array) -> list[str | None]:
    return pc.if_else(pc.equal(column, "-"), pa.scalar(None, pa.string()), column).to_pylist()
