"""The awareness report as a :class:`reports.document.Document`, following the NCSC's advice.

It leads with reporting (the behaviour that helps), shows click and compromise rates beside the
technique that produced them, prints each metric's definition with it, keeps every source apart
(GoPhish's "clicked" and Attack Simulation's "compromised" are different measures), hides groups
too small to be anonymous, and names no one: repeat offenders are a count. There is no option for
a named list: the NCSC warns that naming and blaming builds a culture where people stop
reporting, nothing in its advice calls for names in a report, and whoever arranges support for
people finds them in the simulation tool itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reports.awareness.definitions import Definitions, Metric, load_definitions
from reports.awareness.metrics import (
    GroupMetrics,
    RepeatOffenders,
    group_metrics,
    hidden,
    repeat_offenders,
    suppress,
)
from reports.awareness.recipients import NOT_RECORDED, Reading, Recipients
from reports.awareness.tables import campaign_table, group_table, key_text
from reports.document import (
    Block,
    Callout,
    CalloutKind,
    Cell,
    Chart,
    Definition,
    DefinitionList,
    Document,
    Paragraph,
    Point,
    Section,
    Series,
    Table,
)
from reports.registry import AWARENESS_SOURCES, AwarenessSource
from store.snapshots import SnapshotEntry, SnapshotStore

TOOL_NAMES = {
    AwarenessSource.ATTACK_SIMULATION: "Microsoft Defender Attack Simulation Training",
    AwarenessSource.GOPHISH: "GoPhish",
}
RATE_COLUMNS = ("report_rate", "click_rate", "credential_rate", "compromise_rate", "training_completion")
#: Periods longer than this are shown by month, shorter ones by week.
MONTHLY_AFTER = timedelta(days=45)
NO_NAMES = (
    "No one is named in this report. The NCSC warns that phishing simulations used to blame people build a "
    "culture in which staff stop reporting; repeat offenders are counted here so that support, not sanctions, "
    "can be offered. A named list is not offered as an option: nothing in that advice calls for naming people "
    "in a report that circulates to managers and auditors, and the people who arrange support see individual "
    "results in the simulation tool itself."
)


@dataclass(frozen=True)
class AwarenessReport:
    document: Document
    evidence: tuple[SnapshotEntry, ...]  # every snapshot the report read, for its evidence pack
    snapshots: SnapshotStore


def awareness_document(home: Path, start: datetime, end: datetime, now: datetime | None = None) -> Document:
    """The awareness report for campaigns launched in [start, end], from the snapshots under
    ``home`` as they stand ``now`` (the report's time; the present when None)."""
    return build_awareness(home, start, end, now).document


def build_awareness(home: Path, start: datetime, end: datetime, now: datetime | None = None) -> AwarenessReport:
    """:func:`awareness_document`, with the snapshots it read."""
    definitions = load_definitions()
    generated = now or datetime.now(UTC)
    snapshots = SnapshotStore(home)
    with Recipients(snapshots, start, end, generated) as data:
        sections = [_about(definitions), _evidence(data)]
        for source in AwarenessSource:
            if data.reading(source).collected:
                sections.append(_source_section(data, source, definitions, end - start > MONTHLY_AFTER))
        evidence = data.evidence
    minimum = definitions.settings.min_group_size
    document = Document(
        title="Security awareness: phishing simulations and training",
        subtitle=f"Campaigns launched from {start:%d %B %Y} to {end:%d %B %Y}",
        period_start=start,
        period_end=end,
        generated_at=generated,
        sections=tuple(sections),
        kind="awareness",
        provenance=(
            Definition(
                "Metric definitions", f"reports/awareness/definitions.toml, version {definitions.settings.version}"
            ),
            Definition("Smallest group shown", f"{minimum} people"),
            Definition(
                "Repeat offender", f"failed in {definitions.settings.repeat_threshold} or more consecutive campaigns"
            ),
        ),
    )
    return AwarenessReport(document, evidence, snapshots)


def _about(definitions: Definitions) -> Section:
    minimum = definitions.settings.min_group_size
    return Section(
        "How to read this report",
        (
            Paragraph(
                "Reporting comes first: a phish that is reported can be removed from every mailbox, so the report "
                "rate and the time to report are the figures that show the council getting safer. Click and "
                "compromise rates depend on how convincing each lure was; compare campaigns of the same technique."
            ),
            Paragraph(
                "Each tool counts in its own way, so each has its own section and its figures are never added "
                "together. Every rate is shown with its numerator and denominator, and each metric's definition "
                "is printed with it. Rates are per delivery: in a department's or a month's figures, a person sent "
                "two campaigns counts twice."
            ),
            Callout(
                CalloutKind.NOTE,
                f"Groups of fewer than {minimum} people are not shown, so no figure can be traced to a person; "
                f"where one hidden group could be worked out from the total, the next smallest is hidden too.",
                "Small groups",
            ),
            Callout(CalloutKind.NOTE, NO_NAMES, "No names"),
        ),
        anchor="about",
    )


def _evidence(data: Recipients) -> Section:
    rows: list[tuple[Cell, ...]] = []
    blocks: list[Block] = []
    for reading in (*data.readings, data.directory):
        rows.append(_reading_row(reading))
        if reading.status != "collected":
            blocks.append(Callout(CalloutKind.NOT_EVIDENCED, reading.reason or "", reading.source))
        if reading.undated_campaigns:
            blocks.append(
                Callout(
                    CalloutKind.NOTE,
                    f"{reading.undated_campaigns} campaign(s) of {reading.source} have no launch time and are in no period.",
                )
            )
    if not data.directory.collected:
        blocks.append(Paragraph(f"Without the directory's departments, every person is counted under {NOT_RECORDED}."))
    table = Table(
        "Evidence read for this report",
        ("Source", "What it is", "Status", "Latest reading", "Readings used"),
        tuple(rows),
    )
    return Section("Evidence", (table, *blocks), anchor="evidence")


def _reading_row(reading: Reading) -> tuple[Cell, ...]:
    described = {s.value: d for s, d in AWARENESS_SOURCES.items()}
    what = described.get(reading.source, "Entra users: the department of each person.")
    taken = reading.latest.taken_at if reading.latest is not None else None
    return (reading.source, what, reading.status, taken, reading.snapshots)


def _source_section(data: Recipients, source: AwarenessSource, definitions: Definitions, monthly: bool) -> Section:
    metrics = definitions.for_source(source)
    minimum = definitions.settings.min_group_size
    rated = [m for m in metrics if m.id in RATE_COLUMNS]
    shows_median = any(m.id == "time_to_report" for m in metrics)
    campaigns = _of(source, suppress(group_metrics(data.con, "campaign"), minimum))
    departments = _of(source, suppress(group_metrics(data.con, "department"), minimum))
    periods = _of(source, suppress(group_metrics(data.con, "month" if monthly else "week"), minimum))
    offenders = [o for o in repeat_offenders(data.con, definitions.settings.repeat_threshold) if o.source == source]
    by_department = [
        o for o in repeat_offenders(data.con, definitions.settings.repeat_threshold, True) if o.source == source
    ]
    subsections = [
        Section("Definitions", (_definitions(source, metrics, definitions),), anchor=f"{source.value}-definitions"),
        Section(
            "By campaign",
            (campaign_table(campaigns, rated, shows_median, minimum, source is AwarenessSource.ATTACK_SIMULATION),),
            anchor=f"{source.value}-campaigns",
        ),
        Section(
            "By department",
            (
                group_table(
                    "Figures by department", "Department", "department", departments, rated, shows_median, minimum
                ),
            ),
            anchor=f"{source.value}-departments",
        ),
        Section(
            "Over time",
            (
                _trend_chart(source, periods, monthly),
                group_table(
                    f"Figures by {'month' if monthly else 'week'} of launch",
                    "Month" if monthly else "Week beginning",
                    "period",
                    periods,
                    rated,
                    shows_median,
                    minimum,
                ),
            ),
            anchor=f"{source.value}-trend",
        ),
    ]
    if any(m.id == "repeat_offenders" for m in metrics):
        subsections.append(_offenders_section(source, offenders, by_department, definitions))
    return Section(TOOL_NAMES[source], (), tuple(subsections), anchor=source.value)


def _of(source: AwarenessSource, groups: Sequence[GroupMetrics]) -> list[GroupMetrics]:
    return [g for g in groups if g.source == source.value]


def _definitions(source: AwarenessSource, metrics: Sequence[Metric], definitions: Definitions) -> DefinitionList:
    threshold = str(definitions.settings.repeat_threshold)
    items = []
    for metric in metrics:
        meant = metric.sources[source]
        text = (
            f"Counts: {meant.numerator} Out of: {meant.denominator} Event: {meant.event}. "
            f"Source: {source.value}. Why it matters: {metric.why}"
        ).replace("repeat_threshold", threshold)
        items.append(Definition(metric.name, text))
    return DefinitionList(tuple(items), f"What each figure of {TOOL_NAMES[source]} counts")


def _trend_chart(source: AwarenessSource, periods: Sequence[GroupMetrics], monthly: bool) -> Chart:
    shown = [g for g in periods if not g.suppressed and isinstance(g.key["period"], datetime | date)]
    series = []
    words = []
    for metric, label in (("report_rate", "Report rate"), ("click_rate", "Click rate")):
        points = tuple(
            Point(_as_date(g.key["period"]), round(100 * (g.rates[metric].rate or 0.0), 1))
            for g in shown
            if g.rates[metric].denominator
        )
        series.append(Series(label, points))
        if points:
            first, last = points[0], points[-1]
            words.append(
                f"{label} {first.value:.1f}% in {_period_name(first.at, monthly)}"
                + (f", {last.value:.1f}% in {_period_name(last.at, monthly)}" if len(points) > 1 else "")
            )
    alt = "; ".join(words) + "." if words else "No period had enough people to show."
    return Chart(
        f"{TOOL_NAMES[source]}: report and click rates by {'month' if monthly else 'week'} of launch",
        alt,
        tuple(series),
        y_label="% of people delivered to",
        percent=True,
    )


def _offenders_section(
    source: AwarenessSource,
    overall: Sequence[RepeatOffenders],
    by_department: Sequence[RepeatOffenders],
    definitions: Definitions,
) -> Section:
    threshold, minimum = definitions.settings.repeat_threshold, definitions.settings.min_group_size
    total = overall[0] if overall else RepeatOffenders(source.value, None, 0, 0)
    failed = "were compromised" if source is AwarenessSource.ATTACK_SIMULATION else "clicked"
    text = (
        f"{total.offenders:,} of {total.eligible:,} people who received {threshold} or more campaigns {failed} "
        f"in {threshold} or more consecutive ones. They are counted, not named: offer them support, not sanctions."
    )
    if total.eligible == 0:
        text = f"No one received {threshold} or more campaigns in the period, so there is no one to count."
    elif total.eligible < minimum:
        text = f"Fewer than {minimum} people received {threshold} or more campaigns; the count is not shown."
    hide = hidden([o.eligible for o in by_department], minimum)
    rows = tuple(
        (
            key_text(o.department),
            (f"fewer than {minimum}" if o.eligible < minimum else "not shown") if n in hide else o.eligible,
            "not shown" if n in hide else o.offenders,
        )
        for n, o in enumerate(by_department)
    )
    table = Table(
        "Repeat offenders by department (counts only)",
        ("Department", "Received enough campaigns", "Repeat offenders"),
        rows,
        note=(
            f"Departments where fewer than {minimum} people received {threshold} or more campaigns are not shown, "
            "nor the next smallest where a hidden one could be worked out from the total."
        ),
    )
    return Section("Repeat offenders", (Paragraph(text), table), anchor=f"{source.value}-repeat")


def _as_date(value: object) -> date:
    return value.date() if isinstance(value, datetime) else value  # type: ignore[return-value]


def _period_name(at: date | datetime, monthly: bool) -> str:
    return f"{at:%B %Y}" if monthly else f"the week of {at:%d %B %Y}"
