"""The same rules over the same events raise the same alerts on both stores.

Events go into an ``EmbeddedStore`` and an ``ElasticStore`` (a real Elasticsearch node), every
shipped rule runs on both through ``run_detections`` over the same window, and the alerts — ids,
rule ids, severities, group keys, first and last seen, matched event ids — must be identical, as
must each rule's outcome and the list of rules that cannot run. Two event sets:

* the demo scenario (console/scenario), whose stories must raise their alerts on both stores, so
  the comparison cannot pass by both stores finding nothing;
* hypothesis-generated sign-ins and firewall records whose values stress what the stores could
  disagree on — letter case, wildcard characters in data, IPv4/IPv4-mapped/IPv6/zone-id/malformed
  addresses, null and empty fields, numbers as text — run through purpose-written rules as well
  as the shipped ones.

A disagreement is fixed in the mapping (store/elastic/mapping.py) or the Lucene compiler
(detections/backends/lucene_backend.py), never here.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from collectors.formats import azure_firewall
from collectors.formats.signins import signin_schema
from collectors.replay import ingest
from console.config import DEFAULT_RULE_DIRS
from detections import run_detections
from scenario import EXPECTED_ALERTS, generate
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from tests.rules.test_es_sigma_semantics import remove_indices


@pytest.fixture
def client(elastic_url, es_prefix):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    remove_indices(connection, es_prefix)
    connection.close()


def _outcome(report) -> dict:
    """What must agree: alerts in full, each rule's outcome, and the rules that cannot run."""
    return {
        "alerts": sorted(report.alerts, key=lambda alert: alert.id),
        "rules": sorted((r.rule_id, r.kind, r.status, r.matched, r.alerts) for r in report.rules),
        "problems": sorted((p.name, p.reason) for p in report.problems),
    }


def _run_both(stores, rule_dirs, start: datetime, end: datetime) -> tuple[dict, dict]:
    reports = [run_detections(store, rule_dirs, start, end) for store in stores]
    for report, store in zip(reports, stores):
        failed = [(r.title, r.error) for r in report.failed]
        assert failed == [], f"{type(store).__name__}: rules failed: {failed}"
    return _outcome(reports[0]), _outcome(reports[1])


def _assert_same(embedded: dict, elastic: dict) -> None:
    assert elastic["problems"] == embedded["problems"], "rules refused on one store only"
    assert elastic["rules"] == embedded["rules"], [
        (a, b) for a, b in zip(embedded["rules"], elastic["rules"]) if a != b
    ]
    assert [a.id for a in elastic["alerts"]] == [a.id for a in embedded["alerts"]]
    assert elastic["alerts"] == embedded["alerts"]


# -- the demo scenario ----------------------------------------------------------------------------


def test_demo_scenario_raises_identical_alerts_on_both_stores(client, es_prefix, tmp_path):
    manifest = generate(tmp_path / "scenario", size=20_000, seed=7)
    stores = (EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix))
    for store in stores:
        for item in manifest.files:
            result = ingest(store, [Path(item.path)], item.kind)
            assert result.quarantined == 0, (type(store).__name__, item.path)
    assert stores[1].count() == stores[0].count() > 15_000
    embedded, elastic = _run_both(stores, list(DEFAULT_RULE_DIRS), manifest.start, manifest.end)
    _assert_same(embedded, elastic)

    # Not vacuous: every story's alerts are among them.
    stories = yaml.safe_load(EXPECTED_ALERTS.read_text())["stories"]
    wanted = {entry["id"] for story in stories.values() for entry in story["alerts"]}
    assert wanted <= {alert.rule_id for alert in elastic["alerts"]}
    assert sum(len(alert.event_ids) for alert in elastic["alerts"]) > 100
    # The engine copied them to the alerts index too, for Kibana users.
    copied = client.search(index=f"{es_prefix}alerts", size=10_000, source=["id"])["hits"]["hits"]
    assert sorted(hit["_source"]["id"] for hit in copied) == [alert.id for alert in elastic["alerts"]]


# -- generated events and purpose-written rules ---------------------------------------------------

# Each example's events fall in half an hour of their own, three hours after the previous
# example's: the longest correlation look-back (1 h) never reaches another example's events, and
# all examples share one index per dataset and day (an index per example would soon reach the
# node's shard limit when hypothesis shrinks a failure).
FIRST_WINDOW = datetime(2025, 6, 9, tzinfo=UTC)
SPAN = timedelta(minutes=30)
STRIDE = timedelta(hours=3)
_windows = itertools.count()
_P = "azure.signinlogs.properties."

USERS = [
    "Admin@Council.gov.uk",
    "admin@council.gov.uk",
    "ADMIN.ops@council.gov.uk",
    "bob@council.gov.uk",
    "a*b@council.gov.uk",
    "a?b@council.gov.uk",
    "ÄRGER@council.gov.uk",
    "",
]
ADDRESSES = [
    "10.1.2.3",
    "::ffff:10.9.9.9",
    "::FFFF:172.16.0.1",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:2",
    "203.0.113.45",
    "203.0.113.200",
    "fe80::1%eth0",
    "fe80::1",
    "192.168.1.1",
    "8.8.8.8",
    "010.1.2.3",
    "not an address",
    "",
]
AGENTS = ["curl/8.0", "CURL/8.0", "Mozilla/5.0 (BAV2ROPC)", "azurehound/2.0", "x*y", "python-requests\\2", ""]
CLIENT_APPS = ["IMAP4", "imap4", "Other clients", "Browser", "Authenticated SMTP", "Exchange ActiveSync", ""]
ERRORS = [0, 50126, 50053, 500121, 50057, 53003, 50074]
DETAILS = ["MFA denied; user declined the authentication", "mfa DENIED", "MFA completed", ""]
APPS = ["Office 365", "Office*365?", "office 365 exchange online", "Azure Portal", ""]
COUNTRIES = ["GB", "gb", "NG", "RU", ""]
CATEGORIES = [
    "AZFWNetworkRule",
    "azfwnetworkrule",
    "AzureFirewallNetworkRule",
    "AZFWThreatIntel",
    "AZFWApplicationRule",
]

PURPOSE_RULES = """
title: Admin Accounts By Prefix
id: 3c1b0f5e-0a51-4b57-9d7c-000000000001
logsource: {product: azure, service: signinlogs}
detection:
    selection:
        user.name|startswith: 'ADMIN'
    filter_cased:
        user_agent.original|cased|contains: 'CURL'
    condition: selection and not filter_cased
level: medium
---
title: Literal Wildcard Characters And Escapes
id: 3c1b0f5e-0a51-4b57-9d7c-000000000002
logsource: {product: azure, service: signinlogs}
detection:
    star:
        user.name|startswith: 'a\\*b'
    app:
        azure.signinlogs.properties.app_display_name: 'Office\\*365\\?'
    backslash:
        user_agent.original|contains: 'requests\\2'
    condition: 1 of them
level: medium
---
title: Addresses In Networks
id: 3c1b0f5e-0a51-4b57-9d7c-000000000003
logsource: {product: azure, service: signinlogs}
detection:
    selection:
        source.ip|cidr:
            - '10.0.0.0/8'
            - '172.16.0.0/12'
            - '2001:db8::/32'
            - '203.0.113.0/25'
            - 'fe80::/10'
    condition: selection
level: medium
---
title: Missing And Present Fields
id: 3c1b0f5e-0a51-4b57-9d7c-000000000004
logsource: {product: azure, service: signinlogs}
detection:
    no_city:
        source.geo.city_name: null
    browser:
        azure.signinlogs.properties.device_detail.browser|exists: true
    empty_app:
        azure.signinlogs.properties.client_app_used: ''
    condition: (no_city and browser) or empty_app or not 1 of browser*
level: low
---
title: Numbers As Numbers And As Text
id: 3c1b0f5e-0a51-4b57-9d7c-000000000005
logsource: {product: azure, service: signinlogs}
detection:
    high_code:
        ResultType|gte: 500000
    text_code:
        ResultType: '5005*'
    typed_text:
        azure.signinlogs.result_type: 50126
    batch_signin:
        IsInteractive: 'FALSE'
    compliant:
        DeviceDetail.isCompliant: true
    condition: high_code or text_code or (typed_text and batch_signin) or compliant
level: medium
---
title: Regular Expressions
id: 3c1b0f5e-0a51-4b57-9d7c-000000000006
logsource: {product: azure, service: signinlogs}
detection:
    agent:
        user_agent.original|re: '^[a-z]+/[0-9]'
    country:
        source.geo.country_iso_code|re|i: '^(ng|ru)$'
    condition: agent or country
level: low
---
title: Repeated Admin Sign-Ins
id: 3c1b0f5e-0a51-4b57-9d7c-000000000007
correlation:
    type: event_count
    rules:
        - 3c1b0f5e-0a51-4b57-9d7c-000000000001
    group-by:
        - user.name
    timespan: 20m
    condition:
        gte: 2
level: high
"""


@st.composite
def signins(draw, count: int, start: datetime) -> pa.Table:
    def column(values, nullable=True):
        options = st.sampled_from(values)
        return [draw(st.none() | options if nullable else options) for _ in range(count)]

    micros = [draw(st.integers(0, int(SPAN.total_seconds() * 1_000_000) - 1)) for _ in range(count)]
    errors = column(ERRORS)
    data = {
        "@timestamp": [start + timedelta(microseconds=m) for m in micros],
        "event.ingested": [start + SPAN] * count,
        "event.dataset": ["azure.signinlogs"] * count,
        "event.id": [f"signin-{start:%H}-{i}" for i in range(count)],
        "event.original": ["{}"] * count,
        "user.name": column(USERS),
        "source.ip": column(ADDRESSES),
        "user_agent.original": column(AGENTS),
        "source.geo.country_iso_code": column(COUNTRIES),
        "source.geo.city_name": column(["London", "Lagos"]),
        _P + "status.error_code": errors,
        "azure.signinlogs.result_type": [None if e is None else str(e) for e in errors],
        _P + "status.additional_details": column(DETAILS),
        _P + "client_app_used": column(CLIENT_APPS),
        _P + "app_display_name": column(APPS),
        _P + "authentication_requirement": column(["singleFactorAuthentication", "multiFactorAuthentication"]),
        _P + "is_interactive": column([True, False]),
        _P + "device_detail.is_compliant": column([True, False]),
        _P + "device_detail.browser": column(["Edge 120", ""]),
    }
    columns = {name: pa.array(data.get(name, [None] * count), kind) for name, kind in signin_schema.COLUMNS.items()}
    return pa.table(columns)


@st.composite
def firewall_records(draw, count: int, start: datetime) -> pa.Table:
    def column(values):
        return [draw(st.none() | st.sampled_from(values)) for _ in range(count)]

    micros = [draw(st.integers(0, int(SPAN.total_seconds() * 1_000_000) - 1)) for _ in range(count)]
    data = {
        "@timestamp": [start + timedelta(microseconds=m) for m in micros],
        "event.ingested": [start + SPAN] * count,
        "event.dataset": ["azure.firewall"] * count,
        "event.id": [f"firewall-{start:%H}-{i}" for i in range(count)],
        "event.original": ["{}"] * count,
        "azure.firewall.category": column(CATEGORIES),
        "azure.firewall.operation_name": column(["AzureFirewallThreatIntelLog", "AzureFirewallNatRuleLog"]),
        "source.ip": column(ADDRESSES),
        "destination.ip": column(ADDRESSES),
        "destination.port": column([21, 22, 23, 80, 443, 3389, 8080]),
        "event.action": column(["allow", "deny", "Deny"]),
    }
    columns = {name: pa.array(data.get(name, [None] * count), kind) for name, kind in azure_firewall.COLUMNS.items()}
    return pa.table(columns)


@settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_events_raise_identical_alerts_on_both_stores(client, es_prefix, tmp_path, data):
    """Not shrunk (Phase.shrink is off): each example costs seconds on a real node; a failure
    prints its events and rules as drawn."""
    start = FIRST_WINDOW + STRIDE * next(_windows)
    tables = [
        data.draw(signins(data.draw(st.integers(20, 60)), start)),
        data.draw(firewall_records(data.draw(st.integers(10, 40)), start)),
    ]
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    rules = root / "rules"
    rules.mkdir()
    (rules / "purpose.yml").write_text(PURPOSE_RULES)
    stores = (EmbeddedStore(root / "embedded"), ElasticStore(client, root / "elastic", prefix=es_prefix))
    for store in stores:
        for table in tables:
            store.append(table)
    embedded, elastic = _run_both(stores, [rules, *DEFAULT_RULE_DIRS], start, start + SPAN)
    _assert_same(embedded, elastic)
    mine = {r for r in embedded["rules"] if r[0].startswith("3c1b0f5e")}
    assert len(mine) == 7 and all(status == "succeeded" for _, _, status, _, _ in mine)
    assert sum(matched for _, _, _, matched, _ in mine) > 0  # the purpose rules did select events
