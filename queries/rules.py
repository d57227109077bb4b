"""The rule set as a person checks it: the rules that will run, and those that cannot, with why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from detections import RuleProblem, load_rules


@dataclass(frozen=True)
class RuleView:
    id: str  # the id its alerts carry
    title: str
    level: str
    kind: str  # detection or correlation
    #: False for a rule a correlation uses without ``generate: true``: it raises no alert itself.
    generates: bool
    path: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "kind": self.kind,
            "generates": self.generates,
            "path": self.path,
        }


@dataclass(frozen=True)
class RuleCatalogue:
    rules: tuple[RuleView, ...]
    problems: tuple[RuleProblem, ...]

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell rules list --json`` prints it."""
        return {"rules": [rule.to_dict() for rule in self.rules], "problems": [p.to_dict() for p in self.problems]}


def list_rules(rule_dirs: Sequence[Path]) -> RuleCatalogue:
    """Every rule under the folders, loaded and compiled as a detection run would."""
    loaded = load_rules(list(rule_dirs))
    rules = tuple(
        RuleView(
            id=rule.key,
            title=rule.title,
            level=rule.severity,
            kind=kind,
            generates=rule.generates,
            path=str(rule.path),
        )
        for kind, group in (("detection", loaded.detections), ("correlation", loaded.correlations))
        for rule in group
    )
    return RuleCatalogue(rules, tuple(loaded.problems))
