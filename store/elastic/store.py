"""The Elasticsearch event store: the embedded store's protocol, for when one machine is not enough.

Events live in daily indices per dataset, ``{prefix}events-{dataset}-{YYYY.MM.DD}``, so retention
is deleting whole indices (works on every cluster, no ILM needed) and a time window only touches
the days it covers. Everything that is not an event — alerts, rule runs, correlation windows,
quarantine — stays in the local state database, exactly as with the embedded store; alerts are
also copied to ``{prefix}alerts`` so Kibana users see them (``store.elastic.alerts_index``).

The bulk path is ``store.elastic.bulk``, the paged search ``store.elastic.search``. What a query
means is the mapping's business (``store.elastic.mapping``, written with the Lucene compiler).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import store.alert_groups as alert_groups
from store.aggregation import AggregationRequest
from store.batch import check_required, plain_text, storable
from store.durable import private_dir
from store.elastic.alerts_index import AlertsIndex
from store.elastic.bulk import BulkOptions, check_refusals, external_versions, index_names, send
from store.elastic.doc_values import read_columns
from store.elastic.groups import GroupFields, alert_groups_of
from store.elastic.mapping import CASED, TEXT, events_template
from store.elastic.reaching import keep_clauses, reaching_of
from store.elastic.search import (
    TIMESTAMP,
    arrow_type,
    event_query,
    exact_window,
    fetch_sources,
    field_types,
    iso_micros,
    iso_millis,
    rule_clauses,
    to_table,
    with_sub_field,
)
from store.epoch import EPOCH, first_day_kept, from_micros
from store.protocol import (
    Aggregation,
    AlertGroupQuery,
    AlertGroups,
    AlertStore,
    AppendResult,
    CountRow,
    Keep,
    QueryLanguage,
    ReachingQuery,
    Scalar,
)
from store.state.alerts import AlertBook
from store.state.database import StateDB

_DAY_SUFFIX = re.compile(r"-(\d{4})\.(\d{2})\.(\d{2})$")
#: Fields the store itself relies on, whatever a mapping says about them.
_FIXED_TYPES = {"@timestamp": "date", "event.id": "keyword", "event.dataset": "keyword"}
#: Groups asked for per page of a composite aggregation (the node's search.max_buckets is 65,536).
_GROUPS_PAGE = 10_000
_TIME_TYPES = ("date", "date_nanos")
_INTEGER_TYPES = ("long", "integer", "short", "byte", "unsigned_long")
_FLOAT_TYPES = ("double", "float", "half_float", "scaled_float")


class ElasticStore:
    """Events in Elasticsearch under ``prefix``; state in ``home/state.sqlite``."""

    query_language: QueryLanguage = "elasticsearch-lucene"

    def __init__(self, client, home: Path, prefix: str = "cyberwell-", bulk: BulkOptions | None = None):
        self.client = client
        self.prefix = prefix
        self.home = private_dir(Path(home))
        self.state = StateDB(self.home / "state.sqlite")
        self.alerts_index = AlertsIndex(client, prefix)
        self.alerts: AlertStore = AlertBook(self.state, self.alerts_index)
        self.bulk = bulk or BulkOptions()
        self._templates_ready = False
        self._unrefreshed: set[str] = set()  # indices written since this store last read

    @classmethod
    def from_settings(cls, settings, home: Path) -> ElasticStore:
        """A store for ``store.elastic.client.ElasticSettings`` (the console's config)."""
        from store.elastic.client import build_client

        return cls(build_client(settings), home, settings.index_prefix, BulkOptions(deadline=settings.retry_deadline))

    def close(self) -> None:
        self.client.close()

    # -- writing ----------------------------------------------------------------------------

    def ensure_templates(self) -> None:
        """Install the events and alerts templates if missing, before the first index exists."""
        if self._templates_ready:
            return
        name = f"{self.prefix}events"
        if not self.client.indices.exists_index_template(name=name):
            self.client.indices.put_index_template(name=name, **events_template(self.prefix))
        self.alerts_index.ensure_template()
        self._templates_ready = True

    def append(self, events: pa.Table) -> AppendResult:
        """Store the events not stored before (by ``event.id``).

        This store's next read sees them (it refreshes the indices written since its last read);
        other processes see them within the index's refresh interval. Refreshing once per read
        instead of once per batch takes a refresh off every batch of a replay.

        Documents the cluster refuses (a value the mapping cannot take) are quarantined with the
        cluster's reason and counted as ``rejected``; the rest of the batch is stored. When the
        cluster refuses for its own reasons (no room for another index, a closed index), the rest
        is stored too, then ``ElasticRefused`` says why; ``ElasticUnavailable`` when it cannot be
        reached until the deadline.
        """
        check_required(events)
        if events.num_rows == 0:
            return AppendResult(0, 0, 0)
        split = storable(events)
        refused = self.state.quarantine(split.refused)  # before sending: the cluster may be down
        events = split.events
        if events.num_rows == 0:
            return AppendResult(0, 0, refused)
        self.ensure_templates()
        events = plain_text(events)  # this store filters and takes rows; the cluster is the bottleneck
        unique = _first_copies(events, index_names(events, self.prefix))
        outcome = send(self.client, unique, self.prefix, self.bulk)
        if outcome.rejected:
            self.state.quarantine(outcome.rejected)
        self._unrefreshed.update(outcome.indices)
        check_refusals(outcome, events.num_rows)
        return AppendResult(
            stored=outcome.stored,
            duplicates=outcome.duplicates + events.num_rows - unique.num_rows,
            rejected=refused + len(outcome.rejected),
        )

    def flush(self) -> None:
        """Make this store's writes visible to every reader now, not at the next refresh interval
        (``collectors.replay.ingest`` calls it at the end, so a `detect` right after sees all)."""
        self._refresh_written()

    def _refresh_written(self) -> None:
        """Make this store's own writes visible (every read does this first: read-your-writes)."""
        written, self._unrefreshed = sorted(self._unrefreshed), set()
        for names in name_batches(written):
            self.client.indices.refresh(index=names, ignore_unavailable=True)

    def refresh(self) -> None:
        self._unrefreshed.clear()
        self.client.indices.refresh(
            index=f"{self.prefix}events-*,{self.prefix}alerts", ignore_unavailable=True, allow_no_indices=True
        )

    def delete_older_than(self, days: int, now: datetime | None = None) -> list[str]:
        """Delete the daily event indices of every day that ended ``days`` days before ``now`` or
        earlier; return their names."""
        kept_from = first_day_kept(days, now)
        old = []
        for name in self._event_indices():
            match = _DAY_SUFFIX.search(name)
            if match is None:
                continue
            year, month, day = (int(part) for part in match.groups())
            if (date(year, month, day) - EPOCH.date()).days < kept_from:
                old.append(name)
        for names in name_batches(old):
            self.client.indices.delete(index=names)
        return sorted(old)

    def _event_indices(self) -> list[str]:
        found = self.client.cat.indices(
            index=f"{self.prefix}events-*", h="index", format="json", expand_wildcards="open,closed"
        )
        return [row["index"] for row in found if row["index"].startswith(f"{self.prefix}events-")]

    # -- reading ----------------------------------------------------------------------------

    def _patterns(self, datasets: Sequence[str] | None) -> str:
        if datasets is None:
            return f"{self.prefix}events-*"
        return ",".join(f"{self.prefix}events-{dataset}-*" for dataset in datasets)

    def _mappings(self, datasets: Sequence[str] | None) -> dict:
        self._refresh_written()
        return dict(
            self.client.indices.get_mapping(
                index=self._patterns(datasets), ignore_unavailable=True, allow_no_indices=True
            )
        )

    def _types(self, datasets: Sequence[str] | None) -> dict[str, str]:
        return field_types(self._mappings(datasets))

    def columns(self, datasets: Sequence[str] | None = None) -> dict[str, str]:
        """The union of mapped columns (name -> Arrow type) over the datasets' indices.

        Unlike the embedded store's, this includes columns the template declares that no stored
        event has yet: a mapping knows fields, not which documents carry them.
        """
        if datasets is not None and not datasets:
            return {}
        types = self._types(datasets)
        if not types:
            return {}
        return {name: str(arrow_type(es_type)) for name, es_type in {**types, **_FIXED_TYPES}.items()}

    def search(
        self,
        datasets: Sequence[str],
        start: datetime,
        end: datetime,
        query: str | None = None,
        columns: Sequence[str] = (),
        order: bool = True,
        keep: Keep | None = None,
    ) -> pa.Table:
        """Events of the datasets with ``start <= @timestamp < end`` matching a Lucene query
        (``query``; None: every event) and ``keep`` (``store.elastic.reaching.keep_clauses``).

        The result has ``@timestamp`` (µs, UTC), ``event.id``, ``event.dataset`` and the asked
        columns (a column no index maps reads as null), every match, in the embedded store's order,
        read from doc values (``store.elastic.doc_values``), not ``_source``.
        """
        wanted = list(dict.fromkeys(["@timestamp", "event.id", "event.dataset", *columns]))
        if not datasets:
            return exact_window(to_table([], wanted, dict(_FIXED_TYPES)), start, end, order)
        mappings = self._mappings(datasets)
        types = {**field_types(mappings), **_FIXED_TYPES}
        query_body = event_query(datasets, start, end, query)
        if keep:
            fields = GroupFields(types, with_sub_field(mappings, CASED), with_sub_field(mappings, TEXT))
            query_body["bool"]["filter"].extend(keep_clauses(fields, keep))
        found = read_columns(
            self.client, self._patterns(datasets), query_body, wanted, types, with_sub_field(mappings, CASED)
        )
        return exact_window(found, start, end, order)

    def reaching(self, asked: ReachingQuery) -> list[tuple[str | None, ...]] | None:
        """The groups that reach the count, from a composite aggregation (``store.elastic.reaching``)."""
        if not asked.datasets:
            return []
        mappings = self._mappings(asked.datasets)
        types = field_types(mappings)
        if not types:
            return []
        fields = GroupFields(types, with_sub_field(mappings, CASED), with_sub_field(mappings, TEXT))
        return reaching_of(self.client, self._patterns(asked.datasets), fields, asked)

    def aggregate(
        self,
        datasets: Sequence[str] | None,
        start: datetime,
        end: datetime,
        group_by: Sequence[str] = (),
        bucket: timedelta | None = None,
        filters: Mapping[str, Sequence[Scalar]] | None = None,
        max_groups: int = 10_000,
    ) -> Aggregation:
        """Counts as one composite aggregation, paged with its ``after_key``: a date_histogram
        source for the bucket, a terms source per field. A string is counted on its ``.cased``
        sub-field, so keys come back as written (the field itself is lower-cased for Sigma)."""
        asked = AggregationRequest.checked(group_by, bucket, filters, max_groups)
        if datasets is not None and not datasets:
            return asked.result([])
        mappings = self._mappings(datasets)
        fields = _CountedFields(field_types(mappings), with_sub_field(mappings, CASED))
        asked.refuse_times(name for name in asked.fields if fields.types.get(name) in _TIME_TYPES)
        conditions: list[dict] = [
            {"range": {"@timestamp": {"gte": iso_micros(start), "lt": iso_micros(end)}}},
        ]
        if datasets is not None:
            conditions.append({"terms": {"event.dataset": list(datasets)}})
        for name, values in asked.filters.items():
            condition = fields.one_of(name, values)
            if condition is None:
                return asked.result([])
            conditions.append(condition)
        query = {"bool": {"filter": conditions}}
        sources = fields.sources(asked)
        if not sources:  # nothing to group by that any index has: one group, or none
            total = self._count(datasets, query)
            return asked.result([CountRow(None, (None,) * len(asked.group_by), total)] if total else [])
        rows: list[CountRow] = []
        after = None
        while len(rows) <= asked.max_groups:
            size = min(asked.max_groups + 1 - len(rows), _GROUPS_PAGE)
            composite: dict = {"size": size, "sources": sources, **({"after": after} if after else {})}
            answer = self.client.search(
                index=self._patterns(datasets),
                size=0,
                query=query,
                aggs={"groups": {"composite": composite}},
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            groups = (answer.get("aggregations") or {}).get("groups") or {}
            found = groups.get("buckets", [])
            rows.extend(fields.row(group, asked) for group in found)
            after = groups.get("after_key")
            if len(found) < size or after is None:
                break
        return asked.result(rows)

    def alert_groups(self, asked: AlertGroupQuery) -> AlertGroups:
        """A rule's alert groups from composite aggregations (``store.elastic.groups``)."""
        asked = alert_groups.checked(asked)
        if not asked.datasets:
            return alert_groups.empty(asked)
        mappings = self._mappings(asked.datasets)
        types = field_types(mappings)
        if not types:
            return alert_groups.empty(asked)
        fields = GroupFields(types, with_sub_field(mappings, CASED), with_sub_field(mappings, TEXT))
        return alert_groups_of(
            self.client, self._patterns(asked.datasets), rule_clauses(asked.datasets, asked.query), fields, asked
        )

    def _count(self, datasets: Sequence[str] | None, query: dict) -> int:
        answer = self.client.count(
            index=self._patterns(datasets), query=query, ignore_unavailable=True, allow_no_indices=True
        )
        return int(answer["count"])

    def count(self, datasets: Sequence[str] | None = None) -> int:
        query = {"terms": {"event.dataset": list(datasets)}} if datasets is not None else {"match_all": {}}
        self._refresh_written()
        answer = self.client.count(
            index=f"{self.prefix}events-*", query=query, ignore_unavailable=True, allow_no_indices=True
        )
        return int(answer["count"])

    def datasets(self) -> dict[str, int]:
        """Event count per dataset."""
        self._refresh_written()
        answer = self.client.search(
            index=f"{self.prefix}events-*",
            size=0,
            ignore_unavailable=True,
            allow_no_indices=True,
            aggs={"datasets": {"terms": {"field": "event.dataset", "size": 10_000}}},
        )
        buckets = answer.get("aggregations", {}).get("datasets", {}).get("buckets", [])
        return {bucket["key"]: bucket["doc_count"] for bucket in sorted(buckets, key=lambda b: b["key"])}

    def time_range(self) -> tuple[datetime, datetime] | None:
        """Oldest and newest ``@timestamp``, to the microsecond."""
        self._refresh_written()
        answer = self.client.search(
            index=f"{self.prefix}events-*",
            size=0,
            ignore_unavailable=True,
            allow_no_indices=True,
            aggs={"low": {"min": {"field": "@timestamp"}}, "high": {"max": {"field": "@timestamp"}}},
        )
        aggregations = answer.get("aggregations") or {}
        low, high = (aggregations.get(key, {}).get("value") for key in ("low", "high"))
        if low is None or high is None:
            return None
        # The aggregations see milliseconds; the exact times are in the documents of those
        # milliseconds.
        return self._exact_edge(low, pc.min), self._exact_edge(high, pc.max)

    def _exact_edge(self, millis: float, pick) -> datetime:
        moment = EPOCH + timedelta(milliseconds=int(millis))
        query = {"range": {"@timestamp": {"gte": iso_millis(moment), "lt": iso_millis(moment, round_up=True)}}}
        sources = fetch_sources(self.client, f"{self.prefix}events-*", query, ["@timestamp"])
        stamps = pa.array([source["@timestamp"] for source in sources], pa.string()).cast(TIMESTAMP)
        return pick(stamps).as_py()


class _CountedFields:
    """How the fields of an aggregation are asked for and read back, from the indices' mappings.

    A field no index maps is missing from every event: it is not sent (its key is None, a filter
    on it is decided here), so the cluster never has to guess at an unmapped field.
    """

    def __init__(self, types: dict[str, str], cased: set[str]):
        self.types = types
        self.cased = cased

    def _counted_on(self, name: str) -> str:
        return f"{name}.{CASED}" if name in self.cased else name

    def sources(self, asked: AggregationRequest) -> list[dict]:
        sources: list[dict] = []
        if asked.bucket is not None:
            millis = asked.bucket // timedelta(milliseconds=1)
            sources.append({"bucket": {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{millis}ms"}}})
        for position, name in enumerate(asked.group_by):
            if name in self.types:
                terms = {"field": self._counted_on(name), "missing_bucket": True, "missing_order": "last"}
                sources.append({f"k{position}": {"terms": terms}})
        return sources

    def one_of(self, name: str, values: Sequence[Scalar]) -> dict | None:
        """A filter clause for ``name`` being one of ``values`` (None: missing); None when no
        event can match."""
        if name not in self.types:
            return {"match_all": {}} if None in values else None
        given = [value for value in values if value is not None]
        tests: list[dict] = [{"terms": {self._counted_on(name): given}}] if given else []
        if None in values:
            tests.append({"bool": {"must_not": {"exists": {"field": name}}}})
        return {"bool": {"should": tests, "minimum_should_match": 1}} if tests else None

    def row(self, group: dict, asked: AggregationRequest) -> CountRow:
        key = group["key"]
        bucket = from_micros(key["bucket"] * 1000) if asked.bucket is not None else None
        values = tuple(
            self._scalar(key.get(f"k{position}"), self.types.get(name)) for position, name in enumerate(asked.group_by)
        )
        return CountRow(bucket, values, group["doc_count"])

    @staticmethod
    def _scalar(value: Scalar, es_type: str | None) -> Scalar:
        """A key as the embedded store gives it: Python's int, float or bool for those types."""
        if value is None or es_type is None:
            return value
        if es_type == "boolean":
            return bool(value)
        if es_type in _INTEGER_TYPES:
            return int(value)
        if es_type in _FLOAT_TYPES:
            return float(value)
        return value


def name_batches(names: Sequence[str], limit: int = 3_000) -> list[str]:
    """Index names joined with commas, in pieces that fit the node's 4 KB request line."""
    batches, current = [], ""
    for name in names:
        if current and len(current) + 1 + len(name) > limit:
            batches.append(current)
            current = ""
        current = f"{current},{name}" if current else name
    return [*batches, current] if current else batches


def _first_copies(events: pa.Table, indices: pa.Array) -> pa.Table:
    """Within one batch the first copy of an id in an index wins; later copies are duplicates.

    Per index (dataset and day), as the embedded store dedups per dataset and day: one id can
    only be one document of an index, and a batch must not send it twice. Of a replaceable
    event's versions the newest is sent: the older ones would lose to it anyway.
    """
    ids = events.column("event.id")
    rows = pa.array(range(events.num_rows), pa.int64())
    versions = external_versions(events)
    if versions is not None:
        return _newest_copies(events, indices, ids, rows, versions)
    keys = pa.table({"index": indices, "id": ids, "row": rows})
    first = keys.group_by(["index", "id"], use_threads=False).aggregate([("row", "min")]).column("row_min")
    if len(first) == events.num_rows:
        return events
    first = first.combine_chunks()
    return events.take(pc.take(first, pc.array_sort_indices(first)))


def _newest_copies(events: pa.Table, indices: pa.Array, ids, rows: pa.Array, versions: pa.Array) -> pa.Table:
    """Per (index, id) the row of the highest version (the first of equals), in input order."""
    keys = pa.table({"index": indices, "id": ids, "version": pc.fill_null(versions, -1), "row": rows})
    ranked = keys.take(
        pc.sort_indices(
            keys,
            sort_keys=[("index", "ascending"), ("id", "ascending"), ("version", "descending"), ("row", "ascending")],
        )
    )
    if ranked.num_rows > 1:
        same = pc.and_(
            pc.equal(ranked.column("index").slice(1), ranked.column("index").slice(0, ranked.num_rows - 1)),
            pc.equal(ranked.column("id").slice(1), ranked.column("id").slice(0, ranked.num_rows - 1)),
        )
        leader = pa.concat_arrays([pa.array([True]), pc.invert(same.combine_chunks())])
    else:
        leader = pa.array([True] * ranked.num_rows)
    first = ranked.column("row").filter(leader).combine_chunks()
    if len(first) == events.num_rows:
        return events
    return events.take(pc.take(first, pc.array_sort_indices(first)))
