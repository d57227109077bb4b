"""FortiGate and PAN-OS bodies as appliances of every version write them (issue 15, points 3 and 7).

The records here are written from the vendors' documentation, not copied from a sample set:

* FortiOS Log Message Reference (7.x): every log carries ``date`` (``YYYY-MM-DD``), ``time``
  (``HH:MM:SS``), ``eventtime`` (uint64: seconds to nanoseconds by version) and ``tz``
  (``+HHMM``); types ``traffic``, ``event`` and ``utm`` with the UTM subtypes ``virus``,
  ``webfilter``, ``ips``, ``app-ctrl``, ``dns``, ``emailfilter``, ``dlp``, ``anomaly``, ``waf``,
  ``ssl``, ``voip``, ``file-filter``; a field FortiOS has nothing for is written empty
  (``desc=``). FortiAnalyzer adds ``itime`` (its receive time, epoch seconds) to the logs it
  forwards, and some of those come without ``date``/``time``.
* PAN-OS syslog field descriptions (9.1 to 11.x): ``FUTURE_USE, Receive Time, Serial Number,
  Type, ...`` per type; each version appends fields, older firewalls send fewer; values holding
  commas are double-quoted with ``""`` for a quote (RFC 4180). The HIP Match type is written
  ``HIP-MATCH`` in the field descriptions and ``HIPMATCH`` by firewalls. A UDP datagram cut at
  the path's MTU ends a record mid-field, possibly inside a quoted value.

Bodies are sent with a bare ``<PRI>`` (no header clock), so the time stored can only be the
body's own.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats import syslog
from collectors.formats.appliances import panos_layouts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WHEN = datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)


def _parse(bodies: list[str]):
    return syslog.parse_lines(["<189>" + body for body in bodies], "test", now=NOW)


# --- FortiGate -------------------------------------------------------------------------------

UTM_SUBTYPES = (
    "virus",
    "webfilter",
    "ips",
    "app-ctrl",
    "dns",
    "emailfilter",
    "dlp",
    "anomaly",
    "waf",
    "ssl",
    "voip",
    "file-filter",
)


def test_fortianalyzer_itime_is_the_time_when_date_and_time_are_empty():
    # FortiOS writes a field it has nothing for as "key=": here date, time and desc.
    body = 'date= time= itime=1772359201 devname="FG-1" logid="0100032001" type="event" subtype="system" desc= msg=""'
    batch = _parse([body])
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    assert row["@timestamp"] == WHEN
    assert row["fortinet.firewall.date"] == ""
    assert row["fortinet.firewall.desc"] == ""
    assert row["fortinet.firewall.msg"] == ""


def test_every_log_type_and_utm_subtype_is_stored_with_its_category():
    stamp = "date=2026-03-01 time=10:00:01 tz=+0000"
    bodies = [f'{stamp} devname=FG-1 logid="0000000013" type="traffic" subtype="forward" action="accept"']
    bodies += [f'{stamp} devname=FG-1 logid="0100032001" type="event" subtype="{s}"' for s in ("system", "vpn", "user")]
    bodies += [f'{stamp} devname=FG-1 logid="0211008192" type="utm" subtype="{s}" msg="x"' for s in UTM_SUBTYPES]
    # forwarded by FortiAnalyzer without the device's date and time: only itime
    bodies.append('itime=1772359201 devname=FG-1 logid="0419016384" type="utm" subtype="ips" attack="X"')
    batch = _parse(bodies)
    assert batch.quarantined == []
    rows = batch.events.to_pylist()
    assert [row["@timestamp"] for row in rows] == [WHEN] * len(bodies)
    categories = {row["fortinet.firewall.subtype"]: row["event.category"] for row in rows}
    assert categories["virus"] == "malware"
    assert categories["webfilter"] == "web"
    assert categories["ips"] == "intrusion_detection"
    assert categories["user"] == "authentication"


def test_a_slashed_date_or_a_fraction_of_a_second_is_still_the_device_time():
    # Not in the FortiOS reference: written by forwarders and exports that re-format the date.
    bodies = [
        "date=2026/03/01 time=10:00:01 devname=FG-1 logid=0100032001 type=event subtype=system",
        "date=2026-03-01 time=10:00:01.250 tz=+0000 devname=FG-1 logid=0100032001 type=event subtype=system",
    ]
    batch = _parse(bodies)
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [WHEN, WHEN + timedelta(milliseconds=250)]


_forti_keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda k: k not in {"date", "time", "tz", "eventtime", "itime", "timestamp", "type", "subtype", "logid"}
)
# Values FortiOS writes: empty, plain, with spaces, commas and quotes (escaped as \"); a value
# ending in a backslash is ambiguous in FortiOS's own grammar and left out.
_forti_values = st.text(
    st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="\\"), max_size=20
) | st.sampled_from(["", "N/A", "a b", 'say "hi"', "x,y", "k=v"])


def _forti_value(value: str, separator: str) -> str:
    if value and not any(c in value for c in f'"{separator} ='):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def _forti_time(kind: str, moment: datetime) -> str:
    seconds = int(moment.timestamp())
    return {
        "date": f"date={moment:%Y-%m-%d} time={moment:%H:%M:%S} tz=+0000",
        "quoted": f'date="{moment:%Y-%m-%d}" time="{moment:%H:%M:%S}" tz="+0000"',
        "seconds": f"eventtime={seconds}",
        "nanoseconds": f"eventtime={seconds * 1_000_000_000}",
        "itime": f"date= time= itime={seconds}",
    }[kind]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["traffic", "event", "utm"]),
    st.sampled_from(UTM_SUBTYPES + ("forward", "local", "system", "vpn", "user")),
    st.dictionaries(_forti_keys, _forti_values, max_size=10),
    st.sampled_from(["date", "quoted", "seconds", "nanoseconds", "itime"]),
    st.sampled_from([" ", ","]),
    st.integers(0, 10**8),
)
def test_property_every_fortigate_field_survives(log_type, subtype, pairs, clock, separator, offset):
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    head = [_forti_time(clock, moment), 'logid="0000000013"', f"type={log_type}", f"subtype={subtype}"]
    head = [pair for part in head for pair in part.split(" ")]
    body = separator.join(head + [f"{key}={_forti_value(value, separator)}" for key, value in pairs.items()])
    batch = _parse([body])
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    assert row["@timestamp"] == moment
    assert row["fortinet.firewall.type"] == log_type
    for key, value in pairs.items():
        assert row["fortinet.firewall." + key] == value


# --- PAN-OS ----------------------------------------------------------------------------------

PANOS_TYPES = ("TRAFFIC", "THREAT", "SYSTEM", "CONFIG", "GLOBALPROTECT", "USERID", "AUTH", "HIP-MATCH", "HIPMATCH")
THREAT_SUBTYPES = ("url", "file", "virus", "spyware", "vulnerability", "wildfire", "wildfire-virus", "data")


def _record(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _common(log_type: str, subtype: str, receive: str, generated: str) -> list[str]:
    return ["1", receive, "012801000001", log_type, subtype, "2561", generated]


def test_hip_match_as_the_field_descriptions_spell_it_is_read_by_the_hipmatch_layout():
    fields = _common("HIP-MATCH", "0", "2026/03/01 10:00:01", "2026/03/01 10:00:01")
    fields += ["corp\\jdoe", "vsys1", "LAPTOP-1", "Microsoft Windows 11", "10.0.0.5", "hip-profile", "1", "profile"]
    batch = _parse([_record(fields)])
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    assert row["panw.panos.machine_name"] == "LAPTOP-1"
    assert row["panw.panos.hip"] == "hip-profile"
    assert (row["event.category"], row["event.action"], row["source.ip"]) == ("host", "hip-match", "10.0.0.5")


def test_a_record_cut_short_keeps_what_it_has_and_says_the_csv_was_repaired():
    # A THREAT record cut inside its quoted URL (a truncated datagram), and one with an undoubled
    # quote inside a quoted value: both are stored, the problem named.
    cut = _record(_common("THREAT", "url", "2026/03/01 10:00:01", "2026/03/01 10:00:01"))
    cut += ",10.0.0.5,1.2.3.4,0.0.0.0,0.0.0.0,web,,,web-browsing,vsys1,trust,untrust,e1,e2,fwd,"
    cut += '2026/03/01 10:00:01,1,1,50000,80,0,0,0x0,tcp,alert,"bad.example/path?q=a,b'
    stray = cut.rsplit(',"', 1)[0] + ',"bad.example/"x"",(9999),malware,informational'
    # and one that stops right after its type
    short = "1,2026/03/01 10:00:01,012801000001,SYSTEM"
    batch = _parse([cut, stray, short])
    assert batch.quarantined == []
    rows = batch.events.to_pylist()
    assert [row["@timestamp"] for row in rows] == [WHEN] * 3
    assert rows[0]["panw.panos.url_filename"] == "bad.example/path?q=a,b"
    assert rows[0]["panw.panos.csv_problem"] == "malformed CSV read leniently: unexpected end of data"
    assert rows[1]["panw.panos.category"] == "malware"
    assert rows[1]["panw.panos.csv_problem"].startswith("malformed CSV read leniently")
    assert rows[2]["panw.panos.csv_problem"] is None
    assert rows[2]["panw.panos.type"] == "SYSTEM"


PANOS_CLOCKS = {
    # the firewall's own form, and how log collectors and exports rewrite it
    "slashed": lambda m: f"{m:%Y/%m/%d %H:%M:%S}",
    "iso": lambda m: f"{m:%Y-%m-%dT%H:%M:%S}Z",
    "us": lambda m: f"{m.month}/{m.day}/{m:%y} {m:%H:%M:%S}",
    "month": lambda m: f"{m:%b %d %Y %H:%M:%S}",
}

_panos_values = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x00"), max_size=20
) | st.sampled_from(["", "a,b", 'say "hi"', '""', "0.0.0.0"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(PANOS_TYPES),
    st.sampled_from(THREAT_SUBTYPES + ("end", "start", "login", "auth", "0")),
    st.sampled_from(sorted(PANOS_CLOCKS)),
    st.integers(0, 10**8),
    st.data(),
)
def test_property_every_panos_field_survives_whatever_the_version(log_type, subtype, clock, offset, data):
    """Any number of fields from the type on: each keeps its documented name, or ``field_<n>``
    past the layout, and nothing is quarantined for the count."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    stamp = PANOS_CLOCKS[clock](moment)
    layout = panos_layouts.LAYOUTS[panos_layouts.ALIASES.get(log_type, log_type)]
    count = data.draw(st.integers(4, len(layout) + 6), label="fields")
    fields = _common(log_type, subtype, stamp, stamp)[:count]
    fields += data.draw(st.lists(_panos_values, min_size=count - len(fields), max_size=count - len(fields)))
    batch = _parse([_record(fields)])
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    assert row["@timestamp"] == moment
    assert row["panw.panos.type"] == log_type
    for position, value in enumerate(fields):
        name = layout[position] if position < len(layout) else f"field_{position}"
        assert row["panw.panos." + name] == value, name


def _mutations(line: str, rng: random.Random) -> list[str]:
    cut = rng.randrange(len(line))
    spot = rng.randrange(len(line))
    return [
        line[:cut],
        line[:spot] + '"' + line[spot:],
        line[:spot] + rng.choice([",", "=", "\\", "\x00", "\u00e9", " "]) + line[spot + 1 :],
        line.replace(",", ",,", 1),
    ]


_VALID = [
    'date=2026-03-01 time=10:00:01 tz=+0000 devname=FG-1 logid="0000000013" type=traffic subtype=forward msg="a b"',
    "itime=1772359201 devname=FG-1 logid=0100032001 type=event subtype=system",
    _record(_common("TRAFFIC", "end", "2026/03/01 10:00:01", "2026/03/01 10:00:01") + ["10.0.0.5", "1.2.3.4"]),
    _record(_common("HIP-MATCH", "0", "2026-03-01T10:00:01Z", "2026-03-01T10:00:01Z") + ["u", 'a "b", c']),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_VALID), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_fuzz_broken_records_are_stored_or_quarantined_and_counts_add_up(lines, rng):
    bodies = [mutated for line in lines for mutated in _mutations(line, rng)] + lines
    batch = _parse(bodies)
    kept = batch.events.num_rows
    assert kept + len(batch.quarantined) == len(bodies)  # blank bodies are not sent: <PRI> leads
    assert all(q.reason for q in batch.quarantined)
    # every untouched record is among the stored ones
    originals = set(batch.events["event.original"].to_pylist())
    assert {"<189>" + line for line in lines} <= originals


@pytest.mark.parametrize("where", ["after its type", "after its subtype", "inside a quoted value"])
def test_a_panos_record_cut_short_is_stored_not_quarantined(where):
    fields = _common("TRAFFIC", "end", "2026/03/01 10:00:01", "2026/03/01 10:00:01")
    line = _record(fields + ["10.0.0.5", "1.2.3.4", "quoted, value", "x" * 100])
    cut = {
        "after its type": line.index(",TRAFFIC") + len(",TRAFFIC"),
        "after its subtype": line.index(",end") + len(",end"),
        "inside a quoted value": line.index('"quoted') + 5,
    }[where]
    batch = _parse([line[:cut]])
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [WHEN]
