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

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from store.schema import EVENTS
from store.state.alert_record import SEVERITIES, Alert, alert_id, iso, severity_rank

__all__ = [
    "BUCKET",
    "DEFAULT_SEVERITY",
    "ENTITY_FIELDS",
    "SEVERITIES",
    "Alert",
    "alert_id",
    "bucket_start",
    "entity_fields",
    "iso",
    "severity_rank",
]

#: A rule without a level: Sigma requires one, and assuming the middle keeps such an alert visible
#: to "medium and above" filters without shouting.
DEFAULT_SEVERITY = "medium"

#: Who or what a single-event alert is about, per dataset: the event schema's ``entity`` columns.
ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    name: dataset.entity for name, dataset in EVENTS.datasets.items() if dataset.entity
}

#: Width of the clock bucket that gathers a single-event rule's matches into one alert.
BUCKET = timedelta(hours=1)


def entity_fields(datasets: Iterable[str], override: Iterable[str] | None = None) -> tuple[str, ...]:
    """The fields a single-event rule's alerts are grouped by."""
    if override is not None:
        return tuple(dict.fromkeys(override))
    return tuple(dict.fromkeys(name for dataset in datasets for name in ENTITY_FIELDS.get(dataset, ())))


def bucket_start(moment: datetime) -> datetime:
    """The start of the clock hour (UTC) the moment falls in."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)
