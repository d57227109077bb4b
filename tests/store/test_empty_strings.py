"""An empty string in a sign-in is kept as an empty string, on both stores (issue 11, point 6).

Entra writes ``deviceDetail.deviceId: ""`` for a device it does not know, and SigmaHQ's "Sign-ins
by Unknown Devices" asks for exactly that (``DeviceDetail.deviceId: ''``). Stored as null, the
rule could never fire. The Sentinel training-lab export in ../shared/data
(``sign-in_adelete.csv``: 56 ``SigninLogs`` rows, every ``DeviceDetail`` holding
``"deviceId":""``) is the real case: 53 of its rows are successful single-factor sign-ins from
no trusted network on an unknown device, which is what the rule describes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from collectors.formats.signins import entra_signins, entra_signins_la
from detections import run_detections
from store import ElasticStore, EmbeddedStore

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv"
UNKNOWN_DEVICES = REPO / "rules/sigmahq/rules/cloud/azure/signin_logs/azure_ad_sign_ins_from_unknown_devices.yml"
RULE_ID = "4d136857-6a1a-432a-82fc-5dd497ee5e7c"
DEVICE_ID = "azure.signinlogs.properties.device_detail.device_id"
#: Rows of the sample that are successful (ResultType 0): all single-factor, none from a named network.
LAB_SUCCESSES = 53


def _matched(report) -> int:
    [result] = [result for result in report.rules if result.rule_id == RULE_ID]
    assert result.status == "succeeded", result.error
    return result.matched


def _detect(store, batch) -> int:
    store.append(batch.events)
    times = batch.events.column("@timestamp").to_pylist()
    report = run_detections(store, [UNKNOWN_DEVICES], min(times), max(times) + timedelta(days=1))
    assert report.problems == [], report.problems
    return _matched(report)


def test_the_lab_rows_keep_the_empty_device_id(shared_data):
    batch = entra_signins_la.parse_file(shared_data / SAMPLE)
    assert batch.count == 56
    assert set(batch.events.column(DEVICE_ID).to_pylist()) == {""}


def test_unknown_devices_fires_on_the_lab_rows_in_the_embedded_store(shared_data, tmp_path):
    batch = entra_signins_la.parse_file(shared_data / SAMPLE)
    assert _detect(EmbeddedStore(tmp_path), batch) == LAB_SUCCESSES


def test_unknown_devices_fires_on_the_lab_rows_in_elasticsearch(shared_data, tmp_path, elastic_url, es_prefix):
    """A keyword field indexes ``""`` as a term of its own, so the rule's ``''`` finds it there too."""
    client = Elasticsearch(elastic_url, request_timeout=60)
    try:
        batch = entra_signins_la.parse_file(shared_data / SAMPLE)
        assert _detect(ElasticStore(client, tmp_path, prefix=es_prefix), batch) == LAB_SUCCESSES
    finally:
        client.close()


def _graph_signin(index: int, device_id: str | None) -> dict:
    return {
        "id": f"empty-{index}",
        "createdDateTime": "2025-06-10T09:00:00Z",
        "userPrincipalName": f"user{index}@westbrook-dc.gov.uk",
        "ipAddress": "",
        "status": {"errorCode": 0, "failureReason": "", "additionalDetails": ""},
        "authenticationRequirement": "singleFactorAuthentication",
        "networkLocationDetails": [],
        "location": {"city": "", "state": "", "countryOrRegion": ""},
        "deviceDetail": {"deviceId": device_id, "operatingSystem": "Windows 10", "browser": "Edge", "trustType": ""},
    }


def test_a_graph_signin_keeps_its_empty_strings_and_only_the_unknown_device_fires(tmp_path):
    """deviceId "" (unknown device) fires; a known device's id and a missing deviceId do not."""
    lines = [_graph_signin(0, ""), _graph_signin(1, "4e7c8f61-aa63-4c2b-9b2c-1f0e5d3a7b21"), _graph_signin(2, None)]
    path = tmp_path / "signins.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    batch = entra_signins.parse_file(path)
    rows = {row["event.id"]: row for row in batch.events.to_pylist()}
    unknown = rows["empty-0"]
    assert unknown[DEVICE_ID] == ""
    assert unknown["azure.signinlogs.properties.device_detail.trust_type"] == ""
    assert unknown["azure.signinlogs.properties.status.failure_reason"] == ""
    assert unknown["source.geo.city_name"] == ""
    # "" where it can only mean "none": no address, no country to count
    assert unknown["source.ip"] is None and unknown["source.geo.country_iso_code"] is None
    assert rows["empty-2"][DEVICE_ID] is None
    assert _detect(EmbeddedStore(tmp_path / "store"), batch) == 1


@pytest.mark.parametrize("device_id", ["", None])
def test_elasticsearch_tells_an_empty_device_id_from_a_missing_one(tmp_path, elastic_url, es_prefix, device_id):
    client = Elasticsearch(elastic_url, request_timeout=60)
    try:
        path = tmp_path / "signin.ndjson"
        path.write_text(json.dumps(_graph_signin(0, device_id)) + "\n", encoding="utf-8")
        batch = entra_signins.parse_file(path)
        store = ElasticStore(client, tmp_path, prefix=es_prefix)
        assert _detect(store, batch) == (1 if device_id == "" else 0)
    finally:
        client.close()
