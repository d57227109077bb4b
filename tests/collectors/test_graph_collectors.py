"""Live Entra ID sign-in and Defender collectors: real msgraph-sdk and azure-identity clients
against the local Graph stand-in (tests/support/graph_standin.py).

The records served are Microsoft's own samples from the Graph API reference
(microsoftgraph/microsoft-graph-docs: signin-list.md, v1.0 and beta; microsoftgraph/
microsoft-graph-docs-contrib: security-list-alerts_v2.md, security-list-incidents.md), copied
with new ids and times.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.live.graph_defender import DefenderCollector, alert_history, latest_alerts
from collectors.live.graph_signins import EntraSigninCollector
from microsoft.graph import GraphEndpoint
from microsoft.identity import credential_from
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.support.graph_standin import (
    LICENCE_403,
    PERMISSION_403,
    GraphStandIn,
    iso,
    make_alerts,
    make_signins,
    sample_alert,
    sample_incident,
    sample_signins,
)

SECRET = "stand-in-secret-Zq9"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
WIDE = (NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=1))


@pytest.fixture
def standin():
    server = GraphStandIn().start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


@pytest.fixture
def samples(shared_data):
    return sample_signins(shared_data)


@pytest.fixture
def store(tmp_path):
    return EmbeddedStore(tmp_path / "home")


def identity(standin: GraphStandIn) -> dict:
    return {
        "auth": "client_secret",
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "client_secret_env": "GRAPH_SECRET",
        "authority_host": standin.authority,
        "ca_bundle": standin.ca_bundle,
    }


def signins_collector(standin, page_size=10, api_version="v1.0", **kwargs) -> EntraSigninCollector:
    settings_ = identity(standin)
    endpoint = GraphEndpoint(
        base_url=standin.graph_url,
        api_version=api_version,
        page_size=page_size,
        max_retries=kwargs.pop("max_retries", 3),
        retry_delay=0.05,
    )
    return EntraSigninCollector(lambda: credential_from(settings_, {"GRAPH_SECRET": SECRET}), endpoint, **kwargs)


def stored_ids(store) -> list[str]:
    return store.search(["azure.signinlogs"], *WIDE).column("event.id").to_pylist()


def test_every_page_is_stored_once_with_the_record_as_original(standin, samples, store):
    records = make_signins(samples, 95, NOW - dt.timedelta(hours=3), dt.timedelta(minutes=1))
    standin.add(signins=records)
    checkpoints = Checkpoints(store.state)

    run = signins_collector(standin).collect_once(store, checkpoints)

    assert run.error is None and run.stored == 95
    assert len(standin.requests("/v1.0/auditLogs/signIns")) == 10  # 10 pages of at most 10
    table = store.search(["azure.signinlogs"], *WIDE, columns=["event.original", "user.name"])
    assert sorted(table.column("event.id").to_pylist()) == sorted(r["id"] for r in records)
    by_id = {r["id"]: r for r in records}
    for row in table.to_pylist()[:10]:
        assert orjson.loads(row["event.original"]) == by_id[row["event.id"]]
    newest = max(r["createdDateTime"] for r in records)
    assert checkpoints.get("entra-signins")["signIns"].startswith(newest[:19])
    assert checkpoints.runs("entra-signins")[-1] == run


def test_next_run_starts_at_checkpoint_minus_overlap_and_takes_late_signins(standin, samples, store):
    records = make_signins(samples, 20, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=2))
    standin.add(signins=records)
    checkpoints = Checkpoints(store.state)
    collector = signins_collector(standin, overlap=dt.timedelta(minutes=10))
    collector.collect_once(store, checkpoints)
    newest = dt.datetime.fromisoformat(checkpoints.get("entra-signins")["signIns"])

    # Entra publishes a sign-in minutes late: created before the newest one stored.
    late = make_signins(samples, 1, newest - dt.timedelta(minutes=6), dt.timedelta(0), seed="late")
    standin.add(signins=late)
    run = collector.collect_once(store, checkpoints)

    last = standin.requests("/auditLogs/signIns")[-1]
    assert last.query["$filter"] == f"createdDateTime ge {(newest - dt.timedelta(minutes=10)):%Y-%m-%dT%H:%M:%SZ}"
    assert run.error is None and run.stored == 1
    assert sorted(stored_ids(store)) == sorted(r["id"] for r in records + late)


def test_throttling_waits_what_retry_after_says(standin, samples, store):
    standin.add(signins=make_signins(samples, 30, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1)))
    standin.fault(429, times=1, paged=True, retry_after="2", code="TooManyRequests")
    standin.fault(503, times=1, paged=True, retry_after="1", code="ServiceUnavailable")

    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))

    assert run.error is None and run.stored == 30
    requests = standin.requests("/auditLogs/signIns")
    statuses = [r.status for r in requests]
    assert statuses[:4] == [200, 429, 503, 200]
    assert requests[2].at - requests[1].at >= 2.0  # kiota's RetryHandler honoured Retry-After
    assert requests[3].at - requests[2].at >= 1.0


def test_a_throttling_storm_fails_the_run_keeps_its_pages_and_the_next_run_completes(standin, samples, store):
    records = make_signins(samples, 30, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1))
    standin.add(signins=records)
    standin.fault(429, times=3, paged=True, retry_after="0")  # more than max_retries allows
    checkpoints = Checkpoints(store.state)
    collector = signins_collector(standin, max_retries=2)

    failed = collector.collect_once(store, checkpoints)

    assert "429" in failed.error and "resumes from the checkpoint" in failed.error
    assert failed.stored == 10  # the first page is in the store
    assert checkpoints.get("entra-signins") is None  # but the window is not done: no checkpoint
    done = collector.collect_once(store, checkpoints)
    assert done.error is None and done.stored == 20 and done.duplicates == 10
    assert sorted(stored_ids(store)) == sorted(r["id"] for r in records)


def test_a_page_failing_mid_run_does_not_move_the_checkpoint_past_unread_pages(standin, samples, store):
    first = make_signins(samples, 5, NOW - dt.timedelta(hours=5), dt.timedelta(minutes=1), seed="old")
    standin.add(signins=first)
    checkpoints = Checkpoints(store.state)
    collector = signins_collector(standin)
    collector.collect_once(store, checkpoints)
    before = checkpoints.get("entra-signins")

    newer = make_signins(samples, 25, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=1), seed="new")
    standin.add(signins=newer)
    standin.fault(500, times=1, paged=True, code="UnknownError", message="internal error")
    partial = collector.collect_once(store, checkpoints)

    assert partial.error is not None and "500" in partial.error
    assert partial.stored == 10  # the newest page; the older ones are unread
    assert checkpoints.get("entra-signins") == before
    collector.collect_once(store, checkpoints)
    assert sorted(stored_ids(store)) == sorted(r["id"] for r in first + newer)


def test_licence_403_says_which_licence(standin, samples, store):
    standin.add(signins=make_signins(samples, 3, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1)))
    standin.fault(403, code=LICENCE_403[0], message=LICENCE_403[1])
    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))
    assert "Entra ID P1 or P2 licence" in run.error and run.stored == 0


def test_permission_403_names_the_permissions(standin, samples, store):
    standin.fault(403, code=PERMISSION_403[0], message=PERMISSION_403[1])
    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))
    assert "AuditLog.Read.All" in run.error and "Directory.Read.All" in run.error


def test_an_expired_token_is_refreshed_and_the_run_completes(standin, samples, store):
    standin.token_lifetime = 2  # seconds: the Retry-After wait outlives the token
    standin.add(signins=make_signins(samples, 30, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1)))
    standin.fault(429, times=1, paged=True, retry_after="3")

    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))

    assert run.error is None and run.stored == 30
    assert 401 in [r.status for r in standin.requests("/auditLogs/signIns")]  # Graph refused the old one
    assert len(standin.tenant.token_requests) >= 2  # and a new token was fetched


def test_a_token_refused_on_the_first_page_is_replaced_once(standin, samples, store):
    standin.add(signins=make_signins(samples, 3, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1)))
    standin.fault(401, times=1, code="InvalidAuthenticationToken", message="Lifetime validation failed")
    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))
    assert run.error is None and run.stored == 3
    first, retried = standin.requests("/auditLogs/signIns")[:2]
    assert first.status == 401 and retried.status == 200 and first.token != retried.token
    assert len(standin.tenant.token_requests) == 2


def test_a_token_refused_twice_is_a_clear_error(standin, samples, store):
    standin.add(signins=make_signins(samples, 3, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1)))
    standin.fault(401, times=2, code="InvalidAuthenticationToken", message="Access token has expired")
    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))
    assert "did not accept the access token" in run.error


def test_beta_collects_the_configured_kinds_and_v1_only_interactive(standin, samples, tmp_path):
    kinds = ("interactiveUser", "nonInteractiveUser", "servicePrincipal")
    standin.add(signins=make_signins(samples, 30, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1), kinds=kinds))

    beta_store, v1_store = EmbeddedStore(tmp_path / "beta"), EmbeddedStore(tmp_path / "v1")
    signins_collector(standin, api_version="beta", kinds=kinds).collect_once(beta_store, Checkpoints(beta_store.state))
    signins_collector(standin).collect_once(v1_store, Checkpoints(v1_store.state))

    def categories(store):
        table = store.search(["azure.signinlogs"], *WIDE, columns=["azure.signinlogs.category"])
        return sorted(set(table.column("azure.signinlogs.category").to_pylist())), table.num_rows

    assert categories(beta_store) == (["NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "SignInLogs"], 30)
    assert categories(v1_store) == (["SignInLogs"], 10)
    beta_filter = standin.requests("/beta/auditLogs/signIns")[0].query["$filter"]
    assert "signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser'" in beta_filter


def test_non_interactive_kinds_need_beta(standin):
    with pytest.raises(ValueError, match="kinds: .*api_version = 'beta'"):
        signins_collector(standin, kinds=("interactiveUser", "nonInteractiveUser"))


def test_a_broken_record_is_quarantined_and_its_page_stored(standin, samples, store):
    records = make_signins(samples, 12, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=1))
    records[3]["createdDateTime"] = "yesterday-ish"
    standin.add(signins=records)
    run = signins_collector(standin).collect_once(store, Checkpoints(store.state))
    assert run.error is None and run.stored == 11 and run.quarantined == 1
    kept = store.state.quarantined()[0]
    assert "not a timestamp" in kept["reason"] and records[3]["id"] in kept["record"]
    assert kept["origin"].startswith(standin.graph_url)
    again = signins_collector(standin).collect_once(store, Checkpoints(store.state))  # from scratch
    assert again.quarantined == 0 and store.state.quarantine_count() == 1


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.integers(0, 45),
    page_size=st.integers(1, 12),
    failing=st.integers(0, 6),
    status=st.sampled_from([500, 502, 429]),
)
def test_property_whatever_page_fails_two_runs_store_every_signin_exactly_once(
    standin, samples, tmp_path_factory, count, page_size, failing, status
):
    store = EmbeddedStore(tmp_path_factory.mktemp("prop"))
    seed = f"p{count}-{page_size}-{failing}-{status}"
    records = make_signins(samples, count, NOW - dt.timedelta(hours=2), dt.timedelta(seconds=97), seed=seed)
    standin.tenant.signins.clear()
    standin.add(signins=records)
    if failing:
        standin.fault(status, times=failing, paged=True, retry_after="0")
    checkpoints = Checkpoints(store.state)
    collector = signins_collector(standin, page_size=page_size, max_retries=1)
    collector.collect_once(store, checkpoints)
    standin.tenant.faults.clear()
    final = collector.collect_once(store, checkpoints)
    assert final.error is None
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == count
    assert set(ids) == {r["id"] for r in records}


# -- Defender -------------------------------------------------------------------------------------


def defender_collector(standin, **kwargs) -> DefenderCollector:
    settings_ = identity(standin)
    endpoint = GraphEndpoint(base_url=standin.graph_url, page_size=kwargs.pop("page_size", 4), retry_delay=0.05)
    return DefenderCollector(lambda: credential_from(settings_, {"GRAPH_SECRET": SECRET}), endpoint, **kwargs)


def test_updated_alert_replaces_its_earlier_version_and_its_history_is_kept(standin, shared_data, store):
    alerts = make_alerts(sample_alert(shared_data), 9, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=7))
    incident = sample_incident(shared_data)
    incidents = [
        dict(incident, id=str(1000 + n), lastUpdateDateTime=iso(NOW - dt.timedelta(minutes=50 - n))) for n in range(5)
    ]
    standin.add(alerts=alerts, incidents=incidents)
    checkpoints = Checkpoints(store.state)
    collector = defender_collector(standin)

    first = collector.collect_once(store, checkpoints)
    assert first.error is None and first.stored == 9  # incidents bring the same versions again
    assert first.duplicates == 9
    assert set(checkpoints.get("defender")) == {"alerts_v2", "incidents"}
    assert standin.requests("/security/incidents")[0].query["$expand"] == "alerts"

    target = alerts[2]["id"]
    standin.update_alert(target, status="resolved", lastUpdateDateTime=iso(NOW - dt.timedelta(minutes=1)))
    second = collector.collect_once(store, checkpoints)
    assert second.error is None and second.stored == 1

    assert [v["status"] for v in alert_history(store, target, *WIDE)] == ["new", "resolved"]
    latest = latest_alerts(store, *WIDE)
    assert latest.num_rows == 9 and store.count(["m365_defender.alert"]) == 9
    # The alert's own id, as a file replay of a Defender export gives it: one alert, two versions.
    assert sorted(latest.column("event.id").to_pylist()) == sorted(a["id"] for a in alerts)
    statuses = dict(zip(latest.column("event.id").to_pylist(), latest.column("m365_defender.alert.status").to_pylist()))
    assert statuses[target] == "resolved" and list(statuses.values()).count("resolved") == 1
    third = collector.collect_once(store, checkpoints)
    assert third.stored == 0  # re-read versions are duplicates
    assert len(alert_history(store, target, *WIDE)) == 2


def test_an_alert_replayed_from_a_file_and_collected_live_is_one_alert(standin, shared_data, store, tmp_path):
    from collectors.replay import ingest

    alerts = make_alerts(sample_alert(shared_data), 3, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=7))
    export = tmp_path / "defender-export.json"
    export.write_bytes(orjson.dumps({"value": alerts}))
    ingest(store, [export], "defender-alerts")
    target = alerts[0]["id"]
    standin.add(alerts=alerts)
    standin.update_alert(target, status="resolved", lastUpdateDateTime=iso(NOW - dt.timedelta(minutes=1)))
    run = defender_collector(standin, listings=("alerts_v2",)).collect_once(store, Checkpoints(store.state))
    assert run.error is None and run.stored == 1 and run.duplicates == 2
    latest = latest_alerts(store, *WIDE)
    assert latest.num_rows == 3
    assert (
        dict(zip(latest.column("event.id").to_pylist(), latest.column("m365_defender.alert.status").to_pylist()))[
            target
        ]
        == "resolved"
    )


def test_defender_permission_403_names_the_permission(standin, store):
    standin.fault(403, path="alerts_v2", code="Forbidden", message="Missing application roles.")
    run = defender_collector(standin, listings=("alerts_v2",)).collect_once(store, Checkpoints(store.state))
    assert "SecurityAlert.Read.All" in run.error
