"""PAN-OS CSV bodies (collectors.formats.appliances.panos) through the syslog parser.

Samples: SEKOIA-IO/intake-formats (../shared/data/sekoia-intake-formats/Palo Alto Networks/
paloalto-ngfw; no licence file at the commit used, see the data README). ``input.message`` is the
raw line and ``expected`` is SEKOIA's own parse, used here as an oracle. The folder also holds
JSON records (Cortex Data Lake / Strata Logging Service exports): they are not syslog, and the
syslog parser quarantines them as an unknown body; the CEF records are in test_parse_cef.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.formats import syslog
from collectors.formats.appliances import panos, panos_layouts
from tests.support.sekoia import flat

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _samples(shared_data) -> dict[str, dict]:
    folder = shared_data / "sekoia-intake-formats" / "Palo Alto Networks" / "paloalto-ngfw" / "tests"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


@pytest.fixture(scope="module")
def parsed_samples(shared_data):
    samples = {
        name: sample
        for name, sample in _samples(shared_data).items()
        if not sample["input"]["message"].lstrip().startswith(("{", "CEF:"))
    }
    lines = [sample["input"]["message"] for sample in samples.values()]
    batch = syslog.parse_lines(lines, "sekoia", now=NOW)
    rows = {row["event.original"]: row for row in batch.events.to_pylist()}
    return samples, batch, {name: rows[s["input"]["message"].rstrip("\r\n")] for name, s in samples.items()}


def test_every_csv_sample_parses_without_quarantine(parsed_samples):
    samples, batch, rows = parsed_samples
    assert len(samples) == 46
    assert batch.quarantined == []
    assert set(batch.events["event.dataset"].to_pylist()) == {"panw.panos"}
    assert set(batch.events["panw.panos.type"].to_pylist()) == {
        "TRAFFIC",
        "THREAT",
        "SYSTEM",
        "CONFIG",
        "USERID",
        "GLOBALPROTECT",
        "HIPMATCH",
        "AUTH",
        "DECRYPTION",
    }


def test_json_records_are_not_syslog_and_are_quarantined(shared_data):
    records = [
        s["input"]["message"] for s in _samples(shared_data).values() if s["input"]["message"].lstrip().startswith("{")
    ]
    assert len(records) == 42
    batch = syslog.parse_lines(records, "sekoia", now=NOW)
    assert batch.count == 0
    assert {q.reason.split(" (")[0] for q in batch.quarantined} == {
        "unknown body format: not CEF, FortiGate key=value or PAN-OS CSV"
    }


def test_session_samples_agree_with_sekoia(parsed_samples):
    samples, batch, rows = parsed_samples
    checked = 0
    for name, sample in samples.items():
        expected, row = flat(sample["expected"]), rows[name]
        if row["panw.panos.type"] not in ("TRAFFIC", "THREAT", "DECRYPTION"):
            continue
        for column in (
            "source.ip",
            "destination.ip",
            "source.port",
            "destination.port",
            "rule.name",
            "network.application",
            "network.transport",
            "observer.serial_number",
        ):
            if expected.get(column) not in (None, 0, "0.0.0.0"):
                assert row[column] == expected[column], (name, column)
                checked += 1
        for column in ("source.nat.ip", "destination.nat.ip", "source.nat.port", "destination.nat.port"):
            if expected.get(column) not in (None, 0, "0.0.0.0"):
                assert row[column] == expected[column], (name, column)
                checked += 1
            else:  # PAN-OS writes 0.0.0.0 and 0 for "no NAT"; they are null here
                assert row[column] is None, (name, column)
        if "event.action" in expected:
            assert row["panw.panos.action"] == expected["event.action"], name
            checked += 1
    assert checked > 80


def test_system_auth_samples_agree_with_sekoia_on_user_and_client(parsed_samples):
    samples, batch, rows = parsed_samples
    checked = 0
    for name, sample in samples.items():
        expected, row = flat(sample["expected"]), rows[name]
        if row["panw.panos.type"] != "SYSTEM":
            continue
        if expected.get("user.name") and row["user.name"]:
            assert row["user.name"] == expected["user.name"].rstrip("."), name
            checked += 1
        if expected.get("source.ip"):
            assert row["source.ip"] == expected["source.ip"], name
            checked += 1
    assert checked > 25


def test_traffic_with_syslog_header(parsed_samples):
    samples, batch, rows = parsed_samples
    row = rows["udp_deny_csv.json"]  # "<14>Sep 16 10:00:00 PA 1,9/16/19 10:00,..."
    assert row["@timestamp"] == datetime(2019, 9, 16, 10, 0, tzinfo=UTC)  # the body's
    assert (row["log.syslog.priority"], row["log.syslog.hostname"]) == (14, "PA")
    assert (row["source.ip"], row["source.port"]) == ("10.0.0.2", 130000)
    assert (row["destination.ip"], row["destination.port"]) == ("1.2.3.4", 53)
    assert (row["source.nat.ip"], row["source.nat.port"]) == ("5.4.4.3", 6379)
    assert (row["destination.nat.ip"], row["destination.nat.port"]) == ("5.4.3.2", 53)
    assert row["network.transport"] == "udp"
    assert (row["event.action"], row["panw.panos.action"]) == ("reset-both", "reset-both")
    assert (row["rule.name"], row["network.application"]) == ("DENYALL", "protection")
    assert (row["observer.name"], row["observer.serial_number"]) == ("PA-1", "1801017000")
    assert row["panw.panos.session_end_reason"] == "policy-deny"
    assert row["panw.panos.source_country"] == "10.0.0.0-10.255.255.255"
    assert row["event.category"] == "network"


def test_threat_fields(parsed_samples):
    samples, batch, rows = parsed_samples
    row = rows["threat_csv.json"]
    assert row["panw.panos.threat.id"] == "34805"
    assert row["panw.panos.threat.name"] == "PDF Exploit Evasion Found"
    assert row["event.category"] == "intrusion_detection"
    assert row["event.action"] == "alert"
    url = rows["test_threat.json"]
    assert url["panw.panos.subtype"] == "url"
    assert url["url.original"] == "test.fr:9999/"
    assert url["event.category"] == "web"
    assert url["panw.panos.threat.id"] == "9999" and url["panw.panos.threat.name"] is None


def test_quoted_commas_and_escaped_quotes(parsed_samples):
    samples, batch, rows = parsed_samples
    row = rows["test_timestamp_palo.json"]
    assert row["message"] == 'Request made to server "server_test.com" is successful . '
    system = rows["system_csv.json"]
    assert "auth profile 'GP', vsys 'vsys123', server profile 'LDAP'" in system["message"]
    assert (system["event.action"], system["event.outcome"]) == ("auth-success", "success")
    assert (system["user.name"], system["source.ip"]) == ("user1", "1.2.3.4")
    assert system["event.category"] == "authentication"


def test_other_log_types(parsed_samples):
    samples, batch, rows = parsed_samples
    userid = rows["test_userid.json"]
    assert (userid["user.name"], userid["source.ip"], userid["event.action"]) == ("test.fr\\JDOE", "1.2.3.4", "login")
    assert userid["panw.panos.data_source_type"] == "globalprotect"
    gp = rows["globalprotect_csv.json"]
    assert (gp["user.name"], gp["source.ip"], gp["event.action"]) == ("user", "1.2.3.4", "gw-auth")
    config = rows["test_event_reason4.json"]
    assert (config["user.name"], config["event.action"], config["event.outcome"]) == ("test-user", "edit", "success")
    assert config["event.category"] == "configuration"
    hip = rows["test_hipmatch_csv.json"]
    assert (hip["user.name"], hip["source.ip"], hip["panw.panos.hip"]) == ("jdoe", "1.2.3.4", "VPN Compliant")


def test_high_resolution_timestamp_wins_over_zone_less_times(parsed_samples):
    samples, batch, rows = parsed_samples
    row = rows["test_system_event_14.json"]  # generated 20:19:04 local, ...T20:19:04.851+01:00
    assert row["@timestamp"] == datetime(2024, 12, 16, 19, 19, 4, 851000, tzinfo=UTC)


def test_unknown_log_type_keeps_positional_fields():
    line = "1,2026/03/01 10:00:00,0123456789,CORRELATION,compromised-host,2561,2026/03/01 09:59:58,a,b,c"
    [row] = syslog.parse_lines([line], "test", now=NOW).events.to_pylist()
    assert row["panw.panos.type"] == "CORRELATION"
    assert row["panw.panos.generated_time"] == "2026/03/01 09:59:58"
    assert (row["panw.panos.field_7"], row["panw.panos.field_9"]) == ("a", "c")
    assert row["@timestamp"] == datetime(2026, 3, 1, 9, 59, 58, tzinfo=UTC)


def test_unterminated_quote_is_read_leniently_and_marked():
    line = '1,2026/03/01 10:00:00,0123,SYSTEM,auth,0,2026/03/01 10:00:00,,auth-fail,x,0,0,general,low,"unterminated'
    batch = syslog.parse_lines([line], "test", now=NOW)
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    assert row["panw.panos.description"] == "unterminated"
    assert row["panw.panos.csv_problem"] == "malformed CSV read leniently: unexpected end of data"


def test_not_a_known_type_is_not_pan_os():
    batch = syslog.parse_lines(["1,2,3,HELLO,5,6,7"], "test", now=NOW)
    assert batch.quarantined[0].reason.startswith("unknown body format")


# --- properties ----------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=25)


@settings(max_examples=200, deadline=None)
@given(st.lists(_text, min_size=24, max_size=24))
def test_csv_fields_with_quotes_and_commas_round_trip(values):
    fields = ["1", "2026/03/01 10:00:00", "012345678901", "TRAFFIC", "end", "2561", "2026/03/01 09:59:59"] + values
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    assert panos.split_fields(out.getvalue()) == fields
    row = panos.to_row(fields)
    assert row["panw.panos.rule_name"] == values[4]
    assert row["panw.panos.action"] == values[23]


@settings(max_examples=30, deadline=None)
@given(st.lists(_text, min_size=24, max_size=24))
def test_csv_round_trip_through_the_batch(values):
    fields = ["1", "2026/03/01 10:00:00", "012345678901", "TRAFFIC", "end", "2561", "2026/03/01 09:59:59"] + values
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    batch = syslog.parse_lines([out.getvalue()], "test", now=NOW)
    assert batch.quarantined == []
    [row] = batch.events.to_pylist()
    names = panos.field_names("TRAFFIC", len(fields))
    assert [row["panw.panos." + name] for name in names] == fields


def test_layouts_name_each_position_once():
    for log_type, names in panos_layouts.LAYOUTS.items():
        assert len(set(names)) == len(names), log_type
        assert names[:7] == (
            "future_use_0",
            "receive_time",
            "serial_number",
            "type",
            "subtype",
            "future_use_5",
            "generated_time",
        ), log_type
