"""Syslog framing, headers and the file/line entry points (collectors.formats.syslog, syslog_frame).

Vendor bodies here are small hand-written FortiGate, PAN-OS and CEF lines; the vendors' own
samples are exercised in test_parse_fortigate.py, test_parse_panos.py and test_parse_cef.py.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.formats import syslog, syslog_events
from collectors.reading.syslog_frame import FrameError, parse_header, split_frames

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

FORTI = (
    'date=2026-03-01 time=09:30:00 devname="FGT-CORE" devid="FG100F" tz="+0000" '
    'logid="0000000013" type="traffic" subtype="forward" srcip=10.1.2.3 srcport=51000 '
    'dstip=93.184.216.34 dstport=443 proto=6 action="close" policyid=7 '
    'policyname="LAN to WAN" user="jbloggs"'
)
FORTI_NO_TIME = 'devname="FGT-CORE" logid="0100032001" type="event" subtype="system" user="admin"'
PANOS = (
    "1,2026/03/01 09:31:00,016201000123,TRAFFIC,end,2561,2026/03/01 09:30:59,10.1.2.3,"
    "52.1.2.3,203.0.113.5,0.0.0.0,Allow-Web,council\\jdoe,,ssl,vsys1,trust,untrust,"
    "ethernet1/2,ethernet1/1,Forward,2026/03/01 09:31:00,4242,1,50123,443,61000,443,0x400053,"
    "tcp,allow"
)
CEF = (
    "CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|rt=1772357400000 src=10.1.2.3 spt=5000 "
    "dst=52.1.2.3 dpt=443 proto=TCP act=accept suser=jdoe"
)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- headers ------------------------------------------------------------------------------


def test_rfc3164_header_fields():
    header = parse_header("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed", NOW)
    assert header.priority == 34
    assert header.hostname == "mymachine"
    assert header.appname == "su"
    assert header.procid == "230"
    assert header.body == "'su root' failed"
    # No year in RFC 3164: Oct 11 would be in the future in March 2026, so it is 2025.
    assert header.time_us == int(_utc(2025, 10, 11, 22, 14, 15).timestamp() * 1_000_000)


def test_rfc3164_year_is_the_one_not_in_the_future():
    just_after_new_year = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    late = parse_header("<13>Dec 31 23:59:58 fw x", just_after_new_year)
    assert late.time_us == int(_utc(2025, 12, 31, 23, 59, 58).timestamp() * 1e6)
    # A device a few hours ahead (local time east of UTC) stays in this year.
    ahead = parse_header("<13>Mar  2 18:00:00 fw x", NOW)
    assert ahead.time_us == int(_utc(2026, 3, 2, 18, 0, 0).timestamp() * 1e6)
    # Two days ahead cannot be this year's.
    future = parse_header("<13>Mar  4 12:00:00 fw x", NOW)
    assert future.time_us == int(_utc(2025, 3, 4, 12, 0, 0).timestamp() * 1e6)


def test_rfc3164_without_hostname_or_tag_keeps_the_body_whole():
    # FortiGate sends <PRI> straight before its body; PAN-OS sends a clock and a host.
    assert parse_header("<189>" + FORTI, NOW).body == FORTI
    header = parse_header("<14>Sep 16 10:00:00 PA " + PANOS, NOW)
    assert (header.hostname, header.appname, header.body) == ("PA", None, PANOS)
    cef = parse_header("<14>Sep 16 10:00:00 host CEF:0|a|b|c|d|e|1|x=y", NOW)
    assert (cef.hostname, cef.appname, cef.body) == ("host", None, "CEF:0|a|b|c|d|e|1|x=y")


def test_rsyslog_file_line_without_pri():
    header = parse_header("Mar  1 09:30:00 fw01 " + FORTI, NOW)
    assert header.priority is None
    assert header.hostname == "fw01"
    assert header.body == FORTI


def test_rfc5424_header_fields_and_structured_data_skipped():
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Appl\\]ication" eventID="1011"]'
        '[examplePriority@32473 class="high"] \ufeffAn application event'
    )
    header = parse_header(line, NOW)
    assert header.priority == 165
    assert header.time_us == int(_utc(2003, 10, 11, 22, 14, 15).timestamp() * 1e6) + 3000
    assert (header.hostname, header.appname, header.procid, header.msgid) == (
        "mymachine.example.com",
        "evntslog",
        None,
        "ID47",
    )
    assert header.body == "An application event"


def test_rfc5424_nil_values_and_offsets():
    header = parse_header("<14>1 2026-03-01T10:30:00.5+01:00 - - - - - body", NOW)
    assert header.time_us == int(_utc(2026, 3, 1, 9, 30, 0).timestamp() * 1e6) + 500_000
    assert header.hostname is None and header.body == "body"
    assert parse_header("<14>1 - host app 12 - - body", NOW).time_us is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("<999>Oct 11 22:14:15 host x", "bad PRI: 999 is above 191"),
        ("<ab>Oct 11 22:14:15 host x", "bad PRI"),
        ("<34 Oct 11 22:14:15 host x", "bad PRI"),
        ("<34>1 2003-10-11T22:14:15Z host app", "truncated RFC 5424 header"),
        ("<34>1 yesterday host app - - - body", "bad RFC 5424 timestamp"),
        ('<34>1 - host app - - [id a="unterminated] body', "malformed RFC 5424 structured data"),
        ("<34>Feb 30 10:00:00 host x", "bad RFC 3164 timestamp"),
    ],
)
def test_malformed_headers_raise_frame_error_with_reason(line, reason):
    with pytest.raises(FrameError, match=reason):
        parse_header(line, NOW)


# --- framing ------------------------------------------------------------------------------


def test_octet_counted_frames_with_newlines_inside_and_between():
    first = "<189>" + FORTI
    second = "<14>1 2026-03-01T09:31:00Z pa - - - - " + PANOS
    multi = "<13>1 2026-03-01T09:32:00Z host app - - - line one\nline two"
    data = b"".join(f"{len(m.encode())} {m}".encode() for m in (first, second)) + b"\n"
    data += f"{len(multi.encode())} {multi}".encode()
    frames = list(split_frames(data))
    assert [f.data.decode() for f in frames] == [first, second, multi]
    assert [f.lineno for f in frames] == [1, 1, 2]
    assert all(f.error is None for f in frames)


def test_truncated_octet_count_is_an_error_on_that_frame_only(tmp_path):
    first = "<189>" + FORTI
    data = f"{len(first)} {first}".encode() + b"500 <189>date=2026-03-01 short"
    path = tmp_path / "counted.log"
    path.write_bytes(data)
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 1
    assert batch.events["source.ip"].to_pylist() == ["10.1.2.3"]
    [reject] = batch.quarantined
    assert reject.reason.startswith("truncated octet-counted frame: 500 octets announced")
    assert reject.origin == f"{path}:1"


def test_gzip_file_is_read_by_magic_bytes_not_name(tmp_path):
    path = tmp_path / "firewall.log"  # no .gz suffix
    path.write_bytes(gzip.compress(("<189>" + FORTI + "\r\n" + CEF + "\n").encode()))
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert sorted(batch.events["event.dataset"].to_pylist()) == ["cef", "fortinet.firewall"]


# --- the batch ---------------------------------------------------------------------------


def test_mixed_file_gives_one_table_with_the_union_of_columns(tmp_path):
    path = tmp_path / "mixed.log"
    lines = ["<189>" + FORTI, "<14>Mar  1 09:31:00 pa01 " + PANOS, CEF]
    path.write_text("\n".join(lines) + "\n")
    batch = syslog.parse_file(path, now=NOW)
    table = batch.events
    assert batch.quarantined == []
    # Rows are grouped by dataset (CEF, FortiGate, PAN-OS), each in the order of the file.
    assert table["event.dataset"].to_pylist() == ["cef", "fortinet.firewall", "panw.panos"]
    assert table["event.original"].to_pylist() == [lines[2], lines[0], lines[1]]
    assert table["source.ip"].to_pylist() == ["10.1.2.3"] * 3
    assert table["destination.port"].to_pylist() == [443, 443, 443]
    assert table["event.action"].to_pylist() == ["allow", "allow", "allow"]
    assert table["user.name"].to_pylist() == ["jdoe", "jbloggs", "council\\jdoe"]
    # Vendor columns of one dataset are null on the others' rows.
    assert table["fortinet.firewall.policyname"].to_pylist() == [None, "LAN to WAN", None]
    assert table["panw.panos.rule_name"].to_pylist() == [None, None, "Allow-Web"]
    assert table["cef.device_vendor"].to_pylist() == ["Acme", None, None]
    assert table["log.syslog.hostname"].to_pylist() == [None, None, "pa01"]
    assert table["host.hostname"].to_pylist() == [None, None, "pa01"]
    assert table["log.syslog.priority"].to_pylist() == [None, 189, 14]
    for name, kind in syslog_events.SYSLOG_COLUMNS.items():
        assert table.schema.field(name).type == kind, name
    for columns in syslog_events.DATASET_COLUMNS.values():
        for name, kind in columns.items():
            assert table.schema.field(name).type == kind, name


def test_every_batch_has_the_common_columns_even_with_one_dataset():
    for line in (FORTI, PANOS, CEF):
        table = syslog.parse_lines([line], "test", now=NOW).events
        assert set(syslog_events.SYSLOG_COLUMNS) <= set(table.column_names)


def test_event_id_is_sha256_of_the_line_and_identical_lines_share_it():
    batch = syslog.parse_lines([FORTI, FORTI, "<189>" + FORTI], "test", now=NOW)
    ids = batch.events["event.id"].to_pylist()
    assert ids[0] == hashlib.sha256(FORTI.encode()).hexdigest()
    assert ids[0] == ids[1] != ids[2]
    assert batch.events["event.ingested"].to_pylist() == [NOW] * 3


def test_timestamp_prefers_body_then_header_then_receive_time():
    received = _utc(2026, 3, 2, 11, 59, 0)
    lines = [
        "<13>Mar  1 08:00:00 fw " + FORTI,  # the body's date/time wins over the header's
        "<13>Mar  1 08:00:00 fw " + FORTI_NO_TIME,  # the header's clock
        FORTI_NO_TIME,  # only the receive time
    ]
    batch = syslog.parse_lines(lines, "udp:10.0.0.1", now=NOW, received_at=received)
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [_utc(2026, 3, 1, 9, 30, 0), _utc(2026, 3, 1, 8, 0, 0), received]


def test_a_line_with_no_time_at_all_is_kept_with_the_ingest_time(tmp_path):
    path = tmp_path / "no-time.log"
    path.write_text(FORTI + "\n" + FORTI_NO_TIME + "\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [_utc(2026, 3, 1, 9, 30, 0), NOW]
    assert batch.events["cyberwell.time_source"].to_pylist() == ["event", "ingested"]


def test_bad_lines_are_quarantined_with_reasons_and_the_rest_survive(tmp_path):
    path = tmp_path / "bad.log"
    lines = [
        "<189>" + FORTI,
        "<999>" + FORTI,
        "",
        "   ",
        "CEF:0|Acme|Gateway|4.2",
        "hello, this is not an appliance log",
        "<14>Mar  1 09:31:00 pa01 " + PANOS,
    ]
    path.write_text("\n".join(lines) + "\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.events["event.dataset"].to_pylist() == ["fortinet.firewall", "panw.panos"]
    reasons = {q.origin.rsplit(":", 1)[1]: q.reason for q in batch.quarantined}
    assert reasons["2"].startswith("bad PRI: 999")
    assert "3" not in reasons and "4" not in reasons  # blank lines are skipped, not quarantined
    assert reasons["5"].startswith("truncated CEF header")
    assert reasons["6"].startswith("unknown body format: not CEF, FortiGate key=value or PAN-OS CSV")
    assert [q.record for q in batch.quarantined] == [lines[1], lines[4], lines[5]]


def test_unreadable_file_is_one_quarantined_record(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 0
    [reject] = batch.quarantined
    assert reject.reason.startswith("cannot read file")


def test_big_file_is_parsed_in_batches_with_the_same_result(tmp_path, monkeypatch):
    path = tmp_path / "big.log"
    lines = [f"<189>{FORTI.replace('srcport=51000', f'srcport={1000 + i}')}" for i in range(25)]
    lines.insert(10, "junk")
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(syslog, "BATCH_LINES", 4)
    assert len(list(syslog.iter_batches(path, now=NOW))) == 7  # 26 lines, 4 at a time
    batch = syslog.parse_file(path, now=NOW)
    assert batch.events["source.port"].to_pylist() == [1000 + i for i in range(25)]
    assert [(q.origin, q.record) for q in batch.quarantined] == [(f"{path}:11", "junk")]


def test_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 0 and batch.quarantined == []
    assert set(syslog_events.SYSLOG_COLUMNS) <= set(batch.events.column_names)


# --- properties ------------------------------------------------------------------------------

_hostnames = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,30}", fullmatch=True)
_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,19}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    priority=st.integers(0, 191),
    stamp=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
    hostname=_hostnames,
    appname=_names,
    procid=st.none() | _names,
    msgid=st.none() | _names,
)
def test_rfc5424_header_round_trip(priority, stamp, hostname, appname, procid, msgid):
    stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
    line = (
        f"<{priority}>1 {stamp.isoformat(timespec='milliseconds').replace('+00:00', 'Z')} "
        f"{hostname} {appname} {procid or '-'} {msgid or '-'} - {FORTI}"
    )
    header = parse_header(line, NOW)
    assert (header.priority, header.hostname, header.appname, header.procid, header.msgid) == (
        priority,
        hostname,
        appname,
        procid,
        msgid,
    )
    assert header.time_us == int(stamp.timestamp()) * 1_000_000 + stamp.microsecond
    assert header.body == FORTI


@settings(max_examples=150, deadline=None)
@given(
    priority=st.integers(0, 191),
    stamp=st.datetimes(min_value=datetime(2025, 3, 4), max_value=datetime(2026, 3, 2, 11, 59)),
    hostname=_hostnames,
    tag=st.none() | st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,15}", fullmatch=True),
    pid=st.none() | st.integers(1, 99999),
)
def test_rfc3164_header_round_trip(priority, stamp, hostname, tag, pid):
    stamp = stamp.replace(microsecond=0)
    tag_text = "" if tag is None else tag + (f"[{pid}]" if pid else "") + ": "
    line = f"<{priority}>{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} {hostname} {tag_text}{FORTI}"
    header = parse_header(line, NOW)
    assert (header.priority, header.hostname, header.body) == (priority, hostname, FORTI)
    assert (header.appname, header.procid) == (tag, str(pid) if tag and pid else None)
    assert header.time_us == int(stamp.replace(tzinfo=UTC).timestamp()) * 1_000_000


_junk_chars = st.characters(blacklist_categories=("Cs",))
_junk_line = st.one_of(
    st.text(_junk_chars, max_size=200),
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                "1",
                "34",
                " ",
                "|",
                "=",
                ",",
                '"',
                "\\",
                "CEF:",
                "0|",
                "date=",
                "logid=",
                "TRAFFIC",
                "Oct 11 22:14:15",
                "-",
                "[",
                "]",
                "2026-03-01T10:00:00Z",
                "\t",
                ":",
            ]
        ),
        max_size=40,
    ).map("".join),
)


# Each example runs DuckDB (about 0.1 s of query planning per batch), hence modest counts.
@settings(max_examples=60, deadline=None)
@given(st.lists(_junk_line, max_size=8))
def test_junk_lines_never_raise_and_every_line_is_accounted_for(lines):
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    batch = syslog.parse_lines(lines + [FORTI], "fuzz", now=NOW)
    blank = sum(1 for line in lines if not line.strip(" \t\x0b\x0c"))
    assert batch.count + len(batch.quarantined) + blank == len(lines) + 1
    assert FORTI in batch.events["event.original"].to_pylist()
    assert isinstance(batch.events, pa.Table)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_junk_bytes_in_a_file_never_raise(tmp_path_factory, data):
    path = Path(tmp_path_factory.mktemp("junk")) / "junk.log"
    path.write_bytes(data)
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count + len(batch.quarantined) >= 0
    assert set(syslog_events.SYSLOG_COLUMNS) <= set(batch.events.column_names)


def test_lone_surrogates_from_a_receiver_do_not_cost_the_batch():
    # A receiver decoding with errors="surrogateescape" hands over strings Arrow cannot store.
    bad = "<189>" + FORTI.replace("jbloggs", "j\udcffbloggs")
    batch = syslog.parse_lines([bad, "<189>" + FORTI], "udp:10.0.0.1", now=NOW)
    assert batch.quarantined == []
    assert batch.events["user.name"].to_pylist() == ["j\ufffdbloggs", "jbloggs"]


def test_vendor_keys_differing_only_in_case_stay_apart():
    line = "CEF:0|Acme|Gateway|1.0|1|n|3|rt=1772445600000 src=10.0.0.1 SRC=other Src=third"
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["source.ip"] == "10.0.0.1"
    assert (row["cef.extensions.src"], row["cef.extensions.SRC_2"], row["cef.extensions.Src_3"]) == (
        "10.0.0.1",
        "other",
        "third",
    )
    # The table can be stored: DuckDB (the store's engine) accepts its column names.
    con = duckdb.connect()
    con.register("events", syslog.parse_lines([line], "test", now=NOW).events)
    con.execute("CREATE TABLE stored AS SELECT * FROM events")
