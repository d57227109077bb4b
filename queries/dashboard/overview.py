"""The overview's whole picture in one call: alerts, collectors, detection runs, the webhook's
backlog and the playbook steps waiting for a person.

It reads what the CLI reads (``queries.detection_runs``, ``queries.playbook_runs``, the outbox
status; collector health as ``queries.collector_status`` computes it, counted by SQLite in
``collector_health``) plus the alert counts of ``alert_counts``, so the dashboard and
``cyberwell status`` / ``detect runs`` / ``playbook list`` never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from queries.collector_status import SourceStatus
from queries.dashboard.alert_counts import AlertCounts, alert_counts
from queries.dashboard.collector_health import collector_health
from queries.detection_runs import DetectionRunListing, detection_runs
from queries.playbook_runs import RunFilter, RunListing, list_runs
from store.protocol import Store
from store.state.outbox import OutboxStatus, outbox_status

#: Runs and approvals the overview lists; the totals say how many more there are.
SHOWN_RUNS = 5
SHOWN_APPROVALS = 10


@dataclass(frozen=True)
class Overview:
    read_at: datetime
    alerts: AlertCounts
    collectors: tuple[SourceStatus, ...]
    detection: DetectionRunListing
    webhook: OutboxStatus
    approvals: RunListing  # runs awaiting approval, newest first


def read_overview(
    store: Store,
    now: datetime | None = None,
    syslog_spools: Mapping[str, Path] | None = None,
    previous: Overview | None = None,
) -> Overview:
    """Everything the overview shows, as of ``now`` (lag and due counts are judged then).

    ``previous`` is the last overview read: its alert counts are kept if no alert changed."""
    now = now or datetime.now(UTC)
    with store.state.connect() as con:
        counts = alert_counts(con, previous=previous.alerts if previous else None)
    return Overview(
        read_at=now,
        alerts=counts,
        collectors=collector_health(store, syslog_spools, now),
        detection=detection_runs(store, SHOWN_RUNS),
        webhook=outbox_status(store.state, parked_limit=0, now=now),
        approvals=list_runs(store.state, RunFilter(state="awaiting_approval"), limit=SHOWN_APPROVALS),
    )
