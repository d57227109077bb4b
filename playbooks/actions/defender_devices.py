"""Cutting a device off the network, and letting it back, through the Defender for Endpoint API
(``POST /api/machines/{id}/isolate`` and ``/unisolate``), with httpx: it has no Python SDK.

Defender answers a second request for an action already under way with 400
``ActiveRequestAlreadyExists`` ("Action is already in progress"), and isolating a device that
is already isolated (or releasing one that is not) with a 400 whose message says so. Both mean
the device is, or is about to be, in the state asked for, so both are successes with no new
machine action: a retried or resumed step does not stack requests on a device.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from microsoft.rest_writer import Reply, RestWriter, Unreachable
from playbooks.actions.argument_types import Line, MachineId
from playbooks.actions.base import ActionResult
from playbooks.actions.results import refused, unreachable

PERMISSION = "the Defender for Endpoint (WindowsDefenderATP) application permission Machine.Isolate"
ALREADY_UNDER_WAY = "ActiveRequestAlreadyExists"


class IsolateArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    machine_id: MachineId
    comment: Line
    isolation_type: Literal["Full", "Selective"] = "Full"


class ReleaseArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    machine_id: MachineId
    comment: Line


class IsolateDevice:
    """defender.isolate_device: only Defender's own connections stay open (``Selective`` also
    keeps Outlook, Teams and Skype for Business)."""

    name: ClassVar[str] = "defender.isolate_device"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = PERMISSION
    arguments: ClassVar[type[BaseModel]] = IsolateArguments

    def __init__(self, defender: RestWriter):
        self.defender = defender

    def describe(self, arguments: BaseModel) -> str:
        found = _isolate(arguments)
        return (
            f"isolate device {found.machine_id} from the network ({found.isolation_type} isolation; "
            f"Defender POST /api/machines/{found.machine_id}/isolate)"
        )

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        found = _isolate(arguments)
        body = {"Comment": found.comment, "IsolationType": found.isolation_type}
        return await _machine_action(
            self.defender, found.machine_id, "isolate", body, "isolating", "already isolated", self.permission
        )


class ReleaseDevice:
    """defender.release_device: undo an isolation. Destructive too: it reconnects a device that
    was cut off for a reason, so a person approves it."""

    name: ClassVar[str] = "defender.release_device"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = PERMISSION
    arguments: ClassVar[type[BaseModel]] = ReleaseArguments

    def __init__(self, defender: RestWriter):
        self.defender = defender

    def describe(self, arguments: BaseModel) -> str:
        found = _release(arguments)
        return (
            f"release device {found.machine_id} from isolation "
            f"(Defender POST /api/machines/{found.machine_id}/unisolate)"
        )

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        found = _release(arguments)
        return await _machine_action(
            self.defender,
            found.machine_id,
            "unisolate",
            {"Comment": found.comment},
            "releasing",
            "not isolated",
            self.permission,
        )


async def _machine_action(
    defender: RestWriter, machine: str, verb: str, body: dict[str, str], doing: str, settled: str, permission: str
) -> ActionResult:
    """POST one machine action; ``settled`` is the phrase of Defender's 400 meaning "already so"."""
    what = f"{doing} device {machine}"
    try:
        reply = await defender.send("POST", f"api/machines/{machine}/{verb}", body=body)
    except Unreachable as why:
        return unreachable(what, str(why))
    if reply.ok:
        action = reply.document if isinstance(reply.document, dict) else {}
        detail = {"machine_id": machine, "machine_action": action.get("id"), "status": action.get("status")}
        return ActionResult(
            "succeeded",
            f"{what}: Defender accepted it (machine action {action.get('id')}, {action.get('status') or 'Pending'})",
            {**detail, "changed": True},
        )
    if _already(reply, settled):
        return ActionResult(
            "succeeded",
            f"{what}: nothing to do, Defender says {reply.said!r}",
            {"machine_id": machine, "code": reply.code, "changed": False},
        )
    return refused(what, reply.status, reply.code, reply.said, permission, reply.retry_after, {"machine_id": machine})


def _already(reply: Reply, settled: str) -> bool:
    if reply.status != 400:
        return False
    return reply.code == ALREADY_UNDER_WAY or settled in reply.said.lower()


def _isolate(arguments: BaseModel) -> IsolateArguments:
    assert isinstance(arguments, IsolateArguments), f"expected IsolateArguments, got {type(arguments).__name__}"
    return arguments


def _release(arguments: BaseModel) -> ReleaseArguments:
    assert isinstance(arguments, ReleaseArguments), f"expected ReleaseArguments, got {type(arguments).__name__}"
    return arguments
