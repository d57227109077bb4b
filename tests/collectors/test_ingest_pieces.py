"""A big NDJSON export read piece by piece from memory gives what reading the whole file gives.

Replay hands large plain NDJSON exports to the sign-in parsers as pieces of whole lines of the
file's memory map (``chunking.line_pieces`` → ``parse_pieces``), with DuckDB's reader running
over the whole file ahead of them. Whatever the lines and wherever the pieces are cut, the
events (ids, fields, ``event.original`` verbatim) and the quarantine (reasons, records, and
``path:line`` origins) must be those of ``parse_file`` on the whole file. The records are
generated here; no third-party data.
"""

from __future__ import annotations

from datetime import UTC

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.signins import entra_signins, entra_signins_la
from collectors.reading import chunking
from collectors.replay import ingest
from store import EmbeddedStore
from store.batch import plain_text


def signin(i: int) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T09:{i % 60:02d}:{i % 7:02d}Z",
        "userPrincipalName": f"User{i}@Westbrook-DC.gov.uk",
        "userId": f"u-{i}",
        "ipAddress": f"81.2.69.{i % 250}",
        "isInteractive": i % 3 != 0,
        "status": {"errorCode": 0 if i % 4 else 50126, "failureReason": None if i % 4 else "Invalid password"},
        "location": {"city": "London", "state": "London", "countryOrRegion": "GB"},
        "appliedConditionalAccessPolicies": [{"id": "p", "result": "success"}] if i % 2 else [],
    }


def la_row(i: int) -> dict:
    return {
        "TimeGenerated": f"2026-11-16T10:{i % 60:02d}:00Z",
        "Id": f"la-{i}",
        "UserPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "ResultType": "0" if i % 5 else "50126",
        "IPAddress": "81.2.69.160",
        "LocationDetails": orjson.dumps({"city": "Leeds", "countryOrRegion": "GB"}).decode(),
        "Status": {"errorCode": 0},
        "Category": "SignInLogs",
    }


def _line(kind: str, i: int, row) -> bytes:
    """One line of an export: mostly good records, and every kind of damage a file can have."""
    good = orjson.dumps(row(i))
    return {
        "good": good,
        "spaced": orjson.dumps(row(i), option=orjson.OPT_INDENT_2).replace(b"\n", b" "),
        "crlf": good + b"\r",
        "blank": b"",
        "spaces": b"  \t",
        "broken": b'{"id": "x-%d", "createdDateTime": ' % i,
        "array": b"[1, 2]",
        "string": b'"just text"',
        "no time": orjson.dumps({"id": f"t-{i}", "userPrincipalName": "a@b.c"}),
        "bad time": orjson.dumps({"id": f"b-{i}", "createdDateTime": "yesterday", "TimeGenerated": "soon"}),
        "latin1": b'{"id": "l-%d", "userDisplayName": "Ren\xe9"}' % i,
        "page": orjson.dumps({"value": [row(i + 10_000), row(i + 20_000)]}),
        "diagnostic": orjson.dumps(
            {"category": "SignInLogs", "time": "2026-11-16T11:00:00Z", "properties": signin(i + 30_000)}
        ),
        "trailing comma": good[:-1] + b",}",
    }[kind]


KINDS = ["good"] * 12 + [
    "spaced",
    "crlf",
    "blank",
    "spaces",
    "broken",
    "array",
    "string",
    "no time",
    "bad time",
    "latin1",
    "page",
    "diagnostic",
    "trailing comma",
]


def comparable(batch) -> tuple[list[dict], list[tuple]]:
    """Events and rejects in a fixed order: records opened out of a container (a Graph page on
    one line) come after the file's other records when read whole, after their piece's here."""
    events = batch.events.drop_columns(["event.ingested"]).to_pylist()
    rejects = [(q.reason, q.record, q.origin) for q in batch.quarantined]
    return sorted(events, key=lambda e: (e["event.id"], e["event.original"])), sorted(rejects)


def pieces_of(module, path, chunk_bytes: int):
    parts = list(module.parse_pieces(path, chunking.line_pieces(path, chunk_bytes)))
    # A piece may hand event.original over as views of the file (collectors.reading.line_views).
    events = pa.concat_tables([plain_text(p.events) for p in parts]) if parts else module.parse_file(path).events
    return comparable(type(parts[0])(events, [q for p in parts for q in p.quarantined]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40),
    chunk_bytes=st.integers(min_value=1, max_value=6_000),
    final_newline=st.booleans(),
    bom=st.booleans(),
    la=st.booleans(),
)
def test_pieces_agree_with_the_whole_file(tmp_path, kinds, chunk_bytes, final_newline, bom, la):
    module, row = (entra_signins_la, la_row) if la else (entra_signins, signin)
    # Replay reads a file this way only when its opening lines are records (chunking.layout);
    # a file whose first line is not JSON is read whole, as one document if it is one.
    kinds = ["good", *kinds]
    text = b"\n".join(_line(kind, i, row) for i, kind in enumerate(kinds)) + (b"\n" if final_newline else b"")
    text = (b"\xef\xbb\xbf" if bom else b"") + text  # as Windows tools write it
    path = tmp_path / f"export-{len(kinds)}-{chunk_bytes}.ndjson"
    path.write_bytes(text)
    assert pieces_of(module, path, chunk_bytes) == comparable(module.parse_file(path))


def test_a_big_clean_export_is_read_by_the_stream_and_matches(tmp_path):
    path = tmp_path / "clean.ndjson"
    path.write_bytes(b"".join(orjson.dumps(signin(i)) + b"\n" for i in range(3_000)))
    whole = comparable(entra_signins.parse_file(path))
    assert pieces_of(entra_signins, path, 50_000) == whole
    assert len(whole[0]) == 3_000 and not whole[1]


def test_replay_takes_big_ndjson_from_memory_with_the_file_s_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 2_000)
    monkeypatch.setattr(chunking, "PIECE_BYTES", 2_000)
    lines = [orjson.dumps(signin(i)) for i in range(300)]
    lines[150] = b"{not json"
    lines[299] = b'{"id": "late", "createdDateTime": "not a time"}'
    path = tmp_path / "big.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert chunking.layout(path) == "ndjson"
    store = EmbeddedStore(tmp_path / "home")
    result = ingest(store, [path], "entra-signins")
    assert (result.ingested, result.quarantined, result.duplicates) == (298, 2, 0)
    assert sorted(row["origin"] for row in store.state.quarantined()) == [f"{path}:151", f"{path}:300"]
    stored = store.search(["azure.signinlogs"], *_window(), columns=["event.original"])
    assert sorted(stored.column("event.original").to_pylist()) == sorted(
        line.decode() for i, line in enumerate(lines) if i not in (150, 299)
    )


def _window():
    from datetime import datetime

    return datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 17, tzinfo=UTC)
