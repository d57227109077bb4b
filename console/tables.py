"""The query layer's records drawn for a terminal: alerts, rules, quarantine, the demo's outcome.

Commands print what these return and decide nothing here; values from logs go through
``render.table`` (or a ``Text``), never into a title or a markup string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from console import render
from store.state.alert_record import iso

if TYPE_CHECKING:  # records only annotate here; queries.rules would load pySigma for every command
    from collectors.replay import IngestResult
    from console.demo import DemoOutcome
    from detections.engine import DetectionReport
    from queries.alert_summary import AlertSummary
    from queries.alerts import AlertListing
    from queries.quarantine import QuarantineListing
    from queries.rules import RuleCatalogue
    from store.state.alert_record import Alert

#: How much of a quarantined record a table shows; ``--json`` has all of it.
RECORD_PREVIEW = 200


def alerts_table(alerts: Sequence[Alert], title: str = "Alerts") -> Table:
    return render.table(
        title,
        ["id", "first seen", "severity", "rule", "group", "events"],
        [
            (
                alert.id[:12],
                alert.first_seen,
                render.severity(alert.severity),
                alert.rule_title,
                ", ".join(f"{key}={value}" for key, value in alert.group_keys.items()),
                alert.event_count,
            )
            for alert in alerts
        ],
    )


def alert_listing(listing: AlertListing) -> list[RenderableType]:
    """The alerts, and a line saying how many the limit held back when it held any."""
    shown: list[RenderableType] = [alerts_table(listing.alerts)]
    if listing.held_back:
        shown.append(
            Text(f"Showing {len(listing.alerts)} of {listing.total} alerts: {listing.held_back} more with --limit.")
        )
    return shown


def rule_catalogue(catalogue: RuleCatalogue) -> list[RenderableType]:
    shown: list[RenderableType] = [
        render.table(
            "Rules",
            ["id", "title", "level", "kind"],
            [(rule.id, rule.title, rule.level, rule.kind) for rule in catalogue.rules],
        )
    ]
    if catalogue.problems:
        shown.append(
            render.table(
                "Rules that cannot run",
                ["rule", "reason"],
                [(problem.name, problem.reason) for problem in catalogue.problems],
            )
        )
    return shown


def quarantine_listing(listing: QuarantineListing) -> list[RenderableType]:
    shown: list[RenderableType] = [
        render.table(
            f"Quarantine ({listing.total} records)",
            ["received", "source", "origin", "reason", "record"],
            [(r.received_at, r.source, r.origin, r.reason, r.record[:RECORD_PREVIEW]) for r in listing.records],
        )
    ]
    if listing.held_back:
        shown.append(Text(f"Showing the newest {len(listing.records)}: {listing.held_back} more with --limit."))
    return shown


def alert_summary(summary: AlertSummary) -> list[RenderableType]:
    """The serious alerts, then every alert counted by rule (the end of the demo)."""
    return [
        alerts_table(summary.serious, title=f"Alerts of {summary.serious_from} severity and above, most severe first"),
        render.table(
            "All alerts by rule",
            ["severity", "rule", "alerts"],
            [(render.severity(count.severity), count.rule_title, count.alerts) for count in summary.by_rule],
        ),
    ]


def severity_counts(summary: AlertSummary) -> str:
    """``3 high, 12 medium``: most severe first, the levels that have alerts."""
    return ", ".join(f"{count.alerts} {count.severity}" for count in summary.by_severity) or "none"


def demo_outcome(outcome: DemoOutcome) -> list[RenderableType]:
    """What was ingested, the alerts the stories raised, and one closing sentence."""
    summary = outcome.summary
    report = outcome.report
    held_back = (
        [Text(f"Counted: the {summary.total} alerts last seen most recently of {outcome.alerts.total}.")]
        if outcome.alerts.held_back
        else []
    )
    return [
        render.table(
            "Ingested",
            ["source", "events", "duplicates", "quarantined"],
            [(kind, r.ingested, r.duplicates, r.quarantined) for kind, r in outcome.ingest.items()],
        ),
        *alert_summary(summary),
        Text(
            f"{summary.total} alerts ({severity_counts(summary)}) from {len(report.rules)} rules; "
            f"{len(report.problems)} rules or exceptions could not run (cyberwell rules list); "
            f"{report.alerts_held_back} new alerts held back by rule caps. "
            f"Ingest {outcome.seconds['ingest']:.1f}s, detect {outcome.seconds['detect']:.1f}s. "
            f"Data in {outcome.scenario_dir.parent.parent}."
        ),
        *held_back,
    ]


def ingest_result(result: IngestResult) -> list[RenderableType]:
    """Per file what was stored, and where to look when something was quarantined."""
    shown: list[RenderableType] = [
        render.table(
            "Ingested",
            ["file", "ingested", "duplicates", "quarantined"],
            [(f["path"], f["ingested"], f["duplicates"], f["quarantined"]) for f in result.files],
        )
    ]
    if result.quarantined:
        shown.append(Text("See them with: cyberwell quarantine list"))
    return shown


def detection_report(report: DetectionReport) -> list[RenderableType]:
    """The run in one line, what each rule that matched did with its matches (new, updated,
    suppressed, held back by the cap, excepted), then what failed and what could not run or apply."""
    shown: list[RenderableType] = [
        Text(
            f"{len(report.rules)} rules run over {iso(report.start)} .. {iso(report.end)}: "
            f"{report.alerts_new} new alerts, {report.alerts_updated} updated, "
            f"{report.alerts_held_back} held back by the per-rule cap."
        )
    ]
    busy = [r for r in report.rules if r.matched or r.excepted or r.alerts or r.held_back]
    if busy:
        shown.append(
            render.table(
                "Rules that matched",
                ["rule", "matched", "new", "updated", "suppressed", "held back", "excepted"],
                [(r.title, r.matched, r.new, r.updated, r.suppressed, r.held_back, r.excepted) for r in busy],
            )
        )
    if report.alerts_held_back:
        shown.append(
            Text(
                "Held back: new alerts over a rule's cap (cyberwell: max-alerts) are counted, not stored; "
                "raise the cap, group or suppress the rule's alerts, or add an exception."
            )
        )
    failed = [rule for rule in report.rules if rule.status == "failed"]
    if failed:
        shown.append(render.table("Rules that failed", ["rule", "error"], [(r.title, r.error) for r in failed]))
    rules = [p for p in report.problems if p.kind == "rule"]
    if rules:
        shown.append(render.table("Rules not run", ["rule", "reason"], [(p.name, p.reason) for p in rules]))
    exceptions = [p for p in report.problems if p.kind == "exception"]
    if exceptions:
        shown.append(
            render.table(
                "Exceptions not applied",
                ["exception", "file", "reason"],
                [(p.name, p.path, p.reason) for p in exceptions],
            )
        )
    return shown
