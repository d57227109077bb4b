"""What the SOC partner receives: a versioned JSON body per alert change or playbook notice.

Two shapes of alert, chosen in ``[webhook].format``: an ECS-flavoured document (the default; the
field names a SIEM that speaks Elastic Common Schema maps without effort) and an OCSF 1.x
Detection Finding (class 2004). A playbook's notice has one small shape of its own. Each shape
is described by a JSON Schema shipped beside this module (``schemas/``), and its version is in
the body, so a receiver can tell what it parses. The body is built once, when the message is
written, and every attempt sends the same bytes. Nothing here ever holds a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from store.state.alert_record import Alert, iso

SCHEMA_VERSION = "1.0"
#: Event ids in a payload: enough to find the events, not the whole sample.
SAMPLE_IDS = 20
#: The OCSF version the Detection Finding follows.
OCSF_VERSION = "1.3.0"

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_TACTICS = {
    "reconnaissance": "TA0043",
    "resource_development": "TA0042",
    "initial_access": "TA0001",
    "execution": "TA0002",
    "persistence": "TA0003",
    "privilege_escalation": "TA0004",
    "defense_evasion": "TA0005",
    "credential_access": "TA0006",
    "discovery": "TA0007",
    "lateral_movement": "TA0008",
    "collection": "TA0009",
    "command_and_control": "TA0011",
    "exfiltration": "TA0010",
    "impact": "TA0040",
}
#: ECS ``event.severity`` is a number; Elastic's detection rules use these for the Sigma levels.
_ECS_SEVERITY = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
_OCSF_SEVERITY = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_OCSF_STATUS = {"new": (1, "New"), "acknowledged": (2, "In Progress"), "closed": (4, "Resolved")}


def techniques(tags: list[str]) -> list[str]:
    """ATT&CK technique ids from Sigma tags (``attack.t1110.003`` -> ``T1110.003``)."""
    return [m.group(1).upper() for m in map(_TECHNIQUE.match, tags) if m]


def tactics(tags: list[str]) -> list[str]:
    """ATT&CK tactic names from Sigma tags (``attack.credential-access`` or the older
    ``attack.credential_access``), as ``credential_access``."""
    names = [tag[7:].lower().replace("-", "_") for tag in tags if tag.lower().startswith("attack.")]
    return [name for name in names if name in _TACTICS]


def _entity(alert: Alert) -> dict[str, str | None]:
    return dict(sorted(alert.group_keys.items()))


def ecs_alert(alert: Alert, kind: str) -> dict:
    return {
        "@timestamp": iso(alert.last_seen),
        "message": f"{alert.rule_title} ({alert.severity})",
        "event": {
            "kind": "alert",
            "id": alert.id,
            "sequence": alert.sequence,
            "severity": _ECS_SEVERITY[alert.severity],
            "start": iso(alert.first_seen),
            "end": iso(alert.last_seen),
        },
        "rule": {"id": alert.rule_id, "name": alert.rule_title},
        "tags": list(alert.tags),
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": {"id": techniques(alert.tags)},
            "tactic": {"name": tactics(alert.tags)},
        },
        "cyberwell": {**_common(alert, kind), "schema": "cyberwell.alert.ecs"},
    }


def ocsf_alert(alert: Alert, kind: str) -> dict:
    activity_id, activity = (1, "Create") if kind == "new" else (2, "Update")
    status_id, status = _OCSF_STATUS.get(alert.status, (99, "Other"))
    attacks: list[dict] = [{"technique": {"uid": t}} for t in techniques(alert.tags)]
    attacks += [{"tactic": {"uid": _TACTICS[t], "name": t}} for t in tactics(alert.tags)]
    return {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": 2004 * 100 + activity_id,
        "type_name": f"Detection Finding: {activity}",
        "severity_id": _OCSF_SEVERITY[alert.severity],
        "severity": alert.severity.capitalize(),
        "status_id": status_id,
        "status": status,
        "time": _millis(alert.updated_at or alert.last_seen),
        "count": alert.event_count,
        "message": alert.rule_title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Cyberwell", "vendor_name": "Cyberwell"},
            "uid": f"{alert.id}:{alert.sequence}",
            "sequence": alert.sequence,
        },
        "finding_info": {
            "uid": alert.id,
            "title": alert.rule_title,
            "analytic": {"uid": alert.rule_id, "name": alert.rule_title, "type_id": 1, "type": "Rule"},
            "first_seen_time": _millis(alert.first_seen),
            "last_seen_time": _millis(alert.last_seen),
            "attacks": attacks,
            "types": list(alert.tags),
        },
        "observables": [
            {"name": name, "type_id": 0, "type": "Unknown", "value": value}
            for name, value in _entity(alert).items()
            if value is not None
        ],
        "unmapped": {"cyberwell": {**_common(alert, kind), "schema": "cyberwell.alert.ocsf"}},
    }


def _common(alert: Alert, kind: str) -> dict:
    """What both shapes carry in Cyberwell's own words."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "alert_id": alert.id,
        "sequence": alert.sequence,
        "severity": alert.severity,
        "status": alert.status,
        "event_count": alert.event_count,
        "sample_event_ids": list(alert.event_ids[:SAMPLE_IDS]),
        "entity": _entity(alert),
        "first_seen": iso(alert.first_seen),
        "last_seen": iso(alert.last_seen),
    }


#: The alert shapes, by ``[webhook].format``.
ALERT_SHAPES: dict[str, Callable[[Alert, str], dict]] = {"ecs": ecs_alert, "ocsf": ocsf_alert}
#: The schema file of each shape (``notice`` is a playbook's message, whatever the format).
SCHEMA_FILES = {"ecs": "alert-ecs-v1.json", "ocsf": "alert-ocsf-v1.json", "notice": "notice-v1.json"}


def alert_payload(alert: Alert, kind: str, format: str) -> dict:
    if kind not in ("new", "update"):
        raise ValueError(f"an alert message is new or update, not {kind!r}")
    return ALERT_SHAPES[format](alert, kind)


def notice_payload(summary: str, alert_id: str | None, key: str, at: datetime | None = None) -> dict:
    """A playbook's message to the SOC: a line of text, about an alert or not."""
    return {
        "cyberwell": {"schema": "cyberwell.notice", "schema_version": SCHEMA_VERSION, "kind": "playbook"},
        "@timestamp": iso(at or datetime.now(UTC)),
        "message": summary,
        "alert_id": alert_id,
        "notice_id": key,
    }


def body(payload: dict) -> str:
    """The exact text sent: compact, keys sorted, UTF-8 as is."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@cache
def schema(name: str) -> dict:
    """A shipped JSON Schema by shape name (``ecs``, ``ocsf``, ``notice``)."""
    text = resources.files("playbooks.webhook").joinpath("schemas", SCHEMA_FILES[name]).read_text(encoding="utf-8")
    return json.loads(text)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
