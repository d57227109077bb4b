"""Azure Firewall diagnostic records → ``azure.firewall`` events.

Samples: Elastic's Azure Firewall pipeline test inputs, from elastic/integrations
(packages/azure/data_stream/firewall_logs/_dev/test/pipeline/*.log; Elastic License 2.0), read in
place from the shared data folder as local test inputs. Records for categories those samples lack
(AZFWNatRule, AZFWIdpsSignature, AZFWDnsQuery, AzureFirewallDnsProxy, IPv6) are written here from
Microsoft's documented table columns and msg formats, with our own values.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.azure_firewall import COLUMNS, DATASET, SOURCE, parse_file

RESOURCE = "/SUBSCRIPTIONS/23103928-B2CF-472A-8CDB-0146E2849129/RESOURCEGROUPS/TEST-FW-RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/TEST-FW01"


@pytest.fixture(scope="module")
def samples(shared_data) -> Path:
    return shared_data / "elastic-integrations/packages/azure/data_stream/firewall_logs/_dev/test/pipeline"


def rows(path: Path) -> list[dict]:
    batch = parse_file(path)
    assert batch.quarantined == []
    return batch.events.to_pylist()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def legacy(msg: str, category: str = "AzureFirewallNetworkRule", time: str = "2026-03-02T10:00:00Z") -> dict:
    return {
        "category": category,
        "operationName": category + "Log",
        "properties": {"msg": msg},
        "resourceId": RESOURCE,
        "time": time,
    }


# --- Elastic's samples -------------------------------------------------------------------------


def test_legacy_network_rule_text_is_read_into_addresses_ports_and_actions(samples):
    events = rows(samples / "test-networkrules-raw.log")
    assert len(events) == 12
    icmp, udp, tcp, dnat_bare, dnat, drop, alert, threat, ping, allow, dnat_short, icmp_late = events

    assert icmp["@timestamp"] == utc(2022, 6, 8, 16, 54, 58, 849256)  # 100 ns digits cut to µs
    assert (icmp["source.ip"], icmp["destination.ip"], icmp["source.port"], icmp["destination.port"]) == (
        "192.168.0.2",
        "89.160.20.156",
        None,
        None,
    )
    assert (icmp["network.transport"], icmp["event.action"], icmp["azure.firewall.action"]) == ("icmp", "deny", "Deny")

    assert (udp["source.port"], udp["destination.port"], udp["network.transport"], udp["event.action"]) == (
        51106,
        53,
        "udp",
        "allow",
    )
    assert (tcp["destination.ip"], tcp["destination.port"], tcp["event.action"]) == ("89.160.20.156", 1688, "deny")

    for nat in (dnat_bare, dnat, dnat_short):
        assert nat["event.action"] == "dnat"
        assert (nat["source.ip"], nat["source.port"], nat["destination.ip"]) == ("192.168.0.2", 50306, "89.160.20.156")
        assert (nat["destination.nat.ip"], nat["destination.nat.port"]) == ("10.0.0.2", nat["destination.port"])
        assert nat["azure.firewall.operation_name"] == "AzureFirewallNatRuleLog"
    assert dnat_bare["rule.name"] is None
    assert (
        dnat["azure.firewall.policy"],
        dnat["azure.firewall.rule_collection_group"],
        dnat["rule.ruleset"],
        dnat["rule.name"],
    ) == ("policy-01", "DefaultDnatRuleCollectionGroup", "DNAT", "rule")
    assert dnat_short["destination.port"] == 3388

    assert (drop["event.action"], drop["event.kind"], drop["event.category"]) == (
        "drop",
        "alert",
        "intrusion_detection",
    )
    assert (drop["rule.id"], drop["event.severity"], drop["rule.category"]) == ("2028816", 3, "Unknown Traffic")
    assert drop["azure.firewall.threat_intel.description"] == "JA3 Hash - [Abuse.ch] Possible Tofsee"
    assert (alert["event.action"], alert["destination.port"], alert["event.severity"], alert["rule.id"]) == (
        "alert",
        1521,
        1,
        "2102649",
    )
    assert alert["rule.category"] == "Attempted User Privilege Gain"

    assert (threat["destination.domain"], threat["destination.ip"], threat["destination.port"]) == (
        "ocsp.sca1b.amazontrust.com",
        None,
        80,
    )
    assert (threat["url.original"], threat["network.protocol"], threat["network.transport"]) == (
        "ocsp.sca1b.amazontrust.com",
        "http",
        "tcp",
    )
    assert (threat["azure.firewall.threat_intel.description"], threat["event.category"]) == (
        "Bot Networks",
        "intrusion_detection",
    )

    assert (ping["source.ip"], ping["source.port"], ping["destination.ip"], ping["destination.port"]) == (
        "192.168.0.2",
        None,
        "175.16.199.1",
        None,
    )
    assert ping["azure.firewall.threat_intel.description"] == "ICMP_INFO PING *NIX"

    assert allow["@timestamp"] == utc(2025, 3, 13, 7, 11, 59, 992099)
    assert (allow["event.action"], allow["rule.ruleset"], allow["rule.name"]) == (
        "allow",
        "Permit_RFC1918",
        "Permit_RFC1918",
    )
    assert icmp_late["@timestamp"] == utc(2026, 5, 7, 15, 45, 12, 345678)

    for event in events:
        assert event["azure.firewall.category"] == "AzureFirewallNetworkRule"
        assert event["azure.resource.id"] == RESOURCE
        assert (event["observer.vendor"], event["observer.product"]) == ("Microsoft", "Azure Firewall")
        assert event["message"] == orjson.loads(event["event.original"])["properties"]["msg"]
        assert event["event.outcome"] is None


def test_legacy_application_rule_text_gives_hosts_rules_and_reasons(samples):
    no_rule, web, url, unresolved, no_sni, google = rows(samples / "test-applicationrules-raw.log")

    assert (no_rule["source.ip"], no_rule["source.port"]) == ("10.0.2.4", 56029)
    assert (no_rule["destination.domain"], no_rule["destination.port"]) == (
        "md-qp4jv5snxgk5.z13.blob.storage.azure.net",
        443,
    )
    assert (no_rule["event.action"], no_rule["network.protocol"], no_rule["network.transport"]) == (
        "deny",
        "https",
        "tcp",
    )
    assert no_rule["azure.firewall.action_reason"] == "No rule matched. Proceeding with default action"
    assert no_rule["rule.name"] is None

    assert (web["azure.firewall.policy"], web["azure.firewall.rule_collection_group"]) == (
        "azfwpolicy-nbfw-prd-weeu-01",
        "DefaultApplicationRuleCollectionGroup",
    )
    assert (web["rule.ruleset"], web["rule.name"], web["azure.firewall.web_category"]) == (
        "enablement-genericwebcategory-prd-allow-200",
        "Allowed Business-Use Webcategories",
        "ComputersAndTechnology",
    )
    assert web["azure.firewall.action_reason"] is None

    assert (url["network.protocol"], url["destination.domain"], url["destination.port"]) == (
        "http",
        "ocsp.msocsp.com",
        80,
    )
    assert (url["url.original"], url["rule.name"], url["rule.ruleset"]) == (
        "ocsp.msocsp.com/MFQ=",
        "Azure-to-AllowedServices, HTTP",
        "generic-allow-500",
    )

    assert unresolved["destination.domain"] == "instance01.westeurope.datafactory.azure.net"
    assert unresolved["azure.firewall.action_reason"].startswith("Failed to resolve address adf-rt-prd-weeu-01")

    assert (no_sni["source.ip"], no_sni["source.port"], no_sni["destination.domain"], no_sni["destination.ip"]) == (
        "10.0.0.1",
        6065,
        None,
        None,
    )
    assert (no_sni["event.action"], no_sni["azure.firewall.action_reason"]) == ("deny", "SNI TLS extension was missing")

    assert (google["destination.domain"], google["rule.ruleset"], google["rule.name"], google["event.action"]) == (
        "www.google.com",
        "App-Coll01",
        "Allow-Google",
        "allow",
    )
    assert google["@timestamp"] == utc(2022, 6, 20, 21, 20, 12, 897936)


def test_structured_network_rule_and_threat_intel_records(samples):
    [rule] = rows(samples / "test-azfw-network-rule-structured-raw.log")
    assert (rule["source.ip"], rule["source.port"], rule["destination.ip"], rule["destination.port"]) == (
        "127.0.0.1",
        1234,
        "127.0.0.1",
        1234,
    )
    assert (rule["network.transport"], rule["event.action"], rule["azure.firewall.action"]) == ("tcp", "allow", "Allow")
    assert (
        rule["azure.firewall.policy"],
        rule["azure.firewall.rule_collection_group"],
        rule["rule.ruleset"],
        rule["rule.name"],
        rule["azure.firewall.action_reason"],
    ) == ("policy", "rule collection group", "rule collection", "rule", "action reason")
    assert (rule["azure.firewall.category"], rule["event.category"], rule["message"]) == (
        "AZFWNetworkRule",
        "network",
        None,
    )

    [threat] = rows(samples / "test-threatintel-raw.log")
    assert (threat["source.ip"], threat["source.port"], threat["destination.ip"], threat["destination.port"]) == (
        "192.168.0.2",
        51890,
        "175.16.199.1",
        443,
    )
    assert (threat["event.action"], threat["event.kind"], threat["event.category"]) == (
        "deny",
        "alert",
        "intrusion_detection",
    )
    assert threat["azure.firewall.threat_intel.description"] == "Destination reported by Threat Intelligence"
    assert (threat["destination.domain"], threat["url.original"]) == (None, None)  # empty strings are not values
    assert threat["@timestamp"] == utc(2025, 5, 16, 7, 34, 42, 525499)


def test_redacted_structured_records_keep_what_they_have(samples):
    [network] = rows(samples / "test-AZFWNetworkRule-raw.log")
    assert (network["source.port"], network["destination.port"]) == (None, None)  # "<redacted>" is no port
    assert (network["event.action"], network["network.transport"], network["@timestamp"]) == (
        "allow",
        "tcp",
        utc(2024, 3, 20, 23, 39, 59, 849437),
    )


def test_pretty_printed_record_with_trailing_comma_is_read_and_stored_minified(samples):
    [app] = rows(samples / "test-AZFWApplicationRule-raw.log")
    assert (app["azure.firewall.category"], app["network.protocol"], app["network.transport"]) == (
        "AZFWApplicationRule",
        "http",
        "tcp",
    )
    assert app["event.action"] == "allow"
    assert "\n" not in app["event.original"]
    assert orjson.loads(app["event.original"])["properties"]["Fqdn"] == "<redacted>"


# --- categories the samples lack ------------------------------------------------------------------


def test_nat_idps_and_dns_records_of_both_kinds(tmp_path):
    records = [
        {
            "category": "AZFWNatRule",
            "time": "2026-03-02T10:00:00.1234567Z",
            "resourceId": RESOURCE,
            "properties": {
                "SourceIp": "81.2.69.160",
                "SourcePort": 50123,
                "DestinationIp": "20.50.1.9",
                "DestinationPort": 3389,
                "Protocol": "TCP",
                "TranslatedIp": "10.1.0.4",
                "TranslatedPort": 3389,
                "Policy": "hub",
                "RuleCollectionGroup": "dnat-rcg",
                "RuleCollection": "rdp",
                "Rule": "jumpbox",
            },
        },
        {
            "category": "AZFWIdpsSignature",
            "time": "2026-03-02T10:00:01Z",
            "resourceId": RESOURCE,
            "properties": {
                "SourceIp": "10.1.2.3",
                "SourcePort": 51000,
                "DestinationIp": "198.51.100.7",
                "DestinationPort": 443,
                "Protocol": "TCP",
                "Action": "Deny",
                "SignatureId": "2024897",
                "Category": "A Network Trojan was detected",
                "Description": "ET MALWARE beacon",
                "Severity": 1,
            },
        },
        {
            "category": "AZFWDnsQuery",
            "time": "2026-03-02T10:00:02Z",
            "resourceId": RESOURCE,
            "properties": {
                "SourceIp": "10.1.2.3",
                "SourcePort": 53111,
                "QueryId": 4242,
                "QueryType": "A",
                "QueryClass": "IN",
                "QueryName": "login.microsoftonline.com.",
                "Protocol": "udp",
                "ResponseCode": "NOERROR",
            },
        },
        legacy(
            "DNS Request: 10.1.2.3:48197 - 15676 AAAA IN md-l1lqxyzw.z47.blob.storage.azure.net. udp 55 false 512 "
            "NOERROR qr,rd,ra 153 0.030012187s",
            "AzureFirewallDnsProxy",
        ),
        legacy(
            " Error: 2 time.windows.com.reddog.microsoft.com. A: read udp 10.0.1.5:49126->168.63.129.160:53: i/o timeout",
            "AzureFirewallDnsProxy",
        ),
        legacy(
            "TCP request from 2001:db8::5:51000 to [2001:db8:ffff::1]:443. Action: Deny. Rule Collection: v6. Rule: no-v6"
        ),
    ]
    nat, idps, dns, proxy, proxy_error, ipv6 = rows(write_records(tmp_path / "more.ndjson", records))

    assert nat["@timestamp"] == utc(2026, 3, 2, 10, 0, 0, 123456)
    assert (nat["event.action"], nat["destination.nat.ip"], nat["destination.nat.port"], nat["rule.name"]) == (
        "dnat",
        "10.1.0.4",
        3389,
        "jumpbox",
    )
    assert (idps["event.kind"], idps["event.category"], idps["event.action"]) == (
        "alert",
        "intrusion_detection",
        "deny",
    )
    assert (idps["rule.id"], idps["rule.category"], idps["event.severity"]) == (
        "2024897",
        "A Network Trojan was detected",
        1,
    )
    assert idps["azure.firewall.threat_intel.description"] == "ET MALWARE beacon"
    assert (dns["dns.question.name"], dns["dns.question.type"], dns["dns.response_code"]) == (
        "login.microsoftonline.com",
        "A",
        "NOERROR",
    )
    assert (dns["network.protocol"], dns["network.transport"], dns["source.port"]) == ("dns", "udp", 53111)
    assert (proxy["source.ip"], proxy["source.port"], proxy["dns.question.name"], proxy["dns.question.type"]) == (
        "10.1.2.3",
        48197,
        "md-l1lqxyzw.z47.blob.storage.azure.net",
        "AAAA",
    )
    assert (proxy["dns.response_code"], proxy["network.transport"], proxy["network.protocol"]) == (
        "NOERROR",
        "udp",
        "dns",
    )
    assert (proxy_error["source.ip"], proxy_error["destination.ip"], proxy_error["destination.port"]) == (
        "10.0.1.5",
        "168.63.129.160",
        53,
    )
    assert (proxy_error["dns.question.name"], proxy_error["azure.firewall.action_reason"]) == (
        "time.windows.com.reddog.microsoft.com",
        "i/o timeout",
    )
    assert (ipv6["source.ip"], ipv6["source.port"], ipv6["destination.ip"], ipv6["destination.port"]) == (
        "2001:db8::5",
        51000,
        "2001:db8:ffff::1",
        443,
    )


# --- containers, gzip, ids ------------------------------------------------------------------------


def test_every_container_gives_the_same_events(tmp_path, samples):
    records = [
        orjson.loads(line) for line in (samples / "test-networkrules-raw.log").read_bytes().splitlines() if line.strip()
    ]
    ndjson = write_records(tmp_path / "lines.ndjson", records)
    envelope = tmp_path / "eventhub.json"
    envelope.write_bytes(orjson.dumps({"records": records}))
    array = tmp_path / "array.json"
    array.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2))
    envelopes = tmp_path / "envelopes.ndjson"
    envelopes.write_bytes(
        orjson.dumps({"records": records[:5]}) + b"\n" + orjson.dumps({"records": records[5:]}) + b"\n"
    )
    single = tmp_path / "single.json"
    single.write_bytes(orjson.dumps(records[3], option=orjson.OPT_INDENT_2))

    expected = [event["event.id"] for event in rows(ndjson)]
    assert len(expected) == 12 and len(set(expected)) == 12
    for path in (envelope, array, envelopes):
        batch = parse_file(path)
        assert batch.quarantined == []
        assert batch.events.column("event.id").to_pylist() == expected, path.name
    assert rows(single)[0]["event.id"] == expected[3]


def test_long_envelope_lines_crlf_bom_and_bad_utf8_are_read(tmp_path):
    record = legacy("UDP request from 10.0.0.9:5353 to 10.0.0.53:53. Action: Allow. ", time="2026-03-02T10:00:00Z")
    envelope = {"records": [record] * 5000}  # one line of about 1.5 MB: longer than a CSV block
    path = tmp_path / "odd.ndjson"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + orjson.dumps(record)
        + b"\r\n"
        + orjson.dumps(envelope)
        + b"\r\n"
        + orjson.dumps(legacy("TCP request from 10.0.0.9:1 to 10.0.0.8:2. Action: Deny. Rule: caf\xe9")).replace(
            "caf\xe9".encode(), b"caf\xff"
        )
        + b"\r\n"
    )
    batch = parse_file(path)
    assert batch.quarantined == []
    events = batch.events.to_pylist()
    assert len(events) == 5002
    assert {event["destination.port"] for event in events[:5001]} == {53}
    assert events[-1]["rule.name"] == "caf\ufffd"  # the bad byte is replaced, the record kept
    assert not events[0]["event.original"].endswith("\r")


def test_gzip_is_detected_by_its_bytes_not_its_name(tmp_path, samples):
    plain = samples / "test-applicationrules-raw.log"
    packed = tmp_path / "applicationrules.log"  # no .gz suffix
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    drop = ["event.ingested"]
    assert parse_file(packed).events.drop(drop).equals(parse_file(plain).events.drop(drop))


def test_ids_are_deterministic_and_ingest_time_is_parse_time(samples):
    path = samples / "test-networkrules-raw.log"
    before = datetime.now(UTC)
    first = parse_file(path).events
    second = parse_file(path).events
    after = datetime.now(UTC)
    assert first.column("event.id").to_pylist() == second.column("event.id").to_pylist()
    assert all(len(event_id) == 64 for event_id in first.column("event.id").to_pylist())
    ingested = set(first.column("event.ingested").to_pylist())
    assert len(ingested) == 1 and before <= ingested.pop() <= after
    assert set(first.column("event.dataset").to_pylist()) == {DATASET}


def test_every_batch_has_all_columns_in_order(tmp_path, samples):
    for path in [*samples.glob("*.log"), write_records(tmp_path / "empty.ndjson", [])]:
        schema = parse_file(path).events.schema
        assert schema.names == list(COLUMNS)
        assert [field.type for field in schema] == list(COLUMNS.values())


# --- bad input -----------------------------------------------------------------------------------


def test_malformed_records_are_quarantined_with_reasons_and_the_rest_survive(tmp_path):
    good = legacy("TCP request from 10.0.0.4:49890 to 13.69.65.17:443. Action: Deny. Rule Collection: out. Rule: block")
    unreadable = legacy("Something the firewall never wrote before")
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(
        b"\n".join(
            [
                orjson.dumps(good),
                b"this is not json",
                b"",
                b"   ",
                b"[1, 2]",
                orjson.dumps({**good, "time": None}),
                orjson.dumps({**good, "time": "yesterday"}),
                orjson.dumps({"time": "2026-03-02T10:00:00Z", "properties": {"msg": "x"}}),
                b'"just a string"',
                orjson.dumps(unreadable),
                b'{"category": "AZFWNetworkRule", "time": ',
            ]
        )
        + b"\n"
    )
    batch = parse_file(path)

    reasons = {q.origin: q.reason for q in batch.quarantined}
    assert reasons == {
        f"{path}:2": "not valid JSON",
        f"{path}:5[0]": "record is not a JSON object",
        f"{path}:5[1]": "record is not a JSON object",
        f"{path}:6": "record has no time",
        f"{path}:7": "time is not a timestamp: yesterday",
        f"{path}:8": "record has no category: not an Azure Firewall diagnostic record",
        f"{path}:9": "record is not a JSON object",
        f"{path}:11": "not valid JSON",
    }
    assert all(q.source == SOURCE for q in batch.quarantined)
    assert next(q.record for q in batch.quarantined if q.origin == f"{path}:2") == "this is not json"

    kept, odd = batch.events.to_pylist()
    assert (kept["source.ip"], kept["destination.port"], kept["event.action"], kept["rule.name"]) == (
        "10.0.0.4",
        443,
        "deny",
        "block",
    )
    assert (odd["message"], odd["event.action"], odd["source.ip"]) == (
        "Something the firewall never wrote before",
        None,
        None,
    )
    assert odd["azure.firewall.category"] == "AzureFirewallNetworkRule"


def test_unreadable_files_are_quarantined_not_raised(tmp_path):
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b'{"category": "x"}\n' * 100)[:15])  # the header, no data
    damaged = parse_file(broken)
    assert damaged.count == 0
    assert any(q.reason.startswith("gzip stream damaged") for q in damaged.quarantined)
    missing = tmp_path / "missing.json"
    batch = parse_file(missing)
    assert batch.count == 0
    assert [q.origin for q in batch.quarantined] == [str(missing)]
    assert batch.quarantined[0].reason.startswith("cannot read file")


def test_blank_and_empty_files_give_empty_batches(tmp_path):
    for content in (b"", b"\n\n  \n", b"\xef\xbb\xbf"):
        path = tmp_path / "blank.json"
        path.write_bytes(content)
        batch = parse_file(path)
        assert (batch.count, batch.quarantined) == (0, [])


# --- properties ----------------------------------------------------------------------------------

names = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"), min_size=1, max_size=20
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda address: address.compressed)
ports = st.integers(0, 65535)


@st.composite
def network_msgs(draw):
    """A legacy network-rule msg with the values it should parse back to."""
    v6 = draw(st.booleans())
    src, dst = (draw(ipv6), draw(ipv6)) if v6 else (draw(ipv4), draw(ipv4))
    brackets = v6 and draw(st.booleans())

    def endpoint(ip, port):
        return f"[{ip}]:{port}" if brackets else f"{ip}:{port}"

    proto = draw(st.sampled_from(["TCP", "UDP"]))
    sport, dport = draw(ports), draw(ports)
    action = draw(st.sampled_from(["Allow", "Deny", "drop", "alert"]))
    collection, rule = draw(st.none() | names), draw(st.none() | names)
    msg = f"{proto} request from {endpoint(src, sport)} to {endpoint(dst, dport)}. Action: {action}."
    if collection:
        msg += f" Rule Collection: {collection}."
    if rule:
        msg += f" Rule: {rule}"
    expected = {
        "source.ip": src,
        "source.port": sport,
        "destination.ip": dst,
        "destination.port": dport,
        "network.transport": proto.lower(),
        "event.action": action.lower(),
        "rule.ruleset": collection,
        "rule.name": rule,
    }
    return msg, expected


@st.composite
def dnat_msgs(draw):
    src, dst, nat = draw(ipv4), draw(ipv4), draw(ipv4)
    sport, dport, nport = draw(ports), draw(ports), draw(ports)
    msg = f"TCP request from {src}:{sport} to {dst}:{dport} was DNAT'ed to {nat}:{nport}"
    expected = {
        "source.ip": src,
        "source.port": sport,
        "destination.ip": dst,
        "destination.port": dport,
        "destination.nat.ip": nat,
        "destination.nat.port": nport,
        "event.action": "dnat",
    }
    return msg, expected


hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,15}){1,3}", fullmatch=True)


@st.composite
def application_msgs(draw):
    """A legacy application-rule msg: a host name as destination, optional URL and rule path."""
    src, host, sport = draw(ipv4), draw(hostnames), draw(ports)
    verb, dport = draw(st.sampled_from([("HTTP", 80), ("HTTPS", 443)]))
    action = draw(st.sampled_from(["Allow", "Deny"]))
    policy, group, collection, rule = (draw(names) for _ in range(4))
    category = draw(st.none() | names)
    msg = (
        f"{verb} request from {src}:{sport} to {host}:{dport}. Action: {action}. Policy: {policy}. "
        f"Rule Collection Group: {group}. Rule Collection: {collection}. Rule: {rule}"
    )
    if category:
        msg += f". Web Category: {category}"
    expected = {
        "source.ip": src,
        "source.port": sport,
        "destination.domain": host,
        "destination.ip": None,
        "destination.port": dport,
        "network.protocol": verb.lower(),
        "network.transport": "tcp",
        "event.action": action.lower(),
        "azure.firewall.policy": policy,
        "azure.firewall.rule_collection_group": group,
        "rule.ruleset": collection,
        "rule.name": rule,
        "azure.firewall.web_category": category,
    }
    return msg, expected


@st.composite
def icmp_msgs(draw):
    """ICMP is written two ways: "Type=n" without ports, or with empty ports ("ip:")."""
    src, dst, action = draw(ipv4), draw(ipv4), draw(st.sampled_from(["Allow", "Deny"]))
    if draw(st.booleans()):
        msg = f"ICMP Type={draw(st.integers(0, 255))} request from {src} to {dst}. Action: {action}. "
    else:
        msg = f"ICMP request from {src}: to {dst}:. Action: {action}. "
    expected = {
        "source.ip": src,
        "destination.ip": dst,
        "source.port": None,
        "destination.port": None,
        "network.transport": "icmp",
        "event.action": action.lower(),
    }
    return msg, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(network_msgs() | dnat_msgs() | application_msgs() | icmp_msgs(), min_size=1, max_size=25))
def test_generated_legacy_messages_parse_back_to_their_values(tmp_path, generated):
    path = write_records(tmp_path / "generated.ndjson", [legacy(msg) for msg, _ in generated])
    events = rows(path)
    assert len(events) == len(generated)
    for event, (msg, expected) in zip(events, generated):
        assert event["message"] == msg
        got = {key: event[key] for key in expected}
        if ":" in expected["source.ip"] and expected.get("destination.ip"):  # IPv6 compares as addresses
            for key in ("source.ip", "destination.ip"):
                got[key] = ipaddress.ip_address(got[key]).compressed
        assert got == expected, msg


junk_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["records", "category", "time", "properties", "msg", "SourcePort", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=60) | junk_json.map(lambda value: json.dumps(value).encode()), max_size=8))
def test_junk_never_raises(tmp_path, lines):
    path = tmp_path / "junk.log"
    path.write_bytes(b"\n".join(lines))
    batch = parse_file(path)
    assert isinstance(batch.events, pa.Table)
    assert batch.events.schema.names == list(COLUMNS)
    assert all(q.source == SOURCE and q.reason and not q.reason.startswith("parser error") for q in batch.quarantined)
