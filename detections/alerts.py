"""Alerts and their deterministic ids.

An alert id is SHA-256 over (rule id, group keys sorted by name, window start). The same rule on
the same events gives the same id on every run, in every process and on both stores, so a rerun,
an overlapping window or a restart after a crash updates an alert instead of raising it twice, and
the SOC partner's idempotency key is simply the id.

Two kinds of window:

* single-event rules — one alert per (rule, entity, suppression span of event time). Without it a
  burst of 300 blocked connections from one address would be 300 alerts. The span is a clock span
  (``cyberwell: {suppress: 24h}``, an hour by default) counted from the Unix epoch on purpose: any
  run that sees an event puts it in the same alert, whatever its own window was, so a repeat inside
  the span updates the alert's count, last seen and sample of event ids, and the first repeat past
  it opens the next alert. (Elastic anchors its suppression at the first alert instead; a clock
  span keeps ids deterministic across overlapping runs, restarts and both stores.) The entity is
  the rule's ``cyberwell: {group-by: [...]}`` custom attribute if given, else the defaults of the
  datasets the rule reads (``ENTITY_FIELDS``).

At most ``max-alerts`` new alerts per rule per run (``DEFAULT_MAX_ALERTS``); the rest are counted
on the run as held back (``detections.engine``).
* correlation rules — one alert per window found by ``detections.correlate``; group keys are the
  group-by values and the window start is the first event of the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from store.schema import EVENTS
from store.state.alert_record import SEVERITIES, Alert, alert_id, iso, severity_rank

__all__ = [
    "BUCKET",
    "DEFAULT_MAX_ALERTS",
    "DEFAULT_SUPPRESSION",
    "DEFAULT_VOLUME",
    "SAMPLE_IDS",
    "AlertVolume",
    "alert_volume",
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


# -- alert volume: suppression and the cap ---------------------------------------------------------

#: Default suppression: a rule's matches for one entity within one clock span of this length
#: are one alert (its count, last seen and sample grow), as Elastic's alert suppression does.
DEFAULT_SUPPRESSION = BUCKET
#: Default cap on new alerts per rule per run (Elastic's max_signals default). What is over it is
#: counted on the run as held back, never silently dropped.
DEFAULT_MAX_ALERTS = 100
#: Event ids kept per single-event alert: a sample to start triage with; ``event_count`` is exact.
SAMPLE_IDS = 10

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class AlertVolume:
    """How a rule's alerts are gathered and bounded (``cyberwell:`` keys in the rule, else defaults)."""

    suppression: timedelta = DEFAULT_SUPPRESSION
    max_alerts: int = DEFAULT_MAX_ALERTS


#: Suppression and cap of a rule that sets neither, when the caller gives no defaults of its own.
DEFAULT_VOLUME = AlertVolume()


def parse_duration(value: object, key: str) -> timedelta:
    """``30m``, ``1h``, ``24h``, ``7d`` (or a number of seconds); whole seconds, at least one."""
    text = str(value).strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    number = text[:-1] if text[-1:] in _UNITS else text
    if not number.isdigit() or int(number) < 1:
        raise ValueError(f"'{key}' must be a duration such as 30m, 1h or 24h, got {value!r}")
    return timedelta(seconds=int(number) * _UNITS[unit])


def alert_volume(
    settings: Mapping[str, object], custom_key: str, defaults: AlertVolume = DEFAULT_VOLUME
) -> AlertVolume:
    """The rule's ``suppress`` and ``max-alerts`` settings over the defaults (the config's
    ``[detections]`` ones when the console passes them, else this module's)."""
    volume = defaults
    if settings.get("suppress") is not None:
        volume = replace(volume, suppression=parse_duration(settings["suppress"], f"{custom_key}: suppress"))
    cap = settings.get("max-alerts")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"'{custom_key}: max-alerts' must be a whole number of 1 or more, got {cap!r}")
        volume = replace(volume, max_alerts=cap)
    return volume
