"""Defender alerts (Graph security alerts_v2, Defender for Endpoint /api/alerts) → ``m365_defender.alert``.

Graph samples: the response examples in microsoftgraph/microsoft-graph-docs-contrib
(api-reference/v1.0/api/security-list-alerts_v2.md and security-list-incidents.md), read in place
from the shared data folder: the JSON is the fenced block after "HTTP/1.1 200 OK", used as
published (its U+FFFD characters and, in the incidents page, trailing commas included; the parser
reads JSON as DuckDB does, which accepts trailing commas).

Defender for Endpoint has no sample here: the records below follow the documented shape of
``GET /api/alerts?$expand=evidence`` (Microsoft Learn, "List alerts API"): ``alertCreationTime``,
``machineId``, ``computerDnsName``, numeric ``incidentId``, capitalised ``severity``, and evidence
items typed by ``entityType``; the values are ours.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.defender_alerts import COLUMNS, DATASET, SOURCE, parse_file

GRAPH_ALERT_ID = "da637551227677560813_-961444813"


def response_bodies(page: Path) -> list[str]:
    """The JSON bodies of a Graph docs page's example responses."""
    text = page.read_text(encoding="utf-8")
    return re.findall(r"HTTP/1\.1 200 OK\n[^\n]*\n\n(.*?)\n```", text, re.S)


@pytest.fixture(scope="module")
def graph_docs(shared_data) -> Path:
    return shared_data / "microsoft-graph-docs-contrib/api-reference/v1.0/api"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def mde_alert(**overrides) -> dict:
    """A Defender for Endpoint alert in the documented /api/alerts shape, our values."""
    alert = {
        "id": "da638700000000000000_1234567890",
        "incidentId": 7587,
        "investigationId": 723156,
        "assignedTo": None,
        "severity": "Medium",
        "status": "New",
        "classification": None,
        "determination": None,
        "investigationState": "Queued",
        "detectionSource": "WindowsDefenderAv",
        "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
        "category": "Malware",
        "threatFamilyName": "Emotet",
        "title": "'Emotet' malware was detected",
        "description": "Malware was detected on the device.",
        "alertCreationTime": "2026-03-02T09:14:07.1234567Z",
        "firstEventTime": "2026-03-02T09:12:00Z",
        "lastEventTime": "2026-03-02T09:13:00Z",
        "lastUpdateTime": "2026-03-02T09:20:00.5Z",
        "resolvedTime": None,
        "machineId": "5d1e4c2b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d",
        "computerDnsName": "lt-revs-0042.council.local",
        "rbacGroupName": "Laptops",
        "aadTenantId": "a839b112-1253-6432-9bf6-94542403f21c",
        "threatName": "Trojan:Win32/Emotet",
        "mitreTechniques": ["T1204.002", "T1059.001"],
        "relatedUser": {"userName": "jsmith", "domainName": "COUNCIL"},
        "comments": [],
        "evidence": [
            {
                "entityType": "Process",
                "evidenceCreationTime": "2026-03-02T09:14:08Z",
                "fileName": "winword.exe",
                "sha256": "1" * 64,
                "userPrincipalName": None,
            },
            {
                "entityType": "User",
                "evidenceCreationTime": "2026-03-02T09:14:08Z",
                "accountName": "jsmith",
                "domainName": "COUNCIL",
                "userPrincipalName": "J.Smith@Council.gov.uk",
                "fileName": None,
                "sha256": None,
            },
            {
                "entityType": "File",
                "evidenceCreationTime": "2026-03-02T09:14:08Z",
                "fileName": "invoice.docm",
                "filePath": "C:\\Users\\jsmith\\Downloads",
                "sha256": "ab" * 32,
                "userPrincipalName": None,
            },
        ],
    }
    alert.update(overrides)
    return alert


def ndjson(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


# --- Graph samples -------------------------------------------------------------------------------


def test_graph_alerts_v2_page_sample(graph_docs, tmp_path):
    [body] = response_bodies(graph_docs / "security-list-alerts_v2.md")
    batch = parse_file(write(tmp_path / "alerts_v2.json", body))
    assert batch.quarantined == []
    [alert] = batch.events.to_pylist()

    assert alert["event.id"] == GRAPH_ALERT_ID
    assert alert["@timestamp"] == utc(2021, 4, 27, 12, 19, 27, 721130)
    assert (alert["message"], alert["rule.name"]) == ("Suspicious execution of hidden file",) * 2
    assert (alert["event.kind"], alert["event.category"], alert["event.action"], alert["event.outcome"]) == (
        "alert",
        "threat",
        "defenseevasion",
        None,
    )
    assert (alert["host.name"], alert["host.id"]) == ("tempDns", "73e7e2de709dff64ef64b1d0c30e67fab63279db")
    assert alert["user.name"] is None  # the sample has no userEvidence, only a process's SYSTEM account
    assert (alert["file.name"], alert["file.hash.sha256"]) == (
        "MsSense.exe",
        "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec",
    )
    assert (alert["m365_defender.alert.severity"], alert["m365_defender.alert.status"]) == ("low", "new")
    assert (alert["m365_defender.alert.category"], alert["m365_defender.alert.detection_source"]) == (
        "DefenseEvasion",
        "antivirus",
    )
    assert alert["m365_defender.alert.service_source"] == "microsoftDefenderForEndpoint"
    assert alert["m365_defender.alert.incident_id"] == "28282"
    assert alert["m365_defender.alert.last_update_time"] == utc(2021, 5, 2, 14, 19, 1, 326666)
    assert json.loads(alert["m365_defender.alert.mitre_techniques"]) == ["T1564.001"]
    assert json.loads(alert["threat.technique.id"]) == ["T1564.001"]
    assert alert["m365_defender.alert.threat_family_name"] is None
    evidence = json.loads(alert["m365_defender.alert.evidence"])
    assert [item["@odata.type"] for item in evidence] == [
        "#microsoft.graph.security.deviceEvidence",
        "#microsoft.graph.security.fileEvidence",
        "#microsoft.graph.security.processEvidence",
        "#microsoft.graph.security.registryKeyEvidence",
    ]
    original = json.loads(alert["event.original"])
    assert original["id"] == GRAPH_ALERT_ID and "\ufffd" in original["recommendedActions"]
    assert "\n" not in alert["event.original"]  # taken out of a page: stored minified


def test_graph_incidents_with_expanded_alerts_give_their_alerts(graph_docs, tmp_path):
    without_alerts, with_alerts = response_bodies(graph_docs / "security-list-incidents.md")

    expanded = write(tmp_path / "incidents.json", with_alerts)
    batch = parse_file(expanded)
    assert batch.quarantined == []
    [alert] = batch.events.to_pylist()
    assert (alert["event.id"], alert["host.name"], alert["file.name"]) == (GRAPH_ALERT_ID, "tempDns", "MsSense.exe")
    assert alert["m365_defender.alert.incident_id"] == "28282"

    listed = write(tmp_path / "incidents-only.json", without_alerts)
    batch = parse_file(listed)
    assert batch.count == 0
    [rejected] = batch.quarantined
    assert rejected.reason == "an incident without alerts: list incidents with $expand=alerts"
    assert rejected.origin == f"{listed}[0]"
    assert json.loads(rejected.record)["id"] == "2972395"


# --- Defender for Endpoint -----------------------------------------------------------------------


def test_defender_for_endpoint_alerts(tmp_path):
    bare = mde_alert(
        id="da638700000000000001_42",
        evidence=[],
        severity="High",
        category="SuspiciousActivity",
        computerDnsName=None,
        machineId=None,
        threatFamilyName=None,
    )
    path = write(tmp_path / "mde.ndjson", ndjson([mde_alert(), bare]))
    batch = parse_file(path)
    assert batch.quarantined == []
    full, empty = batch.events.to_pylist()

    assert full["event.id"] == "da638700000000000000_1234567890"
    assert full["@timestamp"] == utc(2026, 3, 2, 9, 14, 7, 123456)
    assert (full["host.name"], full["host.id"]) == (
        "lt-revs-0042.council.local",
        "5d1e4c2b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d",
    )
    assert full["user.name"] == "j.smith@council.gov.uk"
    assert (full["file.name"], full["file.hash.sha256"]) == ("invoice.docm", "ab" * 32)
    assert (full["event.category"], full["event.action"]) == ("malware", "malware")
    assert (full["m365_defender.alert.severity"], full["m365_defender.alert.status"]) == ("medium", "New")
    assert full["m365_defender.alert.service_source"] == "microsoftDefenderForEndpoint"
    assert full["m365_defender.alert.incident_id"] == "7587"
    assert full["m365_defender.alert.detection_source"] == "WindowsDefenderAv"
    assert full["m365_defender.alert.threat_family_name"] == "Emotet"
    assert full["m365_defender.alert.last_update_time"] == utc(2026, 3, 2, 9, 20, 0, 500000)
    assert json.loads(full["threat.technique.id"]) == ["T1204.002", "T1059.001"]
    assert full["message"] == "'Emotet' malware was detected"
    assert full["event.original"] == orjson.dumps(mde_alert()).decode()  # the NDJSON line, as it was

    assert (empty["m365_defender.alert.severity"], empty["event.category"], empty["event.action"]) == (
        "high",
        "threat",
        "suspiciousactivity",
    )
    assert (empty["host.name"], empty["user.name"], empty["file.name"]) == (None, None, None)
    assert json.loads(empty["m365_defender.alert.evidence"]) == []


def test_shapes_mix_and_every_container_gives_the_same_alerts(graph_docs, tmp_path):
    [page] = response_bodies(graph_docs / "security-list-alerts_v2.md")
    graph = json.loads(page)["value"][0]
    alerts = [mde_alert(), graph, mde_alert(id="da638700000000000002_7", alertCreationTime="2026-03-03T00:00:00Z")]
    expected_ids = [alert["id"] for alert in alerts]
    containers = {
        "mixed.ndjson": ndjson(alerts),
        "page.json": orjson.dumps({"@odata.context": "x", "value": alerts}, option=orjson.OPT_INDENT_2),
        "array.json": orjson.dumps(alerts),
        "pages.ndjson": ndjson([{"value": alerts[:1]}, {"value": alerts[1:]}]),
        "incidents.ndjson": ndjson(
            [{"@odata.type": "#microsoft.graph.security.incident", "id": "1", "alerts": alerts}]
        ),
    }
    for name, content in containers.items():
        batch = parse_file(write(tmp_path / name, content))
        assert batch.quarantined == [], name
        events = batch.events.to_pylist()
        assert [event["event.id"] for event in events] == expected_ids, name
        assert [event["host.name"] for event in events] == [
            "lt-revs-0042.council.local",
            "tempDns",
            "lt-revs-0042.council.local",
        ], name
    single = parse_file(write(tmp_path / "one.json", json.dumps(graph, indent=4)))
    assert single.events.column("event.id").to_pylist() == [GRAPH_ALERT_ID]


def test_gzip_by_magic_bytes_and_ids_are_the_alerts_own(tmp_path):
    content = ndjson([mde_alert(), mde_alert(id="other")])
    plain = parse_file(write(tmp_path / "alerts.ndjson", content)).events
    packed = parse_file(write(tmp_path / "alerts.bin", gzip.compress(content))).events
    assert packed.drop(["event.ingested"]).equals(plain.drop(["event.ingested"]))
    assert packed.column("event.id").to_pylist() == ["da638700000000000000_1234567890", "other"]
    assert set(plain.column("event.dataset").to_pylist()) == {DATASET}


def test_every_batch_has_all_columns_in_order(tmp_path):
    for content in (ndjson([mde_alert()]), b"", b"not json"):
        schema = parse_file(write(tmp_path / "x.json", content)).events.schema
        assert schema.names == list(COLUMNS)
        assert [field.type for field in schema] == list(COLUMNS.values())


# --- bad input -----------------------------------------------------------------------------------


def test_malformed_records_are_quarantined_with_reasons_and_the_rest_survive(tmp_path):
    path = write(
        tmp_path / "bad.ndjson",
        b"\n".join(
            [
                orjson.dumps(mde_alert()),
                b"{oops",
                orjson.dumps(mde_alert(id=None)),
                orjson.dumps(mde_alert(alertCreationTime=None)),
                orjson.dumps(mde_alert(alertCreationTime="last Tuesday")),
                orjson.dumps({"title": "no shape at all", "severity": "high"}),
                b"",
                b"17",
                orjson.dumps({"value": [mde_alert(id="in-a-page"), "not an alert"]}),
            ]
        ),
    )
    batch = parse_file(path)
    assert {q.origin: q.reason for q in batch.quarantined} == {
        f"{path}:2": "not valid JSON",
        f"{path}:3": "alert has no id",
        f"{path}:4": "alert has no creation time",
        f"{path}:5": "creation time is not a timestamp: last Tuesday",
        f"{path}:6": "neither a Graph security alert nor a Defender for Endpoint alert",
        f"{path}:8": "record is not a JSON object",
        f"{path}:9[1]": "record is not a JSON object",
    }
    assert all(q.source == SOURCE for q in batch.quarantined)
    assert batch.events.column("event.id").to_pylist() == ["da638700000000000000_1234567890", "in-a-page"]


def test_unreadable_files_are_quarantined_not_raised(tmp_path):
    broken = write(tmp_path / "broken", gzip.compress(ndjson([mde_alert()] * 50))[:30])
    for path in (broken, tmp_path / "missing.json"):
        batch = parse_file(path)
        assert batch.count == 0 and len(batch.quarantined) == 1
        assert batch.quarantined[0].reason.startswith("cannot read file")


# --- properties ----------------------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30)
upns = st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{2,10}\.gov\.uk", fullmatch=True)


@st.composite
def generated_alerts(draw):
    created = draw(times)
    graph = draw(st.booleans())
    alert_id = draw(st.from_regex(r"[a-z]{2}[0-9]{6,18}_-?[0-9]{1,10}", fullmatch=True))
    title, severity = draw(words), draw(st.sampled_from(["low", "medium", "high", "informational"]))
    category = draw(st.sampled_from(["Malware", "InitialAccess", "CredentialAccess", None]))
    host, upn = draw(st.from_regex(r"[a-z]{2,8}-[0-9]{1,4}", fullmatch=True)), draw(upns)
    stamp = created.isoformat().replace("+00:00", "Z")
    if graph:
        record = {
            "@odata.type": "#microsoft.graph.security.alert",
            "id": alert_id,
            "providerAlertId": alert_id,
            "serviceSource": "microsoftDefenderForOffice365",
            "createdDateTime": stamp,
            "title": title,
            "severity": severity,
            "category": category,
            "evidence": [
                {
                    "@odata.type": "#microsoft.graph.security.userEvidence",
                    "userAccount": {"userPrincipalName": upn.upper()},
                },
                {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": host},
            ],
        }
    else:
        record = mde_alert(
            id=alert_id,
            alertCreationTime=stamp,
            title=title,
            severity=severity.title(),
            category=category,
            computerDnsName=host,
            evidence=[{"entityType": "User", "userPrincipalName": upn}],
        )
    expected = {
        "event.id": alert_id,
        "@timestamp": created,
        "message": title,
        "m365_defender.alert.severity": severity,
        "host.name": host,
        "user.name": upn,
        "event.action": (category or "alert").lower(),
        "event.category": "malware" if category == "Malware" else "threat",
    }
    return record, expected


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(generated_alerts(), min_size=1, max_size=12), st.sampled_from(["ndjson", "page", "array"]))
def test_generated_alerts_parse_back_to_their_values(tmp_path, generated, container):
    records = [record for record, _ in generated]
    content = {"ndjson": ndjson(records), "page": orjson.dumps({"value": records}), "array": orjson.dumps(records)}[
        container
    ]
    batch = parse_file(write(tmp_path / "generated.json", content))
    assert batch.quarantined == []
    events = batch.events.to_pylist()
    for event, (_, expected) in zip(events, generated, strict=True):
        assert {key: event[key] for key in expected} == expected


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "value",
                    "alerts",
                    "id",
                    "createdDateTime",
                    "alertCreationTime",
                    "evidence",
                    "@odata.type",
                    "providerAlertId",
                    "machineId",
                    "mitreTechniques",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40) | junk.map(lambda value: json.dumps(value).encode()), max_size=6))
def test_junk_never_raises(tmp_path, lines):
    batch = parse_file(write(tmp_path / "junk", b"\n".join(lines)))
    assert isinstance(batch.events, pa.Table) and batch.events.schema.names == list(COLUMNS)
    assert all(q.reason and not q.reason.startswith("parser error") for q in batch.quarantined)
