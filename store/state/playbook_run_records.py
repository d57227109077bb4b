"""A playbook run and its steps as the state database keeps them, and how they are read.

Written by ``store.state.playbook_runs``; read by it, by the runner and by ``playbook list``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass

RUN_STATES = ("queued", "running", "awaiting_approval", "succeeded", "failed", "timed_out", "cancelled")
RUN_ENDINGS = ("succeeded", "failed", "timed_out", "cancelled")
STEP_STATES = (
    "pending",
    "awaiting_approval",
    "running",
    "succeeded",
    "dry-run",
    "failed",
    "timed_out",
    "skipped",
    "denied",
    "cancelled",
)
#: Step states a run has finished with; a resumed run passes over them.
STEP_DONE = ("succeeded", "dry-run", "failed", "timed_out", "skipped", "denied", "cancelled")


@dataclass(frozen=True)
class StepPlan:
    """A step as the definition gives it, written when the run is first claimed."""

    name: str
    action: str
    approval: str
    on_denied: str


@dataclass(frozen=True)
class StepRecord:
    position: int
    name: str
    action: str
    approval: str
    on_denied: str
    state: str
    arguments: dict | None
    attempts: int
    started_at: str | None
    finished_at: str | None
    decision: str | None
    decided_by: str | None
    decided_at: str | None
    result: str | None
    error: str | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunRecord:
    id: int
    playbook: str
    digest: str
    alert_id: str
    dry_run: bool
    trigger: str
    started_by: str
    state: str
    created_at: str
    updated_at: str
    finished_at: str | None
    error: str | None
    steps: tuple[StepRecord, ...] = ()

    @property
    def subject(self) -> str:
        return f"playbook-run:{self.id}"

    def awaiting(self) -> StepRecord | None:
        """The step waiting for a person, if any."""
        return next((step for step in self.steps if step.state == "awaiting_approval"), None)

    def to_dict(self) -> dict:
        record = asdict(self)
        record["steps"] = [step.to_dict() for step in self.steps]
        return record


def existing_run(con: sqlite3.Connection, run_id: int) -> RunRecord:
    run = read_run(con, run_id)
    if run is None:
        raise LookupError(f"there is no playbook run {run_id}")
    return run


def read_run(con: sqlite3.Connection, run_id: int) -> RunRecord | None:
    row = con.execute("SELECT * FROM playbook_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    steps = tuple(
        StepRecord(
            position=s["position"],
            name=s["name"],
            action=s["action"],
            approval=s["approval"],
            on_denied=s["on_denied"],
            state=s["state"],
            arguments=json.loads(s["arguments"]) if s["arguments"] else None,
            attempts=s["attempts"],
            started_at=s["started_at"],
            finished_at=s["finished_at"],
            decision=s["decision"],
            decided_by=s["decided_by"],
            decided_at=s["decided_at"],
            result=s["result"],
            error=s["error"],
        )
        for s in con.execute("SELECT * FROM playbook_steps WHERE run_id = ? ORDER BY position", (run_id,))
    )
    return RunRecord(
        id=row["id"],
        playbook=row["playbook"],
        digest=row["digest"],
        alert_id=row["alert_id"],
        dry_run=bool(row["dry_run"]),
        trigger=row["trigger"],
        started_by=row["started_by"],
        state=row["state"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        steps=steps,
    )
