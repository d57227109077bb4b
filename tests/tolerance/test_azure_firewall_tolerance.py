"""Azure Firewall records of every category, in every time form the exports carry (issue 15, points 5 and 7).

Written from Microsoft's documentation, with our own values:

* the resource-specific tables' columns (Azure Monitor table reference: AZFWNetworkRule,
  AZFWApplicationRule, AZFWNatRule, AZFWThreatIntel, AZFWIdpsSignature, AZFWDnsQuery,
  AZFWFqdnResolveFailure, AZFWFatFlow, AZFWFlowTrace and the three ``*Aggregation`` tables),
  which are a diagnostic record's ``properties`` by name;
* the legacy ``msg`` texts (Azure Firewall "monitor logs" page and the AzureDiagnostics
  ``msg_s`` examples): network and application rules, DNAT, threat intelligence, IDPS, DNS proxy
  requests and their errors;
* the record ``time`` as storage-account and Event Hub exports write it (ISO 8601 with 7
  decimals), and the US form some exports write (``3/1/2026 10:00:01 AM``, as the portal's
  Log Analytics export does); a Log Analytics row exported as JSON carries ``TimeGenerated``
  and ``Type`` instead of ``time`` and ``category``.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.azure_firewall import parse_file

WHEN = datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
RESOURCE = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW1"


def _write(folder: Path, records: list[dict | str]) -> Path:
    path = folder / "export.ndjson"
    lines = [record if isinstance(record, str) else orjson.dumps(record).decode() for record in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def _diagnostic(category: str, properties: dict, time: str = "2026-03-01T10:00:01.0000000Z") -> dict:
    return {
        "time": time,
        "resourceId": RESOURCE,
        "category": category,
        "operationName": category,
        "properties": properties,
    }


FLOW = {
    "Protocol": "TCP",
    "SourceIp": "10.0.0.4",
    "SourcePort": 50000,
    "DestinationIp": "20.1.2.3",
    "DestinationPort": 443,
}
RULE = {"Policy": "pol", "RuleCollectionGroup": "rcg", "RuleCollection": "rc", "Rule": "allow-web"}

#: One record per AZFW* category, and the columns a person would look at.
AZFW_CASES = {
    "AZFWNetworkRule": (
        {**FLOW, **RULE, "Action": "Deny", "ActionReason": "Default action"},
        {"destination.ip": "20.1.2.3", "event.action": "deny", "rule.name": "allow-web"},
    ),
    "AZFWApplicationRule": (
        {**FLOW, **RULE, "Fqdn": "www.example.com", "TargetUrl": "https://www.example.com/a", "Action": "Allow"},
        {"destination.domain": "www.example.com", "url.original": "https://www.example.com/a"},
    ),
    "AZFWNatRule": (
        {**FLOW, **RULE, "TranslatedIp": "10.0.1.5", "TranslatedPort": 3389},
        {"destination.nat.ip": "10.0.1.5", "destination.nat.port": 3389, "event.action": "dnat"},
    ),
    "AZFWThreatIntel": (
        {**FLOW, "Action": "Deny", "Fqdn": "bad.example", "ThreatDescription": "Botnet C&C"},
        {"event.kind": "alert", "azure.firewall.threat_intel.description": "Botnet C&C"},
    ),
    "AZFWIdpsSignature": (
        {
            **FLOW,
            "Action": "Alert",
            "SignatureId": "2024897",
            "Category": "Trojan",
            "Description": "ET MALWARE x",
            "Severity": 1,
        },
        {"event.kind": "alert", "rule.id": "2024897", "event.severity": 1},
    ),
    "AZFWDnsQuery": (
        {
            "SourceIp": "10.0.0.4",
            "SourcePort": 53001,
            "QueryType": "A",
            "QueryName": "www.example.com.",
            "Protocol": "udp",
            "ResponseCode": "NOERROR",
        },
        {"dns.question.name": "www.example.com", "dns.response_code": "NOERROR"},
    ),
    "AZFWFqdnResolveFailure": (
        {
            "Fqdn": "gone.example",
            "ResolverIp": "168.63.129.16",
            "ServerIp": "10.0.0.53",
            "ServerPort": 53,
            "Error": "NXDOMAIN",
        },
        {
            "destination.domain": "gone.example",
            "destination.ip": "10.0.0.53",
            "destination.port": 53,
            "azure.firewall.action_reason": "NXDOMAIN",
        },
    ),
    "AZFWFatFlow": ({**FLOW, "FlowRate": 812.5}, {"source.ip": "10.0.0.4", "destination.port": 443}),
    "AZFWFlowTrace": ({**FLOW, "Flag": "SYN", "Action": "Allow"}, {"event.action": "allow", "source.port": 50000}),
    "AZFWApplicationRuleAggregation": (
        {**RULE, "SourceIp": "10.0.0.4", "Fqdn": "www.example.com", "Action": "Allow"},
        {"destination.domain": "www.example.com", "rule.ruleset": "rc"},
    ),
    "AZFWNetworkRuleAggregation": (
        {**FLOW, **RULE, "Action": "Allow"},
        {"rule.name": "allow-web", "event.action": "allow"},
    ),
    "AZFWNatRuleAggregation": (
        {**FLOW, **RULE, "TranslatedIp": "10.0.1.5", "TranslatedPort": 3389},
        {"destination.nat.ip": "10.0.1.5", "event.action": "dnat"},
    ),
}


def test_every_azfw_category_is_stored_with_its_fields(tmp_path):
    records = [_diagnostic(category, properties) for category, (properties, _) in AZFW_CASES.items()]
    batch = parse_file(_write(tmp_path, records))
    assert batch.quarantined == []
    rows = batch.events.to_pylist()
    assert [row["azure.firewall.category"] for row in rows] == list(AZFW_CASES)
    for row, (category, (_, expected)) in zip(rows, AZFW_CASES.items()):
        assert row["@timestamp"] == WHEN
        assert {column: row[column] for column in expected} == expected, category


TIMES = {
    "2026-03-01T10:00:01.0000000Z": WHEN,  # storage account and Event Hub exports
    "2026-03-01T10:00:01.123456789Z": WHEN + timedelta(microseconds=123456),
    "2026-03-01T11:00:01+01:00": WHEN,
    "2026-03-01 10:00:01": WHEN,  # no zone: UTC
    "3/1/2026 10:00:01 AM": WHEN,  # the US form
    "3/1/2026, 10:00:01.000 AM": WHEN,  # the Log Analytics portal's
    "3/1/2026 2:00:01 PM": WHEN + timedelta(hours=4),
}


def test_times_as_the_exports_write_them(tmp_path):
    msg = "TCP request from 10.0.0.4:50000 to 20.1.2.3:443. Action: Allow."
    records = [_diagnostic("AzureFirewallNetworkRule", {"msg": msg}, time) for time in TIMES]
    batch = parse_file(_write(tmp_path, records))
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == list(TIMES.values())


def test_a_log_analytics_row_whose_time_is_not_one_is_quarantined_with_it(tmp_path):
    row = {"TimeGenerated": "13/45/2026 99:00 XM", "Type": "AZFWNetworkRule", **FLOW}
    batch = parse_file(_write(tmp_path, [row]))
    assert batch.count == 0
    assert [q.reason for q in batch.quarantined] == ["time is not a timestamp: 13/45/2026 99:00 XM"]


def test_log_analytics_rows_exported_as_json_are_read(tmp_path):
    resource_specific = {"TenantId": "ws", "TimeGenerated": "2026-03-01T10:00:01Z", "Type": "AZFWNetworkRule", **FLOW}
    resource_specific |= {"Action": "Deny", "_ResourceId": RESOURCE.lower()}
    azure_diagnostics = {
        "TimeGenerated": "3/1/2026, 10:00:01.000 AM",
        "Type": "AzureDiagnostics",
        "Category": "AzureFirewallApplicationRule",
        "OperationName": "AzureFirewallApplicationRuleLog",
        "msg_s": "HTTPS request from 10.0.0.4:50000 to www.example.com:443. Action: Allow. Rule Collection: rc. Rule: r",
    }
    other_table = {"TimeGenerated": "2026-03-01T10:00:01Z", "Type": "Heartbeat", "Computer": "vm1"}
    batch = parse_file(_write(tmp_path, [resource_specific, azure_diagnostics, other_table]))
    first, second = batch.events.to_pylist()
    assert (first["azure.firewall.category"], first["destination.ip"], first["event.action"]) == (
        "AZFWNetworkRule",
        "20.1.2.3",
        "deny",
    )
    assert first["azure.resource.id"] == RESOURCE.lower()
    assert (second["azure.firewall.category"], second["destination.domain"], second["rule.name"]) == (
        "AzureFirewallApplicationRule",
        "www.example.com",
        "r",
    )
    assert second["azure.firewall.operation_name"] == "AzureFirewallApplicationRuleLog"
    assert [row["@timestamp"] for row in (first, second)] == [WHEN, WHEN]
    [reject] = batch.quarantined
    assert reject.reason == 'a Log Analytics row of table "Heartbeat", not an Azure Firewall table'


# --- properties: generated records in the documented variants --------------------------------

_ipv4 = st.ip_addresses(v=4).map(str)
_port = st.integers(1, 65535)
_name = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(example|test)\.com", fullmatch=True)


@st.composite
def flows(draw) -> dict:
    return {
        "src": draw(_ipv4),
        "sport": draw(_port),
        "dst": draw(_ipv4),
        "dport": draw(_port),
        "action": draw(st.sampled_from(["Allow", "Deny"])),
        "rc": draw(_name),
        "rule": draw(_name),
        "host": draw(_host),
        "offset": draw(st.integers(0, 10**8)),
        "form": draw(st.sampled_from(["iso7", "us", "la-row"])),
        "shape": draw(st.sampled_from(["structured", "legacy-network", "legacy-application", "legacy-ti"])),
    }


def _render(flow: dict) -> tuple[dict, dict]:
    """A record of ``flow`` in its shape and time form, and the columns it must give."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=flow["offset"])
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    us = f"{moment.month}/{moment.day}/{moment.year} {moment:%I:%M:%S %p}"
    expected = {"@timestamp": moment, "source.ip": flow["src"], "source.port": flow["sport"]}
    expected["event.action"] = flow["action"].lower()
    if flow["shape"] == "structured":
        properties = {"Protocol": "TCP", "SourceIp": flow["src"], "SourcePort": flow["sport"]}
        properties |= {"DestinationIp": flow["dst"], "DestinationPort": flow["dport"], "Action": flow["action"]}
        properties |= {"RuleCollection": flow["rc"], "Rule": flow["rule"]}
        category = "AZFWNetworkRule"
        expected |= {"destination.ip": flow["dst"], "rule.name": flow["rule"], "rule.ruleset": flow["rc"]}
    else:
        to = flow["host"] if flow["shape"] == "legacy-application" else flow["dst"]
        proto = "HTTPS" if flow["shape"] == "legacy-application" else "TCP"
        msg = f"{proto} request from {flow['src']}:{flow['sport']} to {to}:{flow['dport']}. Action: {flow['action']}."
        if flow["shape"] == "legacy-ti":
            msg += " ThreatIntel: Bot Networks"
            expected |= {"event.kind": "alert", "azure.firewall.threat_intel.description": "Bot Networks"}
        else:
            msg += f" Rule Collection: {flow['rc']}. Rule: {flow['rule']}"
            expected |= {"rule.name": flow["rule"], "rule.ruleset": flow["rc"]}
        properties = {"msg": msg}
        category = "AzureFirewallApplicationRule" if proto == "HTTPS" else "AzureFirewallNetworkRule"
        expected |= {"destination.domain": to} if proto == "HTTPS" else {"destination.ip": to}
    expected |= {"destination.port": flow["dport"], "azure.firewall.category": category}
    if flow["form"] != "la-row":
        return _diagnostic(category, properties, iso if flow["form"] == "iso7" else us), expected
    if "msg" in properties:
        row = {"TimeGenerated": us, "Type": "AzureDiagnostics", "Category": category, "msg_s": properties["msg"]}
    else:
        row = {"TimeGenerated": iso, "Type": category, **properties}
    return row, expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(flows(), min_size=1, max_size=12))
def test_property_every_field_survives_in_every_shape_and_time_form(generated):
    records, expected = zip(*(_render(flow) for flow in generated))
    with tempfile.TemporaryDirectory() as folder:
        batch = parse_file(_write(Path(folder), list(records)))
    assert batch.quarantined == []
    for row, want in zip(batch.events.to_pylist(), expected):
        assert {column: row[column] for column in want} == want


def _broken(text: str, rng: random.Random) -> str:
    cut, spot = rng.randrange(len(text)), rng.randrange(len(text))
    return rng.choice(
        [
            text[:cut],
            text[:spot] + rng.choice(['"', "}", "{", ",", "\\", "\u00e9"]) + text[spot + 1 :],
            text.replace('"time"', '"tiem"').replace('"TimeGenerated"', '"Tg"'),
            text.replace('"category"', '"cat"').replace('"Type"', '"Tp"'),
            "[" + text,
        ]
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(flows(), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_fuzz_broken_records_are_stored_or_quarantined_and_counts_add_up(generated, rng):
    valid = [orjson.dumps(_render(flow)[0]).decode() for flow in generated]
    broken = [_broken(text, rng) for text in valid]
    lines = [line for pair in zip(valid, broken) for line in pair]
    with tempfile.TemporaryDirectory() as folder:
        batch = parse_file(_write(Path(folder), lines))
    records = sum(1 for line in lines if line.strip())
    assert batch.count + len(batch.quarantined) >= records  # an envelope may hold several
    assert all(q.reason for q in batch.quarantined)
    stored = set(batch.events["event.original"].to_pylist())
    assert set(valid) <= stored  # every valid record, in every form, is kept
