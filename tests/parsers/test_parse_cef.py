"""CEF bodies (collectors.formats.appliances.cef) through the syslog parser.

Samples: SEKOIA-IO/intake-formats (../shared/data/sekoia-intake-formats; no licence file at the
commit used, see the data README), folders CEF/cef, Fortinet/fortigate (*.CEF*) and
Palo Alto Networks/paloalto-ngfw (*cef*). Each sample's ``input.message`` is the raw line and
``expected`` is SEKOIA's own parse, used here as an oracle for addresses, ports and users.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.formats import syslog
from collectors.formats.appliances import cef
from tests.support.sekoia import flat

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 2, 11, 59, tzinfo=UTC)


def _cef_samples(shared_data) -> dict[str, dict]:
    """name -> sample, for every CEF line in the three SEKOIA folders."""
    root = shared_data / "sekoia-intake-formats"
    samples = {}
    for folder in ("CEF/cef", "Fortinet/fortigate", "Palo Alto Networks/paloalto-ngfw"):
        for path in sorted((root / folder / "tests").glob("*.json")):
            sample = json.loads(path.read_text())
            message = sample["input"]["message"]
            if message.startswith("CEF:") or message.startswith("0|"):
                samples[f"{folder}/{path.name}"] = sample
    return samples


@pytest.fixture(scope="module")
def parsed_samples(shared_data):
    samples = _cef_samples(shared_data)
    names = list(samples)
    lines = [samples[name]["input"]["message"] for name in names]
    batch = syslog.parse_lines(lines, "sekoia", now=NOW, received_at=RECEIVED)
    rows = {row["event.original"]: row for row in batch.events.to_pylist()}
    return samples, names, batch, rows


def test_every_sekoia_cef_sample_parses_without_quarantine(parsed_samples):
    samples, names, batch, rows = parsed_samples
    assert len(names) >= 70  # 27 in CEF/cef, 32 FortiGate, 13 PAN-OS
    assert batch.quarantined == []
    assert batch.count == len(names)
    assert set(batch.events["event.dataset"].to_pylist()) == {"cef"}


# Where SEKOIA's vendor-specific rules read a field that CEF itself does not name.
KNOWN_DIFFERENCES = {
    # The client is only in FortiGate's "sproc" key and in the msg text.
    ("Fortinet/fortigate/ssh_access.CEF.json", "source.ip"),
    # duser=USER1 per CEF; SEKOIA prefers FortiGate's own FTNTFGTdstuser=USER2.
    ("Fortinet/fortigate/traffic_forward.CEF-7.json", "destination.user.name"),
}


def test_samples_agree_with_sekoia_on_addresses_ports_and_users(parsed_samples):
    samples, names, batch, rows = parsed_samples
    checked = 0
    for name in names:
        expected = flat(samples[name]["expected"])
        row = rows[samples[name]["input"]["message"].rstrip("\r\n")]
        for column in ("source.ip", "destination.ip", "source.port", "destination.port"):
            if column in expected and (name, column) not in KNOWN_DIFFERENCES:
                assert row[column] == expected[column], (name, column)
                checked += 1
        for ours, theirs in (
            ("user.name", "source.user.name"),
            ("user.name", "user.name"),
            ("destination.user.name", "destination.user.name"),
        ):
            if theirs in expected and row[ours] is not None and (name, ours) not in KNOWN_DIFFERENCES:
                # SEKOIA splits DOMAIN\\user (and does not always undo CEF's escaping of the
                # backslash); we keep the value as sent. The account name must agree.
                assert row[ours].split("\\")[-1] == expected[theirs].split("\\")[-1], (name, ours)
                checked += 1
    assert checked > 150


def test_sample_values(parsed_samples):
    samples, names, batch, rows = parsed_samples

    def row(name):
        return rows[samples[name]["input"]["message"].rstrip("\r\n")]

    malop = row("CEF/cef/cyber_reason_malop_connection.json")
    assert malop["@timestamp"] == datetime(2021, 8, 20, 22, 53, 27, 43000, tzinfo=UTC)
    assert (malop["destination.ip"], malop["destination.port"]) == ("3.226.77.3", 443)
    assert malop["cef.device_vendor"] == "Cybereason"
    assert malop["cef.name"] == "Malop Connection Added"
    assert malop["observer.vendor"] == "Cybereason"

    # ArcSight time with the zone in dtz; PAN-OS names its rule in cs1 labelled "Rule".
    traffic = row("CEF/cef/pan_ngfw_traffic_cef.json")
    assert traffic["@timestamp"] == datetime(2021, 2, 27, 20, 16, 21, tzinfo=UTC)
    assert traffic["rule.name"] == "deny-attackers"
    assert traffic["cef.extensions.cs1Label"] == "Rule"
    assert traffic["network.transport"] == "tcp"

    # FortiGate's own eventtime (nanoseconds) beats its zone-less local "start".
    fortigate = row("Fortinet/fortigate/traffic_forward.CEF-6.json")
    assert fortigate["@timestamp"] == datetime(2025, 11, 6, 15, 38, 12, 31974, tzinfo=UTC)

    # ctime-style endTime (Cisco ESA); the trailing blank lines are framing, not data.
    esa = row("CEF/cef/cisco_esa_cef_no_starttime.json")
    assert esa["@timestamp"] == datetime(2022, 8, 1, 6, 40, 30, tzinfo=UTC)
    assert esa["cef.extensions.ESAStatus"] == "QUEUED"
    assert esa["cef.extensions.ESAMID"] == "123 E"  # a value with a space, up to the next key

    logstash = row("CEF/cef/imported_from_logstash.json")
    assert logstash["message"] == " sys.log downloaded by john.doe@example.com"
    assert (logstash["cef.extensions.cs1Label"], logstash["cef.extensions.cs1"]) == ("type", "ssl_download")
    assert logstash["user.name"] == "john.doe@example.com"


def test_cef_without_prefix_is_recognised(parsed_samples):
    samples, names, batch, rows = parsed_samples
    bare = samples["Fortinet/fortigate/anomaly.CEF-2.json"]["input"]["message"]
    assert bare.startswith("0|Fortinet|")
    assert rows[bare]["cef.device_product"] == "Fortigate"
    assert rows[bare]["cef.name"] == "utm:anomaly anomaly clear_session"


def test_records_without_any_time_take_the_receive_time_else_the_ingest_time(parsed_samples):
    samples, names, batch, rows = parsed_samples
    timeless = samples["CEF/cef/imported_from_logstash.json"]["input"]["message"]
    assert (rows[timeless]["@timestamp"], rows[timeless]["cyberwell.time_source"]) == (RECEIVED, "received")
    again = syslog.parse_lines([timeless], "file", now=NOW)
    assert again.quarantined == []
    [row] = again.events.to_pylist()
    assert (row["@timestamp"], row["cyberwell.time_source"]) == (NOW, "ingested")


def test_header_escapes_and_severity():
    record = cef.parse_cef(r"CEF:0|Sec\|Corp|Fire\\wall|1.0|100|Port scan \| sweep|10|src=10.0.0.1")
    assert record.header == ("0", "Sec|Corp", "Fire\\wall", "1.0", "100", "Port scan | sweep", "10")
    assert record.extensions == {"src": "10.0.0.1"}


def test_extension_escapes_spaces_and_repeated_keys():
    text = r"msg=User a\=b logged in\nsecond line fname=C:\\temp\\x.exe act=blocked cs1=\r act=allow"
    assert cef.parse_extension(text) == {
        "msg": "User a=b logged in\nsecond line",
        "fname": "C:\\temp\\x.exe",
        "act": "blocked",  # the first of a repeated key
        "cs1": "\r",
    }


def test_ecs_mapping_of_common_keys():
    line = (
        "CEF:0|Acme|NGFW|2.1|4000|Blocked|7|rt=Mar 01 2026 10:00:00.250 start=Feb 01 2026 "
        "10:00:00 dtz=Europe/London src=192.0.2.10 spt=51515 dst=198.51.100.7 dpt=8443 "
        "proto=17 act=Dropped suser=alice duser=bob shost=pc1.council.local "
        "dhost=evil.example request=https://evil.example/x?a\\=1 msg=Bad thing happened "
        "cs2Label=Policy Name cs2=Block-Bad sourceTranslatedAddress=203.0.113.9 "
        "sourceTranslatedPort=40000 dvchost=fw1 deviceExternalId=SN123"
    )
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["@timestamp"] == datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert (row["source.ip"], row["source.port"]) == ("192.0.2.10", 51515)
    assert (row["destination.ip"], row["destination.port"]) == ("198.51.100.7", 8443)
    assert (row["source.nat.ip"], row["source.nat.port"]) == ("203.0.113.9", 40000)
    assert row["network.transport"] == "udp"
    assert row["event.action"] == "drop"
    assert row["cef.extensions.act"] == "Dropped"
    assert (row["user.name"], row["destination.user.name"]) == ("alice", "bob")
    assert (row["source.domain"], row["destination.domain"]) == ("pc1.council.local", "evil.example")
    assert row["url.original"] == "https://evil.example/x?a=1"
    assert row["message"] == "Bad thing happened"
    assert row["rule.name"] == "Block-Bad"
    assert (row["observer.name"], row["observer.serial_number"]) == ("fw1", "SN123")
    assert row["cef.severity"] == "7"
    assert row["event.category"] == "network"


def test_summer_time_in_dtz_zone():
    line = "CEF:0|A|B|1|2|n|1|rt=Jul 01 2025 10:00:00 dtz=Europe/London src=10.0.0.1"
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["@timestamp"] == datetime(2025, 7, 1, 9, 0, 0, tzinfo=UTC)


def test_truncated_header_is_quarantined():
    batch = syslog.parse_lines(
        ["CEF:0|Acme|NGFW|2.1|4000|Blocked", "CEF:0|A|B|1|2|n|1|src=10.0.0.1 rt=0"], "test", now=NOW
    )
    assert batch.count == 1
    [reject] = batch.quarantined
    assert reject.reason == "truncated CEF header: 6 of the 8 '|'-separated parts"
    assert reject.origin == "test:1"


# --- properties ----------------------------------------------------------------------------

_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True)
_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def _escape_value(value: str) -> str:
    """CEF's extension escaping, written independently of the parser."""
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def _escape_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=12))
def test_extension_round_trip(pairs):
    text = " ".join(f"{key}={_escape_value(value)}" for key, value in pairs.items())
    assert cef.parse_extension(text) == pairs


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20),
        min_size=6,
        max_size=6,
    ),
    st.dictionaries(_keys, _values, max_size=6),
)
def test_header_and_extension_round_trip(header, pairs):
    body = (
        "CEF:0|"
        + "|".join(_escape_header(h) for h in header)
        + "|"
        + " ".join(f"{key}={_escape_value(value)}" for key, value in pairs.items())
    )
    record = cef.parse_cef(body)
    assert record.header == ("0", *header)
    assert record.extensions == pairs


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        # Nor in another case: ``RT`` beside the line's ``rt`` would be kept as ``RT_2`` (test_parse_syslog.py).
        _keys.filter(lambda k: k.lower() not in ("rt", "end", "start", "devicereceipttime", "endtime", "starttime")),
        _values,
        max_size=8,
    )
    # keys differing only in case get a suffix in the table (test_parse_syslog.py)
    .filter(lambda pairs: len({key.lower() for key in pairs}) == len(pairs))
)
def test_extension_round_trip_through_the_batch(pairs):
    extension = " ".join(f"{key}={_escape_value(value)}" for key, value in pairs.items())
    line = "CEF:0|Acme|Gateway|1.0|1|Round trip|3|rt=1772445600000" + (" " + extension if pairs else "")
    batch = syslog.parse_lines([line], "test", now=NOW)
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    for key, value in pairs.items():
        assert row["cef.extensions." + key] == value
