"""Sign-in checks: successful sign-ins over legacy protocols, which cannot carry MFA.

The window is the ``graph.signins`` snapshot's (a recent week by default), up to the moment
judged. Legacy clients are named by Entra's ``clientAppUsed`` values; "Browser" and "Mobile Apps
and Desktop clients" are modern authentication, anything else in the list below is not.
A failed legacy attempt is not listed: the check is about what got in.
"""

from __future__ import annotations

from reports.checks.context import CheckContext, NotEvidenced
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


def single_factor(context: CheckContext) -> CheckResult:
    """Successful interactive sign-ins whose ``authenticationRequirement`` was one factor: the
    sign-ins MFA did not protect, whatever the policies say. A snapshot without the field (taken
    before it was collected) is "not evidenced", never a pass."""
    check = Check.SIGNINS_SINGLE_FACTOR
    with context.views(signins=EvidenceSource.GRAPH_SIGNINS) as v:
        columns = {row[0] for row in v.con.execute("DESCRIBE signins").fetchall()}
        window = "FROM signins WHERE created_at <= $at AND error_code = 0 AND is_interactive"
        known = (
            "authentication_requirement" in columns and v.one(f"SELECT count(authentication_requirement) {window}")[0]
        )
        if not known:
            raise NotEvidenced(
                "the graph.signins snapshot has no authenticationRequirement for its successful interactive "
                "sign-ins: Graph v1.0's signIn does not carry it (the beta API and Log Analytics' SigninLogs "
                "do); the legacy-protocol check lists the password-only sign-ins it can see",
                v.entries,
            )
        single = f"{window} AND authentication_requirement = 'singleFactorAuthentication'"
        total, count, accounts = v.one(
            f"SELECT (SELECT count(*) {window}), (SELECT count(*) {single}), "
            f"(SELECT count(DISTINCT user_principal_name) {single})"
        )
        measures = (
            Measure("successful interactive sign-ins with one factor", count, total),
            Measure("accounts signing in with one factor", accounts),
        )
        if not count:
            summary = f"all {total:,} successful interactive sign-ins needed more than one factor"
            return CheckResult(check, Status.PASS, summary, measures, None, v.entries)
        found = v.items(
            "accounts signing in with one factor",
            f"""SELECT user_principal_name AS account, string_agg(DISTINCT client_app_used, ', ') AS clients,
                       string_agg(DISTINCT app_display_name, ', ') AS apps, count(*) AS sign_ins,
                       max(created_at) AS last_at
                {single} GROUP BY user_principal_name""",
            "sign_ins DESC, account",
        )
        summary = (
            f"{count:,} of {total:,} successful interactive sign-ins by {accounts:,} accounts needed one factor only"
        )
        return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
