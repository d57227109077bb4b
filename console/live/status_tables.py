"""``cyberwell status`` drawn for a terminal: a table of sources, and per syslog receiver its
counters, losses in red, with a sentence under it when UDP datagrams were lost.

Every value read from the state database or a receiver's file is put in a ``Text`` (directly or
through ``render.table``), so a message such as ``[bold]failed[/]`` is shown as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from console import render

if TYPE_CHECKING:  # annotations only: the receiver's module loads when ``status`` runs
    from queries.collector_status import SourceStatus
    from queries.receiver_status import ReceiverStatus

_LOST = "bold red"  # counters of messages lost: an operator must not miss them
_SET_ASIDE = "yellow"  # counters of messages kept only in part (quarantined by the drain)
_REFUSED = "yellow"  # senders turned away: they retry, but an operator should know


def status(sources: Sequence[SourceStatus]) -> list[RenderableType]:
    """What ``status`` prints, in order."""
    if not sources:
        return [Text("No collector has run yet: see `cyberwell collect`.")]
    shown: list[RenderableType] = [collectors_table(sources)]
    for source in sources:
        if source.receiver is not None:
            shown.append(receiver_table(source.source, source.receiver))
            lost = udp_losses(source.source, source.receiver)
            if lost is not None:
                shown.append(lost)
    return shown


def collectors_table(sources: Sequence[SourceStatus]) -> RenderableType:
    """A table where it fits, else a few lines a source (its last error whole)."""
    return render.fitted_table(
        "Collectors",
        ["source", "last success", "lag", "events/min (1 h)", "runs (1 h)", "last error"],
        [
            (
                s.source,
                s.last_success,
                human_seconds(s.lag_seconds),
                s.events_per_minute,
                s.runs_last_hour,
                f"{s.last_error_at}: {s.last_error}" if s.last_error else "",
            )
            for s in sources
        ],
        own_line=("last success", "last error"),
    )


def receiver_table(source: str, receiver: ReceiverStatus) -> Table:
    """Counters down the side: they fit any terminal."""

    def count(value: int | None, style: str) -> Text:
        return Text(_cell(value), style=style if value else "")

    updated = receiver.updated_at
    if updated and receiver.age_seconds is not None:
        updated = f"{updated} ({human_seconds(receiver.age_seconds)} ago)"
    per_transport = ", ".join(f"{name} {n}" for name, n in receiver.received_by_transport)
    rows: list[tuple[str, object]] = [
        ("source", source),
        ("receiver", Text(receiver.state, style="green" if receiver.running else _LOST)),
        ("updated", updated),
        ("since", receiver.started_at),
        ("listening", ", ".join(f"{name} {address}" for name, address in receiver.listening)),
        ("received", _cell(receiver.received) + (f" ({per_transport})" if per_transport else "")),
        ("dropped_udp (queue full)", count(receiver.dropped_udp, _LOST)),
        ("kernel_drops (socket buffer full)", count(receiver.kernel_drops, _LOST)),
        ("oversized", count(receiver.oversized, _SET_ASIDE)),
        ("truncated", count(receiver.truncated, _SET_ASIDE)),
        ("rejected (over max_frame_bytes)", count(receiver.rejected_frames, _SET_ASIDE)),
        ("unwritable (spool writer)", count(receiver.unwritable, _LOST)),
        ("lost on stop", count(receiver.lost_on_stop, _LOST)),
        ("refused (max_connections)", count(receiver.refused_max_connections, _REFUSED)),
        ("refused (per source)", count(receiver.refused_per_source, _REFUSED)),
        ("closed idle (idle_timeout)", _cell(receiver.idle_timeouts)),
        ("spool backlog", human_bytes(receiver.spool_backlog)),
        ("spool full", Text("yes", style=_LOST) if receiver.spool_full else "no"),
        ("spool", receiver.spool_dir),
    ]
    if receiver.error:
        rows.append(("error", Text(receiver.error, style=_LOST)))
    return render.table("Syslog receiver", ["counter", "value"], rows)


def udp_losses(source: str, receiver: ReceiverStatus) -> Text | None:
    """The sentence under the table when datagrams were lost; None when none were."""
    if not receiver.udp_lost:
        return None
    since = f" since {receiver.started_at}" if receiver.started_at else ""
    return Text(
        f"{source}: {receiver.udp_lost} UDP datagrams lost{since}"
        f" ({_cell(receiver.dropped_udp)} with the receiver's queue full,"
        f" {_cell(receiver.kernel_drops)} with the kernel's socket buffer full):"
        " see 'Floods' in docs/collectors.md",
        style=_LOST,
    )


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    if whole < 172800:
        return f"{whole // 3600} h"
    return f"{whole // 86400} d"


def human_bytes(value: int | None) -> str:
    if value is None:
        return ""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)
