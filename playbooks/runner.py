"""Running playbooks: step by step, each outcome persisted before the next step starts.

The runner takes a due run from the state database (``PlaybookRuns.claim``), writes its steps
the first time, and walks them in order. Per step: the ``when`` condition, the arguments rendered
from the alert and validated by the action's model, then one of

* a dry run: ``Action.describe`` only, the step ends ``dry-run`` (nothing is called, and a step
  that needs approval does not wait — the description says it would);
* an approval still to be given: the run parks ``awaiting_approval`` and the runner moves on;
* the call: ``Action.run`` under ``asyncio.wait_for`` (the step's timeout), retried with
  exponential back-off and jitter while the result says ``retryable`` (a timeout counts as
  retryable) and the step's ``retries`` allow.

A step's outcome, its audit entry and (when it ends the run) the run's state are written in one
transaction. After a crash the run is taken over (``store.state.playbook_runs``): steps that
ended are passed over, so a step that succeeded never runs twice; a step left ``running`` runs
again with the same idempotency key, ``runs/<run id>/<position>``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from playbooks.actions.base import Action, ActionResult
from playbooks.definition import Playbook, Step
from playbooks.loading import key_path
from playbooks.templating import RenderError, evaluate_condition, html_arguments, render_arguments
from store.state.alert_record import Alert
from store.state.alerts import AlertBook
from store.state.audit import AuditEntry
from store.state.database import StateDB
from store.state.playbook_runs import STEP_DONE, PlaybookRuns, RunGone, RunRecord, StepPlan, StepRecord, new_owner

#: What became of a step, for the walk over the run: go on, stop the run, or wait for a person.
Next = Literal["next", "stop", "wait"]


@dataclass(frozen=True)
class Backoff:
    """Seconds before retry ``n`` (1-based): ``base * 2**(n-1)``, capped, times a jitter in
    [0.5, 1] so runners retrying the same failing API do not do it in step."""

    base: float = 2.0
    cap: float = 30.0

    def delay(self, retry: int) -> float:
        return min(self.cap, self.base * 2 ** (retry - 1)) * random.uniform(0.5, 1.0)


class PlaybookRunner:
    """Runs due playbook runs. ``actor`` is who the audit trail says acted (the process)."""

    def __init__(
        self,
        state: StateDB,
        playbooks: Mapping[str, Playbook],
        actions: Mapping[str, Action],
        actor: str = "cyberwell serve",
        *,
        lease_margin: float = 60.0,
        backoff: Backoff | None = None,
    ):
        self.state = state
        self.playbooks = playbooks
        self.actions = actions
        self.actor = actor
        self.runs = PlaybookRuns(state)
        self.alerts = AlertBook(state)
        #: Seconds a claim outlives a step's timeout before another runner may take the run over.
        self.lease_margin = lease_margin
        self.backoff = backoff or Backoff()
        self.owner = new_owner()

    async def run_due(self, stop: asyncio.Event | None = None) -> list[RunRecord]:
        """Run due runs (queued, approved, or left by a runner that died) until none is due or
        ``stop`` is set; each as it ended or parked for approval."""
        done = []
        while stop is None or not stop.is_set():
            run = self.runs.claim(self.owner, self.lease_margin)
            if run is None:
                break
            done.append(await self._drive(run))
        return done

    async def run(self, run_id: int) -> RunRecord:
        """Run one run now (``playbook run``): it must be due, i.e. queued or approved."""
        run = self.runs.claim(self.owner, self.lease_margin, run_id)
        if run is None:
            current = self.runs.get(run_id)
            raise ValueError(f"playbook run {run_id} is {current.state if current else 'not there'}; nothing to run")
        return await self._drive(run)

    # -- one run ----------------------------------------------------------------------------

    async def _drive(self, run: RunRecord) -> RunRecord:
        playbook = self.playbooks.get(run.playbook)
        if playbook is None:
            return self._finish(run, "failed", f"playbook {run.playbook!r} is not loaded")
        if run.steps and playbook.digest != run.digest:
            # Half a run of one definition and half of another would be neither.
            return self._finish(
                run, "failed", f"playbook {run.playbook!r} changed since this run started; run it again"
            )
        alert = self.alerts.get(run.alert_id)
        if alert is None:
            return self._finish(run, "failed", f"alert {run.alert_id} is not in the state database")
        run = self.runs.plan_steps(
            run.id, playbook.digest, [StepPlan(s.name, s.action, s.approval, s.on_denied) for s in playbook.steps]
        )
        try:
            for record in run.steps:
                if record.state in STEP_DONE:
                    if record.state in ("failed", "timed_out"):  # a crash between the step and the run
                        return self._finish(run, "failed" if record.state == "failed" else "timed_out", record.error)
                    continue
                step = playbook.steps[record.position]
                context = _context(alert, playbook, self.runs.get(run.id) or run)
                after = await self._step(run, step, record, context)
                if after == "wait":
                    return self.runs.get(run.id) or run
                if after == "stop":
                    return self.runs.get(run.id) or run
        except RunGone:
            return self.runs.get(run.id) or run
        return self._finish(run, "succeeded", None)

    async def _step(self, run: RunRecord, step: Step, record: StepRecord, context: dict[str, Any]) -> Next:
        action = self.actions.get(step.action)
        if action is None:
            return self._fail(run, record, "failed", f"step {step.name!r}: action {step.action!r} is not registered")
        try:
            if step.when is not None and not evaluate_condition(step.name, step.when, context):
                self._end_step(run, record, "skipped", f"skipped: condition is false: {step.when}", None, {})
                return "next"
            arguments = self._arguments(action, step, context)
        except RenderError as error:
            return self._fail(run, record, "failed", str(error))
        described = action.describe(arguments)
        shown = arguments.model_dump(mode="json", by_alias=True)
        if run.dry_run:
            note = " (after approval)" if step.approval == "required" else ""
            self._end_step(run, record, "dry-run", f"would {described}{note}", None, shown)
            return "next"
        if step.approval == "required" and record.decision != "approved":
            self.runs.wait_for_approval(run.id, record.position, shown, described, self.owner)
            return "wait"
        return await self._call(run, step, record, action, arguments, described, shown)

    async def _call(
        self,
        run: RunRecord,
        step: Step,
        record: StepRecord,
        action: Action,
        arguments: BaseModel,
        described: str,
        shown: dict[str, Any],
    ) -> Next:
        key = f"runs/{run.id}/{record.position}"
        error: str | None = None
        while True:
            attempt = self.runs.begin_attempt(
                run.id, record.position, shown, self.owner, step.timeout + self.lease_margin, error
            )
            try:
                result = await asyncio.wait_for(action.run(arguments, key), step.timeout)
            except TimeoutError:
                result = ActionResult("failed", f"timed out after {step.timeout:g}s", retryable=True)
                timed_out = True
            except Exception as raised:  # noqa: BLE001 - an action must not take the runner down
                # Only the type: an exception's text may carry a request with its credentials.
                result = ActionResult("failed", f"the action raised {type(raised).__name__}")
                timed_out = False
            else:
                timed_out = False
            if result.outcome in ("succeeded", "dry-run"):
                state = "succeeded" if result.outcome == "succeeded" else "dry-run"
                self._end_step(run, record, state, result.summary, None, shown, described, attempt)
                return "next"
            if result.retryable and attempt <= step.retries:
                error = f"attempt {attempt}: {result.summary}"
                await asyncio.sleep(self.backoff.delay(attempt))
                continue
            ending = "timed_out" if timed_out else "failed"
            why = f"step {step.name!r}: {result.summary}" + (f" (after {attempt} attempts)" if attempt > 1 else "")
            return self._fail(run, record, ending, why, shown, described, attempt)

    def _arguments(self, action: Action, step: Step, context: dict[str, Any]) -> BaseModel:
        rendered = render_arguments(step.name, step.arguments, context, html_arguments(action.arguments))
        try:
            return action.arguments.model_validate(rendered)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = key_path(("with", *first["loc"]))
            raise RenderError(f"step {step.name!r}: {where}: {first['msg']} (as rendered from the alert)") from None

    # -- writing outcomes -------------------------------------------------------------------

    def _end_step(
        self,
        run: RunRecord,
        record: StepRecord,
        state: str,
        result: str | None,
        error: str | None,
        shown: dict[str, Any],
        described: str | None = None,
        attempts: int = 0,
    ) -> None:
        outcome = {"succeeded": "succeeded", "dry-run": "dry-run", "skipped": "skipped", "timed_out": "timed out"}
        said = outcome.get(state, f"failed: {error or result}")
        what = f"{record.action}: {described}" if described else f"{record.action} (step {record.name})"
        detail = {
            "playbook": run.playbook,
            "alert_id": run.alert_id,
            "step": record.name,
            "attempts": attempts,
            "dry_run": run.dry_run,
            "arguments": shown,
        }
        entry = AuditEntry(self.actor, "action", run.subject, what, said, detail)
        self.runs.end_step(run.id, record.position, state, result, error, [entry], shown or None)

    def _fail(
        self,
        run: RunRecord,
        record: StepRecord,
        state: str,
        why: str,
        shown: dict[str, Any] | None = None,
        described: str | None = None,
        attempts: int = 0,
    ) -> Next:
        self._end_step(run, record, state, None, why, shown or {}, described, attempts)
        self._finish(run, "timed_out" if state == "timed_out" else "failed", why)
        return "stop"

    def _finish(self, run: RunRecord, state: str, error: str | None) -> RunRecord:
        what = f"playbook {run.playbook} for alert {run.alert_id}" + (" (dry run)" if run.dry_run else "")
        result = state if error is None else f"{state}: {error}"
        entry = AuditEntry(self.actor, "playbook", run.subject, what, result, {"playbook": run.playbook})
        return self.runs.finish(run.id, self.owner, state, error, [entry])


def _context(alert: Alert, playbook: Playbook, run: RunRecord) -> dict[str, Any]:
    """What templates see: plain data only (the sandbox guards attribute access, and plain data
    leaves nothing behind it to reach)."""
    return {
        "alert": alert.to_dict(),
        "group": dict(alert.group_keys),
        "playbook": {"id": playbook.id, "title": playbook.title},
        "run": {"id": run.id, "dry_run": run.dry_run, "trigger": run.trigger},
        "steps": {s.name: {"state": s.state, "result": s.result} for s in run.steps},
    }
