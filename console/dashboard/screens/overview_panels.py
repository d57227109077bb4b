"""The overview's panels as text: one function per panel, from ``queries.dashboard.Overview``.

Kept apart from the screen so that what a panel says can be read (and tested) as plain text.
Values from logs go through ``text.safe``; everything is bounded (top five, last runs) with the
number held back said beside it.
"""

from __future__ import annotations

from datetime import UTC

from rich.text import Text

from console.dashboard.text import ago, bars, clip, safe, severity, when
from queries.dashboard.alert_counts import Ranked
from queries.dashboard.overview import Overview
from reports.latest import LatestReport, LatestUnreadable


def alert_chart(view: Overview) -> Text:
    counts = view.alerts
    out = Text()
    if counts.trend_end is None:
        return Text("No alerts yet.")
    top = max((max(trend.counts) for trend in counts.trends), default=0)
    out.append(f"per hour, to {when(counts.trend_end)} UTC\n", style="dim")
    for trend in counts.trends:
        out.append_text(severity(trend.severity))
        out.append(" " * (7 - len(severity(trend.severity).plain)))
        out.append(bars(trend.counts, top) or "", style=severity(trend.severity).style)
        out.append(f" {trend.total}\n")
    out.rstrip()
    return out


def open_alerts(view: Overview) -> Text:
    counts = view.alerts
    out = Text(f"{counts.open_total} open of {counts.all_total}\n")
    for level, n in counts.open_by_severity:
        if n:
            out.append_text(severity(level))
            out.append(f" {n}   ")
    out.rstrip()
    return out


def ranked(items: tuple[Ranked, ...], empty: str, total: int | None = None, rules: bool = False) -> Text:
    if not items:
        return Text(empty)
    out = Text()
    for item in items:
        out.append(f"{item.alerts:>5} ")
        if rules:
            out.append_text(severity(item.detail))
            out.append(" ")
        out.append_text(safe(clip(item.name, 60)))
        out.append("\n")
    if total is not None and total > len(items):
        out.append(f"… and {total - len(items)} more", style="dim")
    out.rstrip()
    return out


def collectors(view: Overview) -> Text:
    if not view.collectors:
        return Text("No live source has run yet (cyberwell collect / serve).")
    out = Text()
    for source in view.collectors:
        state = Text("✖ failing", style="bold red") if source.failing else Text("✔ ok", style="green")
        out.append_text(safe(clip(source.source, 20)))
        out.append(" ")
        out.append_text(state)
        out.append(f"  lag {ago(source.lag_seconds)}  {source.events_per_minute:g}/min\n")
        if source.receiver is not None and not source.receiver.running:
            out.append(f"  receiver {source.receiver.state}\n", style="yellow")
    out.rstrip()
    return out


def detection(view: Overview) -> Text:
    listing = view.detection
    if not listing.runs:
        return Text("No detection run yet (cyberwell detect / serve).")
    out = Text()
    for run in listing.runs[:3]:
        mark = "✔" if run.status == "succeeded" else "✖" if "failed" in run.status else "…"
        out.append(f"{mark} #{run.id} {run.kind} to {when(run.window_end)} {run.status}, {run.alerts_new} new\n")
    gaps = listing.gaps_total
    out.append(
        f"{'⚠ ' if gaps else ''}{gaps} gap{'s' if gaps != 1 else ''} waiting for a backfill",
        style="yellow" if gaps else "",
    )
    return out


def webhook(view: Overview) -> Text:
    hook = view.webhook
    if not (hook.pending or hook.delivered or hook.parked):
        return Text("Nothing sent or waiting.")
    out = Text(f"{hook.pending} pending ({hook.due} due), {hook.delivered} delivered, ")
    out.append(f"{hook.parked} parked", style="bold red" if hook.parked else "")
    if hook.oldest_pending:
        out.append(f"\noldest waiting since {hook.oldest_pending[:16].replace('T', ' ')}")
    return out


def approvals(view: Overview) -> Text:
    listing = view.approvals
    if not listing.runs:
        return Text("No playbook step is waiting for approval.")
    out = Text()
    for run in listing.runs[:4]:
        step = run.awaiting()
        out.append(f"#{run.id} ")
        out.append_text(safe(clip(run.playbook, 24)))
        out.append(": ")
        out.append_text(safe(clip(step.name if step else "?", 30)))
        out.append("\n")
    if listing.total > 4:
        out.append(f"… and {listing.total - 4} more (4: approvals)", style="dim")
    out.rstrip()
    return out


#: Each verdict with a mark, so a count never relies on colour alone; in the order read.
VERDICT_MARKS = (
    ("pass", "✔", "green"),
    ("partial", "◐", "yellow"),
    ("fail", "✖", "bold red"),
    ("manual", "✍", ""),
    ("not evidenced", "?", "yellow"),
)
#: Automatic fails listed by name; the rest are counted.
FAILS_SHOWN = 3


def compliance(latest: LatestReport | LatestUnreadable | None) -> Text:
    """The newest CE+ report: when, its period, each verdict's count, the automatic fails."""
    if latest is None:
        return Text("No Cyber Essentials report yet.", style="dim")
    if isinstance(latest, LatestUnreadable):
        out = Text("⚠ The latest report's record cannot be used: ", style="bold yellow")
        out.append_text(safe(f"{latest.path} {latest.reason}"))
        out.append("\nRun cyberwell report ce-plus to write it again.", style="dim")
        return out
    out = Text(f"report of {when(latest.generated_at.astimezone(UTC))} UTC, ")
    out.append(f"{latest.period_start:%Y-%m-%d} to {latest.period_end:%Y-%m-%d}\n", style="dim")
    known = {name for name, _, _ in VERDICT_MARKS}
    marks = [*VERDICT_MARKS, *((name, "·", "") for name, _ in latest.verdicts if name not in known)]
    for number, (name, mark, style) in enumerate(marks):
        out.append("\n" if number == 3 else "  " if number else "")  # two lines: a half panel at 80 columns
        out.append(f"{mark} {latest.count(name)} ", style=style if latest.count(name) else "dim")
        out.append_text(safe(name, style="" if latest.count(name) else "dim"))
    fails = latest.automatic_fails
    if fails:
        out.append(
            f"\n✖ {len(fails)} automatic fail{'s' if len(fails) != 1 else ''}: the assessment fails", style="bold red"
        )
        for fail in fails[:FAILS_SHOWN]:
            out.append("\n  ")
            out.append_text(safe(clip(f"{fail.id} {fail.summary}", 70)))
        if len(fails) > FAILS_SHOWN:
            out.append(f"\n  … and {len(fails) - FAILS_SHOWN} more (in the report)", style="dim")
    else:
        out.append("\n✔ no automatic fail", style="green")
    out.append("\n")
    out.append_text(safe(clip(latest.folder, 60), style="dim"))
    return out
