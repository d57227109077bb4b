"""What every parser hands to the store: an Arrow table of normalised events and the rejects.

Events are ECS-named, flattened with dots (``source.ip``), one column per field, scalars only
(lists and objects that Sigma may need are kept as JSON text). Every table has the columns in
``REQUIRED_COLUMNS``. Parsers do their bulk work in DuckDB or Arrow, not row by row in Python.
The columns and their types are the event schema's (:mod:`store.schema`); the names below are
its views the stores and parsers have always imported from here.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from store.schema import EVENTS, REQUIRED, ColumnType

#: Columns every event carries, whatever its source.
REQUIRED_COLUMNS: dict[str, pa.DataType] = dict(EVENTS.group(REQUIRED).types)

#: How a parser may hand over ``event.original`` instead of ``string``: views of the export's own
#: bytes (:mod:`collectors.reading.line_views`), which the stores write and read as text.
ORIGINAL_VIEW = pa.string_view()


def plain_text(table: pa.Table) -> pa.Table:
    """``table`` with ``event.original`` as ``string`` even if it came as views: Arrow can slice
    views but not yet filter or take them, so a store copies them before it does either."""
    index = table.schema.get_field_index("event.original")
    if index < 0 or table.schema.field(index).type != ORIGINAL_VIEW:
        return table
    return table.set_column(index, "event.original", table.column(index).cast(pa.string()))


#: What most datasets add next, in this order: the ECS event fields every parser fills.
EVENT_COLUMNS: dict[str, pa.DataType] = dict(EVENTS.group("event").types)


@dataclass(frozen=True)
class Quarantined:
    """A record that could not be parsed or stored, with the reason (the state database keeps its
    first 4 KiB, its size and its SHA-256: ``store.state.database.StateDB.quarantine``)."""

    source: str  # the source kind, e.g. "entra-signins"
    reason: str  # what was wrong, for a person to read
    record: str  # the raw record as received
    origin: str = ""  # where it came from: a file path and line, a host, ...


@dataclass
class ParsedBatch:
    events: pa.Table
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.events.num_rows


def check_required(table: pa.Table) -> None:
    """Raise if a parser forgot a required column; a programming error, not bad input."""
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        raise ValueError(f"parsed events lack required columns: {', '.join(missing)}")


#: Datasets whose events are *versions* of one thing that changes (a Defender alert's status),
#: and the column that orders its versions. The stores keep every version they are given but
#: answer with the newest per ``event.id`` only, so a rule judges the alert as it is now; the
#: whole sequence is kept as events of ``HISTORY_DATASETS``. Every other dataset is append-only:
#: the first copy of an ``event.id`` is the event. A version column is a UTC timestamp (the
#: schema refuses any other).
VERSION_COLUMNS: dict[str, str] = {
    name: dataset.version_column for name, dataset in EVENTS.datasets.items() if dataset.version_column is not None
}

#: Where each replaceable dataset's versions are also kept, append-only, one event per version.
HISTORY_DATASETS: dict[str, str] = {
    name: dataset.history for name, dataset in EVENTS.datasets.items() if dataset.history is not None
}
#: A history dataset's events are its main dataset's records again: refused, they are one record.
_MAIN_DATASET = {history: name for name, history in HISTORY_DATASETS.items()}


#: The times an event may carry, from ``STORABLE_FROM`` up to but not including ``STORABLE_UNTIL``
#: (UTC). Elasticsearch keeps times as ``date_nanos`` (exact microseconds need it), which cannot
#: hold a time before 1970 or after 2262-04-11; whole years inside that, so that both stores —
#: and DuckDB and Elasticsearch queries over them — keep and find exactly the same events.
#: A time outside is a wrong clock or a placeholder (Microsoft writes 0001-01-01 for "never").
STORABLE_FROM = datetime(1970, 1, 1, tzinfo=UTC)
STORABLE_UNTIL = datetime(2262, 1, 1, tzinfo=UTC)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class Storable:
    """An events table split by :func:`storable`: the rows a store can keep and the refused."""

    events: pa.Table
    refused: list[Quarantined]


def storable(events: pa.Table) -> Storable:
    """Split ``events`` into the rows both stores can keep and, quarantined with the reason, those
    whose ``@timestamp`` is missing or whose ``@timestamp`` or version time (``VERSION_COLUMNS``)
    lies outside ``STORABLE_FROM``..``STORABLE_UNTIL``. Any other time outside the range becomes
    empty and the event is kept: it is a placeholder such as Microsoft's 0001-01-01 for "never"
    in a field no rule orders by, the event's own time is good, and ``event.original`` still
    holds what was sent.

    Both stores call this first, so one poison record is refused the same way on either and
    never stops the rest of its batch. The test is Arrow compute over the time columns; only
    the refused rows (rare) are turned into Python objects. A table with nothing to refuse is
    returned as it is, without a copy.

    Address columns are written in one spelling per address here too (``canonical_addresses``),
    so that both stores group and count addresses, not spellings.
    """
    events = canonical_addresses(_without_placeholder_times(events))
    checks = _time_checks(events)
    if not checks:
        return Storable(events, [])
    kept = checks[0][1]
    for _, fits in checks[1:]:
        kept = pc.and_(kept, fits)
    if pc.all(kept).as_py():
        return Storable(events, [])
    events = plain_text(events)
    refused = events.filter(pc.invert(kept))
    return Storable(events.filter(kept), _refusals(refused, [name for name, _ in checks]))


#: The schema's address columns (type ``ip``): kept in one spelling per address.
ADDRESS_COLUMNS = frozenset(name for name, column in EVENTS.columns().items() if column.type is ColumnType.IP)


def canonical_address(text: str) -> str:
    """``text`` as Elasticsearch's ``ip`` type gives an address back: IPv6 compressed and in lower
    case (RFC 5952, ``2001:DB8:0:0::1`` -> ``2001:db8::1``), an IPv4-mapped IPv6 address as the
    IPv4 address it is (``::ffff:10.0.0.1`` -> ``10.0.0.1``). Anything else comes back as it is:
    a dotted IPv4 address has one spelling already (one with leading zeros, ``010.0.0.1``, is no
    address to Elasticsearch or to ``|cidr`` either), and text that is not an address stays text.
    """
    if ":" not in text:
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def canonical_addresses(events: pa.Table) -> pa.Table:
    """``events`` with every address column (``ADDRESS_COLUMNS``) in the canonical spelling.

    Two spellings of one address must be one group and one distinct value (``value_count``, a
    correlation's ``group-by``) on both stores: Elasticsearch's keyword field compares text, as
    DuckDB does. ``event.original`` keeps what was sent. Only values with a ``:`` can be spelt
    two ways; those are parsed once per distinct value, and the column is rebuilt only when one
    of them changes, so a batch of IPv4 addresses costs one scan per column.
    """
    for position, column_field in enumerate(events.schema):
        if column_field.name not in ADDRESS_COLUMNS or not pa.types.is_string(column_field.type):
            continue
        canonical = _canonical_column(events.column(position))
        if canonical is not None:
            events = events.set_column(position, column_field, canonical)
    return events


def _canonical_column(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column with its spellings replaced, or None when every value is canonical already."""
    colons = pc.fill_null(pc.match_substring(column, ":"), False)
    if not pc.any(colons).as_py():
        return None
    spellings = pc.unique(column.filter(colons))
    written = spellings.to_pylist()
    canonical = [canonical_address(text) for text in written]
    if canonical == written:
        return None
    replaced = pc.take(pa.array(canonical, column.type), pc.index_in(column, value_set=spellings))
    return pc.if_else(colons, replaced, column)


#: The times an event is placed and ordered by: one outside the range refuses the event.
_DECISIVE_TIMES = frozenset({"@timestamp", *VERSION_COLUMNS.values()})


def _without_placeholder_times(events: pa.Table) -> pa.Table:
    """``events`` with every time outside the range emptied, in the columns that are not decisive."""
    for position, column_field in enumerate(events.schema):
        if column_field.name in _DECISIVE_TIMES or not pa.types.is_timestamp(column_field.type):
            continue
        column = events.column(position)
        fits = pc.fill_null(_in_range(column), True)
        if not pc.all(fits).as_py():
            emptied = pc.if_else(fits, column, pa.scalar(None, column_field.type))
            events = events.set_column(position, column_field, emptied)
    return events


def _time_checks(events: pa.Table) -> list[tuple[str, pa.ChunkedArray]]:
    """Per decisive time column, whether each row's value may be stored: ``@timestamp`` must be
    there and in range; a version time may be missing but not out of range."""
    checks = []
    for column_field in events.schema:
        if column_field.name not in _DECISIVE_TIMES or not pa.types.is_timestamp(column_field.type):
            continue
        fits = pc.fill_null(_in_range(events.column(column_field.name)), column_field.name != "@timestamp")
        checks.append((column_field.name, fits))
    checks.sort(key=lambda check: check[0] != "@timestamp")  # the event's own time is named first
    return checks


def newest_storable(column: pa.ChunkedArray) -> datetime | None:
    """The newest time in ``column`` that a store keeps. A collector moves its checkpoint to it:
    a record dated 9999 is refused by the store, and must not move the checkpoint past every
    event still to come, which would stop the source for good."""
    fits = pc.fill_null(_in_range(column), False)
    return pc.max(column.filter(fits)).as_py()


def _in_range(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each time is storable (null where there is none), compared as integers of the
    column's own unit: no cast that could overflow on the very values being tested."""
    per_second = _PER_SECOND[column.type.unit]
    counts = column.cast(pa.int64())  # in the column's own unit since the epoch
    low = int(STORABLE_FROM.timestamp()) * per_second
    high = int(STORABLE_UNTIL.timestamp()) * per_second
    return pc.and_(pc.greater_equal(counts, low), pc.less(counts, high))


def _refusals(refused: pa.Table, time_columns: list[str]) -> list[Quarantined]:
    """One quarantine entry per refused row, naming the first time column that is wrong."""
    texts = {name: pc.strftime(refused.column(name), format="%Y-%m-%dT%H:%M:%SZ").to_pylist() for name in time_columns}
    fits = {name: _in_range(refused.column(name)).to_pylist() for name in time_columns}
    datasets = refused.column("event.dataset").to_pylist()
    ids = refused.column("event.id").to_pylist()
    originals = refused.column("event.original").to_pylist()
    found = []
    for row, (dataset, event_id, original) in enumerate(zip(datasets, ids, originals)):
        wrong = next(name for name in time_columns if not _allowed(name, fits[name][row]))
        found.append(
            Quarantined(
                source=_MAIN_DATASET.get(dataset, dataset),
                reason=_time_reason(wrong, texts[wrong][row]),
                record=original or _row_text(refused.slice(row, 1)),
                origin=f"{dataset} event {event_id}",
            )
        )
    return found


def _allowed(column: str, fits: bool | None) -> bool:
    """None is a missing time: allowed everywhere but in ``@timestamp``."""
    return fits is True or (fits is None and column != "@timestamp")


def _time_reason(column: str, value: str | None) -> str:
    if value is None:
        return f"{column} is missing: an event without a time cannot be stored"
    return (
        f"{column} {value} is outside the times an event may have ({STORABLE_FROM:%Y-%m-%d} up to "
        f"{STORABLE_UNTIL:%Y-%m-%d}, UTC): the sender's clock is wrong or the time is a placeholder "
        "(0001-01-01 is Microsoft's 'never'); the other records were stored without it"
    )


def _row_text(row: pa.Table) -> str:
    """A refused row without its original record, as JSON text so nothing of it is lost."""
    text = row
    for position, column_field in enumerate(text.schema):
        if pa.types.is_timestamp(column_field.type):
            text = text.set_column(position, column_field.name, text.column(position).cast(pa.string()))
    return json.dumps(text.to_pylist()[0], default=str, ensure_ascii=False)
