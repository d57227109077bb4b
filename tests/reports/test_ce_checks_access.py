"""The account, administrator, factor and sign-in checks over small snapshots written with the
collectors' own columns: the exact numbers and items each gives, and "not evidenced" with what to
turn on where the evidence is not collected.

The estate: 200 enabled members (all but 20 synced from the on-premises directory), 4 enabled
guests (one never signed in, one unused for 120 days), 6 disabled accounts, 3 members created in
the last 30 days; three role holders: a separate unlicensed admin account, a licensed everyday account
that reads mail, and a licensed admin account that only uses the admin portals.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.evidence import graph_directory, legacy_signins
from collectors.evidence.columns import Column, schema_of
from reports.checks.context import CheckContext, Thresholds
from reports.checks.identity import factors
from reports.checks.implementations import IMPLEMENTED, run_check
from reports.checks.result import CheckResult, Status
from reports.checks.uncollected import NEEDED
from reports.registry import Check, EvidenceSource
from store.snapshots import SnapshotStore

T = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TAKEN = T - dt.timedelta(hours=2)
ALL = Thresholds(listed=1_000)

COLUMNS: dict[EvidenceSource, tuple[Column, ...]] = {
    EvidenceSource.GRAPH_USERS: graph_directory.USER_COLUMNS,
    EvidenceSource.GRAPH_AUTHENTICATION_METHODS: graph_directory.REGISTRATION_COLUMNS,
    EvidenceSource.GRAPH_CONDITIONAL_ACCESS: graph_directory.POLICY_COLUMNS,
    EvidenceSource.GRAPH_DIRECTORY_ROLES: graph_directory.ROLE_MEMBER_COLUMNS,
    EvidenceSource.GRAPH_SIGNINS: legacy_signins.COLUMNS,
}


def ago(days: float) -> dt.datetime:
    return T - dt.timedelta(days=days)


def put(store: SnapshotStore, source: EvidenceSource, rows: list[dict], schema: pa.Schema | None = None) -> None:
    schema = schema or schema_of(COLUMNS[source])
    with store.writer(source.value, TAKEN, schema, run_id=f"run-{source.value}") as writer:
        writer.write(pa.Table.from_pylist(rows, schema=schema))
        writer.commit()


def member(n: int, **extra: object) -> dict:
    return {
        "id": f"u{n:03d}",
        "user_principal_name": f"user{n:03d}@council.example",
        "display_name": f"User {n}",
        "account_enabled": True,
        "user_type": "Member",
        "created_at": ago(400),
        "on_premises_sync_enabled": n >= 20,
        "licence_count": 1,
        "last_successful_sign_in_at": ago(1),
        **extra,
    }


def users() -> list[dict]:
    rows = [member(n) for n in range(200)]
    for n in (197, 198, 199):
        rows[n]["created_at"] = ago(n - 190)  # created 7, 8 and 9 days ago
    rows += [member(300 + n, account_enabled=False, last_successful_sign_in_at=ago(300)) for n in range(6)]
    guests = [
        ("g1", ago(2), ago(500)),
        ("g2", ago(20), ago(300)),
        ("g3", ago(120), ago(300)),  # unused for 120 days
        ("g4", None, ago(40)),  # invited 40 days ago, never signed in: too new to be stale, still a door
    ]
    rows += [
        {"id": g, "user_principal_name": f"{g}_supplier_com#EXT#@council.onmicrosoft.com", "display_name": g,
         "account_enabled": True, "user_type": "Guest", "created_at": created, "licence_count": 0,
         "last_successful_sign_in_at": last, "department": "Supplier"}
        for g, last, created in guests
    ]  # fmt: skip
    # Role holders: a separate unlicensed admin account, u005's everyday account, a licensed admin account.
    cloud = {"on_premises_sync_enabled": False}
    rows.append(member(900, user_principal_name="adm.user001@council.example", licence_count=0, **cloud))
    rows.append(member(901, user_principal_name="adm.user002@council.example", licence_count=1, **cloud))
    return rows


def registrations() -> list[dict]:
    methods = (
        [["fido2", "microsoftAuthenticatorPush"]] * 3
        + [["microsoftAuthenticatorPush", "softwareOneTimePasscode"]] * 150
        + [["mobilePhone", "email"]] * 30
        + [["officePhone"]] * 2
        + [["email"]] * 5
    )  # 190 records: u190..u199 have none; 10 more with no second factor
    return [
        {"id": f"u{n:03d}", "methods_registered": m, "is_mfa_registered": m != ["email"]} for n, m in enumerate(methods)
    ]


def roles() -> list[dict]:
    holders = [
        ("u900", "adm.user001@council.example", "Global Administrator"),
        ("u005", "user005@council.example", "Exchange Administrator"),
        ("u005", "user005@council.example", "Teams Administrator"),
        ("u901", "adm.user002@council.example", "Intune Administrator"),
    ]
    return [
        {"role_id": f"r-{name}", "role_template_id": name, "role_name": name, "member_id": who,
         "member_type": "#microsoft.graph.user", "member_user_principal_name": upn}
        for who, upn, name in holders
    ]  # fmt: skip


def signins() -> list[dict]:
    rows: list[tuple[str, str, str, str, int, bool, str]] = []
    # (user id, upn, app, client, error, interactive, requirement)
    for n in range(40):
        rows.append((f"u{n:03d}", f"user{n:03d}@council.example", "Microsoft Teams", "Browser", 0, True, "mfa"))
    rows += [("u005", "user005@council.example", "Office 365 Exchange Online", "Browser", 0, True, "mfa")] * 3
    rows += [("u900", "adm.user001@council.example", "Azure Portal", "Browser", 0, True, "mfa")] * 4
    rows += [("u900", "adm.user001@council.example", "Microsoft Office", "Browser", 50126, True, "mfa")] * 2
    rows += [("u901", "adm.user002@council.example", "Microsoft Intune", "Browser", 0, True, "mfa")] * 2
    rows += [("u042", "user042@council.example", "Office 365 Exchange Online", "IMAP4", 0, True, "single")] * 5
    rows += [("u043", "user043@council.example", "Microsoft Teams", "Browser", 0, False, "single")] * 7  # refresh
    rows += [("u044", "user044@council.example", "Microsoft Teams", "Browser", 50126, True, "single")] * 3
    requirement = {"mfa": "multiFactorAuthentication", "single": "singleFactorAuthentication"}
    return [
        {"id": f"s{i}", "created_at": ago(1), "user_id": uid, "user_principal_name": upn, "app_display_name": app,
         "client_app_used": client, "error_code": error, "is_interactive": interactive,
         "authentication_requirement": requirement[need]}
        for i, (uid, upn, app, client, error, interactive, need) in enumerate(rows)
    ]  # fmt: skip


def policies(exclude_groups: list[str] | None = None, state: str = "enabled") -> list[dict]:
    return [
        {"id": "p1", "display_name": "CA001 MFA for everyone", "state": state, "include_users": ["All"],
         "include_applications": ["All"], "exclude_groups": exclude_groups or [], "grant_operator": "OR",
         "built_in_controls": ["mfa"]}
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "home")


@pytest.fixture
def estate(store: SnapshotStore) -> SnapshotStore:
    put(store, EvidenceSource.GRAPH_USERS, users())
    put(store, EvidenceSource.GRAPH_AUTHENTICATION_METHODS, registrations())
    put(store, EvidenceSource.GRAPH_DIRECTORY_ROLES, roles())
    put(store, EvidenceSource.GRAPH_SIGNINS, signins())
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, policies(["breakglass-group"]))
    return store


def run(store: SnapshotStore, check: Check, since: dt.datetime | None = None) -> CheckResult:
    return run_check(check, CheckContext(store, T, ALL, since))


def column(result: CheckResult, name: str) -> list[object]:
    assert result.items is not None, result.summary
    return [row[result.items.columns.index(name)] for row in result.items.rows]


def test_inventory_accounts_for_every_account_by_state_type_and_where_its_password_lives(estate):
    result = run(estate, Check.ACCOUNTS_INVENTORY)
    assert result.status is Status.PASS
    assert result.summary == (
        "all 212 accounts accounted for: 202 enabled members, 4 enabled guests, 6 disabled; "
        "186 passwords live in the on-premises directory"
    )
    kinds = {(s, t, p): n for s, t, p, n in zip(*(column(result, c) for c in result.items.columns))}
    assert sum(kinds.values()) == 212
    assert kinds[("enabled", "Member", "on-premises directory (synced)")] == 180
    assert kinds[("enabled", "Member", "Entra (cloud only)")] == 22  # u000-u019 and the two admin accounts
    assert kinds[("disabled", "Member", "on-premises directory (synced)")] == 6


def test_an_account_of_no_known_type_makes_the_inventory_partial_and_is_listed(store):
    put(store, EvidenceSource.GRAPH_USERS, [*users(), member(950, user_type=None), member(951, account_enabled=None)])
    result = run(store, Check.ACCOUNTS_INVENTORY)
    assert result.status is Status.PARTIAL
    assert column(result, "account") == ["user950@council.example", "user951@council.example"]
    assert result.summary.startswith("2 of 214 accounts are neither a known member nor guest")


def test_guests_never_used_or_unused_for_90_days_make_the_supplier_review_partial(estate):
    result = run(estate, Check.SCOPE_EXTERNAL_ACCOUNTS)
    assert result.status is Status.PARTIAL
    assert result.summary == (
        "2 of 4 enabled guest accounts have not been used for 90 days (1 never); "
        "each needs reviewing and removing if no longer needed"
    )
    accounts = [str(a).split("_")[0] for a in column(result, "account")]
    assert accounts == ["g4", "g3", "g2", "g1"]  # never used first, then oldest
    assert column(result, "review") == ["never signed in", "unused for 90 days", "in use", "in use"]
    # g4 is too new to be a stale account: only the guest review catches the unredeemed invitation.
    stale = run(estate, Check.ACCOUNTS_STALE)
    assert not any("g4_" in str(a) for a in column(stale, "account"))


def test_accounts_created_in_the_period_are_listed_for_their_approvals(estate):
    result = run(estate, Check.ACCOUNTS_CREATED)
    assert result.status is Status.PASS
    assert column(result, "account") == [
        "user199@council.example",
        "user198@council.example",
        "user197@council.example",
    ]
    assert "3 accounts created since 2026-11-01" in result.summary
    assert "graph.directory_audits, which is not collected" in result.summary
    # The report's own period start is used when given.
    assert run(estate, Check.ACCOUNTS_CREATED, since=ago(7.5)).items.total == 1


def test_a_role_on_a_licensed_account_used_for_mail_fails_separate_accounts(estate):
    result = run(estate, Check.ADMINS_SEPARATE)
    assert result.status is Status.FAIL
    assert result.summary == "1 of 3 administrators hold their role on an account also used for everyday apps"
    assert column(result, "account") == ["user005@council.example", "adm.user002@council.example"]
    assert column(result, "roles") == ["Exchange Administrator, Teams Administrator", "Intune Administrator"]
    assert column(result, "everyday_sign_ins") == [4, 0]  # Teams once, Exchange three times
    assert [str(m) for m in result.measures] == [
        "1 of 3 administrators whose account is also used for everyday apps",
        "1 of 3 licensed administrator accounts not seen using everyday apps",
    ]


def test_a_licensed_admin_account_alone_is_partial_for_a_person_to_confirm(store):
    put(store, EvidenceSource.GRAPH_USERS, users())
    put(store, EvidenceSource.GRAPH_DIRECTORY_ROLES, [r for r in roles() if r["member_id"] != "u005"])
    result = run(store, Check.ADMINS_SEPARATE)  # no sign-in snapshot: only licences are read
    assert result.status is Status.PARTIAL
    assert result.summary.startswith("1 of 2 administrator accounts hold a licence but were not seen using")
    assert "(no sign-in snapshot: only licences were read)" in result.summary


def test_administrators_signing_in_to_everyday_apps_fail_daily_use_and_failures_do_not_count(estate):
    result = run(estate, Check.ADMINS_DAILY_USE)
    assert result.status is Status.FAIL
    assert result.summary == "1 of 3 administrators signed in to everyday apps 4 times"
    assert column(result, "account") == ["user005@council.example"]
    assert column(result, "apps") == ["Microsoft Teams, Office 365 Exchange Online"]
    # adm.user001's two failed attempts at Microsoft Office got nobody in.
    rows = [s for s in signins() if s["user_id"] != "u005"]
    put(estate, EvidenceSource.GRAPH_SIGNINS, rows)
    passed = run(estate, Check.ADMINS_DAILY_USE)
    assert passed.status is Status.PASS and passed.measures[0].count == 0


def test_standing_privilege_fails_on_a_stale_holder_and_otherwise_says_what_it_needs(estate, store):
    result = run(estate, Check.ADMINS_STANDING)
    assert result.status is Status.NOT_EVIDENCED
    assert result.reason.startswith("none of 3 administrators is stale, but whether any assignment is permanent")
    assert "roleAssignmentScheduleInstances" in result.reason and "RoleManagement.Read.Directory" in result.reason
    stale = [u if u["id"] != "u901" else {**u, "last_successful_sign_in_at": ago(200)} for u in users()]
    put(estate, EvidenceSource.GRAPH_USERS, stale)
    failed = run(estate, Check.ADMINS_STANDING)
    assert failed.status is Status.FAIL and column(failed, "account") == ["adm.user002@council.example"]


def test_factor_mix_counts_each_enabled_member_once_by_its_strongest_factor(estate):
    result = run(estate, Check.MFA_FACTOR_MIX)
    assert result.status is Status.PASS
    assert dict(zip(column(result, "kind"), column(result, "accounts"))) == {
        "phishing-resistant": 3,
        "authenticator app or token": 150,
        "mobile phone (text or call)": 30,
        "voice call only": 2,
        # 5 with email only, u190-u199 with no record, the two admin accounts with none
        "no second factor": 17,
    }
    assert result.summary == (
        "of 202 enabled member accounts, 3 have a phishing-resistant factor, 150 an authenticator app or token, "
        "32 only a phone and 17 no second factor"
    )


def test_only_successful_interactive_single_factor_sign_ins_fail(estate):
    result = run(estate, Check.SIGNINS_SINGLE_FACTOR)
    assert result.status is Status.FAIL
    assert result.summary == "5 of 54 successful interactive sign-ins by 1 accounts needed one factor only"
    assert column(result, "account") == ["user042@council.example"]
    assert column(result, "clients") == ["IMAP4"]


def test_single_factor_is_not_evidenced_by_a_snapshot_without_the_requirement(store):
    old = schema_of([c for c in legacy_signins.COLUMNS if c.name != "authentication_requirement"])
    rows = [{k: v for k, v in s.items() if k != "authentication_requirement"} for s in signins()]
    put(store, EvidenceSource.GRAPH_SIGNINS, rows, old)
    result = run(store, Check.SIGNINS_SINGLE_FACTOR)
    assert result.status is Status.NOT_EVIDENCED
    assert "no authenticationRequirement" in result.reason


def test_authentication_required_passes_on_a_policy_for_everyone_and_is_partial_without(estate, store):
    result = run(estate, Check.ACCESS_AUTHENTICATION_REQUIRED)
    assert result.status is Status.PASS
    assert column(result, "policy") == ["CA001 MFA for everyone"] and column(result, "exclusions") == [1]
    # Every successful sign-in in the window, the 7 non-interactive refreshes included: 54 + 7.
    assert [m.count for m in result.measures] == [1, 61]
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, policies(state="enabledForReportingButNotEnforced"))
    partial = run(store, Check.ACCESS_AUTHENTICATION_REQUIRED)
    assert partial.status is Status.PARTIAL and "no enabled Conditional Access policy" in partial.summary


def test_uncollected_sources_say_what_to_turn_on_and_never_pass(estate):
    lockout = run(estate, Check.PASSWORDS_LOCKOUT)
    assert lockout.status is Status.NOT_EVIDENCED
    assert lockout.reason == (
        "needs graph.password_policy, not collected: LockoutThreshold from GET /beta/settings, "
        "the 'Password Rule Settings' template (Graph Directory.Read.All)"
    )
    autorun = run(estate, Check.DEVICE_AUTORUN_DISABLED)
    assert autorun.reason == (
        "needs defender.secure_configuration, not collected: the AutoPlay and AutoRun configuration items per "
        "device (isApplicable, isCompliant) from Defender GET /api/machines/SecureConfigurationsAssessmentByMachine "
        "(Defender Vulnerability.Read.All)"
    )
    rings = run(estate, Check.UPDATES_AUTOMATIC)
    assert "intune.update_rings" in rings.reason and "DeviceManagementConfiguration.Read.All" in rings.reason
    for check, needed in NEEDED.items():
        assert check not in IMPLEMENTED, check
        result = run(estate, check)
        assert result.status is Status.NOT_EVIDENCED and result.reason == str(needed)


def test_generic_names_and_many_devices_make_an_account_suspected_of_sharing(estate):
    assert run(estate, Check.ACCOUNTS_SHARED).status is Status.PASS
    extra = [
        member(960, user_principal_name="reception.depot@council.example"),
        member(961, user_principal_name="temp.jsmith@council.example"),
    ]
    put(estate, EvidenceSource.GRAPH_USERS, [*users(), *extra])
    rows = (
        signins()
        + [
            {**signins()[10], "id": f"d{n}", "device_id": f"dev-{n}"}
            for n in range(5)  # u010 from five devices
        ]
        + [{**signins()[11], "id": f"e{n}", "device_id": f"dev-{n}"} for n in range(4)]
    )  # u011 from four: usual
    put(estate, EvidenceSource.GRAPH_SIGNINS, rows)
    result = run(estate, Check.ACCOUNTS_SHARED)
    assert result.status is Status.PARTIAL
    assert dict(zip(column(result, "account"), column(result, "signs"))) == {
        "reception.depot@council.example": "generic name",
        "user010@council.example": "5 devices in the sign-in window",
    }
    assert result.summary == (
        "2 of 204 enabled member accounts may be shared (generic names or sign-ins from more than 4 devices); "
        "each needs review"
    )


METHODS = [m for _, _, methods in factors.KINDS for m in methods] + ["email", "securityQuestion", "appPassword"]


def strongest(methods: list[str]) -> str:
    """The reference: the first kind, strongest first, any of whose methods is registered."""
    for kind, _, accepted in sorted(factors.KINDS, key=lambda k: -k[1]):
        if set(methods) & set(accepted):
            return kind
    return factors.NONE


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(METHODS), max_size=4), min_size=1, max_size=30))
def test_factor_mix_agrees_with_a_plain_reference_for_any_registration(tmp_path_factory, registered):
    store = SnapshotStore(tmp_path_factory.mktemp("mix"))
    put(store, EvidenceSource.GRAPH_USERS, [member(n) for n in range(len(registered))])
    put(
        store,
        EvidenceSource.GRAPH_AUTHENTICATION_METHODS,
        [{"id": f"u{n:03d}", "methods_registered": m} for n, m in enumerate(registered)],
    )
    result = run(store, Check.MFA_FACTOR_MIX)
    expected: dict[str, int] = {}
    for methods in registered:
        expected[strongest(methods)] = expected.get(strongest(methods), 0) + 1
    assert dict(zip(column(result, "kind"), column(result, "accounts"))) == expected
