"""The Entra directory evidence of one week: users, their MFA registration, directory roles and
members, and the Conditional Access policies.

A few thousand rows a table at most (one per account), so they are built as rows; the sign-ins,
which may be a million, are built in bulk in :mod:`scenario.evidence.tables.signins`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa

from scenario.world.draws import guid

from ..estate.people import ROLE_TEMPLATES, Directory, Person
from ..estate.plan import rng
from .schemas import POLICIES, REGISTRATION, ROLES, SCHEMAS, USERS

ALL = "All"


def users(directory: Directory, seed: int, week: int, taken_at: datetime) -> pa.Table:
    draw = rng(seed, f"users-{week}")
    rows = []
    for person in directory.people:
        if not person.present(taken_at):
            continue
        last = _last_sign_in(person, week, taken_at, draw.uniform(0.05, 6.0))
        rows.append(
            {
                "id": person.id,
                "user_principal_name": person.upn,
                "display_name": person.display_name,
                "account_enabled": person.enabled(week),
                "user_type": person.user_type,
                "created_at": person.created_at,
                "on_premises_sync_enabled": person.synced,
                "licence_count": person.licences,
                "last_sign_in_at": last,
                "last_non_interactive_sign_in_at": last,
                "last_successful_sign_in_at": last,
                "department": person.department,
                "mail": person.upn if person.user_type == "Member" else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[USERS])


def _last_sign_in(person: Person, week: int, taken_at: datetime, days_ago: float) -> datetime | None:
    if person.left_at is not None:
        return person.left_at
    if person.never_signed_in:
        return None
    if not person.registered(week) and person.record_from_week > week:
        return None  # a new starter who has not signed in yet
    if person.break_glass:
        return taken_at - timedelta(days=40 + week % 3)  # tested now and then, not used
    return max(person.created_at, taken_at - timedelta(days=days_ago))


def registration(directory: Directory, week: int, taken_at: datetime) -> pa.Table:
    rows = []
    for person in directory.people:
        if not person.present(taken_at) or week < person.record_from_week:
            continue
        registered = person.registered(week)
        methods = list(person.methods) if registered else ["email"]
        rows.append(
            {
                "id": person.id,
                "user_principal_name": person.upn,
                "user_display_name": person.display_name,
                "user_type": person.user_type.lower(),
                "is_admin": bool(person.roles),
                "is_mfa_registered": registered,
                "is_mfa_capable": registered and person.enabled(week),
                "is_passwordless_capable": registered and "fido2" in methods,
                "is_sspr_registered": True,
                "methods_registered": methods,
                "preferred_secondary_method": _preferred(methods) if registered else "none",
                "last_updated_at": taken_at - timedelta(hours=3),
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[REGISTRATION])


def _preferred(methods: list[str]) -> str:
    if "microsoftAuthenticatorPush" in methods:
        return "push"
    return "sms" if "mobilePhone" in methods else "none"


def roles(directory: Directory, seed: int, taken_at: datetime) -> pa.Table:
    """One row per (role, member); an activated role nobody holds is a row without a member."""
    draw = rng(seed, "roles")
    role_ids = {name: guid(draw) for name in ROLE_TEMPLATES}
    rows = []
    for name, template in ROLE_TEMPLATES.items():
        holders = [p for p in directory.people if name in p.roles and p.present(taken_at)]
        base = {"role_id": role_ids[name], "role_template_id": template, "role_name": name}
        if not holders:
            rows.append(base)
        rows += [
            {
                **base,
                "member_id": p.id,
                "member_type": "#microsoft.graph.user",
                "member_user_principal_name": p.upn,
                "member_display_name": p.display_name,
            }
            for p in holders
        ]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[ROLES])


def policies(directory: Directory, seed: int, taken_at: datetime) -> pa.Table:
    """MFA for everyone (the break-glass group excluded), legacy authentication blocked only in
    report-only mode, and a compliant device plus MFA for administrators."""
    draw = rng(seed, "policies")
    created = taken_at - timedelta(days=400)
    admin_roles = [ROLE_TEMPLATES[name] for name in ROLE_TEMPLATES if name != "Billing Administrator"]
    specs = [
        ("CA001: Require MFA for all users", "enabled", {"exclude_groups": [directory.break_glass_group]}, ["mfa"]),
        (
            "CA002: Block legacy authentication",
            "enabledForReportingButNotEnforced",
            {"client_app_types": ["exchangeActiveSync", "other"]},
            ["block"],
        ),
        (
            "CA003: Require compliant device and MFA for administrators",
            "enabled",
            {"include_users": [], "include_roles": admin_roles},
            ["mfa", "compliantDevice"],
        ),
    ]
    rows = [_policy(guid(draw), name, state, scope, controls, created) for name, state, scope, controls in specs]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[POLICIES])


def _policy(
    policy_id: str, name: str, state: str, scope: dict[str, list[str]], controls: list[str], created: datetime
) -> dict[str, object]:
    lists = {
        "include_users": [ALL],
        "exclude_users": [],
        "include_groups": [],
        "exclude_groups": [],
        "include_roles": [],
        "exclude_roles": [],
        "include_applications": [ALL],
        "exclude_applications": [],
        "client_app_types": [ALL.lower()],
        **scope,
    }
    operator = "AND" if len(controls) > 1 else "OR"
    conditions = {
        "users": {
            "includeUsers": lists["include_users"],
            "excludeUsers": lists["exclude_users"],
            "includeGroups": lists["include_groups"],
            "excludeGroups": lists["exclude_groups"],
            "includeRoles": lists["include_roles"],
            "excludeRoles": lists["exclude_roles"],
        },
        "applications": {
            "includeApplications": lists["include_applications"],
            "excludeApplications": lists["exclude_applications"],
        },
        "clientAppTypes": lists["client_app_types"],
    }
    grant = {"operator": operator, "builtInControls": controls, "authenticationStrength": None}
    return {
        "id": policy_id,
        "display_name": name,
        "state": state,
        "created_at": created,
        "modified_at": created + timedelta(days=30),
        **lists,
        "grant_operator": operator,
        "built_in_controls": controls,
        "authentication_strength": None,
        "conditions": json.dumps(conditions, sort_keys=True),
        "grant_controls": json.dumps(grant, sort_keys=True),
        "session_controls": None,
    }
