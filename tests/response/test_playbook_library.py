"""The shipped playbooks, loaded against the real actions' names and argument models, in dry run
over realistic alerts: which steps each would run, with which rendered arguments."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import pytest
from pydantic import BaseModel

from playbooks import LIBRARY, PlaybookRunner, PlaybookRuns, load_playbooks, queue_runs
from playbooks.actions.base import Action, ActionResult
from playbooks.actions.registry import ACTION_TYPES
from playbooks.webhook.notify_action import NotifySoc
from store.state.database import StateDB
from tests.support.playbook_standins import save_alert

TWO_COUNTRIES = "65f495aa-a769-4304-a2ea-306a9d3c5cb6"
MALWARE = "e9b352fc-3feb-4d2e-a62e-785455d1f46a"
SPRAY = "c7a70d67-816a-4307-a65a-0c0dedb29595"


def stand_in(real: type[Action]) -> Action:
    """The real action's name, danger and arguments; a run that only says what it was given."""

    @dataclass
    class StandIn:
        name: ClassVar[str] = real.name
        destructive: ClassVar[bool] = real.destructive
        permission: ClassVar[str] = real.permission
        arguments: ClassVar[type[BaseModel]] = real.arguments

        def describe(self, arguments: BaseModel) -> str:
            return f"{self.name} {arguments.model_dump(mode='json', exclude_none=True)}"

        async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
            raise AssertionError("a dry run must not call an action")

    return StandIn()


ACTIONS = {kind.name: stand_in(kind) for kind in (*ACTION_TYPES.values(), NotifySoc)}


@pytest.fixture
def state(tmp_path) -> StateDB:
    return StateDB(tmp_path / "state.sqlite")


@pytest.fixture(scope="module")
def shipped():
    playbooks, problems = load_playbooks([LIBRARY], ACTIONS)
    assert not problems, [str(p) for p in problems]
    return playbooks


def dry_run(state, shipped, alert) -> dict[str, list[tuple[str, str, str]]]:
    queue_runs(state, shipped, [alert], dry_run=True)
    asyncio.run(PlaybookRunner(state, shipped, ACTIONS, "demo").run_due())
    return {
        run.playbook: [(s.name, s.state, s.result or "") for s in run.steps]
        for run in PlaybookRuns(state).list()
        if run.state == "succeeded"
    }


def test_every_shipped_playbook_loads_and_puts_destructive_steps_behind_approval(shipped):
    assert sorted(shipped) == ["compromised-account", "malware-device", "notify-high", "password-spray"]
    for playbook in shipped.values():
        for step in playbook.steps:
            assert not ACTIONS[step.action].destructive or step.approval == "required", (playbook.id, step.name)


def test_two_countries_revokes_then_would_disable_after_approval_and_notifies(state, shipped):
    user = "d.okafor@wbdc.gov.uk"
    alert = save_alert(state, rule_id=TWO_COUNTRIES, **{"user.name": user})
    done = dry_run(state, shipped, alert)
    assert sorted(done) == ["compromised-account", "notify-high"]
    steps = done["compromised-account"]
    assert [(name, state_) for name, state_, _ in steps] == [
        ("revoke-sessions", "dry-run"), ("disable-user", "dry-run"), ("notify-team", "dry-run"), ("notify-soc", "dry-run")
    ]  # fmt: skip
    assert steps[0][2] == f"would graph.revoke_sessions {{'user': '{user}'}}"
    assert steps[1][2] == f"would graph.disable_user {{'user': '{user}'}} (after approval)"
    assert f"Compromised account: {user}" in steps[2][2]
    assert f"'alert_id': '{alert.id}'" in steps[3][2] and "sessions revoked" in steps[3][2]


def test_malware_isolates_the_device_by_its_defender_id(state, shipped):
    alert = save_alert(
        state, rule_id=MALWARE, **{"host.name": "wbdc-lt-0421", "host.id": "4f1c0a9e7b2d4c6f8e1a3b5d7c9e0f2a4b6c8d0e"}
    )
    steps = dry_run(state, shipped, alert)["malware-device"]
    assert steps[0][:2] == ("isolate-device", "dry-run")
    assert "'machine_id': '4f1c0a9e7b2d4c6f8e1a3b5d7c9e0f2a4b6c8d0e'" in steps[0][2]
    assert "'isolation_type': 'Full'" in steps[0][2] and steps[0][2].endswith("(after approval)")
    assert steps[1][2].startswith("would notify.teams {'title': 'Malware on wbdc-lt-0421'")


def test_malware_without_a_device_id_skips_isolation_and_still_notifies(state, shipped):
    alert = save_alert(state, rule_id=MALWARE, **{"host.name": "wbdc-lt-0421"})
    steps = dry_run(state, shipped, alert)["malware-device"]
    assert [(name, s) for name, s, _ in steps] == [
        ("isolate-device", "skipped"), ("notify-team", "dry-run"), ("notify-soc", "dry-run")
    ]  # fmt: skip


def test_password_spray_would_block_the_source_address(state, shipped):
    alert = save_alert(state, rule_id=SPRAY, **{"source.ip": "185.220.101.34"})
    steps = dry_run(state, shipped, alert)["password-spray"]
    assert steps[0] == (
        "block-address", "dry-run", "would graph.block_ip_named_location {'address': '185.220.101.34'}"
        " (after approval)",
    )  # fmt: skip


def test_a_medium_alert_of_another_rule_starts_nothing_and_a_critical_one_only_notifies(state, shipped):
    assert dry_run(state, shipped, save_alert(state, rule_id="other", severity="medium")) == {}
    alert = save_alert(state, rule_id="other", severity="critical", **{"user.name": "<b>x</b>"})
    done = dry_run(state, shipped, alert)
    assert list(done) == ["notify-high"]
    assert "[critical] Test rule" in done["notify-high"][0][2] and "user.name=<b>x</b>" in done["notify-high"][0][2]


def test_no_shipped_playbook_starts_without_an_action_configured(shipped):
    """`detect` skips loading the response rooms when nothing is configured (Config.may_respond):
    right only while every shipped playbook acts for real, through an action that needs a table."""
    assert not any(playbook.dry_run for playbook in shipped.values())
