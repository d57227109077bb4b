"""One collection pass over Graph listings: fetch from the checkpoint, parse, store, then commit.

Shared by the Entra ID sign-in and Defender collectors, which differ only in what they list.
The order of work is what makes it safe to kill at any moment:

1. the window starts at the listing's checkpoint (the newest event time stored) minus an
   overlap, because Graph publishes sign-ins and alert updates minutes late;
2. each page's records are handed to the parser of its source in memory (``parse_records``:
   each record's JSON, as orjson writes it, becomes its ``event.original``; no temporary file,
   and the events are those a replay of the same records as NDJSON gives), then stored
   (``store.append`` dedupes by ``event.id``) and its rejects quarantined;
3. only when the last page is stored is the checkpoint committed.

Graph lists sign-ins newest first, so the pages of an interrupted run are the newest part of
the window: the checkpoint cannot move until the older pages are in. A failed run therefore
keeps its stored pages, leaves the checkpoint where it was, and the next run reads the window
again; the store's dedupe absorbs what was already stored. Nothing is lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from collectors.formats.records import RecordsParser
from microsoft.graph import Access, Builder, GraphFailure, GraphReader, Page
from store.batch import newest_storable
from store.protocol import Store
from store.state.checkpoints import Checkpoints, CollectorRun, RunTally


@dataclass(frozen=True)
class Listing:
    """One Graph collection a collector reads, and how its records become events."""

    key: str  # its entry in the source's checkpoint, e.g. "alerts_v2"
    builder: Builder  # client -> request builder
    time_field: str  # the Graph field the window filters on
    time_column: str  # the stored column whose newest value is the checkpoint
    parse: RecordsParser  # a format's parse_records (collectors/formats/records.py)
    access: Access  # what reading it needs, for the message when Graph refuses
    query: dict[str, Any] = dataclasses.field(default_factory=dict)  # more query parameters (top, expand)
    extra_filter: str | None = None  # ANDed to the time filter
    shape: Callable[[pa.Table], pa.Table] = lambda table: table  # last touch before storing


@dataclass
class Window:
    overlap: timedelta
    initial_lookback: timedelta


def graph_time(moment: datetime) -> str:
    """A time as Graph's ``$filter`` takes it: UTC, whole seconds (rounded down), no quotes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_listings(
    name: str,
    store: Store,
    checkpoints: Checkpoints,
    reader_factory: Callable[[], GraphReader],
    listings: list[Listing],
    window: Window,
    now: Callable[[], datetime],
) -> CollectorRun:
    """Collect every listing once and record the run; failures become the run's ``error``."""
    started = now()
    tally, error = RunTally(), None
    try:
        asyncio.run(_collect(name, store, checkpoints, reader_factory, listings, window, started, tally))
    except GraphFailure as exc:
        error = str(exc)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 — a run reports, it does not crash the daemon
        error = f"{type(exc).__name__}: {exc}"
    run = tally.finish(name, started, error, finished=now())
    checkpoints.record_run(run)
    return run


async def _collect(
    name: str,
    store: Store,
    checkpoints: Checkpoints,
    reader_factory: Callable[[], GraphReader],
    listings: list[Listing],
    window: Window,
    started: datetime,
    tally: RunTally,
) -> None:
    reader = reader_factory()
    try:
        for listing in listings:
            await _collect_listing(name, store, checkpoints, reader, listing, window, started, tally)
    finally:
        await reader.close()


async def _collect_listing(
    name: str,
    store: Store,
    checkpoints: Checkpoints,
    reader: GraphReader,
    listing: Listing,
    window: Window,
    started: datetime,
    tally: RunTally,
) -> None:
    position = checkpoints.get(name) or {}
    newest = _parse_iso(position.get(listing.key))
    since = newest - window.overlap if newest else started - window.initial_lookback
    clause = f"{listing.time_field} ge {graph_time(since)}"
    if listing.extra_filter:
        clause = f"{clause} and {listing.extra_filter}"
    listing_newest = newest
    async for page in reader.pages(listing.builder, {"filter": clause, **listing.query}, listing.access):
        page_newest = _store_page(store, listing, page, tally)
        if page_newest is not None and (listing_newest is None or page_newest > listing_newest):
            listing_newest = page_newest
    if listing_newest is not None and listing_newest != newest:
        position = checkpoints.get(name) or {}  # re-read: another listing may have committed
        position[listing.key] = listing_newest.isoformat(timespec="microseconds")
        checkpoints.commit(name, position)
    tally.saw(listing_newest)


def _store_page(store: Store, listing: Listing, page: Page, tally: RunTally) -> datetime | None:
    """Parse, store and quarantine one page; the newest event time in it."""
    if not page.records:
        return None
    batch = listing.parse([orjson.dumps(record) for record in page.records], page.url)
    events = listing.shape(batch.events)
    if events.num_rows:
        tally.count(store.append(events))
    tally.quarantined += store.state.quarantine_new(
        dataclasses.replace(q, origin=_origin(page.url, q.record)) for q in batch.quarantined
    )
    if not events.num_rows:
        return None
    return newest_storable(events.column(listing.time_column))


def _origin(url: str, record: str) -> str:
    """Where a reject came from, stable across runs: a window read again after a failed run
    meets the record again under another page link, and must not quarantine it twice."""
    return f"{url.split('?')[0]} record {hashlib.sha256(record.encode()).hexdigest()[:16]}"


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
