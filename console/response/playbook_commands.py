"""``cyberwell playbook``: the playbooks and whether they can act, their runs, and a person's
part in them — start one, approve or deny a step that waits, cancel one.

Runs live in the state database, so these commands work beside ``serve``: an approval given here
is picked up by the runner there, or run here at once (``--run``, the default; whichever claims
the run first runs it, never both). Every decision goes to the audit trail with who made it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from console import render
from console.alert_commands import whole_alert_id
from console.choices import RunState
from console.config import Config, ConfigError
from console.options import ActorOption, JsonFlag, actor_name
from console.session import fail, open_state, rule_ids
from store.state.alerts import AlertBook
from store.state.database import StateDB

playbook_app = typer.Typer(help="Playbooks and their runs (docs/playbooks.md).", no_args_is_help=True)

RunArgument = Annotated[int, typer.Argument(help="The run's number (see `playbook runs`).", show_default=False)]


def _response(cfg: Config, sign_in: bool, state: StateDB | None = None):
    from console.response.loading import load_response

    try:
        return load_response(cfg, state or open_state(cfg), rule_ids(cfg), sign_in=sign_in)
    except ConfigError as error:
        fail(str(error))


@playbook_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The playbooks, what starts them, their steps, and whether alerts start them (and if not,
    which actions to configure); files that do not load, with the line and key."""
    from console.response.playbook_tables import playbook_catalogue, trigger_text

    response = _response(ctx.obj, sign_in=False)
    if as_json:
        render.emit_json(
            {
                "playbooks": [
                    {
                        "id": playbook.id,
                        "title": playbook.title,
                        "source": playbook.source,
                        "enabled": playbook.enabled,
                        "dry_run": playbook.dry_run,
                        "trigger": trigger_text(response, key),
                        "steps": [step.model_dump(mode="json", by_alias=True) for step in playbook.steps],
                        "started_by_alerts": response.armed(playbook),
                        "needs": response.unmet(playbook),
                    }
                    for key, playbook in sorted(response.playbooks.items())
                ],
                "problems": [str(problem) for problem in response.problems],
            }
        )
        return
    render.show(*playbook_catalogue(response))


@playbook_app.command("runs")
def runs_command(
    ctx: typer.Context,
    state: Annotated[
        RunState | None,
        typer.Option("--state", help="Only runs in this state (awaiting_approval: the ones waiting for you)."),
    ] = None,
    playbook: Annotated[str | None, typer.Option("--playbook", help="Only runs of this playbook.")] = None,
    dry_run: Annotated[
        bool | None, typer.Option("--dry-run/--real", help="Only dry runs, or only real ones [default: both].")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Playbook runs, newest first, with the step each is on or ended with."""
    from console.response.playbook_tables import run_listing
    from queries.playbook_runs import RunFilter, list_runs

    if limit < 1:
        fail(f"--limit: expected 1 or more, got {limit}")
    try:
        listing = list_runs(open_state(ctx.obj), RunFilter(state, playbook, dry_run), limit)
    except ValueError as error:
        fail(f"--state: {error}")
    if as_json:
        render.emit_json(listing.to_dict())
        return
    render.show(*run_listing(listing))


@playbook_app.command("show")
def show_command(ctx: typer.Context, run_id: RunArgument, as_json: JsonFlag = False) -> None:
    """One run: each step, what it did (or would do) and who decided."""
    from playbooks import PlaybookRuns

    run = PlaybookRuns(open_state(ctx.obj)).get(run_id)
    if run is None:
        fail(f"there is no playbook run {run_id}")
    _show_run(run, as_json)


@playbook_app.command("run")
def run_command(
    ctx: typer.Context,
    playbook_id: Annotated[str, typer.Argument(help="The playbook's id (see `playbook list`).", show_default=False)],
    alert_id: Annotated[
        str,
        typer.Argument(
            help="The alert to run it for: its id, or the start of it that `alerts list` shows.", show_default=False
        ),
    ],
    dry_run: Annotated[
        bool | None,
        typer.Option("--dry-run/--no-dry-run", help="Only say what it would do [default: as the playbook says]."),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a playbook for an alert now, whatever its trigger says. A step that needs approval
    waits for `playbook approve`."""
    from playbooks import start_run

    who = actor_name(actor)
    cfg = ctx.obj
    state = open_state(cfg)
    response = _response(cfg, dry_run is not True, state)
    playbook = response.playbooks.get(playbook_id)
    if playbook is None:
        known = ", ".join(sorted(response.playbooks)) or "none loaded"
        fail(f"there is no playbook {playbook_id!r} (loaded: {known})")
    try:
        run_id = start_run(state, playbook, whole_alert_id(AlertBook(state), alert_id), who, dry_run)
    except LookupError as error:
        fail(str(error))
    _drive(cfg, state, response, run_id, who, as_json)


@playbook_app.command("approve")
def approve_command(
    ctx: typer.Context,
    run_id: RunArgument,
    step: Annotated[
        str | None, typer.Option("--step", help="The step you approve (checked against the one waiting).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "",
    run_now: Annotated[
        bool, typer.Option("--run/--no-run", help="Run the rest now here, or leave it to `serve`.")
    ] = True,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve the step a run waits on (a destructive one: disable, isolate, block)."""
    _decide(ctx.obj, run_id, True, step, reason, run_now, yes, actor_name(actor), as_json)


@playbook_app.command("deny")
def deny_command(
    ctx: typer.Context,
    run_id: RunArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "",
    step: Annotated[
        str | None, typer.Option("--step", help="The step you deny (checked against the one waiting).")
    ] = None,
    run_now: Annotated[
        bool,
        typer.Option("--run/--no-run", help="Run the steps after it now (on_denied: skip), or leave it to `serve`."),
    ] = True,
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Deny the step a run waits on: the run is cancelled, or goes on without the step when the
    step says ``on_denied: skip``."""
    _decide(ctx.obj, run_id, False, step, reason, run_now, True, actor_name(actor), as_json)


@playbook_app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    run_id: RunArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "",
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop a run that has not ended (a step already running finishes and is recorded)."""
    from playbooks import PlaybookRuns

    try:
        run = PlaybookRuns(open_state(ctx.obj)).cancel(run_id, actor_name(actor), reason)
    except (LookupError, ValueError) as error:
        fail(str(error))
    _show_run(run, as_json)


def _decide(
    cfg: Config,
    run_id: int,
    approve: bool,
    step: str | None,
    reason: str,
    run_now: bool,
    confirmed: bool,
    who: str,
    as_json: bool,
) -> None:
    from playbooks import PlaybookRuns

    state = open_state(cfg)
    runs = PlaybookRuns(state)
    current = runs.get(run_id)
    waiting = current.awaiting() if current is not None else None
    if not confirmed and waiting is not None and sys.stdin.isatty():
        question = render.visible(f"Approve run {run_id}: {waiting.result or waiting.action}?")
        if not typer.confirm(question, default=False):
            fail("not approved: nothing was changed", code=1)
    try:
        run = runs.decide(run_id, who, approve=approve, reason=reason, step=step)
    except (LookupError, ValueError) as error:
        fail(str(error))
    if run_now and run.state == "running":
        _drive(cfg, state, None, run_id, who, as_json)
        return
    _show_run(run, as_json)


def _drive(cfg: Config, state: StateDB, response, run_id: int, who: str, as_json: bool) -> None:
    """Run the run here now, unless ``serve`` has it already; then show it."""
    from playbooks import PlaybookRunner, PlaybookRuns

    response = response or _response(cfg, True, state)
    runner = PlaybookRunner(state, response.playbooks, response.actions, who)
    try:
        run = asyncio.run(runner.run(run_id))
    except ValueError:  # another runner (serve) claimed it first: it runs there
        found = PlaybookRuns(state).get(run_id)
        assert found is not None  # it was there a moment ago; runs are never deleted
        run = found
    _show_run(run, as_json)


def _show_run(run, as_json: bool) -> None:
    from console.response.playbook_tables import run_steps

    if as_json:
        render.emit_json(run.to_dict())
        return
    render.show(*run_steps(run))
    waiting = run.awaiting()
    if waiting is not None:
        render.show(
            render.text(
                f"Step {waiting.name} awaits approval: cyberwell playbook approve {run.id} (or deny {run.id} --reason ...)"
            )
        )
