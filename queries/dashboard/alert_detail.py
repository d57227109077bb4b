"""One alert as the detail screen shows it: its history and assignee, a sample of the events it
matched (with each raw record), and a timeline of its user or address across every source.

Events are asked of the store with ``keep`` (event ids, an entity's value), which each store
renders in its own language, and only a bounded slice is turned into Python records: an alert
over 100,000 firewall events shows its first ``EVENTS_SHOWN`` and says how many it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from store.protocol import AlertChange, Store
from store.state.alert_record import Alert

#: Matched events shown (of the alert's sample of ids), and timeline entries shown per entity.
EVENTS_SHOWN = 50
TIMELINE_SHOWN = 100
#: The timeline looks this far before the alert's first and after its last event.
TIMELINE_MARGIN = timedelta(hours=1)
#: Above this many events in the margin-wide window, the timeline reads only the half hour
#: around the first event: a scanner's address must not pull a day of firewall logs.
TIMELINE_NARROW_ABOVE = 5_000
#: A raw record is shown up to this many characters (the rest is counted, not shown).
ORIGINAL_SHOWN = 8_000
#: What a line of the event lists shows beside time, dataset and id; a source without one of
#: these fields reads null there.
SUMMARY_FIELDS = (
    "event.action",
    "event.outcome",
    "user.name",
    "source.ip",
    "destination.ip",
    "destination.port",
    "message",
)


@dataclass(frozen=True)
class EventLine:
    timestamp: datetime
    dataset: str
    event_id: str
    summary: tuple[tuple[str, str], ...]  # (field, value as text) for the fields the event has
    original: str | None = None  # the raw record (cut at ORIGINAL_SHOWN), matched events only
    original_chars: int = 0  # the raw record's whole length


@dataclass(frozen=True)
class EntityTimeline:
    field: str
    value: str
    start: datetime
    end: datetime
    lines: tuple[EventLine, ...]
    total: int  # events of this entity in [start, end), every source
    per_dataset: tuple[tuple[str, int], ...]
    narrowed: bool  # the window was cut to the half hour around the first event

    @property
    def held_back(self) -> int:
        return self.total - len(self.lines)


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    assignee: str | None
    history: tuple[AlertChange, ...]
    events: tuple[EventLine, ...]  # the first matched events of the alert's sample, oldest first
    timelines: tuple[EntityTimeline, ...]


def alert_detail(store: Store, alert_id: str) -> AlertDetail | None:
    """None for an unknown alert id."""
    alert = store.alerts.get(alert_id)
    if alert is None:
        return None
    datasets = sorted(store.datasets())
    with store.state.connect() as con:
        found = con.execute("SELECT assignee FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return AlertDetail(
        alert=alert,
        assignee=found["assignee"] if found else None,
        history=tuple(store.alerts.history(alert_id)),
        events=_matched(store, alert, datasets),
        timelines=tuple(
            _timeline(store, alert, datasets, field, value)
            for field, value in sorted(alert.group_keys.items())
            if value is not None
        ),
    )


def _matched(store: Store, alert: Alert, datasets: list[str]) -> tuple[EventLine, ...]:
    ids = alert.event_ids[:EVENTS_SHOWN]
    if not ids or not datasets:
        return ()
    table = store.search(
        datasets,
        alert.first_seen,
        alert.last_seen + timedelta(microseconds=1),
        columns=[*SUMMARY_FIELDS, "event.original"],
        keep={"event.id": ids},
    )
    return _lines(table, with_original=True)


def _timeline(store: Store, alert: Alert, datasets: list[str], field: str, value: str) -> EntityTimeline:
    start, end = alert.first_seen - TIMELINE_MARGIN, alert.last_seen + TIMELINE_MARGIN
    counted = store.aggregate(None, start, end, group_by=("event.dataset",), filters={field: [value]})
    narrowed = counted.total > TIMELINE_NARROW_ABOVE
    if narrowed:
        start, end = alert.first_seen - timedelta(minutes=5), alert.first_seen + timedelta(minutes=25)
        counted = store.aggregate(None, start, end, group_by=("event.dataset",), filters={field: [value]})
    table = store.search(datasets, start, end, columns=SUMMARY_FIELDS, keep={field: [value]}) if datasets else None
    return EntityTimeline(
        field=field,
        value=value,
        start=start,
        end=end,
        lines=() if table is None else _lines(table.slice(0, TIMELINE_SHOWN), with_original=False),
        total=counted.total,
        per_dataset=tuple((str(row.keys[0]), row.count) for row in counted.rows),
        narrowed=narrowed,
    )


def _lines(table: pa.Table, with_original: bool) -> tuple[EventLine, ...]:
    lines = []
    for row in table.to_pylist():
        original = row.get("event.original") if with_original else None
        lines.append(
            EventLine(
                timestamp=row["@timestamp"],
                dataset=str(row["event.dataset"]),
                event_id=str(row["event.id"]),
                summary=tuple((name, str(row[name])) for name in SUMMARY_FIELDS if row.get(name) not in (None, "")),
                original=None if original is None else str(original)[:ORIGINAL_SHOWN],
                original_chars=0 if original is None else len(str(original)),
            )
        )
    return tuple(lines)
