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

import builtins
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from store.epoch import from_micros, to_micros
from store.state.alert_record import Alert
from store.state.database import StateDB

#: The query language a store's ``search`` takes; the detection engine picks its rule compiler by it.
QueryLanguage = Literal["duckdb-sql", "elasticsearch-lucene"]
#: A value an aggregation groups by or a filter compares with: what a stored column holds.
Scalar = str | int | float | bool | None
#: Called inside the transaction that stores a run's alerts with the alerts that were new and
#: those that changed (a suppressed repeat: more events, a wider span), each as stored, with its
#: ``sequence``: the place to put them in an outbox atomically.
OnSavedAlerts = Callable[[sqlite3.Connection, list[Alert], list[Alert]], None]


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
    assignee: str | None = None  # who has the alert after the change (None: nobody)


class CorrelationWindow(NamedTuple):
    """A window a correlation found in a detection run, whether or not it raised an alert."""

    rule_id: str
    group_keys: dict[str, str | None]
    start: datetime  # its first event
    end: datetime  # its last event


class RunOutcome(NamedTuple):
    """How one rule's run ended."""

    run_id: int
    status: str  # "succeeded" or "failed"
    matched: int  # events matched
    alerts: int  # alerts raised or updated (kept)
    error: str | None
    held_back: int = 0  # new alerts over the rule's cap: counted, not stored
    excepted: int = 0  # matched events taken out by exceptions


#: Which events ``Store.search`` keeps (None: all): an event is kept when each field, read as
#: text (as correlations compare group values), is one of its values; None in the values keeps
#: events that lack the field. Each store renders it in its own language.
Keep = Mapping[str, Sequence[str | None]]


@dataclass(frozen=True)
class ReachingQuery:
    """What ``Store.reaching`` is asked: which groups of a rule's matches could pass a count.

    Groups are by ``group_by`` values (as text; None for a missing field) over the events of
    ``datasets`` in ``[start, end)`` that match ``query``; a group reaches when it holds at least
    ``at_least`` events or, with ``distinct``, at least that many distinct non-null values of
    that field. Exceptions are not taken out: they only remove events, so the answer stays a
    superset of what a correlation can use. ``fields``: the fields ``query`` reads (a field no
    stored event has then reads as null, as in ``search``).
    """

    datasets: tuple[str, ...]
    query: str | None
    start: datetime
    end: datetime
    group_by: tuple[str, ...]
    at_least: int
    distinct: str | None = None
    limit: int = 10_000
    fields: tuple[str, ...] = ()


#: An exception as the stores take it: (field, allowed values as text) pairs; an event is excepted
#: when every field holds one of its values. Each store renders it in its own language.
Excepted = tuple[tuple[str, tuple[str, ...]], ...]


class KnownGroup(NamedTuple):
    """An alert group already stored as an open alert: its entity values (as text, None for a
    missing field) and the start of its suppression span."""

    keys: tuple[str | None, ...]
    window_start: datetime


@dataclass(frozen=True)
class AlertGroupQuery:
    """What ``Store.alert_groups`` is asked: the groups of one single-event rule over one run.

    A group is (``entity`` values as text, epoch-aligned span of width ``span``) over the events
    of ``datasets`` in ``[span start of since, end)`` that match ``query`` and no exception; only
    groups with an event at or after ``since`` count. Known groups are always returned; of the
    others, the first ``max_new`` by (first seen, keys, nulls last). ``sample`` event ids per group,
    the first by (``@timestamp``, ``event.id``).
    """

    datasets: tuple[str, ...]
    query: str | None
    entity: tuple[str, ...]
    span: timedelta
    since: datetime
    end: datetime
    exceptions: tuple[Excepted, ...] = ()
    known: tuple[KnownGroup, ...] = ()
    max_new: int = 100
    sample: int = 10
    #: The fields ``query`` reads: a field no stored event has then reads as null, as in ``search``.
    fields: tuple[str, ...] = ()

    @property
    def span_micros(self) -> int:
        return self.span // timedelta(microseconds=1)

    @property
    def group_start(self) -> datetime:
        """The start of the span ``since`` falls in: a group's count covers its whole span."""
        width = self.span_micros
        return from_micros(to_micros(self.since) // width * width)


@dataclass(frozen=True)
class AlertGroups:
    """The answer of ``Store.alert_groups``: bounded rows, and counts of what was not returned.

    ``rows`` has ``k0``.. (one text column per entity field), ``window_start``, ``first_seen``,
    ``last_seen`` (µs, UTC), ``event_count``, ``event_ids`` (the sample) and ``known``, ordered by
    (first seen, keys). ``groups``: every group with an event in ``[since, end)``, returned or not;
    ``matched``/``excepted``: events in ``[since, end)`` that match and are (not) excepted.
    """

    rows: pa.Table
    groups: int
    matched: int
    excepted: int

    @property
    def known(self) -> int:
        """How many of the rows are known groups (updated, never capped)."""
        return int(pc.sum(self.rows.column("known").cast(pa.int64())).as_py() or 0)


class SavedAlerts(NamedTuple):
    """What saving a detection run did to the alerts: how many were new, how many changed."""

    new: int
    updated: int


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a listing or a count is about; a field left None matches every alert."""

    status: str | None = None
    severity_at_least: str | None = None  # this Sigma level or a more severe one
    rule_id: str | None = None
    last_seen_from: datetime | None = None  # its newest event at or after this time
    first_seen_from: datetime | None = None  # its first event in [first_seen_from, first_seen_before)
    first_seen_before: datetime | None = None


EVERY_ALERT = AlertFilter()


@dataclass(frozen=True)
class AlertPage:
    """Alerts created or changed after a cursor, oldest change first, and the cursor to ask with next."""

    alerts: list[Alert]
    cursor: int


class AlertStore(Protocol):
    """Alerts as both stores keep them (in the state database), with their history.

    Every write that changes an alert (a new one, a sighting that adds events or widens its
    time span, a status change) gives it the next number of one change sequence, which is what
    ``newer_than`` pages by. Statuses are ``new``, ``acknowledged`` and ``closed``; closing takes
    a reason (``true_positive``, ``false_positive``, ``benign``).
    """

    # ``list`` below is a method: inside this class, the built-in list is ``builtins.list``.

    def list(self, where: AlertFilter = EVERY_ALERT, limit: int = 100) -> list[Alert]:
        """The newest (by last seen event) ``limit`` alerts that match; ValueError for an
        unknown severity, naming the levels."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def count(self, where: AlertFilter = EVERY_ALERT) -> int:
        """How many alerts match, counted by the database (for "n of m shown")."""
        ...

    def newer_than(self, cursor: int, limit: int = 500) -> AlertPage: ...

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Which of these alert ids are stored (a run caps only the alerts that are new)."""
        ...

    def ids_starting_with(self, prefix: str, limit: int = 10) -> builtins.list[str]:
        """Up to ``limit`` stored alert ids that start with ``prefix``, in order: what a person
        typed from a listing that shows ids by their first characters."""
        ...

    def first_seen_between(self, rule_id: str, start: datetime, end: datetime) -> builtins.list[Alert]:
        """The rule's alerts whose first event is in ``[start, end)``: those a run over that
        window may update (bounded by the cap of each run that raised them)."""
        ...

    def set_status(
        self, alert_id: str, status: str, actor: str, reason: str | None = None, note: str | None = None
    ) -> Alert:
        """ValueError for a status or reason outside the allowed ones; KeyError for an unknown id."""
        ...

    def history(self, alert_id: str) -> builtins.list[AlertChange]: ...

    def assign(self, alert_id: str, assignee: str | None, actor: str, note: str | None = None) -> Alert:
        """Give the alert to ``assignee`` (None or blank: nobody), keeping its status; kept in its
        history and the audit trail like a status change. KeyError for an unknown id."""
        ...

    def add_note(self, alert_id: str, actor: str, note: str) -> Alert:
        """A note in the alert's history and the audit trail, its status kept. KeyError for an
        unknown id; ValueError for a blank note."""
        ...

    def assignees(self, ids: Iterable[str]) -> dict[str, str]:
        """Who each of these alerts is assigned to; unassigned ones are left out."""
        ...

    def save_run(
        self,
        alerts: Iterable[Alert],
        windows: Iterable[CorrelationWindow] = (),
        outcomes: Sequence[RunOutcome] = (),
        on_saved: OnSavedAlerts | None = None,
    ) -> SavedAlerts:
        """A detection run's alerts, correlation windows and finished rule runs, in one transaction."""
        ...


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
        keep: Keep | None = None,
    ) -> pa.Table:
        """Events of the datasets with ``start <= @timestamp < end`` matching ``query``, written in
        the store's ``query_language`` (None: every event), and ``keep`` (``Keep``), ordered by
        (``@timestamp``, ``event.id``, ``event.dataset``: an id is unique within a dataset only)
        unless ``order`` is false. The result has ``@timestamp``, ``event.id``, ``event.dataset``
        and ``columns``; a column no event has reads as null."""
        ...

    def reaching(self, asked: ReachingQuery) -> builtins.list[tuple[str | None, ...]] | None:
        """The group keys (as text, in ``group_by`` order) that reach ``asked.at_least``, counted
        by the store; None when there are more than ``asked.limit`` of them (too many to be
        worth a filter). Lets a correlation fetch only the events of groups that can pass."""
        ...

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
    ) -> Aggregation:
        """Events with ``start <= @timestamp < end`` counted by the store itself, never row by row.

        ``datasets`` None means all. Groups are by ``bucket`` (fixed spans counted from the Unix
        epoch, a whole number of milliseconds) and by the ``group_by`` fields' values as stored
        (case kept); a field an event lacks, or no event has, groups as None. ``filters`` keep
        events whose field is one of the values (None: the field is missing). Rows are the groups
        that hold events, in bucket then key order (None last); beyond ``max_groups`` the rest
        are left out and ``truncated`` says so. Time fields are refused (``bucket`` is for time),
        as is the raw record (``event.original``).
        """
        ...

    def alert_groups(self, asked: AlertGroupQuery) -> AlertGroups:
        """A single-event rule's alert groups, counted and bounded by the store itself: the
        Python side never sees more than the cap plus the known groups (``AlertGroupQuery``)."""
        ...

    def delete_older_than(self, days: int, now: datetime | None = None) -> list[str]:
        """Delete the events of every day that ended ``days`` days (1 or more) before ``now`` or
        earlier; return what was deleted (the store's own names for its day partitions)."""
        ...
