"""Whether reaching the council's services needs a sign-in (``access.authentication_required``).

Entra never lets a sign-in succeed without authenticating, so every successful sign-in in the
log is an authenticated one: what the evidence can add is whether an enabled Conditional Access
policy applies to all users and all cloud apps, so that no Entra-fronted service is outside the
policies. Ways in that need no sign-in at all (anonymous sharing links, public endpoints) never
reach Entra and are the requirement's attestation.
"""

from __future__ import annotations

from reports.checks.context import CheckContext, NotEvidenced
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

COVERING = """
    SELECT display_name AS policy, array_to_string(built_in_controls, ', ') AS controls,
           len(coalesce(exclude_users, [])) + len(coalesce(exclude_groups, [])) + len(coalesce(exclude_roles, []))
               AS exclusions,
           len(coalesce(exclude_applications, [])) AS excluded_apps
    FROM policies
    WHERE state = 'enabled' AND list_contains(include_users, 'All') AND list_contains(include_applications, 'All')
"""


def authentication_required(context: CheckContext) -> CheckResult:
    check = Check.ACCESS_AUTHENTICATION_REQUIRED
    with context.views(policies=EvidenceSource.GRAPH_CONDITIONAL_ACCESS) as v:
        covering = v.one(f"SELECT count(*) FROM ({COVERING})")[0]
        measures = [Measure("enabled Conditional Access policies for all users and all cloud apps", covering)]
        if context.optional(v, "signins", EvidenceSource.GRAPH_SIGNINS):
            succeeded = v.one("SELECT count(*) FROM signins WHERE error_code = 0 AND created_at <= $at")[0]
            measures.append(Measure("successful sign-ins in the window, each authenticated by Entra", succeeded))
        if not covering:
            summary = (
                "Entra authenticates every sign-in to the apps it fronts, but no enabled Conditional Access policy "
                "applies to all users and all cloud apps"
            )
            return CheckResult(check, Status.PARTIAL, summary, tuple(measures), None, v.entries)
        found = v.items("policies for all users and all cloud apps", COVERING, "policy")
        summary = (
            f"every Entra-fronted service needs a sign-in, and {covering:,} enabled "
            f"{'policy applies' if covering == 1 else 'policies apply'} to all users and all cloud apps; "
            "access paths that never reach Entra are for attestation"
        )
        return CheckResult(check, Status.PASS, summary, tuple(measures), found, v.entries)


#: Entra's application id of Windows Azure Service Management API: the portal, CLI and ARM, where
#: Azure Firewall is administered. The same in every tenant.
AZURE_MANAGEMENT = "797f4846-ba00-4fd7-ba43-dac1f8f63013"

AZURE_MFA = """
    SELECT display_name AS policy,
           CASE WHEN list_contains(include_users, 'All') THEN 'all users' ELSE 'some users or roles' END AS applies_to,
           array_to_string(list_concat(coalesce(exclude_users, []), coalesce(exclude_groups, []),
                                       coalesce(exclude_roles, [])), ', ') AS excluded
    FROM policies
    WHERE state = 'enabled'
      AND (list_contains(include_applications, 'All') OR list_contains(include_applications, $azure))
      AND NOT list_contains(coalesce(exclude_applications, []), $azure)
      AND (authentication_strength IS NOT NULL
           OR (list_contains(built_in_controls, 'mfa') AND (grant_operator = 'AND' OR len(built_in_controls) = 1)))
"""


def admin_requires_mfa(context: CheckContext) -> CheckResult:
    """Anyone may hold an Azure RBAC role on the firewall, directory role or not, so only a policy
    for all users with no exclusions passes; one for some roles, or with exclusions, is partial."""
    check = Check.FIREWALL_ADMIN_MFA
    with context.views(policies=EvidenceSource.GRAPH_CONDITIONAL_ACCESS) as v:
        params = {"azure": AZURE_MANAGEMENT}
        covering, everyone, clean = v.one(
            "SELECT count(*), count(*) FILTER (applies_to = 'all users'), "
            f"count(*) FILTER (applies_to = 'all users' AND excluded = '') FROM ({AZURE_MFA})",
            params,
        )
        if not covering:
            raise NotEvidenced(
                "no enabled Conditional Access policy requires MFA for Azure management, and security defaults "
                "(graph.security_defaults) are not collected",
                v.entries,
            )
        measures = (Measure("enabled policies requiring MFA for Azure management of all users", everyone, covering),)
        found = v.items("policies requiring MFA for Azure management", AZURE_MFA, "applies_to, policy", params)
        if clean:
            summary = "MFA is required of all users for Azure management, where Azure Firewall is administered"
            return CheckResult(check, Status.PASS, summary, measures, found, v.entries)
        summary = (
            "MFA is required for Azure management only of some roles or with exclusions a person must justify"
            if everyone == 0
            else "MFA is required of all users for Azure management, with exclusions a person must justify"
        )
        return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)


def cloud_services(context: CheckContext) -> CheckResult:
    """The apps signed in to through Entra in the sign-in window: candidates for the list of
    in-scope cloud services (question A2.9), each with how many of its successful interactive
    sign-ins needed MFA. Services people reach without Entra are the requirement's attestation."""
    check = Check.SCOPE_CLOUD_SERVICES
    with context.views(signins=EvidenceSource.GRAPH_SIGNINS) as v:
        columns = {row[0] for row in v.con.execute("DESCRIBE signins").fetchall()}
        mfa = (
            "count(*) FILTER (is_interactive AND authentication_requirement = 'multiFactorAuthentication')"
            if "authentication_requirement" in columns
            else "NULL::BIGINT"
        )
        apps = f"""
            SELECT coalesce(app_display_name, '(unnamed app)') AS service, count(DISTINCT user_id) AS accounts,
                   count(*) AS sign_ins, count(*) FILTER (is_interactive) AS interactive,
                   {mfa} AS interactive_with_mfa
            FROM signins WHERE error_code = 0 AND created_at <= $at GROUP BY ALL
        """
        services = v.one(f"SELECT count(*) FROM ({apps})")[0]
        found = v.items("cloud services signed in to through Entra", apps, "accounts DESC, service")
        measures = (Measure("cloud services signed in to through Entra in the sign-in window", services),)
        summary = (
            f"{services:,} cloud services were signed in to through Entra in the sign-in window, listed as candidates "
            "for the in-scope cloud-service list"
        )
        return CheckResult(check, Status.PASS, summary, measures, found if services else None, v.entries)
