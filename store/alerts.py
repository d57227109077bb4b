"""Alerts, rule runs and correlation resume points in the state database.

An alert id is deterministic (``store.alert_record``), so writing is an upsert: a second sighting of
an id merges its event ids and widens its first/last seen — there is never a second row. Writers
use ``BEGIN IMMEDIATE`` transactions, so the ``serve`` daemon and a CLI ``detect`` run at the same
time queue rather than interleave half-merged rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from store.alert_record import SEVERITIES, Alert, iso, severity_rank
from store.state import StateDB, utc_now_iso

#: Event ids kept per alert. A scanner can match 100,000 firewall events in one hour; beyond this
#: the list is a sample (the first ids seen) and ``event_count`` a lower bound of the distinct ids.
MAX_EVENT_IDS = 10_000

_CHUNK = 500  # SQLite's bound-parameter limit is far above this; keeps statements small


def upsert_alerts(
    state: StateDB,
    alerts: Iterable[Alert],
    on_new: Callable[[sqlite3.Connection, list[Alert]], None] | None = None,
) -> tuple[int, int]:
    """Insert new alerts and merge sightings of known ones; return (new, updated).

    ``updated`` counts known alerts that changed (new event ids or a wider time span); a rerun
    that finds nothing new updates nothing. ``on_new`` runs inside the same transaction with the
    alerts that were new — the place to put them in the webhook outbox atomically.
    """
    with state.transaction() as con:
        return _upsert(con, alerts, on_new)


def save_detection_results(
    state: StateDB,
    alerts: Iterable[Alert],
    windows: Iterable[tuple[str, dict, datetime, datetime]] = (),
    outcomes: Sequence[tuple[int, str, int, int, str | None]] = (),
    on_new: Callable[[sqlite3.Connection, list[Alert]], None] | None = None,
) -> tuple[int, int]:
    """One transaction for a detection run: alerts, correlation windows and finished rule runs.

    Together, so a crash never leaves windows recorded (which move the correlations' resume
    points) without the alerts they raised, nor runs marked succeeded without their alerts.
    ``windows`` are (rule id, group keys, start, end); ``outcomes`` as in ``finish_rule_runs``.
    """
    with state.transaction() as con:
        counts = _upsert(con, alerts, on_new)
        _record_windows(con, windows)
        _finish_runs(con, outcomes)
    return counts


def _upsert(con: sqlite3.Connection, alerts: Iterable[Alert], on_new) -> tuple[int, int]:
    incoming = _combine_duplicates(alerts)
    if not incoming:
        return 0, 0
    now = utc_now_iso()
    new: list[Alert] = []
    updated = 0
    existing = _fetch(con, list(incoming))
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
            con.execute(
                "UPDATE alerts SET first_seen = ?, last_seen = ?, event_ids = ?, event_count = ?,"
                " updated_at = ? WHERE id = ?",
                (
                    iso(merged.first_seen),
                    iso(merged.last_seen),
                    json.dumps(merged.event_ids),
                    merged.event_count,
                    now,
                    alert_id,
                ),
            )
            updated += 1
    con.executemany(
        "INSERT INTO alerts (id, rule_id, rule_title, severity, tags, group_keys, first_seen,"
        " last_seen, event_ids, event_count, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)",
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
            )
            for a in new
        ],
    )
    if on_new is not None and new:
        on_new(con, new)
    return len(new), updated


def list_alerts(
    state: StateDB,
    since: datetime | None = None,
    severity_at_least: str | None = None,
    limit: int = 100,
    rule_id: str | None = None,
    status: str | None = None,
) -> list[Alert]:
    """Most recent first (by last seen event). ``since`` keeps alerts last seen at or after it."""
    clauses: list[str] = []
    params: list[object] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if since is not None:
        clauses.append("last_seen >= ?")
        params.append(iso(since))
    if severity_at_least is not None:
        allowed = SEVERITIES[severity_rank(severity_at_least) :]
        clauses.append(f"severity IN ({','.join('?' * len(allowed))})")
        params.extend(allowed)
    if rule_id is not None:
        clauses.append("rule_id = ?")
        params.append(rule_id)
    where = " AND ".join(clauses) or "1"
    with state.connect() as con:
        rows = con.execute(
            f"SELECT * FROM alerts WHERE {where} ORDER BY last_seen DESC, id LIMIT ?",
            [*params, int(limit)],
        ).fetchall()
    return [_from_row(row) for row in rows]


def get_alert(state: StateDB, alert_id: str) -> Alert | None:
    with state.connect() as con:
        found = _fetch(con, [alert_id])
    return found.get(alert_id)


class AlertBook:
    """The alerts of one home (``store.protocol.AlertStore``), the same for both event stores."""

    def __init__(self, state: StateDB):
        self.state = state

    def list(
        self,
        since: datetime | None = None,
        severity_at_least: str | None = None,
        limit: int = 100,
        rule_id: str | None = None,
        status: str | None = None,
    ) -> list[Alert]:
        return list_alerts(self.state, since, severity_at_least, limit, rule_id, status)

    def get(self, alert_id: str) -> Alert | None:
        return get_alert(self.state, alert_id)

    def count(self, status: str | None = None) -> int:
        with self.state.connect() as con:
            if status is None:
                return con.execute("SELECT count(*) FROM alerts").fetchone()[0]
            return con.execute("SELECT count(*) FROM alerts WHERE status = ?", (status,)).fetchone()[0]


# -- rule runs ----------------------------------------------------------------------------------


@dataclass
class RuleRun:
    id: int
    rule_id: str
    rule_title: str
    window_start: str
    window_end: str
    started_at: str
    finished_at: str | None
    status: str  # running, succeeded, failed
    matched: int
    alerts: int
    error: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def record_rule_run(state: StateDB, rule_id: str, rule_title: str, window_start: datetime, window_end: datetime) -> int:
    """A run row in state ``running``; a crash leaves it so, which shows as an unfinished run."""
    return record_rule_runs(state, [(rule_id, rule_title)], window_start, window_end)[0]


def record_rule_runs(
    state: StateDB, rules: Sequence[tuple[str, str]], window_start: datetime, window_end: datetime
) -> list[int]:
    """Several run rows in one transaction (one fsync for a whole rule set, not one per rule)."""
    now = utc_now_iso()
    ids = []
    with state.transaction() as con:
        for rule_id, rule_title in rules:
            cursor = con.execute(
                "INSERT INTO rule_runs (rule_id, rule_title, window_start, window_end, started_at,"
                " status) VALUES (?, ?, ?, ?, ?, 'running')",
                (rule_id, rule_title, iso(window_start), iso(window_end), now),
            )
            ids.append(cursor.lastrowid)
    return ids


def finish_rule_run(
    state: StateDB,
    run_id: int,
    status: str,
    matched: int = 0,
    alerts: int = 0,
    error: str | None = None,
) -> None:
    finish_rule_runs(state, [(run_id, status, matched, alerts, error)])


def finish_rule_runs(state: StateDB, outcomes: Sequence[tuple[int, str, int, int, str | None]]) -> None:
    """Outcomes are (run id, status, matched, alerts, error)."""
    with state.transaction() as con:
        _finish_runs(con, outcomes)


def _finish_runs(con: sqlite3.Connection, outcomes) -> None:
    for outcome in outcomes:
        if outcome[1] not in ("succeeded", "failed"):
            raise ValueError(f"a run finishes as succeeded or failed, not {outcome[1]!r}")
    now = utc_now_iso()
    con.executemany(
        "UPDATE rule_runs SET finished_at = ?, status = ?, matched = ?, alerts = ?, error = ? WHERE id = ?",
        [(now, status, matched, alerts, error, run_id) for run_id, status, matched, alerts, error in outcomes],
    )


def last_runs(state: StateDB) -> list[RuleRun]:
    """The latest run of every rule, by rule title."""
    with state.connect() as con:
        rows = con.execute(
            """SELECT * FROM rule_runs WHERE id IN (SELECT max(id) FROM rule_runs GROUP BY rule_id)
               ORDER BY rule_title, rule_id"""
        ).fetchall()
    return [RuleRun(**dict(row)) for row in rows]


# -- correlation resume points -----------------------------------------------------------------


def record_correlation_windows(
    state: StateDB, rule_id: str, windows: Iterable[tuple[dict, datetime, datetime]]
) -> None:
    """Remember each window found (group keys, start, end), whether or not it became an alert."""
    with state.transaction() as con:
        _record_windows(con, [(rule_id, keys, start, end) for keys, start, end in windows])


def _record_windows(con: sqlite3.Connection, windows) -> None:
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
    )
