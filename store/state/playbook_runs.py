"""Playbook runs and their steps in the state database: the persisted state machine.

A run is ``queued``, then ``running`` while a runner holds it, ``awaiting_approval`` while a step
waits for a person, and ends ``succeeded``, ``failed``, ``timed_out`` or ``cancelled``. Every
change is one transaction, and the audit entry that records it (an approval, a denial, a step's
outcome) is appended in that same transaction: the trail never says something happened that the
run does not show, nor the reverse.

A runner **claims** a run by writing its owner (``host:pid:token``) and a lease; it renews the
lease before each step, for as long as the step may take. A run still ``running`` whose lease ran
out, or whose owner's process is gone from this host, is taken over by the next runner: that is
how a restart resumes. Steps that succeeded are never run again; a step left ``running`` is run
again with the same idempotency key (``runs/<run id>/<position>``), so an API that takes one sees
a repeat, not a second request.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from store.state.audit import AuditEntry, append_audit
from store.state.database import StateDB, utc_now_iso
from store.state.playbook_run_records import (
    RUN_ENDINGS,
    RUN_STATES,
    STEP_DONE,
    STEP_STATES,
    RunRecord,
    StepPlan,
    StepRecord,
    existing_run,
    read_run,
)

__all__ = [
    "RUN_ENDINGS",
    "RUN_STATES",
    "STEP_DONE",
    "STEP_STATES",
    "PlaybookRuns",
    "RunGone",
    "RunRecord",
    "StepPlan",
    "StepRecord",
    "new_owner",
]


class RunGone(RuntimeError):
    """The run was cancelled, or taken over by another runner, while this one worked on it."""


def new_owner() -> str:
    """A runner's name in claims: its host and process, and a token for this runner."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str | None) -> bool:
    """Whether the runner that claimed a run has died (only knowable for this host's processes)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


class PlaybookRuns:
    """The runs of one home. Every method is one transaction."""

    def __init__(self, state: StateDB):
        self.state = state

    # -- starting ---------------------------------------------------------------------------

    def queue(self, rows: Sequence[tuple[str, str, str, bool]], started_by: str) -> int:
        """Queue automatic runs, ``(playbook, digest, alert id, dry run)`` each; a pair already
        queued (in any state) is left alone. Returns how many were queued."""
        if not rows:
            return 0
        with self.state.transaction() as con:
            return queue_rows(con, rows, started_by)

    def start_manual(self, playbook: str, digest: str, alert_id: str, dry_run: bool, actor: str) -> int:
        """A new run a person asked for, always a new one; recorded in the audit trail."""
        now = utc_now_iso()
        with self.state.transaction() as con:
            cursor = con.execute(
                "INSERT INTO playbook_runs (playbook, digest, alert_id, dry_run, trigger, started_by, state,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'manual', ?, 'queued', ?, ?)",
                (playbook, digest, alert_id, int(dry_run), actor, now, now),
            )
            run_id = int(cursor.lastrowid or 0)
            what = f"started playbook {playbook} for alert {alert_id}" + (" (dry run)" if dry_run else "")
            append_audit(
                con,
                [
                    AuditEntry(
                        actor,
                        "playbook",
                        f"playbook-run:{run_id}",
                        what,
                        "queued",
                        {"playbook": playbook, "alert_id": alert_id, "dry_run": dry_run},
                    )
                ],
            )
        return run_id

    # -- the runner's side ------------------------------------------------------------------

    def claim(self, owner: str, lease_seconds: float, run_id: int | None = None) -> RunRecord | None:
        """Take the next run that is due — one left ``running`` by a runner that is gone first,
        then the oldest ``queued`` — or the given run if it is due. None when nothing is."""
        now = utc_now_iso()
        only = "AND id = ?" if run_id is not None else ""
        extra = [run_id] if run_id is not None else []
        with self.state.transaction() as con:
            candidates = con.execute(
                f"SELECT id, claimed_by, lease_until FROM playbook_runs WHERE state = 'running' {only} ORDER BY id",
                extra,
            ).fetchall()
            chosen = next(
                (
                    row["id"]
                    for row in candidates
                    if row["claimed_by"] is None or (row["lease_until"] or "") < now or _owner_gone(row["claimed_by"])
                ),
                None,
            )
            if chosen is None:
                row = con.execute(
                    f"SELECT id FROM playbook_runs WHERE state = 'queued' {only} ORDER BY id LIMIT 1", extra
                ).fetchone()
                chosen = row["id"] if row else None
            if chosen is None:
                return None
            con.execute(
                "UPDATE playbook_runs SET state = 'running', claimed_by = ?, lease_until = ?, updated_at = ?"
                " WHERE id = ?",
                (owner, _later(lease_seconds), now, chosen),
            )
            return existing_run(con, chosen)

    def plan_steps(self, run_id: int, digest: str, plans: Sequence[StepPlan]) -> RunRecord:
        """Write the run's steps the first time it is claimed (later claims keep what is there).
        A run queued before its playbook was edited starts with the definition of now: ``digest``."""
        with self.state.transaction() as con:
            con.execute(
                "UPDATE playbook_runs SET digest = ? WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM playbook_steps WHERE run_id = ?)",
                (digest, run_id, run_id),
            )
            con.executemany(
                "INSERT OR IGNORE INTO playbook_steps (run_id, position, name, action, approval, on_denied, state)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                [(run_id, position, p.name, p.action, p.approval, p.on_denied) for position, p in enumerate(plans)],
            )
            return existing_run(con, run_id)

    def begin_attempt(
        self, run_id: int, position: int, arguments: dict, owner: str, lease_seconds: float, error: str | None = None
    ) -> int:
        """Mark the step running for one more attempt and renew the lease; the attempt's number.
        ``error`` keeps why the attempt before failed. Raises ``RunGone`` if the run is not ours."""
        now = utc_now_iso()
        with self.state.transaction() as con:
            self._still_ours(con, run_id, owner, lease_seconds)
            con.execute(
                "UPDATE playbook_steps SET state = 'running', attempts = attempts + 1, arguments = ?,"
                " started_at = coalesce(started_at, ?), error = coalesce(?, error) WHERE run_id = ? AND position = ?",
                (json.dumps(arguments, sort_keys=True), now, error, run_id, position),
            )
            (attempts,) = con.execute(
                "SELECT attempts FROM playbook_steps WHERE run_id = ? AND position = ?", (run_id, position)
            ).fetchone()
            return int(attempts)

    def end_step(
        self,
        run_id: int,
        position: int,
        state: str,
        result: str | None,
        error: str | None,
        audit: Sequence[AuditEntry],
        arguments: dict | None = None,
    ) -> None:
        """Record the step's outcome (and arguments, when it never ran) with its audit entries."""
        if state not in STEP_DONE:
            raise ValueError(f"a step ends {', '.join(STEP_DONE)}; got {state!r}")
        with self.state.transaction() as con:
            con.execute(
                "UPDATE playbook_steps SET state = ?, result = ?, error = coalesce(?, error), finished_at = ?,"
                " arguments = coalesce(?, arguments) WHERE run_id = ? AND position = ?",
                (
                    state,
                    result,
                    error,
                    utc_now_iso(),
                    None if arguments is None else json.dumps(arguments, sort_keys=True),
                    run_id,
                    position,
                ),
            )
            append_audit(con, audit)

    def wait_for_approval(self, run_id: int, position: int, arguments: dict, result: str, owner: str) -> None:
        """Park the run until a person approves or denies the step; the claim is let go."""
        now = utc_now_iso()
        with self.state.transaction() as con:
            self._still_ours(con, run_id, owner, 0)
            con.execute(
                "UPDATE playbook_steps SET state = 'awaiting_approval', arguments = ?, result = ?"
                " WHERE run_id = ? AND position = ?",
                (json.dumps(arguments, sort_keys=True), result, run_id, position),
            )
            con.execute(
                "UPDATE playbook_runs SET state = 'awaiting_approval', claimed_by = NULL, lease_until = NULL,"
                " updated_at = ? WHERE id = ?",
                (now, run_id),
            )

    def finish(self, run_id: int, owner: str, state: str, error: str | None, audit: Sequence[AuditEntry]) -> RunRecord:
        """End the run the owner holds; steps that never started are marked cancelled unless it
        succeeded. A run the owner no longer holds (a person cancelled it) is left as it is."""
        if state not in RUN_ENDINGS:
            raise ValueError(f"a run ends {', '.join(RUN_ENDINGS)}; got {state!r}")
        now = utc_now_iso()
        with self.state.transaction() as con:
            held = con.execute(
                "SELECT 1 FROM playbook_runs WHERE id = ? AND claimed_by = ? AND state = 'running'", (run_id, owner)
            ).fetchone()
            if held:
                _end(con, run_id, state, error, now)
                append_audit(con, audit)
            return existing_run(con, run_id)

    def _still_ours(self, con: sqlite3.Connection, run_id: int, owner: str, lease_seconds: float) -> None:
        changed = con.execute(
            "UPDATE playbook_runs SET lease_until = ?, updated_at = ? WHERE id = ? AND claimed_by = ? AND state = 'running'",
            (_later(lease_seconds), utc_now_iso(), run_id, owner),
        ).rowcount
        if not changed:
            row = con.execute("SELECT state FROM playbook_runs WHERE id = ?", (run_id,)).fetchone()
            raise RunGone(f"run {run_id} is {row['state'] if row else 'gone'} and no longer this runner's")

    # -- people's side ----------------------------------------------------------------------

    def decide(self, run_id: int, actor: str, approve: bool, reason: str = "", step: str | None = None) -> RunRecord:
        """Approve or deny the step the run waits on (``step`` names it, to be sure).

        Approval puts the run back to ``running`` with no runner, so the next runner takes it;
        a denial cancels the run, or, for a step that says ``on_denied: skip``, marks the step
        denied and lets the run go on. Either way who, when and why is kept and audited.
        """
        now = utc_now_iso()
        with self.state.transaction() as con:
            run = read_run(con, run_id)
            if run is None:
                raise LookupError(f"there is no playbook run {run_id}")
            waiting = run.awaiting()
            if run.state != "awaiting_approval" or waiting is None:
                raise ValueError(f"playbook run {run_id} is {run.state}, not awaiting approval")
            if step is not None and step != waiting.name:
                raise ValueError(f"playbook run {run_id} awaits approval of step {waiting.name!r}, not {step!r}")
            decision = "approved" if approve else "denied"
            con.execute(
                "UPDATE playbook_steps SET state = ?, decision = ?, decided_by = ?, decided_at = ?, error = ?"
                " WHERE run_id = ? AND position = ?",
                (
                    "pending" if approve else "denied",
                    decision,
                    actor,
                    now,
                    None if approve else f"denied: {reason}",
                    run_id,
                    waiting.position,
                ),
            )
            if approve or waiting.on_denied == "skip":
                con.execute("UPDATE playbook_runs SET state = 'running', updated_at = ? WHERE id = ?", (now, run_id))
            else:
                _end(con, run_id, "cancelled", f"step {waiting.name!r} denied by {actor}: {reason}", now)
            what = f"{'approved' if approve else 'denied'} step {waiting.name} ({waiting.action}) of playbook {run.playbook}"
            result = "approved" if approve else (f"denied: {reason}" if reason else "denied")
            detail = {
                "playbook": run.playbook,
                "alert_id": run.alert_id,
                "step": waiting.name,
                "action": waiting.action,
                "arguments": waiting.arguments or {},
            }
            append_audit(
                con, [AuditEntry(actor, "approval" if approve else "denial", run.subject, what, result, detail)]
            )
            return existing_run(con, run_id)

    def cancel(self, run_id: int, actor: str, reason: str = "") -> RunRecord:
        """Stop a run that has not ended; a step already running finishes and is recorded."""
        now = utc_now_iso()
        with self.state.transaction() as con:
            run = read_run(con, run_id)
            if run is None:
                raise LookupError(f"there is no playbook run {run_id}")
            if run.state in RUN_ENDINGS:
                raise ValueError(f"playbook run {run_id} has already ended ({run.state})")
            _end(con, run_id, "cancelled", f"cancelled by {actor}" + (f": {reason}" if reason else ""), now)
            append_audit(
                con,
                [
                    AuditEntry(
                        actor,
                        "playbook",
                        run.subject,
                        f"cancelled playbook {run.playbook}",
                        "cancelled",
                        {"playbook": run.playbook, "reason": reason},
                    )
                ],
            )
            return existing_run(con, run_id)

    # -- reading ----------------------------------------------------------------------------

    def get(self, run_id: int) -> RunRecord | None:
        with self.state.connect() as con:
            return read_run(con, run_id)

    def list(self, state: str | None = None, playbook: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Newest first, with their steps."""
        clauses, params = ["1 = 1"], []
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        if playbook is not None:
            clauses.append("playbook = ?")
            params.append(playbook)
        with self.state.connect() as con:
            ids = [
                row[0]
                for row in con.execute(
                    f"SELECT id FROM playbook_runs WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
                    [*params, limit],
                )
            ]
            return [run for run in (read_run(con, run_id) for run_id in ids) if run is not None]


def queue_rows(con: sqlite3.Connection, rows: Sequence[tuple[str, str, str, bool]], started_by: str) -> int:
    """:meth:`PlaybookRuns.queue` inside a transaction the caller holds (the one that stores the
    alerts, so an alert and the runs it starts are written together)."""
    now = utc_now_iso()
    before = con.total_changes
    con.executemany(
        "INSERT OR IGNORE INTO playbook_runs (playbook, digest, alert_id, dry_run, trigger, started_by,"
        " state, created_at, updated_at) VALUES (?, ?, ?, ?, 'automatic', ?, 'queued', ?, ?)",
        [(playbook, digest, alert, int(dry), started_by, now, now) for playbook, digest, alert, dry in rows],
    )
    return con.total_changes - before


def _end(con: sqlite3.Connection, run_id: int, state: str, error: str | None, now: str) -> None:
    con.execute(
        "UPDATE playbook_runs SET state = ?, error = ?, finished_at = ?, updated_at = ?, claimed_by = NULL,"
        " lease_until = NULL WHERE id = ?",
        (state, error, now, now, run_id),
    )
    if state != "succeeded":
        con.execute(
            "UPDATE playbook_steps SET state = 'cancelled' WHERE run_id = ? AND state IN ('pending', 'awaiting_approval')",
            (run_id,),
        )
