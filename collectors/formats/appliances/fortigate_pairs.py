"""FortiGate bodies split into their ``key=value`` pairs a batch at a time, as flat Arrow arrays.

The grammar is ``fortigate.PAIR_SPACED`` (or ``PAIR_COMMAS``) found left to right, as RE2's
``regexp_extract_all`` finds it in DuckDB. Running that regular expression made FortiGate the
slowest syslog source (~20 us a line), so the common line is split without it, over the batch's
bytes at once (numpy): at the spaces outside quotes (a space is inside a value when the quotes
before it in its line are odd), and each piece checked against the one shape a pair can have:
``key=value`` with a value quoted whole or holding no quote. That is the regular expression's
answer exactly when the line has no backslash, CR or LF, an even number of quotes and only such
pieces. Every other line (and every line of the comma layout) is split by the regular expression
in DuckDB, as before; ``tests/syslog/test_syslog_fortigate_pairs.py`` checks both ways give the same
columns.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.appliances.pair_columns import Pairs, pivot
from store.sql.literals import quote_literal

__all__ = ["Grammar", "Pairs", "pivot", "split"]

_KEY = re.compile(r"[\w.\-]+\Z", re.ASCII)  # a key of the grammar, whole (ASCII, as RE2's \w)
_QUOTE, _SPACE, _EQUALS = ord('"'), ord(" "), ord("=")


class Grammar(NamedTuple):
    """The patterns of ``fortigate``: the comma layout's test and the pair in either layout."""

    comma_layout: str
    spaced: str
    commas: str


def split(bodies: pa.Array, con: duckdb.DuckDBPyConnection, grammar: Grammar) -> Pairs:
    """The pairs of every body, in order."""
    text = _Text.of(bodies)
    chosen = _candidates(text, grammar.comma_layout)
    fast, failed = _split_on_spaces(text, chosen)
    slow = np.union1d(np.flatnonzero(~chosen), failed)
    if not len(slow):
        return fast
    other = _split_by_pattern(text.strings, slow, con, grammar)
    rows = np.concatenate([fast.rows, other.rows])
    # A row is in one part only, so a stable sort by row keeps each line's pairs in order.
    order = pa.array(np.argsort(rows, kind="stable"), pa.int64())
    keys = pa.concat_arrays([fast.keys.cast(pa.string()), other.keys]).take(order)
    values = pa.concat_arrays([fast.values, other.values]).take(order)
    return Pairs(rows[order.to_numpy()], keys, values)


#: Lines this long or longer are left to the pattern: quotes are counted in 16 bits (``_Text``),
#: which is exact for a difference within one line only when the line is shorter.
MAX_LINE = 65_535


class _Text(NamedTuple):
    """A batch of lines as one buffer: the strings, their bytes, the lines' bounds (int64, one
    more than lines) and the running count of quotes before each byte, in 16 bits that wrap (a
    difference within one line shorter than ``MAX_LINE`` is exact)."""

    strings: pa.Array
    raw: np.ndarray
    bounds: np.ndarray
    quotes: np.ndarray

    @classmethod
    def of(cls, strings: pa.Array) -> _Text:
        strings = _flat(strings)
        raw, bounds = _layout(strings)
        quotes = np.zeros(len(raw) + 1, np.uint16)
        # One running count over the bytes: cheaper than a binary search per position.
        np.cumsum(raw == _QUOTE, dtype=np.uint16, out=quotes[1:])
        return cls(strings, raw, bounds, quotes)

    def quotes_between(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return (self.quotes[ends] - self.quotes[starts]).astype(np.int64)


def _flat(strings: pa.Array) -> pa.Array:
    """A string array whose offsets start at zero and that has no nulls (buffers read as such)."""
    strings = strings.cast(pa.string())
    if strings.offset or strings.null_count:
        strings = pa.concat_arrays([pc.fill_null(strings, "")])
    return strings


def _layout(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of a ``_flat`` array and its lines' bounds (int64, one more than lines)."""
    bounds = np.frombuffer(strings.buffers()[1], np.int32)[: len(strings) + 1].astype(np.int64)
    data = strings.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[: bounds[-1]] if data is not None else np.zeros(0, np.uint8)
    return raw, bounds


def _candidates(text: _Text, comma_layout: str) -> np.ndarray:
    """The lines the split on spaces may read (still to be checked piece by piece): no
    backslash, CR or LF, an even number of quotes, not the comma layout, not too long."""
    raw, bounds = text.raw, text.bounds
    odd = text.quotes_between(bounds[:-1], bounds[1:]) % 2 == 1
    stray = np.flatnonzero((raw == ord("\\")) | (raw == ord("\n")) | (raw == ord("\r")))
    others = np.bincount(np.searchsorted(bounds, stray, side="right") - 1, minlength=len(bounds) - 1)
    comma = pc.fill_null(pc.match_substring_regex(text.strings, comma_layout), True).to_numpy(zero_copy_only=False)
    return (others == 0) & ~odd & ~comma & (np.diff(bounds) < MAX_LINE)


def _split_on_spaces(text: _Text, chosen: np.ndarray) -> tuple[Pairs, np.ndarray]:
    """The pairs of the ``chosen`` lines, and those of them whose pieces are not all simple pairs
    (they go to the regular expression, whole)."""
    raw, bounds = text.raw, text.bounds
    spaces = np.flatnonzero(raw == _SPACE)
    line = np.searchsorted(bounds, spaces, side="right") - 1
    # Outside quotes: an even number of quotes between the line's start and the space.
    outside = text.quotes_between(bounds[line], spaces) % 2 == 0
    separators = spaces[chosen[line] & outside]
    lines = np.flatnonzero(chosen)
    # In doubled positions, so that a line's last piece and the next line's first stay two where
    # they meet (a space that ends a line, or starts one): each mark is then distinct.
    starts = (_marked(2 * len(raw), 2 * bounds[lines], 2 * separators + 1) + 1) // 2
    ends = _marked(2 * len(raw), 2 * bounds[lines + 1], 2 * separators + 1) // 2
    pieces = ends > starts  # a run of spaces between pairs is no pair, as the pattern skips it
    starts, ends = starts[pieces], ends[pieces]
    owner = np.searchsorted(bounds, starts, side="right") - 1
    found = pc.find_substring(_slices(text.strings, starts, ends), "=").to_numpy(zero_copy_only=False)
    equals = starts + found.astype(np.int64)
    good = found > 0
    # A value holds no quote, or is quoted whole: two quotes, right after "=" and at the end.
    inside = text.quotes_between(starts, ends)
    opening = raw[np.minimum(equals + 1, len(raw) - 1)] == _QUOTE
    closing = raw[np.maximum(ends - 1, 0)] == _QUOTE
    quoted = (inside == 2) & opening & closing & (ends - equals >= 3)
    good &= (inside == 0) | quoted
    keys, values = _cut(text.strings, starts, np.where(good, equals, starts), quoted & good, ends)
    # Keys checked once per distinct key, not per pair; the pivot reuses the encoding.
    keys = pc.dictionary_encode(keys)
    wrong = [code for code, name in enumerate(keys.dictionary.to_pylist()) if _KEY.fullmatch(name) is None]
    if wrong:
        good &= ~np.isin(keys.indices.to_numpy(zero_copy_only=False), wrong)
    failed = np.unique(owner[~good])
    if len(failed):
        keep = ~np.isin(owner, failed)
        owner, keys, values = owner[keep], keys.filter(pa.array(keep)), values.filter(pa.array(keep))
    return Pairs(owner, keys, values), failed


def _slices(strings: pa.Array, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The strings ``[starts, ends)`` of a ``_flat`` array's bytes (sorted, not overlapping),
    over the same buffer."""
    cuts = np.empty(2 * len(starts) + 1, np.int64)
    cuts[0:-1:2], cuts[1:-1:2] = starts, ends
    cuts[-1] = ends[-1] if len(ends) else 0
    both = pa.Array.from_buffers(
        pa.string(), 2 * len(starts), [None, pa.py_buffer(cuts.astype(np.int32)), strings.buffers()[2]]
    )
    return both.take(pa.array(np.arange(0, 2 * len(starts), 2)))


def _marked(size: int, *positions: np.ndarray) -> np.ndarray:
    """The given positions (distinct), in order: cheaper than sorting them."""
    marks = np.zeros(size + 1, bool)
    for chosen in positions:
        marks[chosen] = True
    return np.flatnonzero(marks)


def _cut(
    strings: pa.Array, starts: np.ndarray, equals: np.ndarray, quoted: np.ndarray, ends: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """Keys ``[starts, equals)`` and values ``(equals, ends)`` (without the quotes of a quoted one)
    of a ``_flat`` array's bytes, as string arrays over the same buffer: four strings per pair
    (key, "=" and a quote, value, a quote), of which two are taken."""
    begin = equals + 1 + quoted
    stop = ends - quoted
    stop = np.maximum(stop, begin)
    cuts = np.empty(4 * len(starts) + 1, np.int64)
    cuts[0:-1:4], cuts[1:-1:4], cuts[2:-1:4], cuts[3:-1:4] = starts, equals, begin, stop
    cuts[-1] = ends[-1] if len(ends) else 0
    pieces = pa.Array.from_buffers(
        pa.string(), 4 * len(starts), [None, pa.py_buffer(cuts.astype(np.int32)), strings.buffers()[2]]
    )
    keys = pieces.take(pa.array(np.arange(0, 4 * len(starts), 4)))
    values = pieces.take(pa.array(np.arange(2, 4 * len(starts), 4)))
    return keys, values


def _split_by_pattern(bodies: pa.Array, rows: np.ndarray, con: duckdb.DuckDBPyConnection, grammar: Grammar) -> Pairs:
    """The pairs of the other lines, found by the grammar's regular expression in DuckDB (RE2,
    without capture groups: several times faster than with them)."""
    con.register("forti_bodies", pa.table({"body": bodies.take(pa.array(rows, pa.int64()))}))
    found = con.sql(f"""
        SELECT CASE WHEN regexp_matches(body, {quote_literal(grammar.comma_layout)})
                    THEN regexp_extract_all(body, {quote_literal(grammar.commas)})
                    ELSE regexp_extract_all(body, {quote_literal(grammar.spaced)}) END AS kv
        FROM forti_bodies""").to_arrow_table()
    con.unregister("forti_bodies")
    lists = found["kv"].combine_chunks()
    owner = rows[pc.list_parent_indices(lists).to_numpy()].astype(np.int64)
    pairs = _flat(pc.list_flatten(lists))
    raw, bounds = _layout(pairs)
    starts, ends = bounds[:-1], bounds[1:]
    equals = starts + pc.find_substring(pairs, "=").to_numpy(zero_copy_only=False).astype(np.int64)
    long_enough = ends - equals >= 3
    quoted = np.zeros(len(pairs), bool)
    quoted[long_enough] = (raw[equals[long_enough] + 1] == _QUOTE) & (raw[ends[long_enough] - 1] == _QUOTE)
    keys, values = _cut(pairs, starts, equals, quoted, ends)
    if quoted.any():  # inside quotes the grammar writes a quote as \"
        values = pc.if_else(pa.array(quoted), pc.replace_substring(values, '\\"', '"'), values)
    return Pairs(owner, keys, values)
