"""The query layer's records drawn for a terminal: alerts, rules, quarantine, the demo's outcome.

Commands print what these return and decide nothing here; values from logs go through
``render.table`` (or a ``Text``), never into a title or a markup string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from console import render
from store.state.alert_record import iso

if TYPE_CHECKING:  # records only annotate here; queries.rules would load pySigma for every command
    from collectors.replay import IngestResult
    from console.demo import DemoOutcome, DemoReports
    from detections.engine import DetectionReport
    from detections.problems import RuleProblem
    from detections.scheduling.scheduler import RecordedRun
    from queries.alert_summary import AlertSummary
    from queries.alerts import AlertListing
    from queries.detection_runs import DetectionRunListing
    from queries.quarantine import QuarantineListing
    from queries.rules import RuleCatalogue
    from store.state.alert_record import Alert

#: How much of a quarantined record a table shows; ``--json`` has all of it.
RECORD_PREVIEW = 200
#: Rules ``detect --profile`` shows, slowest first; the summary (``--json``) has every rule's time.
PROFILE_ROWS = 20


#: How much of an alert's id a table shows: enough to tell a listing's alerts apart (``--wide``
#: and ``--json`` show it whole).
ID_PREFIX = 12
SEVERITY_WIDTH = len("critical")  # "informational" is longer: it pushes its line, no other


def alerts_table(alerts: Sequence[Alert], title: str = "Alerts", wide: bool = False) -> RenderableType:
    """The alerts as a table where the terminal is wide enough (every id in full with
    ``wide``), else as three lines each: the short values, the rule, the group."""
    grid = render.table(
        title,
        ["id", "first seen", "severity", "rule", "group", "events"],
        [
            (
                alert.id if wide else alert.id[:ID_PREFIX],
                alert.first_seen,
                render.severity(alert.severity),
                alert.rule_title,
                _group(alert),
                alert.event_count,
            )
            for alert in alerts
        ],
    )
    if wide:
        return grid
    return render.Fitted(grid, render.cards(title, [_alert_card(alert) for alert in alerts]))


def _group(alert: Alert) -> str:
    return ", ".join(f"{key}={value}" for key, value in alert.group_keys.items())


def _alert_card(alert: Alert) -> render.Card:
    events = f"{alert.event_count} event{'' if alert.event_count == 1 else 's'}"
    return render.Card(
        headline=[
            render.text(alert.id[:ID_PREFIX], style="bold"),
            # padded so the times line up down the listing (the word is the signal, not the colour)
            Text.assemble(render.severity(alert.severity), " " * (SEVERITY_WIDTH - len(alert.severity))),
            _minute(alert.first_seen),
            events,
        ],
        lines=[alert.rule_title, _group(alert)],
    )


def alert_listing(listing: AlertListing, wide: bool = False) -> list[RenderableType]:
    """The alerts, and a line saying how many the limit held back when it held any."""
    shown: list[RenderableType] = [alerts_table(listing.alerts, wide=wide)]
    if listing.held_back:
        shown.append(
            Text(f"Showing {len(listing.alerts)} of {listing.total} alerts: {listing.held_back} more with --limit.")
        )
    return shown


def rule_catalogue(catalogue: RuleCatalogue) -> list[RenderableType]:
    shown: list[RenderableType] = [
        render.table(
            "Rules",
            ["id", "title", "level", "kind", "what to do"],
            [(rule.id, rule.title, rule.level, rule.kind, rule.what_to_do or "") for rule in catalogue.rules],
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
        render.fitted_table(
            f"Quarantine ({listing.total} records)",
            ["received", "source", "origin", "reason", "record"],
            [(r.received_at, r.source, r.origin, r.reason, r.record[:RECORD_PREVIEW]) for r in listing.records],
            own_line=("origin", "reason", "record"),
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
    """What was ingested, the alerts the stories raised, what the playbooks would do, and one
    closing sentence."""
    from console.response.playbook_tables import dry_runs

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
        *dry_runs(outcome.playbooks),
        *demo_reports(outcome.reports),
        Text(
            f"{summary.total} alerts ({severity_counts(summary)}) from {len(report.rules)} rules; "
            f"{len(report.problems)} rules or exceptions could not run (cyberwell rules list); "
            f"{report.alerts_held_back} new alerts held back by rule caps. "
            f"Ingest {outcome.seconds['ingest']:.1f}s, detect {outcome.seconds['detect']:.1f}s, "
            f"playbooks {outcome.seconds['respond']:.1f}s, reports {outcome.seconds['report']:.1f}s. "
            f"Data in {outcome.scenario_dir.parent.parent}."
        ),
        *held_back,
    ]


def demo_reports(reports: DemoReports) -> list[RenderableType]:
    """Where the two reports are, and the Cyber Essentials Plus verdicts in one line."""
    counts = ", ".join(f"{count} {verdict}" for verdict, count in reports.verdicts.items())
    fails = ", ".join(reports.automatic_fails) or "none"
    return [
        Text(
            f"Cyber Essentials Plus: {counts}; automatic fails: {fails}. "
            f"Reports (ce-plus and awareness, as HTML, Markdown and JSON) in {reports.folder}."
        )
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


def rule_profile(report: DetectionReport, limit: int = PROFILE_ROWS) -> list[RenderableType]:
    """Where a run's time went: rules slowest first, with what they matched and raised, and a
    line saying how many more there are."""
    ranked = sorted(report.rules, key=lambda r: (-r.seconds, r.title))
    shown: list[RenderableType] = [
        render.table(
            f"Time per rule ({report.seconds:.2f}s in all)",
            ["rule", "seconds", "in the store", "building alerts", "matched", "alerts", "status"],
            [
                (
                    r.title,
                    f"{r.seconds:.3f}",
                    f"{r.search_seconds:.3f}",
                    f"{r.build_seconds:.3f}",
                    r.matched,
                    r.alerts,
                    r.status,
                )
                for r in ranked[:limit]
            ],
        )
    ]
    if len(ranked) > limit:
        shown.append(Text(f"{len(ranked) - limit} more rules, each faster; every rule's seconds are in --json."))
    return shown


def detection_runs(listing: DetectionRunListing) -> list[RenderableType]:
    """Recent detection runs, newest first, then the open gaps; "N more" lines where bounded.
    A run's errors are counted with the first shown (``--json`` has them all)."""
    behind = (
        f"{listing.groups} schedule groups; the furthest behind has run up to {_minute(listing.oldest_watermark)}."
        if listing.oldest_watermark
        else "No scheduled run has finished yet (cyberwell serve runs them)."
    )
    shown: list[RenderableType] = [
        Text(behind),
        render.fitted_table(
            "Detection runs",
            ["id", "kind", "from", "to", "status", "seconds", "events", "new", "updated", "held back", "errors"],
            [
                (
                    run.id,
                    run.kind,
                    _minute(run.window_start),
                    _minute(run.window_end),
                    run.status,
                    "" if run.seconds is None else f"{run.seconds:.2f}",
                    "" if run.events_scanned is None else run.events_scanned,
                    run.alerts_new,
                    run.alerts_updated,
                    run.alerts_held_back,
                    _first_of(run.errors),
                )
                for run in listing.runs
            ],
            own_line=("from", "to", "events", "errors"),
        ),
    ]
    if listing.runs_held_back:
        shown.append(Text(f"{listing.runs_held_back} more runs: see them with --limit."))
    if listing.gaps:
        shown.append(
            render.table(
                "Gaps (fill with: cyberwell detect --backfill FROM TO)",
                ["group", "from", "to", "reason"],
                [(gap.group_key, _minute(gap.start), _minute(gap.end), gap.reason) for gap in listing.gaps],
            )
        )
    if listing.gaps_held_back:
        shown.append(Text(f"{listing.gaps_held_back} more gaps: see them with --limit."))
    return shown


#: How much of a run's first error the runs table shows.
ERROR_PREVIEW = 80


def _first_of(errors: Sequence[str]) -> str:
    if not errors:
        return ""
    first = errors[0] if len(errors[0]) <= ERROR_PREVIEW else errors[0][: ERROR_PREVIEW - 1] + "…"
    return first if len(errors) == 1 else f"{len(errors)} rules failed, first: {first}"


def _minute(moment) -> str:
    """A window edge to the second, in UTC: enough to read a run history by."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def backfill_runs(runs: Sequence[RecordedRun], gaps_left: int, problems: Sequence[RuleProblem]) -> list[RenderableType]:
    """Each run of a backfill, oldest first, and how many gaps are still open."""
    rows = [
        (
            run.id,
            f"{_minute(run.start)} .. {_minute(run.end)}",
            run.status,
            run.report.alerts_new if run.report else 0,
            run.report.alerts_updated if run.report else 0,
            run.report.alerts_held_back if run.report else 0,
            _first_of([f"{r.title}: {r.error}" for r in run.report.failed]) if run.report else "",
        )
        for run in runs
    ]
    shown: list[RenderableType] = [
        render.table("Backfill runs", ["id", "window", "status", "new", "updated", "held back", "errors"], rows),
        Text(f"{gaps_left} gaps still open (cyberwell detect runs)."),
    ]
    rules = [p for p in problems if p.kind == "rule"]
    if rules:
        shown.append(render.table("Rules not run", ["rule", "reason"], [(p.name, p.reason) for p in rules]))
    return shown
