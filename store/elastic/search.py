"""Events out of Elasticsearch: every match of a Lucene query, as the embedded store's Arrow table.

Two things keep the answers identical to the embedded store's, whatever the mapping says:
- A ``date`` field keeps milliseconds, events keep microseconds. The cluster is asked for a window
  widened to whole milliseconds, then the exact ``start <= @timestamp < end`` test and the
  ``(@timestamp, event.id)`` order are applied in Arrow to the times read from ``_source``, which
  holds them exactly as written.
- Every match is read: pages follow a point in time with ``search_after``, never the 10,000-hit
  window of a plain search.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from elasticsearch import NotFoundError

TIMESTAMP = pa.timestamp("us", tz="UTC")
PAGE = 10_000
KEEP_ALIVE = "2m"

#: Elasticsearch field type -> the Arrow type a column of it reads as.
ARROW_TYPES: dict[str, pa.DataType] = {
    "long": pa.int64(),
    "integer": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "unsigned_long": pa.uint64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "half_float": pa.float32(),
    "scaled_float": pa.float64(),
    "boolean": pa.bool_(),
    "date": TIMESTAMP,
    "date_nanos": TIMESTAMP,
}


def arrow_type(es_type: str) -> pa.DataType:
    """keyword, text, ip and anything else textual read as strings."""
    return ARROW_TYPES.get(es_type, pa.string())


def field_types(mappings: dict) -> dict[str, str]:
    """Column -> Elasticsearch type, the union over the indices of a ``get_mapping`` answer.

    Flat dotted names (``subobjects: false``) and nested objects give the same dotted columns.
    Where indices disagree about a field, it reads as a string, which every value can be.
    """
    union: dict[str, str] = {}
    for body in mappings.values():
        for name, es_type in _walk(body.get("mappings", {}).get("properties", {}), ""):
            if union.setdefault(name, es_type) != es_type:
                union[name] = "keyword"
    return union


def with_sub_field(mappings: dict, sub_field: str) -> set[str]:
    """The columns that have ``sub_field`` (``cased``, say) in some index of a ``get_mapping`` answer."""
    return {
        name
        for body in mappings.values()
        for name, spec in _walk(body.get("mappings", {}).get("properties", {}), "", specs=True)
        if sub_field in spec.get("fields", {})
    }


def _walk(properties: dict, parent: str, specs: bool = False):
    """(column, type) of every leaf field, or (column, its mapping) with ``specs``."""
    for name, spec in properties.items():
        path = f"{parent}{name}"
        if "properties" in spec:
            yield from _walk(spec["properties"], f"{path}.", specs)
        else:
            yield path, spec if specs else spec.get("type", "object")


def iso_millis(moment: datetime, round_up: bool = False) -> str:
    """The moment cut to whole milliseconds (or the next one up), as ISO 8601 UTC."""
    if moment.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware (UTC)")
    moment = moment.astimezone(UTC)
    cut = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if round_up:
        cut += timedelta(milliseconds=1)
    return cut.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cut.microsecond // 1000:03d}Z"


def iso_micros(moment: datetime) -> str:
    """The moment to the microsecond, as ISO 8601 UTC: exact for a ``date_nanos`` field."""
    if moment.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_query(datasets: Sequence[str], start: datetime, end: datetime, query: str | None) -> dict:
    """The window and datasets as filters, the rule's Lucene text (None: every event) as a
    ``query_string``."""
    window = {"range": {"@timestamp": {"gte": iso_millis(start), "lt": iso_millis(end, round_up=True)}}}
    return {"bool": {"filter": [window, *rule_clauses(datasets, query)]}}


def rule_clauses(datasets: Sequence[str], query: str | None) -> list[dict]:
    """The datasets and the rule's Lucene text as filter clauses, without a time range."""
    filters: list[dict] = [{"terms": {"event.dataset": list(datasets)}}]
    if query is not None and query.strip() not in ("", "*"):
        filters.append(
            {
                "query_string": {
                    "query": query,
                    "default_operator": "AND",
                    "allow_leading_wildcard": True,
                    "analyze_wildcard": False,
                }
            }
        )
    return filters


def fetch_sources(client, index: str, query: dict, fields: Sequence[str]) -> list[dict]:
    """The ``_source`` (only ``fields``) of every document matching, in no particular order."""
    try:
        pit = client.open_point_in_time(index=index, keep_alive=KEEP_ALIVE, ignore_unavailable=True)
    except NotFoundError:
        return []
    pit_id = pit["id"]
    sources: list[dict] = []
    after = None
    try:
        while True:
            page = client.search(
                pit={"id": pit_id, "keep_alive": KEEP_ALIVE},
                query=query,
                size=PAGE,
                source_includes=list(fields),
                sort=[{"_shard_doc": "asc"}],
                search_after=after,
                track_total_hits=False,
            )
            pit_id = page.get("pit_id", pit_id)
            hits = page["hits"]["hits"]
            sources.extend(hit["_source"] for hit in hits)
            if len(hits) < PAGE:
                return sources
            after = hits[-1]["sort"]
    finally:
        try:
            client.close_point_in_time(id=pit_id)
        except Exception:  # noqa: BLE001 - it expires by itself; a failed close loses nothing
            pass


def to_table(sources: list[dict], wanted: Sequence[str], types: dict[str, str]) -> pa.Table:
    """Documents -> columns typed as the mapping says; a column no index maps reads as null text."""
    columns = {}
    for name in wanted:
        target = arrow_type(types[name]) if name in types else pa.string()
        values = [source.get(name) for source in sources]
        columns[name] = _column(values, target)
    return pa.table(columns)


def _column(values: list, target: pa.DataType) -> pa.Array:
    if target == TIMESTAMP:
        return pa.array(values, pa.string()).cast(TIMESTAMP)
    try:
        return pa.array(values, target)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # _source keeps a value as it was sent: "443" in a long field, say.
        return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(target)


def exact_window(table: pa.Table, start: datetime, end: datetime, order: bool) -> pa.Table:
    """Apply the microsecond window the cluster could only approximate, then the store's order."""
    stamps = table.column("@timestamp")
    keep = pc.and_(pc.greater_equal(stamps, pa.scalar(start, TIMESTAMP)), pc.less(stamps, pa.scalar(end, TIMESTAMP)))
    table = table.filter(keep)
    if order and table.num_rows:
        table = table.sort_by([("@timestamp", "ascending"), ("event.id", "ascending"), ("event.dataset", "ascending")])
    return table
