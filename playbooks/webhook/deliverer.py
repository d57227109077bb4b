"""The delivery loop: claim due messages in bulk, post each signed, settle the answers in bulk.

Concurrent enough for a good rate (an ``httpx.AsyncClient`` with keep-alive and a bounded number
of messages in flight), yet in order per alert: the outbox lets only the oldest pending message
of an alert be claimed, so an update is claimed after its alert's earlier message is settled.

What an answer means:

* 2xx: delivered.
* 429 or 503: the receiver asks for time; its ``Retry-After`` (seconds or an HTTP date) is
  honoured, up to ``retry_after_max``.
* 400, 401, 403, 404, 410, 422: a refusal that will not change by itself (a wrong URL, a wrong
  secret, a body it will not take): parked at once with the reason, for a person to look at
  and ``cyberwell webhook replay``.
* anything else (a 5xx, a timeout, a refused connection): tried again after an exponential
  back-off with full jitter (a random wait up to ``backoff_base * 2^(attempt-1)``, at most
  ``backoff_max``), so many messages failing together do not return together.

After ``max_attempts`` a failing message is parked with its last error. Errors name the
receiver by host and port only: a URL's path or query could hold a token.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from playbooks.webhook.settings import Secret, WebhookSettings
from playbooks.webhook.signing import signed_headers
from store.state.database import StateDB
from store.state.outbox import Claimed, Delivered, Park, Retry, Settlement, claim_due, settle

log = logging.getLogger("cyberwell.webhook")

#: Answers that mean the receiver will refuse this message however often it is sent.
PERMANENT = frozenset({400, 401, 403, 404, 410, 422})
#: Answers that may carry a Retry-After to honour.
ASKS_FOR_TIME = frozenset({429, 503})
ACTOR = "cyberwell deliverer"
#: The longest a busy loop waits before looking for due messages again.
POLL_SECONDS = 0.5
#: Settle at least this often, so a message delivered is marked soon even at a trickle.
SETTLE_SECONDS = 0.1


@dataclass
class DeliveryTally:
    """What a call did: messages delivered, scheduled again and parked."""

    delivered: int = 0
    retried: int = 0
    parked: int = 0

    def add(self, settlements: list[Settlement]) -> None:
        for s in settlements:
            if isinstance(s, Delivered):
                self.delivered += 1
            elif isinstance(s, Park):
                self.parked += 1
            else:
                self.retried += 1


def retry_after(value: str | None, now: datetime, longest: float) -> float | None:
    """Seconds a ``Retry-After`` asks for (a number of seconds or an HTTP date), at most
    ``longest``; None when absent or unreadable (then the back-off decides)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), longest)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), longest)


def backoff(attempts: int, base: float, longest: float, draw: Callable[[], float] = random.random) -> float:
    """Full jitter: a uniform wait between 0 and the exponential ceiling of this attempt."""
    ceiling = min(longest, base * 2 ** min(max(attempts - 1, 0), 60))
    return draw() * ceiling


class Deliverer:
    """Sends the outbox to the SOC partner (``serve`` runs ``run_forever`` in a thread)."""

    def __init__(
        self,
        state: StateDB,
        settings: WebhookSettings,
        secret: Secret,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        """``transport``: only for a test that must stand in for the network (none here does)."""
        self.state, self.settings, self._secret = state, settings, secret
        self._transport = transport

    def __repr__(self) -> str:
        return f"Deliverer(to {self.settings.target})"

    def deliver_due(self, stop: Callable[[], bool] = lambda: False) -> DeliveryTally:
        """Deliver what is due until nothing is (or ``stop()``); what fails is scheduled again."""
        return asyncio.run(self._loop(stop, until_idle=True))

    def run_forever(self, stop: Callable[[], bool]) -> DeliveryTally:
        """Deliver as messages become due, until ``stop()``; messages in flight are finished."""
        return asyncio.run(self._loop(stop, until_idle=False))

    async def _loop(self, stop: Callable[[], bool], until_idle: bool) -> DeliveryTally:
        tally = DeliveryTally()
        limit = self.settings.concurrency
        limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        async with httpx.AsyncClient(
            timeout=self.settings.timeout, verify=self.settings.verify_tls, limits=limits, transport=self._transport
        ) as client:
            in_flight: set[asyncio.Task[Settlement]] = set()
            answered: list[Settlement] = []
            last_settle = last_claim = 0.0
            exhausted = False  # the last claim found fewer than asked: wait for a settle or the poll
            while True:
                room = limit - len(in_flight)
                if (
                    not stop()
                    and room >= max(1, limit // 2)
                    and (not exhausted or time.monotonic() - last_claim > POLL_SECONDS)
                ):
                    ask = min(room, self.settings.batch_size)
                    claimed = await asyncio.to_thread(self._claim, ask)
                    last_claim, exhausted = time.monotonic(), len(claimed) < ask
                    in_flight.update(asyncio.create_task(self._attempt(client, m)) for m in claimed)
                if not in_flight:
                    if answered:  # settling may make an alert's next message claimable
                        await self._settle(answered, tally)
                        last_settle, exhausted = time.monotonic(), False
                        continue
                    if stop() or until_idle and exhausted:
                        return tally
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                done, in_flight = await asyncio.wait(
                    in_flight, timeout=SETTLE_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                answered.extend(task.result() for task in done)
                if answered and (
                    len(answered) >= self.settings.batch_size or time.monotonic() - last_settle > SETTLE_SECONDS
                ):
                    await self._settle(answered, tally)
                    last_settle, exhausted = time.monotonic(), False

    def _claim(self, limit: int) -> list[Claimed]:
        return claim_due(self.state, limit, timedelta(seconds=self.settings.lease))

    async def _settle(self, answered: list[Settlement], tally: DeliveryTally) -> None:
        if not answered:
            return
        batch = answered[:]
        answered.clear()
        await asyncio.to_thread(settle, self.state, batch, ACTOR, self.settings.target)
        tally.add(batch)
        for s in batch:
            if isinstance(s, Park):
                log.warning("webhook message %d parked: %s", s.id, s.reason)

    async def _attempt(self, client: httpx.AsyncClient, message: Claimed) -> Settlement:
        body = message.payload.encode("utf-8")
        headers = signed_headers(self._secret.reveal(), body, message.idempotency_key, message.event)
        try:
            response = await asyncio.wait_for(
                client.post(self.settings.url, content=body, headers=headers), self.settings.timeout
            )
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(message, f"no answer from {self.settings.target} within {self.settings.timeout:g} s")
        except httpx.HTTPError as error:
            return self._failed(message, self._describe(error))
        status = response.status_code
        if 200 <= status < 300:
            return Delivered(message.id, message.attempts, status)
        refusal = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status in PERMANENT:
            return Park(message.id, message.attempts, f"{refusal} from {self.settings.target}: refused, not retried")
        wait = None
        if status in ASKS_FOR_TIME:
            wait = retry_after(response.headers.get("Retry-After"), datetime.now(UTC), self.settings.retry_after_max)
        return self._failed(message, f"{refusal} from {self.settings.target}", wait)

    def _failed(self, message: Claimed, error: str, wait: float | None = None) -> Settlement:
        if message.attempts >= self.settings.max_attempts:
            return Park(message.id, message.attempts, f"{error} (after {message.attempts} attempts)")
        if wait is None:
            wait = backoff(message.attempts, self.settings.backoff_base, self.settings.backoff_max)
        return Retry(message.id, message.attempts, datetime.now(UTC) + timedelta(seconds=wait), error)

    def _describe(self, error: httpx.HTTPError) -> str:
        """What went wrong, naming the receiver by host and port (never the URL's path or query)."""
        if isinstance(error, httpx.ConnectError):
            return f"could not connect to {self.settings.target}"
        if isinstance(error, httpx.RemoteProtocolError):
            return f"{self.settings.target} closed the connection without an answer"
        return f"{type(error).__name__} talking to {self.settings.target}"
