"""``cyberwell serve`` responding (issue 12, point 7), as a real subprocess on a real home: it
detects, queues the SOC webhook's messages and the playbook runs the alerts trigger, delivers the
messages to a real receiver process that verifies every signature, and runs the playbooks; a
person approves or denies the step that waits with ``cyberwell playbook`` in another process,
and ``serve``'s own runner carries the run on.

The playbook only calls ``notify.teams`` (a Teams Workflows stand-in on 127.0.0.1) and
``notify.soc`` (the outbox, delivered to the receiver). The actions that sign in to Entra ID
(``graph.*``, ``defender.*``) cannot run here: azure-identity insists on an https authority, so
there is no 127.0.0.1 token endpoint a real ``serve`` could sign in to.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from console.cli import app
from store import EmbeddedStore
from store.batch import REQUIRED_COLUMNS
from tests.support.action_standin import ActionStandIn, Answer
from tests.support.webhook_receiver import ReceiverProcess

REPO = Path(__file__).resolve().parents[2]
SECRET = "soc-hmac-5e1f-never-logged"
SECRET_ENV = "CW_SERVE_SOC_SECRET"
TEAMS_ENV = "CW_SERVE_TEAMS_URL"
HOOK_PATH = "/workflows/4b2a/triggers/manual/paths/invoke"
SIG = "Tq9-serve-teams-signature-never-shown"
RULE_ID = "0c7d5a4e-12a1-4c0b-9e57-000000000012"
PLAYBOOK_ID = "failed-signins"
USERS = ("a.khan@council.gov.uk", "b.jones@council.gov.uk", "c.osei@council.gov.uk")
ACTOR = "cyberwell serve"

RULE = f"""\
title: Repeated Failed Sign-Ins
id: {RULE_ID}
logsource: {{product: azure, service: signinlogs}}
detection:
  selection:
    azure.signinlogs.properties.status.error_code: 50126
  condition: selection
cyberwell:
  group-by:
    - user.name
level: high
"""

PLAYBOOK = f"""\
id: {PLAYBOOK_ID}
title: Failed sign-ins
description: Tell the team, ask before telling the manager, then tell the SOC.
trigger:
  rules: [{RULE_ID}]
steps:
  - name: tell-team
    action: notify.teams
    with:
      title: "Failed sign-ins: {{{{ group['user.name'] }}}}"
      text: "{{{{ alert.rule_title }}}} ({{{{ alert.event_count }}}} events)"
  - name: tell-manager
    action: notify.teams
    approval: required
    with:
      title: "Approved follow-up for {{{{ group['user.name'] }}}}"
      text: "a person approved this"
  - name: tell-soc
    action: notify.soc
    with:
      alert_id: "{{{{ alert.id }}}}"
      summary: "followed up failed sign-ins of {{{{ group['user.name'] }}}}"
"""


def signins(now: datetime) -> pa.Table:
    """Per user four failed sign-ins (error 50126) and one that worked, in the last ten minutes."""
    rows = [(user, code) for user in USERS for code in (50126, 50126, 0, 50126, 50126)]
    times = [now - timedelta(minutes=8) + timedelta(seconds=10 * i) for i in range(len(rows))]
    return pa.table(
        {
            "@timestamp": pa.array(times, REQUIRED_COLUMNS["@timestamp"]),
            "event.ingested": pa.array([now] * len(rows), REQUIRED_COLUMNS["event.ingested"]),
            "event.dataset": pa.array(["azure.signinlogs"] * len(rows), pa.string()),
            "event.id": pa.array([f"s-{i}" for i in range(len(rows))], pa.string()),
            "event.original": pa.array(["{}"] * len(rows), pa.string()),
            "user.name": pa.array([user for user, _ in rows], pa.string()),
            "azure.signinlogs.properties.status.error_code": pa.array([code for _, code in rows], pa.int64()),
        }
    )


@dataclass
class Scene:
    home: Path
    receiver: ReceiverProcess
    standin: ActionStandIn

    @property
    def serve_log(self) -> Path:
        """Where ``serve``'s log (its stderr) goes, so a test that times out can show it."""
        return self.home.parent / "serve.log"

    @property
    def env(self) -> dict[str, str]:
        teams = f"{self.standin.url}{HOOK_PATH}?api-version=1&sig={SIG}"
        return {**os.environ, "PYTHONPATH": str(REPO), SECRET_ENV: SECRET, TEAMS_ENV: teams}


@pytest.fixture
def scene(tmp_path) -> Iterator[Scene]:
    (tmp_path / "receiver").mkdir()
    receiver = ReceiverProcess(tmp_path / "receiver", SECRET).start()
    standin = ActionStandIn().start()
    standin.on("POST", HOOK_PATH, Answer(202))
    home = tmp_path / "home"
    (home / "rules").mkdir(parents=True)
    (home / "rules" / "failed.yml").write_text(RULE)
    (home / "playbooks").mkdir()
    (home / "playbooks" / "failed.yml").write_text(PLAYBOOK)
    now = datetime.now(UTC).replace(microsecond=0)
    (home / "cyberwell.toml").write_text(
        "[detections]\n"
        'rule_dirs = ["rules"]\n'
        'interval = "2s"\n'
        'lookback = "1s"\n'
        'delay = "0"\n'
        f'start = "{(now - timedelta(minutes=10)).isoformat()}"\n'
        "\n[webhook]\n"
        f'url = "{receiver.url}"\n'
        f'secret_env = "{SECRET_ENV}"\n'
        'min_severity = "medium"\n'
        "timeout = 2\n"
        "lease = 5\n"
        "backoff_base = 0.2\n"
        "\n[actions.teams]\n"
        f'webhook_url_env = "{TEAMS_ENV}"\n'
        "\n[playbooks]\n"
        'dirs = ["playbooks"]\n'
    )
    store = EmbeddedStore(home)
    store.append(signins(now))
    store.close()
    yield Scene(home, receiver, standin)
    standin.stop()
    receiver.stop()


@pytest.fixture
def serving(scene) -> Iterator[subprocess.Popen]:
    with open(scene.serve_log, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--home", str(scene.home), "serve", "--log-level", "INFO"],
            cwd=REPO,
            env=scene.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def stopped(scene: Scene, process: subprocess.Popen) -> str:
    """SIGTERM, as systemd stops it: serve exits 0. Its log (stderr)."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    err = scene.serve_log.read_text()
    assert process.returncode == 0, err
    assert "stopped" in err
    return err


def cli(scene: Scene, *args: str) -> subprocess.CompletedProcess:
    """``cyberwell`` in another process, on the same home, as a person at a terminal would run it."""
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(scene.home), *args],
        cwd=REPO,
        env=scene.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_json(scene: Scene, *args: str):
    done = cli(scene, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for(scene: Scene, condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; past ``timeout`` seconds fail, showing ``serve``'s log
    (its start and its end: what it was doing is the first thing to know)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            log = scene.serve_log.read_text() if scene.serve_log.exists() else "(no log)"
            shown = log if len(log) <= 8000 else f"{log[:5000]}\n[…]\n{log[-3000:]}"
            pytest.fail(f"timed out after {timeout} s waiting for {what}; serve's log:\n{shown}")
        time.sleep(0.1)


def posted_titles(scene: Scene) -> list[str]:
    """The card titles the Teams stand-in received, in order."""
    return [
        seen.body["attachments"][0]["content"]["body"][0]["inlines"][0]["text"]
        for seen in scene.standin.requests("POST")
    ]


def alerts(scene: Scene) -> list[dict]:
    return cli_json(scene, "alerts", "list")


def awaiting(scene: Scene) -> list[dict]:
    return cli_json(scene, "playbook", "runs", "--state", "awaiting_approval")["runs"]


def alert_messages(scene: Scene) -> list[dict]:
    return [r for r in scene.receiver.requests() if r["event"] in ("alert.new", "alert.update")]


def every_alert_delivered(scene: Scene, found: list[dict]) -> bool:
    """Each alert's latest state was accepted by the receiver under ``<alert id>:<sequence>``."""
    accepted = {r["key"] for r in alert_messages(scene) if r["status"] == 200}
    return all(f"{a['id']}:{a['sequence']}" in accepted for a in found)


def responded(scene: Scene) -> tuple[list[dict], dict[str, dict]]:
    """Wait until serve has detected the three users' alerts, delivered them to the SOC and run
    the playbook for each up to the step that needs approval. The alerts, and the waiting runs
    by the user they are about."""
    wait_for(scene, lambda: len(alerts(scene)) == len(USERS), 90, "an alert per user")
    found = alerts(scene)
    assert {a["group_keys"]["user.name"] for a in found} == set(USERS)
    assert {a["severity"] for a in found} == {"high"}
    wait_for(scene, lambda: every_alert_delivered(scene, found), 60, "the SOC receiver to accept every alert")
    wait_for(scene, lambda: len(awaiting(scene)) == len(USERS), 60, "a run per alert awaiting approval")
    runs = awaiting(scene)
    user_of = {a["id"]: a["group_keys"]["user.name"] for a in found}
    assert sorted(run["alert_id"] for run in runs) == sorted(user_of)
    assert {run["playbook"] for run in runs} == {PLAYBOOK_ID}
    assert {run["trigger"] for run in runs} == {"automatic"}
    assert {run["dry_run"] for run in runs} == {False}
    for run in runs:
        states = [(step["name"], step["state"]) for step in run["steps"]]
        assert states == [("tell-team", "succeeded"), ("tell-manager", "awaiting_approval"), ("tell-soc", "pending")]

    # What arrived at the SOC: every request signed with the shared secret (the receiver checks
    # each one as docs/webhook.md tells a receiver to), each alert's message under its
    # idempotency key "<alert id>:<sequence>", and no playbook notice yet.
    received = scene.receiver.requests()
    assert received and all(r["signature_ok"] for r in received)
    for request in alert_messages(scene):
        assert request["key"] == f"{request['alert_id']}:{request['sequence']}"
    assert {r["alert_id"] for r in alert_messages(scene)} == set(user_of)
    assert [r for r in received if r["event"] == "playbook"] == []

    # What arrived at Teams: the first card of each run, its title rendered from the alert; the
    # card after the approval step was not posted.
    assert sorted(posted_titles(scene)) == sorted(f"Failed sign-ins: {user}" for user in USERS)
    return found, {user_of[run["alert_id"]]: run for run in runs}


def run_state(scene: Scene, run_id: int) -> dict:
    return cli_json(scene, "playbook", "show", str(run_id))


def audit(scene: Scene) -> list[dict]:
    done = cli(scene, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr  # the chain is whole
    return cli_json(scene, "audit", "list", "--limit", "10000")


def no_secret_in(text: str) -> None:
    assert SECRET not in text
    assert SIG not in text
    assert "sig=" not in text


def test_serve_delivers_alerts_runs_playbooks_and_continues_a_run_approved_elsewhere(scene, serving):
    found, runs = responded(scene)
    chosen = runs[USERS[0]]
    run_id = chosen["id"]

    # alice approves in another process and leaves the rest to serve (--no-run).
    approved = cli(scene, "playbook", "approve", str(run_id), "--no-run", "--actor", "alice", "--yes", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["state"] == "running"  # handed back, not run by the command

    wait_for(scene, lambda: run_state(scene, run_id)["state"] == "succeeded", 60, "serve to finish the approved run")
    run = run_state(scene, run_id)
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        ("tell-team", "succeeded"),
        ("tell-manager", "succeeded"),
        ("tell-soc", "succeeded"),
    ]
    manager = run["steps"][1]
    assert (manager["decision"], manager["decided_by"]) == ("approved", "alice")
    titles = posted_titles(scene)
    assert titles.count(f"Approved follow-up for {USERS[0]}") == 1
    assert not any(t.startswith("Approved follow-up") and USERS[0] not in t for t in titles)  # the others wait

    # notify.soc queued a notice; serve's deliverer sent it to the SOC, signed.
    def notice() -> list[dict]:
        return [r for r in scene.receiver.requests() if r["event"] == "playbook" and r["status"] == 200]

    wait_for(scene, notice, 60, "the playbook notice at the SOC receiver")
    (sent,) = {(r["key"], r["alert_id"], r["kind"], r["signature_ok"]) for r in notice()}
    assert sent == (f"runs/{run_id}/2", chosen["alert_id"], "playbook", True)

    # The other runs still wait for a person.
    assert sorted(r["id"] for r in awaiting(scene)) == sorted(r["id"] for u, r in runs.items() if u != USERS[0])

    entries = audit(scene)
    subject = f"playbook-run:{run_id}"
    approvals = [e for e in entries if e["kind"] == "approval" and e["subject"] == subject]
    assert [(e["actor"], e["result"], e["detail"]["step"]) for e in approvals] == [
        ("alice", "approved", "tell-manager")
    ]
    # serve's runner, not alice's command, carried out the steps after the approval.
    actors = {e["actor"] for e in entries if e["kind"] == "action" and e["subject"] == subject}
    assert actors == {ACTOR}
    assert any(e["kind"] == "delivery" for e in entries)  # the SOC deliveries are on the trail too
    no_secret_in(json.dumps(entries))

    err = stopped(scene, serving)
    no_secret_in(err)
    assert f"playbooks started by alerts: {PLAYBOOK_ID}" in err


def test_a_denied_step_cancels_the_run_and_nothing_after_it_is_done(scene, serving):
    _, runs = responded(scene)
    run_id = runs[USERS[1]]["id"]

    denied = cli(scene, "playbook", "deny", str(run_id), "--reason", "known tester account", "--actor", "bob")
    assert denied.returncode == 0, denied.stderr

    run = run_state(scene, run_id)
    assert run["state"] == "cancelled"
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        ("tell-team", "succeeded"),
        ("tell-manager", "denied"),
        ("tell-soc", "cancelled"),
    ]
    assert (run["steps"][1]["decision"], run["steps"][1]["decided_by"]) == ("denied", "bob")

    time.sleep(2.5)  # more than one of the runner's polls (1 s) and the deliverer's: nothing may move
    assert run_state(scene, run_id)["state"] == "cancelled"
    assert not any(t.startswith("Approved follow-up") for t in posted_titles(scene))
    assert [r for r in scene.receiver.requests() if r["event"] == "playbook"] == []
    assert len(awaiting(scene)) == len(USERS) - 1

    entries = audit(scene)
    denials = [e for e in entries if e["kind"] == "denial" and e["subject"] == f"playbook-run:{run_id}"]
    assert [(e["actor"], e["result"]) for e in denials] == [("bob", "denied: known tester account")]

    err = stopped(scene, serving)
    no_secret_in(err)


def test_playbook_list_says_which_playbooks_alerts_start_and_what_the_others_need(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    runner = CliRunner(env={TEAMS_ENV: f"https://teams.example.invalid{HOOK_PATH}?sig={SIG}"})
    listed = runner.invoke(app, ["--home", str(bare), "playbook", "list", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.stdout)
    shipped = {p["id"]: p for p in found["playbooks"]}
    assert set(shipped) == {"compromised-account", "malware-device", "password-spray", "notify-high"}
    assert found["problems"] == []
    assert {key: p["started_by_alerts"] for key, p in shipped.items()} == dict.fromkeys(shipped, False)
    assert set(shipped["notify-high"]["needs"]) == {"notify.teams"}
    assert set(shipped["compromised-account"]["needs"]) == {
        "graph.revoke_sessions",
        "graph.disable_user",
        "notify.teams",
        "notify.soc",
    }
    assert set(shipped["malware-device"]["needs"]) == {"defender.isolate_device", "notify.teams", "notify.soc"}
    assert set(shipped["password-spray"]["needs"]) == {"graph.block_ip_named_location", "notify.teams", "notify.soc"}
    assert "[webhook]" in shipped["compromised-account"]["needs"]["notify.soc"]
    assert "actions.teams" in shipped["notify-high"]["needs"]["notify.teams"]

    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "cyberwell.toml").write_text(
        "[webhook]\n"
        'url = "https://soc.example.invalid/hook"\n'
        f'secret_env = "{SECRET_ENV}"\n'
        "\n[actions.teams]\n"
        f'webhook_url_env = "{TEAMS_ENV}"\n'
    )
    listed = runner.invoke(app, ["--home", str(configured), "playbook", "list", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    shipped = {p["id"]: p for p in json.loads(listed.stdout)["playbooks"]}
    assert shipped["notify-high"]["started_by_alerts"] is True
    assert shipped["notify-high"]["needs"] == {}
    # Still needing Graph or Defender: not started by alerts, and only those are named.
    assert shipped["compromised-account"]["started_by_alerts"] is False
    assert set(shipped["compromised-account"]["needs"]) == {"graph.revoke_sessions", "graph.disable_user"}
    no_secret_in(listed.output)
