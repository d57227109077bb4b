"""The Graph sign-in parser (``collectors.formats.signins.entra_signins``, source ``entra-signins``).

Samples come from ../shared/data (see its README for sources and licences):

* microsoftgraph/microsoft-graph-docs, ``api-reference/{v1.0,beta}/api/signin-{get,list}.md``:
  Microsoft's example responses of ``GET /auditLogs/signIns``;
* SEKOIA-IO/intake-formats, ``Microsoft/microsoft-entraid-graphapi/tests/test_signin.json`` (one
  Graph ``signIn``) and ``Azure/azure-ad/tests/*.json`` (diagnostic-settings records, sign-ins and
  audit logs); SEKOIA's ``expected`` serves as an independent oracle for field values.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.signins.entra_signins import COLUMNS, DATASET, SOURCE, hash_missing_ids, parse_file
from collectors.formats.signins.signin_schema import SCHEMA

P = "azure.signinlogs.properties."
UTC = UTC
SIGNIN_FILES = [f"sign-in_activity{n}.json" for n in ("", 2, 3, 4, 5, 6, 7)] + ["empty_geolocalisation.json"]
AUDIT_FILES = ["add_user.json", "add_domain.json"]


def docs_response(shared_data: Path, version: str, page: str, example: int = 0) -> str:
    """The JSON body of the ``example``-th ``HTTP/1.1 200 OK`` response in a Graph docs page."""
    text = (shared_data / f"microsoft-graph-docs/api-reference/{version}/api/{page}.md").read_text()
    bodies = re.findall(r"HTTP/1\.1 200 OK\s*\n[^\n]*\n\s*\n(\{.*?)\n```", text, re.S)
    return bodies[example]


def sekoia(shared_data: Path, folder: str, name: str) -> tuple[str, dict]:
    case = json.loads((shared_data / "sekoia-intake-formats" / folder / "tests" / name).read_text())
    return case["input"]["message"], case["expected"]


def by_id(batch) -> dict[str, dict]:
    return {row["event.id"]: row for row in batch.events.to_pylist()}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- the accepted shapes, on Microsoft's and SEKOIA's samples ---------------------------------


def test_graph_page_with_next_link(shared_data, tmp_path):
    body = docs_response(shared_data, "beta", "signin-list", example=1)
    assert json.loads(body)["@odata.nextLink"]  # strict JSON: a page as Graph sends it
    batch = parse_file(write(tmp_path, "page.json", body))
    assert batch.quarantined == []
    (row,) = batch.events.to_pylist()
    assert row["event.id"] == "b01b1726-0147-425e-a7f7-21f252050400"
    assert row["@timestamp"] == datetime(2018, 11, 6, 18, 48, 33, 852714, tzinfo=UTC)
    assert row["user.name"] == "jdoe@contoso.com"
    assert row["user.domain"] == "contoso.com"
    assert row["user.full_name"] == "Jon Doe"
    assert row["source.ip"] == "131.107.159.37"
    assert (row["source.geo.country_iso_code"], row["source.geo.city_name"]) == ("US", "Redmond")
    assert row[P + "conditional_access_status"] == "applied"
    assert row[P + "authentication_requirement"] == "singleFactorAuthentication"
    assert row[P + "app_display_name"] == "Azure Portal"
    # "status": {} — no error code, so no outcome either way
    assert row[P + "status.error_code"] is None and row["event.outcome"] is None
    policies = json.loads(row[P + "applied_conditional_access_policies"])
    assert [p["displayName"] for p in policies] == ["MFA policy", "PipelineTest4"]
    assert json.loads(row[P + "authentication_details"])[0]["authenticationMethod"] == "Password"
    assert row["event.original"] == orjson.dumps(json.loads(body)["value"][0]).decode()


@pytest.mark.parametrize(
    ("version", "page", "example"), [("v1.0", "signin-get", 0), ("v1.0", "signin-list", 0), ("beta", "signin-get", 0)]
)
def test_documentation_samples_with_trailing_commas(shared_data, tmp_path, version, page, example):
    """Microsoft's own samples have a trailing comma; DuckDB's parser reads them, so do we."""
    body = docs_response(shared_data, version, page, example)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    batch = parse_file(write(tmp_path, "sample.json", body))
    assert batch.quarantined == []
    (row,) = batch.events.to_pylist()
    assert row["event.id"].startswith("66ea54eb-")
    assert row["@timestamp"] == datetime(2020, 3, 13, 19, 15, 41, 619583, tzinfo=UTC)
    assert row["user.name"] == "testaccount1@contoso.com"
    assert row["source.ip"] == "131.107.159.37"
    assert row["source.geo.region_name"] == "Washington"
    assert row[P + "status.error_code"] == 0 and row["event.outcome"] == "success"
    assert row[P + "conditional_access_status"] == "notApplied"
    assert row[P + "is_interactive"] is True
    assert row["azure.signinlogs.category"] == "SignInLogs"
    assert row[P + "device_detail.device_id"] == ""  # as in the sample: Sigma's `deviceId: ''` finds it
    assert row[P + "device_detail.browser"] == "Edge 80.0.361"


def test_single_signin_object_matches_sekoia(shared_data, tmp_path):
    message, expected = sekoia(shared_data, "Microsoft/microsoft-entraid-graphapi", "test_signin.json")
    batch = parse_file(write(tmp_path, "one.json", message))
    (row,) = batch.events.to_pylist()
    assert row["event.original"] == message  # one line: kept as it was
    assert row["@timestamp"] == at(expected["@timestamp"])
    assert row["source.ip"] == expected["source"]["ip"]
    geo = expected["source"]["geo"]
    assert row["source.geo.country_iso_code"] == geo["country_iso_code"]
    assert row["source.geo.city_name"] == geo["city_name"]
    assert row["source.geo.region_name"] == geo["region_name"]
    assert row["user.id"] == expected["user"]["id"]
    assert row["user.name"] == expected["user"]["email"].lower()
    assert row["azure.signinlogs.result_type"] == expected["event"]["code"]
    assert row[P + "status.failure_reason"] == expected["error"]["message"]
    assert row[P + "app_display_name"] == expected["service"]["name"]
    assert row[P + "correlation_id"] == expected["trace"]["id"]
    assert row["event.dataset"] == DATASET
    assert (row["event.kind"], row["event.category"], row["event.action"]) == ("event", "authentication", "sign-in")


def _graph_objects(shared_data) -> list[dict]:
    single, _ = sekoia(shared_data, "Microsoft/microsoft-entraid-graphapi", "test_signin.json")
    page = json.loads(docs_response(shared_data, "beta", "signin-list", example=1))
    return [json.loads(single), *page["value"]]


def test_ndjson_array_and_page_agree(shared_data, tmp_path):
    objects = _graph_objects(shared_data)
    ndjson = parse_file(write(tmp_path, "s.ndjson", "".join(json.dumps(o) + "\n" for o in objects)))
    array = parse_file(write(tmp_path, "s.json", json.dumps(objects, indent=2)))
    page = parse_file(write(tmp_path, "p.json", json.dumps({"@odata.context": "x", "value": objects}, indent=1)))
    assert ndjson.count == array.count == page.count == 2
    assert [q for b in (ndjson, array, page) for q in b.quarantined] == []
    for batch in (array, page):
        assert batch.events.drop(["event.ingested", "event.original"]).equals(
            ndjson.events.drop(["event.ingested", "event.original"])
        )
    assert ndjson.events.column("event.original").to_pylist() == [json.dumps(o) for o in objects]
    # out of a pretty-printed array: written compactly
    assert [json.loads(t) for t in array.events.column("event.original").to_pylist()] == objects
    assert not any("\n" in t or '": ' in t for t in array.events.column("event.original").to_pylist())


def test_diagnostic_records_match_sekoia(shared_data, tmp_path):
    cases = [sekoia(shared_data, "Azure/azure-ad", name) for name in SIGNIN_FILES]
    audits = [sekoia(shared_data, "Azure/azure-ad", name)[0] for name in AUDIT_FILES]
    lines = [message for message, _ in cases] + audits
    batch = parse_file(write(tmp_path, "insights.ndjson", "\n".join(lines) + "\n"))
    rows = batch.events.to_pylist()  # in file order (SEKOIA's anonymised samples share ids)
    assert len(rows) == len(cases)
    for row, (message, expected) in zip(rows, cases):
        record = json.loads(message)
        assert row["event.id"] == record["properties"]["id"]
        assert row["event.original"] == message
        assert row["@timestamp"] == at(record["properties"]["createdDateTime"])
        assert row["azure.signinlogs.category"] == expected["azuread"]["category"]
        assert row["azure.signinlogs.result_type"] == expected["error"]["code"]
        assert row["source.ip"] == record["properties"]["ipAddress"]
        if "outcome" in expected["event"]:
            assert row["event.outcome"] == expected["event"]["outcome"]
        if "geo" in expected.get("source", {}) and "city_name" in expected["source"]["geo"]:
            assert row["source.geo.city_name"] == expected["source"]["geo"]["city_name"]
        if "user" in expected:
            assert row["user.id"] == expected["user"]["id"]
            assert row["user.full_name"] == expected["user"]["full_name"]
    failed = rows[0]  # sign-in_activity.json
    assert failed[P + "status.error_code"] == 50158
    assert failed["azure.signinlogs.result_description"] == "External security challenge was not satisfied."
    assert failed[P + "conditional_access_status"] == "failure"
    assert failed["azure.tenant_id"] == "11111111-1111-1111-1111-555555555555"
    assert json.loads(failed[P + "network_location_details"])[0]["networkNames"] == ["IP corp"]
    service = rows[6]  # sign-in_activity7.json
    assert service["azure.signinlogs.category"] == "ServicePrincipalSignInLogs" and service["user.name"] is None
    assert {q.reason for q in batch.quarantined} == {'diagnostic record of category "AuditLogs", not a sign-in log'}
    assert [q.origin for q in batch.quarantined] == [f"{tmp_path}/insights.ndjson:{len(cases) + n}" for n in (1, 2)]


def test_records_wrapper_and_event_hub_lines(shared_data, tmp_path):
    records = [json.loads(sekoia(shared_data, "Azure/azure-ad", name)[0]) for name in SIGNIN_FILES]
    wrapper = parse_file(write(tmp_path, "PT1H.json", json.dumps({"records": records}, indent=2)))
    hub = parse_file(
        write(
            tmp_path, "capture.ndjson", "\n".join(json.dumps({"records": records[i : i + 3]}) for i in range(0, 8, 3))
        )
    )
    plain = parse_file(write(tmp_path, "plain.ndjson", "\n".join(json.dumps(r) for r in records)))
    assert wrapper.count == hub.count == plain.count == len(records)
    for batch in (wrapper, hub):
        assert batch.quarantined == []
        assert batch.events.drop(["event.ingested", "event.original"]).equals(
            plain.events.drop(["event.ingested", "event.original"])
        )


@pytest.mark.parametrize("with_array", [False, True])
def test_mixed_lines_each_read_by_its_shape(shared_data, tmp_path, with_array):
    """A bare sign-in first, then a diagnostic record, a Graph page (and an array) on lines.

    Without the array DuckDB's strict reader takes the whole file and hands back what it cannot
    use; with it, the file goes record by record. Either way every sign-in is read."""
    record = json.loads(sekoia(shared_data, "Azure/azure-ad", "sign-in_activity7.json")[0])
    array = [[signin(3), signin(4)]] if with_array else []
    lines = [signin(1), record, {"value": [signin(2)], "@odata.nextLink": "next"}, *array, signin(5)]
    batch = parse_file(write(tmp_path, "mixed.ndjson", "\n".join(json.dumps(v) for v in lines)))
    assert batch.quarantined == []
    ids = batch.events.column("event.id").to_pylist()
    expected = [1, 2, 3, 4, 5] if with_array else [1, 2, 5]
    assert sorted(ids) == sorted([signin(n)["id"] for n in expected] + [record["properties"]["id"]])
    originals = dict(zip(ids, batch.events.column("event.original").to_pylist()))
    assert originals[record["properties"]["id"]] == json.dumps(record)  # the line, as it was
    assert originals[signin(2)["id"]] == orjson.dumps(signin(2)).decode()  # out of a page: compact


# --- files as they come -------------------------------------------------------------------


def test_gzip_is_read_by_content_not_name(shared_data, tmp_path):
    text = "".join(json.dumps(o) + "\n" for o in _graph_objects(shared_data))
    plain = parse_file(write(tmp_path, "s.ndjson", text))
    zipped = parse_file(write(tmp_path, "s.ndjson", gzip.compress(text.encode())))  # no .gz suffix
    document = parse_file(
        write(tmp_path, "d.json.gz", gzip.compress(json.dumps({"value": _graph_objects(shared_data)}).encode()))
    )
    assert zipped.count == document.count == 2
    assert zipped.events.drop(["event.ingested"]).equals(plain.events.drop(["event.ingested"]))


def test_truncated_gzip_keeps_what_decompressed(tmp_path):
    lines = [json.dumps(signin(i)) for i in range(2000)]
    packed = gzip.compress("\n".join(lines).encode())
    batch = parse_file(write(tmp_path, "cut.gz", packed[: len(packed) // 2]))
    assert 0 < batch.count < 2000
    assert any(q.reason.startswith("gzip stream damaged") for q in batch.quarantined)
    # the line cut in half is quarantined, not lost
    assert any(q.reason.startswith("not valid JSON") for q in batch.quarantined)


def test_empty_and_blank_files(tmp_path):
    for content in (b"", b"\n\n  \n"):
        batch = parse_file(write(tmp_path, "empty.ndjson", content))
        assert batch.count == 0 and batch.quarantined == []
        assert batch.events.schema == SCHEMA


def test_binary_junk_never_raises(tmp_path):
    junk = bytes(range(256)) * 64 + os.urandom(8192)
    batch = parse_file(write(tmp_path, "junk.bin", junk))
    assert batch.count == 0
    assert batch.quarantined
    assert all(q.source == SOURCE and q.reason for q in batch.quarantined)


def test_broken_document_is_one_quarantined_record(tmp_path):
    text = '{\n  "value": [\n    {"id": "a", "createdDateTime": "2024-01-01T00:00:00Z"\n'
    batch = parse_file(write(tmp_path, "broken.json", text))
    assert batch.count == 0
    (only,) = batch.quarantined
    assert only.reason.startswith("not a JSON document") and only.record == text
    assert only.origin == str(tmp_path / "broken.json")


# --- bad input: quarantined with the reason, the rest kept --------------------------------


def test_malformed_lines_are_quarantined_and_the_rest_survive(tmp_path):
    good = [signin(i) for i in range(5)]
    lines = [
        json.dumps(good[0]),
        "this is not json",
        json.dumps(good[1]),
        "[1, 2]",
        json.dumps({**good[2], "createdDateTime": "yesterday"}),
        json.dumps({"id": "x"}),
        "",
        json.dumps(good[3]),
        json.dumps(good[4])[:-1],
    ]
    content = "\n".join(lines).encode() + b"\n" + b'{"id": "\xff\xfe"}\n'
    batch = parse_file(write(tmp_path, "mixed.ndjson", content))
    assert sorted(by_id(batch)) == sorted([good[0]["id"], good[1]["id"], good[3]["id"]])
    reasons = {int(q.origin.rsplit(":", 1)[1]): q.reason for q in batch.quarantined}
    assert reasons[2].startswith("not valid JSON: invalid literal")
    assert reasons[4] == "a JSON array, not an object"
    assert reasons[5] == 'createdDateTime "yesterday" is not a timestamp'
    assert reasons[6] == "no createdDateTime"
    assert reasons[9].startswith("not valid JSON")
    assert reasons[10] == "not valid UTF-8: byte 0xff at column 9"
    assert set(reasons) == {2, 4, 5, 6, 9, 10}  # line 7 is blank: no record
    assert {q.record for q in batch.quarantined} >= {"this is not json", "[1, 2]", json.dumps({"id": "x"})}
    # a bad line does not change how the good ones around it read
    clean = parse_file(write(tmp_path, "clean.ndjson", "\n".join(json.dumps(g) for g in (good[0], good[1], good[3]))))
    assert batch.events.drop(["event.ingested"]).equals(clean.events.drop(["event.ingested"]))


def test_event_ids_are_deterministic(tmp_path):
    with_ids = [signin(i) for i in range(3)]
    without = {k: v for k, v in signin(9).items() if k != "id"}
    path = write(tmp_path, "ids.ndjson", "\n".join(json.dumps(s) for s in [*with_ids, without]) + "\n")
    first, second = parse_file(path), parse_file(path)
    ids = first.events.column("event.id").to_pylist()
    assert ids == second.events.column("event.id").to_pylist()
    assert ids[:3] == [s["id"] for s in with_ids]
    assert ids[3] == hashlib.sha256(json.dumps(without).encode()).hexdigest()


def test_schema_is_fixed_whatever_the_input(shared_data, tmp_path):
    sparse = parse_file(write(tmp_path, "sparse.ndjson", '{"createdDateTime": "2024-05-01T10:00:00Z"}\n'))
    full = parse_file(write(tmp_path, "full.ndjson", json.dumps(signin(1))))
    assert sparse.events.schema == full.events.schema == SCHEMA
    assert list(COLUMNS) == SCHEMA.names
    (row,) = sparse.events.to_pylist()
    assert row["event.id"] == hashlib.sha256(b'{"createdDateTime": "2024-05-01T10:00:00Z"}').hexdigest()
    assert row["event.ingested"] is not None and row["event.outcome"] is None


@pytest.mark.parametrize(
    ("fields", "category"),
    [
        ({"signInEventTypes": ["nonInteractiveUser"], "isInteractive": True}, "NonInteractiveUserSignInLogs"),
        ({"signInEventTypes": ["servicePrincipal"]}, "ServicePrincipalSignInLogs"),
        ({"signInEventTypes": ["managedIdentity"]}, "ManagedIdentitySignInLogs"),
        ({"signInEventTypes": ["interactiveUser"]}, "SignInLogs"),
        ({"isInteractive": True}, "SignInLogs"),
        ({"isInteractive": False}, "NonInteractiveUserSignInLogs"),
        ({"isInteractive": False, "userId": None, "servicePrincipalId": "sp-1"}, "ServicePrincipalSignInLogs"),
        ({}, None),
    ],
)
def test_category_from_event_types_or_interactivity(tmp_path, fields, category):
    base = {k: v for k, v in signin(1).items() if k not in ("signInEventTypes", "isInteractive")}
    batch = parse_file(write(tmp_path, "c.ndjson", json.dumps({**base, **fields})))
    assert batch.events.column("azure.signinlogs.category").to_pylist() == [category]


# --- properties -----------------------------------------------------------------------------


def signin(index: int) -> dict:
    """A plausible Graph ``signIn``, different for each ``index``."""
    return {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "createdDateTime": (datetime(2025, 3, 1, 8, tzinfo=UTC) + timedelta(seconds=index))
        .isoformat()
        .replace("+00:00", "Z"),
        "userPrincipalName": f"User{index}@Council.gov.uk",
        "userId": f"u-{index}",
        "ipAddress": f"203.0.113.{index % 250}",
        "status": {"errorCode": 0 if index % 3 else 50126, "failureReason": None if index % 3 else "Invalid password"},
        "location": {"city": "Maidstone", "state": "Kent", "countryOrRegion": "GB"},
        "isInteractive": True,
        "signInEventTypes": ["interactiveUser"],
    }


_NAME = st.text(
    st.characters(codec="latin-1", categories=["Lu", "Ll", "Nd"]) | st.sampled_from("._-"), min_size=1, max_size=20
)
_TEXT = st.one_of(st.none(), st.text(max_size=30))
_MOMENT = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC))


@st.composite
def signins(draw, index: int = 0) -> dict:
    """A Graph ``signIn`` with any values where its fields are, and some fields left out."""
    moment = draw(_MOMENT)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + draw(st.sampled_from(["0Z", "Z", "0+00:00"]))
    upn = draw(st.one_of(st.none(), st.builds(lambda a, b: f"{a}@{b}", _NAME, _NAME)))
    value = {
        "id": f"id-{index}-{draw(st.uuids())}",
        "createdDateTime": stamp,
        "userPrincipalName": upn,
        "userId": draw(_TEXT),
        "userDisplayName": draw(_TEXT),
        "ipAddress": draw(st.one_of(st.none(), st.ip_addresses().map(str))),
        "userAgent": draw(_TEXT),
        "homeTenantId": draw(_TEXT),
        "appId": draw(_TEXT),
        "appDisplayName": draw(_TEXT),
        "resourceDisplayName": draw(_TEXT),
        "clientAppUsed": draw(_TEXT),
        "conditionalAccessStatus": draw(st.sampled_from(["success", "failure", "notApplied", "unknownFutureValue"])),
        "authenticationRequirement": draw(_TEXT),
        "authenticationProtocol": draw(_TEXT),
        "isInteractive": draw(st.one_of(st.none(), st.booleans())),
        "riskState": draw(_TEXT),
        "riskLevelDuringSignIn": draw(_TEXT),
        "riskLevelAggregated": draw(_TEXT),
        "correlationId": draw(_TEXT),
        "status": {
            "errorCode": draw(st.one_of(st.none(), st.integers(0, 2**31 - 1))),
            "failureReason": draw(_TEXT),
            "additionalDetails": draw(_TEXT),
        },
        "location": {"city": draw(_TEXT), "state": draw(_TEXT), "countryOrRegion": draw(_TEXT)},
        "deviceDetail": {
            "deviceId": draw(_TEXT),
            "displayName": draw(_TEXT),
            "operatingSystem": draw(_TEXT),
            "browser": draw(_TEXT),
            "isCompliant": draw(st.one_of(st.none(), st.booleans())),
            "isManaged": draw(st.one_of(st.none(), st.booleans())),
            "trustType": draw(_TEXT),
        },
        "appliedConditionalAccessPolicies": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "id": st.uuids().map(str),
                        "displayName": st.text(max_size=10),
                        "result": st.sampled_from(["success", "notApplied"]),
                    }
                ),
                max_size=3,
            )
        ),
        "networkLocationDetails": draw(
            st.lists(st.fixed_dictionaries({"networkType": st.text(max_size=8)}), max_size=2)
        ),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(k for k in value if k not in ("id", "createdDateTime")))))
    return {k: v for k, v in value.items() if k not in dropped}


def expected_columns(s: dict) -> dict:
    """What the dataset's columns hold for the Graph ``signIn`` ``s`` (docs/events.md): an empty
    string stays one, except where it can only mean "none" (``absent``: id, address, user,
    country)."""
    text = lambda v: v  # noqa: E731
    absent = lambda v: None if v in (None, "") else v  # noqa: E731
    status, place, device = s.get("status", {}), s.get("location", {}), s.get("deviceDetail", {})
    code = status.get("errorCode")
    upn = absent(s.get("userPrincipalName"))
    moment = datetime.fromisoformat(s["createdDateTime"][:26]).replace(tzinfo=UTC)
    return {
        "@timestamp": moment,
        "event.outcome": None if code is None else ("success" if code == 0 else "failure"),
        "user.name": upn.lower() if upn else None,
        "user.domain": upn.rsplit("@", 1)[1].lower() if upn else None,
        "user.id": text(s.get("userId")),
        "user.full_name": text(s.get("userDisplayName")),
        "source.ip": absent(s.get("ipAddress")),
        "source.geo.country_iso_code": absent(place.get("countryOrRegion")),
        "source.geo.city_name": text(place.get("city")),
        "source.geo.region_name": text(place.get("state")),
        "user_agent.original": text(s.get("userAgent")),
        "azure.tenant_id": absent(s.get("homeTenantId")),
        "azure.signinlogs.result_type": None if code is None else str(code),
        "azure.signinlogs.result_description": text(status.get("failureReason")),
        P + "status.error_code": code,
        P + "status.failure_reason": text(status.get("failureReason")),
        P + "status.additional_details": text(status.get("additionalDetails")),
        P + "app_id": text(s.get("appId")),
        P + "app_display_name": text(s.get("appDisplayName")),
        P + "resource_display_name": text(s.get("resourceDisplayName")),
        P + "client_app_used": text(s.get("clientAppUsed")),
        P + "conditional_access_status": text(s.get("conditionalAccessStatus")),
        P + "authentication_requirement": text(s.get("authenticationRequirement")),
        P + "authentication_protocol": text(s.get("authenticationProtocol")),
        P + "is_interactive": s.get("isInteractive"),
        P + "risk_state": text(s.get("riskState")),
        P + "risk_level_during_signin": text(s.get("riskLevelDuringSignIn")),
        P + "risk_level_aggregated": text(s.get("riskLevelAggregated")),
        P + "device_detail.device_id": text(device.get("deviceId")),
        P + "device_detail.display_name": text(device.get("displayName")),
        P + "device_detail.operating_system": text(device.get("operatingSystem")),
        P + "device_detail.browser": text(device.get("browser")),
        P + "device_detail.is_compliant": device.get("isCompliant"),
        P + "device_detail.is_managed": device.get("isManaged"),
        P + "device_detail.trust_type": text(device.get("trustType")),
        P + "correlation_id": text(s.get("correlationId")),
    }


def json_columns(s: dict) -> dict:
    return {
        P + "applied_conditional_access_policies": s.get("appliedConditionalAccessPolicies"),
        P + "network_location_details": s.get("networkLocationDetails"),
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    st.lists(st.integers(), min_size=1, max_size=6).flatmap(
        lambda keys: st.tuples(*[signins(i) for i in range(len(keys))])
    ),
    st.sampled_from(["ndjson", "array", "page"]),
)
def test_generated_signins_land_in_their_columns(tmp_path, generated, form):
    generated = list(generated)
    if form == "ndjson":
        content = "".join(json.dumps(s) + "\n" for s in generated)
    elif form == "array":
        content = json.dumps(generated, indent=1)
    else:
        content = json.dumps({"@odata.nextLink": "https://graph.microsoft.com/next", "value": generated})
    batch = parse_file(write(tmp_path, f"gen.{form}", content))
    assert batch.quarantined == []
    assert batch.events.schema == SCHEMA
    rows = by_id(batch)
    assert len(rows) == len(generated)
    for s in generated:
        row = rows[s["id"]]
        assert {k: row[k] for k in expected_columns(s)} == expected_columns(s)
        for column, value in json_columns(s).items():
            assert (None if row[column] is None else json.loads(row[column])) == value
        if form == "ndjson":
            assert row["event.original"] == json.dumps(s)  # the line as it was
        else:  # taken out of a document: the same record, written compactly
            assert json.loads(row["event.original"]) == s and "\n" not in row["event.original"]


_JUNK = st.one_of(
    st.text(st.characters(exclude_characters="\n\r"), min_size=1, max_size=60),
    st.binary(min_size=1, max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_JUNK, min_size=1, max_size=8))
def test_junk_lines_never_raise_and_are_quarantined(tmp_path, junk):
    good = json.dumps(signin(7))
    lines = [j.encode("utf-8", "surrogatepass") if isinstance(j, str) else j for j in junk]
    path = write(tmp_path, "junk.ndjson", b"\n".join([good.encode(), *lines, good.encode()]) + b"\n")
    batch = parse_file(path)
    assert batch.events.column("event.id").to_pylist() == [signin(7)["id"]] * 2
    quarantined = {int(q.origin.rsplit(":", 1)[1]) for q in batch.quarantined}
    for number, line in enumerate(lines, start=2):
        if not line.strip() or _empty_container(line):
            continue  # a blank line, or "[]", holds no record: nothing to keep
        assert number in quarantined, line
    assert all(q.reason and q.source == SOURCE for q in batch.quarantined)


def _empty_container(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return False
    return value == [] or (isinstance(value, dict) and any(value.get(k) == [] for k in ("value", "records", "tables")))


def test_large_file_takes_the_fast_path_and_matches_the_general_one(tmp_path):
    """DuckDB reads a clean NDJSON file itself; one bad line sends it record by record. Both
    ways give the same events."""
    objects = [signin(i) for i in range(3000)]
    clean = parse_file(write(tmp_path, "clean.ndjson", "".join(json.dumps(o) + "\n" for o in objects)))
    dirty = parse_file(write(tmp_path, "dirty.ndjson", "".join(json.dumps(o) + "\n" for o in objects) + "oops\n"))
    assert len(dirty.quarantined) == 1
    assert clean.events.drop(["event.ingested"]).equals(dirty.events.drop(["event.ingested"]))
    assert isinstance(clean.events.column("event.original"), pa.ChunkedArray)


@pytest.mark.parametrize("text_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_missing_ids_are_hashed_from_each_rows_text_across_batches(text_type):
    # Parsers hand over tables of many batches, with event.original as any of these types
    # (string_view when a file is read in place); short texts are held inside their views.
    texts = [f"record {i};" * (i % 5) for i in range(30)]
    ids = [None if i % 4 else f"id-{i}" for i in range(30)]
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                {
                    "event.id": pa.array(ids[k : k + 7], pa.string()),
                    "event.original": pa.array(texts[k : k + 7], text_type),
                }
            )
            for k in range(0, 30, 7)
        ]
    )
    expected = [known or hashlib.sha256(text.encode()).hexdigest() for known, text in zip(ids, texts)]
    assert hash_missing_ids(table).column("event.id").to_pylist() == expected
