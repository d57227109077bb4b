"""``notify.soc``: a playbook step that tells the SOC partner something, through the outbox.

The step does not post itself: it writes a ``playbook`` message to the webhook's outbox, and the
deliverer sends it with the same signing, retries and parking as alerts. Writing is idempotent
by the step's idempotency key, so a step retried after a crash queues one message, not two.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from playbooks.actions.base import ActionResult
from playbooks.webhook.payload import body, notice_payload
from store.state.database import StateDB
from store.state.outbox import NewMessage, enqueue


class NotifySocArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=2000)
    #: The alert the notice is about, when there is one (its messages keep their order).
    alert_id: str | None = None


class NotifySoc:
    """Queue a notice for the SOC partner's webhook."""

    name: ClassVar[str] = "notify.soc"
    destructive: ClassVar[bool] = False
    permission: ClassVar[str] = "none in Microsoft 365; the SOC webhook's shared secret ([webhook] in cyberwell.toml)"
    arguments: ClassVar[type[BaseModel]] = NotifySocArguments

    def __init__(self, state: StateDB):
        self.state = state

    def describe(self, arguments: BaseModel) -> str:
        args = NotifySocArguments.model_validate(arguments.model_dump())
        about = f" about alert {args.alert_id}" if args.alert_id else ""
        return f"tell the SOC partner{about}: {args.summary}"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        args = NotifySocArguments.model_validate(arguments.model_dump())
        payload = body(notice_payload(args.summary, args.alert_id, idempotency_key))
        queue = args.alert_id or f"playbook:{idempotency_key}"
        try:
            with self.state.transaction() as con:
                enqueue(con, [NewMessage(queue, 0, "playbook", idempotency_key, payload)])
        except Exception as error:  # noqa: BLE001 — a failure is a result (the Action protocol)
            return ActionResult("failed", f"could not queue the notice: {type(error).__name__}", retryable=True)
        return ActionResult("succeeded", "queued for the SOC webhook", detail={"idempotency_key": idempotency_key})
