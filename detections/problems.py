"""A rule, correlation or exception that cannot run or apply, named for the person who owns it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleProblem:
    name: str  # "<title> (<id>)", "exception '<name>'", or the file name when it cannot be parsed
    path: str
    reason: str
    kind: str = "rule"  # "rule", or "exception" for an allow-list entry that does not apply

    def to_dict(self) -> dict:
        return {"name": self.name, "path": self.path, "reason": self.reason}
