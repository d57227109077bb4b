"""The hook that puts a detection run's alerts in the SOC webhook's outbox, atomically.

``AlertBook.save_run`` calls it inside the transaction that stores the run's alerts, so an alert
and its message are written together or not at all. A suppressed repeat (the same alert id with
more events) is an ``update`` of that alert, never a second ``new``. The body is built here, once:
every attempt later sends these exact bytes under the same idempotency key,
``<alert id>:<sequence>`` (the alert's change number, so each change is one message).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from playbooks.webhook.payload import alert_payload, body
from playbooks.webhook.settings import WebhookSettings
from store.protocol import OnSavedAlerts
from store.state.alert_record import Alert, severity_rank
from store.state.outbox import NewMessage, enqueue


def outbox_hook(settings: WebhookSettings) -> OnSavedAlerts:
    """The ``on_saved`` callable for ``run_detections`` / the ``Scheduler``."""
    floor = severity_rank(settings.min_severity)

    def on_saved(con: sqlite3.Connection, new: list[Alert], updated: list[Alert]) -> None:
        messages = [
            *_messages(new, "new", floor, settings.format),
            *_messages(updated, "update", floor, settings.format),
        ]
        enqueue(con, messages)

    return on_saved


def _messages(alerts: Iterable[Alert], kind: str, floor: int, format: str) -> list[NewMessage]:
    return [
        NewMessage(a.id, a.sequence, kind, f"{a.id}:{a.sequence}", body(alert_payload(a, kind, format)))
        for a in alerts
        if severity_rank(a.severity) >= floor
    ]
