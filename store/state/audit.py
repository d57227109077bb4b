"""The audit trail: an append-only, hash-chained log of what people and Cyberwell did.

Every approval, denial, action, delivery and triage change is one entry. Each entry's hash
covers its fields, the hash of the entry before it and its number, so changing a field,
slipping an entry in, swapping two or taking one out breaks the chain where it happened;
``audit_head`` keeps the last number and hash, so cutting the end off is found too.
``verify_audit`` (``store.state.audit_check``) walks the chain and says what was done where.

A chain in the same file only catches someone who edits rows without recomputing hashes: who
can rewrite the whole file can rewrite the whole chain. The head hash, kept somewhere else
(``cyberwell audit verify --expect-head``), closes that gap; docs/audit.md says how.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.state.audit_chain import GENESIS, AuditAnchor, entry_digest
from store.state.audit_check import AuditProblem, AuditVerdict, verify_audit
from store.state.database import StateDB, utc_now_iso

__all__ = [
    "AUDIT_KINDS",
    "GENESIS",
    "AuditAnchor",
    "AuditEntry",
    "AuditProblem",
    "AuditRecord",
    "AuditVerdict",
    "append_audit",
    "looks_secret",
    "read_head",
    "recent_audit",
    "verify_audit",
]

#: What an entry can record.
AUDIT_KINDS = ("approval", "denial", "action", "delivery", "triage", "playbook")

#: Words that make a ``detail`` key look like it carries a secret. A key is split into words at
#: ``_``, ``-``, ``.`` and camelCase humps; one of these words refuses it.
SECRET_WORDS = frozenset(
    {"secret", "password", "passwd", "pwd", "token", "key", "apikey", "authorization", "auth", "credential",
     "credentials", "cookie", "bearer", "signature", "private"}
)  # fmt: skip
#: Keys made of those words that name something public: an idempotency key is sent in the clear
#: with every webhook delivery; a key id names a key without being one.
NOT_SECRET_KEYS = frozenset({"idempotency_key", "key_id", "token_type", "public_key"})

#: Values that are credentials whatever their key is called: an HTTP Authorization value or a JWT.
_SECRET_VALUE = re.compile(
    r"(?:^\s*|authorization\W{0,3})(?:bearer|basic)\s+\S|\beyJ[\w-]{6,}\.[\w-]{6,}\.", re.IGNORECASE
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class AuditEntry:
    """One thing done, as the caller hands it to ``append_audit`` (the time is added there)."""

    actor: str  # a person ("alice"), or the process that acted ("cyberwell serve")
    kind: str  # one of AUDIT_KINDS
    subject: str  # what it is about: "alert:<id>", "playbook-run:<n>", "webhook:<outbox id>"
    what: str  # what was done, one line
    result: str  # "succeeded", "failed: <why>", "dry-run", "parked: <why>", ...
    detail: Mapping[str, Any] = field(default_factory=dict)  # JSON-able; never a secret


@dataclass(frozen=True)
class AuditRecord:
    """An entry as stored: its number, time and hashes beside what was recorded."""

    seq: int
    at: str
    actor: str
    kind: str
    subject: str
    what: str
    result: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def append_audit(con: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    """Append ``entries`` in order, inside the caller's open write transaction.

    Call it with the connection of ``StateDB.transaction()`` that makes the change being
    recorded, so the change and its entry commit together or not at all. Bulk: one read of the
    head, the hashes in a loop, one ``executemany`` and one head update.

    Refuses (``ValueError``, naming the entry and the field) a kind not in ``AUDIT_KINDS``, an
    empty actor, a detail that is not a JSON object, a detail key that looks like a secret
    (``SECRET_WORDS``) and a value that is a credential (an Authorization value, a JWT).
    """
    if not entries:
        return
    if not con.in_transaction:
        raise ValueError("append_audit needs the caller's open write transaction (StateDB.transaction())")
    at = utc_now_iso()
    seq, prev = _head_for_append(con)
    rows = []
    for index, entry in enumerate(entries):
        fields = _checked_fields(index, entry, at)
        seq += 1
        digest = entry_digest([*fields, prev], seq)
        rows.append((seq, *fields, prev, digest))
        prev = digest
    con.executemany(
        "INSERT INTO audit_log (seq, at, actor, kind, subject, what, result, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " seq = excluded.seq, hash = excluded.hash",
        (seq, prev),
    )


def _head_for_append(con: sqlite3.Connection) -> tuple[int, str]:
    """Where the next entry chains on: the head. Without a head (a fresh log, or one whose head
    was deleted) the chain restarts from ``GENESIS`` after the highest number there, so writing
    goes on and ``verify_audit`` still reports the missing head where the chain restarts."""
    head = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if head is not None:
        return int(head[0]), str(head[1])
    (last,) = con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()
    return int(last), GENESIS


def _checked_fields(index: int, entry: AuditEntry, at: str) -> tuple[str, str, str, str, str, str, str]:
    # Only the position and kind: the subject or the text may be what holds a credential.
    where = f"audit entry {index + 1} ({entry.kind[:40] or 'no kind'})"
    if entry.kind not in AUDIT_KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(AUDIT_KINDS)}, got {entry.kind[:40]!r}")
    if not entry.actor.strip():
        raise ValueError(f"{where}: the actor is empty; name the person or the process that acted")
    if not isinstance(entry.detail, Mapping):
        raise ValueError(f"{where}: detail must be a mapping (a JSON object), got {type(entry.detail).__name__}")
    _refuse_secrets(where, "detail", entry.detail)
    lines = {"actor": entry.actor, "subject": entry.subject, "what": entry.what, "result": entry.result}
    for name, line in lines.items():
        _refuse_secret_value(where, name, line)
    try:
        detail = json.dumps(entry.detail, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: detail must be JSON-able (strings, numbers, lists, objects): {error}") from None
    fields = (at, entry.actor, entry.kind, entry.subject, entry.what, entry.result, detail)
    for name, value in lines.items():
        if not _utf8(value):
            raise ValueError(f"{where}: {name} is not valid text (it holds an unpaired surrogate)")
    return fields


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_secrets(where: str, path: str, value: object) -> None:
    """Walk a detail value; refuse a key that names a secret or a value that is a credential."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            name = str(key)
            if looks_secret(name):
                raise ValueError(
                    f"{where}: {path}.{name[:60]} looks like it holds a secret (a key naming "
                    f"{', '.join(sorted(SECRET_WORDS & set(_words(name))))}); the audit trail never "
                    "keeps secrets: leave it out, or name what it is if it is public"
                )
            _refuse_secrets(where, f"{path}.{name[:60]}", inner)
    elif isinstance(value, list | tuple):
        for position, inner in enumerate(value):
            _refuse_secrets(where, f"{path}[{position}]", inner)
    else:
        _refuse_secret_value(where, path, value)


def _refuse_secret_value(where: str, path: str, value: object) -> None:
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        raise ValueError(f"{where}: {path} holds a credential (an Authorization value or a token); it is not kept")


def _words(name: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(name)]


def looks_secret(name: str) -> bool:
    """Whether a detail key looks like it names a secret (``client_secret``, ``apiKey``)."""
    words = _words(name)
    return "_".join(words) not in NOT_SECRET_KEYS and any(word in SECRET_WORDS for word in words)


# -- reading -----------------------------------------------------------------------------------


def read_head(state: StateDB) -> AuditAnchor | None:
    """The head as stored: the last entry's number and hash, None before the first entry."""
    with state.connect() as con:
        row = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return None if row is None else AuditAnchor(int(row[0]), str(row[1]))


def recent_audit(
    state: StateDB, *, kind: str | None = None, subject: str | None = None, limit: int = 50
) -> list[AuditRecord]:
    """The newest entries first, at most ``limit``, of one kind and/or one subject."""
    if limit < 0:
        raise ValueError(f"the limit must be 0 or more, got {limit}")
    if kind is not None and kind not in AUDIT_KINDS:
        raise ValueError(f"the kind must be one of {', '.join(AUDIT_KINDS)}, got {kind[:40]!r}")
    clauses, params = ["1 = 1"], []
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    if subject is not None:
        clauses.append("subject = ?")
        params.append(subject)
    with state.connect() as con:
        rows = con.execute(
            f"SELECT * FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?", [*params, limit]
        ).fetchall()
    return [record_from_row(row) for row in rows]


def record_from_row(row: sqlite3.Row) -> AuditRecord:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        detail = {"unreadable": row["detail"][:200]}
    return AuditRecord(
        seq=int(row["seq"]),
        at=row["at"],
        actor=row["actor"],
        kind=row["kind"],
        subject=row["subject"],
        what=row["what"],
        result=row["result"],
        detail=detail if isinstance(detail, dict) else {"value": detail},
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
