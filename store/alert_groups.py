"""The shape of ``Store.alert_groups`` answers, shared by both stores so that they agree.

Each store counts and groups inside itself (DuckDB SQL over the segments, an Elasticsearch
composite aggregation); what they share is the request's checks, the columns of the rows they
return and the order those rows are kept in: by first seen, then the entity values with a
missing value last, which is the order the cap keeps the earliest groups by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pyarrow as pa

from store.protocol import AlertGroupQuery, AlertGroups

TIMESTAMP = pa.timestamp("us", tz="UTC")


def checked(asked: AlertGroupQuery) -> AlertGroupQuery:
    """The request, or ValueError naming what no store can answer."""
    if asked.span < timedelta(seconds=1) or asked.span % timedelta(milliseconds=1):
        raise ValueError(f"span must be a whole number of milliseconds, at least a second, got {asked.span}")
    if asked.max_new < 0 or asked.sample < 0:
        raise ValueError(f"max_new and sample must be 0 or more, got {asked.max_new} and {asked.sample}")
    if asked.since.tzinfo is None or asked.end.tzinfo is None:
        raise ValueError("since and end must be timezone-aware (UTC)")
    widths = {len(group.keys) for group in asked.known} - {len(asked.entity)}
    if widths:
        raise ValueError(f"a known group has {widths.pop()} keys for {len(asked.entity)} entity fields")
    return asked


def key_names(asked: AlertGroupQuery) -> list[str]:
    """The rows' key columns: ``k0``.. by position (entity names may be anything)."""
    return [f"k{position}" for position in range(len(asked.entity))]


def schema(asked: AlertGroupQuery) -> pa.Schema:
    return pa.schema(
        [
            *((name, pa.string()) for name in key_names(asked)),
            ("window_start", TIMESTAMP),
            ("first_seen", TIMESTAMP),
            ("last_seen", TIMESTAMP),
            ("event_count", pa.int64()),
            ("event_ids", pa.list_(pa.string())),
            ("known", pa.bool_()),
        ]
    )


def empty(asked: AlertGroupQuery, matched: int = 0, excepted: int = 0) -> AlertGroups:
    return AlertGroups(schema(asked).empty_table(), 0, matched, excepted)


def order_key(first_seen_micros: int, keys: Sequence[str | None]) -> tuple:
    """Sort key of a group: first seen, then its keys with a missing value after every text."""
    return (first_seen_micros, *((value is None, value or "") for value in keys))
