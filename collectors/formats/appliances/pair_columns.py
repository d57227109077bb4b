"""Pairs found in a batch of appliance bodies, as flat Arrow arrays, turned into one column per key.

The FortiGate and CEF bulk readers find every ``key=value`` pair of a batch at once (a row, a
key and a value per pair, in line order); ``pivot`` makes a column of each key with a value per
row (null where a line lacks the key, the first value where a line repeats it) by one scatter,
rather than a lookup per key and line.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Cells (keys x rows) past which ``pivot`` scatters key by key rather than into one index: a
#: batch with thousands of distinct keys must not cost memory by their product.
MAX_CELLS = 16_000_000


class Pairs(NamedTuple):
    """Every pair of a batch in line order: its row, its key and its value."""

    rows: np.ndarray  # int64, non-decreasing
    keys: pa.Array  # string
    values: pa.Array  # string


def pivot(found: Pairs, count: int) -> dict[str, pa.Array]:
    """One column per key (keys sorted), a value per row or null; a key repeated in a line keeps
    its first value."""
    encoded = pc.dictionary_encode(found.keys)  # as it is when the keys come encoded
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    names = encoded.dictionary.to_pylist()
    present = np.bincount(codes, minlength=len(names)) > 0  # an encoding may name keys no pair has
    order = sorted((code for code in range(len(names)) if present[code]), key=names.__getitem__)
    if len(names) * count <= MAX_CELLS:
        return _pivot_at_once(found, codes, names, order, count)
    return _pivot_by_key(found, codes, names, order, count)


def _pivot_at_once(found: Pairs, codes: np.ndarray, names: list, order: list[int], count: int) -> dict[str, pa.Array]:
    """Every cell's pair in one index (key-major), one ``take`` for all columns."""
    cells = codes * count + found.rows
    index = np.full(len(names) * count, -1, np.int64)
    pairs = np.arange(len(cells), dtype=np.int64)
    index[cells[::-1]] = pairs[::-1]  # written last to first: the first pair of a cell stays
    if not np.all(index[cells] <= pairs):  # numpy does not promise the order of the writes
        index[:] = len(cells)
        np.minimum.at(index, cells, pairs)
        index[index == len(cells)] = -1
    taken = found.values.take(pa.array(index, mask=index < 0))
    return {names[code]: taken.slice(code * count, count) for code in order}


def _pivot_by_key(found: Pairs, codes: np.ndarray, names: list, order: list[int], count: int) -> dict[str, pa.Array]:
    """The same a key at a time, for batches with very many distinct keys."""
    by_key = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[by_key], np.arange(len(names) + 1))
    columns = {}
    for code in order:
        chosen = by_key[bounds[code] : bounds[code + 1]]  # pair positions, increasing
        owners = found.rows[chosen]
        first = np.ones(len(owners), bool)
        first[1:] = owners[1:] != owners[:-1]  # a line's pairs are adjacent and in order
        index = np.full(count, -1, np.int64)
        index[owners[first]] = chosen[first]
        columns[names[code]] = found.values.take(pa.array(index, mask=index < 0))
    return columns


def buffer_of(strings: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A string array whose offsets start at zero and that has no nulls, its bytes and its
    strings' bounds (int64, one more than strings): what the byte-level readers work on."""
    strings = strings.cast(pa.string())
    if strings.offset or strings.null_count:
        strings = pa.concat_arrays([pc.fill_null(strings, "")])
    bounds = np.frombuffer(strings.buffers()[1], np.int32)[: len(strings) + 1].astype(np.int64)
    data = strings.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[: bounds[-1]] if data is not None else np.zeros(0, np.uint8)
    return strings, raw, bounds


def slices(strings: pa.Array, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The byte ranges ``[starts, ends)`` of a ``buffer_of`` array (in order, not overlapping) as
    strings: cut from its buffer by offsets, with one copy for all of them."""
    return spans(strings.buffers()[2], starts, ends)


def spans(data: pa.Buffer | None, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The byte ranges ``[starts, ends)`` of ``data`` (in order, not overlapping, holding UTF-8) as
    strings, with one copy for all of them."""
    cuts = np.empty(2 * len(starts) + 1, np.int64)
    cuts[0:-1:2], cuts[1:-1:2] = starts, ends
    cuts[-1] = ends[-1] if len(ends) else 0
    both = pa.Array.from_buffers(pa.string(), 2 * len(starts), [None, pa.py_buffer(cuts.astype(np.int32)), data])
    return both.take(pa.array(np.arange(0, 2 * len(starts), 2)))
