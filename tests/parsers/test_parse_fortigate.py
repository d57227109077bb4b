"""FortiGate key=value bodies (collectors.formats.appliances.fortigate) through the syslog parser.

Samples: SEKOIA-IO/intake-formats (../shared/data/sekoia-intake-formats/Fortinet/fortigate; no
licence file at the commit used, see the data README). ``input.message`` is the raw line and
``expected`` is SEKOIA's own parse, used here as an oracle for addresses, ports, actions, users.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.formats import syslog
from collectors.formats.appliances import fortigate
from tests.support.sekoia import flat

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 2, 11, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def parsed_samples(shared_data):
    """Every key=value sample (the CEF ones are in test_parse_cef.py), parsed as one batch."""
    folder = shared_data / "sekoia-intake-formats" / "Fortinet" / "fortigate" / "tests"
    samples = {}
    for path in sorted(folder.glob("*.json")):
        sample = json.loads(path.read_text())
        message = sample["input"]["message"]
        if not (message.startswith("CEF:") or message.startswith("0|")):
            samples[path.name] = sample
    lines = [sample["input"]["message"] for sample in samples.values()]
    batch = syslog.parse_lines(lines, "sekoia", now=NOW, received_at=RECEIVED)
    rows = {row["event.original"]: row for row in batch.events.to_pylist()}
    return samples, batch, {name: rows[s["input"]["message"].rstrip("\r\n")] for name, s in samples.items()}


def test_every_key_value_sample_parses_without_quarantine(parsed_samples):
    samples, batch, rows = parsed_samples
    assert len(samples) == 64
    assert batch.quarantined == []
    assert set(batch.events["event.dataset"].to_pylist()) == {"fortinet.firewall"}


# Where SEKOIA reads something FortiOS does not say in the fields we map, or we deliberately
# differ; every other sample must agree with SEKOIA on these columns.
KNOWN_DIFFERENCES = {
    # SEKOIA finds the DHCP client's address in a field other than srcip; FortiOS's "ip".
    ("dhcp_ack.json", "source.ip"),
    # user="john.doe,cn=john.doe": we keep the value as sent.
    ("traffic_with_pass_and_cert.json", "user.name"),
    # action="info"; SEKOIA puts the certificate's name there.
    ("vpn.STANDARD.json", "event.action"),
}


def test_samples_agree_with_sekoia(parsed_samples):
    samples, batch, rows = parsed_samples
    checked = 0
    for name, sample in samples.items():
        expected, row = flat(sample["expected"]), rows[name]
        for column in ("source.ip", "destination.ip", "source.port", "destination.port"):
            if column in expected and (name, column) not in KNOWN_DIFFERENCES:
                assert row[column] == expected[column], (name, column)
                checked += 1
        if "event.action" in expected and (name, "event.action") not in KNOWN_DIFFERENCES:
            assert row["fortinet.firewall.action"] == expected["event.action"], name
            checked += 1
        user = expected.get("user.name") or expected.get("source.user.name")
        if user and (name, "user.name") not in KNOWN_DIFFERENCES:
            # SEKOIA splits DOMAIN\\user; we keep the value as sent.
            assert row["user.name"].split("\\")[-1] == user, name
            checked += 1
    assert checked > 200


def test_traffic_sample_values(parsed_samples):
    samples, batch, rows = parsed_samples
    for name in ("traffic_forward.STANDARD.json", "traffic_forward.CSV.json"):  # both layouts
        row = rows[name]
        # eventtime=1532616695 (UTC) wins over date/time.
        assert row["@timestamp"] == datetime(2018, 7, 26, 14, 51, 35, tzinfo=UTC)
        assert (row["source.ip"], row["source.port"]) == ("1.1.1.1", 10016)
        assert (row["destination.ip"], row["destination.port"]) == ("192.0.2.1", 20)
        assert row["network.transport"] == "tcp"
        assert row["event.action"] == "allow"
        assert row["fortinet.firewall.action"] == "accept"
        assert (row["rule.id"], row["event.code"]) == ("1", "0000000013")
        assert row["event.category"] == "network"
        assert row["network.protocol"] == "tcp/20"
        assert row["fortinet.firewall.srccountry"] == "United States"  # quoted, with a space
        assert row["fortinet.firewall.utmref"] == "65491-194"
        assert (row["observer.vendor"], row["observer.product"]) == ("Fortinet", "FortiGate")
        assert row["log.level"] == "notice"


def test_event_sample_values(parsed_samples):
    samples, batch, rows = parsed_samples
    admin = rows["event_add_admin.json"]
    assert admin["event.action"] == "add"
    assert admin["fortinet.firewall.cfgpath"] == "system.admin"
    assert admin["fortinet.firewall.cfgattr"] == "password[*]accprofile[super_admin]vdom[root]"
    assert admin["source.ip"] == "127.0.0.1"  # from ui="jsconsole(127.0.0.1)"
    assert admin["event.category"] == "configuration"
    assert admin["message"] == "Object attribute configured"
    assert admin["@timestamp"] == RECEIVED  # the line carries no time at all
    vpn = rows["IP_SEC.STANDARD.json"]
    assert (vpn["source.ip"], vpn["source.port"]) == ("1.1.1.1", 500)  # remip, remport
    assert vpn["user.name"] is None  # user="N/A"
    assert vpn["event.outcome"] == "failure"
    unauth = rows["test_unauthuser.json"]
    assert unauth["user.name"] == "example.com\\jdoe"  # a backslash is not an escape in FortiOS
    assert rows["dns.CSV.json"]["fortinet.firewall.ipaddr"] == "104.80.89.26, 104.80.89.24"
    nat = rows["traffic_nat.STANDARD.json"]  # trandisp="dnat" tranip=192.0.2.1 tranport=3727
    assert (nat["destination.nat.ip"], nat["destination.nat.port"]) == ("192.0.2.1", 3727)
    assert nat["source.nat.ip"] is None


def test_a_host_name_in_dstip_stays_out_of_destination_ip(parsed_samples):
    samples, batch, rows = parsed_samples
    row = rows["attack_client_side.json"]
    assert row["fortinet.firewall.dstip"] == "example.com"
    assert row["destination.ip"] is None


def _line(**pairs: str) -> str:
    return " ".join(f"{key}={value}" for key, value in pairs.items())


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"eventtime": "1700000000"}, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ({"eventtime": "1700000000123"}, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        ({"eventtime": "1700000000123456789"}, datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
        ({"date": "2026-03-01", "time": "10:00:00", "tz": '"+0100"'}, datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ({"date": "2026-03-01", "time": "10:00:00", "tz": '"UTC+2"'}, datetime(2026, 3, 1, 8, 0, tzinfo=UTC)),
        ({"date": "2026-03-01", "time": "10:00:00"}, datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
        ({"timestamp": "1700000000"}, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_time_fields(fields, expected):
    line = _line(logid='"0000000013"', type='"traffic"', **fields)
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["@timestamp"] == expected


@pytest.mark.parametrize(
    ("action", "normalised"),
    [
        ("accept", "allow"),
        ("close", "allow"),
        ("timeout", "allow"),
        ("server-rst", "allow"),
        ("client-rst", "allow"),
        ("passthrough", "allow"),
        ("deny", "deny"),
        ("blocked", "deny"),
        ("dropped", "drop"),
        ("ip-conn", "ip-conn"),
        ("Login", "login"),
    ],
)
def test_action_normalisation_keeps_the_original(action, normalised):
    line = _line(eventtime="1700000000", logid='"0000000013"', action=f'"{action}"')
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert (row["event.action"], row["fortinet.firewall.action"]) == (normalised, action)


@pytest.mark.parametrize(
    ("proto", "transport"), [("6", "tcp"), ("17", "udp"), ("1", "icmp"), ("58", "ipv6-icmp"), ("99", "99")]
)
def test_protocol_numbers(proto, transport):
    line = _line(eventtime="1700000000", logid='"0000000013"', proto=proto)
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["network.transport"] == transport


def test_repeated_key_keeps_the_first_value():
    line = 'eventtime=1700000000 logid="1" user="first" user="second"'
    assert fortigate.parse_kv(line)["user"] == "first"
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["fortinet.firewall.user"] == "first"


# --- properties ----------------------------------------------------------------------------

_RESERVED = {"logid", "eventtime"}
_keys = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda k: k not in _RESERVED)
# Any text without line breaks, except what FortiOS's quoting cannot carry: a backslash right
# before a quote or at the very end of a value.
_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30).filter(
    lambda v: '\\"' not in v and not v.endswith("\\")
)


def _render(value: str, separator: str) -> str:
    plain = value and not any(c in value for c in f'"{separator} \\')
    return value if plain else '"' + value.replace('"', '\\"') + '"'


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=12), st.sampled_from([" ", ","]))
def test_key_value_round_trip(pairs, separator):
    head = ["eventtime=1700000000", 'logid="0000000013"']
    body = separator.join(head + [f"{key}={_render(value, separator)}" for key, value in pairs.items()])
    parsed = fortigate.parse_kv(body)
    assert {key: parsed[key] for key in pairs} == pairs


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=10), st.sampled_from([" ", ","]))
def test_key_value_round_trip_through_the_batch(pairs, separator):
    head = ["eventtime=1700000000", 'logid="0000000013"']
    body = separator.join(head + [f"{key}={_render(value, separator)}" for key, value in pairs.items()])
    batch = syslog.parse_lines(["<189>" + body], "test", now=NOW)
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    for key, value in pairs.items():
        assert row["fortinet.firewall." + key] == value
