"""Cyberwell's native scanners (``logscan``) against the Python they must agree with: CSV fields
as ``csv.reader(strict=True)`` reads them (or refused where it refuses), and every line's id as
``hashlib`` computes it. The header scanner and the FortiGate pairs are held to the per-line
readers in ``tests/tolerance/test_syslog_speed_identity.py`` and ``test_syslog_fortigate_pairs.py``.
"""

from __future__ import annotations

import csv
from hashlib import sha256

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import logscan
from collectors.formats.appliances import cef
from collectors.reading.line_batch import LineBatch

_csv_atoms = st.sampled_from(["a", "1", ",", '"', '""', " ", "x,y", '"q"', "\u00e9", "\\", "\x00"])
_records = st.lists(_csv_atoms, min_size=1, max_size=12).map("".join)


def _python_fields(record: str) -> list[str] | None:
    try:
        rows = list(csv.reader([record], strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


@settings(max_examples=400, deadline=None)
@given(records=st.lists(_records, min_size=1, max_size=8))
def test_csv_fields_are_those_of_the_strict_csv_reader(records):
    batch = LineBatch.of_messages([record.encode() for record in records])
    owners, values, failed = logscan.split_fields(batch.data, batch.starts, batch.ends)
    read = {i: [] for i in range(len(records)) if i not in set(failed.tolist())}
    for owner, value in zip(owners.tolist(), values.to_pylist()):
        read[owner].append(value)
    for i, record in enumerate(records):
        expected = _python_fields(record)
        if i in read:
            assert read[i] == expected, record
        else:  # refused: the strict reader refuses it too, or reads it across lines
            assert expected is None or "\n" in record or "\r" in record, record


def test_a_quote_after_a_closing_quote_is_refused_and_a_doubled_one_is_a_quote():
    batch = LineBatch.of_messages([b'1,"a""b",c', b'1,"a"b,c'])
    owners, values, failed = logscan.split_fields(batch.data, batch.starts, batch.ends)
    assert values.to_pylist() == ["1", 'a"b', "c"] and owners.tolist() == [0, 0, 0]
    assert failed.tolist() == [1]


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.binary(max_size=80), min_size=1, max_size=10))
def test_every_line_id_is_its_sha256_and_bytes_that_are_not_utf8_go_to_the_per_line_reader(lines):
    batch = LineBatch.of_messages(lines)
    found = logscan.scan_headers(batch.data, batch.starts, batch.ends, [b"TRAFFIC"])
    assert found["id"].to_pylist() == [sha256(line).hexdigest() for line in lines]
    for line, kind in zip(lines, found["kind"].tolist()):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            assert kind == 0


def test_the_scanner_names_the_body_and_its_header_fields():
    lines = [
        b"<189>Mar  1 10:00:00 fw01 logid=1 devname=x",
        b"<13>1 2026-03-01T10:00:00Z host app 42 ID - CEF:0|a|b|c|d|e|1|x=y",
        b"1,2026/03/01 10:00:00,0123,TRAFFIC,end",
        b"<189>Mar  1 10:00:00 fw01 app: logid=1",  # a TAG: the per-line reader's
    ]
    batch = LineBatch.of_messages(lines)
    found = logscan.scan_headers(batch.data, batch.starts, batch.ends, [b"TRAFFIC"])
    assert found["kind"].tolist() == [2, 1, 3, 0]
    assert found["priority"].tolist() == [189, 13, -1, -1]
    assert found["bsd_clock"].tolist() == [301100000, -1, -1, -1]
    assert found["hostname"].to_pylist() == ["fw01", "host", None, None]
    assert found["procid"].to_pylist() == [None, "42", None, None]
    assert found["iso_clock"].to_pylist() == [None, "2026-03-01T10:00:00Z", None, None]
    bodies = [batch.data[start:end] for start, end in zip(found["body"][:3], batch.ends[:3])]
    assert bodies == [b"logid=1 devname=x", b"CEF:0|a|b|c|d|e|1|x=y", lines[2]]


def test_a_range_outside_the_buffer_is_refused():
    try:
        logscan.split_fields(b"abc", np.array([0], np.int64), np.array([9], np.int64))
    except ValueError as exc:
        assert "outside the buffer" in str(exc)
    else:
        raise AssertionError("no error")


_text = st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b"\n"))  # line ends aplenty


@settings(max_examples=300, deadline=None)
@given(data=_text, start=st.integers(0, 60), stop=st.integers(0, 60))
def test_line_offsets_are_where_each_line_starts(data, start, stop):
    """The offsets every NDJSON and CSV frame is cut by: after each ``\\n``, and the end."""
    start, stop = min(start, len(data)), min(max(start, stop), len(data))
    expected, pos = [start], start
    while (end := data.find(b"\n", pos, stop)) >= 0:
        pos = end + 1
        expected.append(pos)
    if pos < stop:
        expected.append(stop)
    assert logscan.line_offsets(data, start, stop).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(data=_text, start=st.integers(0, 60), lines=st.integers(0, 10))
def test_after_lines_is_where_the_nth_line_ends(data, start, lines):
    """Where a syslog file's span of ``lines`` lines ends: after its last ``\\n``, or at the end."""
    start = min(start, len(data))
    ends = [i + 1 for i in range(start, len(data)) if data[i] == 0x0A]
    expected = start if lines == 0 else ends[lines - 1] if len(ends) >= lines else len(data)
    assert logscan.after_lines(data, start, lines) == expected


def test_a_span_outside_the_buffer_is_refused():
    for call in (lambda: logscan.line_offsets(b"ab\n", 2, 9), lambda: logscan.after_lines(b"ab\n", 4, 1)):
        try:
            call()
        except ValueError as exc:
            assert "outside the buffer" in str(exc)
        else:
            raise AssertionError("a range outside the buffer was read")


_escaped = st.lists(st.sampled_from(["\\", "n", "r", "=", "a", " ", "\u00e9", "\n", "|"]), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_escaped, min_size=1, max_size=6))
def test_cef_values_are_unescaped_as_the_per_line_reader_does(values):
    batch = LineBatch.of_messages([value.encode() for value in values])
    unescaped = logscan.unescape_cef(batch.data, batch.starts, batch.ends).to_pylist()
    assert unescaped == [cef._VALUE_ESCAPE.sub(cef._unescape, value) for value in values]


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_sha256_hex_is_hashlibs_digest_of_each_range(texts):
    batch = LineBatch.of_messages(texts)
    assert logscan.sha256_hex(batch.data, batch.starts, batch.ends).to_pylist() == [
        sha256(text).hexdigest() for text in texts
    ]
