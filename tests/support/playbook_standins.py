"""Actions for the playbook tests: they implement the Action protocol and record what they were
asked, in memory and (for the crash test, across processes) in a file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from playbooks.actions.base import ActionResult
from store.state.alert_record import Alert
from store.state.alerts import AlertBook
from store.state.database import StateDB


class UserArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str


@dataclass
class Recorder:
    """A scripted action: returns ``script`` results in turn (then succeeds), or sleeps ``hang``."""

    name: ClassVar[str] = "test.act"
    destructive: ClassVar[bool] = False
    permission: ClassVar[str] = "none"
    arguments: ClassVar[type[BaseModel]] = UserArguments

    script: list[ActionResult] = field(default_factory=list)
    hang: float = 0.0
    calls: list[tuple[dict, str]] = field(default_factory=list)
    log: Path | None = None

    def describe(self, arguments: BaseModel) -> str:
        return f"act on {arguments.model_dump()['user']}"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        self.calls.append((arguments.model_dump(), idempotency_key))
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(json.dumps({"action": self.name, "key": idempotency_key, **arguments.model_dump()}) + "\n")
                out.flush()
        if self.hang:
            await asyncio.sleep(self.hang)
        if self.script:
            return self.script.pop(0)
        return ActionResult("succeeded", f"acted on {arguments.model_dump()['user']}")


@dataclass
class Destroyer(Recorder):
    name: ClassVar[str] = "test.destroy"
    destructive: ClassVar[bool] = True


def registry(*actions: Recorder) -> dict:
    return {action.name: action for action in actions}


def save_alert(
    state: StateDB, rule_id: str = "rule-1", severity: str = "high", tags: Sequence[str] = (), **group: str
) -> Alert:
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    alert = Alert.build(
        rule_id,
        "Test rule",
        severity,
        tags,
        group or {"user.name": "a.user@council.gov.uk"},
        start,
        start,
        start,
        ["e1"],
    )
    AlertBook(state).save_run([alert])
    stored = AlertBook(state).get(alert.id)
    assert stored is not None
    return stored
