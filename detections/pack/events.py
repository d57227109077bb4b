"""Test events as stored rows: the rule pack's events typed by the event schema, not by guessing.

A test event names stored columns (docs/events.md) with plain YAML values. Each becomes an Arrow
row with every column of its dataset, of the dataset's column types — a port an ``int32``, ``@timestamp`` a UTC time, an object
or list the compact JSON text the parsers store — so a rule meets the same types it meets on
parsed events, on either store. A key under a vendor namespace the schema leaves open
(``fortinet.firewall.*``) is text, as the parsers keep it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from store.batch import REQUIRED_COLUMNS
from store.schema import EVENTS


class TestEventsError(ValueError):
    """A test event that cannot be stored; the message names the event and the column."""

    __test__ = False  # not a pytest test class, whatever its name


def event_tables(events: list[dict[str, Any]], what: str) -> list[pa.Table]:
    """One table per dataset of ``events`` (``what`` names them in errors: "match event 2")."""
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("event.dataset"), str):
            raise TestEventsError(f"{what}: event {index} needs an event.dataset")
        row = {"event.id": f"{_slug(what)}-{index}", **event}
        by_dataset.setdefault(event["event.dataset"], []).append(row)
    return [_table(dataset, rows, what) for dataset, rows in by_dataset.items()]


def _table(dataset: str, rows: list[dict[str, Any]], what: str) -> pa.Table:
    try:
        types = dict(EVENTS.dataset(dataset).types)
    except KeyError:
        raise TestEventsError(f"{what}: no dataset {dataset!r} in the event schema (docs/events.md)") from None
    types.update(REQUIRED_COLUMNS)
    now = datetime.now(UTC)
    # Every column of the dataset, as a parser's batch has them (null where the test says nothing).
    names = list(dict.fromkeys([*REQUIRED_COLUMNS, *types, *(name for row in rows for name in row)]))
    columns = {}
    for name in names:
        type_ = types.get(name, pa.string())
        values = [_value(row, name, type_, now) for row in rows]
        try:
            columns[name] = pa.array(values, type=type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as error:
            raise TestEventsError(f"{what}: {name} is {type_} in {dataset}: {error}") from None
    return pa.table(columns)


def _value(row: dict[str, Any], name: str, type_: pa.DataType, now: datetime) -> Any:
    """The YAML value as the column's type holds it; the required columns a test leaves out get
    what a parser would give (the time it was stored, the row as its original text)."""
    value = row.get(name)
    if value is None:
        if name == "event.ingested":
            return now
        if name == "event.original":
            return json.dumps(row, default=str, separators=(",", ":"))
        return None
    if pa.types.is_timestamp(type_) and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if pa.types.is_string(type_) and not isinstance(value, str):
        return json.dumps(value) if isinstance(value, bool) else str(value)
    return value


def _slug(what: str) -> str:
    return "-".join(what.split())
