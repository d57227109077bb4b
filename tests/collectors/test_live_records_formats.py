"""``parse_records`` (records in memory, as live collectors hold them) against ``parse_file``
(the same records written as NDJSON lines): the two must give the same events and the same
quarantine, whatever the records are — good, damaged, oddly shaped, not UTF-8, not JSON.

Differential and property-based: hypothesis builds lists of records from every shape each
parser documents (and many it does not), writes them to a file for ``parse_file`` and hands the
same list to ``parse_records``; a column, an id, an original text, a reason or an origin that
differs fails the test. Origins differ only in naming the records: the file's path there,
``origin`` here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats import azure_firewall, defender_alerts
from collectors.formats.signins import entra_signins
from store.batch import ParsedBatch

ORIGIN = "https://graph.microsoft.com/v1.0/auditLogs/signIns?$top=5"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- records of every shape -------------------------------------------------------------------

TIMES = st.sampled_from(
    [
        "2026-11-20T09:00:00Z",
        "2026-11-20T09:00:00.1234567Z",
        "2026-11-20T09:00:00+01:00",
        "2026-11-20T09:00:00",
        "3/1/2024 10:00:19 AM",
        "yesterday-ish",
        "",
    ]
)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), WORDS)


def maybe(strategy):
    """A field that may be missing (None drops it), hold another type, or be as documented."""
    return st.one_of(st.none(), SCALARS, strategy)


def _object(fields: dict) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


#: Texts no format reads as a record, and texts on the edge of what they accept.
ODD_TEXTS = st.sampled_from(
    [
        b"",
        b"   ",
        b"\t\x0b",
        b"not json",
        b'{"truncated": ',
        b"42",
        b'"just a string"',
        b"null",
        b"[1, 2]",
        b"[]",
        b"{}",
        b'{"a": 1,}',  # a trailing comma: DuckDB reads it, orjson does not
        b'{"x": "\xff\xfe"}',  # not UTF-8
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b'{"id": "cr"}\r',  # a CRLF line once written
        b'{"id":\n"split"}',  # a line end inside a record
        b"\xc3",
    ]
)
# Bytes that open a gzip stream make a file a gzip file: records never begin so on a live page.
NOISE = st.binary(max_size=24).filter(lambda b: not b.startswith(b"\x1f\x8b"))


def dumps(value) -> bytes:
    return orjson.dumps(value)


def _records(good: st.SearchStrategy[bytes], first: st.SearchStrategy[bytes] | None = None):
    some = st.lists(st.one_of(good, good, ODD_TEXTS, NOISE), max_size=12)
    if first is None:
        return some
    return st.tuples(first, some).map(lambda pair: [pair[0], *pair[1]])


# Entra ID sign-ins: Graph signIn objects and diagnostic-settings records.
SIGNIN = _object(
    {
        "id": maybe(st.sampled_from(["s-1", "s-2", "s-3", ""])),
        "createdDateTime": maybe(TIMES),
        "userPrincipalName": maybe(WORDS),
        "userId": maybe(WORDS),
        "ipAddress": maybe(st.sampled_from(["10.0.0.4", "2001:db8::1", "", "not-an-ip"])),
        "location": maybe(_object({"countryOrRegion": maybe(st.sampled_from(["GB", "FR", ""])), "city": WORDS})),
        "status": maybe(_object({"errorCode": maybe(st.integers(0, 50158)), "failureReason": WORDS})),
        "signInEventTypes": maybe(st.lists(st.sampled_from(["interactiveUser", "servicePrincipal"]), max_size=2)),
        "isInteractive": maybe(st.booleans()),
        "deviceDetail": maybe(_object({"deviceId": maybe(st.just("")), "isCompliant": maybe(st.booleans())})),
        "appliedConditionalAccessPolicies": maybe(st.lists(_object({"id": WORDS}), max_size=2)),
    }
)
SIGNIN_RECORD = _object(
    {
        "category": maybe(st.sampled_from(["SignInLogs", "ServicePrincipalSignInLogs", "AuditLogs"])),
        "time": maybe(TIMES),
        "properties": maybe(SIGNIN),
        "tenantId": maybe(WORDS),
    }
)
SIGNIN_TEXTS = st.one_of(
    SIGNIN.map(dumps),
    SIGNIN_RECORD.map(dumps),
    st.lists(SIGNIN, max_size=3).map(lambda items: dumps({"value": items})),  # a page on one line
)
#: A live page's first record is a record: parse_file reads a file whose first line is not one
#: as one JSON document, a question records in memory never raise (entra_signins.parse_records).
FIRST_SIGNIN = st.builds(
    lambda record, time: dumps({**record, "createdDateTime": time}), SIGNIN, st.just("2026-11-20T09:00:00Z")
)

# Defender alerts: Graph alerts_v2, Defender for Endpoint alerts, incidents, pages.
GRAPH_ALERT = _object(
    {
        "id": maybe(st.sampled_from(["da-1", "da-2", ""])),
        "@odata.type": maybe(
            st.sampled_from(["#microsoft.graph.security.alert", "#microsoft.graph.security.incident"])
        ),
        "providerAlertId": maybe(WORDS),
        "createdDateTime": maybe(TIMES),
        "lastUpdateDateTime": maybe(TIMES),
        "title": maybe(WORDS),
        "severity": maybe(st.sampled_from(["high", "Low"])),
        "category": maybe(st.sampled_from(["Malware", "CredentialAccess", ""])),
        "evidence": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "@odata.type": st.sampled_from(
                            ["#microsoft.graph.security.deviceEvidence", "#microsoft.graph.security.userEvidence"]
                        ),
                        "deviceDnsName": WORDS,
                        "userAccount": _object({"userPrincipalName": WORDS}),
                    }
                ),
                max_size=2,
            )
        ),
    }
)
ENDPOINT_ALERT = _object(
    {
        "id": maybe(st.sampled_from(["da:1", "da-3"])),
        "alertCreationTime": maybe(TIMES),
        "machineId": maybe(WORDS),
        "computerDnsName": maybe(WORDS),
        "evidence": maybe(st.lists(_object({"entityType": st.just("File"), "fileName": WORDS}), max_size=2)),
    }
)
ALERT = st.one_of(GRAPH_ALERT, ENDPOINT_ALERT)
ALERT_TEXTS = st.one_of(
    ALERT.map(dumps),
    ALERT.map(dumps),
    st.lists(ALERT, max_size=3).map(lambda items: dumps({"value": items})),
    st.lists(ALERT, max_size=2).map(
        lambda items: dumps({"@odata.type": "#microsoft.graph.security.incident", "alerts": items})
    ),
    st.lists(ALERT, max_size=2).map(dumps),
)

# Azure Firewall: legacy msg records, AZFW* records, Log Analytics rows, envelopes.
MSGS = st.sampled_from(
    [
        "TCP request from 10.0.0.4:49890 to 13.69.65.17:443. Action: Deny. Rule Collection: default behavior",
        "HTTPS request from 10.1.0.5:55640 to www.example.com:443. Action: Allow. Rule Collection: web. Rule: r1",
        "ICMP Type=8 request from 10.0.0.4 to 8.8.8.8. Action: Allow.",
        "DNS Request: 10.0.0.4:48197 - 15676 AAAA IN host.example. udp 55 false 512 NOERROR qr,rd,ra 188 0.002s",
        "garbled text with no shape",
    ]
)
FIREWALL = st.one_of(
    _object(
        {
            "category": maybe(st.sampled_from(["AzureFirewallNetworkRule", "AzureFirewallDnsProxy"])),
            "time": maybe(TIMES),
            "operationName": maybe(WORDS),
            "resourceId": maybe(WORDS),
            "properties": maybe(_object({"msg": maybe(MSGS)})),
        }
    ),
    _object(
        {
            "category": maybe(st.sampled_from(["AZFWNetworkRule", "AZFWIdpsSignature", "AZFWSomethingNew"])),
            "time": maybe(TIMES),
            "properties": maybe(
                _object(
                    {
                        "SourceIp": maybe(st.sampled_from(["10.0.0.4", ""])),
                        "SourcePort": maybe(st.integers(0, 70000)),
                        "DestinationIp": maybe(WORDS),
                        "Action": maybe(st.sampled_from(["Allow", "Deny"])),
                        "Protocol": maybe(WORDS),
                    }
                )
            ),
        }
    ),
    _object(
        {
            "Type": maybe(st.sampled_from(["AZFWNetworkRule", "Heartbeat"])),
            "TimeGenerated": maybe(TIMES),
            "SourceIp": WORDS,
        }
    ),
)
FIREWALL_TEXTS = st.one_of(
    FIREWALL.map(dumps),
    FIREWALL.map(dumps),
    st.lists(FIREWALL, max_size=3).map(lambda items: dumps({"records": items})),
    st.lists(FIREWALL, max_size=2).map(dumps),
)

# -- comparing ----------------------------------------------------------------------------------


def _events(batch: ParsedBatch) -> list[dict]:
    """The events as rows, without ``event.ingested`` (the moment of parsing: the only column two
    parses of one record may rightly disagree on)."""
    table = batch.events
    return table.drop_columns(["event.ingested"]).to_pylist()


def _quarantine(batch: ParsedBatch, place: str, origin: str) -> list[tuple]:
    return [(q.source, q.reason, q.record, origin + q.origin.removeprefix(place)) for q in batch.quarantined]


def assert_same(module, records: list[bytes]) -> ParsedBatch:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "page.ndjson")
        path.write_bytes(b"".join(record + b"\n" for record in records))
        from_file = module.parse_file(path)
    from_memory = module.parse_records(records, ORIGIN)
    assert from_memory.events.schema == from_file.events.schema
    assert _events(from_memory) == _events(from_file)
    assert _quarantine(from_memory, ORIGIN, ORIGIN) == _quarantine(from_file, str(path), ORIGIN)
    assert all(q.origin.startswith(ORIGIN) for q in from_memory.quarantined)
    return from_memory


@SETTINGS
@given(records=_records(SIGNIN_TEXTS, first=FIRST_SIGNIN))
def test_entra_signins_records_in_memory_parse_as_their_ndjson_file(records):
    assert_same(entra_signins, records)


@SETTINGS
@given(records=_records(ALERT_TEXTS))
def test_defender_alerts_records_in_memory_parse_as_their_ndjson_file(records):
    assert_same(defender_alerts, records)


@SETTINGS
@given(records=_records(FIREWALL_TEXTS))
def test_azure_firewall_records_in_memory_parse_as_their_ndjson_file(records):
    assert_same(azure_firewall, records)


# -- the forms a collector hands records in ------------------------------------------------------

SIGNINS = [
    {"id": f"s-{n}", "createdDateTime": f"2026-11-20T09:0{n}:00Z", "userPrincipalName": f"User{n}@Council.gov.uk"}
    for n in range(3)
]


@pytest.mark.parametrize(
    "form",
    [
        lambda texts: texts,
        lambda texts: [text.decode() for text in texts],
        lambda texts: pa.array(texts, pa.binary()),
        lambda texts: pa.chunked_array([pa.array([t.decode() for t in texts], pa.string())]),
    ],
    ids=["bytes", "str", "arrow-binary", "arrow-chunked-string"],
)
def test_records_are_taken_as_bytes_strings_or_arrow(form):
    texts = [dumps(record) for record in SIGNINS] + [b"{broken"]
    batch = entra_signins.parse_records(form(texts), ORIGIN)
    assert batch.events.column("event.id").to_pylist() == ["s-0", "s-1", "s-2"]
    assert batch.events.column("event.original").to_pylist() == [t.decode() for t in texts[:3]]
    assert batch.events.column("user.name").to_pylist() == [f"user{n}@council.gov.uk" for n in range(3)]
    [reject] = batch.quarantined
    assert reject.origin == f"{ORIGIN}:4" and reject.record == "{broken" and "not valid JSON" in reject.reason


def test_a_null_record_is_refused_with_its_number():
    with pytest.raises(ValueError, match="record 1 is null"):
        entra_signins.parse_records(pa.array([dumps(SIGNINS[0]), None]), ORIGIN)


@pytest.mark.parametrize("module", [entra_signins, defender_alerts, azure_firewall])
def test_no_records_are_no_events(module):
    batch = module.parse_records([], ORIGIN)
    assert batch.events.num_rows == 0 and batch.quarantined == []
