"""The bulk syslog reader (``collectors.formats.syslog_bulk``) against the per-line reader it speeds
up (issue 15, point 6): on mixed files of every header shape and body kind that the tolerance
tests cover, both give the same event table and the same quarantine, record for record.

A difference here is a record a user would see stored differently (another time, host name or
column) or quarantined by one reader and kept by the other.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats import syslog, syslog_bulk
from collectors.formats.appliances import cef
from collectors.reading.line_batch import LineBatch

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

CEF = "CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|src=10.1.2.3 dst=52.1.2.3 dpt=443 msg=a b\\=c cs1Label=Rule cs1=web"
CEF_TIMED = "CEF:0|Acme|Gw|1|7|Blocked \\| x|5|rt=1772445600000 act=block suser=jdoe"
BARE_CEF = "0|Fortinet|Fortigate|v7|00013|traffic|5|start=Mar 01 2026 09:30:00 src=10.0.0.1"
TRUNCATED_CEF = "CEF:0|Acme|Gateway|4.2"
FORTI = (
    'date=2026-03-01 time=09:30:00 devname="FGT-CORE" devid="FG100F" tz="+0000" logid="0000000013" '
    'type="traffic" subtype="forward" srcip=10.1.2.3 dstip=93.184.216.34 dstport=443 proto=6 action="close"'
)
FORTI_EMPTY = 'date= time=10:00:01 devname="FGT" logid="0101037127" type="event" subtype="vpn" desc= msg="a, b"'
FORTI_COMMAS = 'date=2026-03-01,time=09:30:00,devname="FGT",logid="0000000013",type="traffic",srcip=10.1.2.3'
NOT_FORTI = "key=value other=thing"
PANOS = (
    "1,2026/03/01 09:31:00,016201000123,TRAFFIC,end,2561,2026/03/01 09:30:59,10.1.2.3,"
    "52.1.2.3,203.0.113.5,0.0.0.0,Allow-Web,council\\jdoe,,ssl,vsys1,trust,untrust,"
    'ethernet1/2,ethernet1/1,Forward,2026/03/01 09:31:00,4242,1,50123,443,61000,443,0x400053,tcp,allow,"a,b",x'
)
PANOS_SYSTEM = "1,2026/03/01 09:32:00,016201000123,SYSTEM,general,0,2026/03/01 09:32:00,,general,,0,0,general,informational,User logged in"
PANOS_BAD_QUOTE = '1,2026/03/01 09:31:00,0162,THREAT,url,1,2026/03/01 09:31:00,10.0.0.1,"odd,x'
PANOS_SHORT = "1,2,3,TRAFFIC"
UNKNOWN = "just some text from a device"
NUMBER_FIRST = "12,not,a,log"

BODIES = [
    CEF,
    CEF_TIMED,
    BARE_CEF,
    TRUNCATED_CEF,
    FORTI,
    FORTI_EMPTY,
    FORTI_COMMAS,
    NOT_FORTI,
    PANOS,
    PANOS_SYSTEM,
    PANOS_BAD_QUOTE,
    PANOS_SHORT,
    UNKNOWN,
    NUMBER_FIRST,
    "",
    "   ",
    ": " + FORTI,
    " " + CEF,
    "\ufeff" + CEF,
    "relay01 " + CEF,
    "host app " + FORTI,
    "host " + PANOS,
]

# Every header shape of the tolerance tests, good and bad, with the bulk reader's shapes among them.
HEADERS = [
    "",
    "<189>",
    "<13>",
    "<192>",
    "<1a>",
    "<189>Mar  1 10:00:00 fw01 ",
    "<189>Mar 1 10:00:00 fw01 ",
    "<189>Mar 17 10:00:00 fw01 ",
    "Mar  1 10:00:00 fw01 ",
    "Mar  1 10:00:00 ",
    "<189>Mar  1 10:00:00  fw01 ",
    "<189>Mar  1 10:00:00 UTC ",
    "<189>Mar  1 10:00:00 GMT fw01 ",
    "<189>Mar  1 10:00:00 10.0.0.1 ",
    "<189>Mar  1 10:00:00 fw-01.council.gov.uk ",
    "<189>Mar  1 10:00:00 fw01 cefd[77]: ",
    "<189>Mar  1 10:00:00 fw01 cefd: ",
    "<189>Mar  1 10:00:00 fw01 cefd[77] ",
    "<189>Mar  1 10:00:00 cefd[77]: ",
    "<189>Feb 29 10:00:00 fw01 ",
    "<189>Feb 30 10:00:00 fw01 ",
    "<189>Dec 31 23:59:59 fw01 ",
    "<189>Mar  1 25:00:00 fw01 ",
    "MAR  1 10:00:00 fw01 ",
    "Mar  7 2008 19:06:53: fw01 ",
    "Mar  1 10:00:00.123 UTC: fw01 ",
    "2026-03-01T10:00:00.123456+01:00 fw01 cefd: ",
    "2026-03-01 10:00:00 fw01 ",
    "<134>2026-03-01T10:00:00Z fw01 cefd: ",
    "<189>1 2026-03-01T10:00:00.000Z fw01 - - - - ",
    "<189>1 2026-03-01T10:00:00+01:00 fw01 app 123 ID47 - ",
    "<189>1 - - - - - - ",
    "<189>1 2026-02-30T10:00:00Z fw01 - - - - ",
    '<189>1 2026-03-01T10:00:00Z fw01 app - - [ex@1 a="b"] ',
    "<189>1 2026-03-01T10:00:00Z fw01  - - - ",
    "<189>1 2026-03-01T10:00:00Z fw01 - - - -",
    "<189>1 2026-03-01T10:00:00 fw01 - - - - ",
]

_line = st.tuples(st.sampled_from(HEADERS), st.sampled_from(BODIES)).map("".join)
# Lines beyond the cases above: a user name, an odd character or a missing piece anywhere.
_noise = st.text(alphabet=st.sampled_from(list('ab1 =,|:<>[]"\\-.\t\u00e9')), max_size=6)
_varied = st.tuples(_line, st.integers(0, 300), _noise).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])


def _both(lines: list[str], **kwargs):
    bulk = syslog.parse_lines(lines, "test", now=NOW, bulk=True, **kwargs)
    reference = syslog.parse_lines(lines, "test", now=NOW, bulk=False, **kwargs)
    return bulk, reference


def _assert_same(bulk, reference) -> None:
    assert bulk.events.schema == reference.events.schema
    assert bulk.events.equals(reference.events), _first_difference(bulk.events, reference.events)
    assert bulk.quarantined == reference.quarantined


def _first_difference(left: pa.Table, right: pa.Table) -> str:
    for name in left.column_names:
        a, b = left[name].to_pylist(), right[name].to_pylist()
        if a != b:
            row = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) if len(a) == len(b) else -1
            return f"column {name!r} differs at row {row}"
    return "same columns, same values"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, min_size=1, max_size=40))
def test_bulk_and_per_line_readers_store_and_quarantine_the_same(lines):
    _assert_same(*_both(lines))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_varied, min_size=1, max_size=20))
def test_bulk_and_per_line_readers_agree_on_altered_lines(lines):
    _assert_same(*_both(lines))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, min_size=1, max_size=20), raw=st.booleans())
def test_both_readers_agree_on_bytes_and_receive_times(lines, raw):
    items = [line.encode() + b"\xff" if raw and i % 3 == 0 else line.encode() for i, line in enumerate(lines)]
    received = [1_772_400_000_000_000 + i for i in range(len(items))]
    bulk = syslog.parse_lines(items, "spool", now=NOW, received_us=received, bulk=True)
    reference = syslog.parse_lines(items, "spool", now=NOW, received_us=received, bulk=False)
    _assert_same(bulk, reference)


def test_files_of_every_shape_read_the_same_both_ways(tmp_path):
    lines = [header + body for header in HEADERS for body in BODIES]
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bulk = syslog.parse_file(path, now=NOW, bulk=True)
    reference = syslog.parse_file(path, now=NOW, bulk=False)
    _assert_same(bulk, reference)
    assert bulk.count > 200 and len(bulk.quarantined) > 100  # both stores and rejects are compared


def test_the_common_shapes_are_read_in_bulk():
    """The speed comes from here: the ordinary lines do not go to the per-line reader."""
    lines = [
        "<189>Mar  1 10:00:00 fw01 " + FORTI,
        "<189>1 2026-03-01T10:00:00.000Z fw01 - - - - " + CEF,
        "<189>" + PANOS,
        PANOS_SYSTEM,
        "<189>Mar  1 10:00:00 fw01 cefd: " + CEF,  # a TAG: per line
        UNKNOWN,  # per line, to be quarantined
    ]
    routed = syslog_bulk.route(LineBatch.of_messages([line.encode() for line in lines]), NOW)
    taken = routed.taken
    assert sorted(p for rows in taken.values() for p in rows.frame["_seq"].to_pylist()) == [0, 1, 2, 3]
    assert routed.others.tolist() == [4, 5]
    assert taken["fortinet.firewall"].frame["log.syslog.hostname"].to_pylist() == ["fw01"]
    assert taken["cef"].frame["_header_time_us"].to_pylist() == [1_772_359_200_000_000]
    assert taken["panw.panos"].bodies.to_pylist() == [PANOS, PANOS_SYSTEM]


_extension_text = st.text(alphabet=st.sampled_from(list("ab_1.-[]= \t\n\\\u00e9|")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=_extension_text)
def test_cef_keys_are_found_where_the_key_pattern_finds_them(text):
    """CEF keys are found by scanning for "=" (``cef.key_spans``): the same as the pattern that
    defines them, or values would be cut at other places."""
    assert cef.key_spans(text) == [(m.start(1), m.end(1)) for m in cef._KEY.finditer(text)]


def _batches_as_one(batches: list) -> tuple[pa.Table, list]:
    tables = [batch.events for batch in batches if batch.count]
    events = pa.concat_tables(tables, promote_options="default") if tables else None
    return events, [q for batch in batches for q in batch.quarantined]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(_line, min_size=1, max_size=30),
    ending=st.sampled_from(["\n", "\r\n"]),
    last_newline=st.booleans(),
    bad_byte_at=st.integers(-1, 29),
    batch_lines=st.integers(1, 7),
)
def test_a_file_read_a_span_at_a_time_is_read_as_one(tmp_path, lines, ending, last_newline, bad_byte_at, batch_lines):
    """``iter_batches`` decodes one span of lines at a time (the whole file's text is never held):
    cut anywhere, the events, the line numbers of the rejects and the ids of lines that are not
    UTF-8 are those of the file read as one batch."""
    data = ending.join(lines).encode() + (ending.encode() if last_newline else b"")
    if 0 <= bad_byte_at < len(lines):  # a line that is not UTF-8, maybe in a later span
        cut = data.split(b"\n")
        cut[bad_byte_at] = cut[bad_byte_at] + b"\xfe"
        data = b"\n".join(cut)
    path = tmp_path / "spans.log"
    path.write_bytes(data)
    whole = list(syslog.iter_batches(path, now=NOW, batch_lines=10_000))
    spans = list(syslog.iter_batches(path, now=NOW, batch_lines=batch_lines))
    whole_events, whole_quarantine = _batches_as_one(whole)
    span_events, span_quarantine = _batches_as_one(spans)
    assert span_quarantine == whole_quarantine
    if whole_events is None:
        assert span_events is None
        return
    # A batch's rows are grouped by dataset; within one, they keep the order of the file.
    whole_events, span_events = _by_dataset(whole_events), _by_dataset(span_events)
    for name in whole_events.column_names:
        assert span_events[name].to_pylist() == whole_events[name].to_pylist(), name


def _by_dataset(events: pa.Table) -> pa.Table:
    return events.take(pc.sort_indices(events, [("event.dataset", "ascending")]))  # stable


def test_a_big_file_is_never_decoded_whole(tmp_path):
    """Memory stays with one batch however big the file: Python holds one span's bytes and
    strings at a time, not the file's (a 1M-line file's text alone is gigabytes of strings)."""
    line = ("<189>Mar  1 10:00:00 fw01 " + FORTI + " msg=" + "x" * 300 + "\n").encode()
    path = tmp_path / "big.log"
    path.write_bytes(line * 40_000)  # ~18 MiB
    tracemalloc.start()
    try:
        count = sum(batch.count for batch in syslog.iter_batches(path, now=NOW, batch_lines=1_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40_000  # every line parsed (the store keeps one event per id)
    assert peak < path.stat().st_size / 2, f"peak {peak / 2**20:.1f} MiB of Python objects"
