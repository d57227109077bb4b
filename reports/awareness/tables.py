"""The awareness report's tables: one row per group (campaign, department, period), each rate
as "33.3% (4 of 12)" so its numerator and denominator are always printed, and hidden groups
shown as hidden rather than left out, so a reader sees that something was held back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reports.awareness.definitions import Metric
from reports.awareness.metrics import GroupMetrics
from reports.document import Cell, Table

#: The most rows a table lists; the renderers say how many more there are.
LISTED = 100


def campaign_table(
    groups: Sequence[GroupMetrics], rated: Sequence[Metric], shows_median: bool, minimum: int, technique: bool
) -> Table:
    """Campaigns in launch order; with the technique where the tool records it, since a rate
    means little without the lure that produced it."""
    columns = ("Campaign", "Launched", *(("Technique",) if technique else ()), "Deliveries")
    rows = tuple(
        (
            str(g.key["campaign"] or g.key["campaign_id"]),
            _day(g.key["launched_at"]),
            *((str(g.key["technique"] or "not recorded"),) if technique else ()),
            *_figures(g, rated, shows_median, minimum),
        )
        for g in groups
    )
    return Table(
        "Figures by campaign",
        (*columns, *_metric_columns(rated, shows_median)),
        rows[-LISTED:],  # the latest campaigns, when there are more than can be listed
        total_rows=len(rows),
        note=_suppressed_note(groups, minimum),
    )


def group_table(
    caption: str,
    label: str,
    key: str,
    groups: Sequence[GroupMetrics],
    rated: Sequence[Metric],
    shows_median: bool,
    minimum: int,
) -> Table:
    columns = (label, "Deliveries", *_metric_columns(rated, shows_median))
    rows = tuple((key_text(g.key[key]), *_figures(g, rated, shows_median, minimum)) for g in groups)
    return Table(caption, columns, rows[:LISTED], total_rows=len(rows), note=_suppressed_note(groups, minimum))


def _metric_columns(rated: Sequence[Metric], shows_median: bool) -> tuple[str, ...]:
    names = [m.name for m in rated]
    if shows_median:
        names.insert(1 if names and rated[0].id == "report_rate" else 0, "Median time to report")
    return tuple(names)


def _figures(group: GroupMetrics, rated: Sequence[Metric], shows_median: bool, minimum: int) -> tuple[Cell, ...]:
    if group.suppressed:
        size = f"fewer than {minimum}" if group.recipients < minimum else "not shown"
        return (size, *(["not shown"] * _width(rated, shows_median)))
    cells: list[Cell] = [_rate(group.rates[m.id].numerator, group.rates[m.id].denominator) for m in rated]
    if shows_median:
        at = 1 if rated and rated[0].id == "report_rate" else 0
        cells.insert(at, _minutes(group.median_minutes_to_report, group.timed_reports))
    return (group.delivered, *cells)


def _width(rated: Sequence[Metric], shows_median: bool) -> int:
    return len(rated) + (1 if shows_median else 0)


def _rate(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return "none to count"
    return f"{numerator / denominator:.1%} ({numerator:,} of {denominator:,})"


def _minutes(median: float | None, timed: int) -> str:
    if median is None:
        return "no timed reports"
    hours, minutes = divmod(round(median), 60)
    shown = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"{shown} (of {timed:,} timed)"


def _suppressed_note(groups: Sequence[GroupMetrics], minimum: int) -> str | None:
    hidden = sum(1 for g in groups if g.suppressed)
    if not hidden:
        return None
    return (
        f"{hidden} group(s) not shown: fewer than {minimum} people, or hidden so that a small group "
        "cannot be worked out from the total."
    )


def key_text(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}"
    return "not recorded" if value is None else str(value)


def _day(value: object) -> Cell:
    return value.date() if isinstance(value, datetime) else None
