"""Alerts as a person asks for them: filtered, newest first, and how many a limit held back.

A list cut at its limit must say so, or part of the alerts passes for all of them: every listing
carries ``total`` (the alerts that match, counted by the store) beside the ones it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.protocol import AlertFilter, Store
from store.state.alert_record import Alert, severity_rank


@dataclass(frozen=True)
class AlertListing:
    """The alerts shown, and how many matched in all."""

    alerts: tuple[Alert, ...]
    total: int
    limit: int

    @property
    def held_back(self) -> int:
        """Matching alerts the limit kept out of ``alerts``."""
        return self.total - len(self.alerts)

    def to_dict(self) -> dict[str, object]:
        return {
            "alerts": [alert.to_dict() for alert in self.alerts],
            "total": self.total,
            "limit": self.limit,
            "held_back": self.held_back,
        }


def _listing(store: Store, where: AlertFilter, limit: int) -> AlertListing:
    shown = store.alerts.list(where, limit)
    total = len(shown) if len(shown) < limit else store.alerts.count(where)
    return AlertListing(tuple(shown), total, limit)


def list_alerts(
    store: Store,
    *,
    severity_at_least: str | None = None,
    status: str | None = None,
    rule_id: str | None = None,
    limit: int = 200,
) -> AlertListing:
    """Alerts of this severity or above, in this status, of this rule; newest (last seen) first.

    Raises ``ValueError`` for a severity that is not a Sigma level (naming the levels) and for a
    negative limit.
    """
    where = AlertFilter(status=status, severity_at_least=severity_at_least, rule_id=rule_id)
    return _listing(store, where, limit)


def alerts_first_seen_between(store: Store, start: datetime, end: datetime, limit: int = 10_000) -> AlertListing:
    """The alerts whose first event is in [start, end): what detecting that window raised.

    Most severe first, then oldest first, the order in which a person reads a run's outcome.
    """
    listing = _listing(store, AlertFilter(first_seen_from=start, first_seen_before=end), limit)
    ordered = sorted(listing.alerts, key=lambda alert: (-severity_rank(alert.severity), alert.first_seen))
    return AlertListing(tuple(ordered), listing.total, limit)
