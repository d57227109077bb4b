"""FortiGate bodies split into their ``key=value`` pairs a batch at a time, as flat Arrow arrays.

The grammar is ``fortigate.PAIR_SPACED`` (or ``PAIR_COMMAS``) found left to right, as RE2's
``regexp_extract_all`` finds it in DuckDB. Running that regular expression made FortiGate the
slowest syslog source (~20 us a line), so the common line is split without it by
``logscan.split_pairs`` (Cyberwell's native scanner): at the spaces outside quotes, each piece
``key=value`` with a value quoted whole or holding no quote. That is the regular expression's
answer exactly when the line has no backslash, CR or LF, an even number of quotes and only such
pieces. Every other line (and every line of the comma layout) is split by the regular expression
in DuckDB, as before; ``tests/syslog/test_syslog_fortigate_pairs.py`` checks both ways give the same
columns.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import logscan
from collectors.formats.appliances.pair_columns import Pairs, buffer_of, pivot
from store.sql.literals import quote_literal

__all__ = ["Grammar", "Pairs", "pivot", "split"]

_QUOTE = ord('"')


class Grammar(NamedTuple):
    """The patterns of ``fortigate``: the comma layout's test and the pair in either layout."""

    comma_layout: str
    spaced: str
    commas: str


def split(bodies: pa.Array, con: duckdb.DuckDBPyConnection, grammar: Grammar) -> Pairs:
    """The pairs of every body, in order."""
    strings, _raw, bounds = buffer_of(bodies)
    data = strings.buffers()[2] or pa.py_buffer(b"")
    rows, keys, values, slow = logscan.split_pairs(data, bounds[:-1], bounds[1:])
    fast = Pairs(rows, keys, values)
    if not len(slow):
        return fast
    other = _split_by_pattern(strings, slow, con, grammar)
    rows = np.concatenate([fast.rows, other.rows])
    # A row is in one part only, so a stable sort by row keeps each line's pairs in order.
    order = pa.array(np.argsort(rows, kind="stable"), pa.int64())
    keys = pa.concat_arrays([fast.keys, other.keys]).take(order)
    values = pa.concat_arrays([fast.values, other.values]).take(order)
    return Pairs(rows[order.to_numpy()], keys, values)


def _cut(
    strings: pa.Array, starts: np.ndarray, equals: np.ndarray, quoted: np.ndarray, ends: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """Keys ``[starts, equals)`` and values ``(equals, ends)`` (without the quotes of a quoted one)
    of a ``buffer_of`` array's bytes, as string arrays over the same buffer: four strings per pair
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
    pairs, raw, bounds = buffer_of(pc.list_flatten(lists))
    starts, ends = bounds[:-1], bounds[1:]
    equals = starts + pc.find_substring(pairs, "=").to_numpy(zero_copy_only=False).astype(np.int64)
    long_enough = ends - equals >= 3
    quoted = np.zeros(len(pairs), bool)
    quoted[long_enough] = (raw[equals[long_enough] + 1] == _QUOTE) & (raw[ends[long_enough] - 1] == _QUOTE)
    keys, values = _cut(pairs, starts, equals, quoted, ends)
    if quoted.any():  # inside quotes the grammar writes a quote as \"
        values = pc.if_else(pa.array(quoted), pc.replace_substring(values, '\\"', '"'), values)
    return Pairs(owner, keys, values)
