"""Fuzzing every parser with valid records, mutations of them and junk (hypothesis).

For each source kind an export is written: a valid record first (so the file reads as lines,
not as one broken document), then records that are valid, mutated (control characters, bytes
that are not UTF-8, cut short, huge numbers, odd timestamps, deep nesting) or random bytes, and
blank lines. Invariants: the parser never raises; every record is an event or quarantined, and
blank lines are neither (events + quarantined + blank lines = lines written); every quarantined
record says why; the first, valid, record is stored.

Bounded in time: each example is one parse (DuckDB plans a query or two), so few examples per kind.
"""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.registry import SOURCE_KINDS
from tests.tolerance.test_hostile_files import parse, records

#: Texts a timestamp field may be given.
ODD_TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999Z",
    "2026-13-45T99:99:99Z",
    "",
    "1e400",
    "-1",
    "2026-02-29T00:00:00Z",
    "1969-12-31T23:59:59-23:59",
    "\u0000",
]
HUGE_NUMBERS = [2**63, -(2**63) - 1, 10**400, 1e308, -0.0]
CONTROL = [bytes([c]) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)] + [b"\x1b[2J", b"\x1b]8;;x\x1b\\"]
NOT_UTF8 = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]
#: Texts that would make a line a container of several records (or none): not what this counts.
_CONTAINER = re.compile(rb'^\s*\[|"(value|records|tables|alerts)"')


def _json_mutation(base: bytes, draw) -> bytes:
    """A valid record with one field's value replaced."""
    record = orjson.loads(base)
    keys = list(record)
    key = draw(st.sampled_from(keys))
    how = draw(st.sampled_from(["time", "huge", "nest", "control", "type"]))
    if how in ("huge", "nest"):  # written as raw JSON: Python would refuse to serialise them
        depth = draw(st.integers(1, 3000))
        raw = str(draw(st.sampled_from(HUGE_NUMBERS))) if how == "huge" else "[" * depth + "]" * depth
        return orjson.dumps({**record, key: "@@"}).replace(b'"@@"', raw.encode())
    value: object
    if how == "time":
        key = draw(st.sampled_from([k for k in keys if "time" in k.lower() or "date" in k.lower()] or keys))
        value = draw(st.sampled_from(ODD_TIMES))
    elif how == "control":
        value = draw(st.text(max_size=20)) + draw(st.sampled_from(CONTROL)).decode("latin-1")
    else:
        value = draw(st.sampled_from([None, [], {}, True, [1, 2], {"a": {"b": None}}]))
    return orjson.dumps({**record, key: value})


def _syslog_mutation(base: bytes, draw) -> bytes:
    how = draw(st.sampled_from(["date", "huge", "control", "header"]))
    if how == "date":
        odd = draw(st.sampled_from(["0001-01-01", "9999-99-99", "2026-02-30", "", "x"]))
        return base.replace(b"date=2026-03-01", b"date=" + odd.encode())
    if how == "huge":
        return base.replace(b"srcport=51000", b"srcport=" + str(draw(st.sampled_from(HUGE_NUMBERS))).encode())
    if how == "header":
        return (
            draw(st.sampled_from([b"<999>", b"<1>1 ", b"<13>Feb 30 00:00:00 ", b"<14>1 0001-01-01T00:00:00Z "])) + base
        )
    return base.replace(b"user=", b"user=" + draw(st.sampled_from(CONTROL)))


@st.composite
def export(draw, kind: str) -> tuple[list[bytes], int]:
    """The lines of an export (no line ends) and how many of them are blank."""
    valid = records(kind, 6)
    out = [valid[0]]
    blank = 0
    for _ in range(draw(st.integers(0, 8))):
        shape = draw(st.sampled_from(["valid", "field", "bytes", "cut", "junk", "blank"]))
        base = draw(st.sampled_from(valid))
        if shape == "valid":
            line = base
        elif shape == "field":
            line = _syslog_mutation(base, draw) if kind == "syslog" else _json_mutation(base, draw)
        elif shape == "bytes":
            at = draw(st.integers(0, len(base)))
            line = base[:at] + draw(st.sampled_from(NOT_UTF8 + CONTROL)) + base[at:]
        elif shape == "cut":
            line = base[: draw(st.integers(1, max(1, len(base) - 1)))]
        elif shape == "junk":
            line = draw(st.binary(min_size=1, max_size=200))
        else:
            line = draw(st.sampled_from([b"", b"   ", b"\t", b" \t "]))
        line = line.replace(b"\n", b" ").replace(b"\r", b" ")
        if shape != "blank" and not line.strip(b" \t"):
            line = b"#" + line  # only the blank shape is blank: white space of other kinds is junk
        if shape != "blank" and (not line.strip() or _CONTAINER.search(line)):
            line = b"#" + line
        blank += shape == "blank"
        out.append(line)
    return out, blank


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_record_is_stored_or_quarantined_with_a_reason(tmp_path_factory, kind):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(export(kind))
    def check(case):
        lines, blank = case
        path = tmp_path_factory.mktemp("fuzz") / "export"
        path.write_bytes(b"\n".join(lines) + b"\n")
        parsed = parse(kind, path)  # never raises
        assert parsed.count + len(parsed.quarantined) + blank == len(lines), [q.reason for q in parsed.quarantined]
        assert all(q.reason.strip() for q in parsed.quarantined)
        assert records(kind, 1)[0].decode() in parsed.events.column("event.original").to_pylist()

    check()
