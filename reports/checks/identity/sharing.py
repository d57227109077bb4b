"""Accounts that may be shared (``accounts.shared_suspected``): suspected, never proven.

Two signs, from what the evidence holds: an enabled member account whose name is a role or a
place rather than a person (``reception@``, ``admin@``, ``info@``...), and an account that signed
in successfully from more distinct Entra-known devices in the sign-in window than one person
uses (more than ``SHARED_DEVICES``). Either lists the account for a person to
review; none found is a pass of the signs only, so the requirement still needs the attestation
that no account is shared.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

#: Local parts that name a role, a desk or a place, not a person (matched whole or as a prefix
#: before ``.``, ``-``, ``_`` or a digit). Not "admin" or "temp": ``admin.jsmith`` is one person's.
GENERIC = (
    "office",
    "reception",
    "info",
    "enquiries",
    "shared",
    "team",
    "test",
    "training",
    "kiosk",
    "scanner",
    "frontdesk",
    "helpdesk",
    "general",
    "depot",
    "library",
    "council",
    "generic",
)
#: More Entra-known devices than this in the window makes an account look shared.
SHARED_DEVICES = 4


def shared_suspected(context: CheckContext) -> CheckResult:
    check = Check.ACCOUNTS_SHARED
    with context.views(users=EvidenceSource.GRAPH_USERS) as v:
        pattern = f"^({'|'.join(GENERIC)})([._-]|[0-9]|$)"
        named = f"""
            SELECT id, user_principal_name AS account, display_name AS name, 'generic name' AS sign
            FROM users WHERE account_enabled AND user_type = 'Member'
              AND regexp_matches(lower(split_part(user_principal_name, '@', 1)), '{pattern}')
        """
        parts = [named]
        seen = context.optional(v, "signins", EvidenceSource.GRAPH_SIGNINS) and "device_id" in {
            row[0] for row in v.con.execute("DESCRIBE signins").fetchall()
        }
        if seen:
            parts.append(f"""
                SELECT user_id, any_value(user_principal_name), NULL,
                       count(DISTINCT lower(device_id)) || ' devices in the sign-in window'
                FROM signins WHERE error_code = 0 AND created_at <= $at AND coalesce(device_id, '') <> ''
                GROUP BY user_id HAVING count(DISTINCT lower(device_id)) > {SHARED_DEVICES}
            """)
        suspected = f"""
            SELECT account, any_value(name) AS name, string_agg(sign, '; ' ORDER BY sign) AS signs
            FROM ({" UNION ALL ".join(parts)}) GROUP BY account
        """
        enabled = v.one("SELECT count(*) FROM users WHERE account_enabled AND user_type = 'Member'")[0]
        found = v.items("accounts that may be shared", suspected, "account")
        measures = (Measure("enabled member accounts that may be shared", found.total, enabled),)
        signs = "generic names" + (f" or sign-ins from more than {SHARED_DEVICES} devices" if seen else "")
        if found.total:
            summary = (
                f"{found.total:,} of {enabled:,} enabled member accounts may be shared ({signs}); each needs review"
            )
            return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)
        summary = f"none of {enabled:,} enabled member accounts shows a sign of sharing ({signs})"
        return CheckResult(check, Status.PASS, summary, measures, None, v.entries)
