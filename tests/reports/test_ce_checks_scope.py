"""The scope and firewall-governance checks over small snapshots written with the collectors' own
columns: the device inventories reconciled, the cloud services signed in to, inbound firewall
rules documented, and MFA for Azure management; exact numbers and the items behind them.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.evidence import azure_firewall_rules, defender_devices, graph_directory, intune, legacy_signins
from collectors.evidence.columns import Column, schema_of
from reports.checks.context import CheckContext, Thresholds
from reports.checks.identity.access import AZURE_MANAGEMENT
from reports.checks.implementations import run_check
from reports.checks.network.firewall_rules import APPROVAL
from reports.checks.result import CheckResult, Status
from reports.registry import Check, EvidenceSource
from store.snapshots import SnapshotStore

T = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TAKEN = T - dt.timedelta(hours=2)

COLUMNS: dict[EvidenceSource, tuple[Column, ...]] = {
    EvidenceSource.DEFENDER_MACHINES: defender_devices.MACHINE_COLUMNS,
    EvidenceSource.INTUNE_COMPLIANCE: intune.COLUMNS,
    EvidenceSource.GRAPH_SIGNINS: legacy_signins.COLUMNS,
    EvidenceSource.GRAPH_CONDITIONAL_ACCESS: graph_directory.POLICY_COLUMNS,
    EvidenceSource.AZURE_FIREWALL_RULES: azure_firewall_rules.COLUMNS,
}


def put(store: SnapshotStore, source: EvidenceSource, rows: list[dict]) -> None:
    schema = schema_of(COLUMNS[source])
    with store.writer(source.value, TAKEN, schema, run_id=f"run-{source.value}") as writer:
        writer.write(pa.Table.from_pylist(rows, schema=schema))
        writer.commit()


def run(store: SnapshotStore, check: Check) -> CheckResult:
    return run_check(check, CheckContext(store, T, Thresholds(listed=100)))


def column(result: CheckResult, name: str) -> list[object]:
    assert result.items is not None, result.summary
    return [row[result.items.columns.index(name)] for row in result.items.rows]


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "home")


# -- devices ---------------------------------------------------------------------------------------


def machines() -> list[dict]:
    """30 Windows clients (pc00-pc29) and 2 servers; pc29 is not in Intune."""
    rows = [
        {"id": f"m{n}", "computer_dns_name": f"pc{n:02d}.council.local", "aad_device_id": f"AAD-{n:02d}",
         "os_platform": "Windows11", "onboarding_status": "Onboarded"}
        for n in range(30)
    ]  # fmt: skip
    rows += [
        {"id": f"s{n}", "computer_dns_name": f"srv{n}.council.local", "os_platform": "WindowsServer2022",
         "onboarding_status": "Onboarded"}
        for n in range(2)
    ]  # fmt: skip
    rows.append({"id": "x", "computer_dns_name": "printer.council.local", "onboarding_status": "CanBeOnboarded"})
    return rows


def managed() -> list[dict]:
    """pc00-pc28 and pc30 (not onboarded to Defender), 5 phones and a personal iPhone."""
    windows = [*range(29), 30]
    rows = [
        {"id": f"i{n}", "device_name": f"PC{n:02d}", "azure_ad_device_id": f"aad-{n:02d}",
         "operating_system": "Windows", "owner_type": "company"}
        for n in windows
    ]  # fmt: skip
    rows += [
        {"id": f"p{n}", "device_name": f"PHONE{n}", "azure_ad_device_id": f"aad-phone-{n}",
         "operating_system": "Android", "owner_type": "company"}
        for n in range(5)
    ]  # fmt: skip
    rows.append({"id": "byod", "device_name": "Sam's iPhone", "azure_ad_device_id": "aad-byod",
                 "operating_system": "iOS", "owner_type": "personal"})  # fmt: skip
    return rows


def signin(n: int, device: str, name: str | None, error: int = 0) -> dict:
    return {"id": f"s{n}", "created_at": T - dt.timedelta(days=1), "user_id": f"u{n % 7}",
            "user_principal_name": f"user{n % 7}@council.example", "app_display_name": "Microsoft Teams",
            "client_app_used": "Browser", "is_interactive": True, "error_code": error,
            "authentication_requirement": "multiFactorAuthentication", "device_id": device, "device_name": name,
            "device_operating_system": "Windows10"}  # fmt: skip


def device_signins() -> list[dict]:
    rows = [signin(n, f"aad-{n:02d}", f"PC{n:02d}") for n in range(10)]
    rows += [signin(20 + n, "aad-tablet-9", "iPad") for n in range(3)]  # registered, managed by neither
    rows += [signin(30 + n, "", None) for n in range(4)]  # a device Entra does not know
    rows.append(signin(40, "aad-stranger", "KIOSK", error=50126))  # failed: got nobody in
    return rows


def test_device_inventories_reconcile_and_every_gap_is_listed(store):
    put(store, EvidenceSource.DEFENDER_MACHINES, machines())
    put(store, EvidenceSource.INTUNE_COMPLIANCE, managed())
    put(store, EvidenceSource.GRAPH_SIGNINS, device_signins())
    result = run(store, Check.SCOPE_DEVICE_INVENTORY)
    assert result.status is Status.PARTIAL
    assert result.summary == "3 devices are in one inventory and missing from another"
    gaps = list(zip(column(result, "device"), column(result, "seen_in"), column(result, "missing_from")))
    assert gaps == [
        ("PC30", "Intune", "Defender"),  # a managed Windows PC without Defender
        ("pc29.council.local", "Defender", "Intune"),
        ("iPad", "sign-ins", "Intune and Defender"),
    ]
    # Ids match whatever their case; servers, phones and the un-onboarded printer are no gap.
    assert [m.count for m in result.measures] == [32, 36, 1, 11, 4]


def test_device_inventory_without_sign_ins_reconciles_intune_and_defender_only(store):
    put(store, EvidenceSource.DEFENDER_MACHINES, machines()[:29])  # pc00-pc28
    put(store, EvidenceSource.INTUNE_COMPLIANCE, managed()[:29] + managed()[30:])  # without PC30
    result = run(store, Check.SCOPE_DEVICE_INVENTORY)
    assert result.status is Status.PASS
    assert result.summary == (
        "Defender's 29 and Intune's 35 devices reconcile (no sign-in snapshot with devices: Intune and Defender only)"
    )


def test_device_inventory_needs_both_inventories(store):
    put(store, EvidenceSource.DEFENDER_MACHINES, machines())
    result = run(store, Check.SCOPE_DEVICE_INVENTORY)
    assert result.status is Status.NOT_EVIDENCED
    assert result.reason.startswith("no snapshot of intune.compliance was taken")


def test_cloud_services_are_the_apps_signed_in_to_with_their_mfa_share(store):
    rows = device_signins()
    rows[0].update(app_display_name="Idox Uniform", authentication_requirement="singleFactorAuthentication")
    rows[1].update(app_display_name="Idox Uniform")
    put(store, EvidenceSource.GRAPH_SIGNINS, rows)
    result = run(store, Check.SCOPE_CLOUD_SERVICES)
    assert result.status is Status.PASS
    assert result.summary.startswith("2 cloud services were signed in to through Entra")
    assert column(result, "service") == ["Microsoft Teams", "Idox Uniform"]
    assert column(result, "sign_ins") == [15, 2]  # the failed sign-in is not a use of the service
    assert column(result, "interactive_with_mfa") == [15, 1]


# -- firewall governance -----------------------------------------------------------------------------


def rule(name: str, kind: str, sources: list[str], description: str | None) -> dict:
    nat = kind == "NatRule"
    return {"policy_id": "/subscriptions/s/firewallPolicies/council-fw", "collection_name": "in" if nat else "net",
            "action": "Dnat" if nat else "Allow", "rule_name": name, "rule_type": kind, "source_addresses": sources,
            "destination_ports": ["443"], "description": description}  # fmt: skip


def test_inbound_rules_must_name_their_business_need_and_approval(store):
    put(
        store,
        EvidenceSource.AZURE_FIREWALL_RULES,
        [
            rule("portal", "NatRule", ["*"], "Public planning portal; need: statutory register; CAB-2291"),
            rule("payments", "NatRule", ["*"], "Card payments page for residents, approved by Head of IT"),
            rule("rdp", "NatRule", ["*"], "Temporary: supplier remote support session"),
            rule("ftp", "NatRule", ["*"], None),
            rule("bare-ticket", "NetworkRule", ["Internet"], "CHG0012345"),
            rule("internal", "NetworkRule", ["10.0.0.0/8"], None),  # not inbound from the internet
        ],
    )
    result = run(store, Check.FIREWALL_RULES_DOCUMENTED)
    assert result.status is Status.FAIL
    assert result.summary == "2 of 5 inbound rules document their business need and approval"
    assert dict(zip(column(result, "rule"), column(result, "missing"))) == {
        "bare-ticket": "business need",
        "ftp": "business need and approval",
        "rdp": "approval",
    }


def policy(name: str, users: list[str], apps: list[str], **extra: object) -> dict:
    return {"id": name, "display_name": name, "state": "enabled", "include_users": users,
            "include_applications": apps, "grant_operator": "OR", "built_in_controls": ["mfa"], **extra}  # fmt: skip


def test_azure_management_mfa_passes_only_for_all_users_without_exclusions(store):
    put(
        store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [policy("admins", [], [AZURE_MANAGEMENT], include_roles=["gA"])]
    )
    roles_only = run(store, Check.FIREWALL_ADMIN_MFA)
    assert roles_only.status is Status.PARTIAL and roles_only.summary.startswith(
        "MFA is required for Azure management only"
    )
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [policy("all", ["All"], ["All"], exclude_groups=["bg"])])
    excluded = run(store, Check.FIREWALL_ADMIN_MFA)
    assert excluded.status is Status.PARTIAL and column(excluded, "excluded") == ["bg"]
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, [policy("azure", ["All"], [AZURE_MANAGEMENT])])
    assert run(store, Check.FIREWALL_ADMIN_MFA).status is Status.PASS
    put(
        store,
        EvidenceSource.GRAPH_CONDITIONAL_ACCESS,
        [policy("all-but-azure", ["All"], ["All"], exclude_applications=[AZURE_MANAGEMENT])],
    )
    missing = run(store, Check.FIREWALL_ADMIN_MFA)
    assert missing.status is Status.NOT_EVIDENCED
    assert missing.reason.startswith("no enabled Conditional Access policy requires MFA for Azure management")


FRAGMENTS = ["Public portal", "need: statutory register", "approved by Head of IT", "CAB-2291", "CHG0012345",
             "rfc 88", "Temporary", "x", "", "; ", ", "]  # fmt: skip


def missing(description: str | None) -> str:
    """The reference, in Python's ``re``: what the description lacks."""
    text = (description or "").strip()
    approved = re.search(APPROVAL, text) is not None
    rest = re.sub(r"[^A-Za-z]+", " ", re.sub(APPROVAL, "", text)).strip()
    lacks = [name for name, ok in (("business need", len(rest) >= 10), ("approval", approved)) if not ok]
    return " and ".join(lacks)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(st.none(), st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join)), min_size=1, max_size=8
    )
)
def test_rule_documentation_agrees_with_a_python_reference(tmp_path_factory, descriptions):
    store = SnapshotStore(tmp_path_factory.mktemp("rules"))
    rules = [rule(f"r{n}", "NatRule", ["*"], d) for n, d in enumerate(descriptions)]
    put(store, EvidenceSource.AZURE_FIREWALL_RULES, rules)
    result = run(store, Check.FIREWALL_RULES_DOCUMENTED)
    expected = {f"r{n}": missing(d) for n, d in enumerate(descriptions) if missing(d)}
    found = dict(zip(column(result, "rule"), column(result, "missing"))) if result.items else {}
    assert found == expected
    assert result.status is (Status.FAIL if expected else Status.PASS)
