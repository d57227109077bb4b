"""The Cyber Essentials Plus report as a :class:`~reports.document.Document`, from the judge's
verdicts, the trends and the attestations.

What it promises the reader (docs/reports.md):

- the summary counts every verdict and lists the failures first, automatic fails before others;
- each requirement shows its verdict as a word, the reason, every check's numbers and the items
  behind them (bounded, with the total stated), and the snapshots they came from;
- an attestation is shown as an attestation (who, when, the file and its SHA-256), beside the
  checks and never as one of them; what telemetry cannot prove is shown as needing attestation;
- ``not evidenced`` is never counted or coloured as a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from reports.attestations import Attestation
from reports.catalogue import Catalogue, Requirement
from reports.checks.result import CheckResult
from reports.document import (
    Block,
    Callout,
    CalloutKind,
    Chart,
    Definition,
    DefinitionList,
    Document,
    Paragraph,
    Section,
    Series,
    Table,
)
from reports.judge import Judgement, Verdict
from reports.trends import TrendSeries
from store.snapshots import SnapshotEntry

#: Verdicts in the order a reader needs them: what is wrong first.
VERDICT_ORDER = (Verdict.FAIL, Verdict.NOT_EVIDENCED, Verdict.PARTIAL, Verdict.MANUAL, Verdict.PASS)


@dataclass(frozen=True)
class CePlusInputs:
    catalogue: Catalogue
    judgements: tuple[Judgement, ...]
    trends: tuple[TrendSeries, ...]
    attestations: tuple[Attestation, ...]
    start: datetime
    end: datetime
    generated_at: datetime


def ce_plus_document(inputs: CePlusInputs) -> Document:
    framework = inputs.catalogue.framework
    return Document(
        title=f"{framework.name} {framework.version} — Cyber Essentials Plus readiness",
        subtitle=f"Each requirement judged at the end of the period from Microsoft telemetry and attestations "
        f"({framework.question_set} question set).",
        period_start=inputs.start,
        period_end=inputs.end,
        generated_at=inputs.generated_at,
        kind="ce-plus",
        sections=(
            _summary(inputs.judgements),
            _trends(inputs.trends, inputs.start, inputs.end),
            *_controls(inputs.catalogue, inputs.judgements),
            _attestations(inputs.attestations, inputs.end),
            _evidence(inputs.judgements),
        ),
        provenance=(
            Definition("Catalogue", f"{framework.name} {framework.version}, effective {framework.effective_from}"),
            Definition("Test specification", framework.test_specification),
            Definition("Judged at", inputs.end.isoformat()),
        ),
    )


def ordered(judgements: Iterable[Judgement]) -> list[Judgement]:
    """Worst first: automatic fails, other fails, then not evidenced, partial, manual, pass."""
    rank = {verdict: n for n, verdict in enumerate(VERDICT_ORDER)}
    return sorted(judgements, key=lambda j: (rank[j.verdict], not j.fails_assessment, j.requirement.id))


def _summary(judgements: tuple[Judgement, ...]) -> Section:
    counts = Counter(j.verdict for j in judgements)
    automatic = [j for j in judgements if j.fails_assessment]
    blocks: list[Block] = [
        Table(
            "Requirements by verdict",
            ("verdict", "requirements"),
            tuple((verdict.value, counts.get(verdict, 0)) for verdict in VERDICT_ORDER),
            note="'not evidenced' and 'manual' are not passes: the evidence is missing or a person must attest.",
        )
    ]
    if automatic:
        blocks.append(
            Callout(
                CalloutKind.AUTOMATIC_FAIL,
                f"{len(automatic)} automatic-fail requirement(s) fail: "
                + "; ".join(f"{j.requirement.id} {j.requirement.summary}" for j in automatic)
                + ". Under v3.3 any one of these fails the assessment.",
                "The assessment would fail",
            )
        )
    attention = [j for j in ordered(judgements) if j.verdict is not Verdict.PASS]
    blocks.append(
        Table(
            "Requirements needing attention, worst first",
            ("requirement", "verdict", "summary", "why"),
            tuple((j.requirement.id, _verdict_word(j), j.requirement.summary, j.reason) for j in attention),
        )
    )
    return Section("Summary", tuple(blocks), anchor="summary")


def _trends(trends: tuple[TrendSeries, ...], start: datetime, end: datetime) -> Section:
    blocks: list[Block] = []
    for series in trends:
        trend = series.trend
        if not series.points:
            blocks.append(Callout(CalloutKind.NOT_EVIDENCED, f"{trend.name}: {series.missing}.", trend.name))
            continue
        first, last = series.points[0], series.points[-1]
        alt = (
            f"{_amount(first.value, trend.percent, trend.y_label)} on {first.at:%d %b %Y}, "
            f"{_amount(last.value, trend.percent, trend.y_label)} on {last.at:%d %b %Y}, "
            f"over {len(series.points)} snapshots in the period."
            if len(series.points) > 1
            else f"{_amount(first.value, trend.percent, trend.y_label)} on {first.at:%d %b %Y}, "
            "the only snapshot in the period."
        )
        chart = Chart(trend.name, alt, (Series(trend.name, series.points),), trend.y_label, trend.percent, start, end)
        blocks.append(chart)
        blocks.append(Paragraph(trend.definition))
    return Section("Trends over the period", tuple(blocks), anchor="trends")


def _controls(catalogue: Catalogue, judgements: tuple[Judgement, ...]) -> list[Section]:
    by_id = {j.requirement.id: j for j in judgements}
    return [
        Section(
            f"{control.id} — {control.name}",
            (Paragraph(f"Danzell section {control.section}."),),
            tuple(_requirement(by_id[r.id]) for r in catalogue.requirements_of(control.id) if r.id in by_id),
            anchor=f"control-{control.id}",
        )
        for control in catalogue.controls
    ]


def _requirement(judgement: Judgement) -> Section:
    requirement = judgement.requirement
    blocks: list[Block] = [
        Callout(_callout_kind(judgement), judgement.reason),
        Paragraph(requirement.text),
        DefinitionList(_facts(requirement)),
    ]
    for result in judgement.checks:
        blocks += _check(result)
    if judgement.attestation is not None:
        blocks.append(_attestation_callout(judgement.attestation))
    if judgement.needs_attestation:
        blocks.append(
            Callout(
                CalloutKind.NEEDS_ATTESTATION,
                f"Telemetry cannot show this; a person must attest: {judgement.needs_attestation}",
                "Needs a person's attestation",
            )
        )
    for lapsed in judgement.lapsed:
        blocks.append(Callout(CalloutKind.NOTE, f"Not in force at the date judged: {lapsed}.", "Lapsed attestation"))
    return Section(f"{requirement.id} {requirement.summary}", tuple(blocks), anchor=f"req-{requirement.id}")


def _facts(requirement: Requirement) -> tuple[Definition, ...]:
    return (
        Definition("Assessment", requirement.assessment.value),
        Definition("Automatic fail under v3.3", "yes" if requirement.automatic_fail else "no"),
        Definition("Evidence", ", ".join(source.value for source in requirement.evidence) or "none"),
        Definition("Source", requirement.source.current),
    )


def _check(result: CheckResult) -> list[Block]:
    blocks: list[Block] = [Paragraph(f"Check {result.check.value}: {result.status.value}. {result.summary}.")]
    if result.measures:
        blocks.append(DefinitionList(tuple(Definition(m.label, _measure(m.count, m.of)) for m in result.measures)))
    items = result.items
    if items is not None:
        blocks.append(
            Table(
                f"{result.check.value}: {items.noun}",
                items.columns,
                tuple(tuple(_cell(value) for value in row) for row in items.rows),
                total_rows=items.total,
                note="The full list is in the snapshots of the evidence pack.",
            )
        )
    return blocks


def _attestation_callout(attestation: Attestation) -> Callout:
    return Callout(
        CalloutKind.ATTESTATION,
        f"{attestation.statement} — {attestation.by}, {attestation.date.isoformat()}; in force until "
        f"{attestation.valid_until.isoformat()}; evidence {attestation.evidence.name} "
        f"(SHA-256 {attestation.sha256}).",
        "Attested by a person, not measured",
    )


def _attestations(attestations: tuple[Attestation, ...], at: datetime) -> Section:
    day = at.date()
    rows = tuple(
        (
            a.requirement,
            a.by,
            a.date,
            a.valid_until,
            "in force" if a.in_force(day) else "not in force",
            a.statement,
            a.evidence.name,
            a.sha256,
        )
        for a in sorted(attestations, key=lambda a: (a.requirement, a.date))
    )
    table = Table(
        "Attestations on file",
        ("requirement", "by", "date", "valid until", "at the date judged", "statement", "evidence file", "SHA-256"),
        rows,
    )
    intro = Paragraph(
        "Statements by named people for what telemetry cannot show. They are evidence of a different kind: "
        "shown beside the checks, never counted as a check passing."
    )
    return Section("Attestations", (intro, table), anchor="attestations")


def _evidence(judgements: tuple[Judgement, ...]) -> Section:
    entries: dict[tuple[str, datetime, str], SnapshotEntry] = {}
    for judgement in judgements:
        for result in judgement.checks:
            for entry in result.evidence:
                entries[(entry.source, entry.taken_at, entry.run_id)] = entry
    rows = tuple(
        (e.source, e.taken_at, e.status.replace("_", " "), e.rows, e.reason or "")
        for e in sorted(entries.values(), key=lambda e: (e.source, e.taken_at))
    )
    return Section(
        "Evidence",
        (
            Paragraph(
                "The snapshots every number above was computed from: the latest of each source at the date judged."
            ),
            Table("Snapshots used", ("source", "taken at", "status", "rows", "reason"), rows),
        ),
        anchor="evidence",
    )


def _verdict_word(judgement: Judgement) -> str:
    return "automatic fail" if judgement.fails_assessment else judgement.verdict.value


def _callout_kind(judgement: Judgement) -> CalloutKind:
    if judgement.fails_assessment:
        return CalloutKind.AUTOMATIC_FAIL
    return _KINDS[judgement.verdict]


_KINDS = {
    Verdict.FAIL: CalloutKind.FAIL,
    Verdict.PARTIAL: CalloutKind.PARTIAL,
    Verdict.PASS: CalloutKind.PASS,
    Verdict.NOT_EVIDENCED: CalloutKind.NOT_EVIDENCED,
    Verdict.MANUAL: CalloutKind.MANUAL,
}


def _amount(value: float, percent: bool, unit: str) -> str:
    if percent:
        return f"{value:.1f}%"
    return f"{value:,.0f} {unit}" if value.is_integer() else f"{value:,.1f} {unit}"


def _measure(count: int, of: int | None) -> str:
    return f"{count:,}" if of is None else f"{count:,} of {of:,}"


def _cell(value: object) -> str | int | float | datetime | None:
    if value is None or isinstance(value, (str, int, float, datetime)):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
