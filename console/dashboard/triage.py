"""What the triage keys do, without the interface: each is one call on the store's alerts
(``Store.alerts``), which keeps the alert's history and appends to the audit trail in the same
transaction. The screens call these in a worker and show what came back or the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from detections.exception_files import ExceptionDraft, write_exception
from store.protocol import Store
from store.state.alert_record import Alert

#: The closing reasons a person picks from, with the words shown for them.
CLOSE_REASONS = {"true_positive": "true positive", "false_positive": "false positive", "benign": "benign"}


@dataclass(frozen=True)
class ExceptionMade:
    path: Path
    alert: Alert  # as stored after closing


def acknowledge(store: Store, alert_id: str, actor: str) -> Alert:
    return store.alerts.set_status(alert_id, "acknowledged", actor)


def assign(store: Store, alert_id: str, assignee: str, actor: str) -> Alert:
    """``assignee`` blank: assigned to nobody."""
    return store.alerts.assign(alert_id, assignee, actor)


def close(store: Store, alert_id: str, reason: str, actor: str, note: str | None = None) -> Alert:
    """``ValueError`` for a reason that is not one of ``CLOSE_REASONS``."""
    return store.alerts.set_status(alert_id, "closed", actor, reason=reason, note=note or None)


def add_note(store: Store, alert_id: str, note: str, actor: str) -> Alert:
    return store.alerts.add_note(alert_id, actor, note)


def except_false_positive(
    store: Store, alert: Alert, folder: Path, actor: str, reason: str, expires: date, today: date
) -> ExceptionMade:
    """Write an exception for the alert's rule and entity (``folder``: the home's exceptions
    folder, which every detection run reads) and close the alert as a false positive, naming the
    file in its history. The file first: if it cannot be written the alert stays as it was.

    ``ExceptionFileError`` (a ``ValueError``) names what is wrong: an expiry not in the future,
    an alert with no entity value to match on, a blank reason.
    """
    where = {field: value for field, value in sorted(alert.group_keys.items()) if value is not None}
    name = f"{alert.rule_title} {' '.join(where.values())}"
    draft = ExceptionDraft(name=name, rule_id=alert.rule_id, where=where, owner=actor, reason=reason, expires=expires)
    path = write_exception(folder, draft, today)
    note = f"false positive: exception {path.name} until {expires.isoformat()} ({reason})"
    if alert.status == "closed":
        return ExceptionMade(path, store.alerts.add_note(alert.id, actor, note))
    return ExceptionMade(path, store.alerts.set_status(alert.id, "closed", actor, reason="false_positive", note=note))
