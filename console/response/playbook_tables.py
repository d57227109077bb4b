"""Playbooks and their runs as people read them: what each playbook does and whether it can, the
runs and their steps, and the demo's dry runs. Every value goes through ``render`` (escaped: a
user name from a log is text, never markup); long listings say what they held back."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from console import render
from console.response.loading import Response
from queries.playbook_runs import RunListing
from store.state.playbook_run_records import RunRecord


def playbook_catalogue(response: Response) -> list[RenderableType]:
    """Each playbook: its trigger, steps, whether alerts start it and, if not, why."""
    rows = []
    for key in sorted(response.playbooks):
        playbook = response.playbooks[key]
        unmet = response.unmet(playbook)
        if not playbook.enabled:
            starts = "no: disabled"
        elif response.armed(playbook):
            starts = "yes, dry run" if playbook.dry_run else "yes"
        else:
            starts = "no: needs " + ", ".join(unmet)
        steps = ", ".join(f"{s.name}{' [approval]' if s.approval == 'required' else ''}" for s in playbook.steps)
        rows.append((playbook.id, playbook.title, trigger_text(response, key), steps, starts))
    shown: list[RenderableType] = [
        render.table("Playbooks", ["id", "title", "trigger", "steps", "started by alerts"], rows)
    ]
    used = {step.action for playbook in response.playbooks.values() for step in playbook.steps}
    needed = sorted((why, name) for name, why in response.missing.items() if name in used)
    if needed:
        shown.append(
            render.table(
                "Actions the playbooks call that are not configured (docs/actions.md)",
                ["action", "to turn it on"],
                [(name, why) for why, name in needed],
            )
        )
    if response.problems:
        shown.append(
            render.table(
                f"Not loaded: {len(response.problems)} problems", ["problem"], [(str(p),) for p in response.problems]
            )
        )
    return shown


def trigger_text(response: Response, key: str) -> str:
    trigger = response.playbooks[key].trigger
    parts = []
    if trigger.rules:
        parts.append(f"rules: {', '.join(trigger.rules)}")
    if trigger.tags:
        parts.append(f"tags: {', '.join(trigger.tags)}")
    if trigger.min_severity:
        parts.append(f"severity {trigger.min_severity} or above")
    if trigger.where:
        parts.append("where " + ", ".join(f"{name}={value}" for name, value in trigger.where.items()))
    return "; ".join(parts)


def run_listing(listing: RunListing, title: str = "Playbook runs") -> list[RenderableType]:
    """Each run in a row: its playbook, alert, state and the step it is on or ended with."""
    if not listing.runs:
        return [Text("No playbook runs match.")]
    rows = [
        (
            run.id,
            run.playbook,
            run.alert_id,
            run.state + (" (dry run)" if run.dry_run else ""),
            _where(run),
            run.updated_at,
        )
        for run in listing.runs
    ]
    shown: list[RenderableType] = [
        render.fitted_table(
            title,
            ["run", "playbook", "alert", "state", "step / outcome", "updated"],
            rows,
            own_line=("alert", "step / outcome", "updated"),
        )
    ]
    if listing.held_back:
        shown.append(Text(f"{listing.held_back} more runs not shown (--limit, --state, --playbook)."))
    return shown


def _where(run: RunRecord) -> str:
    waiting = run.awaiting()
    if waiting is not None:
        return f"{waiting.name} awaits approval: {waiting.result or waiting.action}"
    if run.error:
        return run.error
    ended = [step for step in run.steps if step.state != "pending"]
    return f"{len(ended)} of {len(run.steps)} steps" if run.steps else "-"


def run_steps(run: RunRecord) -> list[RenderableType]:
    """One run in full: its steps, each with what it did (or would do) and who decided."""
    rows = [
        (
            step.position + 1,
            step.name,
            step.action,
            step.state,
            step.result or step.error or "-",
            f"{step.decision} by {step.decided_by}" if step.decision else "-",
        )
        for step in run.steps
    ]
    heading = (
        f"Run {run.id}: playbook {run.playbook} for alert {run.alert_id}: {run.state}"
        + (" (dry run)" if run.dry_run else "")
        + (f": {run.error}" if run.error else "")
    )
    return [render.table(heading, ["#", "step", "action", "state", "result", "decision"], rows)]


def dry_runs(listing: RunListing) -> list[RenderableType]:
    """The demo's dry runs: for each playbook the alerts started, one run's steps as it would do
    them, and how many runs of it there were. A table per playbook with two columns, so what a
    step would do has the width of the terminal less the step's name (at 80 columns a third
    column left it a word a line)."""
    if not listing.runs:
        return [Text("No playbook was started by these alerts.")]
    shown: list[RenderableType] = [
        render.text("Playbooks in dry run: what one run of each would do (nothing was called)", style="bold")
    ]
    for run in sorted(listing.runs, key=lambda r: r.playbook):
        count = listing.per_playbook.get(run.playbook, 1)
        shown.append(
            render.table(
                f"{run.playbook} ({count} run{'s' if count != 1 else ''})",
                ["step", "what it would do"],
                [(step.name, step.result or step.error or step.state) for step in run.steps],
            )
        )
    shown.append(
        Text("Each run, its alert and its steps: cyberwell playbook runs --dry-run, cyberwell playbook show RUN.")
    )
    return shown
