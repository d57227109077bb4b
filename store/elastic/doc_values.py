"""Matched events read from doc values, not ``_source``: the columns a rule needs, column-wise.

``_source`` is the whole document as sent (the raw record is most of it); doc values are the
indexed columns, which is all a correlation or a caller of ``search`` usually asks for. Where a
column's doc values are not the value as written, the sub-field that is is read instead:

* strings (and addresses) from ``.cased``: the field itself is lower-cased for Sigma;
* times from ``date_nanos`` doc values in their nanosecond text, so microseconds stay exact;
* numbers and booleans from the field itself.

Two cases still need ``_source``: a column without doc values (the raw record, ``event.original``,
read from ``_source`` for every match, but only when asked for) and a string longer than the
mapping's ``ignore_above``, kept in ``_source`` but not indexed: Elasticsearch lists such a
document's field in ``_ignored``, so one more search finds those few documents. A plain rule's
matches are never read from ``_source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
from elasticsearch import NotFoundError

from store.elastic.search import KEEP_ALIVE, PAGE, TIMESTAMP, fetch_sources, to_table

_TIME_TYPES = ("date", "date_nanos")
#: Slices of a point in time read at once: the node answers each on its own thread.
SLICES = 2
_NANOS = "strict_date_optional_time_nanos"


def read_columns(
    client, index: str, query: dict, wanted: Sequence[str], types: dict[str, str], cased: set[str]
) -> pa.Table:
    """Every matching document's ``wanted`` columns (a column no index maps reads as null).

    ``wanted`` includes ``event.id`` (the document's ``_id``), by which the few documents with
    a string too long to index get that string from ``_source``.
    """
    plan = _Plan(wanted, types, cased)
    try:
        pit = client.open_point_in_time(index=index, keep_alive=KEEP_ALIVE, ignore_unavailable=True)["id"]
    except NotFoundError:
        return _typed([], wanted, types)
    try:
        with ThreadPoolExecutor(SLICES) as pool:
            parts = list(
                pool.map(lambda part: [plan.row(hit) for hit in _hits(client, pit, query, plan, part)], range(SLICES))
            )
    finally:
        try:
            client.close_point_in_time(id=pit)
        except Exception:  # noqa: BLE001 - it expires by itself; a failed close loses nothing
            pass
    rows = [row for part in parts for row in part]
    _fill_overlong(client, index, query, rows, plan.indexed)
    return _typed(rows, wanted, types)


class _Plan:
    """Which doc-value field answers each wanted column, and which columns need ``_source``."""

    def __init__(self, wanted: Sequence[str], types: dict[str, str], cased: set[str]):
        self.read: dict[str, str] = {}  # doc-value field -> column
        self.from_source: list[str] = []
        for name in wanted:
            es_type = types.get(name)
            if es_type is None:
                continue  # unmapped: null in every document
            if es_type == "keyword" and name not in cased:
                self.from_source.append(name)  # no value as written among the doc values
            elif _has_doc_values(es_type):
                self.read[f"{name}.cased" if name in cased else name] = name
            else:
                self.from_source.append(name)
        self.indexed = {column for field, column in self.read.items() if field.endswith(".cased")}
        self.docvalue_fields = [
            {"field": field, "format": _NANOS} if types.get(column) in _TIME_TYPES else {"field": field}
            for field, column in self.read.items()
        ]

    def row(self, hit: dict) -> dict:
        found = hit.get("fields", {})
        row = {column: found[field][0] for field, column in self.read.items() if field in found}
        source = hit.get("_source") or {}
        row.update((name, source.get(name)) for name in self.from_source)
        return row


def _has_doc_values(es_type: str) -> bool:
    return es_type not in ("text", "object", "nested")


def _hits(client, pit: str, query: dict, plan: _Plan, part: int):
    """Every matching hit of one slice of the point in time, paged with ``search_after``.

    Only doc values travel: no stored fields (not even ``_id``) are loaded, and ``filter_path``
    leaves out what each hit would repeat (its index, score); that halves the node's work per
    page. The slices are read at once, so both of a small node's cores fetch.
    """
    after = None
    while True:
        page = client.search(
            pit={"id": pit, "keep_alive": KEEP_ALIVE},
            query=query,
            size=PAGE,
            source=plan.from_source or False,
            stored_fields=None if plan.from_source else "_none_",
            docvalue_fields=plan.docvalue_fields,
            sort=[{"_shard_doc": "asc"}],
            search_after=after,
            track_total_hits=False,
            filter_path="hits.hits.fields,hits.hits._source,hits.hits.sort",
            **({"slice": {"id": part, "max": SLICES}} if SLICES > 1 else {}),
        )
        hits = (page.get("hits") or {}).get("hits", [])
        yield from hits
        if len(hits) < PAGE:
            return
        after = hits[-1]["sort"]


def _fill_overlong(client, index: str, query: dict, rows: list[dict], columns: set[str]) -> None:
    """The strings too long to be indexed, from ``_source`` of the documents that hold one
    (Elasticsearch lists such a field in ``_ignored``, which can be searched): usually none."""
    if not columns or not rows:
        return
    overlong = {"terms": {"_ignored": sorted({*columns, *(f"{name}.cased" for name in columns)})}}
    found = fetch_sources(client, index, {"bool": {"filter": [query, overlong]}}, ["event.id", *sorted(columns)])
    if not found:
        return
    by_id = {source.get("event.id"): source for source in found}
    for row in rows:
        source = by_id.get(row.get("event.id"))
        if source is not None:
            row.update((name, source[name]) for name in columns if source.get(name) is not None)


def _typed(rows: list[dict], wanted: Sequence[str], types: dict[str, str]) -> pa.Table:
    """Rows -> columns typed as the mapping says; times from their nanosecond text."""
    times = [name for name in wanted if types.get(name) in _TIME_TYPES]
    other = to_table(rows, [name for name in wanted if name not in times], types)
    columns = {}
    for name in wanted:
        if name in times:
            text = pa.array([row.get(name) for row in rows], pa.string())
            columns[name] = text.cast(pa.timestamp("ns", tz="UTC")).cast(TIMESTAMP, safe=False)
        else:
            columns[name] = other.column(name)
    return pa.table(columns)
