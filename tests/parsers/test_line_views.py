"""``event.original`` as views of the file's bytes must be exactly the lines without their ends.

Differential: :func:`collectors.reading.line_views.without_line_ends` against Arrow's own trim, which
copied every line before it; and the stores must keep views as they keep text.
"""

from __future__ import annotations

import mmap
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.reading.jsonframe import frame_lines
from collectors.reading.line_views import copied_without_line_ends, without_line_ends
from store import EmbeddedStore
from store.batch import ORIGINAL_VIEW

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40)
endings = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n"])
last_endings = st.sampled_from(["\n", "\r\n", "\r", ""])


def lines_of(draw_lines: list[tuple[str, str]], last_ending: str) -> pa.Array:
    """Lines as a framer cuts them: every one ends in a line feed but the last perhaps."""
    lines = [text + ending for text, ending in draw_lines]
    if lines:
        lines[-1] = draw_lines[-1][0] + last_ending
    return pa.array(lines, pa.large_string())


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(texts, endings), max_size=30),
    last_ending=last_endings,
    cut=st.tuples(st.integers(0, 30), st.integers(0, 30)),
)
def test_views_equal_the_trimmed_copy(lines, last_ending, cut):
    array = lines_of(lines, last_ending)
    start = min(cut[0], len(array))
    piece = array.slice(start, cut[1])
    views = without_line_ends(piece)
    for chunk in views.chunks:
        chunk.validate(full=True)
    assert views.type == ORIGINAL_VIEW
    assert views.to_pylist() == pc.utf8_rtrim(piece, characters="\r\n").to_pylist()
    copies = copied_without_line_ends(piece)  # what a batch that owns its bytes gets
    assert copies.type == pa.string() and copies.to_pylist() == views.to_pylist()


def test_long_lines_are_views_of_the_same_bytes():
    array = pa.array([f'{{"id": "{i:040d}"}}\n' for i in range(1_000)], pa.large_string())
    views = without_line_ends(array).chunk(0)
    assert views.buffers()[2].address == array.buffers()[2].address  # nothing copied
    assert views.to_pylist() == [f'{{"id": "{i:040d}"}}' for i in range(1_000)]


def test_a_piece_more_than_2_gib_into_a_file(tmp_path):
    """A view's offset is 32-bit; a piece of a big export starts gigabytes into the map."""
    path = tmp_path / "big.ndjson"
    tail = b"".join(b'{"id": "%032d", "text": "a record near the end"}\n' % i for i in range(500))
    with open(path, "wb") as handle:
        handle.truncate(3 << 30)  # sparse: no disk is used for the gap
        handle.seek(3 << 30)
        handle.write(tail)
    with open(path, "rb") as handle:
        view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    framed = frame_lines(view, 3 << 30, len(view), path, "test", 1)
    originals = without_line_ends(framed.raw)
    assert originals.to_pylist() == [line.decode() for line in tail.split(b"\n")[:-1]]


def test_the_embedded_store_keeps_views_with_duplicates_and_repeats(tmp_path):
    """The store filters and takes rows when a batch repeats itself or what is stored."""
    store = EmbeddedStore(tmp_path)
    lines = pa.array([f'{{"n": {i}, "padding": "xxxxxxxxxxxxxxxx"}}\n' for i in [0, 1, 1, 2]], pa.large_string())
    when = datetime(2026, 11, 27, 9, tzinfo=UTC)
    events = pa.table(
        {
            "@timestamp": pa.array([when] * 4, pa.timestamp("us", tz="UTC")),
            "event.ingested": pa.array([when] * 4, pa.timestamp("us", tz="UTC")),
            "event.dataset": ["test.lines"] * 4,
            "event.id": ["a", "b", "b", "c"],
            "event.original": without_line_ends(lines),
        }
    )
    first = store.append(events)
    again = store.append(events)
    assert (first.stored, first.duplicates, again.stored, again.duplicates) == (3, 1, 0, 4)
    stored = store.search(["test.lines"], when, datetime(2026, 11, 28, tzinfo=UTC), columns=["event.original"])
    assert stored.column("event.original").to_pylist() == [
        '{"n": 0, "padding": "xxxxxxxxxxxxxxxx"}',
        '{"n": 1, "padding": "xxxxxxxxxxxxxxxx"}',
        '{"n": 2, "padding": "xxxxxxxxxxxxxxxx"}',
    ]
