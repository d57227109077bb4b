"""The Cyber Essentials checks and the requirement judge, over real snapshots: small Arrow
tables written with SnapshotStore (the collectors' own column lists), read back by DuckDB.

The estate has deliberate gaps: 88 of 1,500 enabled members without MFA, an administrator
without MFA, 3 devices with a critical fix older than 14 days, legacy IMAP and ActiveSync
sign-ins, stale accounts, a passive antivirus, end-of-support software and an RDP DNAT rule
open to the internet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from collectors.evidence import azure_firewall_rules, defender_devices, graph_directory, legacy_signins
from collectors.evidence.columns import Column, schema_of
from reports.attestations import Attestation
from reports.catalogue import load_catalogue
from reports.checks.context import CheckContext
from reports.checks.implementations import IMPLEMENTED, NOT_IMPLEMENTED, run_check
from reports.checks.result import Status
from reports.checks.uncollected import NEEDED
from reports.judge import Verdict, judge
from reports.registry import Check, EvidenceSource
from store.snapshots import SnapshotStore

T = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TAKEN = T - dt.timedelta(hours=2)

COLUMNS: dict[EvidenceSource, tuple[Column, ...]] = {
    EvidenceSource.GRAPH_USERS: graph_directory.USER_COLUMNS,
    EvidenceSource.GRAPH_AUTHENTICATION_METHODS: graph_directory.REGISTRATION_COLUMNS,
    EvidenceSource.GRAPH_CONDITIONAL_ACCESS: graph_directory.POLICY_COLUMNS,
    EvidenceSource.GRAPH_DIRECTORY_ROLES: graph_directory.ROLE_MEMBER_COLUMNS,
    EvidenceSource.GRAPH_SIGNINS: legacy_signins.COLUMNS,
    EvidenceSource.DEFENDER_MACHINES: defender_devices.MACHINE_COLUMNS,
    EvidenceSource.DEFENDER_ANTIVIRUS_HEALTH: defender_devices.ANTIVIRUS_COLUMNS,
    EvidenceSource.DEFENDER_MISSING_UPDATES: defender_devices.VULNERABILITY_COLUMNS,
    EvidenceSource.DEFENDER_SOFTWARE_EOL: defender_devices.SOFTWARE_COLUMNS,
    EvidenceSource.AZURE_FIREWALL_RULES: azure_firewall_rules.COLUMNS,
}


def put(store: SnapshotStore, source: EvidenceSource, rows: list[dict], taken_at: dt.datetime = TAKEN) -> None:
    schema = schema_of(COLUMNS[source])
    with store.writer(source.value, taken_at, schema, run_id=f"run-{taken_at:%H%M%S}-{source.value}") as writer:
        writer.write(pa.Table.from_pylist(rows, schema=schema))
        writer.commit()


def days_ago(days: float) -> dt.datetime:
    return T - dt.timedelta(days=days)


# -- the estate ------------------------------------------------------------------------------------


def users() -> list[dict]:
    rows = [
        {
            "id": f"u{n:04d}",
            "user_principal_name": f"user{n:04d}@council.example",
            "display_name": f"User {n}",
            "account_enabled": True,
            "user_type": "Member",
            "created_at": days_ago(400),
            "last_successful_sign_in_at": days_ago(2),
        }
        for n in range(1500)
    ]
    for n in range(5):  # stale: last sign-in 120 days ago
        rows[n]["last_successful_sign_in_at"] = days_ago(120 + n)
    rows[5]["last_successful_sign_in_at"] = None  # never signed in, created long ago: stale
    rows[6].update(last_successful_sign_in_at=None, last_sign_in_at=days_ago(3))  # attempt stands in: not stale
    rows[7].update(last_successful_sign_in_at=None, created_at=days_ago(10))  # new, never signed in: not stale yet
    rows += [
        {"id": f"d{n}", "user_principal_name": f"left{n}@council.example", "account_enabled": False,
         "user_type": "Member", "created_at": days_ago(900), "last_successful_sign_in_at": days_ago(300)}
        for n in range(30)
    ]  # fmt: skip
    rows += [
        {"id": f"g{n}", "user_principal_name": f"guest{n}@partner.example", "account_enabled": True,
         "user_type": "Guest", "created_at": days_ago(50), "last_successful_sign_in_at": days_ago(1)}
        for n in range(12)
    ]  # fmt: skip
    return rows


def registrations() -> list[dict]:
    """1,412 of the 1,500 enabled members registered: 80 with a record saying no, 8 with none."""
    rows = []
    for n in range(1500):
        if 1412 <= n < 1420:
            continue  # no registration record at all
        registered = n < 1412
        rows.append(
            {
                "id": f"u{n:04d}",
                "user_principal_name": f"user{n:04d}@council.example",
                "is_mfa_registered": registered,
                "methods_registered": ["microsoftAuthenticatorPush"] if registered else ["email"],
            }
        )
    rows += [{"id": f"g{n}", "is_mfa_registered": False} for n in range(12)]  # guests are not judged here
    return rows


def roles(unregistered_admin: bool = True) -> list[dict]:
    admins = [("u0100", "Global Administrator", "62e90394"), ("u0101", "User Administrator", "fe930be7")]
    if unregistered_admin:
        admins.append(("u1450", "Global Administrator", "62e90394"))
    return [
        {
            "role_id": f"r-{template}",
            "role_template_id": template,
            "role_name": name,
            "member_id": member,
            "member_type": "#microsoft.graph.user",
            "member_user_principal_name": f"user{member[1:]}@council.example",
        }
        for member, name, template in admins
    ]


def policies(exclude_groups: list[str] | None = None) -> list[dict]:
    return [
        {
            "id": "p1",
            "display_name": "Require MFA for administrators",
            "state": "enabled",
            "include_users": [],
            "include_roles": ["62e90394", "fe930be7"],
            "include_applications": ["All"],
            "exclude_groups": exclude_groups or [],
            "grant_operator": "OR",
            "built_in_controls": ["mfa"],
        },
        {  # report-only: enforces nothing
            "id": "p2",
            "display_name": "MFA for everyone (report-only)",
            "state": "enabledForReportingButNotEnforced",
            "include_users": ["All"],
            "include_applications": ["All"],
            "grant_operator": "OR",
            "built_in_controls": ["mfa"],
        },
    ]


def signins() -> list[dict]:
    rows = [
        {"id": f"s{n}", "created_at": days_ago(n % 6), "user_principal_name": f"user{n:04d}@council.example",
         "client_app_used": "Browser", "error_code": 0}
        for n in range(91)
    ]  # fmt: skip
    legacy = [("user0042@council.example", "IMAP4")] * 4 + [("user0077@council.example", "Exchange ActiveSync")] * 2
    rows += [
        {"id": f"l{n}", "created_at": days_ago(1), "user_principal_name": who, "client_app_used": app, "error_code": 0}
        for n, (who, app) in enumerate(legacy)
    ]
    rows += [  # failed legacy attempts got nobody in
        {"id": f"f{n}", "created_at": days_ago(1), "user_principal_name": "user0009@council.example",
         "client_app_used": "POP3", "error_code": 50126}
        for n in range(3)
    ]  # fmt: skip
    return rows


def machines(count: int = 40) -> list[dict]:
    return [
        {"id": f"m{n:02d}", "computer_dns_name": f"pc{n:02d}.council.local", "onboarding_status": "Onboarded",
         "health_status": "Active", "os_platform": "Windows11", "last_seen": days_ago(0.1)}
        for n in range(count)
    ]  # fmt: skip


def vulnerability(
    device: int, cve: str, severity: str | None, age_days: float | None, fix: bool = True, cvss: float | None = None
) -> dict:
    return {
        "id": f"m{device:02d}_{cve}",
        "device_id": f"m{device:02d}",
        "device_name": f"pc{device:02d}.council.local",
        "software_vendor": "microsoft",
        "software_name": "windows_11",
        "cve_id": cve,
        "severity": severity,
        "cvss_score": cvss,
        "security_update_available": fix,
        "first_seen": None if age_days is None else days_ago(age_days),
    }


def vulnerabilities() -> list[dict]:
    return [
        vulnerability(3, "CVE-2026-1001", "Critical", 20),
        vulnerability(3, "CVE-2026-1002", "Critical", 18),
        vulnerability(7, "CVE-2026-1001", "Critical", 25),
        vulnerability(11, "CVE-2026-1003", "Critical", 15),
        vulnerability(12, "CVE-2026-1004", "High", 10),  # within its 14 days
        vulnerability(13, "CVE-2026-1005", "Medium", 60, cvss=5.0),  # not high
        vulnerability(14, "CVE-2026-1006", "Critical", 60, fix=False),  # no fix exists yet
    ]


def antivirus() -> list[dict]:
    rows = [
        {"machine_id": f"m{n:02d}", "computer_dns_name": f"pc{n:02d}.council.local", "av_mode": "0",
         "signature_up_to_date": True, "engine_up_to_date": True, "platform_up_to_date": True,
         "signature_updated_at": days_ago(0.5)}
        for n in range(10)
    ]  # fmt: skip
    rows[4]["av_mode"] = "1"  # passive
    rows[6].update(signature_up_to_date=False, signature_updated_at=days_ago(9))
    return rows


def software() -> list[dict]:
    base = {"software_vendor": "microsoft", "software_version": "16.0"}
    return [
        {**base, "device_id": "m01", "device_name": "pc01.council.local", "software_name": "office_2016",
         "end_of_support_status": "EOS Software", "end_of_support_date": dt.datetime(2025, 10, 14, tzinfo=dt.UTC)},
        {**base, "device_id": "m02", "device_name": "pc02.council.local", "software_name": "office_2016",
         "end_of_support_status": "EOS Software", "end_of_support_date": dt.datetime(2025, 10, 14, tzinfo=dt.UTC)},
        {**base, "device_id": "m05", "device_name": "pc05.council.local", "software_name": "sql_server_2016",
         "end_of_support_status": "Upcoming EOS Software", "end_of_support_date": T + dt.timedelta(days=30)},
    ]  # fmt: skip


POLICY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/council-fw"


def rule(name: str, kind: str, sources: list[str], ports: list[str], description: str | None = None) -> dict:
    nat = kind == "NatRule"
    return {
        "policy_id": POLICY,
        "collection_name": "inbound" if nat else "network",
        "collection_type": "FirewallPolicyNatRuleCollection" if nat else "FirewallPolicyFilterRuleCollection",
        "action": "Dnat" if nat else "Allow",
        "rule_name": name,
        "rule_type": kind,
        "source_addresses": sources,
        "destination_ports": ports,
        "description": description,
    }


def firewall_rules() -> list[dict]:
    return [
        rule("rdp-to-fileserver", "NatRule", ["*"], ["3389"]),
        rule("web", "NatRule", ["*"], ["443"], "Public web site, approved by J. Doe"),
        rule("ssh-from-office", "NetworkRule", ["203.0.113.7"], ["22"]),
        rule("legacy-range", "NetworkRule", ["Internet"], ["3380-3390"]),
        {**rule("", "NatRule", [], []), "rule_name": None},  # an empty collection: no rule
    ]


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "home")


@pytest.fixture
def estate(store: SnapshotStore) -> SnapshotStore:
    put(store, EvidenceSource.GRAPH_USERS, users())
    put(store, EvidenceSource.GRAPH_AUTHENTICATION_METHODS, registrations())
    put(store, EvidenceSource.GRAPH_DIRECTORY_ROLES, roles())
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, policies())
    put(store, EvidenceSource.GRAPH_SIGNINS, signins())
    put(store, EvidenceSource.DEFENDER_MACHINES, machines())
    put(store, EvidenceSource.DEFENDER_MISSING_UPDATES, vulnerabilities())
    put(store, EvidenceSource.DEFENDER_ANTIVIRUS_HEALTH, antivirus())
    put(store, EvidenceSource.DEFENDER_SOFTWARE_EOL, software())
    put(store, EvidenceSource.AZURE_FIREWALL_RULES, firewall_rules())
    return store


def run(store: SnapshotStore, check: Check, at: dt.datetime = T):
    return run_check(check, CheckContext(store, at))


# -- the checks ----------------------------------------------------------------------------------


def test_mfa_registration_counts_enabled_members_and_lists_the_88_missing(estate):
    result = run(estate, Check.MFA_REGISTERED)
    assert result.status is Status.FAIL
    assert result.summary == "MFA registered for 1,412 of 1,500 enabled member accounts"
    assert str(result.items) == "88 enabled member accounts without MFA, 20 listed"
    assert result.items.rows[0] == ("user1412@council.example", "User 1412", "no registration record")
    assert result.items.rows[8][0] == "user1420@council.example" and result.items.rows[8][2] == "email"
    assert {e.source for e in result.evidence} == {"graph.users", "graph.authentication_methods"}


def test_mfa_registration_passes_when_everyone_is_registered(store):
    put(store, EvidenceSource.GRAPH_USERS, users())
    put(
        store,
        EvidenceSource.GRAPH_AUTHENTICATION_METHODS,
        [{"id": f"u{n:04d}", "is_mfa_registered": True} for n in range(1500)],
    )
    result = run(store, Check.MFA_REGISTERED)
    assert result.status is Status.PASS and result.items is None
    assert str(result.measures[0]) == "1,500 of 1,500 enabled member accounts registered for MFA"


def test_an_administrator_without_mfa_fails_the_admin_check(estate):
    result = run(estate, Check.MFA_ADMINS)
    assert result.status is Status.FAIL
    assert result.summary == "1 of 3 administrators are not registered for MFA"
    assert result.items.rows == (("user1450@council.example", None, "Global Administrator"),)


def test_admins_pass_only_when_a_policy_is_shown_to_require_mfa_of_them(store):
    put(store, EvidenceSource.GRAPH_AUTHENTICATION_METHODS, registrations())
    put(store, EvidenceSource.GRAPH_DIRECTORY_ROLES, roles(unregistered_admin=False))
    assert run(store, Check.MFA_ADMINS).status is Status.PARTIAL  # no Conditional Access snapshot yet
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, policies(), TAKEN)
    assert run(store, Check.MFA_ADMINS).status is Status.PASS
    # A group exclusion cannot be resolved from the evidence: coverage unproven, shown as partial.
    put(
        store,
        EvidenceSource.GRAPH_CONDITIONAL_ACCESS,
        policies(exclude_groups=["break-glass"]),
        TAKEN + dt.timedelta(minutes=1),
    )
    result = run(store, Check.MFA_ADMINS)
    assert result.status is Status.PARTIAL
    assert str(result.items) == "2 administrators no policy is shown to require MFA of, 2 listed"


def test_report_only_policy_does_not_count_as_mfa_for_everyone(estate):
    result = run(estate, Check.MFA_ENFORCED)
    assert result.status is Status.NOT_EVIDENCED
    assert "no enabled Conditional Access policy requires MFA of all users" in result.reason


def test_mfa_for_everyone_passes_without_exclusions_and_lists_them_otherwise(store):
    everyone = {
        **policies()[1],
        "state": "enabled",
        "grant_operator": "AND",
        "built_in_controls": ["mfa", "compliantDevice"],
    }
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [everyone])
    assert run(store, Check.MFA_ENFORCED).status is Status.PASS
    excluded = {**everyone, "exclude_users": ["u0001"], "exclude_groups": ["break-glass"]}
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [excluded], TAKEN + dt.timedelta(minutes=1))
    result = run(store, Check.MFA_ENFORCED)
    assert result.status is Status.PARTIAL
    assert result.items.rows == (
        ("MFA for everyone (report-only)", "group", "break-glass"),
        ("MFA for everyone (report-only)", "user", "u0001"),
    )
    # MFA OR a compliant device does not require MFA.
    either = {**everyone, "grant_operator": "OR"}
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [either], TAKEN + dt.timedelta(minutes=2))
    assert run(store, Check.MFA_ENFORCED).status is Status.NOT_EVIDENCED


def test_successful_legacy_sign_ins_fail_and_failed_attempts_are_not_counted(estate):
    result = run(estate, Check.SIGNINS_LEGACY_AUTH)
    assert result.status is Status.FAIL
    assert result.summary == "6 successful legacy-protocol sign-ins by 2 accounts, of 100 sign-ins"
    assert [row[:3] for row in result.items.rows] == [
        ("user0042@council.example", "IMAP4", 4),
        ("user0077@council.example", "Exchange ActiveSync", 2),
    ]


def test_stale_accounts_are_listed_and_disabled_ones_counted(estate):
    result = run(estate, Check.ACCOUNTS_STALE)
    assert result.status is Status.FAIL
    assert result.summary == "6 of 1,512 enabled accounts have not signed in for 90 days"
    assert [row[0] for row in result.items.rows] == [
        "user0005@council.example",  # never signed in, first
        *(f"user{n:04d}@council.example" for n in (4, 3, 2, 1, 0)),  # longest silent first
    ]
    assert str(result.measures[1]) == "30 disabled accounts"


def test_stale_threshold_is_a_setting(estate):
    from reports.checks.context import Thresholds

    result = run_check(Check.ACCOUNTS_STALE, CheckContext(estate, T, Thresholds(stale_after_days=200)))
    assert result.status is Status.FAIL and result.items.total == 1  # only the account that never signed in


def test_three_devices_with_a_critical_fix_older_than_14_days_fail(estate):
    result = run(estate, Check.UPDATES_WITHIN_14_DAYS)
    assert result.status is Status.FAIL
    assert result.summary == "3 devices with a high or critical fix older than 14 days (4 fixes)"
    assert str(result.measures[0]) == "3 of 40 devices with a high or critical fix older than 14 days"
    listed = [(row[0], row[1], row[2]) for row in result.items.rows]
    assert listed == [
        ("pc07.council.local", 1, "Critical"),
        ("pc03.council.local", 2, "Critical"),
        ("pc11.council.local", 1, "Critical"),
    ]
    assert result.items.rows[1][4] == "CVE-2026-1001, CVE-2026-1002"


def test_unrated_and_cvss_7_fixes_count_and_unknown_age_is_never_a_pass(store):
    put(store, EvidenceSource.DEFENDER_MISSING_UPDATES, [vulnerability(1, "CVE-X", None, 30)])
    assert run(store, Check.UPDATES_WITHIN_14_DAYS).status is Status.FAIL
    put(
        store,
        EvidenceSource.DEFENDER_MISSING_UPDATES,
        [vulnerability(2, "CVE-Y", "Medium", 30, cvss=7.5)],
        TAKEN + dt.timedelta(minutes=1),
    )
    assert run(store, Check.UPDATES_WITHIN_14_DAYS).status is Status.FAIL
    put(
        store,
        EvidenceSource.DEFENDER_MISSING_UPDATES,
        [vulnerability(3, "CVE-Z", "High", None)],
        TAKEN + dt.timedelta(minutes=2),
    )
    result = run(store, Check.UPDATES_WITHIN_14_DAYS)
    assert result.status is Status.PARTIAL and result.items.rows[0][0] == "pc03.council.local"


def test_the_snapshot_in_force_at_the_time_judged_is_the_one_read(store):
    put(store, EvidenceSource.DEFENDER_MISSING_UPDATES, vulnerabilities(), TAKEN)
    put(store, EvidenceSource.DEFENDER_MISSING_UPDATES, [], T + dt.timedelta(days=1))  # fixed the day after
    assert run(store, Check.UPDATES_WITHIN_14_DAYS, T).status is Status.FAIL
    assert run(store, Check.UPDATES_WITHIN_14_DAYS, T + dt.timedelta(days=2)).status is Status.PASS


def test_antivirus_passive_and_out_of_date_devices_are_listed(estate):
    active = run(estate, Check.MALWARE_AV_ACTIVE)
    assert active.status is Status.FAIL and active.summary == "antivirus in active mode on 9 of 10 devices"
    assert active.items.rows[0][:3] == ("pc04.council.local", None, "passive")
    current = run(estate, Check.MALWARE_AV_CURRENT)
    assert current.status is Status.FAIL and current.summary == "antivirus up to date on 8 of 9 devices in active mode"
    assert current.items.rows[0][:2] == ("pc06.council.local", "signatures")
    assert run(estate, Check.MALWARE_COVERAGE).status is Status.PASS


def test_end_of_support_software_fails_and_support_ending_soon_is_flagged(estate, store):
    result = run(estate, Check.SOFTWARE_END_OF_SUPPORT)
    assert result.status is Status.FAIL
    assert result.items.rows[0][0] == "microsoft office_2016 16.0" and result.items.rows[0][3] == 2
    put(store, EvidenceSource.DEFENDER_SOFTWARE_EOL, software()[2:], TAKEN + dt.timedelta(minutes=1))
    flagged = run(store, Check.SOFTWARE_END_OF_SUPPORT)
    assert flagged.status is Status.PASS
    assert str(flagged.items) == "1 products whose support ends within 90 days, 1 listed"


def test_firewall_rules_open_to_any_source_on_management_ports_fail(estate, store):
    result = run(estate, Check.FIREWALL_INBOUND_EXPOSURE)
    assert result.status is Status.FAIL
    assert result.summary == "2 of 4 rules admit any source to every port or a management port"
    exposures = {row[2]: row[6] for row in result.items.rows}
    assert exposures == {
        "rdp-to-fileserver": "management port 3389",
        "legacy-range": "management port 3389",
        "web": "internet-facing service",
    }
    assert result.items.rows[-1][2] == "web"  # the dangerous ones first
    put(store, EvidenceSource.AZURE_FIREWALL_RULES, firewall_rules()[1:3], TAKEN + dt.timedelta(minutes=1))
    assert run(store, Check.FIREWALL_INBOUND_EXPOSURE).status is Status.PARTIAL
    put(
        store,
        EvidenceSource.AZURE_FIREWALL_RULES,
        [rule("any", "NatRule", ["0.0.0.0/0"], ["*"])],
        TAKEN + dt.timedelta(minutes=2),
    )
    assert run(store, Check.FIREWALL_INBOUND_EXPOSURE).items.rows[0][6] == "every port"
    put(store, EvidenceSource.AZURE_FIREWALL_RULES, firewall_rules()[2:3], TAKEN + dt.timedelta(minutes=3))
    assert run(store, Check.FIREWALL_INBOUND_EXPOSURE).status is Status.PASS


def test_missing_or_failed_snapshot_is_not_evidenced_with_the_reason(store):
    missing = run(store, Check.SIGNINS_LEGACY_AUTH)
    assert missing.status is Status.NOT_EVIDENCED
    assert missing.reason == "no snapshot of graph.signins was taken at or before 2026-12-01T09:00:00+00:00"
    store.record_failure("graph.signins", TAKEN, "run-1", "permission AuditLog.Read.All is missing (403)", 403)
    failed = run(store, Check.SIGNINS_LEGACY_AUTH)
    assert failed.status is Status.NOT_EVIDENCED
    assert failed.reason.endswith("permission AuditLog.Read.All is missing (403)")
    # An older, collected reading is not quietly used instead of the failed latest attempt.
    put(store, EvidenceSource.GRAPH_SIGNINS, signins(), TAKEN - dt.timedelta(days=1))
    assert run(store, Check.SIGNINS_LEGACY_AUTH).status is Status.NOT_EVIDENCED


def test_every_check_name_answers_and_the_unimplemented_are_never_a_pass(estate):
    for check in Check:
        result = run(estate, check)
        assert result.check is check
        if check not in IMPLEMENTED:
            # Uncollected evidence names what would collect it; anything else is plainly unimplemented.
            expected = str(NEEDED[check]) if check in NEEDED else NOT_IMPLEMENTED
            assert result.status is Status.NOT_EVIDENCED and result.reason == expected


# -- judging requirements ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def judged(store: SnapshotStore, catalogue, attestations=()):
    return {j.requirement.id: j for j in judge(catalogue, CheckContext(store, T), attestations)}


def attestation(tmp_path: Path, requirement: str, day: dt.date = dt.date(2026, 11, 2)) -> Attestation:
    file = tmp_path / f"{requirement}.pdf"
    file.write_bytes(b"%PDF-1.4 evidence")
    return Attestation(
        requirement, "Priya Shah, IT manager", day, "Checked by hand.", file, "0" * 64, day + dt.timedelta(days=365)
    )


def test_automatic_fail_requirements_fail_the_assessment_when_their_check_fails(estate, catalogue):
    result = judged(estate, catalogue)
    for id in ("SU-05", "SU-06", "SU-07", "UA-07", "UA-08"):
        assert result[id].verdict is Verdict.FAIL and result[id].fails_assessment, id
    assert result["SU-05"].reason.startswith("automatic fail: 3 devices with a high or critical fix")
    assert result["SU-01"].verdict is Verdict.FAIL and not result["SU-01"].fails_assessment


def test_judging_shows_missing_evidence_unimplemented_checks_and_manual_requirements(store, catalogue, tmp_path):
    result = judged(store, catalogue)
    assert result["UA-09"].verdict is Verdict.NOT_EVIDENCED
    assert "signins.legacy_authentication: no snapshot of graph.signins" in result["UA-09"].reason
    assert result["SC-09"].verdict is Verdict.NOT_EVIDENCED
    assert "device.pin_length: needs intune.compliance, not collected" in result["SC-09"].reason
    assert result["SCP-01"].verdict is Verdict.MANUAL and result["SCP-01"].needs_attestation
    assert not any(j.verdict is Verdict.PASS for j in result.values())
    attested = judged(store, catalogue, [attestation(tmp_path, "SCP-01")])["SCP-01"]
    assert attested.verdict is Verdict.MANUAL  # attested, and shown as an attestation, not a pass
    assert attested.attestation is not None and attested.needs_attestation is None
    assert attested.reason.startswith("attested by Priya Shah, IT manager on 2026-11-02 (evidence SCP-01.pdf")


def test_passing_telemetry_needs_an_attestation_for_the_rest(store, catalogue, tmp_path):
    put(store, EvidenceSource.DEFENDER_ANTIVIRUS_HEALTH, antivirus()[:4])
    alone = judged(store, catalogue)["MP-02"]
    assert alone.verdict is Verdict.PARTIAL and alone.checks[0].status is Status.PASS
    assert alone.needs_attestation == catalogue.requirement("MP-02").attestation.what
    with_it = judged(store, catalogue, [attestation(tmp_path, "MP-02")])["MP-02"]
    assert with_it.verdict is Verdict.PASS and with_it.attestation.by == "Priya Shah, IT manager"
    lapsed = judged(store, catalogue, [attestation(tmp_path, "MP-02", day=dt.date(2025, 6, 1))])["MP-02"]
    assert lapsed.verdict is Verdict.PARTIAL and lapsed.attestation is None and len(lapsed.lapsed) == 1


def test_an_attestation_never_outweighs_a_failing_check(estate, catalogue, tmp_path):
    result = judged(estate, catalogue, [attestation(tmp_path, "UA-08")])["UA-08"]
    assert result.verdict is Verdict.FAIL and result.attestation is not None
