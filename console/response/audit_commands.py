"""``cyberwell audit``: check the audit trail, show its head to keep elsewhere, list entries.

``verify`` exits 0 when the chain is whole and 1 when it was tampered with, naming the entry
and what was done to it, so a cron job or a monitoring check can alert on it. Every value shown
came from the database and goes out through ``render`` (escaped for the terminal), because an
actor or a subject may have come from a log line.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from console import render
from console.choices import AuditKind
from console.session import fail, open_state
from store.state.audit import AuditAnchor, AuditVerdict, read_head, recent_audit, verify_audit

#: Exit code of ``verify`` when the trail was tampered with (2 stays "the command was wrong").
TAMPERED = 1

audit_app = typer.Typer(
    help="The hash-chained audit trail of approvals, actions, deliveries and triage (docs/audit.md).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head printed by an earlier verify and kept elsewhere: the chain must still lead to it.",
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Report every problem, not only the first.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Walk the chain; exit 1 naming the entry that was edited, inserted, reordered or deleted."""
    anchor = None
    if expect_head is not None:
        try:
            anchor = AuditAnchor.parse(expect_head)
        except ValueError as error:
            fail(f"--expect-head: {error}")
    verdict = verify_audit(open_state(ctx.obj), expect_head=anchor, all_problems=every)
    if as_json:
        render.emit_json(_verdict_dict(verdict))
    else:
        _show_verdict(verdict, anchor)
    if not verdict.ok:
        raise typer.Exit(TAMPERED)


def _verdict_dict(verdict: AuditVerdict) -> dict:
    return {
        "ok": verdict.ok,
        "checked": verdict.checked,
        "head": None if verdict.head is None else str(verdict.head),
        "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in verdict.problems],
    }


def _show_verdict(verdict: AuditVerdict, anchor: AuditAnchor | None) -> None:
    head = "none (the trail is empty)" if verdict.head is None else str(verdict.head)
    if verdict.ok:
        leads = f"; it leads to the anchor {anchor.seq}" if anchor is not None else ""
        render.show(f"audit trail intact: {verdict.checked} entries checked{leads}")
        render.show(f"head: {head}")
        if verdict.head is not None:
            render.show(
                "keep the head outside this machine (the SOC ticket); later: cyberwell audit verify --expect-head HEAD"
            )
        return
    for problem in verdict.problems:
        render.error(f"audit trail tampered with: {problem.message} (entry {problem.seq}, {problem.kind})")
    render.show(f"{verdict.checked} entries checked; head as stored: {head}")


@audit_app.command("anchor")
def anchor_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the head (SEQ:HASH) to keep elsewhere, without walking the chain."""
    head = read_head(open_state(ctx.obj))
    if as_json:
        render.emit_json({"head": None if head is None else str(head)})
    elif head is None:
        render.show("the audit trail is empty: there is no head yet")
    else:
        render.show(str(head))


@audit_app.command("list")
def list_command(
    ctx: typer.Context,
    kind: Annotated[AuditKind | None, typer.Option("--kind", help="Only entries of this kind.")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only entries about this, e.g. alert:<id> or playbook-run:<n>.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (1 to 10000).")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the newest audit entries: who did what, to what, when, and how it went."""
    if not 1 <= limit <= 10_000:
        fail(f"--limit: expected 1 to 10000, got {limit}")
    records = recent_audit(open_state(ctx.obj), kind=kind, subject=subject, limit=limit)
    if as_json:
        render.emit_json(
            [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "actor": r.actor,
                    "kind": r.kind,
                    "subject": r.subject,
                    "what": r.what,
                    "result": r.result,
                    "detail": dict(r.detail),
                    "hash": r.hash,
                }
                for r in records
            ]
        )
        return
    if not records:
        render.show("no audit entries" + (" match" if kind or subject else " yet"))
        return
    table = Table("seq", "at", "actor", "kind", "subject", "what", "result")
    for r in records:
        table.add_row(*(render.text(value) for value in (r.seq, r.at, r.actor, r.kind, r.subject, r.what, r.result)))
    render.show(table)
