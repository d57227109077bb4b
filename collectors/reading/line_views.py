"""Lines of an export as ``event.original``: their text without the line end, without a copy.

A parser frames a file into lines that still carry their ``\\n`` (Arrow strings over the file's
memory map, back to back: a line end cannot be left out of such an array without copying every
line). Copying every line to drop one byte writes nearly the whole export again into fresh
memory, and the page faults cost more than the copy. An Arrow ``string_view`` array
holds a length and a place in the buffer per value, so the same bytes serve with each length
shortened by one: a few bytes of arithmetic per line. Parquet and DuckDB read such an array as
they read ``string``. Views are only for a caller that stores the batch before the file can
change (replay); a batch handed to anyone else owns its bytes (:func:`copied_without_line_ends`).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

#: A view this long or shorter holds its bytes inline instead of pointing into the buffer; a
#: line shortened to that length would need rewriting, so such pieces are trimmed by copying.
_INLINE = 12
#: One view's layout: length (int32), 4-byte prefix, buffer index (int32), offset (int32).
_VIEW_INTS = 4
#: Rows per chunk of a copy.
_COPY_CHUNK = 65_536


def without_line_ends(lines: pa.Array, trim: bool = True) -> pa.ChunkedArray:
    """``lines`` (``large_string``, each ending in ``\\n`` but perhaps the last) without their line
    ends, as ``string_view``. Lines ending ``\\r\\n`` or short lines are trimmed by copying.
    ``trim=False``: texts without line ends, as they are (the records of a larger document)."""
    count = len(lines)
    if count == 0:
        return pa.chunked_array([], pa.string_view())
    rebased = _rebased(lines)
    if rebased is None:  # over 2 GiB of text: a view's offset is 32-bit, so in halves
        half = count // 2
        return pa.chunked_array(
            without_line_ends(lines.slice(0, half), trim).chunks + without_line_ends(lines.slice(half), trim).chunks,
            pa.string_view(),
        )
    return pa.chunked_array([_trimmed(rebased) if trim else rebased.cast(pa.string_view())], pa.string_view())


def copied_without_line_ends(lines: pa.Array, trim: bool = True) -> pa.ChunkedArray:
    """The same texts as :func:`without_line_ends`, as ``string`` that owns its bytes: for a
    batch handed to a caller who may rewrite the file afterwards. Chunked, because ``string``'s
    32-bit offsets cannot span 2 GiB."""
    chunks = [lines.slice(start, _COPY_CHUNK) for start in range(0, len(lines), _COPY_CHUNK)]
    if trim:
        chunks = [pc.utf8_rtrim(chunk, characters="\r\n") for chunk in chunks]
    else:  # a slice keeps its offsets into the whole buffer, too large for ``string``: re-base
        chunks = [pa.concat_arrays([chunk]) for chunk in chunks]
    return pa.chunked_array([chunk.cast(pa.string()) for chunk in chunks], pa.string())


def _trimmed(lines: pa.Array) -> pa.Array:
    """Every line ends in ``\\n`` (the last may not) and is long: views shortened by one; else a copy."""
    count = len(lines)
    ends_in_lf = pc.ends_with(lines, "\n")
    last_in_lf = ends_in_lf[count - 1].as_py()
    if (
        lines.null_count
        or ends_in_lf.slice(0, count - 1).true_count < count - 1
        or pc.min(pc.binary_length(lines)).as_py() <= _INLINE + 1 + (not last_in_lf)
        or pc.any(pc.ends_with(lines, "\r\n")).as_py()
        or lines[count - 1].as_py().endswith("\r")
    ):
        return pc.utf8_rtrim(lines, characters="\r\n").cast(pa.string_view())
    views = lines.cast(pa.string_view())  # points into the same buffer: no bytes copied
    shorten = bytearray(b"\x01" + bytes(_VIEW_INTS * 4 - 1)) * count
    if not last_in_lf:
        shorten[-_VIEW_INTS * 4] = 0
    own = views.buffers()[1].slice(views.offset * _VIEW_INTS * 4, count * _VIEW_INTS * 4)
    shortened = pc.subtract(_as_int32(own, count), _as_int32(pa.py_buffer(shorten), count))
    return pa.Array.from_buffers(pa.string_view(), count, [None, shortened.buffers()[1], *views.buffers()[2:]])


def _rebased(lines: pa.Array) -> pa.Array | None:
    """The same strings over a buffer that starts at the first one (a view's offset is 32-bit,
    and a piece of a large memory map starts gigabytes in), or None when they span 2 GiB."""
    count = len(lines)
    offsets = pa.Array.from_buffers(pa.int64(), count + 1, [None, lines.buffers()[1]], offset=lines.offset)
    first, last = offsets[0].as_py(), offsets[count].as_py()
    if last - first >= 2**31:
        return None
    if last < 2**31:
        return lines
    return pa.Array.from_buffers(
        pa.large_string(),
        count,
        [None, pc.subtract(offsets, first).buffers()[1], lines.buffers()[2].slice(first, last - first)],
    )


def _as_int32(buffer: pa.Buffer, views: int) -> pa.Array:
    return pa.Array.from_buffers(pa.int32(), views * _VIEW_INTS, [None, buffer])
