"""``Store.alert_groups`` for Elasticsearch: the groups are counted and sampled by the cluster.

Two passes of a composite aggregation over (span, entity values), paged with ``after_key``:

1. over ``[since, end)``, keys only (``filter_path`` keeps just the span of each group): how many
   groups each span holds, so the total is exact and the spans that can hold the first
   ``max_new`` new groups are known without reading any event;
2. over those spans and the spans of the known groups, from the start of the first span: per group
   its event count (``doc_count``), its first ``sample`` events by (``@timestamp``,
   ``event.id``) and its last one, read from the hits' sort values (doc values, never
   ``_source``). ``date_nanos`` sort values are nanoseconds, so times stay exact to the µs.

Groups in an earlier span were all first seen before any group of a later span, which is why
whole spans up to the one where the count reaches ``max_new`` plus the known groups can hold
every group the cap keeps. The pick by (first seen, keys) is then made here on those few rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import pyarrow as pa

import store.alert_groups as alert_groups
from store.elastic.search import iso_micros
from store.epoch import from_micros, to_micros
from store.protocol import AlertGroupQuery, AlertGroups, Excepted

#: Groups per page of the composite aggregation (the node's search.max_buckets is 65,536; the
#: second pass carries two top_hits per group, so its pages are smaller).
_COUNT_PAGE = 10_000
_DETAIL_PAGE = 1_000
_INTEGER_TYPES = ("long", "integer", "short", "byte", "unsigned_long")
_NUMBER_TYPES = (*_INTEGER_TYPES, "double", "float", "half_float", "scaled_float", "boolean")


class GroupFields:
    """How the entity and exception fields are read, from the indices' mapped types."""

    def __init__(self, types: dict[str, str], cased: set[str], text: set[str]):
        self.types, self.cased, self.text = types, cased, text

    def keyed_on(self, name: str) -> str:
        """The field whose doc values are the value as written (``.cased``: the field itself
        is lower-cased for Sigma)."""
        return f"{name}.cased" if name in self.cased else name

    def as_text(self, name: str) -> str | None:
        """The field holding the value as text (a number's ``.text``), None when unmapped."""
        if name not in self.types:
            return None
        if name in self.cased:
            return f"{name}.cased"
        if name in self.text:
            return f"{name}.text"
        return name

    def excepted(self, exceptions: Sequence[Excepted]) -> list[dict]:
        """One clause per exception that can match (each of its fields mapped)."""
        clauses = []
        for where in exceptions:
            targets = [(self.as_text(name), values) for name, values in where]
            if where and all(target is not None for target, _ in targets):
                clauses.append({"bool": {"filter": [{"terms": {t: list(v)}} for t, v in targets]}})
        return clauses

    def key_text(self, value, name: str) -> str | None:
        """A composite key as the embedded store's ``CAST(... AS VARCHAR)`` writes it."""
        if value is None:
            return None
        es_type = self.types.get(name)
        if es_type == "boolean" or isinstance(value, bool):
            return "true" if value in (True, 1, "true") else "false"
        if es_type in _INTEGER_TYPES:
            return str(int(value))
        return str(value)


def alert_groups_of(client, index: str, base: list[dict], fields: GroupFields, asked: AlertGroupQuery) -> AlertGroups:
    """``base``: the datasets and the rule's query as filter clauses (no time range)."""
    excepted = fields.excepted(asked.exceptions)
    matched, excepted_count = _counts(client, index, base, excepted, asked)
    if matched == 0:
        return alert_groups.empty(asked, 0, excepted_count)
    per_span = _groups_per_span(client, index, base, excepted, fields, asked)
    spans = _spans_to_read(per_span, asked)
    rows = _details(client, index, base, excepted, fields, asked, spans)
    return AlertGroups(_picked(rows, asked), sum(per_span.values()), matched, excepted_count)


def _window(start: datetime, end: datetime) -> dict:
    return {"range": {"@timestamp": {"gte": iso_micros(start), "lt": iso_micros(end)}}}


def _counts(client, index: str, base, excepted, asked: AlertGroupQuery) -> tuple[int, int]:
    """Events in ``[since, end)`` that match and are not excepted, and those that are."""
    aggs = {"excepted": {"filter": {"bool": {"should": excepted, "minimum_should_match": 1}}}} if excepted else {}
    answer = client.search(
        index=index,
        size=0,
        query={"bool": {"filter": [*base, _window(asked.since, asked.end)]}},
        aggs=aggs,
        track_total_hits=True,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    total = int(answer["hits"]["total"]["value"])
    taken = int(answer["aggregations"]["excepted"]["doc_count"]) if excepted else 0
    return total - taken, taken


def _sources(fields: GroupFields, asked: AlertGroupQuery) -> list[dict]:
    millis = asked.span // timedelta(milliseconds=1)
    sources: list[dict] = [{"w": {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{millis}ms"}}}]
    for position, name in enumerate(asked.entity):
        if name in fields.types:  # an unmapped field is missing from every event: its key is None
            terms = {"field": fields.keyed_on(name), "missing_bucket": True, "missing_order": "last"}
            sources.append({f"k{position}": {"terms": terms}})
    return sources


def _pages(client, index: str, query: dict, sources: list[dict], size: int, sub=None, filter_path=None):
    """Every bucket of the composite aggregation, page by page."""
    after = None
    while True:
        composite: dict = {"size": size, "sources": sources, **({"after": after} if after else {})}
        answer = client.search(
            index=index,
            size=0,
            query=query,
            aggs={"g": {"composite": composite, **({"aggs": sub} if sub else {})}},
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
            filter_path=filter_path,
        )
        groups = (answer.get("aggregations") or {}).get("g") or {}
        found = groups.get("buckets", [])
        yield from found
        after = groups.get("after_key")
        if len(found) < size or after is None:
            return


def _groups_per_span(client, index, base, excepted, fields, asked: AlertGroupQuery) -> Counter[int]:
    """Span start (ms) -> groups with an event in ``[since, end)``; only span keys travel."""
    query = {"bool": {"filter": [*base, _window(asked.since, asked.end)], "must_not": excepted}}
    buckets = _pages(
        client,
        index,
        query,
        _sources(fields, asked),
        _COUNT_PAGE,
        filter_path="aggregations.g.buckets.key.w,aggregations.g.after_key",
    )
    return Counter(bucket["key"]["w"] for bucket in buckets)


def _spans_to_read(per_span: Counter[int], asked: AlertGroupQuery) -> list[int]:
    """The spans whose groups may be kept: in order until they hold ``max_new`` groups beyond the
    known ones (the first new groups are in them), and every known group's span."""
    wanted = {to_micros(group.window_start) // 1000 for group in asked.known} & set(per_span)
    held = 0
    for span in sorted(per_span):
        if held >= asked.max_new + len(asked.known):
            break
        wanted.add(span)
        held += per_span[span]
    return sorted(wanted)


def _details(client, index, base, excepted, fields, asked: AlertGroupQuery, spans: list[int]) -> list[dict]:
    """Count, first events and last event of every group of ``spans`` (whole spans)."""
    if not spans:
        return []
    width = asked.span // timedelta(milliseconds=1)
    reach = [
        {
            "range": {
                "@timestamp": {
                    "gte": iso_micros(from_micros(span * 1000)),
                    "lt": iso_micros(from_micros((span + width) * 1000)),
                }
            }
        }
        for span in spans
    ]
    query = {
        "bool": {
            "filter": [
                *base,
                _window(asked.group_start, asked.end),
                {"bool": {"should": reach, "minimum_should_match": 1}},
            ],
            "must_not": excepted,
        }
    }
    event_id = fields.keyed_on("event.id") if "event.id" in fields.types else "event.id"
    sub = {
        "first": {
            "top_hits": {
                "size": max(asked.sample, 1),
                "sort": [{"@timestamp": "asc"}, {event_id: "asc"}],
                "_source": False,
            }
        },
        "last": {"top_hits": {"size": 1, "sort": [{"@timestamp": "desc"}], "_source": False}},
    }
    rows = []
    for bucket in _pages(client, index, query, _sources(fields, asked), _DETAIL_PAGE, sub=sub):
        rows.append(_row(bucket, fields, asked))
    return rows


def _row(bucket: dict, fields: GroupFields, asked: AlertGroupQuery) -> dict:
    key = bucket["key"]
    first = bucket["first"]["hits"]["hits"]
    last = bucket["last"]["hits"]["hits"][0]
    row: dict = {f"k{p}": fields.key_text(key.get(f"k{p}"), name) for p, name in enumerate(asked.entity)}
    row.update(
        window_start=key["w"] * 1000,
        first_seen=_micros(first[0]["sort"][0]),
        last_seen=_micros(last["sort"][0]),
        event_count=bucket["doc_count"],
        event_ids=[hit["sort"][1] for hit in first[: asked.sample]],
    )
    return row


def _micros(nanos) -> int:
    """A ``date_nanos`` sort value (nanoseconds since the epoch) in microseconds."""
    return int(nanos) // 1000


def _picked(rows: list[dict], asked: AlertGroupQuery) -> pa.Table:
    """The known groups and the first ``max_new`` others, of the groups with an event since ``since``."""
    since = to_micros(asked.since)
    names = alert_groups.key_names(asked)
    known = {(tuple(g.keys), to_micros(g.window_start)) for g in asked.known}
    ordered = sorted(
        (row for row in rows if row["last_seen"] >= since),
        key=lambda row: alert_groups.order_key(row["first_seen"], [row[name] for name in names]),
    )
    kept, fresh = [], 0
    for row in ordered:
        row["known"] = (tuple(row[name] for name in names), row["window_start"]) in known
        if row["known"] or fresh < asked.max_new:
            fresh += not row["known"]
            kept.append(row)
    return pa.Table.from_pylist(
        [{**row, **{k: from_micros(row[k]) for k in ("window_start", "first_seen", "last_seen")}} for row in kept],
        schema=alert_groups.schema(asked),
    )
