"""The Log Analytics ``SigninLogs`` parser (``collectors.formats.signins.entra_signins_la``, ``entra-signins-la``).

Sample: ``azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv`` in ../shared/data,
a portal CSV export of 56 ``SigninLogs`` rows (a copy, in CraigRennich/DCSA-Security-Champs-
Sentinel-Workshop, of files from Azure/Azure-Sentinel; see the data README). The JSON forms in
these tests are built from that CSV, as the query API and ``az`` would write the same rows.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.signins import entra_signins
from collectors.formats.signins.entra_signins_la import SOURCE, parse_file
from collectors.formats.signins.signin_schema import SCHEMA, SQL_COLUMNS
from tests.parsers.test_parse_entra_signins import expected_columns, json_columns, signins

P = "azure.signinlogs.properties."
UTC = UTC
SAMPLE = "azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv"
DYNAMIC = {"ConditionalAccessPolicies", "DeviceDetail", "LocationDetails", "MfaDetail", "Status"}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def sample_rows(shared_data: Path) -> tuple[list[str], list[list[str]]]:
    with open(shared_data / SAMPLE, encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def api_columns(header: list[str]) -> list[str]:
    """Column names as the query API has them, without the portal's suffixes."""
    names = [name.replace(" [UTC]", "") for name in header]
    return [name[: -len("_dynamic")] if name.endswith("_dynamic") else name for name in names]


def as_objects(header: list[str], rows: list[list[str]]) -> list[dict]:
    """The rows keyed by column, the way ``az monitor log-analytics query`` writes them."""
    names = api_columns(header)
    return [{n: v for n, v in zip(names, row) if not n.endswith("_string")} for row in rows]


def shared(table) -> list[dict]:
    return table.drop(["event.ingested", "event.original"]).to_pylist()


# --- the sample, in every accepted form ------------------------------------------------------


def test_portal_csv_export(shared_data):
    batch = parse_file(shared_data / SAMPLE)
    assert batch.quarantined == []
    assert batch.count == 56
    assert batch.events.schema == SCHEMA
    rows = {r["event.id"]: r for r in batch.events.to_pylist()}
    first = rows["cfb68155-70f5-4e28-b046-0a3a7086c401"]
    assert first["@timestamp"] == datetime(2021, 4, 28, 14, 8, 45, 221000, tzinfo=UTC)
    assert first["user.name"] == "adelev@m365x816222.onmicrosoft.com"
    assert first["user.domain"] == "m365x816222.onmicrosoft.com"
    assert first["user.full_name"] == "Adele Vance"
    assert first["source.ip"] == "175.45.176.99"
    assert (first["source.geo.country_iso_code"], first["source.geo.city_name"], first["source.geo.region_name"]) == (
        "IL",
        "Azor",
        "Tel Aviv",
    )
    assert first[P + "status.error_code"] == 0 and first["event.outcome"] == "success"
    assert first[P + "conditional_access_status"] == "notApplied"
    assert first[P + "is_interactive"] is True
    assert first[P + "device_detail.browser"] == "Edge 90.0.818"
    assert first["azure.signinlogs.category"] == "SignInLogs"
    # the Entra tenant, not the Log Analytics workspace in TenantId
    assert first["azure.tenant_id"] == "2ad3fc79-1859-42fa-9011-6f8df2251b22"
    # the pretty-printed JSON cell is stored compact
    assert first[P + "authentication_details"].startswith(
        '[{"authenticationStepDateTime":"2021-04-28T14:08:45.2213421+00:00"'
    )
    # event.original is the CSV record as it is in the file, cells spanning lines and all
    original = first["event.original"]
    assert original.startswith("7c759f10-811c-4db8-ad6d-f07d8ae3f8ea,Azure AD,") and "\r\n" in original
    assert next(csv.reader(io.StringIO(original, newline="")))[33] == first["event.id"]
    failed = rows["d8acd976-4765-4bb7-805b-9d110f3d5a01"]
    assert failed[P + "status.error_code"] == 16000 and failed["event.outcome"] == "failure"
    assert failed["azure.signinlogs.result_type"] == "16000"
    assert failed["azure.signinlogs.result_description"] == failed[P + "status.failure_reason"] == "Other"
    assert sorted(r[P + "status.error_code"] for r in rows.values())[-3:] == [16000, 16000, 50058]


def test_json_forms_of_the_sample_agree_with_its_csv(shared_data, tmp_path):
    header, rows = sample_rows(shared_data)
    objects = as_objects(header, rows)
    from_csv = parse_file(shared_data / SAMPLE)
    ndjson = parse_file(write(tmp_path, "rows.ndjson", "".join(json.dumps(o) + "\n" for o in objects)))
    array = parse_file(write(tmp_path, "rows.json", json.dumps(objects, indent=2)))
    columns = [n for n in api_columns(header) if not n.endswith("_string")]
    cells = [[o[n] for n in columns] for o in objects]
    api = {
        "tables": [
            {"name": "PrimaryResult", "columns": [{"name": n, "type": "string"} for n in columns], "rows": cells}
        ]
    }
    response = parse_file(write(tmp_path, "response.json", json.dumps(api)))
    for batch in (ndjson, array, response):
        assert batch.quarantined == []
        assert shared(batch.events) == shared(from_csv.events)
    assert ndjson.events.column("event.original").to_pylist() == [json.dumps(o) for o in objects]
    # dynamic columns as objects rather than JSON text read the same
    nested = [{k: (json.loads(v) if k in DYNAMIC and v else v) for k, v in o.items()} for o in objects]
    objects_form = parse_file(write(tmp_path, "nested.ndjson", "\n".join(json.dumps(o) for o in nested)))
    assert shared(objects_form.events) == shared(from_csv.events)


def test_gzip_csv_and_json(shared_data, tmp_path):
    plain = parse_file(shared_data / SAMPLE)
    zipped = parse_file(write(tmp_path, "export.csv", gzip.compress((shared_data / SAMPLE).read_bytes())))
    assert zipped.quarantined == [] and zipped.count == 56
    assert zipped.events.drop(["event.ingested"]).equals(plain.events.drop(["event.ingested"]))
    header, rows = sample_rows(shared_data)
    text = "\n".join(json.dumps(o) for o in as_objects(header, rows))
    assert shared(parse_file(write(tmp_path, "rows", gzip.compress(text.encode()))).events) == shared(plain.events)


def test_empty_and_header_only(shared_data, tmp_path):
    header_line = (shared_data / SAMPLE).read_bytes().split(b"\r\n", 1)[0] + b"\r\n"
    for content in (b"", b"\r\n", header_line):
        batch = parse_file(write(tmp_path, "e.csv", content))
        assert batch.count == 0 and batch.quarantined == [] and batch.events.schema == SCHEMA


# --- bad input ---------------------------------------------------------------------------------


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def test_malformed_rows_are_quarantined_with_their_line(shared_data, tmp_path):
    header, rows = sample_rows(shared_data)
    good = rows[:4]
    bad_time = list(rows[4])
    bad_time[header.index("CreatedDateTime [UTC]")] = "the day before yesterday"
    no_time = list(rows[5])
    no_time[header.index("CreatedDateTime [UTC]")] = ""
    text = _csv_text(header, [good[0], good[1]])
    text += "short,row,with,five,cells\r\n"
    text += _csv_text(header, [good[2] + ["an extra cell"], bad_time, good[3], no_time]).split("\r\n", 1)[1]
    path = write(tmp_path, "mixed.csv", "\ufeff" + text)
    batch = parse_file(path)
    assert sorted(batch.events.column("event.id").to_pylist()) == sorted(r[33] for r in (good[0], good[1], good[3]))
    lines = text.split("\r\n")

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, start=1) if line.startswith(fragment))

    found = {q.origin: q.reason for q in batch.quarantined}
    assert found[f"{path}:{line_of('short,row')}"] == "row has 5 cells, the header has 71"
    extra_line = [n for n, line in enumerate(lines, start=1) if line.endswith("an extra cell")]
    assert extra_line  # the row's last line; it starts where the record starts:
    records = {q.reason: q for q in batch.quarantined}
    assert records["row has 72 cells, the header has 71"].record.endswith("an extra cell")
    assert records["time 'the day before yesterday' is not a timestamp"].record.startswith(bad_time[0])
    assert "no TimeGenerated or CreatedDateTime" in records
    assert len(batch.quarantined) == 4
    # every quarantined CSV record is the text of the file at the line it names
    for q in batch.quarantined:
        line = int(q.origin.rsplit(":", 1)[1])
        assert "\r\n".join(lines[line - 1 :]).startswith(q.record)


def test_invalid_utf8_row_is_quarantined(shared_data, tmp_path):
    header, rows = sample_rows(shared_data)
    text = _csv_text(header, rows[:2]).encode()
    broken = _csv_text(header, [rows[2]]).split("\r\n", 1)[1].encode().replace(b"Adele Vance", b"Ad\xffle")
    batch = parse_file(
        write(tmp_path, "latin.csv", text + broken + _csv_text(header, [rows[3]]).split("\r\n", 1)[1].encode())
    )
    assert batch.count == 3
    (bad,) = batch.quarantined
    column = broken.index(b"\xff") + 1
    assert bad.reason == f"not valid UTF-8: byte 0xff at column {column}"
    assert bad.origin.endswith(":" + str(text.count(b"\n") + 1))


def test_event_ids_are_deterministic(shared_data, tmp_path):
    header, rows = sample_rows(shared_data)
    anonymous = list(rows[0])
    anonymous[header.index("Id")] = ""
    path = write(tmp_path, "ids.csv", _csv_text(header, [rows[1], anonymous]))
    first, second = parse_file(path), parse_file(path)
    assert first.events.column("event.id").equals(second.events.column("event.id"))
    ids = first.events.column("event.id").to_pylist()
    assert ids[0] == rows[1][header.index("Id")]
    assert ids[1] == hashlib.sha256(first.events.column("event.original")[1].as_py().encode()).hexdigest()


def test_binary_junk_never_raises(tmp_path):
    for content in (bytes(range(256)) * 40, b"TenantId,Id\r\n" + bytes(range(1, 256)) * 10, b'{"tables": [}'):
        batch = parse_file(write(tmp_path, "junk", content))
        assert batch.count == 0
        assert batch.quarantined and all(q.source == SOURCE and q.reason for q in batch.quarantined)


# --- Graph and Log Analytics forms of one sign-in ------------------------------------------------


def _category(s: dict) -> str:
    if s.get("isInteractive") is True:
        return "SignInLogs"
    return "NonInteractiveUserSignInLogs" if s.get("isInteractive") is False else ""


def la_row(s: dict) -> dict:
    """The Graph ``signIn`` ``s`` as the ``SigninLogs`` row Log Analytics stores for it."""
    text = lambda v: "" if v is None else v  # noqa: E731
    status, place, device = s.get("status", {}), s.get("location", {}), s.get("deviceDetail", {})
    interactive = s.get("isInteractive")
    return {
        "TimeGenerated": s["createdDateTime"],
        "Id": s["id"],
        "Category": _category(s),
        "ResultType": "" if status.get("errorCode") is None else str(status["errorCode"]),
        "ResultDescription": text(status.get("failureReason")),
        "Status": json.dumps({k: v for k, v in status.items() if v is not None}) if "status" in s else "",
        "UserPrincipalName": text(s.get("userPrincipalName")),
        "UserId": text(s.get("userId")),
        "UserDisplayName": text(s.get("userDisplayName")),
        "IPAddress": text(s.get("ipAddress")),
        "Location": text(place.get("countryOrRegion")),
        "LocationDetails": json.dumps(place) if "location" in s else "",
        "UserAgent": text(s.get("userAgent")),
        "HomeTenantId": text(s.get("homeTenantId")),
        "TenantId": "a41c7e05-93d2-4b8e-8f6a-2c0d71e9b5f3",  # the workspace's id, never the tenant's
        "AppId": text(s.get("appId")),
        "AppDisplayName": text(s.get("appDisplayName")),
        "ResourceDisplayName": text(s.get("resourceDisplayName")),
        "ClientAppUsed": text(s.get("clientAppUsed")),
        "ConditionalAccessStatus": text(s.get("conditionalAccessStatus")),
        "AuthenticationRequirement": text(s.get("authenticationRequirement")),
        "AuthenticationProtocol": text(s.get("authenticationProtocol")),
        "IsInteractive": "" if interactive is None else ("TRUE" if interactive else "FALSE"),
        "RiskState": text(s.get("riskState")),
        "RiskLevelDuringSignIn": text(s.get("riskLevelDuringSignIn")),
        "RiskLevelAggregated": text(s.get("riskLevelAggregated")),
        "DeviceDetail": json.dumps(device) if "deviceDetail" in s else "",
        "ConditionalAccessPolicies": json.dumps(s["appliedConditionalAccessPolicies"])
        if "appliedConditionalAccessPolicies" in s
        else "",
        "NetworkLocationDetails": json.dumps(s["networkLocationDetails"]) if "networkLocationDetails" in s else "",
        "CorrelationId": text(s.get("correlationId")),
    }


def _comparable(row: dict) -> dict:
    out = {
        k: row[k]
        for k in SQL_COLUMNS
        if k not in ("event.ingested",) and not k.startswith(P + "applied") and not k.endswith("_details")
    }
    for key in (
        P + "applied_conditional_access_policies",
        P + "network_location_details",
        P + "authentication_details",
    ):
        out[key] = None if row[key] is None else json.loads(row[key])
    return out


def _portal_time(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp[:26]).replace(tzinfo=UTC)
    hour = moment.hour % 12 or 12
    return (
        f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S}."
        f"{moment.microsecond // 1000:03d} {'AM' if moment.hour < 12 else 'PM'}"
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    st.lists(st.integers(), min_size=1, max_size=5).flatmap(
        lambda keys: st.tuples(*[signins(i) for i in range(len(keys))])
    )
)
def test_graph_and_log_analytics_forms_agree(tmp_path, generated):
    # the portal writes milliseconds; give Graph the same instant
    generated = [{**s, "createdDateTime": s["createdDateTime"][:23] + "0000Z"} for s in generated]
    graph = entra_signins.parse_file(write(tmp_path, "graph.ndjson", "\n".join(json.dumps(s) for s in generated)))
    rows = [la_row(s) for s in generated]
    la_json = parse_file(write(tmp_path, "la.ndjson", "\n".join(json.dumps(r) for r in rows)))
    header = list(rows[0])
    header[header.index("TimeGenerated")] = "CreatedDateTime [UTC]"
    header = [f"{h}_dynamic" if h in DYNAMIC else h for h in header]
    cells = [[_portal_time(r["TimeGenerated"]), *list(r.values())[1:]] for r in rows]
    la_csv = parse_file(write(tmp_path, "la.csv", "\ufeff" + _csv_text(header, cells)))
    for batch in (graph, la_json, la_csv):
        assert batch.quarantined == []
    expected = [_as_log_analytics_keeps_it(_comparable(r)) for r in graph.events.to_pylist()]
    assert [_comparable(r) for r in la_json.events.to_pylist()] == expected
    assert [_comparable(r) for r in la_csv.events.to_pylist()] == expected
    # and both are what the Graph sign-in says (docs/events.md)
    for s, row in zip(generated, la_csv.events.to_pylist()):
        wanted = _as_log_analytics_keeps_it(expected_columns(s))
        assert {k: row[k] for k in wanted} == wanted
        for column, value in json_columns(s).items():
            assert (None if row[column] is None else json.loads(row[column])) == value


#: Columns filled from inside a dynamic column (Graph's own JSON, where ``""`` is a value).
_FROM_DYNAMIC = ("source.geo.city_name", "source.geo.region_name", "azure.signinlogs.result_description")


def _as_log_analytics_keeps_it(row: dict) -> dict:
    """A Graph sign-in's columns as its Log Analytics row can hold them: a string column there is
    never null, so Graph's null and ``""`` are one ``""``, read as absent; inside the dynamic
    columns the JSON is Graph's and an empty string stays one."""

    def dynamic(name: str) -> bool:
        return name in _FROM_DYNAMIC or name.startswith((P + "status.", P + "device_detail."))

    return {k: None if v == "" and not dynamic(k) else v for k, v in row.items()}


_CELL = st.text(st.characters(exclude_characters='"\r\n'), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CELL, min_size=1, max_size=6))
def test_junk_rows_never_raise_and_are_quarantined(shared_data, tmp_path, junk):
    header, rows = sample_rows(shared_data)
    good = _csv_text(header, rows[:2]).encode()
    junk_lines = [j.encode("utf-8", "surrogatepass") for j in junk]  # a lone surrogate: not UTF-8
    content = (
        good
        + b"".join(line + b"\r\n" for line in junk_lines)
        + _csv_text(header, [rows[2]]).split("\r\n", 1)[1].encode()
    )
    batch = parse_file(write(tmp_path, "junk.csv", content))
    assert sorted(batch.events.column("event.id").to_pylist()) == sorted(r[33] for r in rows[:3])
    quarantined = {int(q.origin.rsplit(":", 1)[1]) for q in batch.quarantined}
    first = good.count(b"\n") + 1
    for number, line in enumerate(junk_lines, start=first):
        if line.strip(b" \t"):  # DuckDB skips an empty line, as a blank NDJSON line is skipped
            assert number in quarantined, line


def test_junk_in_la_json_never_raises(tmp_path):
    content = b'{"TimeGenerated": "2024-01-01T00:00:00Z", "Id": "a"}\nnot json\n[1]\n{"Id": "b"}\n\xff\n'
    batch = parse_file(write(tmp_path, "rows.ndjson", content))
    assert batch.events.column("event.id").to_pylist() == ["a"]
    reasons = {int(q.origin.rsplit(":", 1)[1]): q.reason for q in batch.quarantined}
    assert reasons[2].startswith("not valid JSON")
    assert reasons[3] == "not a JSON object"
    assert reasons[4] == "no TimeGenerated or CreatedDateTime"
    assert reasons[5].startswith("not valid UTF-8")


@pytest.mark.parametrize("name", ["TimeGenerated [UTC]", "TimeGenerated", "CreatedDateTime", "timegenerated"])
def test_time_columns_and_formats(tmp_path, name):
    batch = parse_file(
        write(tmp_path, "t.csv", f'{name},Id\r\n"5/6/2024, 9:07:03.250 PM",a\r\n2024-05-06T21:07:03.25Z,b\r\n')
    )
    assert batch.events.column("@timestamp").to_pylist() == [datetime(2024, 5, 6, 21, 7, 3, 250000, tzinfo=UTC)] * 2


def test_broken_quoting_costs_only_its_own_lines(tmp_path):
    # A stray quote must not swallow the records after it: Python's csv module would read a
    # quote never closed to the end of the file.
    closed_early = b'2025-06-02T07:00:01Z,b,"closed"too early'
    never_closed = b'2025-06-02T07:00:03Z,d,"never closed'
    path = write(
        tmp_path,
        "quotes.csv",
        b"TimeGenerated,Id,Comment\r\n"
        + b'2025-06-02T07:00:00Z,a,"fine, with a comma"\r\n'
        + closed_early
        + b"\r\n2025-06-02T07:00:02Z,c,after\r\n"
        + never_closed
        + b"\r\n2025-06-02T07:00:04Z,e,last\r\n",
    )
    batch = parse_file(path)
    assert batch.events.column("event.id").to_pylist() == ["a", "c", "e"]
    found = {q.origin: (q.reason, q.record) for q in batch.quarantined}
    column = closed_early.index(b"too") + 1
    assert found == {
        f"{path}:3": (f"not valid CSV: a character after a closing quote, at column {column}", closed_early.decode()),
        f"{path}:5": ("not valid CSV: a quoted cell is never closed", never_closed.decode()),
    }
