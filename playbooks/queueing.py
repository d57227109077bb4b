"""Starting playbook runs: automatically from the alerts a detection run made, or by a person.

Automatic runs are queued once per (playbook, alert, dry run): the state database's unique index
makes a second queueing — the next detection run updating the same alert, a restart — a no-op,
in one ``executemany`` for the whole batch. A person's ``playbook run`` is always a new run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from playbooks.definition import Playbook
from playbooks.trigger import pairs
from store.protocol import OnSavedAlerts
from store.state.alert_record import Alert
from store.state.alerts import AlertBook
from store.state.database import StateDB
from store.state.playbook_runs import PlaybookRuns, queue_rows


def queue_runs(
    state: StateDB,
    playbooks: Mapping[str, Playbook],
    alerts: Iterable[Alert],
    dry_run: bool | None = None,
    actor: str = "cyberwell serve",
) -> int:
    """Queue a run of every enabled playbook each alert triggers; how many were new.

    ``dry_run``: None runs each playbook as its file says (``dry_run: true`` or not); True makes
    every run a dry run (the demo); False makes none.
    """
    return PlaybookRuns(state).queue(_rows(playbooks, alerts, dry_run), actor)


def queue_hook(
    playbooks: Mapping[str, Playbook], dry_run: bool | None = None, actor: str = "cyberwell serve"
) -> OnSavedAlerts:
    """The ``on_saved`` callable that queues, in the transaction storing a detection run's alerts,
    the runs those alerts trigger (new alerts and updated ones: an alert that changes may meet a
    trigger's conditions it did not meet before; one already queued is left alone)."""

    def on_saved(con: sqlite3.Connection, new: list[Alert], updated: list[Alert]) -> None:
        queue_rows(con, _rows(playbooks, [*new, *updated], dry_run), actor)

    return on_saved


def _rows(
    playbooks: Mapping[str, Playbook], alerts: Iterable[Alert], dry_run: bool | None
) -> list[tuple[str, str, str, bool]]:
    return [
        (playbook.id, playbook.digest, alert.id, playbook.dry_run if dry_run is None else dry_run)
        for playbook, alert in pairs(playbooks, alerts)
    ]


def start_run(state: StateDB, playbook: Playbook, alert_id: str, actor: str, dry_run: bool | None = None) -> int:
    """A new run a person asked for, whatever the trigger says and even if the playbook is
    disabled (they named it); the alert must exist. ``dry_run`` None: as the playbook says.
    Returns the run's id; ``PlaybookRunner.run`` runs it at once."""
    if AlertBook(state).get(alert_id) is None:
        raise LookupError(f"there is no alert {alert_id}")
    dry = playbook.dry_run if dry_run is None else dry_run
    return PlaybookRuns(state).start_manual(playbook.id, playbook.digest, alert_id, dry, actor)
