"""The live-collection commands: ``collect``, ``serve`` and ``status``.

``collect`` runs each enabled collector once (cron or a systemd timer); ``serve`` runs each on
its own interval, in a thread per collector, the detection rules on their schedules in one
more thread (console/live/detecting.py), and the playbook runner and the SOC webhook's
deliverer in two more (console/live/responding.py), until SIGTERM or SIGINT, when every thread
finishes the batch, detection run, step or delivery it is on (so its checkpoint, watermark or
outcome is committed) and the process exits 0. ``status`` (how the
collectors are doing) lives in console/live/status.py; it is registered here with the others.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from console import render
from console.choices import LogLevel
from console.config import Config, ConfigError
from console.live.status import status_command, syslog_spools
from store.state.checkpoints import Checkpoints

if TYPE_CHECKING:  # the builders' module reaches the Microsoft SDKs: imported when a command needs it
    from console.live.settings import Configured, LiveCollector
    from console.response.loading import Response

log = logging.getLogger("cyberwell.collect")


def register(app: typer.Typer) -> None:
    """Add the live-collection commands to the ``cyberwell`` app."""
    app.command("collect")(collect_command)
    app.command("serve")(serve_command)
    app.command("status")(status_command)


def _configured(
    ctx: typer.Context, with_receiver: bool = False, only: list[str] | None = None, required: bool = True
) -> Configured:
    """The collectors of the config's ``[collectors.*]`` tables (all, or those named by ``only``);
    none is refused when ``required`` (``serve`` that detects may run without collectors)."""
    from console.live.settings import build
    from console.session import fail

    cfg: Config = ctx.obj
    try:
        tables = cfg.collectors.checked()
        if only:
            names = {table.name for table in tables}
            missing = [name for name in only if name not in names]
            if missing:
                fail(f"--source {missing[0]}: no [collectors.{missing[0]}] table in the config")
            tables = tuple(table for table in tables if table.name in only)
        configured = build(tables, with_receiver=with_receiver)
    except ConfigError as error:
        fail(str(error))
    if required and not configured.collectors:
        fail("no collectors are configured: add a [collectors.<name>] table to cyberwell.toml (see docs/collectors.md)")
    return configured


def collect_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass (the default; `serve` keeps running).")] = True,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run every enabled collector once: fetch from its checkpoint, store, commit."""
    from console.session import open_store

    configured = _configured(ctx, only=source)
    store = open_store(ctx.obj)
    checkpoints = Checkpoints(store.state)
    runs = [collector.collect_once(store, checkpoints) for collector in configured.collectors]
    if as_json:
        render.emit_json([run.to_dict() for run in runs])
    else:
        render.show(
            render.fitted_table(
                "Collected",
                ["source", "stored", "duplicates", "quarantined", "newest event", "error"],
                [(r.source, r.stored, r.duplicates, r.quarantined, r.newest_event, r.error) for r in runs],
                own_line=("newest event", "error"),
            )
        )
    if any(run.error for run in runs):
        raise typer.Exit(1)


def serve_command(
    ctx: typer.Context,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="How much to log (any case).", case_sensitive=False)
    ] = "INFO",
    detect: Annotated[
        bool, typer.Option("--detect/--no-detect", help="Run the detection rules on their schedules too.")
    ] = True,
) -> None:
    """Run the configured collectors on their intervals, and the rules on their schedules, until
    SIGTERM or SIGINT."""
    from console.live.detecting import detection_scheduler, start_detecting
    from console.live.responding import deliverer_for, start_delivering, start_running_playbooks
    from console.response.loading import load_response, on_saved
    from console.session import fail, make_private, open_store, scheduled_rules

    handler = logging.StreamHandler()
    handler.setFormatter(VisibleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
    # Collectors are optional: serve may only detect, or only deliver and run playbooks.
    configured = _configured(ctx, with_receiver=True, required=False)
    make_private(*syslog_spools(ctx.obj).values())  # a spool an older Cyberwell left open to others
    store = open_store(ctx.obj)
    rules = scheduled_rules(ctx.obj, store) if detect else None
    try:
        response = load_response(ctx.obj, store.state, rules.rule_ids if rules else None)
        deliverer = deliverer_for(ctx.obj, store.state)
    except ConfigError as error:
        fail(str(error))
    _log_response(response)
    hook = on_saved(ctx.obj, response)
    scheduler = detection_scheduler(ctx.obj, store, rules, hook) if rules is not None else None
    if scheduler is None and not configured.collectors and deliverer is None:
        fail("nothing to serve: no collectors are configured, no detection rule can run and there is no [webhook]")
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if configured.receiver is not None:
        try:
            configured.receiver.start()
        except OSError as error:  # a port taken or not ours to bind
            fail(f"collectors.syslog: the receiver cannot listen: {error}")
        listening = ", ".join(f"{name} {host}:{port}" for name, (host, port) in configured.receiver.addresses.items())
        log.info("syslog receiver listening on %s", listening)
    threads = [
        threading.Thread(target=_keep_collecting, args=(collector, store, stop), name=collector.name)
        for collector in configured.collectors
    ]
    for thread in threads:
        thread.start()
    if configured.collectors:
        log.info("serving %s", ", ".join(c.name for c in configured.collectors))
    if scheduler is not None:
        threads.append(start_detecting(scheduler, stop))
    threads.append(start_running_playbooks(response, store.state, stop))
    if deliverer is not None:
        threads.append(start_delivering(deliverer, stop))
    while not stop.wait(0.5):  # a short wait: the main thread must be free to take the signal
        pass
    log.info("stopping: finishing the current batches, detection run, playbook steps and deliveries")
    for thread in threads:
        thread.join()
    lost = configured.receiver.stop() if configured.receiver is not None else 0
    if lost:
        fail(f"stopped with {lost} received syslog messages not spooled (see the log above)", code=1)
    log.info("stopped")


def _log_response(response: Response) -> None:
    """Say at start-up which playbooks will not load or not start by themselves, and why."""
    for problem in response.problems:
        log.warning("playbook not loaded: %s", problem)
    for playbook in response.playbooks.values():
        unmet = response.unmet(playbook)
        if playbook.enabled and not response.armed(playbook):
            needs = "; ".join(f"{name}: {why}" for name, why in unmet.items())
            log.warning("playbook %s will not start by itself until its actions are configured: %s", playbook.id, needs)
    armed = sorted(response.automatic)
    log.info("playbooks started by alerts: %s", ", ".join(armed) or "none")


class VisibleFormatter(logging.Formatter):
    """Log lines whose values (a run's error, a sender's text) cannot drive the terminal or
    journal they are read in, nor forge a line of their own: each message is one line with its
    control characters made visible; a traceback keeps its line breaks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return render.visible(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        return render.visible(super().format(record), one_line=False)


def _keep_collecting(collector: LiveCollector, store, stop: threading.Event) -> None:
    """Collect, then wait the interval (or until asked to stop); a run never raises."""
    checkpoints = Checkpoints(store.state)
    while not stop.is_set():
        try:
            run = collector.collect_once(store, checkpoints)
        except Exception:  # noqa: BLE001 — the contract says never; if it does, keep serving
            log.exception("%s: the collector raised instead of reporting", collector.name)
            stop.wait(collector.interval.total_seconds())
            continue
        if run.error:
            log.warning("%s: run failed: %s", run.source, run.error)
        else:
            log.info(
                "%s: stored %d, duplicates %d, quarantined %d, newest event %s",
                run.source,
                run.stored,
                run.duplicates,
                run.quarantined,
                run.newest_event,
            )
        stop.wait(collector.interval.total_seconds())
