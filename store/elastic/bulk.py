"""Events into Elasticsearch: documents from Arrow, ``streaming_bulk``, retries and quarantine.

Every document is created with ``op_type=create`` and ``_id = event.id``, so sending an event again
— a rerun, or a resend after the connection broke mid-request — can never store it twice: the
cluster answers 409 and the event counts as a duplicate. That is what makes retrying safe.

Replaceable datasets (``store.batch.VERSION_COLUMNS``: Defender alerts) are sent with
``index`` and ``version_type=external``, the version being the event's version column in epoch
microseconds (0 when it has none): a newer version replaces the document, the same or an older
one is answered 409 and counts as a duplicate, so the index holds the newest version only and
retrying stays safe.

Item results fall in three kinds:
- 2xx stored, 409 already there (a duplicate);
- a 4xx that is about the document (it does not fit the mapping, its dataset makes no valid
  index name): it is quarantined with the cluster's reason, and the rest of the batch is stored;
- a 4xx about the cluster (too many shards for another index, a closed index, no permission):
  the rest of the batch is stored, then ``ElasticRefused`` says why; nothing is quarantined;
- 429, 5xx, or no answer at all (the node is down or restarting): transient. ``streaming_bulk``
  retries 429/5xx with back-off; what is still pending after that, and everything after a broken
  connection, is sent again by the loop here, with back-off, until a deadline.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from elasticsearch import ConnectionError as TransportConnectionError
from elasticsearch import ConnectionTimeout
from elasticsearch.helpers import streaming_bulk

from store.batch import VERSION_COLUMNS, Quarantined
from store.elastic.client import ElasticRefused, ElasticUnavailable

#: Rows serialised at once: big enough for DuckDB to be efficient, small enough to overlap
#: serialising the next slice with sending this one.
SLICE_ROWS = 10_000
#: Per bulk request. The cluster's sweet spot is a few MB per request; more only adds latency.
CHUNK_DOCS = 5_000
CHUNK_BYTES = 8 * 1024 * 1024
TRANSIENT_STATUSES = (429, 502, 503, 504)
#: Error types that are the document's own fault; any other 4xx is the cluster's.
DOCUMENT_ERRORS = frozenset(
    {
        "document_parsing_exception",
        "mapper_parsing_exception",
        "strict_dynamic_mapping_exception",
        "illegal_argument_exception",
        "invalid_index_name_exception",
        "mapper_exception",
    }
)


@dataclass
class BulkOutcome:
    stored: int = 0
    duplicates: int = 0
    rejected: list[Quarantined] = field(default_factory=list)
    #: Cluster-side refusals (item results): reported by ``check_refusals``, never quarantined.
    refused: list[dict] = field(default_factory=list)
    #: Indices that received documents: the ones to refresh (a refresh costs ingest time).
    indices: set[str] = field(default_factory=set)
    #: Connection failures and transient answers survived, for tests and benchmarks to report.
    retries: int = 0


@dataclass
class BulkOptions:
    chunk_docs: int = CHUNK_DOCS
    chunk_bytes: int = CHUNK_BYTES
    #: streaming_bulk's own retries of 429/5xx, per request, with doubling back-off.
    max_retries: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    #: How long to keep resending while the cluster cannot be reached at all.
    deadline: float = 300.0


# -- documents ------------------------------------------------------------------------------------

_local = threading.local()


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        # One thread: serialising a slice takes DuckDB a fraction of the time the node takes to
        # index it, and its worker threads would run at the node's priority, not this thread's.
        con = _local.con = duckdb.connect(":memory:", config={"threads": 1})
    return con


def index_names(events: pa.Table, prefix: str) -> pa.Array:
    """``{prefix}events-{dataset}-{YYYY.MM.DD}`` per row, the day of ``@timestamp`` in UTC."""
    day = pc.strftime(events.column("@timestamp"), format="%Y.%m.%d")
    return pc.binary_join_element_wise(
        pa.scalar(f"{prefix}events-"), events.column("event.dataset"), pa.scalar("-"), day, ""
    ).combine_chunks()


def _textual(events: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 UTC with all six fractional digits, so reading a document back gives
    the exact microsecond the embedded store keeps; DuckDB's own timestamp text is not ISO."""
    columns = []
    for position, column_field in enumerate(events.schema):
        column = events.column(position)
        if pa.types.is_timestamp(column_field.type):
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        columns.append(column)
    return pa.table(columns, names=events.column_names)


def serialise(events: pa.Table) -> list[str]:
    """One JSON object per row, keys the dotted column names (DuckDB writes the JSON: an order of
    magnitude faster than a Python dict per row)."""
    con = _duckdb()
    con.register("textual", _textual(events))
    try:
        # Nulls stay in: Elasticsearch indexes a null as absent, so `|exists` and `null` mean the
        # same; stripping them would parse every document again.
        rows = con.sql("SELECT CAST(to_json(t) AS VARCHAR) FROM textual t").fetchall()
    finally:
        con.unregister("textual")
    return [value for (value,) in rows]


class _Line(bytes):
    """One ``_bulk`` entry, action line and document, ready to send.

    ``streaming_bulk`` passes bytes through untouched, so the chunker neither serialises the
    action dict nor re-encodes the document: ~a third of this process's CPU per event, which on a
    node-bound machine is the node's. When a whole request fails (``ApiError``), the helpers read
    the action as a dict (``copy().popitem()``): ``copy`` gives them that dict back.
    """

    __slots__ = ()

    def copy(self) -> dict:
        return orjson.loads(self[: self.index(b"\n")])


_LINES_SQL = """
SELECT encode(CASE WHEN h.version IS NULL
    THEN CAST(to_json({'create': {'_index': h.index, '_id': h.id}}) AS VARCHAR)
    ELSE CAST(to_json({'index': {'_index': h.index, '_id': h.id, 'version': h.version,
                                 'version_type': 'external'}}) AS VARCHAR)
    END || chr(10) || CAST(to_json(t) AS VARCHAR))
FROM textual t POSITIONAL JOIN heads h
"""


def bulk_lines(events: pa.Table, indices: pa.Array, versions: pa.Array | None) -> list[_Line]:
    """Per row its ``_bulk`` entry: ``create`` (or ``index`` with the external version) and the
    document exactly as ``serialise`` writes it, in one DuckDB pass."""
    ids = events.column("event.id")
    heads = pa.table(
        {
            "index": indices,
            "id": ids,
            "version": versions if versions is not None else pa.nulls(events.num_rows, pa.int64()),
        }
    )
    con = _duckdb()
    con.register("textual", _textual(events))
    con.register("heads", heads)
    try:
        rows = con.sql(_LINES_SQL).fetchall()
    finally:
        con.unregister("textual")
        con.unregister("heads")
    return [_Line(value) for (value,) in rows]


def external_versions(events: pa.Table) -> pa.Array | None:
    """Per row, the external version of a replaceable dataset's event (epoch µs, at least 0,
    0 when it has none), null for other datasets; None when the batch has no replaceable rows,
    which is every batch of the high-volume sources (they pay one ``unique`` for this)."""
    datasets = events.column("event.dataset")
    replaceable = [name for name in pc.unique(datasets).to_pylist() if name in VERSION_COLUMNS]
    if not replaceable:
        return None
    versions = pa.nulls(events.num_rows, pa.int64())
    for dataset in replaceable:
        column = VERSION_COLUMNS[dataset]
        if column in events.column_names:
            micros = events.column(column).combine_chunks().cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            micros = pc.fill_null(pc.max_element_wise(micros, 0), 0)
        else:
            micros = pa.array([0] * events.num_rows, pa.int64())
        versions = pc.if_else(pc.equal(datasets, dataset).combine_chunks(), micros, versions)
    return versions


def _actions(events: pa.Table, prefix: str) -> Iterator[_Line]:
    """The rows' ``_bulk`` entries; the next slice is serialised while this one is sent."""
    indices = index_names(events, prefix)
    versions = external_versions(events)
    slices = [(low, min(events.num_rows, low + SLICE_ROWS)) for low in range(0, events.num_rows, SLICE_ROWS)]

    def lines(low: int, high: int) -> list[_Line]:
        return bulk_lines(
            events.slice(low, high - low),
            indices.slice(low, high - low),
            versions.slice(low, high - low) if versions is not None else None,
        )

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cyberwell-es-json", initializer=_yield_to_node) as pool:
        upcoming = deque([pool.submit(lines, *slices[0])] if slices else [])
        for position in range(len(slices)):
            if position + 1 < len(slices):
                upcoming.append(pool.submit(lines, *slices[position + 1]))
            yield from upcoming.popleft().result()  # dropped before the next slice: memory stays flat


#: Only what the item loop reads: the node writes, and this process parses, a quarter of the answer.
_ANSWER = "items.*._index,items.*._id,items.*.status,items.*.error"


def _yield_to_node() -> None:
    """Serialise at a lower priority: on a small machine the node is the bottleneck, and a slice
    serialised in its idle time is one that does not take CPU from indexing."""
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass


# -- sending --------------------------------------------------------------------------------------


def _expand(line: _Line):
    return line, None  # the document is in the line already


def _keys(events: pa.Table, prefix: str) -> list[tuple[str, str]]:
    return list(zip(index_names(events, prefix).to_pylist(), events.column("event.id").to_pylist()))


def send(client, events: pa.Table, prefix: str, options: BulkOptions | None = None) -> BulkOutcome:
    """Create every row as a document; return what was stored, duplicate and rejected.

    ``events`` must hold each (index, ``event.id``) once (the store drops in-batch copies first,
    and keeps the newest of a replaceable event's versions).
    Raises ``ElasticUnavailable`` when documents are still unsent at the deadline.
    """
    options = options or BulkOptions()
    outcome = BulkOutcome()
    keys: list[tuple[str, str]] = []  # (index, id) per row, built only when something failed
    row_of: dict[tuple[str, str], int] = {}  # filled on the first refusal: most batches have none
    done: set[tuple[str, str]] = set()
    pending, began, backoff = events, time.monotonic(), options.initial_backoff
    failure_seen = False
    while True:
        failure, transient = None, 0
        try:
            for ok, item in streaming_bulk(
                client,
                _actions(pending, prefix),
                chunk_size=options.chunk_docs,
                max_chunk_bytes=options.chunk_bytes,
                # Bytes, not the dicts the stubs name: the helpers pass a line through untouched.
                expand_action_callback=_expand,  # type: ignore[arg-type]
                raise_on_error=False,
                raise_on_exception=False,
                max_retries=options.max_retries,
                initial_backoff=options.initial_backoff,
                max_backoff=options.max_backoff,
                retry_on_status=TRANSIENT_STATUSES,
                filter_path=_ANSWER,
            ):
                result = next(iter(item.values()))
                key = (result.get("_index"), result.get("_id"))
                status = result.get("status", 500)
                if ok:
                    outcome.stored += 1
                    outcome.indices.add(key[0])
                elif status == 409:
                    outcome.duplicates += 1
                    if failure_seen:  # perhaps written by the request that lost its answer
                        outcome.indices.add(key[0])
                elif 400 <= status < 500 and status not in (408, 429):
                    if _error_type(result) in DOCUMENT_ERRORS:
                        keys = keys or _keys(events, prefix)
                        row_of = row_of or {k: row for row, k in enumerate(keys)}
                        outcome.rejected.append(_quarantined(events, row_of[key], key, result))
                    else:
                        outcome.refused.append(result)
                else:
                    transient += 1
                    continue  # stays pending: sent again below
                done.add(key)
        except (TransportConnectionError, ConnectionTimeout) as error:
            failure = error  # the request in flight may or may not have been applied: resend it
            failure_seen = True
        if failure is None and not transient:
            return outcome
        outcome.retries += 1
        keys = keys or _keys(events, prefix)
        left = [row for row, key in enumerate(keys) if key not in done]
        if time.monotonic() - began > options.deadline:
            reason = type(failure).__name__ if failure is not None else f"{transient} documents refused for now"
            raise ElasticUnavailable(
                f"Elasticsearch did not take {len(left)} of {events.num_rows} events within "
                f"{options.deadline:.0f} s ({reason}); they are not lost: ingest the same input again "
                "once the cluster is back and each event is stored once"
            ) from failure
        time.sleep(backoff)
        backoff = min(options.max_backoff, backoff * 2)
        pending = events.take(pa.array(left, pa.int64()))


def check_refusals(outcome: BulkOutcome, total: int) -> None:
    """Raise ``ElasticRefused`` when the cluster refused events for a reason of its own."""
    if outcome.refused:
        first = outcome.refused[0]
        raise ElasticRefused(
            f"Elasticsearch refused {len(outcome.refused)} of {total} events for a reason that is not "
            f"theirs ({first.get('_index')}: {describe_error(first.get('error'))}); {outcome.stored} were "
            "stored and none of the refused quarantined: put the cluster right and ingest the same input again"
        )


def _quarantined(events: pa.Table, row: int, key: tuple[str, str], result: dict) -> Quarantined:
    return Quarantined(
        source=events.column("event.dataset")[row].as_py(),
        reason=f"Elasticsearch refused the document: {describe_error(result.get('error'))}",
        record=events.column("event.original")[row].as_py() or "",
        origin=f"elasticsearch {key[0]}/{key[1]}",
    )


def _error_type(result: dict) -> str | None:
    error = result.get("error")
    return error.get("type") if isinstance(error, dict) else None


def describe_error(error) -> str:
    """The cluster's error object as one line: type, reason, and what caused it."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {cause.get('type', 'error')}: {cause.get('reason', '')})"
    return text
