"""Directory checks over ``graph.users``: every account accounted for by kind, the guests kept for
suppliers and when each last signed in, and the accounts created in the period.

What the directory cannot show is said, not guessed: who created an account and who approved it
are in the directory audit log (``graph.directory_audits``, not collected), so the accounts
created in the period are listed for a person to match against the approvals; accounts in
systems that do not sign in through Entra are for attestation.
"""

from __future__ import annotations

from datetime import timedelta

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

#: Where an account's password lives: synced from the on-premises directory, or in Entra.
KINDS = """
    SELECT CASE WHEN account_enabled THEN 'enabled' WHEN account_enabled IS FALSE THEN 'disabled'
                ELSE 'unknown' END AS state,
           coalesce(user_type, 'unknown') AS type,
           CASE WHEN on_premises_sync_enabled THEN 'on-premises directory (synced)' ELSE 'Entra (cloud only)' END
               AS password_lives_in,
           count(*) AS accounts
    FROM users GROUP BY ALL
"""

#: An account is accounted for when the directory says whether it is enabled and whether it is
#: a member or a guest; anything else is a kind nobody has classified.
UNACCOUNTED = """
    SELECT user_principal_name AS account, display_name AS name, user_type AS type,
           CASE WHEN account_enabled THEN 'enabled' WHEN account_enabled IS FALSE THEN 'disabled' ELSE 'unknown' END AS state
    FROM users WHERE account_enabled IS NULL OR user_type IS NULL OR user_type NOT IN ('Member', 'Guest')
"""


def inventory(context: CheckContext) -> CheckResult:
    check = Check.ACCOUNTS_INVENTORY
    with context.views(users=EvidenceSource.GRAPH_USERS) as v:
        total, members, guests, disabled, synced, unaccounted = v.one(
            "SELECT count(*), count(*) FILTER (account_enabled AND user_type = 'Member'), "
            "count(*) FILTER (account_enabled AND user_type = 'Guest'), count(*) FILTER (account_enabled IS FALSE), "
            f"count(*) FILTER (on_premises_sync_enabled), (SELECT count(*) FROM ({UNACCOUNTED})) FROM users"
        )
        measures = (
            Measure("enabled member accounts", members, total),
            Measure("enabled guest accounts", guests, total),
            Measure("disabled accounts", disabled, total),
            Measure("accounts whose password lives in the on-premises directory", synced, total),
            Measure("accounts of no known type or state", unaccounted, total),
        )
        if unaccounted:
            found = v.items("accounts of no known type or state", UNACCOUNTED, "account")
            summary = (
                f"{unaccounted:,} of {total:,} accounts are neither a known member nor guest, or have no enabled "
                "state; each needs classifying"
            )
            return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)
        kinds = v.items("kinds of account", KINDS, "accounts DESC, state, type, password_lives_in")
        summary = (
            f"all {total:,} accounts accounted for: {members:,} enabled members, {guests:,} enabled guests, "
            f"{disabled:,} disabled; {synced:,} passwords live in the on-premises directory"
        )
        return CheckResult(check, Status.PASS, summary, measures, kinds, v.entries)


GUESTS = """
    SELECT user_principal_name AS account, display_name AS name, department AS organisation, created_at AS invited_at,
           coalesce(last_successful_sign_in_at, greatest(last_sign_in_at, last_non_interactive_sign_in_at)) AS last_active
    FROM users WHERE user_type = 'Guest' AND account_enabled
"""


def external_accounts(context: CheckContext) -> CheckResult:
    """Enabled guests, the ones unused for the inactivity threshold or never used first: an
    invitation never redeemed or a supplier gone quiet is a door to close, so it makes the result
    partial. The suppliers' own assurance is the requirement's attestation."""
    check = Check.SCOPE_EXTERNAL_ACCOUNTS
    days = context.thresholds.stale_after_days
    with context.views(users=EvidenceSource.GRAPH_USERS) as v:
        unused = f"last_active IS NULL OR last_active < $at - to_days(CAST({int(days)} AS INTEGER))"
        guests, idle, never = v.one(
            f"SELECT count(*), count(*) FILTER ({unused}), count(*) FILTER (last_active IS NULL) FROM ({GUESTS})"
        )
        measures = (
            Measure(f"enabled guest accounts unused for {days} days or never used", idle, guests),
            Measure("enabled guest accounts never signed in to", never),
        )
        listed = v.items(
            "enabled guest accounts",
            f"""SELECT *, CASE WHEN last_active IS NULL THEN 'never signed in'
                               WHEN {unused} THEN 'unused for {int(days)} days' ELSE 'in use' END AS review
                FROM ({GUESTS})""",
            "review = 'in use', last_active NULLS FIRST, account",
        )
        if idle:
            summary = (
                f"{idle:,} of {guests:,} enabled guest accounts have not been used for {days} days "
                f"({never:,} never); each needs reviewing and removing if no longer needed"
            )
            return CheckResult(check, Status.PARTIAL, summary, measures, listed, v.entries)
        summary = f"all {guests:,} enabled guest accounts signed in within {days} days; listed for the supplier review"
        return CheckResult(check, Status.PASS, summary, measures, listed if guests else None, v.entries)


#: How far back "the period" goes when the report does not say (a month of joiners).
DEFAULT_PERIOD = timedelta(days=30)


def created_in_period(context: CheckContext) -> CheckResult:
    """Accounts created since the period's start, listed for reconciling against approvals. Always
    a pass when evidenced: the approvals are the requirement's attestation, and a listing a person
    must match is not a failure of the accounts themselves."""
    check = Check.ACCOUNTS_CREATED
    since = context.since or context.at - DEFAULT_PERIOD
    with context.views(users=EvidenceSource.GRAPH_USERS) as v:
        created = """
            SELECT user_principal_name AS account, display_name AS name, user_type AS type, created_at,
                   CASE WHEN account_enabled THEN 'enabled' WHEN account_enabled IS FALSE THEN 'disabled' ELSE 'unknown' END AS state, department
            FROM users WHERE created_at > $since AND created_at <= $at
        """
        window = {"since": since}
        total, members, guests = v.one(
            f"SELECT count(*), count(*) FILTER (type = 'Member'), count(*) FILTER (type = 'Guest') FROM ({created})",
            window,
        )
        measures = (
            Measure("accounts created in the period", total),
            Measure("member accounts created in the period", members),
            Measure("guest accounts created in the period", guests),
        )
        found = v.items("accounts created in the period", created, "created_at, account", window)
        summary = (
            f"{total:,} accounts created since {since:%Y-%m-%d} ({members:,} members, {guests:,} guests), listed "
            "to match against their approvals; who created each is in graph.directory_audits, which is not collected"
        )
        return CheckResult(check, Status.PASS, summary, measures, found if total else None, v.entries)
