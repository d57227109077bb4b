"""The playbook runner's state machine on a real state database: approval, denial, timeouts,
retries, queueing once, the audit trail, and a run resumed after its process was killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from playbooks import PlaybookRunner, PlaybookRuns, load_playbooks, queue_runs, start_run
from playbooks.actions.base import ActionResult
from playbooks.runner import Backoff
from store.state.audit import recent_audit, verify_audit
from store.state.database import StateDB
from tests.support.playbook_standins import Destroyer, Recorder, registry, save_alert

ROOT = Path(__file__).resolve().parents[2]


def book(tmp_path: Path, text: str, actions: dict) -> dict:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    (folder / "book.yml").write_text(textwrap.dedent(text))
    playbooks, problems = load_playbooks([folder], actions)
    assert not problems, [str(p) for p in problems]
    return playbooks


TWO_STEPS = """
    id: contain
    title: Contain
    trigger: {min_severity: high}
    steps:
      - name: first
        action: test.act
        with: {user: '{{ group["user.name"] }}'}
      - name: second
        action: test.destroy
        approval: required
        with: {user: '{{ group["user.name"] }}'}
"""


@pytest.fixture
def state(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "state.sqlite")


def runner(state, playbooks, actions, **kw) -> PlaybookRunner:
    return PlaybookRunner(state, playbooks, actions, "cyberwell test", backoff=Backoff(0.01, 0.02), **kw)


def test_a_step_needing_approval_waits_and_approval_runs_it(tmp_path, state):
    act, destroy = Recorder(), Destroyer()
    actions = registry(act, destroy)
    playbooks = book(tmp_path, TWO_STEPS, actions)
    alert = save_alert(state)
    assert queue_runs(state, playbooks, [alert]) == 1

    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert run.state == "awaiting_approval"
    assert [s.state for s in run.steps] == ["succeeded", "awaiting_approval"]
    assert run.steps[1].arguments == {"user": "a.user@council.gov.uk"}
    assert destroy.calls == []

    runs = PlaybookRuns(state)
    approved = runs.decide(run.id, "alice", approve=True, step="second")
    assert approved.state == "running" and approved.steps[1].decided_by == "alice"
    (done,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert done.state == "succeeded"
    assert [s.state for s in done.steps] == ["succeeded", "succeeded"]
    assert act.calls == [({"user": "a.user@council.gov.uk"}, f"runs/{run.id}/0")]
    assert destroy.calls == [({"user": "a.user@council.gov.uk"}, f"runs/{run.id}/1")]

    trail = list(reversed(recent_audit(state, subject=f"playbook-run:{run.id}")))
    assert [(e.kind, e.actor, e.result) for e in trail] == [
        ("action", "cyberwell test", "succeeded"),
        ("approval", "alice", "approved"),
        ("action", "cyberwell test", "succeeded"),
        ("playbook", "cyberwell test", "succeeded"),
    ]
    assert trail[1].detail["arguments"] == {"user": "a.user@council.gov.uk"}
    assert verify_audit(state).ok


def test_a_denial_cancels_the_run_and_says_who(tmp_path, state):
    act, destroy = Recorder(), Destroyer()
    actions = registry(act, destroy)
    playbooks = book(tmp_path, TWO_STEPS, actions)
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())

    denied = PlaybookRuns(state).decide(run.id, "bob", approve=False, reason="user is travelling")
    assert denied.state == "cancelled"
    assert denied.steps[1].state == "denied" and denied.steps[1].decided_by == "bob"
    assert "denied by bob: user is travelling" in (denied.error or "")
    assert asyncio.run(runner(state, playbooks, actions).run_due()) == []
    assert destroy.calls == []
    (entry,) = recent_audit(state, kind="denial")
    assert (entry.actor, entry.result) == ("bob", "denied: user is travelling")
    with pytest.raises(ValueError, match="is cancelled, not awaiting approval"):
        PlaybookRuns(state).decide(run.id, "bob", approve=True)


def test_a_denied_step_that_says_skip_lets_the_run_go_on(tmp_path, state):
    act, destroy = Recorder(), Destroyer()
    actions = registry(act, destroy)
    text = TWO_STEPS.replace("approval: required", "approval: required\n        on_denied: skip")
    text += "      - {name: third, action: test.act, with: {user: x}}\n"
    playbooks = book(tmp_path, text, actions)
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    PlaybookRuns(state).decide(run.id, "bob", approve=False, reason="not now")
    (done,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert done.state == "succeeded"
    assert [s.state for s in done.steps] == ["succeeded", "denied", "succeeded"]
    assert destroy.calls == []


def test_a_step_over_its_timeout_is_timed_out(tmp_path, state):
    act = Recorder(hang=5)
    actions = registry(act, Destroyer())
    playbooks = book(
        tmp_path,
        """
        id: slow
        title: Slow
        trigger: {min_severity: low}
        steps:
          - {name: wait, action: test.act, timeout: 200ms, with: {user: x}}
          - {name: after, action: test.act, with: {user: y}}
        """,
        actions,
    )
    queue_runs(state, playbooks, [save_alert(state)])
    started = time.monotonic()
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert time.monotonic() - started < 3
    assert run.state == "timed_out"
    assert [s.state for s in run.steps] == ["timed_out", "cancelled"]
    assert "timed out after 0.2s" in (run.error or "")
    assert len(act.calls) == 1
    assert recent_audit(state, kind="action")[0].result == "timed out"


def test_retryable_failures_are_retried_and_counted(tmp_path, state):
    flaky = Recorder(script=[ActionResult("failed", "HTTP 503", retryable=True)] * 2)
    actions = registry(flaky, Destroyer())
    playbooks = book(
        tmp_path,
        """
        id: flaky
        title: Flaky
        trigger: {min_severity: low}
        steps:
          - {name: try, action: test.act, retries: 2, with: {user: x}}
        """,
        actions,
    )
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert run.state == "succeeded"
    assert run.steps[0].attempts == 3
    assert "attempt 2: HTTP 503" in (run.steps[0].error or "")
    assert {key for _, key in flaky.calls} == {f"runs/{run.id}/0"}  # one key for every attempt


def test_a_refusal_is_not_retried_and_fails_the_run(tmp_path, state):
    refusing = Recorder(script=[ActionResult("failed", "HTTP 403: missing User.ReadWrite.All")])
    actions = registry(refusing, Destroyer())
    playbooks = book(
        tmp_path,
        """
        id: refused
        title: Refused
        trigger: {min_severity: low}
        steps:
          - {name: try, action: test.act, retries: 3, with: {user: x}}
        """,
        actions,
    )
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert run.state == "failed" and run.steps[0].attempts == 1
    assert run.error == "step 'try': HTTP 403: missing User.ReadWrite.All"
    assert recent_audit(state, kind="action")[0].result == "failed: step 'try': HTTP 403: missing User.ReadWrite.All"


def test_queueing_twice_for_the_same_alert_queues_once_and_a_manual_run_is_always_new(tmp_path, state):
    actions = registry(Recorder(), Destroyer())
    playbooks = book(tmp_path, TWO_STEPS, actions)
    high = save_alert(state)
    low = save_alert(state, severity="low", **{"user.name": "b"})
    assert queue_runs(state, playbooks, [high, low]) == 1
    assert queue_runs(state, playbooks, [high, low]) == 0
    assert queue_runs(state, playbooks, [high], dry_run=True) == 1  # a dry run is its own run
    first = start_run(state, playbooks["contain"], high.id, "alice", dry_run=True)
    second = start_run(state, playbooks["contain"], high.id, "alice", dry_run=True)
    assert first != second
    runs = PlaybookRuns(state).list()
    assert sorted((r.trigger, r.dry_run) for r in runs) == [
        ("automatic", False), ("automatic", True), ("manual", True), ("manual", True)
    ]  # fmt: skip
    assert all(r.alert_id == high.id for r in runs)
    with pytest.raises(LookupError, match="no alert nope"):
        start_run(state, playbooks["contain"], "nope", "alice")


def test_a_dry_run_describes_every_step_and_calls_nothing(tmp_path, state):
    act, destroy = Recorder(), Destroyer()
    actions = registry(act, destroy)
    playbooks = book(tmp_path, TWO_STEPS, actions)
    queue_runs(state, playbooks, [save_alert(state)], dry_run=True)
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert run.state == "succeeded" and run.dry_run
    assert [(s.state, s.result) for s in run.steps] == [
        ("dry-run", "would act on a.user@council.gov.uk"),
        ("dry-run", "would act on a.user@council.gov.uk (after approval)"),
    ]
    assert act.calls == [] and destroy.calls == []
    assert [e.result for e in recent_audit(state, kind="action")] == ["dry-run", "dry-run"]


def test_a_false_condition_skips_and_an_undefined_name_fails_naming_the_step(tmp_path, state):
    act = Recorder()
    actions = registry(act, Destroyer())
    playbooks = book(
        tmp_path,
        """
        id: conditions
        title: Conditions
        trigger: {min_severity: low}
        steps:
          - {name: never, action: test.act, when: 'alert.severity == "critical"', with: {user: x}}
          - {name: broken, action: test.act, with: {user: '{{ group["host.name"] }}'}}
        """,
        actions,
    )
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert [s.state for s in run.steps] == ["skipped", "failed"]
    assert run.state == "failed"
    assert run.error is not None and run.error.startswith("step 'broken': with.user: UndefinedError")
    assert act.calls == []


def test_the_sandbox_refuses_python_internals(tmp_path, state):
    act = Recorder()
    actions = registry(act, Destroyer())
    playbooks = book(
        tmp_path,
        """
        id: escape
        title: Escape
        trigger: {min_severity: low}
        steps:
          - {name: peek, action: test.act, with: {user: '{{ alert.__class__.__mro__ }}'}}
        """,
        actions,
    )
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    assert run.state == "failed"
    assert "step 'peek': with.user: SecurityError" in (run.error or "")
    assert act.calls == []


def test_cancel_stops_a_waiting_run(tmp_path, state):
    actions = registry(Recorder(), Destroyer())
    playbooks = book(tmp_path, TWO_STEPS, actions)
    queue_runs(state, playbooks, [save_alert(state)])
    (run,) = asyncio.run(runner(state, playbooks, actions).run_due())
    cancelled = PlaybookRuns(state).cancel(run.id, "alice", "false positive")
    assert cancelled.state == "cancelled" and cancelled.steps[1].state == "cancelled"
    assert recent_audit(state, kind="playbook")[0].what == "cancelled playbook contain"


CRASH_CHILD = """
import asyncio, sys
from pathlib import Path
from playbooks import PlaybookRunner, load_playbooks
from store.state.database import StateDB
from tests.support.playbook_standins import Recorder, Destroyer, registry

home, log, hang = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
actions = registry(Recorder(log=log), Destroyer(log=log, hang=hang))
playbooks, problems = load_playbooks([home / "playbooks"], actions)
assert not problems, problems
asyncio.run(PlaybookRunner(StateDB(home / "state.sqlite"), playbooks, actions, "child").run_due())
"""


def test_a_run_killed_mid_step_resumes_without_repeating_what_succeeded(tmp_path, state):
    text = TWO_STEPS.replace("approval: required", "approval: none").replace("test.destroy", "test.act")
    text = text.replace("id: contain", "id: crash")
    text += "      - {name: third, action: test.destroy, approval: required, timeout: 10m, with: {user: z}}\n"
    text = text.replace("name: second\n        action: test.act", "name: second\n        action: test.act")
    # first and second (test.act) are quick; third (test.destroy) hangs in the child, approved first.
    actions = registry(Recorder(), Destroyer())
    playbooks = book(tmp_path, text, actions)
    queue_runs(state, playbooks, [save_alert(state)])
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = [sys.executable, "-c", CRASH_CHILD, str(tmp_path), str(log), "600"]

    subprocess.run(child, env=env, check=True, timeout=60)  # runs first and second, parks at third
    (run,) = PlaybookRuns(state).list()
    assert run.state == "awaiting_approval"
    PlaybookRuns(state).decide(run.id, "alice", approve=True)

    process = subprocess.Popen(child, env=env)
    deadline = time.monotonic() + 30
    while not (log.exists() and "test.destroy" in log.read_text()):
        assert time.monotonic() < deadline and process.poll() is None, "the child never reached the third step"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert PlaybookRuns(state).get(run.id).steps[2].state == "running"  # type: ignore[union-attr]

    subprocess.run([*child[:-1], "0"], env=env, check=True, timeout=60)
    done = PlaybookRuns(state).get(run.id)
    assert done is not None and done.state == "succeeded"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["action"], c["key"]) for c in calls] == [
        ("test.act", f"runs/{run.id}/0"),
        ("test.act", f"runs/{run.id}/1"),
        ("test.destroy", f"runs/{run.id}/2"),  # killed mid-call
        ("test.destroy", f"runs/{run.id}/2"),  # again, with the same key
    ]
    assert done.steps[2].attempts == 2
    assert verify_audit(state).ok


def test_a_manual_run_runs_at_once_and_is_audited_as_who_asked(tmp_path, state):
    act = Recorder()
    actions = registry(act, Destroyer())
    playbooks = book(tmp_path, TWO_STEPS, actions)
    alert = save_alert(state)
    run_id = start_run(state, playbooks["contain"], alert.id, "alice", dry_run=True)
    run = asyncio.run(runner(state, playbooks, actions).run(run_id))
    assert run.state == "succeeded" and run.trigger == "manual" and run.started_by == "alice"
    started = recent_audit(state, kind="playbook", subject=f"playbook-run:{run_id}")[-1]
    assert (started.actor, started.result) == ("alice", "queued")
    assert started.what == f"started playbook contain for alert {alert.id} (dry run)"
    with pytest.raises(ValueError, match=f"playbook run {run_id} is succeeded; nothing to run"):
        asyncio.run(runner(state, playbooks, actions).run(run_id))
