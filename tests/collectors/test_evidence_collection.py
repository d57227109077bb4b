"""Compliance evidence collection: the real clients (msgraph-sdk through GraphReader, httpx for
Defender for Endpoint and Resource Manager, azure-identity for tokens) against the stand-in
servers of tests/support/evidence_standin.py, into snapshots read back with DuckDB.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.evidence import defender_devices, graph_directory, intune
from collectors.evidence.columns import PageConverter
from collectors.evidence.snapshot_run import EvidenceSettings, configured_jobs, snapshot_all
from microsoft.azure_resources import ArmEndpoint
from microsoft.defender_endpoint import SCOPE as DEFENDER_SCOPE
from microsoft.defender_endpoint import DefenderEndpoint, defender_reader
from microsoft.graph import GraphEndpoint, GraphReader
from microsoft.identity import credential_from
from reports.registry import EvidenceSource
from store.snapshots import SnapshotStore
from tests.support.evidence_standin import (
    DEFENDER_403,
    EvidenceStandIn,
    legacy_signins,
    make_devices,
    make_policies,
    make_roles,
    make_users,
    rule_collection_groups,
    software,
    vulnerability,
)
from tests.support.graph_standin import PERMISSION_403, sample_signins

SECRET = "stand-in-secret-Ev7"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
POLICY = "/subscriptions/0000-sub/resourceGroups/rg-net/providers/Microsoft.Network/firewallPolicies/council-fw"
ALL_SOURCES = {
    "graph.users",
    "graph.authentication_methods",
    "graph.conditional_access",
    "graph.directory_roles",
    "graph.signins",
    "intune.compliance",
    "defender.machines",
    "defender.antivirus_health",
    "defender.missing_updates",
    "defender.software_eol",
    "azure_firewall.rules",
}


@pytest.fixture
def standin():
    server = EvidenceStandIn(page_limit=7).start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


@pytest.fixture
def snapshots(tmp_path):
    return SnapshotStore(tmp_path / "home")


def credential(standin):
    identity = {
        "auth": "client_secret",
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "client_secret_env": "EVIDENCE_SECRET",
        "authority_host": standin.authority,
        "ca_bundle": standin.ca_bundle,
    }
    return lambda: credential_from(identity, {"EVIDENCE_SECRET": SECRET})


def evidence_settings(standin, **overrides) -> EvidenceSettings:
    return EvidenceSettings(
        credential_factory=credential(standin),
        graph=GraphEndpoint(base_url=standin.graph_url, page_size=overrides.pop("graph_page", 50), retry_delay=0.05),
        defender=DefenderEndpoint(
            base_url=standin.defender_url,
            retry_delay=0.05,
            max_retry_wait=overrides.pop("max_retry_wait", 5.0),
            max_retries=overrides.pop("max_retries", 4),
        ),
        arm=ArmEndpoint(base_url=standin.arm_url, retry_delay=0.05),
        firewall_policies=(POLICY,),
        **overrides,
    )


def fill(standin, shared_data, users=60, devices=40) -> dict:
    """An estate with gaps to find: what each source should show."""
    people, registrations = make_users(users, NOW)
    roles, members = make_roles(people)
    estate = make_devices(devices, NOW)
    machines = estate["machines"]
    vulnerabilities = [
        vulnerability(machines[0], "CVE-2024-0001", "Critical", NOW - dt.timedelta(days=30), NOW),
        vulnerability(machines[1], "CVE-2024-0002", "High", NOW - dt.timedelta(days=5), NOW),
        vulnerability(machines[2], None, None, NOW - dt.timedelta(days=50), NOW),  # installed, not vulnerable
    ]
    inventory = [
        software(machines[0], "windows_10", "10.0.19045.4651", "EOS Version", "2025-10-14T00:00:00+00:00", NOW),
        software(machines[1], "office", "16.0.17928.20114", "None", None, NOW),
        software(
            machines[2], "exchange_server", "15.1.2507.39", "Upcoming EOS Software", "2025-10-14T00:00:00+00:00", NOW
        ),
    ]
    signins = legacy_signins(sample_signins(shared_data), 24, NOW - dt.timedelta(days=10), dt.timedelta(hours=10))
    standin.set(
        users=people,
        registrations=registrations,
        policies=make_policies(NOW, people[0]["id"]),
        roles=roles,
        members=members,
        signins=signins,
        vulnerabilities=vulnerabilities,
        software=inventory,
        rule_groups={POLICY: rule_collection_groups(POLICY)},
        **estate,
    )
    recent = [s for s in signins if s["createdDateTime"] >= (NOW - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S")]
    return {
        "users": people,
        "not_registered": sum(1 for r in registrations if not r["isMfaRegistered"]),
        "recent_signins": recent,
        "noncompliant": sum(1 for d in estate["managed_devices"] if d["complianceState"] == "noncompliant"),
        "stale_signatures": sum(1 for a in estate["antivirus"] if a["avIsSignatureUpToDate"] == "False"),
    }


def rows(snapshots: SnapshotStore, source: str, sql: str = "SELECT count(*) FROM snapshot") -> list[tuple]:
    entry = snapshots.latest(source, collected_only=True)
    assert entry is not None, f"{source} has no collected snapshot"
    with duckdb.connect() as con:
        snapshot = snapshots.relation(con, entry)  # noqa: F841 - named in the SQL
        return con.sql(sql).fetchall()


def test_source_names_are_the_catalogue_registry_names():
    assert ALL_SOURCES <= {s.value for s in EvidenceSource}


def test_every_source_is_collected_page_by_page_into_a_private_snapshot_and_read_back(standin, shared_data, snapshots):
    expected = fill(standin, shared_data)

    run = snapshot_all(configured_jobs(evidence_settings(standin)), snapshots)

    assert {e.source for e in run.entries} == ALL_SOURCES
    assert run.not_evidenced == ()
    # Written whole (no temporary file left) and for the user's eyes only: it is personal data.
    files = [p for p in snapshots.root.rglob("*") if p.is_file() and not p.name.startswith(".index")]
    assert len(files) == len(ALL_SOURCES) + 1 and not [p for p in files if ".tmp" in p.name]  # + the manifest
    assert {oct(os.stat(p).st_mode & 0o777) for p in files} == {"0o600"}
    assert oct(os.stat(snapshots.root).st_mode & 0o777) == "0o700"
    # Every page followed: 60 users at 7 a page is 9 pages.
    assert len(standin.requests("/v1.0/users")) == math.ceil(60 / 7)
    assert len(standin.requests("/api/deviceavinfo")) == math.ceil(40 / 7)
    assert sorted(r[0] for r in rows(snapshots, "graph.users", "SELECT id FROM snapshot")) == sorted(
        u["id"] for u in expected["users"]
    )
    stale_sql = (
        "SELECT count(*) FROM snapshot WHERE account_enabled "
        f"AND last_successful_sign_in_at < TIMESTAMPTZ '{(NOW - dt.timedelta(days=90)).isoformat()}'"
    )
    assert rows(snapshots, "graph.users", stale_sql)[0][0] == sum(1 for n in range(60) if n % 7 == 3 and n % 50 != 49)
    assert rows(snapshots, "graph.users", "SELECT count(*) FROM snapshot WHERE NOT account_enabled")[0][0] == 1
    assert (
        rows(snapshots, "graph.authentication_methods", "SELECT count(*) FROM snapshot WHERE NOT is_mfa_registered")[0][
            0
        ]
        == expected["not_registered"]
    )
    assert rows(
        snapshots,
        "graph.conditional_access",
        "SELECT display_name, client_app_types, built_in_controls FROM snapshot ORDER BY 1",
    )[1] == ("Block legacy authentication", ["exchangeActiveSync", "other"], ["block"])
    assert sorted(
        rows(snapshots, "graph.directory_roles", "SELECT role_name, member_user_principal_name FROM snapshot"),
        key=str,
    ) == sorted(
        [
            ("Global Administrator", expected["users"][0]["userPrincipalName"]),
            ("Global Administrator", expected["users"][1]["userPrincipalName"]),
            ("User Administrator", expected["users"][2]["userPrincipalName"]),
            ("Security Reader", None),  # a role with nobody in it is still listed
        ],
        key=str,
    )
    legacy = rows(
        snapshots,
        "graph.signins",
        "SELECT client_app_used, count(*) FROM snapshot GROUP BY 1 ORDER BY 1",
    )
    assert sum(n for _, n in legacy) == len(expected["recent_signins"])  # the 7-day window only
    assert {app for app, _ in legacy} >= {"IMAP4", "Browser"}
    assert (
        rows(snapshots, "intune.compliance", "SELECT count(*) FROM snapshot WHERE compliance_state = 'noncompliant'")[
            0
        ][0]
        == expected["noncompliant"]
    )
    assert rows(snapshots, "defender.machines")[0][0] == 40
    assert (
        rows(snapshots, "defender.antivirus_health", "SELECT count(*) FROM snapshot WHERE NOT signature_up_to_date")[0][
            0
        ]
        == expected["stale_signatures"]
    )
    # Only rows with a CVE, and Defender's zone-less time read as UTC.
    assert rows(
        snapshots,
        "defender.missing_updates",
        "SELECT cve_id, severity, cvss_score, first_seen FROM snapshot ORDER BY 1",
    ) == [
        ("CVE-2024-0001", "Critical", 9.8, NOW - dt.timedelta(days=30)),
        ("CVE-2024-0002", "High", 8.1, NOW - dt.timedelta(days=5)),
    ]
    assert rows(
        snapshots, "defender.software_eol", "SELECT software_name, end_of_support_status FROM snapshot ORDER BY 1"
    ) == [
        ("exchange_server", "Upcoming EOS Software"),
        ("windows_10", "EOS Version"),
    ]
    assert sorted(
        rows(
            snapshots,
            "azure_firewall.rules",
            "SELECT collection_type, rule_name, destination_ports, description FROM snapshot",
        ),
        key=str,
    ) == sorted(
        [
            ("FirewallPolicyNatRuleCollection", "rdp-to-jumpbox", ["3389"], None),
            (
                "FirewallPolicyFilterRuleCollection",
                "dns-out",
                ["53"],
                "Outbound DNS to resolvers; need: name resolution; approved: J. Smith",
            ),
            ("FirewallPolicyFilterRuleCollection", None, None, None),  # the empty collection
        ],
        key=str,
    )


def test_defender_throttling_waits_what_retry_after_says(standin, shared_data, snapshots):
    fill(standin, shared_data)
    standin.fault(429, path="/api/machines", paged=True, retry_after="1", code="TooManyRequests", message="Rate limit")
    jobs = [j for j in configured_jobs(evidence_settings(standin)) if j.source == "defender.machines"]

    run = snapshot_all(jobs, snapshots)

    assert run.entries[0].collected and run.entries[0].rows == 40
    requests = standin.requests("/api/machines")
    assert [r.status for r in requests[:3]] == [200, 429, 200]
    assert requests[2].at - requests[1].at >= 1.0
    assert requests[2].query == requests[1].query  # the same page asked again, not skipped


def test_graph_throttling_waits_what_retry_after_says(standin, shared_data, snapshots):
    fill(standin, shared_data)
    standin.fault(429, path="/v1.0/users", paged=True, retry_after="1", code="TooManyRequests")
    jobs = [j for j in configured_jobs(evidence_settings(standin)) if j.source == "graph.users"]

    run = snapshot_all(jobs, snapshots)

    assert run.entries[0].collected and run.entries[0].rows == 60
    requests = standin.requests("/v1.0/users")
    assert [r.status for r in requests[:3]] == [200, 429, 200]
    assert requests[2].at - requests[1].at >= 1.0


def test_a_retry_after_beyond_the_bound_fails_that_source_at_once_with_a_reason(standin, shared_data, snapshots):
    fill(standin, shared_data)
    standin.fault(429, path="/api/deviceavinfo", retry_after="3600", code="TooManyRequests")
    jobs = [
        j for j in configured_jobs(evidence_settings(standin, max_retry_wait=5.0)) if j.source.startswith("defender.")
    ]

    started = time.monotonic()
    run = snapshot_all(jobs, snapshots)

    assert time.monotonic() - started < 10
    failed = {e.source: e for e in run.not_evidenced}
    assert set(failed) == {"defender.antivirus_health"}
    assert "3600 s" in failed["defender.antivirus_health"].reason
    assert failed["defender.antivirus_health"].http_status == 429


def test_a_missing_permission_is_not_evidenced_with_the_permission_named_and_the_rest_collected(
    standin, shared_data, snapshots
):
    fill(standin, shared_data)
    standin.fault(
        403,
        path="SoftwareVulnerabilitiesByMachine",
        code=DEFENDER_403,
        message="The application does not have any of the required application roles (Vulnerability.Read.All) "
        "to access the resource.",
    )
    standin.fault(403, path="/identity/conditionalAccess/policies", code=PERMISSION_403[0], message=PERMISSION_403[1])

    run = snapshot_all(configured_jobs(evidence_settings(standin)), snapshots)

    failed = {e.source: e for e in run.not_evidenced}
    assert set(failed) == {"defender.missing_updates", "graph.conditional_access"}
    assert "Vulnerability.Read.All" in failed["defender.missing_updates"].reason
    assert "Policy.Read.All" in failed["graph.conditional_access"].reason
    assert all(e.http_status == 403 for e in failed.values())
    assert {e.source for e in run.entries if e.collected} == ALL_SOURCES - set(failed)
    # A report asking now sees the refusal, not an older reading; and no rows were kept.
    latest = snapshots.latest("defender.missing_updates")
    assert latest is not None and not latest.collected and latest.file is None
    assert snapshots.latest("defender.missing_updates", collected_only=True) is None
    assert not list((snapshots.root / "defender.missing_updates").glob("*"))


def test_a_source_failing_after_some_pages_keeps_no_partial_snapshot(standin, shared_data, snapshots):
    fill(standin, shared_data)
    standin.fault(503, path="/api/machines", paged=True, times=10, code="ServiceUnavailable")
    jobs = [j for j in configured_jobs(evidence_settings(standin, max_retries=1)) if j.source == "defender.machines"]

    run = snapshot_all(jobs, snapshots)

    assert not run.entries[0].collected and "503" in run.entries[0].reason
    assert not list((snapshots.root / "defender.machines").glob("*"))


def test_no_secret_or_token_reaches_the_logs_or_the_manifest(standin, shared_data, snapshots, caplog):
    fill(standin, shared_data)
    standin.fault(403, path="/api/machines", code=DEFENDER_403, message="Missing application roles")
    caplog.set_level(logging.DEBUG)

    snapshot_all(configured_jobs(evidence_settings(standin)), snapshots)

    assert DEFENDER_SCOPE in standin.token_scopes()  # Defender's own audience, not Graph's
    tokens = {r.token for r in standin.requests() if r.token}
    written = caplog.text + snapshots.index.read_text()
    assert tokens and SECRET not in written
    assert not [t for t in tokens if t in written]


def test_two_snapshots_make_a_series_for_trends_and_time_to_remediate(standin, shared_data, snapshots):
    fill(standin, shared_data, users=5, devices=3)
    machines = standin.estate.machines
    first_seen = NOW - dt.timedelta(days=20)
    before = [
        vulnerability(machines[0], "CVE-2024-0001", "Critical", first_seen, NOW),
        vulnerability(machines[1], "CVE-2024-0002", "High", first_seen, NOW),
    ]
    after = [before[1], vulnerability(machines[2], "CVE-2024-0003", "High", NOW, NOW)]
    monday, thursday = NOW - dt.timedelta(days=3), NOW
    jobs = defender_devices.jobs(
        lambda: defender_reader(evidence_settings(standin).defender, credential(standin)),
        evidence_settings(standin).defender,
    )
    missing = [j for j in jobs if j.source == "defender.missing_updates"]

    standin.set(vulnerabilities=before)
    snapshot_all(missing, snapshots, clock=lambda: monday)
    standin.set(vulnerabilities=after)
    snapshot_all(missing, snapshots, clock=lambda: thursday)

    series = snapshots.series("defender.missing_updates")
    assert [e.taken_at for e in series] == [monday, thursday]
    assert snapshots.latest("defender.missing_updates", at=monday + dt.timedelta(days=1)) == series[0]
    with duckdb.connect() as con:
        snapshots.series_relation(con, "defender.missing_updates").create_view("series")
        trend = con.sql("SELECT snapshot_taken_at, count(*) FROM series GROUP BY 1 ORDER BY 1").fetchall()
        fixed = con.sql(
            "SELECT cve_id, max(snapshot_taken_at) - min(first_seen) AS open_for FROM series GROUP BY device_id, cve_id "
            "HAVING max(snapshot_taken_at) < (SELECT max(snapshot_taken_at) FROM series)"
        ).fetchall()
    assert trend == [(monday, 2), (thursday, 2)]
    # Fixed between the two snapshots: open at least from first seen to the last snapshot it was in.
    assert fixed == [("CVE-2024-0001", monday - first_seen)]


def test_a_council_sized_tenant_is_collected_in_bulk(tmp_path, shared_data):
    """5,000 users and 6,000 devices through Graph and Defender pages of 1,000."""
    standin = EvidenceStandIn(page_limit=1000).start()
    try:
        standin.add_client("cyberwell-app", SECRET)
        people, registrations = make_users(5000, NOW)
        standin.set(users=people, registrations=registrations, **make_devices(6000, NOW))
        factory = credential(standin)
        graph = GraphEndpoint(base_url=standin.graph_url, page_size=1000)

        def reader() -> GraphReader:
            return GraphReader(graph, factory)

        defender = DefenderEndpoint(base_url=standin.defender_url)
        jobs = [
            graph_directory.users(reader),
            graph_directory.authentication_methods(reader),
            intune.compliance(reader),
            *[
                j
                for j in defender_devices.jobs(lambda: defender_reader(defender, factory), defender)
                if j.source in ("defender.machines", "defender.antivirus_health")
            ],
        ]
        snapshots = SnapshotStore(tmp_path / "home")

        run = snapshot_all(jobs, snapshots)

        assert {e.source: e.rows for e in run.entries} == {
            "graph.users": 5000,
            "graph.authentication_methods": 5000,
            "intune.compliance": 6000,
            "defender.machines": 6000,
            "defender.antivirus_health": 6000,
        }
        assert len(standin.requests("/v1.0/users")) == 6  # 999 a page, as Graph allows for users
    finally:
        standin.stop()


# -- the page converter and the snapshot store, without a server ----------------------------------

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["id", "firstSeen", "osBuild", "machineTags", "isAadJoined"]), ODD), max_size=8
    )
)
def test_property_any_values_give_one_row_per_record_and_every_misfit_is_counted(records):
    columns = [
        c
        for c in defender_devices.MACHINE_COLUMNS
        if c.name in ("id", "first_seen", "os_build", "machine_tags", "is_aad_joined")
    ]
    converter = PageConverter(columns)
    try:
        table = converter.table(records)
    finally:
        converter.close()
    assert table.num_rows == len(records) and table.schema == converter.schema
    builds = [r.get("osBuild") for r in records]

    def fits(build) -> bool:  # os_build is an int64 column; JSON numbers have no bound
        return isinstance(build, int) and not isinstance(build, bool) and -(2**63) <= build < 2**63

    misfits = sum(1 for b in builds if b is not None and not fits(b))
    assert converter.unreadable.get("os_build", 0) == misfits
    assert table.column("os_build").to_pylist() == [b if fits(b) else None for b in builds]


def test_an_unreadable_value_is_noted_in_the_manifest_not_lost_silently(standin, shared_data, snapshots):
    fill(standin, shared_data, users=5, devices=3)
    machines = standin.estate.machines
    broken = vulnerability(machines[0], "CVE-2024-0009", "High", NOW, NOW)
    broken["firstSeenTimestamp"] = "last Tuesday"
    standin.set(vulnerabilities=[broken])
    jobs = [j for j in configured_jobs(evidence_settings(standin)) if j.source == "defender.missing_updates"]

    entry = snapshot_all(jobs, snapshots).entries[0]

    assert entry.collected and entry.rows == 1
    assert entry.notes == ("1 value(s) of first_seen were not of its type (timestamp[us, tz=UTC]) and are null",)
    assert snapshots.latest("defender.missing_updates").notes == entry.notes


def test_two_series_on_one_connection_keep_their_own_times(tmp_path):
    import pyarrow as pa

    store = SnapshotStore(tmp_path)
    schema = pa.schema([("n", pa.int64())])
    for source, hours in (("defender.machines", (1, 2)), ("graph.users", (3,))):
        for hour in hours:
            with store.writer(source, NOW + dt.timedelta(hours=hour), schema, f"run{hour}0000") as writer:
                writer.write(pa.table({"n": [hour]}))
                writer.commit()
    with duckdb.connect() as con:
        machines = store.series_relation(con, "defender.machines")
        users = store.series_relation(con, "graph.users")
        assert sorted(machines.fetchall()) == [(NOW + dt.timedelta(hours=1), 1), (NOW + dt.timedelta(hours=2), 2)]
        assert users.fetchall() == [(NOW + dt.timedelta(hours=3), 3)]
