"""The response threads of ``serve``: the playbook runner and the SOC webhook's deliverer.

Both read their work from the state database, so work queued by this process's detection thread,
by ``cyberwell detect`` or by a person's ``playbook approve`` in another process is picked up
alike. On a stop each finishes what it has in hand (a step in progress, messages in flight) and
takes nothing new; what a kill interrupts is taken over at the next start (the runs' and the
outbox's leases), so nothing is lost and no step that succeeded runs twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from console.config import Config, ConfigError
from console.response.loading import Response
from playbooks import PlaybookRunner, RunRecord
from playbooks.webhook.deliverer import Deliverer
from playbooks.webhook.settings import WebhookConfigError
from store.state.database import StateDB

log = logging.getLogger("cyberwell.respond")

#: How often the runner looks for runs queued or approved elsewhere.
POLL_SECONDS = 1.0


def deliverer_for(cfg: Config, state: StateDB) -> Deliverer | None:
    """The deliverer of the ``[webhook]`` table with its secret read now (a missing secret stops
    ``serve`` before any thread starts); None without the table."""
    settings = cfg.response.webhook
    if settings is None:
        return None
    try:
        secret = settings.load_secret(cfg.home)
    except WebhookConfigError as error:
        raise ConfigError(str(error)) from None
    return Deliverer(state, settings, secret)


def start_delivering(deliverer: Deliverer, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=_keep_delivering, args=(deliverer, stop), name="webhook")
    thread.start()
    log.info("delivering alerts to the SOC webhook at %s", deliverer.settings.target)
    return thread


def _keep_delivering(deliverer: Deliverer, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            tally = deliverer.run_forever(stop.is_set)
            log.info("webhook: %d delivered, %d to retry, %d parked", tally.delivered, tally.retried, tally.parked)
        except Exception:  # noqa: BLE001 — the state database busy or gone: say so, try again
            log.exception("webhook delivery failed; trying again")
            stop.wait(5.0)


def start_running_playbooks(
    response: Response, state: StateDB, stop: threading.Event, actor: str = "cyberwell serve"
) -> threading.Thread:
    runner = PlaybookRunner(state, response.playbooks, response.actions, actor)
    thread = threading.Thread(target=_keep_running, args=(runner, stop), name="playbooks")
    thread.start()
    return thread


def _keep_running(runner: PlaybookRunner, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            for run in asyncio.run(_run_due(runner, stop)):
                _log_run(run)
        except Exception:  # noqa: BLE001 — keep serving; the run's lease lets it be taken over
            log.exception("running playbooks failed; trying again")
        stop.wait(POLL_SECONDS)


async def _run_due(runner: PlaybookRunner, stop: threading.Event) -> list[RunRecord]:
    """``run_due`` until nothing is due or ``serve`` is asked to stop (between steps)."""
    halt = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.2)
        halt.set()

    watcher = asyncio.create_task(watch())
    try:
        return await runner.run_due(halt)
    finally:
        watcher.cancel()


def _log_run(run: RunRecord) -> None:
    dry = " (dry run)" if run.dry_run else ""
    waiting = run.awaiting()
    if waiting is not None:
        log.warning(
            "playbook %s for alert %s%s: step %s awaits approval (cyberwell playbook approve %d): %s",
            run.playbook,
            run.alert_id,
            dry,
            waiting.name,
            run.id,
            waiting.result,
        )
        return
    level = logging.INFO if run.state == "succeeded" else logging.WARNING
    log.log(level, "playbook %s for alert %s%s: %s%s", run.playbook, run.alert_id, dry, run.state, _why(run))


def _why(run: RunRecord) -> str:
    return f": {run.error}" if run.error else ""
