"""What every screen of the dashboard shares: the store, who is at the keyboard, the clock, and
the lock that keeps two workers from using the store's connection at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reports.latest import LatestReport, LatestUnreadable
from store.protocol import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DashboardContext:
    store: Store
    actor: str  # who triages and approves: in every history entry and audit record
    exceptions_folder: Path  # where a false positive's exception is written (the home's exceptions/)
    clock: Callable[[], datetime] = utc_now  # frozen in tests, so screens are the same every run
    syslog_spools: Mapping[str, Path] = field(default_factory=dict)
    #: The newest Cyber Essentials Plus report's record (``reports.latest.read_latest``), read
    #: with the overview; None when there is no report yet.
    compliance: Callable[[], LatestReport | LatestUnreadable | None] = lambda: None
    #: Each rule's "what to do" note by rule id; loaded once in a worker (loading rules is slow).
    load_notes: Callable[[], Mapping[str, str | None]] = dict
    notes: Mapping[str, str | None] | None = None  # None until loaded
    #: Held while a worker reads or writes the store: the embedded store's DuckDB connection and
    #: a closing store must never be used from two threads at once.
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def close_store(self) -> None:
        """Close the store once no worker uses it; a worker that starts later finds ``closed``
        and reads nothing (a thread cannot be stopped, only told)."""
        with self.lock:
            if not self.closed:
                self.closed = True
                self.store.close()
