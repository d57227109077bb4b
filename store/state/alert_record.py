"""An alert as the state database keeps it, and its deterministic id.

The id is SHA-256 over (rule id, group keys sorted by name, window start): the same rule on the
same events gives the same id on every run, in every process and on both stores, so a rerun, an
overlapping window or a restart updates an alert instead of raising it twice, and the SOC
partner's idempotency key is simply the id. How windows and group keys are chosen is the
detection engine's business (``detections.alerts``); this module only holds the record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Sigma levels, least to most severe.
SEVERITIES = ("informational", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}") from None


def alert_id(rule_id: str, group_keys: Mapping[str, str | None], window_start: datetime) -> str:
    canonical = json.dumps(
        [rule_id, sorted(group_keys.items()), iso(window_start)],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def iso(moment: datetime) -> str:
    """One text form for times in ids and in the state database, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("alert times must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class Alert:
    id: str
    rule_id: str
    rule_title: str
    severity: str
    tags: list[str]
    group_keys: dict[str, str | None]
    first_seen: datetime
    last_seen: datetime
    event_ids: list[str]
    event_count: int
    status: str = "new"
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)
    #: Its place in the state database's change sequence (0 until stored): the last change to it.
    sequence: int = field(default=0, compare=False)

    @classmethod
    def build(
        cls,
        rule_id: str,
        rule_title: str,
        severity: str,
        tags: Iterable[str],
        group_keys: Mapping[str, str | None],
        window_start: datetime,
        first_seen: datetime,
        last_seen: datetime,
        event_ids: Iterable[str],
        event_count: int | None = None,
    ) -> Alert:
        ids = list(event_ids)
        severity_rank(severity)
        return cls(
            id=alert_id(rule_id, group_keys, window_start),
            rule_id=rule_id,
            rule_title=rule_title,
            severity=severity,
            tags=list(tags),
            group_keys=dict(group_keys),
            first_seen=first_seen,
            last_seen=last_seen,
            event_ids=ids,
            event_count=len(ids) if event_count is None else event_count,
        )

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO text in UTC."""
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "severity": self.severity,
            "tags": list(self.tags),
            "group_keys": dict(self.group_keys),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "event_ids": list(self.event_ids),
            "event_count": self.event_count,
            "status": self.status,
            "created_at": iso(self.created_at) if self.created_at else None,
            "updated_at": iso(self.updated_at) if self.updated_at else None,
            "sequence": self.sequence,
        }
