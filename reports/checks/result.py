"""What a check says: its status, the numbers behind it and the items behind a failure, bounded.

A result is a record a report renders as it is, so it carries the words a reader needs ("MFA
registered for 1,412 of 1,500 enabled member accounts"; "88 accounts without MFA, 20 listed")
and the snapshots it was computed from, with their time, so an auditor can trace every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reports.registry import Check
from store.snapshots import SnapshotEntry


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    #: No failure seen, but the telemetry covers only part of what the check asks.
    PARTIAL = "partial"
    #: The evidence is missing (a source not collected, or the check not written yet).
    NOT_EVIDENCED = "not evidenced"


@dataclass(frozen=True)
class Measure:
    """One number of a result, with what it counts and, when it has one, the whole it is part of."""

    label: str
    count: int
    of: int | None = None

    def __str__(self) -> str:
        whole = f" of {self.of:,}" if self.of is not None else ""
        return f"{self.count:,}{whole} {self.label}"


@dataclass(frozen=True)
class Items:
    """The items behind a result: the first ``len(rows)`` of ``total``, in the order that matters
    most (worst first), so a report never lists ten thousand rows yet never hides the count."""

    noun: str
    total: int
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]

    def __str__(self) -> str:
        return f"{self.total:,} {self.noun}, {len(self.rows):,} listed"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: Status
    summary: str
    measures: tuple[Measure, ...] = ()
    items: Items | None = None
    #: The snapshots the result was computed from (source, time taken, rows).
    evidence: tuple[SnapshotEntry, ...] = ()
    #: Why the check is not evidenced, for a person: the manifest's reason, or "not implemented".
    reason: str | None = None


def not_evidenced(check: Check, reason: str, evidence: tuple[SnapshotEntry, ...] = ()) -> CheckResult:
    return CheckResult(check, Status.NOT_EVIDENCED, f"not evidenced: {reason}", evidence=evidence, reason=reason)


def pass_unless(
    check: Check, summary: str, measures: tuple[Measure, ...], failing: Items, evidence: tuple[SnapshotEntry, ...]
) -> CheckResult:
    """Fail, listing ``failing``, when it holds any item; else pass, with the same words and numbers."""
    if failing.total:
        return CheckResult(check, Status.FAIL, summary, measures, failing, evidence)
    return CheckResult(check, Status.PASS, summary, measures, None, evidence)
