"""CEF bodies read a batch at a time, so that the common record costs no Python of its own.

``cef.parse_cef`` and ``cef.to_row`` read one record in Python (~20 us with its dict); a syslog
batch holds tens of thousands. Here the header's seven fields come from one RE2 pattern over the
batch, and the extension's keys from its bytes (numpy): a key is the run of key characters right
before an ``=``, after a space or the start, and its value runs to the space before the next key,
exactly as ``cef.key_spans`` reads them. Lines this reading cannot promise to read the same
way — a backslash in the header, white space other than the space in the extension, a
``Label=`` that is not a key's — are read by ``cef.parse_cef``, record by record, and the two
parts are put back together in the order of the input. The table is the one ``cef.build``
makes: the same columns in the same order (the order in which the rows first name them), the
same values; ``tests/syslog/test_syslog_cef_bulk.py`` checks it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.appliances import cef, cef_time
from collectors.formats.appliances.pair_columns import Pairs, buffer_of, pivot, slices

# The header without escapes, captured whole (``head``) and field by field: short captures.
_HEADER = r"^(?P<head>(?:CEF: ?)?(?P<version>\d{1,3})" + "".join(rf"\|(?P<f{n}>[^|\\]*)" for n in range(1, 7)) + r"\|)"
_EXT = "cef.extensions."
_KEY_BYTES = np.zeros(256, bool)
_KEY_BYTES[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-[]")] = True
_OTHER_SPACE = r"[\t\n\r\f\v]"
# Where a custom column comes after the extension's own columns in a row's order.
_AFTER_EXTENSIONS = 1 << 40
_TIME_KEYS = ("dtz", "deviceTimeZone") + tuple(key for pair in cef_time.TIME_KEYS for key in pair)


def readable(bodies: pa.Array) -> np.ndarray:
    """Which bodies have a header this reader takes (seven fields, no backslash in them)."""
    return pc.fill_null(pc.match_substring_regex(bodies, _HEADER), False).to_numpy(zero_copy_only=False)


def build(bodies: pa.Array, now: datetime) -> pa.Table:
    """``cef.build`` of CEF bodies: those this reader takes in bulk, the others by ``parse_cef``."""
    part = _read(bodies, now)
    records = {row: cef.parse_cef(bodies[row].as_py()) for row in np.flatnonzero(~part.kept).tolist()}
    return _joined(part, np.flatnonzero(part.kept), records, len(bodies), now)


class _Part:
    """What the bulk reading made of the bodies it kept: columns, their first (row, rank), times."""

    def __init__(self, kept: np.ndarray, columns: dict[str, pa.Array], first: dict[str, tuple[int, int]], times):
        self.kept = kept
        self.columns = columns
        self.first = first  # column -> (row among the kept, rank in that row's order)
        self.times = times


def _read(bodies: pa.Array, now: datetime) -> _Part:
    parts = pc.extract_regex(bodies, _HEADER)
    kept = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    kept &= ~pc.fill_null(pc.match_substring_regex(bodies, _OTHER_SPACE), True).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(kept)
    if not len(rows):
        return _Part(kept, {}, {}, [])
    bodies, parts = bodies.take(pa.array(rows)), parts.take(pa.array(rows))
    strings, raw, bounds = buffer_of(bodies)
    starts = bounds[:-1] + pc.binary_length(parts.field("head")).to_numpy(zero_copy_only=False)
    found = _pairs(strings, raw, starts, bounds[1:])
    ours = _labels_are_keys(slices(strings, starts, bounds[1:]), found, len(rows))
    # Two FortiGate-style "...eventtime" keys in a row: their order in the row decides the time.
    ours &= (
        np.bincount(
            found.rows[pc.ends_with(found.keys, "eventtime").to_numpy(zero_copy_only=False)], minlength=len(rows)
        )
        < 2
    )
    if not ours.all():  # those rows are read by parse_cef; the others are numbered anew
        kept[rows[~ours]] = False
        renumbered = np.cumsum(ours) - 1
        mine = pa.array(ours[found.rows])
        found = Pairs(renumbered[found.rows[ours[found.rows]]], found.keys.filter(mine), found.values.filter(mine))
        parts = parts.filter(pa.array(ours))
    if not ours.any():
        return _Part(kept, {}, {}, [])
    return _columns(parts, found, kept, int(ours.sum()), now)


def _pairs(strings: pa.Array, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Pairs:
    """The extension's pairs (values unescaped) of every line, its extension ``[starts, ends)``."""
    equals = np.flatnonzero(raw == ord("="))
    equals = equals[equals >= starts[np.searchsorted(ends, equals, side="right").clip(max=len(ends) - 1)]]
    line = np.searchsorted(ends, equals, side="right")
    nonkey = np.flatnonzero(~_KEY_BYTES[raw])
    before = np.searchsorted(nonkey, equals) - 1  # the "=" itself is no key character
    run = np.where(before >= 0, nonkey[before.clip(min=0)] + 1, 0)
    run = np.maximum(run, starts[line])
    spaced = (run == starts[line]) | (raw[np.maximum(run - 1, 0)] == ord(" "))
    is_key = (run < equals) & spaced
    key_at, equals, owner = run[is_key], equals[is_key], line[is_key]
    value_end = ends[owner].copy()
    same = owner[1:] == owner[:-1]
    value_end[:-1][same] = key_at[1:][same] - 1  # the one space before the next key is no value
    keys = slices(strings, key_at, equals)
    values = slices(strings, equals + 1, value_end)
    escaped = pc.match_substring(values, "\\").to_numpy(zero_copy_only=False)
    if escaped.any():
        which = pa.array(escaped)
        _, chars, bounds = buffer_of(values.filter(which))
        values = pc.replace_with_mask(values, which, logscan.unescape_cef(chars, bounds[:-1], bounds[1:]))
    return Pairs(owner.astype(np.int64), keys, values)


def _labels_are_keys(extensions: pa.Array, found: Pairs, count: int) -> np.ndarray:
    """Lines whose every ``Label=`` ends a key (``cef._labelled_keys`` reads them where they
    are; where one sits inside a value the record is read by ``parse_cef``)."""
    written = pc.count_substring(extensions, "Label=").to_numpy(zero_copy_only=False)
    labels = pc.ends_with(found.keys, "Label").to_numpy(zero_copy_only=False)
    return written == np.bincount(found.rows[labels], minlength=count)


def _columns(parts: pa.StructArray, found: Pairs, kept: np.ndarray, count: int, now: datetime) -> _Part:
    columns: dict[str, pa.Array] = {}
    first: dict[str, tuple[int, int]] = {}
    for place, (name, group) in enumerate(zip(cef.HEADER_FIELDS, ("version", "f1", "f2", "f3", "f4", "f5", "f6"))):
        columns[name] = parts.field(group)
        first[name] = (0, place - len(cef.HEADER_FIELDS))
    extension = pivot(found, count)
    rank = _rank_in_row(found.rows)
    key_of = pc.dictionary_encode(found.keys)
    codes = key_of.indices.to_numpy(zero_copy_only=False)
    names = key_of.dictionary.to_pylist()
    seen = np.full(len(names), -1, np.int64)
    seen[codes[::-1]] = np.arange(len(codes))[::-1]  # each key's first pair
    for code, name in enumerate(names):
        columns[_EXT + name] = extension[name]
        first[_EXT + name] = (int(found.rows[seen[code]]), int(rank[seen[code]]))
    custom, custom_first = _custom(found, extension, rank, count)
    columns.update(custom)
    first.update(custom_first)
    return _Part(kept, columns, first, _times(extension, count, now))


def _rank_in_row(rows: np.ndarray) -> np.ndarray:
    """Each pair's place among its line's pairs."""
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, np.int64)
    return np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))


def _custom(
    found: Pairs, extension: dict[str, pa.Array], rank: np.ndarray, count: int
) -> tuple[dict[str, pa.Array], dict[str, tuple[int, int]]]:
    """The named columns of labelled custom fields (``cef.to_row``): a row's labels in the order
    they come, the first of two that name one column winning."""
    rows, places, named, values = [], [], [], []
    is_label = pc.and_(pc.ends_with(found.keys, "Label"), pc.greater(pc.utf8_length(found.keys), 5))
    label_keys = set(pc.unique(found.keys.filter(is_label)).to_pylist())
    for label_key in label_keys:
        key = label_key[: -len("Label")]
        if key not in extension:
            continue
        at = np.flatnonzero(pc.equal(found.keys, label_key).to_numpy(zero_copy_only=False))
        at = at[np.r_[True, found.rows[at][1:] != found.rows[at][:-1]]]  # a row's first
        label_rows = found.rows[at]
        label_names = [cef.custom_column(label) for label in found.values.take(pa.array(at)).to_pylist()]
        custom = extension[key].take(pa.array(label_rows)).to_pylist()
        for row, place, name, value in zip(label_rows, rank[at], label_names, custom):
            if name is not None and value is not None:
                rows.append(row)
                places.append(place)
                named.append(name)
                values.append(value)
    if not rows:
        return {}, {}
    order = np.lexsort((np.array(places), np.array(rows)))
    row_of = np.array(rows, np.int64)[order]
    names = pa.array(named, pa.string()).take(pa.array(order))
    chosen = pivot(Pairs(row_of, names, pa.array(values, pa.string()).take(pa.array(order))), count)
    first: dict[str, tuple[int, int]] = {}
    for row, place, name in zip(row_of.tolist(), np.array(places)[order].tolist(), names.to_pylist()):
        first.setdefault(name, (row, _AFTER_EXTENSIONS + place))
    return chosen, first


def _times(extension: dict[str, pa.Array], count: int, now: datetime) -> list[int | None]:
    """``cef_time.event_time_us`` of every row, from the columns it reads. The usual ``rt`` (an epoch
    count in digits) is converted here for all rows at once; any other row goes through
    ``event_time_us`` with the values it reads."""
    names = [name for name in extension if name.endswith("eventtime")] + [n for n in _TIME_KEYS if n in extension]
    if not names:
        return [None] * count
    times: list[int | None] = [None] * count
    pending = np.ones(count, bool)
    if not any(name.endswith("eventtime") for name in names):
        digits, number = _epoch_rt(extension, count)
        for row, value in zip(np.flatnonzero(digits).tolist(), number[digits].tolist()):
            times[row] = value
        pending = ~digits
    values = [extension[name].to_pylist() for name in names]
    for row in np.flatnonzero(pending).tolist():
        read = {name: column[row] for name, column in zip(names, values) if column[row] is not None}
        times[row] = cef_time.event_time_us(read, now)
    return times


def _epoch_rt(extension: dict[str, pa.Array], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose ``rt`` (else ``deviceReceiptTime``, the first that is not empty) is up to 18
    digits, and its epoch microseconds (``cef_time.epoch_us``: seconds to nanoseconds by size)."""
    empty = pa.scalar(None, pa.string())
    texts = [
        pc.if_else(pc.equal(extension[n], ""), empty, extension[n])
        for n in ("rt", "deviceReceiptTime")
        if n in extension
    ]
    if not texts:
        return np.zeros(count, bool), np.zeros(count, np.int64)
    text = pc.coalesce(*texts) if len(texts) > 1 else texts[0]
    digits = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,18}$"), False)
    number = pc.cast(pc.if_else(digits, text, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    scaled = np.where(
        number >= 10**17,
        number // 1000,
        np.where(number >= 10**14, number, np.where(number >= 10**11, number * 1000, number * 1_000_000)),
    )
    return digits.to_numpy(zero_copy_only=False), scaled


def _joined(
    part: _Part, fast_rows: np.ndarray, records: dict[int, cef.CefRecord], count: int, now: datetime
) -> pa.Table:
    """The bulk part and the records read one by one as one table, rows and columns in order."""
    first = {name: (int(fast_rows[row]), rank) for name, (row, rank) in part.first.items()} if len(fast_rows) else {}
    times: list[int | None] = [None] * count
    for k, row in enumerate(fast_rows.tolist()):
        times[row] = part.times[k]
    tables = [pa.table(part.columns)] if len(fast_rows) else []
    order = np.array(fast_rows, np.int64)
    if records:
        slow_rows = sorted(records)
        dicts = [cef.to_row(records[row]) for row in slow_rows]
        for row, values in zip(slow_rows, dicts):
            for rank, name in enumerate(values):
                if name not in first or (row, rank) < first[name]:
                    first[name] = (row, rank)
            times[row] = cef_time.event_time_us(records[row].extensions, now)
        tables.append(pa.Table.from_struct_array(pa.array(dicts)))
        order = np.concatenate([order, np.array(slow_rows, np.int64)])
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    table = table.take(pa.array(np.argsort(order, kind="stable")))
    columns = sorted(first, key=first.__getitem__)
    table = table.select(columns)
    return table.append_column("_body_time_us", pa.array(times, pa.int64()))
