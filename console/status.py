"""``cyberwell status``: how the collectors are doing.

It reads the run records the collectors leave in the state database, so it works while ``serve``
runs; for a syslog source it also reads the counters the receiver inside ``serve`` publishes
beside its spool, so that UDP datagrams lost in a flood are seen, not only counted. The command
is registered with ``collect`` and ``serve`` by console/collect_commands.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from console import render
from console.config import ConfigError
from store.checkpoints import Checkpoints

#: The receiver publishes its counters about once a second; older than this, it has died or hangs.
RECEIVER_FRESH_SECONDS = 10
_LOST = "bold red"  # counters of messages lost: an operator must not miss them
_SET_ASIDE = "yellow"  # counters of messages kept only in part (quarantined by the drain)


def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per source: last success, lag, events per minute over the last hour, last error; for
    syslog also the receiver's counters, UDP losses among them."""
    from console.session import open_store

    store = open_store(ctx.obj)
    checkpoints = Checkpoints(store.state)
    now = datetime.now(UTC)
    spools = _syslog_spools(ctx)
    rows = [source_status(checkpoints, source, now) for source in sorted(set(checkpoints.sources()) | set(spools))]
    for row in rows:
        if row["source"] in spools:
            row["receiver"] = receiver_status(spools[row["source"]], now)
    if as_json:
        render.emit_json(rows)
        return
    if not rows:
        render.console.print("No collector has run yet: see `cyberwell collect`.")
        return
    render.console.print(
        render.table(
            "Collectors",
            ["source", "last success", "lag", "events/min (1 h)", "runs (1 h)", "last error"],
            [
                (
                    r["source"],
                    r["last_success"],
                    _human(r["lag_seconds"]),
                    r["events_per_minute"],
                    r["runs_last_hour"],
                    (f"{r['last_error_at']}: {r['last_error']}" if r["last_error"] else ""),
                )
                for r in rows
            ],
        )
    )
    for row in rows:
        if "receiver" in row:
            _print_receiver(row["source"], row["receiver"])


def _syslog_spools(ctx: typer.Context) -> dict[str, Path]:
    """The spool of each enabled syslog source in the config: where its receiver publishes.

    ``status`` must work with a config that ``serve`` would refuse, so a broken one only costs
    the receiver's counters, with a warning on stderr (stdout stays JSON under ``--json``).
    """
    from console.collector_settings import read_tables

    try:
        tables = read_tables(ctx.obj.home, ctx.find_root().params.get("config_file"))
    except ConfigError as error:
        typer.echo(f"warning: syslog receiver counters not shown: {error}", err=True)
        return {}
    return {
        name: Path(table["spool_dir"])
        for name, table in tables.items()
        if table.get("type", name) == "syslog"
        and table.get("enabled", True) is True
        and isinstance(table.get("spool_dir"), str)
        and table["spool_dir"]
    }


def receiver_status(spool_dir: Path, now: datetime) -> dict:
    """The syslog receiver's counters as ``serve`` last published them, and whether it runs.

    ``running`` here means "published within ``RECEIVER_FRESH_SECONDS``" (the file's own flag
    only says it has not stopped cleanly); ``state`` names the four cases. ``udp_lost`` is
    ``dropped_udp`` (the receiver's queue was full) plus ``kernel_drops`` (the socket buffer was).
    """
    from collectors.live.syslog_receiver import read_stats

    stats = read_stats(spool_dir)
    if not isinstance(stats, dict):
        return {
            "state": "never started",
            "running": False,
            "spool_dir": str(spool_dir),
            "updated_at": None,
            "age_seconds": None,
            "udp_lost": 0,
        }
    try:
        age = round((now - _time(stats["updated_at"])).total_seconds(), 1)
    except (KeyError, TypeError, ValueError):  # a file from another version: shown, never fresh
        age = None
    published_running = stats.get("running") is True
    fresh = published_running and age is not None and age <= RECEIVER_FRESH_SECONDS
    state = "running" if fresh else "not responding" if published_running else "stopped"
    lost = sum(value for value in (stats.get("dropped_udp"), stats.get("kernel_drops")) if isinstance(value, int))
    return {
        **stats,
        "state": state,
        "running": fresh,
        "spool_dir": str(spool_dir),
        "age_seconds": age,
        "udp_lost": lost,
    }


def _print_receiver(source: str, receiver: dict) -> None:
    """One table per syslog source, counters down the side (they fit any terminal), losses in
    red, and a sentence under it when UDP datagrams were lost."""

    def count(key: str, style: str = "") -> Text:
        value = receiver.get(key)
        return Text(_cell(value), style=style if isinstance(value, int) and value > 0 else "")

    received = ", ".join(
        f"{name} {receiver[f'received_{name}']}"
        for name in ("udp", "tcp", "tls")
        if isinstance(receiver.get(f"received_{name}"), int)
    )
    updated = receiver.get("updated_at")
    if updated and receiver.get("age_seconds") is not None:
        updated = f"{updated} ({_human(receiver['age_seconds'])} ago)"
    listening = receiver.get("listening")
    state_style = "green" if receiver["running"] else _LOST
    rows = [
        ("source", source),
        ("receiver", Text(receiver["state"], style=state_style)),
        ("updated", updated),
        ("since", receiver.get("started_at")),
        (
            "listening",
            ", ".join(f"{k} {v}" for k, v in listening.items()) if isinstance(listening, dict) else listening,
        ),
        ("received", Text(f"{_cell(receiver.get('received'))}" + (f" ({received})" if received else ""))),
        ("dropped_udp (queue full)", count("dropped_udp", _LOST)),
        ("kernel_drops (socket buffer full)", count("kernel_drops", _LOST)),
        ("oversized", count("oversized", _SET_ASIDE)),
        ("truncated", count("truncated", _SET_ASIDE)),
        ("spool backlog", _bytes(receiver.get("spool_backlog"))),
        ("spool full", Text("yes", style=_LOST) if receiver.get("spool_full") else "no"),
        ("spool", receiver["spool_dir"]),
    ]
    if receiver.get("error"):
        rows.append(("error", Text(_cell(receiver["error"]), style=_LOST)))
    render.console.print(render.table("Syslog receiver", ["counter", "value"], rows))
    if receiver["udp_lost"]:
        since = f" since {receiver['started_at']}" if receiver.get("started_at") else ""
        render.console.print(
            Text(
                f"{source}: {receiver['udp_lost']} UDP datagrams lost{since}"
                f" ({_cell(receiver.get('dropped_udp'))} with the receiver's queue full,"
                f" {_cell(receiver.get('kernel_drops'))} with the kernel's socket buffer full):"
                " see 'Floods' in docs/collectors.md",
                style=_LOST,
            )
        )


def _cell(value) -> str:
    return "" if value is None else str(value)


def _bytes(value) -> str:
    if not isinstance(value, int):
        return _cell(value)
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


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
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
