"""The live Azure Firewall collector against a Log Analytics stand-in, through the real SDK.

Rows are generated with the demo scenario's own record builders
(``scenario.formats.network_format.firewall_record`` / ``legacy_record``, whose shapes follow
Elastic's azure firewall_logs pipeline test records, elastic/integrations), then laid out as Log
Analytics stores diagnostic records: ``properties`` as columns, ``category`` as ``Type`` (AZFW*)
or ``Category`` (AzureDiagnostics, with ``msg_s``), ``time`` as ``TimeGenerated``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.live.firewall_logs import AzureFirewallCollector, SettingsError
from scenario.formats.network_format import firewall_record, legacy_record
from scenario.week.events import Flow
from store.embedded import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.support.loganalytics_standin import Fault, LogAnalyticsStandIn, StandInCredential, utc_iso

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WS = "ws-council"


# -- data ------------------------------------------------------------------------------------------


def _flow(rng: random.Random, category: str, when: datetime) -> Flow:
    ms = int(when.timestamp() * 1000)
    if category == "AZFWApplicationRule":
        return Flow(
            ms,
            category,
            rng.choice(["Allow", "Deny"]),
            "HTTPS",
            f"10.1.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            rng.randrange(49152, 65536),
            "52.97.1.1",
            443,
            "Allow-M365",
            "Web",
            "Default",
            fqdn=rng.choice(["outlook.office.com", "example.org"]),
            web_category="Business",
        )
    if category == "AZFWThreatIntel":
        return Flow(
            ms,
            category,
            "Deny",
            "TCP",
            "10.1.2.3",
            rng.randrange(49152, 65536),
            "203.0.113.66",
            443,
            "",
            "",
            "",
            threat="Known malicious IP",
        )
    return Flow(
        ms,
        "AZFWNetworkRule",
        rng.choice(["Allow", "Deny"]),
        rng.choice(["TCP", "UDP"]),
        f"10.1.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        rng.randrange(49152, 65536),
        f"172.16.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        rng.choice([53, 443, 3389]),
        "Allow-Internal",
        "Internal",
        "Default",
    )


def la_row(table: str, flow: Flow, when: datetime) -> dict:
    """A diagnostic record as its Log Analytics row (microsecond times keep rows distinct)."""
    if table == "AzureDiagnostics":
        record = legacy_record(flow)
        return {
            "TimeGenerated": utc_iso(when),
            "Category": record["category"],
            "OperationName": record["operationName"],
            "msg_s": record["properties"]["msg"],
            "ResourceId": record["resourceId"],
            "_ResourceId": record["resourceId"].lower(),
            "_ItemId": str(uuid.UUID(int=random.getrandbits(128))),
            "Type": "AzureDiagnostics",
            "ResourceType": "AZUREFIREWALLS",
        }
    record = firewall_record(flow)
    return {
        "TimeGenerated": utc_iso(when),
        **record["properties"],
        "Type": record["category"],
        "TenantId": WS,
        "SourceSystem": "Azure",
        "_ResourceId": record["resourceId"].lower(),
        "_ItemId": str(uuid.UUID(int=random.getrandbits(128))),
    }


def make_rows(table: str, start: datetime, end: datetime, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    random.seed(seed)  # the _ItemIds
    category = "AZFWNetworkRule" if table == "AzureDiagnostics" else table
    step = (end - start) / count
    return [la_row(table, _flow(rng, category, start + step * i), start + step * i) for i in range(count)]


# -- fixtures --------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def service():
    state = LogAnalyticsStandIn(workspace_id=WS)
    with state.start() as running:
        yield running


@pytest.fixture
def store(tmp_path):
    return EmbeddedStore(tmp_path / "home")


@pytest.fixture
def checkpoints(store):
    return Checkpoints(store.state)


def make_collector(service, clock, **overrides) -> AzureFirewallCollector:
    settings = {
        "workspace_id": WS,
        "endpoint": service.url,
        "tables": ["AZFWNetworkRule"],
        "overlap_seconds": 600,
        "delay_seconds": 60,
        "initial_lookback_hours": 3,
        "max_slice_minutes": 60,
        "min_query_interval_seconds": 0,
        "retry_backoff_factor": 0.05,
        **overrides,
    }
    return AzureFirewallCollector(settings, StandInCredential(service.token_url()), clock=clock)


def stored_originals(store) -> list[dict]:
    table = store.search(["azure.firewall"], T0 - timedelta(days=2), T0 + timedelta(days=2), columns=["event.original"])
    return [json.loads(text) for text in table["event.original"].to_pylist()]


def item_ids(rows) -> set[str]:
    return {row["_ItemId"] for row in rows}


# -- tests -----------------------------------------------------------------------------------------


def test_every_row_is_stored_once_across_runs_with_overlap_and_late_events(service, store, checkpoints):
    tables = ["AZFWNetworkRule", "AZFWApplicationRule", "AzureDiagnostics"]
    first = {
        t: make_rows(t, T0 - timedelta(hours=2), T0 - timedelta(minutes=2), 300, seed=n) for n, t in enumerate(tables)
    }
    for table, rows in first.items():
        service.state.add_rows(table, rows)
    clock = Clock(T0)
    collector = make_collector(service, clock, tables=tables)

    run1 = collector.collect_once(store, checkpoints)
    assert run1.error is None and run1.stored == 900

    # Late arrivals: rows stamped before the checkpoint (inside the overlap) that reached the
    # workspace only now, plus new rows.
    late = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=8), T0 - timedelta(minutes=2), 40, seed=10)
    fresh = make_rows("AzureDiagnostics", T0, T0 + timedelta(minutes=20), 60, seed=11)
    service.state.add_rows("AZFWNetworkRule", late)
    service.state.add_rows("AzureDiagnostics", fresh)
    clock.now = T0 + timedelta(minutes=30)
    run2 = collector.collect_once(store, checkpoints)
    assert run2.error is None
    assert run2.stored == 100  # only the late and the new rows
    assert run2.duplicates > 0  # the overlap was read again and absorbed by the dedupe

    clock.now = T0 + timedelta(minutes=45)
    run3 = collector.collect_once(store, checkpoints)
    assert run3.error is None and run3.stored == 0

    everything = [r for rows in first.values() for r in rows] + late + fresh
    stored = stored_originals(store)
    assert len(stored) == len(everything) == store.count(["azure.firewall"])
    assert item_ids(stored) == item_ids(everything)
    assert [r["_ItemId"] for r in stored if r["_ItemId"] in item_ids(late)]  # late events are there
    runs = checkpoints.runs("azure-firewall")
    assert [r.stored for r in runs] == [900, 100, 0]
    assert runs[-1].newest_event.startswith((T0 + timedelta(minutes=19)).strftime("%Y-%m-%dT%H:%M"))


def test_events_are_normalised_by_the_firewall_parser(service, store, checkpoints):
    rows = make_rows("AZFWApplicationRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 5, seed=3)
    legacy = make_rows("AzureDiagnostics", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 5, seed=4)
    service.state.add_rows("AZFWApplicationRule", rows)
    service.state.add_rows("AzureDiagnostics", legacy)
    collector = make_collector(service, Clock(T0), tables=["AZFWApplicationRule", "AzureDiagnostics"])
    assert collector.collect_once(store, checkpoints).error is None

    found = store.search(
        ["azure.firewall"],
        T0 - timedelta(hours=1),
        T0,
        columns=[
            "source.ip",
            "destination.domain",
            "destination.port",
            "azure.firewall.category",
            "event.action",
            "event.original",
            "azure.resource.id",
        ],
    ).to_pylist()
    by_item = {json.loads(e["event.original"])["_ItemId"]: e for e in found}
    for row in rows:
        event = by_item[row["_ItemId"]]
        assert event["source.ip"] == row["SourceIp"]
        assert event["destination.domain"] == row["Fqdn"]
        assert event["event.action"] == row["Action"].lower()
        assert event["azure.firewall.category"] == "AZFWApplicationRule"
        assert event["azure.resource.id"] == row["_ResourceId"]
    for row in legacy:  # the legacy text is read from msg_s
        event = by_item[row["_ItemId"]]
        assert event["azure.firewall.category"] == "AzureFirewallNetworkRule"
        assert event["source.ip"] in row["msg_s"] and event["destination.port"] is not None
    # event.id is the SHA-256 of the row as stored in event.original
    import hashlib

    for event in found:
        assert event["event.id"] == hashlib.sha256(event["event.original"].encode()).hexdigest()


def test_slices_are_halved_until_each_answer_fits_the_service_row_limit(service, store, checkpoints):
    service.state.row_limit = 1_000
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=70), T0 - timedelta(minutes=10), 10_000, seed=5)
    service.state.add_rows("AZFWNetworkRule", rows)
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1.25)

    run = collector.collect_once(store, checkpoints)
    assert run.error is None
    assert run.stored == 10_000 and store.count(["azure.firewall"]) == 10_000
    outcomes = [s.outcome for s in collector.slices]
    assert "halved" in outcomes and set(outcomes) <= {"halved", "stored"}
    assert all(s.rows <= 1_000 for s in collector.slices if s.outcome == "stored")
    kept = [s.end - s.start for s in collector.slices if s.outcome == "stored" and s.rows]
    assert max(kept) < timedelta(minutes=10)  # 1,000 rows is ~6 minutes of this traffic
    assert item_ids(stored_originals(store)) == item_ids(rows)
    # the checkpoint is the end of the window: now minus the delay
    assert checkpoints.get("azure-firewall")["tables"]["AZFWNetworkRule"]["until"].startswith("2026-11-20T08:59:00")


def test_the_collectors_own_row_cap_also_halves_slices(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=50), T0 - timedelta(minutes=10), 2_000, seed=6)
    service.state.add_rows("AZFWNetworkRule", rows)
    collector = make_collector(service, Clock(T0), max_rows=300, initial_lookback_hours=1)
    run = collector.collect_once(store, checkpoints)
    assert run.error is None and run.stored == 2_000
    assert any(s.outcome == "halved" for s in collector.slices)
    assert all("take 301" in entry.query for entry in service.state.log)


def test_a_throttling_storm_is_waited_out_with_retry_after(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 50, seed=7)
    service.state.add_rows("AZFWNetworkRule", rows)
    service.state.script(*[Fault(429, retry_after="0.3")] * 4)
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1)

    began = time.monotonic()
    run = collector.collect_once(store, checkpoints)
    assert run.error is None and run.stored == 50
    assert time.monotonic() - began >= 4 * 0.3  # Retry-After was honoured each time
    assert [e.status for e in service.state.log[:5]] == [429, 429, 429, 429, 200]


def test_a_throttling_storm_beyond_the_wait_budget_ends_the_run_and_keeps_the_checkpoint(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 50, seed=8)
    service.state.add_rows("AZFWNetworkRule", rows)
    service.state.script(Fault(429, retry_after="0.5"), Fault(429, retry_after="120"))
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1, max_wait_seconds=5)

    began = time.monotonic()
    run = collector.collect_once(store, checkpoints)
    assert time.monotonic() - began < 5  # did not sleep the 120 s asked for
    assert run.error and "429" in run.error and "max_wait_seconds" in run.error
    assert run.stored == 0 and checkpoints.get("azure-firewall") is None

    again = collector.collect_once(store, checkpoints)
    assert again.error is None and again.stored == 50


def test_server_errors_are_retried_and_a_lasting_outage_is_a_failed_run(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 80, seed=9)
    service.state.add_rows("AZFWNetworkRule", rows)
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1, retry_total=3)

    service.state.script(Fault(503, retry_after="0.1"), Fault(500), Fault(503))
    run = collector.collect_once(store, checkpoints)
    assert run.error is None and run.stored == 80

    more = make_rows("AZFWNetworkRule", T0, T0 + timedelta(minutes=10), 20, seed=10)
    service.state.add_rows("AZFWNetworkRule", more)
    collector._clock = Clock(T0 + timedelta(minutes=20))
    before = checkpoints.get("azure-firewall")
    service.state.script(*[Fault(500)] * 4)  # one try and three retries, all failing
    failed = collector.collect_once(store, checkpoints)
    assert failed.error and "HTTP 500" in failed.error
    assert checkpoints.get("azure-firewall") == before
    assert failed.stored == 0

    recovered = collector.collect_once(store, checkpoints)
    assert recovered.error is None and recovered.stored == 20


def test_an_expired_token_is_replaced_before_it_is_refused(service, store, checkpoints):
    service.state.token_lifetime = 2
    service.state.add_rows(
        "AZFWNetworkRule",
        make_rows("AZFWNetworkRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 30, seed=12),
    )
    clock = Clock(T0)
    collector = make_collector(service, clock, initial_lookback_hours=1)
    assert collector.collect_once(store, checkpoints).error is None
    issued = service.state.tokens_issued

    time.sleep(2.2)  # the token has expired, at the stand-in and for the credential
    service.state.add_rows("AZFWNetworkRule", make_rows("AZFWNetworkRule", T0, T0 + timedelta(minutes=5), 10, seed=13))
    clock.now = T0 + timedelta(minutes=10)
    run = collector.collect_once(store, checkpoints)
    assert run.error is None and run.stored == 10
    assert service.state.tokens_issued > issued
    assert all(entry.status != 401 for entry in service.state.log)


def test_a_revoked_token_is_renewed_through_the_claims_challenge(service, store, checkpoints):
    service.state.add_rows(
        "AZFWNetworkRule",
        make_rows("AZFWNetworkRule", T0 - timedelta(minutes=50), T0 - timedelta(minutes=5), 200, seed=14),
    )
    service.state.revoke_after_queries = 1
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1, max_slice_minutes=10)
    run = collector.collect_once(store, checkpoints)
    assert run.error is None and run.stored == 200
    assert service.state.tokens_issued == 2
    assert [e.status for e in service.state.log].count(401) == 1


def test_a_refused_token_is_a_failed_run_without_secrets(service, store, checkpoints):
    service.state.add_rows(
        "AZFWNetworkRule",
        make_rows("AZFWNetworkRule", T0 - timedelta(minutes=50), T0 - timedelta(minutes=5), 20, seed=15),
    )
    credential = StandInCredential(service.token_url(), client_secret="do-not-print")
    collector = AzureFirewallCollector(
        {"workspace_id": WS, "endpoint": service.url, "tables": ["AZFWNetworkRule"], "min_query_interval_seconds": 0},
        credential,
        clock=Clock(T0),
    )
    credential.get_token_info("scope")  # cache a token, then make the service forget it
    service.state.tokens.clear()
    run = collector.collect_once(store, checkpoints)
    assert run.error and "401" in run.error and "do-not-print" not in run.error
    assert checkpoints.get("azure-firewall") is None


def test_a_partial_result_keeps_its_rows_records_the_error_and_is_asked_again(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=50), T0 - timedelta(minutes=5), 400, seed=16)
    service.state.add_rows("AZFWNetworkRule", rows)
    service.state.script(Fault(partial_message="Query execution has exceeded the allowed limits (80DA0003)", keep=0.5))
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1)

    run = collector.collect_once(store, checkpoints)
    assert run.error and "partial result" in run.error and "80DA0003" in run.error
    assert run.stored == 200  # the half that came back is kept
    assert checkpoints.get("azure-firewall") is None  # not advanced past the partial slice

    again = collector.collect_once(store, checkpoints)
    assert again.error is None
    assert again.stored == 200 and again.duplicates == 200
    assert item_ids(stored_originals(store)) == item_ids(rows)


def test_tables_are_detected(service, store, checkpoints):
    window = (T0 - timedelta(minutes=30), T0 - timedelta(minutes=5))
    service.state.add_rows("AZFWNetworkRule", make_rows("AZFWNetworkRule", *window, 5, seed=17))
    service.state.add_rows("AZFWThreatIntel", make_rows("AZFWThreatIntel", *window, 5, seed=18))
    service.state.add_rows("AZFWNetworkRuleAggregation", [{"TimeGenerated": utc_iso(window[0]), "Type": "x"}])
    service.state.add_rows(
        "AzureDiagnostics",
        [{"TimeGenerated": utc_iso(window[0]), "Category": "AuditEvent", "Type": "AzureDiagnostics"}],
    )
    collector = make_collector(service, Clock(T0), tables="auto", initial_lookback_hours=1)
    assert collector.detect_tables() == [
        "AZFWNetworkRule",
        "AZFWThreatIntel",
    ]  # a Key Vault's AuditEvent is no firewall

    service.state.add_rows("AzureDiagnostics", make_rows("AzureDiagnostics", *window, 5, seed=19))
    run = collector.collect_once(store, checkpoints)
    assert collector.detected == ["AZFWNetworkRule", "AZFWThreatIntel", "AzureDiagnostics"]
    assert run.error is None and run.stored == 15
    assert sorted(checkpoints.get("azure-firewall")["tables"]) == collector.detected


def test_settings_are_checked():
    with pytest.raises(SettingsError, match="workspace_id"):
        AzureFirewallCollector({}, object())
    with pytest.raises(SettingsError, match="endpoint"):
        AzureFirewallCollector({"workspace_id": WS, "endpoint": "http://la.example.org"}, object())
    with pytest.raises(SettingsError, match="tables"):
        AzureFirewallCollector({"workspace_id": WS, "tables": ["SigninLogs"]}, object())
    with pytest.raises(SettingsError, match="max_rows"):
        AzureFirewallCollector({"workspace_id": WS, "max_rows": 600_000}, object())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    counts=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=4),
    row_limit=st.integers(min_value=20, max_value=200),
    seed=st.integers(0, 1000),
)
def test_property_runs_store_every_row_exactly_once(service, tmp_path_factory, counts, row_limit, seed):
    """Whatever the arrivals per run and the service's row limit: each row once, no errors."""
    state = service.state
    state.tables.clear()
    state.log.clear()
    state.row_limit = row_limit
    store = EmbeddedStore(tmp_path_factory.mktemp("prop"))
    checkpoints = Checkpoints(store.state)
    clock = Clock(T0)
    collector = make_collector(service, clock, initial_lookback_hours=1, overlap_seconds=300)
    added: list[dict] = []
    for n, count in enumerate(counts):
        # each run's rows land in the 10 minutes before its clock, some late (older than the checkpoint)
        rows = (
            make_rows(
                "AZFWNetworkRule",
                clock.now - timedelta(minutes=10),
                clock.now - timedelta(seconds=61),
                count,
                seed=seed + n,
            )
            if count
            else []
        )
        state.add_rows("AZFWNetworkRule", rows)
        added += rows
        run = collector.collect_once(store, checkpoints)
        assert run.error is None
        clock.now += timedelta(minutes=7)
    stored = stored_originals(store)
    assert len(stored) == len(added) and item_ids(stored) == item_ids(added)


def test_a_row_the_parser_cannot_read_is_quarantined_and_the_rest_stored(service, store, checkpoints):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=30), T0 - timedelta(minutes=5), 20, seed=20)
    rows[7]["TimeGenerated"] += "+garbled"  # neither the SDK nor the parser can read this time
    service.state.add_rows("AZFWNetworkRule", rows)
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1)
    run = collector.collect_once(store, checkpoints)
    assert run.error is None
    assert (run.stored, run.quarantined) == (19, 1)
    [reject] = store.state.quarantined()
    assert reject["source"] == "azure-firewall" and "time" in reject["reason"]
    assert json.loads(reject["record"])["_ItemId"] == rows[7]["_ItemId"]
    assert reject["origin"].startswith(f"log-analytics:{WS}/AZFWNetworkRule#")
    assert checkpoints.get("azure-firewall")["tables"]["AZFWNetworkRule"]["until"].startswith("2026-11-20T08:59")

    # the next run reads the row again (overlap) but does not quarantine it twice
    again = collector.collect_once(store, checkpoints)
    assert again.error is None and again.quarantined == 0 and store.state.quarantine_count() == 1


class FailingStore(EmbeddedStore):
    """A real store whose n-th append fails (a full disk), recording the checkpoint it saw."""

    def __init__(self, home, fail_on: int):
        super().__init__(home)
        self.fail_on, self.calls, self.seen = fail_on, 0, []

    def append(self, events):
        self.calls += 1
        self.seen.append(Checkpoints(self.state).get("azure-firewall"))
        if self.calls == self.fail_on:
            raise OSError(28, "No space left on device")
        return super().append(events)


def test_the_checkpoint_moves_only_after_the_slice_is_stored(service, tmp_path):
    rows = make_rows("AZFWNetworkRule", T0 - timedelta(minutes=55), T0 - timedelta(minutes=2), 300, seed=21)
    service.state.add_rows("AZFWNetworkRule", rows)
    store = FailingStore(tmp_path / "home", fail_on=3)
    checkpoints = Checkpoints(store.state)
    collector = make_collector(service, Clock(T0), initial_lookback_hours=1, max_slice_minutes=10, max_rows=1_000)
    collector.max_slice = collector.min_slice = timedelta(minutes=10)  # fixed 10-minute slices

    run = collector.collect_once(store, checkpoints)
    assert run.error and "No space left on device" in run.error
    assert store.seen[0] is None  # the first slice was appended before any checkpoint existed
    stored_until = checkpoints.get("azure-firewall")["tables"]["AZFWNetworkRule"]["until"]
    assert stored_until == store.seen[2]["tables"]["AZFWNetworkRule"]["until"]  # end of slice 2
    assert stored_until.startswith("2026-11-20T08:19")  # start 07:59, two 10-minute slices

    recovered = collector.collect_once(store, checkpoints)
    assert recovered.error is None
    assert item_ids(stored_originals(store)) == item_ids(rows) and store.count(["azure.firewall"]) == 300
