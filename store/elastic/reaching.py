"""Correlation pruning on Elasticsearch: ``Store.reaching`` and the ``keep`` filter of ``search``.

``reaching`` pages a composite aggregation over the group-by fields (``missing_bucket``: a group
whose key is missing is a group too) and keeps, here, the buckets that reach the bound: by
``doc_count`` for an event count; for a distinct count, by the number of buckets of a ``terms``
sub-aggregation of size ``at_least``. That number is exactly ``min(distinct values, at_least)``
(a shard with that many values returns that many; otherwise every shard returns all of its own),
so the answer is exact. ``cardinality`` is not used: it is approximate, and the margin it would
need (a few percent, plus one) keeps every group of the most common bound, two, which prunes
nothing. A bound too large for a page of terms buckets is answered None (no pruning).

Keys and ``keep`` read the same field (a string's ``.cased`` sub-field, the value as written),
and keys travel as the embedded store's text (``GroupFields.key_text``), which is how a
correlation compares group values.
"""

from __future__ import annotations

from collections.abc import Iterator

from store.elastic.groups import GroupFields
from store.elastic.search import iso_micros, rule_clauses
from store.protocol import Keep, ReachingQuery

#: The node's search.max_buckets is 65,536: a page of groups, each with up to ``at_least`` value
#: buckets, stays under it.
_BUCKETS_PER_PAGE = 60_000
_GROUPS_PAGE = 10_000
#: The largest distinct-count bound answered; above it a page would hold too few groups.
LARGEST_DISTINCT_BOUND = 1_000


def reaching_of(client, index: str, fields: GroupFields, asked: ReachingQuery) -> list[tuple[str | None, ...]] | None:
    """The group keys (as text) that reach ``asked.at_least``; None when more than the limit,
    when no group-by field is mapped, or when the distinct bound is too large to count exactly."""
    sources = _sources(fields, asked)
    if not sources:
        return None
    if asked.distinct is not None and asked.at_least > LARGEST_DISTINCT_BOUND:
        return None
    found: list[tuple[str | None, ...]] = []
    for bucket in _buckets(client, index, fields, asked, sources):
        if _total(bucket, asked) >= asked.at_least:
            found.append(tuple(fields.key_text(bucket["key"].get(f"k{p}"), n) for p, n in enumerate(asked.group_by)))
            if len(found) > asked.limit:
                return None
    return found


def keep_clauses(fields: GroupFields, keep: Keep) -> list[dict]:
    """``keep`` as filter clauses: per field, its values as ``terms`` on the field the keys were
    read from, or'ed with a ``must_not exists`` for None."""
    clauses: list[dict] = []
    for name, values in keep.items():
        given = [value for value in values if value is not None]
        if name not in fields.types:  # unmapped: every event lacks it
            clauses.append({"match_all": {}} if None in values else {"match_none": {}})
            continue
        tests: list[dict] = [{"terms": {fields.keyed_on(name): given}}] if given else []
        if None in values:
            tests.append({"bool": {"must_not": [{"exists": {"field": name}}]}})
        clauses.append({"bool": {"should": tests, "minimum_should_match": 1}} if tests else {"match_none": {}})
    return clauses


def _sources(fields: GroupFields, asked: ReachingQuery) -> list[dict]:
    sources = []
    for position, name in enumerate(asked.group_by):
        if name in fields.types:  # an unmapped field is missing from every event: its key is None
            terms = {"field": fields.keyed_on(name), "missing_bucket": True}
            sources.append({f"k{position}": {"terms": terms}})
    return sources


def _sub_aggregation(fields: GroupFields, asked: ReachingQuery) -> dict | None:
    if asked.distinct is None or asked.distinct not in fields.types:
        return None
    return {"v": {"terms": {"field": fields.keyed_on(asked.distinct), "size": max(asked.at_least, 1)}}}


def _total(bucket: dict, asked: ReachingQuery) -> int:
    if asked.distinct is None:
        return int(bucket["doc_count"])
    return len(bucket["v"]["buckets"]) if "v" in bucket else 0


def _buckets(client, index: str, fields: GroupFields, asked: ReachingQuery, sources: list[dict]) -> Iterator[dict]:
    """Every group bucket, page by page (``after_key``)."""
    window = {"range": {"@timestamp": {"gte": iso_micros(asked.start), "lt": iso_micros(asked.end)}}}
    query = {"bool": {"filter": [*rule_clauses(asked.datasets, asked.query), window]}}
    sub = _sub_aggregation(fields, asked)
    size = _GROUPS_PAGE if sub is None else max(1, min(1_000, _BUCKETS_PER_PAGE // (asked.at_least + 1)))
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
        )
        groups = (answer.get("aggregations") or {}).get("g") or {}
        found = groups.get("buckets", [])
        yield from found
        after = groups.get("after_key")
        if len(found) < size or after is None:
            return
