"""Administrator checks: role holders whose account is also an everyday account, administrator
accounts used for mail and office work, and standing privilege.

The definitions, from what the evidence holds:

- an **administrator** is a user who is a member of an activated Entra directory role
  (``graph.directory_roles``);
- a role is held on an **everyday account** when the account holds a licence
  (``assignedLicenses``: Microsoft 365 products come with one; an account kept for administration
  needs none, save an Entra ID P1/P2 for PIM) and signs in to an everyday app (mail, Teams,
  SharePoint, OneDrive, Office) in the sign-in window;
- **daily use** is a successful sign-in of an administrator to an everyday app in that window,
  whatever the account's licences (a separate admin account read mail with is ``admins.daily_use``,
  not a missing separate account).

A licensed administrator seen using everyday apps fails ``admins.separate_accounts``; one licensed
but not seen using them makes it partial, since an Entra ID P2 licence alone is no everyday use
and only a person can say which licence it is.
"""

from __future__ import annotations

from reports.checks.context import CheckContext, NotEvidenced
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

#: Entra ``appDisplayName`` values of everyday apps: mail, chat, documents and the Office portal.
EVERYDAY_APPS = (
    "Office 365 Exchange Online",
    "Microsoft Exchange Online",
    "Outlook Mobile",
    "Microsoft Outlook",
    "Microsoft Teams",
    "Microsoft Teams Web Client",
    "Office 365 SharePoint Online",
    "OneDrive",
    "OneDrive SyncEngine",
    "Microsoft Office",
    "Office365 Shell WCSS-Client",
    "OfficeHome",
)

HOLDERS = """
    SELECT member_id AS id, any_value(member_user_principal_name) AS account,
           string_agg(DISTINCT role_name, ', ' ORDER BY role_name) AS roles
    FROM roles WHERE member_id IS NOT NULL AND member_type = '#microsoft.graph.user'
    GROUP BY member_id
"""

EVERYDAY_SIGNINS = """
    SELECT user_id, count(*) AS sign_ins, string_agg(DISTINCT app_display_name, ', ' ORDER BY app_display_name) AS apps,
           max(created_at) AS last_at
    FROM signins
    WHERE error_code = 0 AND created_at <= $at AND list_contains($everyday, lower(app_display_name))
      -- only role holders' rows are grouped: a million sign-ins, a dozen administrators
      AND user_id IN (SELECT member_id FROM roles WHERE member_id IS NOT NULL)
    GROUP BY user_id
"""


def _everyday() -> dict[str, object]:
    return {"everyday": [name.lower() for name in EVERYDAY_APPS]}


def separate_accounts(context: CheckContext) -> CheckResult:
    check = Check.ADMINS_SEPARATE
    with context.views(roles=EvidenceSource.GRAPH_DIRECTORY_ROLES, users=EvidenceSource.GRAPH_USERS) as v:
        seen = context.optional(v, "signins", EvidenceSource.GRAPH_SIGNINS)
        used = f"({EVERYDAY_SIGNINS})" if seen else "(SELECT NULL::VARCHAR AS user_id, 0 AS sign_ins, NULL AS apps)"
        judged = f"""
            SELECT h.account, h.roles, coalesce(u.licence_count, 0) AS licences, coalesce(s.sign_ins, 0) AS everyday_sign_ins,
                   s.apps AS everyday_apps
            FROM ({HOLDERS}) h LEFT JOIN users u ON u.id = h.id LEFT JOIN {used} s ON s.user_id = h.id
            WHERE coalesce(u.licence_count, 0) > 0
        """
        params = _everyday() if seen else {}
        holders, shared, licensed_only = v.one(
            f"SELECT (SELECT count(*) FROM ({HOLDERS})), "
            f"(SELECT count(*) FROM ({judged}) WHERE everyday_sign_ins > 0), "
            f"(SELECT count(*) FROM ({judged}) WHERE everyday_sign_ins = 0)",
            params,
        )
        measures = (
            Measure("administrators whose account is also used for everyday apps", shared, holders),
            Measure("licensed administrator accounts not seen using everyday apps", licensed_only, holders),
        )
        found = v.items("administrators with an everyday account", judged, "everyday_sign_ins DESC, account", params)
        window = "" if seen else " (no sign-in snapshot: only licences were read)"
        if shared:
            summary = (
                f"{shared:,} of {holders:,} administrators hold their role on an account also used for everyday apps"
            )
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        if licensed_only:
            summary = (
                f"{licensed_only:,} of {holders:,} administrator accounts hold a licence but were not seen using "
                f"everyday apps{window}; a person must confirm the licence is for administration only"
            )
            return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)
        summary = f"all {holders:,} administrators use unlicensed accounts kept for administration{window}"
        return CheckResult(check, Status.PASS, summary, measures, None, v.entries)


def daily_use(context: CheckContext) -> CheckResult:
    check = Check.ADMINS_DAILY_USE
    with context.views(roles=EvidenceSource.GRAPH_DIRECTORY_ROLES, signins=EvidenceSource.GRAPH_SIGNINS) as v:
        params = _everyday()
        used = f"""
            SELECT h.account, h.roles, s.sign_ins, s.apps, s.last_at
            FROM ({HOLDERS}) h JOIN ({EVERYDAY_SIGNINS}) s ON s.user_id = h.id
        """
        holders, admins_used, sign_ins = v.one(
            f"SELECT (SELECT count(*) FROM ({HOLDERS})), (SELECT count(*) FROM ({used})), "
            f"(SELECT coalesce(sum(sign_ins), 0) FROM ({used}))",
            params,
        )
        measures = (
            Measure("administrators signing in to everyday apps", admins_used, holders),
            Measure("administrators' sign-ins to everyday apps", sign_ins),
        )
        if admins_used:
            found = v.items("administrators signing in to everyday apps", used, "sign_ins DESC, account", params)
            summary = f"{admins_used:,} of {holders:,} administrators signed in to everyday apps {sign_ins:,} times"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        summary = (
            f"none of {holders:,} administrators signed in to mail, Teams, SharePoint or Office in the sign-in window"
        )
        return CheckResult(check, Status.PASS, summary, measures, None, v.entries)


#: What a standing-privilege check needs that ``directoryRoles`` does not give.
ASSIGNMENT_SCHEDULES = (
    "graph.directory_roles lists the current members of activated roles (GET /directoryRoles/{id}/members), which "
    "cannot tell a permanent assignment from a time-bound PIM activation; that needs "
    "GET /roleManagement/directory/roleAssignmentScheduleInstances and roleEligibilityScheduleInstances "
    "(RoleManagement.Read.Directory; PIM needs an Entra ID P2 licence)"
)


def standing_privilege(context: CheckContext) -> CheckResult:
    """Stale privileged accounts can be seen, permanence cannot: any stale holder fails, and
    otherwise the result is "not evidenced", saying what would show permanent assignments."""
    check = Check.ADMINS_STANDING
    days = context.thresholds.stale_after_days
    with context.views(roles=EvidenceSource.GRAPH_DIRECTORY_ROLES, users=EvidenceSource.GRAPH_USERS) as v:
        holders = f"""
            SELECT h.account, h.roles,
                   coalesce(u.last_successful_sign_in_at, greatest(u.last_sign_in_at, u.last_non_interactive_sign_in_at))
                       AS last_active, u.created_at
            FROM ({HOLDERS}) h LEFT JOIN users u ON u.id = h.id
        """
        stale = f"""SELECT * FROM ({holders})
                    WHERE coalesce(last_active, created_at) < $at - to_days(CAST({int(days)} AS INTEGER))"""
        total, idle = v.one(f"SELECT (SELECT count(*) FROM ({holders})), (SELECT count(*) FROM ({stale}))")
        if idle:
            found = v.items(
                f"administrators with no sign-in for {days} days", stale, "last_active NULLS FIRST, account"
            )
            measures = (Measure(f"administrators with no sign-in for {days} days", idle, total),)
            summary = f"{idle:,} of {total:,} administrators hold a role but have not signed in for {days} days"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        raise NotEvidenced(
            f"none of {total:,} administrators is stale, but whether any assignment is permanent is not evidenced: "
            + ASSIGNMENT_SCHEDULES,
            v.entries,
        )
