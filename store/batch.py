"""What every parser hands to the store: an Arrow table of normalised events and the rejects.

Events are ECS-named, flattened with dots (``source.ip``), one column per field, scalars only
(lists and objects that Sigma may need are kept as JSON text). Every table has the columns in
``REQUIRED_COLUMNS``. Parsers do their bulk work in DuckDB or Arrow, not row by row in Python.
The columns and their types are the event schema's (:mod:`store.schema`); the names below are
its views the stores and parsers have always imported from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from store.schema import EVENTS, REQUIRED

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
    """A record that could not be parsed, kept verbatim with the reason."""

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
