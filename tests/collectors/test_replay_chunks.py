"""Big NDJSON exports are replayed in bounded chunks with nothing lost, doubled or misplaced."""

from __future__ import annotations

import gzip
import hashlib
import tempfile

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.reading import chunking
from collectors.replay import batches, ingest
from store import EmbeddedStore
from tests.console.test_cli import signin


def write_export(path, count, bad_lines=(), compress=False):
    lines = []
    for i in range(count):
        lines.append(b"{not json at line %d" % (i + 1) if i + 1 in bad_lines else orjson.dumps(signin(i)))
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True])
def test_a_chunked_file_stores_every_record_once_and_names_bad_lines(tmp_path, monkeypatch, compress):
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 4096)  # many chunks from a small file
    monkeypatch.setattr(chunking, "PIECE_BYTES", 4096)  # (plain NDJSON is read in pieces)
    export = tmp_path / "signins.ndjson"
    write_export(export, 400, bad_lines={1, 57, 399}, compress=compress)
    assert chunking.layout(export) == "ndjson"
    store = EmbeddedStore(tmp_path / "home")
    result = ingest(store, [export], "entra-signins")
    assert (result.ingested, result.quarantined, result.duplicates) == (397, 3, 0)
    origins = sorted(row["origin"] for row in store.state.quarantined())
    assert origins == sorted(f"{export}:{n}" for n in (1, 57, 399))
    again = ingest(store, [export], "entra-signins")
    assert (again.ingested, again.duplicates) == (0, 397)


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=60),
    chunk_bytes=st.integers(min_value=1, max_value=2000),
    trailing_newline=st.booleans(),
)
def test_chunks_are_whole_lines_that_join_back_to_the_file(tmp_path_factory, lengths, chunk_bytes, trailing_newline):
    folder = tmp_path_factory.mktemp("chunks")
    text = b"\n".join(b"x" * n for n in lengths) + (b"\n" if trailing_newline else b"")
    for name, data in (("plain.ndjson", text), ("packed.ndjson.gz", gzip.compress(text))):
        path = folder / name
        path.write_bytes(data)
        pieces, lines = [], []
        for chunk in chunking.chunks(path, chunk_bytes):
            body = chunk.path.read_bytes()
            pieces.append(body)
            lines.append(chunk.lines_before())
        assert b"".join(pieces) == text
        assert all(piece.endswith(b"\n") for piece in pieces[:-1])
        assert lines == [b"".join(pieces[:i]).count(b"\n") for i in range(len(pieces))]


def test_a_chunked_log_analytics_csv_gives_the_same_events_as_the_whole_file(tmp_path, monkeypatch, shared_data):
    # Microsoft Sentinel Training Lab's SigninLogs export (Azure/Azure-Sentinel, MIT): 56 rows,
    # dynamic columns as JSON inside quoted cells.
    from collectors.formats.signins import entra_signins_la

    sample = shared_data / "azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv"
    whole = entra_signins_la.parse_file(sample)
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(chunking, "PIECE_BYTES", 8192)  # cuts inside its multi-line records
    assert chunking.layout(sample) == "csv"
    store = EmbeddedStore(tmp_path)
    result = ingest(store, [sample], "entra-signins-la")
    assert (result.ingested, result.quarantined) == (whole.count, len(whole.quarantined))
    stored = store.search(["azure.signinlogs"], *store_window(store), columns=["user.name", "source.ip"])
    expected = whole.events.select(["event.id", "user.name", "source.ip"]).sort_by("event.id").to_pylist()
    assert stored.select(["event.id", "user.name", "source.ip"]).sort_by("event.id").to_pylist() == expected


def store_window(store):
    from datetime import timedelta

    low, high = store.time_range()
    return low, high + timedelta(seconds=1)


def test_a_big_log_analytics_csv_is_read_in_place_piece_by_piece(tmp_path, monkeypatch, shared_data):
    # The Training Lab export (1,165 lines for 56 records: pretty-printed JSON in quoted cells)
    # with rows to quarantine after it, read in pieces smaller than a record: the same events and
    # quarantine, with the file's own line numbers, as the file read whole, and no temporary copy.
    from collectors.formats.signins import entra_signins_la

    sample = shared_data / "azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv"
    path = tmp_path / "export.csv"
    path.write_bytes(sample.read_bytes().rstrip(b"\r\n") + b"\r\nshort,row\r\n" + b'a,"never closed\r\n')
    whole = entra_signins_la.parse_file(path)
    assert whole.count == 56 and len(whole.quarantined) == 2
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(chunking, "PIECE_BYTES", 4096)
    pieces = []
    for piece in batches(path, "entra-signins-la"):
        assert list(spare.iterdir()) == []  # a chunked read would have its chunk file here now
        pieces.append(piece)
    assert len(pieces) > 10
    events = pa.concat_tables([piece.events for piece in pieces])
    assert events.drop(["event.ingested"]).equals(whole.events.drop(["event.ingested"]))
    quarantined = [q for piece in pieces for q in piece.quarantined]
    assert quarantined == whole.quarantined


def test_records_without_an_id_get_the_sha256_of_their_text_when_read_in_place(tmp_path, monkeypatch):
    # Read in place, a record's text is a view of the file (string_view): its id is hashed from it.
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(chunking, "PIECE_BYTES", 4096)
    records = [signin(i) for i in range(40)]
    for record in records[1::3]:
        del record["id"]
    path = tmp_path / "signins.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    events = pa.concat_tables([batch.events for batch in batches(path, "entra-signins")])
    assert events.schema.field("event.original").type == pa.string_view()
    texts = events.column("event.original").to_pylist()
    expected = [r.get("id") or hashlib.sha256(text.encode()).hexdigest() for r, text in zip(records, texts)]
    assert events.column("event.id").to_pylist() == expected
