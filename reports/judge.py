"""Judging every requirement of a catalogue at a moment: from its checks' results, its assessment
kind and the attestations in force.

The rules, in order (docs/compliance.md, "Judging a requirement", says why):

- **manual** requirements are attestation only: the verdict is ``manual``, showing the
  attestation in force or what a person still has to attest. Never ``pass``.
- any check **fails**: ``fail`` (and, for an automatic-fail requirement, the assessment fails);
- else any check **not evidenced**: ``not evidenced``, with each check's reason;
- else any check **partial**: ``partial``;
- else every check passes: an **automatic** requirement passes; a **partial** one passes only
  with an attestation in force for what telemetry cannot see, and otherwise stays ``partial``,
  naming what must be attested.

An attestation never turns a failing or unevidenced check into a pass, and it is always shown as
itself (who, when, the file), beside the checks, never folded into them. Each check runs once
however many requirements name it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from reports.attestations import Attestation
from reports.catalogue import Assessment, Catalogue, Requirement
from reports.checks.context import CheckContext
from reports.checks.implementations import run_check
from reports.checks.result import CheckResult, Status
from reports.registry import Check


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PARTIAL = "partial"
    MANUAL = "manual"
    NOT_EVIDENCED = "not evidenced"


@dataclass(frozen=True)
class Judgement:
    requirement: Requirement
    verdict: Verdict
    #: One sentence for the reader: why this verdict.
    reason: str
    checks: tuple[CheckResult, ...]
    #: The attestation in force at the moment judged, shown as an attestation.
    attestation: Attestation | None
    #: What a person must still attest (the catalogue's words), when no attestation is in force.
    needs_attestation: str | None
    #: Attestations for this requirement that are not in force at the moment judged.
    lapsed: tuple[Attestation, ...] = ()

    @property
    def fails_assessment(self) -> bool:
        """A failed automatic-fail requirement fails the whole Cyber Essentials assessment."""
        return self.verdict is Verdict.FAIL and self.requirement.automatic_fail


def judge(
    catalogue: Catalogue, context: CheckContext, attestations: Iterable[Attestation] = ()
) -> tuple[Judgement, ...]:
    """Every requirement of ``catalogue`` judged at ``context.at``."""
    results: dict[Check, CheckResult] = {}
    for requirement in catalogue.requirements:
        for check in requirement.checks:
            if check not in results:
                results[check] = run_check(check, context)
    given = tuple(attestations)
    return tuple(
        judge_requirement(r, tuple(results[c] for c in r.checks), given, context) for r in catalogue.requirements
    )


def judge_requirement(
    requirement: Requirement,
    results: tuple[CheckResult, ...],
    attestations: tuple[Attestation, ...],
    context: CheckContext,
) -> Judgement:
    day = context.at.date()
    mine = [a for a in attestations if a.requirement == requirement.id]
    in_force = max((a for a in mine if a.in_force(day)), key=lambda a: a.date, default=None)
    lapsed = tuple(a for a in mine if a is not in_force and not a.in_force(day))
    wanted = requirement.attestation.what if requirement.attestation and in_force is None else None
    verdict, reason = _verdict(requirement, results, in_force)
    return Judgement(requirement, verdict, reason, results, in_force, wanted, lapsed)


def _verdict(
    requirement: Requirement, results: tuple[CheckResult, ...], attested: Attestation | None
) -> tuple[Verdict, str]:
    if requirement.assessment is Assessment.MANUAL:
        return Verdict.MANUAL, str(attested) if attested else "needs a person's attestation; none is in force"
    statuses = {result.status for result in results}
    if Status.FAIL in statuses:
        failed = "; ".join(r.summary for r in results if r.status is Status.FAIL)
        prefix = "automatic fail: " if requirement.automatic_fail else ""
        return Verdict.FAIL, prefix + failed
    if Status.NOT_EVIDENCED in statuses:
        missing = "; ".join(f"{r.check.value}: {r.reason}" for r in results if r.status is Status.NOT_EVIDENCED)
        return Verdict.NOT_EVIDENCED, missing
    if Status.PARTIAL in statuses:
        return Verdict.PARTIAL, "; ".join(r.summary for r in results if r.status is Status.PARTIAL)
    if requirement.assessment is Assessment.AUTOMATIC:
        return Verdict.PASS, "every check passes"
    if attested is None:
        return (
            Verdict.PARTIAL,
            "every check passes; what telemetry cannot see needs a person's attestation, and none is in force",
        )
    return Verdict.PASS, f"every check passes; the rest is {attested}"
