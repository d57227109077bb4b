"""What a playbook step calls, written down once so the runner and every action agree.

An action is a small class with one job (disable a user, isolate a device, post to a webhook).
It declares its arguments as a pydantic model, so a playbook that passes the wrong ones is
refused when it is loaded, naming the step and the key, not when an incident is under way. It
says whether it is destructive (the playbook must put such a step behind an approval) and which
permission it needs, so `docs/actions.md` and `cyberwell playbook list` can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

Outcome = Literal["succeeded", "failed", "dry-run"]


@dataclass(frozen=True)
class ActionResult:
    """What an action did, for the run's record and the audit trail.

    ``summary`` is one line for a person and never holds a secret. ``retryable`` says whether
    trying again may help (a timeout, a 429, a 5xx), as opposed to a refusal that will repeat
    (a 403 for a missing permission, a 404 for a user that does not exist).
    """

    outcome: Outcome
    summary: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    retryable: bool = False


class Action(Protocol):
    """One kind of step. Instances are built once, with their clients, by the console."""

    #: The name playbooks use, e.g. ``graph.revoke_sessions``.
    name: ClassVar[str]
    #: Destructive actions change what people can do (disable, isolate, block); a step that
    #: calls one must require approval.
    destructive: ClassVar[bool]
    #: The permission or role the action needs, as the administrator grants it.
    permission: ClassVar[str]
    #: The arguments the action takes; a playbook's rendered arguments are validated against it.
    arguments: ClassVar[type[BaseModel]]

    def describe(self, arguments: BaseModel) -> str:
        """What the action would do with these arguments, as a verb phrase ("disable the account of
        x@y"), for dry-runs ("would ...") and approvals."""
        ...

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        """Do it. ``idempotency_key`` is stable for a run's step across retries and restarts,
        for the APIs that take one. Raises nothing a caller must know about: failures are
        results, with ``retryable`` set where trying again may help."""
        ...
