"""MFA checks: every enabled member account registered, every administrator registered and
covered by a policy that requires MFA, and a policy requiring it of everyone.

Registration comes from ``graph.authentication_methods`` (``isMfaRegistered``), joined to
``graph.users`` so a disabled account or a guest is not counted and an enabled account with no
registration record at all counts as not registered. Enforcement is read from Conditional Access
policies: an enabled policy for all cloud apps whose grant needs MFA (the ``mfa`` control alone
or with AND, or an authentication strength). Group membership and security defaults are not in
the evidence, so coverage that would depend on them is reported as unproven, never as covered.
"""

from __future__ import annotations

from reports.checks.context import CheckContext, NotEvidenced, Views
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

ENABLED_MEMBERS = """
    SELECT u.id, u.user_principal_name AS account, u.display_name AS name,
           coalesce(r.is_mfa_registered, false) AS registered,
           CASE WHEN r.id IS NULL THEN 'no registration record'
                ELSE coalesce(array_to_string(r.methods_registered, ', '), '') END AS methods
    FROM users u LEFT JOIN registration r ON r.id = u.id
    WHERE u.account_enabled AND u.user_type = 'Member'
"""

#: Policies that, if they apply to an account, require MFA of it for every cloud app.
MFA_POLICIES = """
    SELECT * FROM policies
    WHERE state = 'enabled'
      AND list_contains(include_applications, 'All')
      AND (authentication_strength IS NOT NULL
           OR (list_contains(built_in_controls, 'mfa') AND (grant_operator = 'AND' OR len(built_in_controls) = 1)))
"""

ADMINS = """
    SELECT member_id AS id, any_value(member_user_principal_name) AS account,
           any_value(member_display_name) AS name,
           string_agg(DISTINCT role_name, ', ' ORDER BY role_name) AS roles,
           list(DISTINCT role_template_id) AS role_templates
    FROM roles
    WHERE member_id IS NOT NULL AND member_type = '#microsoft.graph.user'
    GROUP BY member_id
"""


def registered_all_users(context: CheckContext) -> CheckResult:
    check = Check.MFA_REGISTERED
    with context.views(users=EvidenceSource.GRAPH_USERS, registration=EvidenceSource.GRAPH_AUTHENTICATION_METHODS) as v:
        total, registered = v.one(f"SELECT count(*), count(*) FILTER (registered) FROM ({ENABLED_MEMBERS})")
        missing = v.items(
            "enabled member accounts without MFA",
            f"SELECT account, name, methods FROM ({ENABLED_MEMBERS}) WHERE NOT registered",
            "account",
        )
        status = Status.PASS if registered == total else Status.FAIL
        return CheckResult(
            check,
            status,
            f"MFA registered for {registered:,} of {total:,} enabled member accounts",
            (Measure("enabled member accounts registered for MFA", registered, total),),
            missing if missing.total else None,
            v.entries,
        )


def admins(context: CheckContext) -> CheckResult:
    check = Check.MFA_ADMINS
    with context.views(
        roles=EvidenceSource.GRAPH_DIRECTORY_ROLES, registration=EvidenceSource.GRAPH_AUTHENTICATION_METHODS
    ) as v:
        judged = f"""
            SELECT a.*, coalesce(r.is_mfa_registered, false) AS registered
            FROM ({ADMINS}) a LEFT JOIN registration r ON r.id = a.id
        """
        total, registered = v.one(f"SELECT count(*), count(*) FILTER (registered) FROM ({judged})")
        measures = [Measure("directory-role holders registered for MFA", registered, total)]
        if registered < total:
            unregistered = v.items(
                "administrators without MFA",
                f"SELECT account, name, roles FROM ({judged}) WHERE NOT registered",
                "account",
            )
            summary = f"{total - registered:,} of {total:,} administrators are not registered for MFA"
            return CheckResult(check, Status.FAIL, summary, tuple(measures), unregistered, v.entries)
        return _admins_enforced(context, v, judged, total, measures)


def _admins_enforced(context: CheckContext, v: Views, judged: str, total: int, measures: list[Measure]) -> CheckResult:
    """Every administrator is registered; now whether a policy makes them use it."""
    check = Check.MFA_ADMINS
    if not context.optional(v, "policies", EvidenceSource.GRAPH_CONDITIONAL_ACCESS):
        summary = f"all {total:,} administrators registered for MFA; its enforcement is not evidenced (no Conditional Access snapshot)"
        return CheckResult(check, Status.PARTIAL, summary, tuple(measures), None, v.entries)
    covered = f"""
        SELECT a.* FROM ({judged}) a
        WHERE EXISTS (
            SELECT 1 FROM ({MFA_POLICIES}) p
            WHERE (list_contains(p.include_users, 'All') OR list_contains(p.include_users, a.id)
                   OR list_has_any(coalesce(p.include_roles, []), a.role_templates))
              AND NOT list_contains(coalesce(p.exclude_users, []), a.id)
              AND NOT list_has_any(coalesce(p.exclude_roles, []), a.role_templates)
              AND len(coalesce(p.exclude_groups, [])) = 0)
    """
    enforced = v.one(f"SELECT count(*) FROM ({covered})")[0]
    measures.append(Measure("administrators covered by a policy requiring MFA", enforced, total))
    if enforced == total:
        return CheckResult(
            check,
            Status.PASS,
            f"all {total:,} administrators registered for MFA and required to use it",
            tuple(measures),
            None,
            v.entries,
        )
    uncovered = v.items(
        "administrators no policy is shown to require MFA of",
        f"SELECT account, name, roles FROM ({judged}) WHERE id NOT IN (SELECT id FROM ({covered}))",
        "account",
    )
    summary = (
        f"all {total:,} administrators registered for MFA, but for {total - enforced:,} no enabled Conditional "
        "Access policy is shown to require it (group exclusions and security defaults are not evidenced)"
    )
    return CheckResult(check, Status.PARTIAL, summary, tuple(measures), uncovered, v.entries)


def enforced_all_users(context: CheckContext) -> CheckResult:
    check = Check.MFA_ENFORCED
    with context.views(policies=EvidenceSource.GRAPH_CONDITIONAL_ACCESS) as v:
        everyone = f"SELECT * FROM ({MFA_POLICIES}) WHERE list_contains(include_users, 'All')"
        found = v.one(f"SELECT count(*) FROM ({everyone})")[0]
        if not found:
            raise NotEvidenced(
                "no enabled Conditional Access policy requires MFA of all users for all cloud apps, and security "
                "defaults (graph.security_defaults) are not collected",
                v.entries,
            )
        exclusions = v.items(
            "exclusions from the policies requiring MFA of everyone",
            f"""SELECT display_name AS policy, kind, excluded FROM (
                    SELECT display_name, 'user' AS kind, unnest(exclude_users) AS excluded FROM ({everyone})
                    UNION ALL SELECT display_name, 'group', unnest(exclude_groups) FROM ({everyone})
                    UNION ALL SELECT display_name, 'role', unnest(exclude_roles) FROM ({everyone}))""",
            "policy, kind, excluded",
        )
        measures = (Measure("enabled policies requiring MFA of all users for all cloud apps", found),)
        if exclusions.total:
            summary = f"MFA required of all users for all cloud apps, with {exclusions.total:,} exclusions a person must justify"
            return CheckResult(check, Status.PARTIAL, summary, measures, exclusions, v.entries)
        return CheckResult(
            check,
            Status.PASS,
            "MFA required of all users for all cloud apps, without exclusions",
            measures,
            None,
            v.entries,
        )
