"""The live-collection commands: ``collect``, ``serve`` and ``status``.

``collect`` runs each enabled collector once (cron or a systemd timer); ``serve`` runs each on
its own interval, in a thread per collector, until SIGTERM or SIGINT, when every thread finishes
the batch it is on (so its checkpoint is committed) and the process exits 0. ``status`` reads the
run records the collectors leave in the state database, so it works while ``serve`` runs.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import typer

from console import render
from console.config import ConfigError
from store.checkpoints import Checkpoints

log = logging.getLogger("cyberwell.collect")


def register(app: typer.Typer) -> None:
    """Add the live-collection commands to the ``cyberwell`` app."""
    app.command("collect")(collect_command)
    app.command("serve")(serve_command)
    app.command("status")(status_command)


def _configured(ctx: typer.Context, with_receiver: bool = False, only: Optional[list[str]] = None):
    from console.cli import fail
    from console.collector_settings import build_collectors, read_tables

    config_file = ctx.find_root().params.get("config_file")
    try:
        tables = read_tables(ctx.obj.home, config_file)
        if only:
            missing = [name for name in only if name not in tables]
            if missing:
                fail(f"--source {missing[0]}: no [collectors.{missing[0]}] table in the config")
            tables = {name: table for name, table in tables.items() if name in only}
        configured = build_collectors(tables, with_receiver=with_receiver)
    except ConfigError as error:
        fail(str(error))
    if not configured.collectors:
        fail("no collectors are configured: add a [collectors.<name>] table to cyberwell.toml "
             "(see docs/collectors.md)")
    return configured


def collect_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass (the default; `serve` keeps running).")] = True,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="Only this source (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run every enabled collector once: fetch from its checkpoint, store, commit."""
    from console.cli import open_store

    configured = _configured(ctx, only=source)
    store = open_store(ctx.obj)
    checkpoints = Checkpoints(store.state)
    runs = [collector.collect_once(store, checkpoints) for collector in configured.collectors]
    if as_json:
        render.emit_json([run.to_dict() for run in runs])
    else:
        render.console.print(render.table(
            "Collected", ["source", "stored", "duplicates", "quarantined", "newest event", "error"],
            [(r.source, r.stored, r.duplicates, r.quarantined, r.newest_event, r.error) for r in runs],
        ))
    if any(run.error for run in runs):
        raise typer.Exit(1)


def serve_command(
    ctx: typer.Context,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the configured collectors on their intervals until SIGTERM or SIGINT."""
    from console.cli import fail, open_store

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configured = _configured(ctx, with_receiver=True)
    store = open_store(ctx.obj)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if configured.receiver is not None:
        try:
            configured.receiver.start()
        except OSError as error:  # a port taken or not ours to bind
            fail(f"collectors.syslog: the receiver cannot listen: {error}")
        log.info("syslog receiver started")
    threads = [threading.Thread(target=_keep_collecting, args=(collector, store, stop), name=collector.name)
               for collector in configured.collectors]
    for thread in threads:
        thread.start()
    log.info("serving %s", ", ".join(c.name for c in configured.collectors))
    while not stop.wait(0.5):  # a short wait: the main thread must be free to take the signal
        pass
    log.info("stopping: finishing the current batches")
    for thread in threads:
        thread.join()
    if configured.receiver is not None:
        configured.receiver.stop()
    log.info("stopped")


def _keep_collecting(collector, store, stop: threading.Event) -> None:
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
            log.info("%s: stored %d, duplicates %d, quarantined %d, newest event %s",
                     run.source, run.stored, run.duplicates, run.quarantined, run.newest_event)
        stop.wait(collector.interval.total_seconds())


def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per source: last success, lag, events per minute over the last hour, last error."""
    from console.cli import open_store

    store = open_store(ctx.obj)
    checkpoints = Checkpoints(store.state)
    now = datetime.now(timezone.utc)
    rows = [source_status(checkpoints, source, now) for source in checkpoints.sources()]
    if as_json:
        render.emit_json(rows)
        return
    if not rows:
        render.console.print("No collector has run yet: see `cyberwell collect`.")
        return
    render.console.print(render.table(
        "Collectors", ["source", "last success", "lag", "events/min (1 h)", "runs (1 h)", "last error"],
        [(r["source"], r["last_success"], _human(r["lag_seconds"]), r["events_per_minute"], r["runs_last_hour"],
          (f"{r['last_error_at']}: {r['last_error']}" if r["last_error"] else "")) for r in rows],
    ))


def source_status(checkpoints: Checkpoints, source: str, now: datetime) -> dict:
    """What ``status`` says of one source, from its run records."""
    runs = checkpoints.runs(source)
    hour = [run for run in runs if _time(run.finished_at) >= now - timedelta(hours=1)]
    succeeded = [run for run in runs if run.ok]
    failed = [run for run in runs if not run.ok]
    newest = max((_time(run.newest_event) for run in runs if run.newest_event), default=None)
    return {
        "source": source,
        "last_success": succeeded[-1].finished_at if succeeded else None,
        "newest_event": newest.isoformat() if newest else None,
        "lag_seconds": round((now - newest).total_seconds(), 1) if newest else None,
        "events_per_minute": round(sum(run.stored for run in hour) / 60, 2),
        "runs_last_hour": len(hour),
        "failing": bool(runs) and not runs[-1].ok,
        "last_error": failed[-1].error if failed else None,
        "last_error_at": failed[-1].finished_at if failed else None,
        "checkpoint": checkpoints.get(source),
    }


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _human(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
