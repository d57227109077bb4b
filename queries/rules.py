"""The rule set as a person checks it: the rules that will run, and those that cannot, with why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from detections import AlertVolume, RuleProblem, load_rules
from detections.alerts import DEFAULT_VOLUME
from detections.pack.checks import what_to_do
from detections.scheduling.schedule import Schedule, schedule_groups


@dataclass(frozen=True)
class RuleView:
    id: str  # the id its alerts carry
    title: str
    level: str
    kind: str  # detection or correlation
    #: False for a rule a correlation uses without ``generate: true``: it raises no alert itself.
    generates: bool
    path: str
    #: The rule's note for whoever handles its alert (``cyberwell: {what-to-do: ...}``).
    what_to_do: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "kind": self.kind,
            "generates": self.generates,
            "path": self.path,
            "what_to_do": self.what_to_do,
        }


@dataclass(frozen=True)
class RuleCatalogue:
    rules: tuple[RuleView, ...]
    problems: tuple[RuleProblem, ...]

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell rules list --json`` prints it."""
        return {"rules": [rule.to_dict() for rule in self.rules], "problems": [p.to_dict() for p in self.problems]}


def list_rules(
    rule_dirs: Sequence[Path], exception_dirs: Sequence[Path] = (), defaults: AlertVolume = DEFAULT_VOLUME
) -> RuleCatalogue:
    """Every rule under the folders, loaded and compiled as a detection run would: with the same
    exception folders and defaults, so a problem ``detect`` would report is listed here too."""
    loaded = load_rules(list(rule_dirs), exception_dirs=exception_dirs, defaults=defaults)
    # A wrong schedule value does not depend on the defaults: any schedule finds it.
    groups, schedule_problems = schedule_groups(loaded, Schedule())
    scheduled = {key for group in groups for key in group.rule_keys}
    rules = tuple(
        RuleView(
            id=rule.key,
            title=rule.title,
            level=rule.severity,
            kind=kind,
            generates=rule.generates,
            path=str(rule.path),
            what_to_do=what_to_do(rule.rule),
        )
        for kind, group in (("detection", loaded.detections), ("correlation", loaded.correlations))
        for rule in group
        if rule.key in scheduled
    )
    return RuleCatalogue(rules, (*loaded.problems, *schedule_problems))
