"""``cyberwell alerts list|show|ack|close|assign|note``: the alert queue from a shell.

The same store calls as the dashboard's triage keys (``Store.alerts``), so a change made here is
in the alert's history and the audit trail exactly as one made there. An alert is named by its
id or by the start of it that ``alerts list`` shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType

from console import render, tables
from console.choices import AlertStatus, CloseReason, Severity
from console.options import ActorOption, JsonFlag, WideFlag, actor_name
from console.session import fail, open_store
from store.protocol import AlertStore, Store
from store.state.alert_record import Alert, iso

if TYPE_CHECKING:
    from queries.dashboard.alert_detail import AlertDetail

alerts_app = typer.Typer(help="Alerts raised by detections: list, show and triage them.", no_args_is_help=True)

AlertArgument = Annotated[
    str, typer.Argument(help="The alert's id, or the start of it that `alerts list` shows.", show_default=False)
]
NoteOption = Annotated[str | None, typer.Option("--note", help="A note kept in the alert's history.")]


def whole_alert_id(alerts: AlertStore, typed: str) -> str:
    """The stored id ``typed`` is, or the one it begins; an error when it begins several. An id
    that begins none is given back whole, for the caller to say there is no such alert."""
    found = alerts.ids_starting_with(typed, limit=4)
    if typed in found or not found:
        return typed
    if len(found) == 1:
        return found[0]
    shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
    fail(f"{typed!r} begins more than one alert id ({shown}): give more of it")


@alerts_app.command("list")
def list_command(
    ctx: typer.Context,
    severity: Annotated[Severity | None, typer.Option("--severity", help="Only this severity or above.")] = None,
    status: Annotated[AlertStatus | None, typer.Option("--status", help="Only alerts in this status.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only alerts of this rule id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 200,
    wide: WideFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """List stored alerts: a table where the terminal is wide enough for one, else three lines
    per alert (ids are shown by their first 12 characters; --wide or --json has them whole)."""
    from queries.alerts import list_alerts

    if limit < 1:
        fail(f"--limit: expected 1 or more, got {limit}")
    store = open_store(ctx.obj)
    try:
        listing = list_alerts(store, severity_at_least=severity, status=status, rule_id=rule, limit=limit)
    except ValueError as error:  # the severity is not a Sigma level
        fail(f"--severity: {error}")
    if as_json:
        render.emit_json([alert.to_dict() for alert in listing.alerts])
        return
    shown = tables.alert_listing(listing, wide=wide)
    if wide:
        render.show_wide(*shown)
    else:
        render.show(*shown)


@alerts_app.command("show")
def show_command(ctx: typer.Context, alert_id: AlertArgument, as_json: JsonFlag = False) -> None:
    """One alert: who has it, its history, and the first events it matched (with their raw records
    in --json)."""
    from queries.dashboard.alert_detail import alert_detail

    store = open_store(ctx.obj)
    detail = alert_detail(store, whole_alert_id(store.alerts, alert_id))
    if detail is None:
        fail(f"there is no alert {alert_id}")
    if as_json:
        render.emit_json(_detail_dict(detail))
        return
    render.show(*_detail_view(detail))


@alerts_app.command("ack")
def ack_command(
    ctx: typer.Context, alert_id: AlertArgument, note: NoteOption = None, actor: ActorOption = None
) -> None:
    """Acknowledge an alert: someone is looking at it."""
    _change(ctx, alert_id, lambda alerts, found, who: alerts.set_status(found, "acknowledged", who, note=note), actor)


@alerts_app.command("close")
def close_command(
    ctx: typer.Context,
    alert_id: AlertArgument,
    reason: Annotated[CloseReason, typer.Option("--reason", help="Why it is closed.")],
    note: NoteOption = None,
    actor: ActorOption = None,
) -> None:
    """Close an alert with a reason (a false positive's exception is made in the dashboard,
    where its expiry is chosen)."""
    _change(
        ctx,
        alert_id,
        lambda alerts, found, who: alerts.set_status(found, "closed", who, reason=reason, note=note),
        actor,
    )


@alerts_app.command("assign")
def assign_command(
    ctx: typer.Context,
    alert_id: AlertArgument,
    assignee: Annotated[str, typer.Argument(help="Who takes it; an empty string gives it to nobody.")],
    actor: ActorOption = None,
) -> None:
    """Give an alert to someone, keeping its status."""
    _change(ctx, alert_id, lambda alerts, found, who: alerts.assign(found, assignee, who), actor)


@alerts_app.command("note")
def note_command(
    ctx: typer.Context,
    alert_id: AlertArgument,
    text: Annotated[str, typer.Argument(help="The note.")],
    actor: ActorOption = None,
) -> None:
    """Add a note to an alert's history, keeping its status."""
    _change(ctx, alert_id, lambda alerts, found, who: alerts.add_note(found, who, text), actor)


Change = Callable[[AlertStore, str, str], Alert]


def _change(ctx: typer.Context, alert_id: str, change: Change, actor: str | None) -> None:
    """Run one triage change and say what the alert is now; a refused change is one line."""
    who = actor_name(actor)
    store: Store = open_store(ctx.obj)
    found = whole_alert_id(store.alerts, alert_id)
    try:
        alert = change(store.alerts, found, who)
    except KeyError:
        fail(f"there is no alert {alert_id}")
    except ValueError as error:
        fail(str(error))
    assignee = store.alerts.assignees([alert.id]).get(alert.id)
    said = f"{alert.id[:12]} {alert.rule_title}: {alert.status}" + (f", assigned to {assignee}" if assignee else "")
    render.show(render.text(said))


def _detail_view(detail: AlertDetail) -> list[RenderableType]:
    alert = detail.alert
    facts = [
        ("id", alert.id),
        ("rule", f"{alert.rule_title} ({alert.rule_id})"),
        ("severity", alert.severity),
        ("status", alert.status),
        ("assigned to", detail.assignee or "nobody"),
        ("first seen", _seconds(alert.first_seen)),
        ("last seen", _seconds(alert.last_seen)),
        ("events", f"{alert.event_count:,}"),
        *((f"group: {key}", value) for key, value in alert.group_keys.items()),
    ]
    about = render.table("Alert", ("", ""), facts)
    about.show_header = False
    shown: list[RenderableType] = [about]
    if detail.history:
        changes = [
            (_seconds(c.at), c.actor, f"{c.previous} -> {c.status}", c.reason or "", c.note or "")
            for c in detail.history
        ]
        shown.append(render.table("History", ("at", "who", "status", "reason", "note"), changes))
    else:
        shown.append(render.text("History: no change since it was raised."))
    events = [
        (_seconds(e.timestamp), e.dataset, ", ".join(f"{field}={value}" for field, value in e.summary))
        for e in detail.events
    ]
    shown.append(render.table(f"Events ({len(events)} of {alert.event_count:,})", ("time", "dataset", "what"), events))
    return shown


def _seconds(moment: datetime) -> str:
    """A time to the second in UTC, as the listings show it (``--json`` keeps the microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _detail_dict(detail: AlertDetail) -> dict[str, object]:
    return {
        "alert": detail.alert.to_dict(),
        "assignee": detail.assignee,
        "history": [
            {
                "at": iso(c.at),
                "actor": c.actor,
                "previous": c.previous,
                "status": c.status,
                "reason": c.reason,
                "note": c.note,
                "assignee": c.assignee,
            }
            for c in detail.history
        ],
        "events": [
            {
                "@timestamp": iso(e.timestamp),
                "event.dataset": e.dataset,
                "event.id": e.event_id,
                "fields": dict(e.summary),
                "event.original": e.original,
                "original_chars": e.original_chars,
            }
            for e in detail.events
        ],
    }
