"""Sign-in checks: successful sign-ins over legacy protocols, which cannot carry MFA.

The window is the ``graph.signins`` snapshot's (a recent week by default), up to the moment
judged. Legacy clients are named by Entra's ``clientAppUsed`` values; "Browser" and "Mobile Apps
and Desktop clients" are modern authentication, anything else in the list below is not.
A failed legacy attempt is not listed: the check is about what got in.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

#: Entra's ``clientAppUsed`` values for legacy authentication (Microsoft Learn, sign-in log).
LEGACY_CLIENTS = (
    "Authenticated SMTP",
    "AutoDiscover",
    "Exchange ActiveSync",
    "Exchange Online PowerShell",
    "Exchange Web Services",
    "IMAP4",
    "IMAP",
    "MAPI Over HTTP",
    "Offline Address Book",
    "Other clients",
    "Outlook Anywhere (RPC over HTTP)",
    "POP3",
    "POP",
    "Reporting Web Services",
    "Universal Outlook",
)


def legacy_authentication(context: CheckContext) -> CheckResult:
    check = Check.SIGNINS_LEGACY_AUTH
    with context.views(signins=EvidenceSource.GRAPH_SIGNINS) as v:
        legacy = {"legacy": [name.lower() for name in LEGACY_CLIENTS]}
        window = "FROM signins WHERE created_at <= $at"
        succeeded = f"{window} AND error_code = 0 AND list_contains($legacy, lower(client_app_used))"
        total, accounts, count = v.one(
            f"SELECT (SELECT count(*) {window}), (SELECT count(DISTINCT user_principal_name) {succeeded}), "
            f"(SELECT count(*) {succeeded})",
            legacy,
        )
        found = v.items(
            "accounts signing in over legacy protocols",
            f"""SELECT user_principal_name AS account, string_agg(DISTINCT client_app_used, ', ') AS protocols,
                       count(*) AS sign_ins, max(created_at) AS last_at
                {succeeded} GROUP BY user_principal_name""",
            "sign_ins DESC, account",
            legacy,
        )
        measures = (
            Measure("successful sign-ins over legacy protocols", count, total),
            Measure("accounts signing in over legacy protocols", accounts),
        )
        if count:
            summary = f"{count:,} successful legacy-protocol sign-ins by {accounts:,} accounts, of {total:,} sign-ins"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        return CheckResult(
            check,
            Status.PASS,
            f"no successful legacy-protocol sign-in among {total:,} sign-ins",
            measures,
            None,
            v.entries,
        )
