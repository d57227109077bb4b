"""``cyberwell webhook``: how the SOC partner's deliveries stand, and re-sending parked ones.

Both read and write only the state database, so they work whether or not ``serve`` is running
and without the webhook's secret. Parked messages are shown with the reason they were parked
(escaped for the terminal: a receiver's answer is not ours); what is beyond the listing's bound
is counted, never hidden.
"""

from __future__ import annotations

from typing import Annotated

import typer

from console import render
from console.options import JsonFlag, actor_name
from console.session import fail, open_state
from store.state.outbox import OutboxStatus, outbox_status, replay_parked

webhook_app = typer.Typer(help="The SOC webhook's outbox: status and replay (docs/webhook.md).", no_args_is_help=True)


@webhook_app.command("status")
def status_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many parked messages, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Messages pending, due, delivered and parked, and why each parked one was parked."""
    if limit < 1:
        fail(f"--limit: expected 1 or more, got {limit}")
    status = outbox_status(open_state(ctx.obj), parked_limit=limit)
    if as_json:
        render.emit_json(status.to_dict())
        return
    render.show(*_status_tables(status))


def _status_tables(status: OutboxStatus) -> list:
    counts = render.table(
        "SOC webhook outbox",
        ["pending", "due now", "delivered", "parked", "oldest pending"],
        [(status.pending, status.due, status.delivered, status.parked, status.oldest_pending or "-")],
    )
    if not status.parked:
        return [counts]
    shown = status.parked_messages
    title = f"Parked: {status.parked}" + (
        f" ({status.parked - len(shown)} more not shown)" if status.parked > len(shown) else ""
    )
    parked = render.table(
        title,
        ["id", "alert", "kind", "attempts", "parked at", "reason"],
        [(m.id, m.alert_id, m.kind, m.attempts, m.parked_at, m.reason) for m in shown],
    )
    return [counts, parked, render.text("Re-send with: cyberwell webhook replay ID... (or --all)")]


@webhook_app.command("replay")
def replay_command(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Parked message ids (see `webhook status`).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every parked message.")] = False,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who replays, for the audit trail [default: the login name].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make parked messages due again; the deliverer in `serve` sends them with their own keys."""
    if every == bool(ids):
        fail("give parked message ids or --all (not both)")
    who = actor_name(actor)
    replayed = replay_parked(open_state(ctx.obj), None if every else ids, actor=who)
    asked = None if every else sorted(set(ids or ()))
    not_parked = [] if asked is None else sorted(set(asked) - set(replayed))
    if as_json:
        render.emit_json({"replayed": replayed, "not_parked": not_parked})
        return
    render.show(render.text(f"Replayed {len(replayed)} parked message(s); they are due now."))
    if not_parked:
        render.warning(f"not parked, left alone: {', '.join(map(str, not_parked))}")
