"""``cyberwell dashboard``: open the configured store, run the dashboard, close what it opened.

Registered by console/cli.py (``app.command("dashboard")(dashboard_command)``). The rule notes
("what to do") come from the configured rule folders, loaded in the background by the app.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Annotated

import typer

from console.config import Config


def dashboard_command(
    ctx: typer.Context,
    refresh: Annotated[
        float, typer.Option("--refresh", help="Seconds between reads of the store (new alerts appear by themselves).")
    ] = 5.0,
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Your name in alert histories and the audit trail [default: your login name]."),
    ] = None,
) -> None:
    """The security manager's terminal dashboard: overview, alert queue and triage, approvals."""
    from console.dashboard.app import DashboardApp
    from console.dashboard.context import DashboardContext
    from console.live.status import syslog_spools
    from console.session import exception_dirs, fail, open_store
    from detections import EXCEPTIONS_FOLDER
    from reports.latest import read_latest

    if not 0.2 <= refresh <= 3600:
        fail(f"--refresh: expected seconds from 0.2 to 3600, got {refresh:g}")
    who = (actor or getpass.getuser()).strip()
    if not who:
        fail("--as: expected a name for the alert histories and the audit trail")
    cfg: Config = ctx.obj
    store = open_store(cfg)
    context = DashboardContext(
        store=store,
        actor=who,
        exceptions_folder=cfg.home / EXCEPTIONS_FOLDER,
        syslog_spools=syslog_spools(cfg),
        load_notes=lambda: rule_notes(cfg, exception_dirs(cfg)),
        compliance=lambda: read_latest(cfg.home),
    )
    try:
        DashboardApp(context, refresh_seconds=refresh).run()
    finally:
        context.close_store()  # after a read still running in a worker thread has finished


def rule_notes(cfg: Config, exceptions: list) -> Mapping[str, str | None]:
    """Each configured rule's "what to do" note, by rule id (as alerts carry it)."""
    from console.session import alert_defaults
    from queries.rules import list_rules

    catalogue = list_rules(cfg.rule_dirs, exceptions, alert_defaults(cfg))
    return {rule.id: rule.what_to_do for rule in catalogue.rules}
