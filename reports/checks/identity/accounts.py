"""Account checks: enabled accounts nobody has signed in to for the inactivity threshold, with
the disabled accounts counted beside them (disabling is how an account leaves safely).

The last activity is ``lastSuccessfulSignInDateTime``; where Entra has none for an account (it
exists only since December 2023) the last interactive or non-interactive attempt stands in. An
account that has never signed in is stale once it is older than the threshold. If no enabled
account has any sign-in activity at all, the tenant's licence (Entra ID P1) or permission did
not give it: that is "not evidenced", not "everyone is stale" and not "nobody is".
"""

from __future__ import annotations

from reports.checks.context import CheckContext, NotEvidenced
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

ENABLED = """
    SELECT user_principal_name AS account, display_name AS name, user_type AS type, created_at,
           coalesce(last_successful_sign_in_at, greatest(last_sign_in_at, last_non_interactive_sign_in_at)) AS last_active
    FROM users WHERE account_enabled
"""


def stale(context: CheckContext) -> CheckResult:
    check = Check.ACCOUNTS_STALE
    days = context.thresholds.stale_after_days
    with context.views(users=EvidenceSource.GRAPH_USERS) as v:
        enabled, active_known, disabled = v.one(
            f"SELECT (SELECT count(*) FROM ({ENABLED})), (SELECT count(last_active) FROM ({ENABLED})), "
            "(SELECT count(*) FROM users WHERE account_enabled IS FALSE)"
        )
        if enabled and not active_known:
            raise NotEvidenced(
                "no enabled account has any sign-in activity in graph.users; reading it needs an Entra ID P1 or P2 "
                "licence and AuditLog.Read.All",
                v.entries,
            )
        cutoff = {"days": days}
        inactive = f"""
            SELECT account, name, type, last_active, created_at FROM ({ENABLED})
            WHERE coalesce(last_active, created_at) < $at - to_days(CAST($days AS INTEGER))
        """
        found = v.items(
            f"enabled accounts with no sign-in for {days} days", inactive, "last_active NULLS FIRST, account", cutoff
        )
        measures = (
            Measure(f"enabled accounts with no sign-in for {days} days", found.total, enabled),
            Measure("disabled accounts", disabled),
        )
        if found.total:
            summary = f"{found.total:,} of {enabled:,} enabled accounts have not signed in for {days} days"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        summary = f"all {enabled:,} enabled accounts signed in within {days} days; {disabled:,} accounts are disabled"
        return CheckResult(check, Status.PASS, summary, measures, None, v.entries)
