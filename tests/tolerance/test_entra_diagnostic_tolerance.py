"""Entra diagnostic-settings sign-in records of every category (issue 15, points 4 and 7).

Written from Microsoft's documentation, with our own values: the diagnostic-settings record
(Azure Monitor "resource log schema": ``time``, ``resourceId``, ``operationName``, ``category``,
``tenantId``, ``resultType``, ``callerIpAddress``, ``correlationId``, ``properties``) of the sign-in
categories Entra ID exports (``SignInLogs``, ``NonInteractiveUserSignInLogs``,
``ServicePrincipalSignInLogs``, ``ManagedIdentitySignInLogs``, ``ADFSSignInLogs``,
``MicrosoftServicePrincipalSignInLogs``), whose ``properties`` are the Graph ``signIn``. Service
principal and managed identity sign-ins carry no user and, in some exports, no
``createdDateTime``: the record's ``time`` is then the event's. Some exports write ``time`` in the
US form (``3/1/2026 10:00:01 AM``, UTC). The Log Analytics tables of the same sign-ins are named
``SigninLogs``, ``AAD...SignInLogs`` and ``ADFSSignInLogs``.
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.signins import entra_signins, entra_signins_la

WHEN = datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
CATEGORIES = (
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "ADFSSignInLogs",
    "MicrosoftServicePrincipalSignInLogs",
)
USERLESS = {"ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs", "MicrosoftServicePrincipalSignInLogs"}


def _record(category: str, properties: dict, time: str = "2026-03-01T10:00:01.0000000Z") -> dict:
    return {
        "time": time,
        "resourceId": "/tenants/t/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity",
        "category": category,
        "tenantId": "t",
        "resultType": "0",
        "callerIpAddress": "81.2.69.160",
        "correlationId": "c",
        "properties": properties,
    }


def _signin(category: str, number: int, created: str | None = "2026-03-01T10:00:01Z") -> dict:
    properties: dict = {"id": f"{category}-{number}", "status": {"errorCode": 0}, "appDisplayName": "app"}
    if created is not None:
        properties["createdDateTime"] = created
    if category in USERLESS:
        properties |= {"servicePrincipalId": "sp-1", "servicePrincipalName": "backup-job"}
    else:
        properties |= {"userPrincipalName": "J.Doe@Council.gov.uk", "ipAddress": "81.2.69.160"}
    return properties


def _write(folder: Path, records: list[dict | str]) -> Path:
    path = folder / "signins.ndjson"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_every_signin_category_is_a_signin_with_its_kind_recorded(tmp_path):
    records = [_record(c, _signin(c, 1)) for c in CATEGORIES]
    records.append({**_record("AuditLogs", {"id": "a"}), "operationName": "Add user"})
    batch = entra_signins.parse_file(_write(tmp_path, records))
    rows = batch.events.to_pylist()
    assert [row["azure.signinlogs.category"] for row in rows] == list(CATEGORIES)
    assert {row["event.category"] for row in rows} == {"authentication"}
    assert [row["user.name"] for row in rows] == [None if c in USERLESS else "j.doe@council.gov.uk" for c in CATEGORIES]
    assert [row["event.outcome"] for row in rows] == ["success"] * len(CATEGORIES)
    [reject] = batch.quarantined
    assert reject.reason == 'diagnostic record of category "AuditLogs", not a sign-in log'


def test_the_record_time_is_the_event_time_when_properties_have_no_created_time(tmp_path):
    records = [
        _record("ManagedIdentitySignInLogs", _signin("ManagedIdentitySignInLogs", 1, None)),
        _record("ServicePrincipalSignInLogs", _signin("ServicePrincipalSignInLogs", 2, None), "3/1/2026 10:00:01 AM"),
        _record("ADFSSignInLogs", _signin("ADFSSignInLogs", 3, ""), "3/1/2026 2:00:01 PM"),
        # the sign-in's own time wins over the record's
        _record("SignInLogs", _signin("SignInLogs", 4, "2026-03-01T09:00:01Z"), "3/1/2026 10:00:01 AM"),
    ]
    batch = entra_signins.parse_file(_write(tmp_path, records))
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [
        WHEN,
        WHEN,
        WHEN + timedelta(hours=4),
        WHEN - timedelta(hours=1),
    ]


def test_a_record_without_any_time_says_which_times_it_lacks(tmp_path):
    record = _record("ADFSSignInLogs", _signin("ADFSSignInLogs", 1, None))
    del record["time"]
    unreadable = _record("ADFSSignInLogs", _signin("ADFSSignInLogs", 2, None), "yesterday")
    batch = entra_signins.parse_file(_write(tmp_path, [record, unreadable]))
    assert batch.count == 0
    assert [q.reason for q in batch.quarantined] == [
        "no createdDateTime in properties and no time on the record",
        'time "yesterday" is not a timestamp',
    ]


def test_log_analytics_adfs_rows_are_adfs_signins(tmp_path):
    rows = [
        {"TimeGenerated": "2026-03-01T10:00:01Z", "Type": "ADFSSignInLogs", "Id": "adfs-1", "ResultType": "0"},
        {"TimeGenerated": "2026-03-01T10:00:01Z", "Type": "AADManagedIdentitySignInLogs", "Id": "mi-1"},
    ]
    batch = entra_signins_la.parse_file(_write(tmp_path, rows))
    assert batch.quarantined == []
    assert batch.events["azure.signinlogs.category"].to_pylist() == ["ADFSSignInLogs", "ManagedIdentitySignInLogs"]


# --- properties and fuzz ---------------------------------------------------------------------


@st.composite
def signin_records(draw) -> tuple[dict, dict]:
    """A diagnostic record in one of the documented variants, and what it must give."""
    category = draw(st.sampled_from(CATEGORIES))
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 10**8)))
    clock = draw(st.sampled_from(["created", "time-iso", "time-us"]))
    number = draw(st.integers(0, 10**9))
    ip = draw(st.ip_addresses().map(str))
    app = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
    error = draw(st.sampled_from([0, 50126, 53003]))
    properties = _signin(category, number, moment.strftime("%Y-%m-%dT%H:%M:%SZ") if clock == "created" else None)
    properties |= {"ipAddress": ip, "appDisplayName": app, "status": {"errorCode": error}}
    time = {
        "created": "2020-01-01T00:00:00Z",  # must lose to createdDateTime
        "time-iso": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "time-us": f"{moment.month}/{moment.day}/{moment.year} {moment:%I:%M:%S %p}",
    }[clock]
    expected = {
        "@timestamp": moment,
        "event.id": properties["id"],
        "azure.signinlogs.category": category,
        "source.ip": ip,
        "azure.signinlogs.properties.app_display_name": app,
        "event.outcome": "success" if error == 0 else "failure",
    }
    return _record(category, properties, time), expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(signin_records(), min_size=1, max_size=12, unique_by=lambda pair: pair[1]["event.id"]))
def test_property_every_field_survives_in_every_category_and_time_form(generated):
    records, expected = zip(*generated)
    with tempfile.TemporaryDirectory() as folder:
        batch = entra_signins.parse_file(_write(Path(folder), list(records)))
    assert batch.quarantined == []
    for row, want in zip(batch.events.to_pylist(), expected):
        assert {column: row[column] for column in want} == want


def _broken(text: str, rng: random.Random) -> str:
    cut, spot = rng.randrange(len(text)), rng.randrange(len(text))
    return rng.choice(
        [
            text[:cut],
            text[:spot] + rng.choice(['"', "}", "{", ",", "\\", "\u00e9"]) + text[spot + 1 :],
            text.replace('"time"', '"tiem"').replace('"createdDateTime"', '"created"'),
            text.replace('"category": "', '"category": "Audit'),
            "[" + text,
        ]
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(signin_records(), min_size=1, max_size=8, unique_by=lambda pair: pair[1]["event.id"]),
    st.randoms(use_true_random=False),
)
def test_fuzz_broken_records_are_stored_or_quarantined_and_counts_add_up(generated, rng):
    valid = [json.dumps(record) for record, _ in generated]
    broken = [_broken(text, rng) for text in valid]
    lines = [line for pair in zip(valid, broken) for line in pair]
    with tempfile.TemporaryDirectory() as folder:
        batch = entra_signins.parse_file(_write(Path(folder), lines))
    records = sum(1 for line in lines if line.strip())
    assert batch.count + len(batch.quarantined) >= records  # an array line may hold several
    assert all(q.reason for q in batch.quarantined)
    assert set(valid) <= set(batch.events["event.original"].to_pylist())  # every valid record is kept
