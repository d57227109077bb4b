"""The Log Analytics CSV path against a reference, on generated rows (``entra-signins-la``).

Differential: a CSV export and the same rows as NDJSON must give the same events. The two are
read by different readers (logscan's CSV reader; DuckDB's JSON reader) and meet only in the SQL
that maps columns to the dataset, so an error in the CSV path's reading, cutting or quarantine
shows as a difference.
The rows are awkward on purpose: quotes, commas and line ends inside cells, empty cells,
unicode, pretty-printed JSON in dynamic columns, and bad records among the good (a row with a
cell too few or too many, a byte that is not UTF-8 in a column the parser reads and in one it
does not, a time that is not one), with or without line ends inside cells. The reader itself
is compared with Python's ``csv`` module, cut into parts and whole.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logscan
from collectors.formats.signins.entra_signins_la import parse_file

HEADER = [
    "TimeGenerated",
    "CreatedDateTime [UTC]",
    "Id",
    "UserPrincipalName",
    "UserDisplayName",
    "IPAddress",
    "Location",
    "LocationDetails_dynamic",
    "Status_dynamic",
    "DeviceDetail_dynamic",
    "ConditionalAccessPolicies_dynamic",
    "ResultType",
    "ResultDescription",
    "Category",
    "Type",
    "IsInteractive",
    "UserAgent",
    "Junk",  # a column the parser does not read
]
#: The column names as the JSON form of the same rows has them.
JSON_NAMES = [name.removesuffix(" [UTC]").removesuffix("_dynamic") for name in HEADER]
UNREAD = HEADER.index("Junk")
READ = HEADER.index("UserDisplayName")

_AWKWARD = st.lists(
    st.one_of(
        st.sampled_from(['"', ",", "\n", "\r\n", "\r", " ", "''", "é", "日本", "🙂", "\t", "{", "}", ":"]),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    max_size=8,
).map("".join)
_WORD = st.text(st.characters(codec="ascii", categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8)
_TIME = st.one_of(
    st.tuples(
        st.datetimes(timezones=st.none()).map(lambda t: t.replace(year=max(t.year, 1900)).isoformat() + "Z"),
        st.just(""),
    ),
    st.tuples(st.just(""), st.sampled_from(["4/28/2021, 2:08:45.221 PM", "12/13/2024 4:34:03 PM"])),
    st.tuples(st.sampled_from(["", "yesterday", "13/45/2024, 1:00:00 PM"]), st.sampled_from(["", "soon"])),
)


def _json_cell(awkward: st.SearchStrategy) -> st.SearchStrategy[str]:
    """A dynamic column's cell: Graph's JSON, compact or pretty-printed, or not JSON at all."""
    document = st.dictionaries(st.sampled_from(["city", "state", "countryOrRegion", "errorCode", "deviceId"]), awkward)
    return st.one_of(
        st.just(""),
        awkward,
        st.tuples(document, st.sampled_from([None, 2])).map(
            lambda d: json.dumps(d[0], indent=d[1], ensure_ascii=False)
        ),
    )


@st.composite
def _row(draw) -> list[str]:
    generated, created = draw(_TIME)
    return [
        generated,
        created,
        draw(_WORD),
        draw(_AWKWARD),
        draw(_AWKWARD),
        draw(_AWKWARD),
        draw(_AWKWARD),
        draw(_json_cell(_AWKWARD)),
        draw(_json_cell(_AWKWARD)),
        draw(_json_cell(_AWKWARD)),
        draw(_json_cell(_AWKWARD)),
        draw(st.sampled_from(["", "0", "50126", "x"])),
        draw(_AWKWARD),
        draw(st.sampled_from(["", "SignInLogs", "NonInteractiveUserSignInLogs"])),
        draw(st.sampled_from(["", "SigninLogs", "AADNonInteractiveUserSignInLogs", "Other"])),
        draw(st.sampled_from(["", "TRUE", "FALSE", "maybe"])),
        draw(_AWKWARD),
        draw(_AWKWARD),
    ]


#: What is wrong with a record, if anything: it is written broken in that way. ("blank
#: before": a good record after an empty line, which is no record.)
DAMAGE = ("none", "short", "long", "foreign byte unread", "foreign byte read", "blank before")


@dataclass
class Record:
    cells: list[str]
    damage: str
    text: bytes = b""  # as written, without its line end
    line: int = 0  # the line it starts on (the header is line 1)


def _record_text(cells: list[str], damage: str) -> bytes:
    if damage == "short":
        cells = cells[:-1]
    elif damage == "long":
        cells = [*cells, "extra"]
    if not damage.startswith("foreign byte"):
        return _csv_line(cells).encode()
    marked = list(cells)  # a Latin-1 'é' where UTF-8 was expected
    marked[UNREAD if damage.endswith("unread") else READ] = "\x00MARK\x00"
    return _csv_line(marked).encode().replace(b"\x00MARK\x00", b"caf\xe9")


def _csv_line(cells: list[str]) -> str:
    """The cells as Python's CSV writer writes them, without the line end (the writer quotes a
    cell with a line end only if the line end it writes is one)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue().removesuffix("\r\n")


def _write(tmp_path: Path, records: list[Record], line_end: bytes) -> Path:
    content, line = b"\xef\xbb\xbf" + _csv_line(HEADER).encode() + line_end, 2
    for record in records:
        if record.damage == "blank before":
            content, line = content + line_end, line + 1
        record.text = _record_text(record.cells, record.damage)
        record.line = line
        content += record.text + line_end
        line += record.text.count(b"\n") + 1
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    return path


def _reference(tmp_path: Path, records: list[Record]):
    """The good records as Log Analytics JSON rows (an empty string column is absent there),
    read by the JSON path."""
    lines = [
        json.dumps({name: cell for name, cell in zip(JSON_NAMES, r.cells) if cell != "" and name != "Junk"})
        for r in records
    ]
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return parse_file(path)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(_row(), st.sampled_from(DAMAGE)), min_size=1, max_size=8),
    st.sampled_from([b"\r\n", b"\n"]),
)
def test_csv_gives_what_the_json_form_of_the_same_rows_gives(tmp_path, drawn, line_end):
    records = [Record(cells, damage) for cells, damage in drawn]
    path = _write(tmp_path, records, line_end)
    batch = parse_file(path)

    good = [r for r in records if r.damage in ("none", "blank before")]
    reference = _reference(tmp_path, good)
    refused = {int(q.origin.rsplit(":", 1)[1]): q.reason for q in reference.quarantined}  # NDJSON lines
    kept = [r for number, r in enumerate(good, start=1) if number not in refused]
    # the same events, column for column, in the file's order
    assert batch.events.drop(["event.ingested", "event.original"]).to_pylist() == (
        reference.events.drop(["event.ingested", "event.original"]).to_pylist()
    )
    # event.original is the record as it is in the file
    assert batch.events.column("event.original").to_pylist() == [r.text.decode() for r in kept]

    # the same quarantine: what the reference refuses (a time), and the damaged records
    expected = {(r.line, refused[number]) for number, r in enumerate(good, start=1) if number in refused}
    for r in records:
        if r.damage in ("short", "long"):
            cells = len(HEADER) + (1 if r.damage == "long" else -1)
            expected.add((r.line, f"row has {cells} cells, the header has {len(HEADER)}"))
        elif r.damage.startswith("foreign byte"):  # in a column read or not: the record is not text
            column = r.text.index(b"caf\xe9") + 4  # the marker; 0xe9 may also be inside a character before it
            expected.add((r.line, f"not valid UTF-8: byte 0xe9 at column {column}"))
    found = {(int(q.origin.rsplit(":", 1)[1]), q.reason) for q in batch.quarantined}
    assert found == expected
    # every record is stored or quarantined, once
    assert batch.count + len(batch.quarantined) == len(records)
    # a quarantined record is the file's text at the line it names
    by_line = {r.line: r for r in records}
    for q in batch.quarantined:
        assert q.record == by_line[int(q.origin.rsplit(":", 1)[1])].text.decode("utf-8", "backslashreplace")


_CELLS = st.lists(st.lists(_AWKWARD, min_size=3, max_size=3), min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(_CELLS, st.sampled_from(["\r\n", "\n"]), st.integers(1, 4), st.sampled_from([[0, 1, 2], [2, 0], [1]]))
def test_the_reader_reads_what_pythons_csv_module_reads(rows, line_end, parts, read):
    # Any cells, as Python's writer writes them (quotes, commas and line ends inside), read in
    # parts that may cut a quoted cell: the cells asked for (an empty one as null), and each
    # record's text.
    texts = [_csv_line(row) for row in rows]
    content = line_end.join(["a,b,c", *texts, ""])
    data = content.encode()
    start = data.index(b"\n") + 1
    table = logscan.read_csv_table(data, start, 3, {f"c{k}": k for k in read}, parts)
    expected = list(csv.reader(io.StringIO(content, newline="")))[1:]
    cells = [row for batch in table.cells for row in zip(*batch.to_pydict().values())]
    assert cells == [tuple(row[k] or None for k in read) for row in expected]
    assert len(table.refused["kind"]) == 0
    assert table.original.to_pylist() == texts
    starts = [start + sum(len(t.encode()) + len(line_end) for t in texts[:k]) for k in range(len(texts))]
    assert table.starts.tolist() == starts


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 4))
def test_the_reader_takes_any_bytes_and_accounts_for_every_line(junk, parts):
    # Every line that is not blank is in a record read or refused, and a refused record's text
    # is the file's bytes where it says.
    data = b"a,b\n" + junk
    table = logscan.read_csv_table(data, 4, 2, {"a": 0, "b": 1}, parts)
    refused = table.refused
    spans = [(int(s), int(s) + len(t.encode())) for s, t in zip(table.starts, table.original.to_pylist())]
    spans += list(zip(refused["start"].tolist(), refused["end"].tolist()))
    covered = sorted(spans)
    for (_, end), (start, _) in zip(covered, covered[1:]):
        assert end <= start  # no byte in two records
    position = 4
    for line in data[4:].split(b"\n"):
        if line.strip(b"\r"):
            assert any(start <= position < end or start == position for start, end in covered), (position, line)
        position += len(line) + 1
    for start, end, kind in zip(refused["start"], refused["end"], refused["kind"]):
        assert kind in (logscan.CSV_CELLS, logscan.CSV_NOT_UTF8, logscan.CSV_AFTER_QUOTE, logscan.CSV_UNCLOSED)
        assert b"\n" not in data[start:end] or kind != logscan.CSV_UNCLOSED  # its first line only


def test_a_byte_not_utf8_in_a_column_not_read_quarantines_its_record(tmp_path):
    # The record must be text to keep as event.original, whichever cell holds the byte.
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"TimeGenerated,Id,Comment\r\n"
        b"2025-06-02T07:00:00Z,a,fine\r\n"
        b"2025-06-02T07:00:01Z,b,caf\xe9\r\n"
        b'2025-06-02T07:00:02Z,c,"two\r\nlines"\r\n'
    )
    batch = parse_file(path)
    assert batch.events.column("event.id").to_pylist() == ["a", "c"]
    assert batch.events.column("event.original").to_pylist() == [
        "2025-06-02T07:00:00Z,a,fine",
        '2025-06-02T07:00:02Z,c,"two\r\nlines"',
    ]
    (bad,) = batch.quarantined
    assert (bad.reason, bad.origin, bad.record) == (
        "not valid UTF-8: byte 0xe9 at column 27",
        f"{path}:3",
        "2025-06-02T07:00:01Z,b,caf\\xe9",
    )


def test_a_part_cut_inside_a_quoted_cell_is_read_again_from_its_record():
    # Every cut between parts lands on a line end inside a quoted cell here: the part after it
    # must be read again from where the record around the cut ends.
    rows = [[f"r{k}", "\n".join(["line"] * 40), "end"] for k in range(6)]
    content = "\r\n".join(["a,b,c", *(_csv_line(row) for row in rows), ""])
    data = content.encode()
    for parts in (1, 2, 3, 4):
        table = logscan.read_csv_table(data, data.index(b"\n") + 1, 3, {"a": 0, "b": 1, "c": 2}, parts)
        cells = [list(row) for batch in table.cells for row in zip(*batch.to_pydict().values())]
        assert cells == rows, parts
        assert len(table.refused["kind"]) == 0


def test_a_long_export_keeps_every_row_in_order(tmp_path):
    # More rows than one query maps at a time (batches of 65,536 rows, four to a query).
    count = 300_000
    path = tmp_path / "long.csv"
    rows = "".join(f"2025-06-02T07:00:00Z,id{k}\r\n" for k in range(count))
    path.write_text("TimeGenerated,Id\r\n" + rows)
    batch = parse_file(path)
    assert batch.quarantined == []
    assert batch.events.column("event.id").to_pylist() == [f"id{k}" for k in range(count)]
    assert batch.events.column("event.original")[count - 1].as_py() == f"2025-06-02T07:00:00Z,id{count - 1}"
