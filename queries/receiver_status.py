"""The syslog receiver's counters, as ``serve`` last published them beside its spool.

The receiver runs inside ``serve``; ``status`` is another process, so it reads the file the
receiver rewrites about once a second (``collectors.live.syslog_receiver.read_stats``). The file
alone cannot say that its writer died: ``running`` stays true in it when ``serve`` is killed.
Here the file's age decides, so a dead receiver is "not responding", never "running".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from collectors.live.syslog_receiver import read_stats
from queries.timestamps import parse_iso

#: The receiver publishes about once a second; older than this, it has died or hangs.
RECEIVER_FRESH_SECONDS = 10
#: Transports a receiver counts received messages for (``received_udp`` ...).
TRANSPORTS = ("udp", "tcp", "tls")


@dataclass(frozen=True)
class ReceiverStatus:
    """Whether the receiver runs and what it counted since it started.

    ``state``: ``running`` (published within ``RECEIVER_FRESH_SECONDS``), ``not responding`` (it
    says running but stopped publishing), ``stopped`` or ``never started``. ``udp_lost`` is
    ``dropped_udp`` (its queue was full) plus ``kernel_drops`` (the socket buffer was).
    ``refused_connections`` adds the refusals for ``max_connections`` and for
    ``max_connections_per_source``; ``idle_timeouts`` counts connections closed for silence.
    """

    spool_dir: str
    state: str
    running: bool
    age_seconds: float | None
    udp_lost: int
    updated_at: str | None
    started_at: str | None
    listening: tuple[tuple[str, str], ...]  # (transport, "host:port")
    received: int | None
    received_by_transport: tuple[tuple[str, int], ...]
    dropped_udp: int | None
    kernel_drops: int | None
    oversized: int | None
    truncated: int | None
    rejected_frames: int | None  # over max_frame_bytes: the connection was closed
    unwritable: int | None  # records the spool writer could not write, with ``error`` saying why
    lost_on_stop: int | None  # read, but not spooled when the receiver stopped
    refused_max_connections: int | None
    refused_per_source: int | None
    idle_timeouts: int | None
    spool_backlog: int | None  # bytes received and not yet drained into the store
    spool_full: bool
    error: str | None
    #: The file as the receiver wrote it (None when it never did). Kept whole so that the JSON
    #: shows every counter, a newer receiver's too, not only those named above.
    published: Mapping[str, object] | None

    def to_dict(self) -> dict[str, object]:
        """As ``status --json`` shows it under the source's ``receiver``: the published counters
        with the judgement of this process over them."""
        if self.published is None:
            return {
                "state": self.state,
                "running": self.running,
                "spool_dir": self.spool_dir,
                "updated_at": None,
                "age_seconds": None,
                "udp_lost": self.udp_lost,
            }
        return {
            **self.published,
            "state": self.state,
            "running": self.running,
            "spool_dir": self.spool_dir,
            "age_seconds": self.age_seconds,
            "udp_lost": self.udp_lost,
        }


def receiver_status(spool_dir: Path, now: datetime) -> ReceiverStatus:
    """What the receiver feeding ``spool_dir`` last published, judged at ``now``."""
    stats = read_stats(spool_dir)
    if not isinstance(stats, dict):
        return _never_started(spool_dir)
    try:
        age: float | None = round((now - parse_iso(stats["updated_at"])).total_seconds(), 1)
    except (KeyError, TypeError, ValueError):  # a file from another version: shown, never fresh
        age = None
    says_running = stats.get("running") is True
    fresh = says_running and age is not None and age <= RECEIVER_FRESH_SECONDS
    dropped, kernel = _count(stats, "dropped_udp"), _count(stats, "kernel_drops")
    listening = stats.get("listening")
    error = stats.get("error")
    return ReceiverStatus(
        spool_dir=str(spool_dir),
        state="running" if fresh else "not responding" if says_running else "stopped",
        running=fresh,
        age_seconds=age,
        udp_lost=(dropped or 0) + (kernel or 0),
        updated_at=_text(stats, "updated_at"),
        started_at=_text(stats, "started_at"),
        listening=tuple((str(k), str(v)) for k, v in listening.items()) if isinstance(listening, dict) else (),
        received=_count(stats, "received"),
        received_by_transport=tuple(
            (name, count) for name in TRANSPORTS if (count := _count(stats, f"received_{name}")) is not None
        ),
        dropped_udp=dropped,
        kernel_drops=kernel,
        oversized=_count(stats, "oversized"),
        truncated=_count(stats, "truncated"),
        rejected_frames=_count(stats, "rejected_frames"),
        unwritable=_count(stats, "unwritable"),
        lost_on_stop=_count(stats, "lost_on_stop"),
        refused_max_connections=_count(stats, "refused_max_connections"),
        refused_per_source=_count(stats, "refused_per_source"),
        idle_timeouts=_count(stats, "idle_timeouts"),
        spool_backlog=_count(stats, "spool_backlog"),
        spool_full=stats.get("spool_full") is True,
        error=str(error) if error else None,
        published=stats,
    )


def _never_started(spool_dir: Path) -> ReceiverStatus:
    return ReceiverStatus(
        spool_dir=str(spool_dir),
        state="never started",
        running=False,
        age_seconds=None,
        udp_lost=0,
        updated_at=None,
        started_at=None,
        listening=(),
        received=None,
        received_by_transport=(),
        dropped_udp=None,
        kernel_drops=None,
        oversized=None,
        truncated=None,
        rejected_frames=None,
        unwritable=None,
        lost_on_stop=None,
        refused_max_connections=None,
        refused_per_source=None,
        idle_timeouts=None,
        spool_backlog=None,
        spool_full=False,
        error=None,
        published=None,
    )


def _count(stats: Mapping[str, object], key: str) -> int | None:
    value = stats.get(key)
    # A file from another version may hold anything: only a whole number is a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(stats: Mapping[str, object], key: str) -> str | None:
    value = stats.get(key)
    return None if value is None else str(value)
