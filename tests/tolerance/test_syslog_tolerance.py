"""Syslog as it is written to files and sent by devices: the header shapes, the year of an
RFC 3164 clock, octet-counted frames in a file, bodies without any header, and which clock an
event's time came from (issue 15, points 1 and 7).

Every line here is written for this test from the format's documentation, which each case names;
none is copied from a vendor's or another project's samples (those are measured, not fitted to,
by bench/parser_tolerance.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collectors.formats import syslog

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# A CEF body without a time of its own, so that @timestamp shows the header's clock.
BODY = "CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|src=10.1.2.3 dst=52.1.2.3 dpt=443"
FORTI = (
    'date=2026-03-01 time=09:30:00 devname="FGT-CORE" devid="FG100F" tz="+0000" logid="0000000013" '
    'type="traffic" subtype="forward" srcip=10.1.2.3 srcport=51000 dstip=93.184.216.34 dstport=443 '
    'proto=6 action="close" policyid=7'
)
PANOS = (
    "1,2026/03/01 09:31:00,016201000123,TRAFFIC,end,2561,2026/03/01 09:30:59,10.1.2.3,"
    "52.1.2.3,203.0.113.5,0.0.0.0,Allow-Web,council\\jdoe,,ssl,vsys1,trust,untrust,"
    "ethernet1/2,ethernet1/1,Forward,2026/03/01 09:31:00,4242,1,50123,443,61000,443,0x400053,"
    "tcp,allow"
)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _one(line: str, **kwargs) -> dict:
    batch = syslog.parse_lines([line], "test", now=kwargs.pop("now", NOW), **kwargs)
    assert batch.quarantined == [], batch.quarantined
    [row] = batch.events.to_pylist()
    return row


# --- header shapes --------------------------------------------------------------------------

# (line, @timestamp, hostname, appname, procid), each with where the shape is documented.
FILE_SHAPES = [
    # rsyslog RSYSLOG_TraditionalFileFormat: "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg%", no PRI.
    (f"Feb 27 09:15:02 fw01 cefd[311]: {BODY}", _utc(2026, 2, 27, 9, 15, 2), "fw01", "cefd", "311"),
    # RFC 3164 4.1.2: a single-digit day is space-padded; some devices write one space only.
    (f"Feb 7 09:15:02 fw01 {BODY}", _utc(2026, 2, 7, 9, 15, 2), "fw01", None, None),
    # Cisco IOS/ASA "service timestamps log datetime year": the year before the time, and
    # ASA's "logging timestamp" puts a colon after the clock.
    (f"Mar  7 2008 19:06:53: fw01 {BODY}", _utc(2008, 3, 7, 19, 6, 53), "fw01", None, None),
    (f"Mar  7 2008 19:06:53 fw01 {BODY}", _utc(2008, 3, 7, 19, 6, 53), "fw01", None, None),
    # Cisco "msec" and "show-timezone": fractions and a UTC zone name after the clock.
    (f"Mar  1 10:00:00.123 UTC: fw01 {BODY}", _utc(2026, 3, 1, 10, 0, 0, 123000), "fw01", None, None),
    # rsyslog RSYSLOG_FileFormat: RFC 3339 with microseconds and an offset.
    (
        f"2026-03-01T10:00:00.123456+01:00 fw01 cefd: {BODY}",
        _utc(2026, 3, 1, 9, 0, 0, 123456),
        "fw01",
        "cefd",
        None,
    ),
    # syslog-ng's ISO date with "+hhmm"; appliances' own exports with a space for the T and no zone.
    (f"2026-03-01T10:00:00+0100 fw01 {BODY}", _utc(2026, 3, 1, 9, 0, 0), "fw01", None, None),
    (f"2026-03-01 10:00:00 fw01 {BODY}", _utc(2026, 3, 1, 10, 0, 0), "fw01", None, None),
    # RFC 3164 5.3 (a relay that cannot tell the host): no HOSTNAME, a TAG straight after the clock.
    (f"Mar  1 10:00:00 cefd[77]: {BODY}", _utc(2026, 3, 1, 10, 0, 0), None, "cefd", "77"),
    # A TAG without its colon (RFC 3164 4.1.3 says the TAG ends at the first non-alphanumeric;
    # devices leave the colon out): with a [pid], or a bare word before the body.
    (f"Mar  1 10:00:00 fw01 cefd[77] {BODY}", _utc(2026, 3, 1, 10, 0, 0), "fw01", "cefd", "77"),
    (f"Mar  1 10:00:00 fw01 cefd {BODY}", _utc(2026, 3, 1, 10, 0, 0), "fw01", "cefd", None),
    # rsyslog RSYSLOG_ForwardFormat: a PRI before an RFC 3339 clock (no "1 " version).
    (f"<134>2026-03-01T10:00:00Z fw01 cefd: {BODY}", _utc(2026, 3, 1, 10, 0, 0), "fw01", "cefd", None),
    # A month written in capitals (some network devices' own log files).
    (f"MAR  1 10:00:00 fw01 {BODY}", _utc(2026, 3, 1, 10, 0, 0), "fw01", None, None),
]


@pytest.mark.parametrize(("line", "stamp", "hostname", "appname", "procid"), FILE_SHAPES)
def test_header_shapes_written_to_files_are_read(line, stamp, hostname, appname, procid):
    row = _one(line)
    assert row["event.dataset"] == "cef"
    assert row["@timestamp"] == stamp
    assert (row["log.syslog.hostname"], row["log.syslog.appname"], row["log.syslog.procid"]) == (
        hostname,
        appname,
        procid,
    )
    assert row["cyberwell.time_source"] == "header"
    assert row["source.ip"] == "10.1.2.3"  # the body was found whole


def test_a_host_name_without_a_clock_is_not_taken_for_the_body():
    # FortiGate's "set format default" behind a relay that writes "<PRI>host body".
    row = _one("<189>fgt-core " + FORTI)
    assert row["event.dataset"] == "fortinet.firewall"
    assert row["log.syslog.hostname"] == "fgt-core"
    assert row["fortinet.firewall.policyid"] == "7"


def test_cef_after_any_header_is_found():
    # A relay that adds its own words before the CEF (syslog-ng "$ISODATE $HOST $FACILITY.$LEVEL").
    row = _one(f"2026-03-01T10:00:00Z relay01 local4.info {BODY}")
    assert (row["event.dataset"], row["cef.device_vendor"], row["source.ip"]) == ("cef", "Acme", "10.1.2.3")
    assert row["@timestamp"] == _utc(2026, 3, 1, 10, 0, 0)
    # And behind more words than a header has.
    row = _one(f"Mar  1 10:00:00 relay01 forwarded from 10.9.9.9 by agent: {BODY}")
    assert row["cef.name"] == "Connection allowed"


@pytest.mark.parametrize(
    ("body", "dataset", "column", "value"),
    [
        (BODY, "cef", "cef.device_product", "Gateway"),
        (FORTI, "fortinet.firewall", "fortinet.firewall.devname", "FGT-CORE"),
        (PANOS, "panw.panos", "panw.panos.rule_name", "Allow-Web"),
    ],
)
def test_bodies_without_any_header_read_as_with_one(body, dataset, column, value):
    bare = _one(body)
    headed = _one("<14>Mar  1 09:31:00 fw01 " + body)
    assert bare["event.dataset"] == headed["event.dataset"] == dataset
    assert bare[column] == headed[column] == value
    # The same vendor and ECS columns, whatever the header said.
    same = [c for c in bare if c.startswith((dataset, "source.", "destination.", "event.action"))]
    assert {c: bare[c] for c in same} == {c: headed[c] for c in same}
    assert bare["log.syslog.hostname"] is None and headed["log.syslog.hostname"] == "fw01"


# --- the year of an RFC 3164 clock ------------------------------------------------------------


def test_february_29_lands_in_the_latest_leap_year():
    assert _one("Feb 29 10:00:00 fw01 " + BODY, now=_utc(2027, 1, 10, 0, 0))["@timestamp"] == _utc(2024, 2, 29, 10)
    assert _one("Feb 29 10:00:00 fw01 " + BODY, now=_utc(2028, 3, 1, 0, 0))["@timestamp"] == _utc(2028, 2, 29, 10)


def test_a_december_log_read_in_january_is_last_years():
    row = _one("Dec 31 23:59:58 fw01 " + BODY, now=_utc(2027, 1, 2, 8, 0))
    assert row["@timestamp"] == _utc(2026, 12, 31, 23, 59, 58)


def test_a_device_already_in_the_new_year_is_not_put_a_year_back():
    # Read at 23:30 UTC on New Year's Eve from a device an hour east of UTC.
    row = _one("Jan  1 00:30:00 fw01 " + BODY, now=_utc(2026, 12, 31, 23, 30))
    assert row["@timestamp"] == _utc(2027, 1, 1, 0, 30)


def test_a_date_no_year_has_is_quarantined_with_the_reason():
    batch = syslog.parse_lines(["Feb 30 10:00:00 fw01 " + BODY], "file.log", now=NOW)
    [reject] = batch.quarantined
    assert reject.reason.startswith("bad RFC 3164 timestamp 'Feb 30 10:00:00': no year has this date")
    assert reject.origin == "file.log:1"


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)),
    back=st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(days=363)),
)
def test_a_yearless_clock_gets_the_year_nearest_before_ingest(now, back):
    """Any time from 363 days before ingest to 23 hours after (a device east of UTC) is read back
    exactly from its year-less RFC 3164 clock, Feb 29 included."""
    stamp = (now - back).replace(microsecond=0)
    line = f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} fw01 {BODY}"
    assert _one(line, now=now)["@timestamp"] == stamp


@settings(max_examples=60, deadline=None)
@given(leap_year=st.sampled_from([2004, 2008, 2012, 2016, 2020, 2024, 2028]), days_after=st.integers(0, 1400))
def test_february_29_property(leap_year, days_after):
    """Feb 29 read any day after it, up to almost four years on, is that leap year's: no later
    Feb 29 has come yet before the next leap year."""
    now = _utc(leap_year, 2, 29, 12) + timedelta(days=days_after)
    assume(now < _utc(leap_year + 4, 2, 28))
    assert _one("Feb 29 10:00:00 fw01 " + BODY, now=now)["@timestamp"] == _utc(leap_year, 2, 29, 10)


# --- octet-counted frames in a file ---------------------------------------------------------


def _counted(*messages: str, between: bytes = b"") -> bytes:
    return between.join(f"{len(m.encode())} {m}".encode() for m in messages)


def test_octet_counted_frames_without_pri_in_a_file(tmp_path):
    # RFC 6587 3.4.1 frames as a relay's file output writes them: the messages carry no <PRI>.
    first = f"Mar  1 10:00:00 fw01 {BODY}"
    second = f"Mar  1 10:00:01 fw01 {BODY} msg=first line\nsecond line"  # a frame with a newline
    third = "<189>" + FORTI
    path = tmp_path / "relay.log"
    path.write_bytes(_counted(first, second, between=b"\n") + b"\n" + _counted(third) + b"\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert batch.events["event.original"].to_pylist() == [first, second, third]
    assert batch.events["cef.extensions.msg"].to_pylist() == [None, "first line\nsecond line", None]
    assert batch.events["@timestamp"].to_pylist()[:2] == [_utc(2026, 3, 1, 10, 0, 0), _utc(2026, 3, 1, 10, 0, 1)]


def test_octet_counted_frames_with_pri_back_to_back(tmp_path):
    messages = [f"<14>Mar  1 10:00:0{i} fw01 {BODY} cnt={i}" for i in range(5)]
    path = tmp_path / "tcp-capture.log"
    path.write_bytes(_counted(*messages))  # RFC 6587: no separator at all between frames
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert batch.events["cef.extensions.cnt"].to_pylist() == ["0", "1", "2", "3", "4"]


def test_lines_that_start_with_a_number_are_not_taken_for_counts(tmp_path):
    # A count is a count only when its frame ends where a frame may end; "2026 ..." is not one.
    lines = [f"2026 fw01 {BODY}", f"12 {BODY}", "<14>Mar  1 10:00:00 fw01 " + BODY]
    path = tmp_path / "numbers.log"
    path.write_text("\n".join(lines) + "\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 3 and batch.quarantined == []
    assert batch.events["event.original"].to_pylist() == lines


# --- which clock --------------------------------------------------------------------------


def test_a_record_without_any_time_is_kept_with_the_ingest_time_and_says_so(tmp_path):
    path = tmp_path / "export.log"
    path.write_text(BODY + "\n" + FORTI + "\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [NOW, _utc(2026, 3, 1, 9, 30)]
    assert batch.events["cyberwell.time_source"].to_pylist() == ["ingested", "event"]
    assert batch.events["event.ingested"].to_pylist() == [NOW, NOW]


def test_the_receive_time_comes_before_the_ingest_time():
    received = _utc(2026, 3, 2, 11, 59)
    batch = syslog.parse_lines([BODY, "<13>Mar  1 08:00:00 fw " + BODY], "udp:10.0.0.1", now=NOW, received_at=received)
    assert batch.events["@timestamp"].to_pylist() == [received, _utc(2026, 3, 1, 8)]
    assert batch.events["cyberwell.time_source"].to_pylist() == ["received", "header"]


def test_an_unknown_body_says_what_was_expected_and_where(tmp_path):
    path = tmp_path / "messages"
    path.write_text(f"Mar  1 10:00:00 host1 sshd[42]: Accepted publickey for admin\n{BODY}\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 1
    [reject] = batch.quarantined
    assert reject.origin == f"{path}:1"
    assert "expected 'CEF:0|...', 'date=... devname=...' or '1,<time>,<serial>,TRAFFIC,...'" in reject.reason
    assert "the body starts 'Accepted publickey for admin'" in reject.reason


# --- properties and fuzz ---------------------------------------------------------------------

_host = st.from_regex(r"[a-z][a-z0-9\-]{0,14}(\.[a-z]{2,6})?", fullmatch=True)
_tag = st.from_regex(r"[a-z][a-z0-9_\-]{0,11}", fullmatch=True)
_user = st.from_regex(r"[a-z][a-z0-9.]{0,11}", fullmatch=True)


@st.composite
def _headed_line(draw):
    """A line in one of the documented header shapes, and what it must read back as."""
    stamp = draw(
        st.datetimes(min_value=datetime(2025, 3, 4), max_value=datetime(2026, 3, 2, 11), timezones=st.just(UTC))
    )
    stamp = stamp.replace(microsecond=0)
    clock = draw(
        st.sampled_from(
            [
                f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S}",  # RFC 3164
                f"{stamp:%b} {stamp.day} {stamp:%H:%M:%S}",  # one space, one digit
                f"{stamp:%b} {stamp.day:2d} {stamp:%Y %H:%M:%S}",  # Cisco year
                f"{stamp:%b} {stamp.day:2d} {stamp:%Y %H:%M:%S}:",  # Cisco year and colon
                f"{stamp:%Y-%m-%dT%H:%M:%S}Z",  # RFC 3339
                f"{stamp:%Y-%m-%d %H:%M:%S}",  # zone-less ISO, space
            ]
        )
    )
    pri = draw(st.none() | st.integers(0, 191))
    host = draw(st.none() | _host)
    tag = draw(st.none() | _tag)
    pid = draw(st.none() | st.integers(1, 99999)) if tag else None
    colon = draw(st.booleans()) if tag and pid else True
    user = draw(_user)
    body = f"{BODY} suser={user}"
    tag_text = "" if tag is None else tag + (f"[{pid}]" if pid else "") + (":" if colon else "") + " "
    line = ("" if pri is None else f"<{pri}>") + f"{clock} " + (f"{host} " if host else "") + tag_text + body
    return line, stamp, pri, host, tag, (str(pid) if pid else None), user


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_headed_line())
def test_every_field_of_a_documented_header_shape_survives(case):
    line, stamp, pri, host, tag, pid, user = case
    row = _one(line)
    assert row["@timestamp"] == stamp
    assert row["log.syslog.priority"] == pri
    assert row["log.syslog.hostname"] == host
    assert (row["log.syslog.appname"], row["log.syslog.procid"]) == (tag, pid)
    assert (row["user.name"], row["cef.extensions.suser"]) == (user, user)
    assert row["event.original"] == line


_fragments = st.sampled_from(
    [
        "<",
        ">",
        "<13>",
        "<999>",
        "1 ",
        "12 ",
        "99999 ",
        "Feb 29 ",
        "Feb 30 ",
        "Mar  7 2008 ",
        "19:06:53",
        ":",
        " ",
        "\n",
        "\r\n",
        "2026-03-01T10:00:00",
        "+01:00",
        "Z",
        "host",
        "app[",
        "]",
        "CEF:0|",
        "|",
        "\\",
        "=",
        "date=",
        "devname=x",
        "1,2026/03/01 09:31:00,0123,TRAFFIC,",
        '"',
        "\x00",
        "é",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.lists(_fragments, max_size=14).map("".join), min_size=1, max_size=8))
def test_broken_files_never_crash_and_every_record_is_counted(tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("fuzz") / "broken.log"
    data = "\n".join(pieces).encode()
    path.write_bytes(data)
    batch = syslog.parse_file(path, now=NOW)
    assert not any(q.reason.startswith("parser error") for q in batch.quarantined), batch.quarantined
    if not data.lstrip()[:1].isdigit():  # one line, one record (a leading count may frame several)
        records = [line for line in data.split(b"\n") if line.strip(b" \t\r\n\x0b\x0c")]
        assert batch.count + len(batch.quarantined) == len(records)
    assert batch.events.num_rows == batch.count
