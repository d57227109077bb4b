"""How each live source is doing, from the run records the collectors leave in the state database.

Run records are written by whichever process collects (``collect``, ``serve``), so this works
while ``serve`` runs. For a syslog source the receiver's published counters are added, so that
UDP datagrams lost in a flood are seen, not only counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from queries.receiver_status import ReceiverStatus, receiver_status
from queries.timestamps import parse_iso
from store.protocol import Store
from store.state.checkpoints import Checkpoints, CollectorRun


@dataclass(frozen=True)
class SourceStatus:
    source: str
    last_success: str | None  # when the newest successful run finished (ISO, UTC)
    newest_event: str | None  # the newest event time any run collected
    lag_seconds: float | None  # now minus newest_event: how far behind the source the store is
    events_per_minute: float  # events stored in the last hour, per minute
    runs_last_hour: int
    failing: bool  # the latest run failed
    last_error: str | None
    last_error_at: str | None
    checkpoint: Mapping[str, object] | None  # where the next run starts; its shape is the collector's
    receiver: ReceiverStatus | None = None  # syslog sources only

    def to_dict(self) -> dict[str, object]:
        """One row of ``cyberwell status --json``."""
        row: dict[str, object] = {
            "source": self.source,
            "last_success": self.last_success,
            "newest_event": self.newest_event,
            "lag_seconds": self.lag_seconds,
            "events_per_minute": self.events_per_minute,
            "runs_last_hour": self.runs_last_hour,
            "failing": self.failing,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "checkpoint": None if self.checkpoint is None else dict(self.checkpoint),
        }
        if self.receiver is not None:
            row["receiver"] = self.receiver.to_dict()
        return row


def collector_status(
    store: Store, syslog_spools: Mapping[str, Path] | None = None, now: datetime | None = None
) -> tuple[SourceStatus, ...]:
    """Every source that has a checkpoint or a run record, and every syslog source given, by name.

    ``syslog_spools`` maps a syslog source to its spool folder, where its receiver publishes
    (the console finds them in the config): such a source is listed even before its first run,
    so a receiver that takes messages while nothing drains them is still seen.
    """
    now = now or datetime.now(UTC)
    spools = dict(syslog_spools or {})
    checkpoints = Checkpoints(store.state)
    return tuple(
        _status(checkpoints, source, now, receiver_status(spools[source], now) if source in spools else None)
        for source in sorted(set(checkpoints.sources()) | set(spools))
    )


def _status(checkpoints: Checkpoints, source: str, now: datetime, receiver: ReceiverStatus | None) -> SourceStatus:
    runs = checkpoints.runs(source)
    hour = [run for run in runs if parse_iso(run.finished_at) >= now - timedelta(hours=1)]
    succeeded = [run for run in runs if run.ok]
    failed = [run for run in runs if not run.ok]
    newest = _newest_event(runs)
    return SourceStatus(
        source=source,
        last_success=succeeded[-1].finished_at if succeeded else None,
        newest_event=newest.isoformat() if newest else None,
        lag_seconds=round((now - newest).total_seconds(), 1) if newest else None,
        events_per_minute=round(sum(run.stored for run in hour) / 60, 2),
        runs_last_hour=len(hour),
        failing=bool(runs) and not runs[-1].ok,
        last_error=failed[-1].error if failed else None,
        last_error_at=failed[-1].finished_at if failed else None,
        checkpoint=checkpoints.get(source),
        receiver=receiver,
    )


def _newest_event(runs: list[CollectorRun]) -> datetime | None:
    return max((parse_iso(run.newest_event) for run in runs if run.newest_event), default=None)
