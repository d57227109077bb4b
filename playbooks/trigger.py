"""Which playbooks an alert starts.

An alert carries its rule's id (the Sigma ``id``), severity, tags and group keys (``user.name``,
``source.ip``, ``host.name`` ...). A playbook's trigger names rules by id or by name; names are
turned into ids once, when the playbooks are loaded (``resolve_rules``), so matching here is plain
comparison. The alerts handed in are those one detection run created or changed — bounded by the
rules' caps — and the playbooks a handful, so the pairs are found in memory; queueing them is
one ``executemany`` (``store.state.playbook_runs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from playbooks.definition import Playbook, Trigger
from store.state.alert_record import Alert, severity_rank


def triggered(trigger: Trigger, alert: Alert) -> bool:
    """Whether the alert meets every criterion the trigger gives."""
    if trigger.rules and alert.rule_id not in trigger.rules:
        return False
    if trigger.tags and not set(trigger.tags) & set(alert.tags):
        return False
    if trigger.min_severity and severity_rank(alert.severity) < severity_rank(trigger.min_severity):
        return False
    return all(_field_matches(alert, name, wanted) for name, wanted in trigger.where.items())


def pairs(playbooks: Mapping[str, Playbook], alerts: Iterable[Alert]) -> list[tuple[Playbook, Alert]]:
    """Every (enabled playbook, alert) whose trigger holds, in alert order then playbook id."""
    enabled = [playbooks[key] for key in sorted(playbooks) if playbooks[key].enabled]
    return [(playbook, alert) for alert in alerts for playbook in enabled if triggered(playbook.trigger, alert)]


def resolve_rules(trigger: Trigger, rule_ids: Mapping[str, str]) -> tuple[Trigger, list[tuple[int, str]]]:
    """The trigger with rule names turned into ids, and the references no loaded rule has.

    ``rule_ids`` maps each loaded rule's id and name to its id. A reference it lacks is returned
    with its position so the loader can say where it is.
    """
    resolved: list[str] = []
    unknown: list[tuple[int, str]] = []
    for index, reference in enumerate(trigger.rules):
        if reference in rule_ids:
            resolved.append(rule_ids[reference])
        else:
            unknown.append((index, reference))
            resolved.append(reference)
    return trigger.model_copy(update={"rules": tuple(dict.fromkeys(resolved))}), unknown


def _field_matches(alert: Alert, name: str, wanted: str | tuple[str, ...]) -> bool:
    value = alert.group_keys.get(name)
    if value is None:
        return False
    patterns = (wanted,) if isinstance(wanted, str) else wanted
    return any(fnmatchcase(str(value), pattern) for pattern in patterns)
