"""`cyberwell playbook`: a person runs a playbook for an alert, approves or denies the step that
waits, cancels a run, and reads the runs; against the real state database and a Teams webhook
stand-in on 127.0.0.1 (notify.teams signs in nowhere, so it runs here in full)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from console.cli import app
from store.state.database import StateDB
from tests.support.action_standin import ActionStandIn, Answer
from tests.support.playbook_standins import save_alert

HOOK_PATH = "/workflows/7d1e/triggers/manual/paths/invoke"
SIG = "Q7-teams-signature-never-shown"
USER = "r.patel@council.gov.uk"

PLAYBOOK = """\
id: tell-then-ask
title: Tell the team, then ask before telling again
trigger:
  min_severity: high
steps:
  - name: first-card
    action: notify.teams
    with:
      title: "Suspicious sign-in: {{ group['user.name'] }}"
      text: "{{ alert.rule_title }} ({{ alert.severity }})"
  - name: second-card
    action: notify.teams
    approval: required
    with:
      title: "Approved follow-up for {{ group['user.name'] }}"
      text: "a person approved this"
"""


@pytest.fixture
def standin():
    running = ActionStandIn().start()
    running.on("POST", HOOK_PATH, Answer(202))
    yield running
    running.stop()


@pytest.fixture
def home(tmp_path, standin):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "tell.yml").write_text(PLAYBOOK)
    (tmp_path / "cyberwell.toml").write_text(
        '[playbooks]\ndirs = ["playbooks"]\n\n[actions.teams]\nwebhook_url_env = "CW_TEST_TEAMS"\n'
    )
    return tmp_path


@pytest.fixture
def alert(home):
    return save_alert(StateDB(home / "state.sqlite"), **{"user.name": USER})


def cli(home, standin, *args: str):
    env = {"CW_TEST_TEAMS": f"{standin.url}{HOOK_PATH}?sig={SIG}"}
    return CliRunner(env=env).invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def posted_titles(standin) -> list[str]:
    return [
        seen.body["attachments"][0]["content"]["body"][0]["inlines"][0]["text"]
        for seen in standin.requests("POST", HOOK_PATH)
    ]


def test_run_acts_until_the_step_that_needs_approval_and_says_how_to_approve(home, standin, alert):
    result = cli(home, standin, "playbook", "run", "tell-then-ask", alert.id, "--actor", "alice")
    assert result.exit_code == 0, result.output
    assert posted_titles(standin) == [f"Suspicious sign-in: {USER}"]
    text = " ".join(result.output.split())
    assert "second-card awaits approval: cyberwell playbook approve 1" in text
    assert SIG not in result.output

    waiting = as_json(cli(home, standin, "playbook", "runs", "--state", "awaiting_approval", "--json"))
    assert [(run["id"], run["playbook"], run["alert_id"]) for run in waiting["runs"]] == [
        (1, "tell-then-ask", alert.id)
    ]


def test_a_relative_webhook_url_file_is_read_from_the_home_not_the_working_directory(
    home, standin, alert, tmp_path_factory, monkeypatch
):
    (home / "teams-webhook.url").write_text(f"{standin.url}{HOOK_PATH}?sig={SIG}\n")
    (home / "cyberwell.toml").write_text(
        '[playbooks]\ndirs = ["playbooks"]\n\n[actions.teams]\nwebhook_url_file = "teams-webhook.url"\n'
    )
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # serve started from another folder
    result = CliRunner().invoke(app, ["--home", str(home), "playbook", "run", "tell-then-ask", alert.id])
    assert result.exit_code == 0, result.output
    assert posted_titles(standin) == [f"Suspicious sign-in: {USER}"]


def test_an_alert_is_found_by_the_start_of_its_id_that_listings_show(home, standin, alert):
    result = cli(home, standin, "playbook", "run", "tell-then-ask", alert.id[:12])
    assert result.exit_code == 0, result.output
    assert posted_titles(standin) == [f"Suspicious sign-in: {USER}"]

    state = StateDB(home / "state.sqlite")
    ids = [alert.id, *(save_alert(state, **{"user.name": f"user{n}@council.gov.uk"}).id for n in range(20))]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    several = cli(home, standin, "playbook", "run", "tell-then-ask", shared)
    assert several.exit_code == 2 and f"'{shared}' begins more than one alert id" in several.output
    unknown = cli(home, standin, "playbook", "run", "tell-then-ask", "zz-no-such-alert")
    assert unknown.exit_code == 2 and "there is no alert zz-no-such-alert" in unknown.output
    assert len(posted_titles(standin)) == 1


def test_approve_runs_the_waiting_step_and_the_audit_trail_says_who(home, standin, alert):
    cli(home, standin, "playbook", "run", "tell-then-ask", alert.id)
    run = as_json(cli(home, standin, "playbook", "approve", "1", "--yes", "--actor", "alice", "--json"))
    assert run["state"] == "succeeded"
    assert [s["state"] for s in run["steps"]] == ["succeeded", "succeeded"]
    assert run["steps"][1]["decided_by"] == "alice"
    assert posted_titles(standin)[-1] == f"Approved follow-up for {USER}"

    entries = as_json(cli(home, standin, "audit", "list", "--subject", "playbook-run:1", "--json"))
    assert ("alice", "approval", "approved") in [(e["actor"], e["kind"], e["result"]) for e in entries]
    assert SIG not in json.dumps(entries)
    assert cli(home, standin, "audit", "verify").exit_code == 0


def test_deny_cancels_the_run_and_nothing_more_is_posted(home, standin, alert):
    cli(home, standin, "playbook", "run", "tell-then-ask", alert.id)
    run = as_json(cli(home, standin, "playbook", "deny", "1", "--reason", "the user was travelling", "--json"))
    assert run["state"] == "cancelled"
    assert "denied" in run["error"] and "the user was travelling" in run["error"]
    assert len(posted_titles(standin)) == 1
    entries = as_json(cli(home, standin, "audit", "list", "--kind", "denial", "--json"))
    assert [e["subject"] for e in entries] == ["playbook-run:1"]


def test_a_dry_run_posts_nothing_and_says_what_each_step_would_do(home, standin, alert):
    run = as_json(cli(home, standin, "playbook", "run", "tell-then-ask", alert.id, "--dry-run", "--json"))
    assert run["state"] == "succeeded" and run["dry_run"]
    assert [s["result"] for s in run["steps"]] == [
        f"would post a card titled 'Suspicious sign-in: {USER}' to the Teams webhook at 127.0.0.1",
        f"would post a card titled 'Approved follow-up for {USER}' to the Teams webhook at 127.0.0.1 (after approval)",
    ]
    assert standin.requests("POST", HOOK_PATH) == []


def test_cancel_stops_a_waiting_run_and_show_tells_the_story(home, standin, alert):
    cli(home, standin, "playbook", "run", "tell-then-ask", alert.id)
    assert as_json(cli(home, standin, "playbook", "cancel", "1", "--reason", "duplicate", "--json"))["state"] == (
        "cancelled"
    )
    shown = as_json(cli(home, standin, "playbook", "show", "1", "--json"))
    assert shown["error"].endswith("duplicate")
    again = cli(home, standin, "playbook", "approve", "1", "--yes")
    assert again.exit_code == 2
    assert "is cancelled, not awaiting approval" in again.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "no-such-playbook", "x"], "there is no playbook 'no-such-playbook' (loaded: tell-then-ask"),
        (["run", "tell-then-ask", "no-such-alert"], "there is no alert no-such-alert"),
        (["approve", "9", "--yes"], "there is no playbook run 9"),
        (["runs", "--state", "stuck"], "--state: expected one of queued, running, awaiting_approval"),
        (["show", "4"], "there is no playbook run 4"),
    ],
)
def test_wrong_names_and_numbers_are_one_line_errors(home, standin, alert, args, said):
    result = cli(home, standin, "playbook", *args)
    assert result.exit_code == 2
    assert said in " ".join(result.output.split())


def test_list_shows_what_starts_each_playbook_and_the_files_that_do_not_load(home, standin):
    (home / "playbooks" / "broken.yml").write_text(
        "id: broken\ntitle: Broken\ntrigger:\n  min_severity: high\nsteps:\n  - name: x\n    action: graph.disable_user\n"
        "    with:\n      user: someone@council.gov.uk\n"
    )
    listing = as_json(cli(home, standin, "playbook", "list", "--json"))
    [mine] = listing["playbooks"]
    assert (mine["id"], mine["started_by_alerts"], mine["needs"]) == ("tell-then-ask", True, {})
    [problem] = listing["problems"]
    assert "broken.yml:6: steps[0].approval:" in problem and "destructive" in problem


def test_detect_queues_the_webhook_message_and_the_playbook_run_with_each_alert(tmp_path, standin):
    """`detect` stores the alert, its SOC webhook message and the armed playbook's run in one go;
    `serve` delivers and runs them (tests/response/test_serve_respond.py)."""
    import orjson

    from tests.detections.test_detections_config import FLOOD_RULE, WINDOW, configure, signin

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "flood.yml").write_text(FLOOD_RULE)
    export = tmp_path / "signins.ndjson"
    export.write_bytes(b"\n".join(orjson.dumps(signin(i, hour=9)) for i in range(40)) + b"\n")
    configure(tmp_path)
    as_json(cli(tmp_path, standin, "ingest", str(export), "--source", "entra-signins", "--json"))
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "tell.yml").write_text(
        PLAYBOOK.replace("min_severity: high", "min_severity: low").replace("group['user.name']", "alert.rule_title")
    )
    with (tmp_path / "cyberwell.toml").open("a") as config:
        config.write(
            '\n[webhook]\nurl = "http://127.0.0.1:9/soc"\nsecret_env = "CW_TEST_SOC"\nmin_severity = "low"\n'
            '\n[actions.teams]\nwebhook_url_env = "CW_TEST_TEAMS"\n'
        )
    report = as_json(cli(tmp_path, standin, "detect", *WINDOW, "--json"))
    assert report["alerts_new"] > 0
    status = as_json(cli(tmp_path, standin, "webhook", "status", "--json"))
    assert status["pending"] == report["alerts_new"]
    queued = as_json(cli(tmp_path, standin, "playbook", "runs", "--state", "queued", "--limit", "1000", "--json"))
    assert queued["per_playbook"] == {"tell-then-ask": report["alerts_new"]}
    # Again over the same window: nothing new, nothing queued twice.
    as_json(cli(tmp_path, standin, "detect", *WINDOW, "--json"))
    assert as_json(cli(tmp_path, standin, "playbook", "runs", "--json"))["total"] == report["alerts_new"]


@pytest.mark.parametrize(
    ("config", "said", "secret"),
    [
        (
            '[webhook]\nurl = "https://soc.example/hook"\nsecret = "hunter2-key"\n',
            "webhook.secret: never inline",
            "hunter2-key",
        ),
        (
            '[webhook]\nurl = "https://soc.example/hook"\n',
            "webhook: give exactly one of secret_env or secret_file",
            None,
        ),
        (
            '[actions.teams]\nwebhook_url_env = "https://x.example/hook?sig=abc123sig"\n',
            "actions.teams.webhook_url_env: expected the name of an environment variable",
            "abc123sig",
        ),
        ('[playbooks]\nfolders = ["x"]\n', "playbooks: unknown key 'folders'; expected dirs", None),
        ("[actions]\ngraph = 3\n", "actions.graph: expected a table", None),
    ],
)
def test_a_wrong_response_setting_names_the_key_and_never_echoes_a_secret(tmp_path, config, said, secret):
    (tmp_path / "cyberwell.toml").write_text(config)
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "playbook", "list"])
    assert result.exit_code == 2
    assert said in " ".join(result.output.split())
    assert secret is None or secret not in result.output


def test_serve_stops_before_starting_when_the_webhook_secret_is_missing(tmp_path, standin):
    (tmp_path / "cyberwell.toml").write_text(
        '[webhook]\nurl = "https://soc.example/hook"\nsecret_env = "CW_TEST_SOC_NOT_SET"\n'
    )
    result = cli(tmp_path, standin, "serve", "--no-detect")
    assert result.exit_code == 2
    assert "the environment variable CW_TEST_SOC_NOT_SET is not set" in result.output


def test_serve_with_nothing_to_do_says_so(tmp_path, standin):
    result = cli(tmp_path, standin, "serve", "--no-detect")
    assert result.exit_code == 2
    assert "nothing to serve: no collectors are configured" in result.output
