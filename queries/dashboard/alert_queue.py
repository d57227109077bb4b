"""The alert queue: alerts filtered by severity, status, rule, entity, time and free text, newest
first, bounded, with how many matched in all.

One SQLite statement over the state database's alerts (both stores keep them there). Text
filters match anywhere, case-insensitively, with ``instr`` rather than ``LIKE``: a search for
``50%`` or ``user_1`` means those characters, not wildcards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from store.protocol import Store
from store.state.alert_record import SEVERITIES, iso, severity_rank

#: The alert's entity values as text. Group keys are stored as JSON with non-ASCII characters
#: escaped (``zo\\u00eb``): json_each gives them back as written, so a search for ``zoë`` finds it.
_ENTITY_VALUES = "(SELECT coalesce(group_concat(value, ' '), '') FROM json_each(alerts.group_keys))"
#: Status choices: a stored status, or ``open`` (anything not closed), or None (every alert).
STATUS_CHOICES = ("open", "new", "acknowledged", "closed")


@dataclass(frozen=True)
class QueueFilter:
    severity_at_least: str | None = None
    status: str | None = "open"
    rule: str | None = None  # part of the rule's title or id
    entity: str | None = None  # part of an entity value (a user, an address)
    since: datetime | None = None  # its newest event at or after this time
    search: str | None = None  # part of the title, an entity, the id or the assignee

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.severity_at_least:
            allowed = SEVERITIES[severity_rank(self.severity_at_least) :]
            clauses.append(f"severity IN ({','.join('?' * len(allowed))})")
            params.extend(allowed)
        if self.status == "open":
            clauses.append("status != 'closed'")
        elif self.status:
            if self.status not in STATUS_CHOICES:
                raise ValueError(f"status: expected one of {', '.join(STATUS_CHOICES)}, got {self.status!r}")
            clauses.append("status = ?")
            params.append(self.status)
        if self.since is not None:
            clauses.append("last_seen >= ?")
            params.append(iso(self.since))
        for text, columns in (
            (self.rule, ("rule_title", "rule_id")),
            (self.entity, (_ENTITY_VALUES,)),
            (self.search, ("rule_title", _ENTITY_VALUES, "id", "coalesce(assignee, '')")),
        ):
            if text and text.strip():
                clauses.append("(" + " OR ".join(f"instr(cyberwell_fold({c}), ?) > 0" for c in columns) + ")")
                params.extend([text.strip().casefold()] * len(columns))
        return " AND ".join(clauses) or "1", params


@dataclass(frozen=True)
class QueueRow:
    id: str
    severity: str
    status: str
    rule_id: str
    rule_title: str
    entity: str  # the group keys as "field=value, ..." (values from logs: shown as text)
    first_seen: datetime
    last_seen: datetime
    event_count: int
    assignee: str | None


@dataclass(frozen=True)
class AlertQueue:
    rows: tuple[QueueRow, ...]
    total: int  # every alert the filter matches
    limit: int

    @property
    def held_back(self) -> int:
        return self.total - len(self.rows)


def alert_queue(store: Store, which: QueueFilter = QueueFilter(), limit: int = 500) -> AlertQueue:
    """Newest (by last event) first. ``ValueError`` for an unknown severity or status."""
    where, params = which.where()
    with store.state.connect() as con:
        # SQLite's lower() folds ASCII only: Élodie must be found by élodie too.
        con.create_function("cyberwell_fold", 1, _fold, deterministic=True)
        rows = con.execute(
            "SELECT id, severity, status, rule_id, rule_title, group_keys, first_seen, last_seen, event_count,"
            f" assignee FROM alerts WHERE {where} ORDER BY last_seen DESC, id LIMIT ?",
            [*params, int(limit)],
        ).fetchall()
        total = (
            len(rows)
            if len(rows) < limit
            else int(con.execute(f"SELECT count(*) FROM alerts WHERE {where}", params).fetchone()[0])
        )
    return AlertQueue(tuple(_row(row) for row in rows), total, limit)


def _fold(value: object) -> str:
    return "" if value is None else str(value).casefold()


def entity_text(group_keys: dict[str, str | None]) -> str:
    """``user.name=alice@x, source.ip=1.2.3.4``; an alert over every event says ``(all)``."""
    return ", ".join(f"{key}={'' if value is None else value}" for key, value in sorted(group_keys.items())) or "(all)"


def _row(row) -> QueueRow:
    return QueueRow(
        id=row["id"],
        severity=row["severity"],
        status=row["status"],
        rule_id=row["rule_id"],
        rule_title=row["rule_title"],
        entity=entity_text(json.loads(row["group_keys"])),
        first_seen=datetime.fromisoformat(row["first_seen"]),
        last_seen=datetime.fromisoformat(row["last_seen"]),
        event_count=row["event_count"],
        assignee=row["assignee"],
    )
