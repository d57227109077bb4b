"""The kinds of second factor enabled member accounts have registered (``mfa.factor_mix``),
from ``methodsRegistered`` in ``graph.authentication_methods``.

Each account is counted once, by its strongest kind: phishing-resistant (FIDO2 keys, passkeys,
Windows Hello for Business), an authenticator app or token (push, one-time codes), a mobile phone
(text or call: the registration does not say which), or voice only (an office or alternate
phone). Email, security questions, app passwords and a temporary access pass are not second
factors. Every kind here is one Cyber Essentials accepts, so the result is informational and
passes when evidenced; usability and accessibility are the requirement's attestation.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

#: (kind, rank: higher is stronger, methodsRegistered values).
KINDS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    (
        "phishing-resistant",
        4,
        (
            "fido2",
            "windowsHelloForBusiness",
            "passKeyDeviceBound",
            "passKeyDeviceBoundAuthenticator",
            "passKeyDeviceBoundWindowsHello",
            "x509CertificateMultiFactor",
        ),
    ),
    (
        "authenticator app or token",
        3,
        (
            "microsoftAuthenticatorPush",
            "microsoftAuthenticatorPasswordless",
            "softwareOneTimePasscode",
            "hardwareOneTimePasscode",
        ),
    ),
    ("mobile phone (text or call)", 2, ("mobilePhone",)),
    ("voice call only", 1, ("alternateMobilePhone", "officePhone")),
)
NONE = "no second factor"


def _rank_sql() -> str:
    cases = " ".join(
        f"WHEN list_has_any(methods, {[m.lower() for m in methods]!r}) THEN {rank}" for _, rank, methods in KINDS
    )
    return f"CASE {cases} ELSE 0 END"


def _kind_sql() -> str:
    cases = " ".join(f"WHEN {rank} THEN '{kind}'" for kind, rank, _ in KINDS)
    return f"CASE strongest {cases} ELSE '{NONE}' END"


def factor_mix(context: CheckContext) -> CheckResult:
    check = Check.MFA_FACTOR_MIX
    with context.views(users=EvidenceSource.GRAPH_USERS, registration=EvidenceSource.GRAPH_AUTHENTICATION_METHODS) as v:
        accounts = f"""
            SELECT u.id, {_rank_sql()} AS strongest FROM (
                SELECT u.id, list_transform(coalesce(r.methods_registered, []), lambda m: lower(m)) AS methods
                FROM users u LEFT JOIN registration r ON r.id = u.id
                WHERE u.account_enabled AND u.user_type = 'Member') u
        """
        per_kind = f"SELECT {_kind_sql()} AS kind, strongest, count(*) AS accounts FROM ({accounts}) GROUP BY ALL"
        counts = dict(v.con.execute(f"SELECT strongest, accounts FROM ({per_kind})").fetchall())
        total = sum(counts.values())
        measures = tuple(
            Measure(f"enabled member accounts whose strongest factor is {kind}", int(counts.get(rank, 0)), total)
            for kind, rank, _ in (*KINDS, (NONE, 0, ()))
        )
        mix = v.items(
            "kinds of second factor", f"SELECT kind, accounts, strongest AS strength FROM ({per_kind})", "strength DESC"
        )
        strong = int(counts.get(4, 0))
        phone = int(counts.get(2, 0)) + int(counts.get(1, 0))
        summary = (
            f"of {total:,} enabled member accounts, {strong:,} have a phishing-resistant factor, "
            f"{int(counts.get(3, 0)):,} an authenticator app or token, {phone:,} only a phone and "
            f"{int(counts.get(0, 0)):,} no second factor"
        )
        return CheckResult(check, Status.PASS, summary, measures, mix, v.entries)
