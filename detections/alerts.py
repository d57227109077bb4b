"""Alerts and their deterministic ids.

An alert id is SHA-256 over (rule id, group keys sorted by name, window start). The same rule on
the same events gives the same id on every run, in every process and on both stores, so a rerun,
an overlapping window or a restart after a crash updates an alert instead of raising it twice, and
the SOC partner's idempotency key is simply the id.

Two kinds of window:

* single-event rules — one alert per (rule, entity, hour of event time). Without it a burst of 300
  blocked connections from one address would be 300 alerts. The hour is a clock bucket on purpose:
  any run that sees an event puts it in the same bucket, whatever its own window was. The entity is
  the rule's ``cyberwell: {group-by: [...]}`` custom attribute if given, else the defaults of the
  datasets the rule reads (``ENTITY_FIELDS``).
* correlation rules — one alert per window found by ``detections.correlate``; group keys are the
  group-by values and the window start is the first event of the window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

#: Sigma levels, least to most severe.
SEVERITIES = ("informational", "low", "medium", "high", "critical")

#: A rule without a level: Sigma requires one, and assuming the middle keeps such an alert visible
#: to "medium and above" filters without shouting.
DEFAULT_SEVERITY = "medium"

#: Who or what a single-event alert is about, per dataset (ECS columns, see docs/events.md).
ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "azure.signinlogs": ("user.name",),
    "m365_defender.alert": ("host.name",),
    "azure.firewall": ("source.ip",),
    "fortinet.firewall": ("source.ip",),
    "panw.panos": ("source.ip",),
    "cef": ("source.ip",),
}

#: Width of the clock bucket that gathers a single-event rule's matches into one alert.
BUCKET = timedelta(hours=1)


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise ValueError(
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}"
        ) from None


def entity_fields(datasets: Iterable[str], override: Iterable[str] | None = None) -> tuple[str, ...]:
    """The fields a single-event rule's alerts are grouped by."""
    if override is not None:
        return tuple(dict.fromkeys(override))
    return tuple(dict.fromkeys(name for dataset in datasets for name in ENTITY_FIELDS.get(dataset, ())))


def bucket_start(moment: datetime) -> datetime:
    """The start of the clock hour (UTC) the moment falls in."""
    moment = moment.astimezone(timezone.utc)
    return moment.replace(minute=0, second=0, microsecond=0)


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
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


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
    ) -> "Alert":
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
        }
