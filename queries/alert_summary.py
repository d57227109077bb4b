"""A set of alerts in a few lines: how many of each severity, of each rule, and the serious ones.

The demo ends with it today; a report's summary of a period will say the same things.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from store.state.alert_record import SEVERITIES, Alert, severity_rank


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    alerts: int

    def to_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "alerts": self.alerts}


@dataclass(frozen=True)
class RuleCount:
    severity: str
    rule_title: str
    alerts: int

    def to_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "rule_title": self.rule_title, "alerts": self.alerts}


@dataclass(frozen=True)
class AlertSummary:
    total: int
    #: Most severe first; only the levels that have alerts.
    by_severity: tuple[SeverityCount, ...]
    #: Most severe first, then the rule with most alerts; ties keep the order the alerts came in.
    by_rule: tuple[RuleCount, ...]
    #: The alerts at ``serious_from`` or above, in the order they came in.
    serious: tuple[Alert, ...]
    serious_from: str

    def to_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_severity": [count.to_dict() for count in self.by_severity],
            "by_rule": [count.to_dict() for count in self.by_rule],
            "serious": [alert.to_dict() for alert in self.serious],
            "serious_from": self.serious_from,
        }


def summarise_alerts(alerts: Sequence[Alert], serious_from: str = "high") -> AlertSummary:
    """Count ``alerts`` by severity and by rule, and pick those at ``serious_from`` or above."""
    threshold = severity_rank(serious_from)
    per_level = Counter(alert.severity for alert in alerts)
    per_rule = Counter((alert.severity, alert.rule_title) for alert in alerts)  # keeps first-seen order
    by_rule = sorted(per_rule.items(), key=lambda item: (-severity_rank(item[0][0]), -item[1]))
    return AlertSummary(
        total=len(alerts),
        by_severity=tuple(SeverityCount(level, per_level[level]) for level in reversed(SEVERITIES) if per_level[level]),
        by_rule=tuple(RuleCount(level, title, count) for (level, title), count in by_rule),
        serious=tuple(alert for alert in alerts if severity_rank(alert.severity) >= threshold),
        serious_from=serious_from,
    )
