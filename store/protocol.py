"""The store's interface, written down: what every room above may ask of an event store.

Two stores implement it in full, the embedded one (Parquet segments read with DuckDB) and the
Elasticsearch one; the type checker proves it (``store/__init__.py`` assigns each to ``Store``).
Callers never ask a store what it can do: everything here works on both, the same way, and the
differential tests hold them to the same answers. Events are the store's own; alerts, rule runs,
checkpoints and the quarantine live in the state database (``StateDB``) beside either store,
with alerts reached through ``Store.alerts`` so that a store that also shows alerts elsewhere
(Elasticsearch's alerts index, for Kibana) keeps that copy in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import pyarrow as pa

from store.alert_record import Alert
from store.state import StateDB

#: The query language a store's ``search`` takes; the detection engine picks its rule compiler by it.
QueryLanguage = Literal["duckdb-sql", "elasticsearch-lucene"]
#: A value an aggregation groups by or a filter compares with: what a stored column holds.
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class AppendResult:
    """What an append did. ``rejected``: events the store refused (quarantined with the reason)."""

    stored: int
    duplicates: int
    rejected: int = 0


@dataclass(frozen=True)
class CountRow:
    """One group of an aggregation: its time bucket (None without buckets), its keys in
    ``group_by`` order, and how many events it holds."""

    bucket: datetime | None
    keys: tuple[Scalar, ...]
    count: int


@dataclass(frozen=True)
class Aggregation:
    """Counts of events grouped by fields and time buckets, in bucket then key order.

    ``truncated`` says that there were more groups than were asked for (``max_groups``), so a
    reader can say what was held back instead of presenting part as the whole.
    """

    group_by: tuple[str, ...]
    bucket: timedelta | None
    rows: list[CountRow] = field(default_factory=list)
    truncated: bool = False

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)


@dataclass(frozen=True)
class AlertChange:
    """One entry of an alert's history: who changed what, when, and why."""

    alert_id: str
    at: datetime
    actor: str
    status: str  # the status after the change
    previous: str  # the status before it
    reason: str | None = None  # closing reason: true_positive, false_positive, benign
    note: str | None = None


@dataclass(frozen=True)
class AlertPage:
    """Alerts created or changed after a cursor, oldest change first, and the cursor to ask with next."""

    alerts: list[Alert]
    cursor: int


class AlertStore(Protocol):
    """Alerts as both stores keep them (in the state database), with their history."""

    def list(
        self,
        since: datetime | None = None,
        severity_at_least: str | None = None,
        limit: int = 100,
        rule_id: str | None = None,
        status: str | None = None,
    ) -> list[Alert]: ...

    def get(self, alert_id: str) -> Alert | None: ...

    def count(self, status: str | None = None) -> int: ...

    def newer_than(self, cursor: int, limit: int = 500) -> AlertPage: ...

    def set_status(
        self, alert_id: str, status: str, actor: str, reason: str | None = None, note: str | None = None
    ) -> Alert: ...

    def history(self, alert_id: str) -> list[AlertChange]: ...


class Store(Protocol):
    """An event store and the state beside it."""

    home: Path
    state: StateDB
    alerts: AlertStore
    query_language: QueryLanguage

    def append(self, events: pa.Table) -> AppendResult: ...

    def flush(self) -> None:
        """Make every write so far visible to every reader (a no-op where writes are at once)."""
        ...

    def close(self) -> None: ...

    def search(
        self,
        datasets: Sequence[str],
        start: datetime,
        end: datetime,
        query: str | None = None,
        columns: Sequence[str] = (),
        order: bool = True,
    ) -> pa.Table: ...

    def count(self, datasets: Sequence[str] | None = None) -> int: ...

    def datasets(self) -> dict[str, int]: ...

    def columns(self, datasets: Sequence[str] | None = None) -> dict[str, str]: ...

    def time_range(self) -> tuple[datetime, datetime] | None: ...

    def aggregate(
        self,
        datasets: Sequence[str] | None,
        start: datetime,
        end: datetime,
        group_by: Sequence[str] = (),
        bucket: timedelta | None = None,
        filters: Mapping[str, Sequence[Scalar]] | None = None,
        max_groups: int = 10_000,
    ) -> Aggregation: ...

    def delete_older_than(self, days: int, now: datetime | None = None) -> list[str]: ...
