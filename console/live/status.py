"""``cyberwell status``: how the collectors are doing.

The answer comes from ``queries.collector_status`` (run records, and the counters each syslog
receiver publishes beside its spool); console/live/status_tables.py draws it. The command is
registered with ``collect`` and ``serve`` by console/live/commands.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from console import render
from console.config import Config, ConfigError
from console.live import status_tables


def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per source: last success, lag, events per minute over the last hour, last error; for
    syslog also the receiver's counters, UDP losses among them."""
    from console.session import open_store
    from queries.collector_status import collector_status

    cfg: Config = ctx.obj
    sources = collector_status(open_store(cfg), syslog_spools(cfg))
    if as_json:
        render.emit_json([source.to_dict() for source in sources])
        return
    render.show(*status_tables.status(sources))


def syslog_spools(cfg: Config) -> dict[str, Path]:
    """The spool of each enabled syslog source in the config: where its receiver publishes.

    ``status`` must work with a config that ``serve`` would refuse, so a broken collectors
    section only costs the receivers' counters, with a warning on stderr (stdout stays JSON
    under ``--json``).
    """
    try:
        tables = cfg.collectors.checked()
    except ConfigError as error:
        render.warning(f"syslog receiver counters not shown: {error}")
        return {}
    spools = {}
    for table in tables:
        spool = table.settings.get("spool_dir")
        if table.kind == "syslog" and table.enabled and isinstance(spool, str) and spool:
            spools[table.name] = Path(spool)
    return spools
