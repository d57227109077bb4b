"""Alerts, rule runs and correlation resume points in the state database.

An alert id is deterministic (``store.state.alert_record``), so writing is an upsert: a second sighting of
an id merges its event ids and widens its first/last seen — there is never a second row. Writers
use ``BEGIN IMMEDIATE`` transactions, so the ``serve`` daemon and a CLI ``detect`` run at the same
time queue rather than interleave half-merged rows. That is also why numbering changes with
``max(sequence) + 1`` inside the writing transaction is safe: no other writer runs meanwhile, and
a reader sees a change only with the changes numbered before it.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from store.protocol import (
    EVERY_ALERT,
    AlertChange,
    AlertFilter,
    AlertPage,
    CorrelationWindow,
    OnSavedAlerts,
    RunOutcome,
    SavedAlerts,
)
from store.state.alert_record import SEVERITIES, Alert, iso, severity_rank
from store.state.audit import AuditEntry, append_audit
from store.state.database import StateDB, utc_now_iso

#: Event ids kept per alert. A scanner can match 100,000 firewall events in one hour; beyond this
#: the list is a sample (the first ids seen) and ``event_count`` a lower bound of the distinct ids.
MAX_EVENT_IDS = 10_000
STATUSES = ("new", "acknowledged", "closed")
#: Why an alert was closed; only closing takes a reason.
CLOSING_REASONS = ("true_positive", "false_positive", "benign")

_CHUNK = 500  # SQLite's bound-parameter limit is far above this; keeps statements small


class AlertMirror(Protocol):
    """Somewhere else a store shows its alerts (Elasticsearch's alerts index, for Kibana users).

    The state database stays the record: the book tells the mirror of every alert it changed,
    as stored (with its status and ``sequence``), after the change is committed. Two processes
    may tell it in either order, so a mirror keeps the copy with the highest ``sequence``.
    """

    def publish(self, alerts: Sequence[Alert], assignees: Mapping[str, str]) -> None:
        """``assignees``: who each alert is assigned to (an alert not in it: nobody)."""
        ...


class AlertBook:
    """The alerts of one home (``store.protocol.AlertStore``), the same for both event stores."""

    def __init__(self, state: StateDB, mirror: AlertMirror | None = None):
        """``mirror``: where else the alerts are shown; None when the state database is all
        (the embedded store), which spares reading changed alerts back after a run."""
        self.state = state
        self.mirror = mirror

    # -- reading ----------------------------------------------------------------------------

    def list(self, where: AlertFilter = EVERY_ALERT, limit: int = 100) -> builtins.list[Alert]:
        if limit < 0:
            raise ValueError(f"the limit must be 0 or more, got {limit}")
        clauses, params = _where(where)
        with self.state.connect() as con:
            rows = con.execute(
                f"SELECT * FROM alerts WHERE {clauses} ORDER BY last_seen DESC, id LIMIT ?", [*params, int(limit)]
            ).fetchall()
        return [_from_row(row) for row in rows]

    def get(self, alert_id: str) -> Alert | None:
        with self.state.connect() as con:
            return _fetch(con, [alert_id]).get(alert_id)

    def ids_starting_with(self, prefix: str, limit: int = 10) -> builtins.list[str]:
        # A range on the primary key, not LIKE: an id may hold % or _, and the range uses the index.
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT id FROM alerts WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        return [row[0] for row in rows if row[0].startswith(prefix)]

    def count(self, where: AlertFilter = EVERY_ALERT) -> int:
        clauses, params = _where(where)
        with self.state.connect() as con:
            return int(con.execute(f"SELECT count(*) FROM alerts WHERE {clauses}", params).fetchone()[0])

    def newer_than(self, cursor: int, limit: int = 500) -> AlertPage:
        """Alerts whose last change came after ``cursor`` (0: every alert), oldest change first;
        ask again with the page's cursor for what changed next."""
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}")
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT * FROM alerts WHERE sequence > ? ORDER BY sequence LIMIT ?", (int(cursor), int(limit))
            ).fetchall()
        alerts = [_from_row(row) for row in rows]
        return AlertPage(alerts, alerts[-1].sequence if alerts else cursor)

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Which of these alert ids are stored, asked in chunks within SQLite's parameter limit."""
        ids = builtins.list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.state.connect() as con:
            for offset in range(0, len(ids), _CHUNK):
                chunk = ids[offset : offset + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(row[0] for row in con.execute(f"SELECT id FROM alerts WHERE id IN ({marks})", chunk))
        return found

    def first_seen_between(self, rule_id: str, start: datetime, end: datetime) -> builtins.list[Alert]:
        """The rule's alerts whose first event is in ``[start, end)`` (a run's possible updates)."""
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT * FROM alerts WHERE rule_id = ? AND first_seen >= ? AND first_seen < ? ORDER BY first_seen, id",
                (rule_id, iso(start), iso(end)),
            ).fetchall()
        return [_from_row(row) for row in rows]

    def history(self, alert_id: str) -> builtins.list[AlertChange]:
        """The alert's status changes, oldest first (none for an alert never changed or unknown)."""
        with self.state.connect() as con:
            rows = con.execute("SELECT * FROM alert_changes WHERE alert_id = ? ORDER BY id", (alert_id,)).fetchall()
        return [
            AlertChange(
                alert_id=row["alert_id"],
                at=datetime.fromisoformat(row["at"]),
                actor=row["actor"],
                status=row["status"],
                previous=row["previous"],
                reason=row["reason"],
                note=row["note"],
                assignee=row["assignee"],
            )
            for row in rows
        ]

    # -- writing ----------------------------------------------------------------------------

    def save_run(
        self,
        alerts: Iterable[Alert],
        windows: Iterable[CorrelationWindow] = (),
        outcomes: Sequence[RunOutcome] = (),
        on_saved: OnSavedAlerts | None = None,
    ) -> SavedAlerts:
        """One transaction for a detection run: alerts, correlation windows and finished rule runs.

        Together, so a crash never leaves windows recorded (which move the correlations' resume
        points) without the alerts they raised, nor runs marked succeeded without their alerts.
        ``windows`` are (rule id, group keys, start, end); ``outcomes`` (run id, status, matched,
        alerts, error). ``on_saved`` runs inside the transaction with the alerts that were new and
        those that changed, as stored (a failure there undoes the whole run). The alerts that
        were new or changed go to the mirror once committed.
        """
        with self.state.transaction() as con:
            saved, changed = _upsert(con, alerts, on_saved)
            _record_windows(con, windows)
            _finish_runs(con, outcomes)
        if self.mirror is not None and changed:
            with self.state.connect() as con:
                stored = _fetch(con, changed)
            self.mirror.publish(sorted(stored.values(), key=lambda a: a.sequence), self.assignees(stored))
        return saved

    def set_status(
        self, alert_id: str, status: str, actor: str, reason: str | None = None, note: str | None = None
    ) -> Alert:
        """Move an alert to ``status``, and write down who did it and why in its history.

        Every call is a change (the same status again with a note is one too): it is numbered
        and kept, and the alert comes back from ``newer_than`` after it. It is also appended to
        the audit trail (kind ``triage``) in the same transaction, so the history and the trail
        never disagree.
        """
        _check_change(status, actor, reason)
        with self.state.transaction() as con:
            found = con.execute("SELECT status, assignee FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if found is None:
                raise KeyError(f"no alert with id {alert_id!r}")
            now = utc_now_iso()
            con.execute(
                "UPDATE alerts SET status = ?, updated_at = ?, sequence = ? WHERE id = ?",
                (status, now, _next_sequence(con), alert_id),
            )
            con.execute(
                "INSERT INTO alert_changes (alert_id, at, actor, previous, status, reason, note, assignee)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (alert_id, now, actor, found["status"], status, reason, note, found["assignee"]),
            )
            append_audit(con, [_triage_entry(alert_id, actor, found["status"], status, reason, note)])
            alert = _fetch(con, [alert_id])[alert_id]
        if self.mirror is not None:
            self.mirror.publish([alert], self.assignees([alert.id]))
        return alert

    def assign(self, alert_id: str, assignee: str | None, actor: str, note: str | None = None) -> Alert:
        """Give the alert to ``assignee`` (None or blank: to nobody), keeping its status.

        Like a status change it is numbered, kept in the alert's history (its note says "assigned
        to ..." so every reader of the history sees it, with the assignee in its own column) and
        appended to the audit trail in the same transaction.
        """
        who = (assignee or "").strip() or None
        said = f"assigned to {who}" if who else "unassigned"
        return self._record(alert_id, actor, None, f"{said}: {note}" if note else said, assignee=(who,))

    def add_note(self, alert_id: str, actor: str, note: str) -> Alert:
        """Keep a note in the alert's history (and the audit trail) without changing its status."""
        if not note.strip():
            raise ValueError("a note needs some text")
        return self._record(alert_id, actor, None, note)

    def assignees(self, ids: Iterable[str]) -> dict[str, str]:
        """Who each of these alerts is assigned to; alerts assigned to nobody are left out."""
        ids = builtins.list(dict.fromkeys(ids))
        found: dict[str, str] = {}
        with self.state.connect() as con:
            for offset in range(0, len(ids), _CHUNK):
                chunk = ids[offset : offset + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    con.execute(
                        f"SELECT id, assignee FROM alerts WHERE assignee IS NOT NULL AND id IN ({marks})", chunk
                    ).fetchall()
                )
        return found

    def _record(
        self, alert_id: str, actor: str, status: str | None, note: str | None, assignee: tuple[str | None, ...] = ()
    ) -> Alert:
        """One history entry that keeps the status (``status`` None) and may set the assignee
        (``assignee`` holds the new one, empty to leave it)."""
        if not actor.strip():
            raise ValueError("a change names who made it (actor)")
        with self.state.transaction() as con:
            found = con.execute("SELECT status, assignee FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if found is None:
                raise KeyError(f"no alert with id {alert_id!r}")
            now = utc_now_iso()
            current = found["status"]
            kept = assignee[0] if assignee else found["assignee"]
            con.execute(
                "UPDATE alerts SET assignee = ?, updated_at = ?, sequence = ? WHERE id = ?",
                (kept, now, _next_sequence(con), alert_id),
            )
            con.execute(
                "INSERT INTO alert_changes (alert_id, at, actor, previous, status, reason, note, assignee)"
                " VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                (alert_id, now, actor, current, status or current, note, kept),
            )
            extra = {"assignee": kept} if assignee else {}
            what = (note or "") if assignee else "note added"
            append_audit(con, [_triage_entry(alert_id, actor, current, status or current, None, note, what, extra)])
            alert = _fetch(con, [alert_id])[alert_id]
        if self.mirror is not None:
            self.mirror.publish([alert], self.assignees([alert.id]))
        return alert


def _triage_entry(
    alert_id: str,
    actor: str,
    previous: str,
    status: str,
    reason: str | None,
    note: str | None,
    what: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> AuditEntry:
    what = what or f"status {previous} -> {status}" + (f" ({reason})" if reason else "")
    detail = {"previous": previous, "status": status, "reason": reason, "note": note, **(extra or {})}
    return AuditEntry(actor, "triage", f"alert:{alert_id}", what, "succeeded", detail)


def _check_change(status: str, actor: str, reason: str | None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown alert status {status!r}; expected one of {', '.join(STATUSES)}")
    if status == "closed" and reason not in CLOSING_REASONS:
        raise ValueError(f"closing an alert takes a reason, one of {', '.join(CLOSING_REASONS)}; got {reason!r}")
    if status != "closed" and reason is not None:
        raise ValueError(
            f"a reason ({', '.join(CLOSING_REASONS)}) is given only when closing, not for {status!r}; use note"
        )
    if not actor.strip():
        raise ValueError("a status change names who made it (actor)")


def _next_sequence(con: sqlite3.Connection) -> int:
    """The next change number; only inside a writing transaction (see the module's docstring)."""
    return con.execute("SELECT coalesce(max(sequence), 0) + 1 FROM alerts").fetchone()[0]


def _upsert(
    con: sqlite3.Connection, alerts: Iterable[Alert], on_saved: OnSavedAlerts | None
) -> tuple[SavedAlerts, builtins.list[str]]:
    """Insert new alerts and merge sightings of known ones; return (new, updated) and the ids of
    the alerts changed. ``on_saved`` sees both as stored (status, times and ``sequence``).

    ``updated`` counts known alerts that changed (new event ids or a wider time span); a rerun
    that finds nothing new updates nothing, and numbers nothing.
    """
    incoming = _combine_duplicates(alerts)
    if not incoming:
        return SavedAlerts(0, 0), []
    now = utc_now_iso()
    new: builtins.list[Alert] = []
    updated: builtins.list[Alert] = []  # as stored after the change
    changes: builtins.list[tuple] = []  # written with one executemany, like the inserts
    sequence = _next_sequence(con)
    existing = _fetch(con, builtins.list(incoming))
    for alert_id, alert in incoming.items():
        old = existing.get(alert_id)
        if old is None:
            new.append(alert)
            continue
        merged = _merge(old, alert)
        if (merged.event_ids, merged.event_count, merged.first_seen, merged.last_seen) != (
            old.event_ids,
            old.event_count,
            old.first_seen,
            old.last_seen,
        ):
            changes.append(
                (
                    iso(merged.first_seen),
                    iso(merged.last_seen),
                    json.dumps(merged.event_ids),
                    merged.event_count,
                    now,
                    sequence,
                    alert_id,
                )
            )
            updated.append(replace(merged, updated_at=datetime.fromisoformat(now), sequence=sequence))
            sequence += 1
    con.executemany(
        "UPDATE alerts SET first_seen = ?, last_seen = ?, event_ids = ?, event_count = ?,"
        " updated_at = ?, sequence = ? WHERE id = ?",
        changes,
    )
    con.executemany(
        "INSERT INTO alerts (id, rule_id, rule_title, severity, tags, group_keys, first_seen,"
        " last_seen, event_ids, event_count, status, created_at, updated_at, sequence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?)",
        [
            (
                a.id,
                a.rule_id,
                a.rule_title,
                a.severity,
                json.dumps(a.tags),
                json.dumps(a.group_keys, sort_keys=True),
                iso(a.first_seen),
                iso(a.last_seen),
                json.dumps(a.event_ids[:MAX_EVENT_IDS]),
                a.event_count,
                now,
                now,
                sequence + position,
            )
            for position, a in enumerate(new)
        ],
    )
    if on_saved is not None and (new or updated):
        at = datetime.fromisoformat(now)
        stored = [
            replace(
                a,
                event_ids=a.event_ids[:MAX_EVENT_IDS],
                status="new",
                created_at=at,
                updated_at=at,
                sequence=sequence + p,
            )
            for p, a in enumerate(new)
        ]
        on_saved(con, stored, updated)
    return SavedAlerts(len(new), len(updated)), [*(a.id for a in updated), *(a.id for a in new)]


def _where(where: AlertFilter) -> tuple[str, list[object]]:
    """The SQL condition and parameters of a filter (times compare as ISO text, as stored)."""
    clauses: list[str] = []
    params: list[object] = []
    for column, operator, value in (
        ("status", "=", where.status),
        ("rule_id", "=", where.rule_id),
        ("last_seen", ">=", where.last_seen_from),
        ("first_seen", ">=", where.first_seen_from),
        ("first_seen", "<", where.first_seen_before),
    ):
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(iso(value) if isinstance(value, datetime) else value)
    if where.severity_at_least is not None:
        allowed = SEVERITIES[severity_rank(where.severity_at_least) :]
        clauses.append(f"severity IN ({','.join('?' * len(allowed))})")
        params.extend(allowed)
    return " AND ".join(clauses) or "1", params


# -- rule runs and correlation windows -------------------------------------------------------


def record_rule_runs(
    state: StateDB, rules: Sequence[tuple[str, str]], window_start: datetime, window_end: datetime
) -> list[int]:
    """Run rows in state ``running``, in one transaction (one fsync for a whole rule set, not one
    per rule); a crash leaves them so, which shows as unfinished runs. ``save_run`` finishes them."""
    now = utc_now_iso()
    ids = []
    with state.transaction() as con:
        for rule_id, rule_title in rules:
            cursor = con.execute(
                "INSERT INTO rule_runs (rule_id, rule_title, window_start, window_end, started_at,"
                " status) VALUES (?, ?, ?, ?, ?, 'running')",
                (rule_id, rule_title, iso(window_start), iso(window_end), now),
            )
            assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
            ids.append(cursor.lastrowid)
    return ids


def _finish_runs(con: sqlite3.Connection, outcomes: Sequence[RunOutcome]) -> None:
    for outcome in outcomes:
        if outcome.status not in ("succeeded", "failed"):
            raise ValueError(f"a run finishes as succeeded or failed, not {outcome.status!r}")
    now = utc_now_iso()
    con.executemany(
        "UPDATE rule_runs SET finished_at = ?, status = ?, matched = ?, alerts = ?, error = ?, held_back = ?,"
        " excepted = ? WHERE id = ?",
        [(now, o.status, o.matched, o.alerts, o.error, o.held_back, o.excepted, o.run_id) for o in outcomes],
    )


def _record_windows(con: sqlite3.Connection, windows: Iterable[CorrelationWindow]) -> None:
    """Remember each window found, whether or not it became an alert: the correlations resume
    from them (``resume_points``)."""
    con.executemany(
        "INSERT INTO correlation_windows (rule_id, group_keys, window_start, window_end)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (rule_id, group_keys, window_start)"
        " DO UPDATE SET window_end = max(window_end, excluded.window_end)",
        [(rule_id, json.dumps(keys, sort_keys=True), iso(start), iso(end)) for rule_id, keys, start, end in windows],
    )


def resume_points(state: StateDB, rule_id: str, scan_start: datetime) -> list[tuple[dict, datetime]]:
    """Per group, the end of the last window that began before ``scan_start`` and reaches into it.

    Windows ending before ``scan_start`` need not be returned: the scan does not see their events.
    """
    with state.connect() as con:
        rows = con.execute(
            """SELECT group_keys, max(window_end) FROM correlation_windows
               WHERE rule_id = ? AND window_start < ? AND window_end >= ?
               GROUP BY group_keys""",
            (rule_id, iso(scan_start), iso(scan_start)),
        ).fetchall()
    return [(json.loads(keys), datetime.fromisoformat(end)) for keys, end in rows]


# -- rows <-> alerts -------------------------------------------------------------------------


def _combine_duplicates(alerts: Iterable[Alert]) -> dict[str, Alert]:
    combined: dict[str, Alert] = {}
    for alert in alerts:
        combined[alert.id] = _merge(combined[alert.id], alert) if alert.id in combined else alert
    return combined


def _merge(old: Alert, new: Alert) -> Alert:
    seen = set(old.event_ids)
    union = old.event_ids + [event_id for event_id in new.event_ids if event_id not in seen]
    if len(union) <= MAX_EVENT_IDS and old.event_count == len(old.event_ids) and new.event_count == len(new.event_ids):
        ids, count = union, len(union)
    else:  # a sample was kept somewhere: the exact union is unknown, never undercount what we saw
        ids, count = union[:MAX_EVENT_IDS], max(old.event_count, new.event_count, len(union))
    return Alert(
        id=old.id,
        rule_id=old.rule_id,
        rule_title=old.rule_title,
        severity=old.severity,
        tags=old.tags,
        group_keys=old.group_keys,
        first_seen=min(old.first_seen, new.first_seen),
        last_seen=max(old.last_seen, new.last_seen),
        event_ids=ids,
        event_count=count,
        status=old.status,
        created_at=old.created_at,
        updated_at=old.updated_at,
        sequence=old.sequence,
    )


def _fetch(con: sqlite3.Connection, ids: list[str]) -> dict[str, Alert]:
    found: dict[str, Alert] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        rows = con.execute(f"SELECT * FROM alerts WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        found.update((row["id"], _from_row(row)) for row in rows)
    return found


def _from_row(row: sqlite3.Row) -> Alert:
    return Alert(
        id=row["id"],
        rule_id=row["rule_id"],
        rule_title=row["rule_title"],
        severity=row["severity"],
        tags=json.loads(row["tags"]),
        group_keys=json.loads(row["group_keys"]),
        first_seen=datetime.fromisoformat(row["first_seen"]),
        last_seen=datetime.fromisoformat(row["last_seen"]),
        event_ids=json.loads(row["event_ids"]),
        event_count=row["event_count"],
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        sequence=row["sequence"],
    )
