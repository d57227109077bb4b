"""The SOC webhook's outbox in the state database: what is to be sent, and what became of it.

A message is written by whoever changes what it reports, inside that change's own transaction
(``enqueue``), so a crash never leaves an alert stored and unsent, nor a message about an alert
never stored. The deliverer then claims due messages in bulk, sends them, and settles them in
bulk: delivered, tried again later, or parked with the reason. Every delivered or parked message
is written to the audit trail in the transaction that marks it.

Two rules keep delivery honest without a lock held across the network:

* A claim moves a message's ``next_attempt_at`` a lease ahead and counts the attempt. A
  deliverer killed mid-flight leaves it pending, due again when the lease runs out: nothing is
  lost, and at worst it is sent twice with the same idempotency key.
* Only the oldest pending message of an alert can be claimed, so an update never overtakes the
  message before it; a settlement applies only to the claim it answers (same attempt number).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.state.audit import AuditEntry, append_audit
from store.state.database import StateDB, utc_now_iso

#: What a message reports, and the ``X-Cyberwell-Event`` header it is sent with.
EVENTS = {"new": "alert.new", "update": "alert.update", "playbook": "playbook"}
_CHUNK = 500


@dataclass(frozen=True)
class NewMessage:
    """A message to write; ``payload`` is the exact body every attempt will send."""

    alert_id: str
    sequence: int
    kind: str  # new, update or playbook
    idempotency_key: str
    payload: str


@dataclass(frozen=True)
class Claimed:
    """A message a deliverer holds until its lease runs out; ``attempts`` includes this one."""

    id: int
    alert_id: str
    sequence: int
    kind: str
    idempotency_key: str
    payload: str
    attempts: int

    @property
    def event(self) -> str:
        return EVENTS[self.kind]


@dataclass(frozen=True)
class Delivered:
    id: int
    attempts: int
    status: int  # the receiver's HTTP status


@dataclass(frozen=True)
class Retry:
    id: int
    attempts: int
    at: datetime
    error: str


@dataclass(frozen=True)
class Park:
    id: int
    attempts: int
    reason: str


Settlement = Delivered | Retry | Park


@dataclass(frozen=True)
class ParkedMessage:
    id: int
    alert_id: str
    kind: str
    attempts: int
    reason: str
    parked_at: str


@dataclass(frozen=True)
class OutboxStatus:
    """Counts by state, how many pending ones are due now, and the parked messages (newest first)."""

    pending: int
    due: int
    delivered: int
    parked: int
    oldest_pending: str | None
    parked_messages: list[ParkedMessage]

    def to_dict(self) -> dict:
        return {
            "pending": self.pending,
            "due": self.due,
            "delivered": self.delivered,
            "parked": self.parked,
            "oldest_pending": self.oldest_pending,
            "parked_messages": [m.__dict__ for m in self.parked_messages],
        }


def enqueue(con: sqlite3.Connection, messages: Sequence[NewMessage]) -> None:
    """Write messages in the caller's open transaction, due at once. A message whose idempotency
    key is already there is not written twice (a retried playbook step, a re-saved run)."""
    now = utc_now_iso()
    con.executemany(
        "INSERT INTO webhook_outbox (alert_id, sequence, kind, idempotency_key, payload, created_at,"
        " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        [(m.alert_id, m.sequence, _kind(m.kind), m.idempotency_key, m.payload, now, now) for m in messages],
    )


def _kind(kind: str) -> str:
    if kind not in EVENTS:
        raise ValueError(f"an outbox message is one of {', '.join(EVENTS)}, not {kind!r}")
    return kind


def claim_due(state: StateDB, limit: int, lease: timedelta, now: datetime | None = None) -> list[Claimed]:
    """Claim up to ``limit`` due messages, each the oldest pending one of its alert, oldest due
    first; each stays claimed for ``lease`` (then it is due again unless settled)."""
    moment = now or datetime.now(UTC)
    with state.transaction() as con:
        rows = con.execute(
            """UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?
               WHERE id IN (
                   SELECT id FROM webhook_outbox o
                   WHERE state = 'pending' AND next_attempt_at <= ?
                     AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
                                     WHERE p.state = 'pending' AND p.alert_id = o.alert_id AND p.id < o.id)
                   ORDER BY next_attempt_at, id LIMIT ?)
               RETURNING id, alert_id, sequence, kind, idempotency_key, payload, attempts""",
            (_iso(moment + lease), _iso(moment), int(limit)),
        ).fetchall()
    return sorted((Claimed(*row) for row in rows), key=lambda m: m.id)


def settle(state: StateDB, settlements: Sequence[Settlement], actor: str, target: str) -> int:
    """Record what became of claimed messages, in one transaction with their audit entries.

    A settlement whose claim is stale (the message was claimed again after its lease ran out,
    or replayed) is ignored: the newer claim decides. Returns how many were applied. ``target``
    names the receiver for the audit trail (host and port, never a secret in a URL).
    """
    if not settlements:
        return 0
    now = utc_now_iso()
    with state.transaction() as con:
        current = _pending_claims(con, [s.id for s in settlements])
        live = [s for s in settlements if s.id in current and current[s.id][0] == s.attempts]
        con.executemany(
            "UPDATE webhook_outbox SET state = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ?",
            [(now, s.id) for s in live if isinstance(s, Delivered)],
        )
        con.executemany(
            "UPDATE webhook_outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
            [(_iso(s.at), s.error, s.id) for s in live if isinstance(s, Retry)],
        )
        con.executemany(
            "UPDATE webhook_outbox SET state = 'parked', parked_at = ?, last_error = ? WHERE id = ?",
            [(now, s.reason, s.id) for s in live if isinstance(s, Park)],
        )
        append_audit(con, [_audit(s, current[s.id], actor, target) for s in live if not isinstance(s, Retry)])
    return len(live)


def _pending_claims(con: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[int, str, int, str, str]]:
    """id -> (attempts, alert id, sequence, kind, idempotency key) of the pending ones."""
    found: dict[int, tuple[int, str, int, str, str]] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        rows = con.execute(
            "SELECT id, attempts, alert_id, sequence, kind, idempotency_key FROM webhook_outbox"
            f" WHERE state = 'pending' AND id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        found.update((row[0], tuple(row[1:])) for row in rows)
    return found


def _audit(s: Delivered | Park, row: tuple[int, str, int, str, str], actor: str, target: str) -> AuditEntry:
    attempts, alert_id, sequence, kind, key = row
    detail: dict[str, object] = {"alert_id": alert_id, "sequence": sequence, "idempotency_key": key}
    detail["attempts"] = attempts
    if isinstance(s, Delivered):
        detail["status"] = s.status
        result = "succeeded"
    else:
        result = f"parked: {s.reason}"
    about = alert_id if alert_id.startswith("playbook:") else f"alert:{alert_id}"
    what = f"{EVENTS[kind]} for {about} to {target}"
    return AuditEntry(actor, "delivery", f"webhook:{s.id}", what, result, detail)


def outbox_status(state: StateDB, parked_limit: int = 50, now: datetime | None = None) -> OutboxStatus:
    moment = _iso(now or datetime.now(UTC))
    with state.connect() as con:
        counts = dict(con.execute("SELECT state, count(*) FROM webhook_outbox GROUP BY state").fetchall())
        due, oldest = con.execute(
            "SELECT count(*) FILTER (WHERE next_attempt_at <= ?), min(created_at) FROM webhook_outbox"
            " WHERE state = 'pending'",
            (moment,),
        ).fetchone()
        parked = con.execute(
            "SELECT id, alert_id, kind, attempts, coalesce(last_error, ''), parked_at FROM webhook_outbox"
            " WHERE state = 'parked' ORDER BY parked_at DESC, id DESC LIMIT ?",
            (int(parked_limit),),
        ).fetchall()
    return OutboxStatus(
        pending=counts.get("pending", 0),
        due=due or 0,
        delivered=counts.get("delivered", 0),
        parked=counts.get("parked", 0),
        oldest_pending=oldest,
        parked_messages=[ParkedMessage(*row) for row in parked],
    )


def replay_parked(state: StateDB, ids: Sequence[int] | None, actor: str = "cyberwell webhook replay") -> list[int]:
    """Make parked messages pending and due now with a fresh count of attempts (``ids`` None:
    every parked one); return the ids replayed. Ids that are not parked are left alone. Each
    replay is written to the audit trail."""
    now = utc_now_iso()
    with state.transaction() as con:
        if ids is None:
            chosen = [row[0] for row in con.execute("SELECT id FROM webhook_outbox WHERE state = 'parked' ORDER BY id")]
        else:
            wanted = sorted({int(i) for i in ids})
            chosen = []
            for offset in range(0, len(wanted), _CHUNK):
                chunk = wanted[offset : offset + _CHUNK]
                chosen += [
                    row[0]
                    for row in con.execute(
                        f"SELECT id FROM webhook_outbox WHERE state = 'parked' AND id IN ({','.join('?' * len(chunk))})",
                        chunk,
                    )
                ]
        con.executemany(
            "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, parked_at = NULL"
            " WHERE id = ?",
            [(now, i) for i in chosen],
        )
        append_audit(
            con, [AuditEntry(actor, "delivery", f"webhook:{i}", "replay parked message", "pending") for i in chosen]
        )
    return chosen


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
