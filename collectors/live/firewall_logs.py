"""Azure Firewall logs from a Log Analytics workspace → ``azure.firewall`` events (source ``azure-firewall``).

The firewall's diagnostic settings write either to the legacy ``AzureDiagnostics`` table (categories
``AzureFirewallNetworkRule``, ``AzureFirewallApplicationRule``, ``AzureFirewallDnsProxy``, the
payload in ``msg_s``) or to the resource-specific ``AZFW*`` tables (one per category, named
columns). This collector asks the workspace for them with azure-monitor-query's
``LogsQueryClient`` and hands every row to the existing parser (``collectors.formats.azure_firewall``) as
the diagnostic record it came from: Log Analytics stores a diagnostic record's ``properties`` as
the table's columns, so turning a row back into ``{"category", "time", "resourceId",
"properties"}`` is a renaming, and no normalisation is written twice.

Decisions, so a reader need not guess:

* Service limits (Azure Monitor service limits, "Query API"): 500,000 rows and ~100 MB of raw
  data (64 MB compressed) per query, 10 minutes per query, 200 queries per 30 s per user. A query
  covers one table over one time slice and asks for at most ``max_rows`` (default 50,000) rows
  plus one; when more come back, or the service answers with its ``E_QUERY_RESULT_SET_TOO_LARGE``
  partial error, the slice is halved and asked again. Slices grow back (doubled, up to
  ``max_slice_minutes``) after a light one. Queries are paced (``min_query_interval_seconds``).
* Window: from the table's checkpoint minus ``overlap`` to now minus ``delay``, on
  ``TimeGenerated``. The overlap re-reads recent rows so events that reached the workspace late
  (ingestion latency) are still collected; rows later than the overlap are missed (a larger
  overlap costs only re-reading; the store drops the duplicates).
* Rows come ordered by ``TimeGenerated``, then ``_ItemId`` (the workspace's unique record id) as a
  stable tiebreak. ``_ItemId`` and ``_ResourceId`` are hidden columns, returned only when a query
  names them, hence the ``extend``.
* ``event.original`` is the row as compact JSON (column order, times as ISO UTC); ``event.id`` is
  its SHA-256. The row holds ``_ItemId``, so the id is the same each time the row is read and
  differs between two identical log lines that are two events.
* A checkpoint (per table: the end of the last fully stored slice, and the slice length) is
  committed only after ``store.append`` of that slice has returned. A partial result keeps its
  rows (stored), records the error on the run and leaves the checkpoint before that slice, so the
  next run asks for it again; the dedupe on ``event.id`` absorbs what was already stored.
* Throttling and server errors: azure-core's ``RetryPolicy`` honours ``Retry-After`` on 429/503 and
  retries 500/503/504; here its total sleeping per query is bounded by ``max_wait_seconds`` and a
  longer wait ends the table's collection for this run with an error instead.
* Tables: a list, or ``"auto"``: one cheap ``union isfuzzy=true ... | summarize count() by``
  over ``detect_hours`` finds which of the known ``AZFW*`` tables hold rows and whether
  ``AzureDiagnostics`` holds firewall categories.
* Plain ``http://`` endpoints are allowed only on the loopback address (a test stand-in): a bearer
  token must not cross a network in clear.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import orjson
import pyarrow as pa
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.policies import RetryPolicy
from azure.monitor.query import LogsQueryClient, LogsQueryStatus

from collectors.formats import azure_firewall
from store.batch import ParsedBatch, Quarantined, newest_storable
from store.protocol import Store
from store.state.checkpoints import Checkpoints, CollectorRun, RunTally

NAME = "azure-firewall"
#: The resource-specific tables Azure Firewall writes, as Microsoft names them.
AZFW_TABLES = (
    "AZFWNetworkRule",
    "AZFWApplicationRule",
    "AZFWNatRule",
    "AZFWThreatIntel",
    "AZFWIdpsSignature",
    "AZFWDnsQuery",
)
LEGACY_TABLE = "AzureDiagnostics"
LEGACY_CATEGORIES = ("AzureFirewallNetworkRule", "AzureFirewallApplicationRule", "AzureFirewallDnsProxy")
#: AzureDiagnostics is shared by every Azure resource type (hundreds of mostly empty columns), so
#: only the columns a firewall record uses are asked for.
LEGACY_COLUMNS = ("TimeGenerated", "Category", "OperationName", "msg_s", "ResourceId", "_ResourceId", "_ItemId")
SERVICE_ROW_LIMIT = 500_000
TOO_LARGE = "E_QUERY_RESULT_SET_TOO_LARGE"

DEFAULTS = {
    "endpoint": "https://api.loganalytics.io",
    "tables": "auto",
    "interval_seconds": 300,
    "overlap_seconds": 900,
    "delay_seconds": 180,
    "initial_lookback_hours": 24,
    "max_slice_minutes": 60,
    "min_slice_seconds": 1,
    "max_rows": 50_000,
    "server_timeout_seconds": 180,
    "retry_total": 8,
    "retry_backoff_factor": 0.8,
    "max_wait_seconds": 300,
    "min_query_interval_seconds": 0.2,
    "detect_hours": 24,
}


class SettingsError(ValueError):
    """A setting of ``[collectors.azure-firewall]`` is missing or wrong; the message names it."""


class WaitTooLong(Exception):
    """The service asked for more waiting than the budget allows. Not an ``AzureError``, so
    azure-core's retry loop lets it through instead of retrying it."""


@dataclass(frozen=True)
class SliceReport:
    """One query of one run: what was asked and what came of it (kept on the collector)."""

    table: str
    start: datetime
    end: datetime
    rows: int
    outcome: str  # "stored", "halved", "partial", "failed"


@dataclass
class _Answer:
    rows: list[dict] | None  # column name → value, as returned; None when the query failed outright
    truncated: bool = False
    error: str | None = None


class _BoundedRetry(RetryPolicy):
    """azure-core's retry policy (Retry-After honoured, 429/5xx retried) with a cap on the total
    time one request may spend sleeping: a throttling storm ends the run, not the process."""

    def __init__(self, max_wait: float, **kwargs):
        super().__init__(**kwargs)
        self.max_wait = max_wait

    def sleep(self, settings, transport, response=None):
        wait = self.get_retry_after(response) if response is not None else None
        wait = self.get_backoff_time(settings) if wait is None else wait
        waited = settings.get("waited", 0.0)
        if waited + wait > self.max_wait:
            status = response.http_response.status_code if response is not None else "no response"
            raise WaitTooLong(
                f"service still refusing (HTTP {status}) after {waited:.1f}s of waiting; it asks for "
                f"{wait:.1f}s more, over the {self.max_wait:.0f}s budget (max_wait_seconds)"
            )
        settings["waited"] = waited + wait
        super().sleep(settings, transport, response)


class AzureFirewallCollector:
    """Collects Azure Firewall rows from one Log Analytics workspace; see the module docstring."""

    name = NAME

    def __init__(self, settings: dict, credential, *, clock: Callable[[], datetime] | None = None):
        conf = {**DEFAULTS, **settings}
        self.workspace_id = _required(conf, "workspace_id")
        self.endpoint = str(conf["endpoint"]).rstrip("/")
        self.tables = _tables(conf["tables"])
        self.categories = tuple(conf.get("diagnostics_categories") or LEGACY_CATEGORIES)
        self.interval = timedelta(seconds=_number(conf, "interval_seconds"))
        self.overlap = timedelta(seconds=_number(conf, "overlap_seconds"))
        self.delay = timedelta(seconds=_number(conf, "delay_seconds"))
        self.initial_lookback = timedelta(hours=_number(conf, "initial_lookback_hours"))
        self.max_slice = timedelta(minutes=_number(conf, "max_slice_minutes"))
        self.min_slice = timedelta(seconds=_number(conf, "min_slice_seconds"))
        self.max_rows = int(_number(conf, "max_rows"))
        if not 1 <= self.max_rows < SERVICE_ROW_LIMIT:
            raise SettingsError(f"max_rows: must be between 1 and {SERVICE_ROW_LIMIT - 1} (the service's limit)")
        self.server_timeout = int(_number(conf, "server_timeout_seconds"))
        self.query_gap = _number(conf, "min_query_interval_seconds")
        self.detect_window = timedelta(hours=_number(conf, "detect_hours"))
        self._enforce_https = _enforce_https(self.endpoint)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = LogsQueryClient(
            credential,
            endpoint=self.endpoint,
            audience=conf.get("audience") or self.endpoint,
            retry_policy=_BoundedRetry(
                _number(conf, "max_wait_seconds"),
                retry_total=int(_number(conf, "retry_total")),
                retry_status=int(_number(conf, "retry_total")),
                retry_backoff_factor=_number(conf, "retry_backoff_factor"),
            ),
        )
        self._last_query = 0.0
        self.slices: list[SliceReport] = []  # the last run's queries, for status and tests
        self.detected: list[str] | None = None

    # -- one run ----------------------------------------------------------------------------

    def collect_once(self, store: Store, checkpoints: Checkpoints) -> CollectorRun:
        """Collect every table from its checkpoint; never raises for a service or data fault."""
        started = datetime.now(UTC)
        self.slices = []
        totals = RunTally()
        errors: list[str] = []
        try:
            position = checkpoints.get(NAME) or {"tables": {}}
            for table in self._tables_to_collect(position, errors):
                error = self._collect_table(table, position, store, checkpoints, totals)
                if error:
                    errors.append(f"{table}: {error}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 — a run ends with an error, never an exception
            errors.append(f"collector error: {type(exc).__name__}: {exc}")
        run = totals.finish(NAME, started, "; ".join(errors) or None)
        checkpoints.record_run(run)
        return run

    def _tables_to_collect(self, position: dict, errors: list[str]) -> list[str]:
        if self.tables != "auto":
            return list(self.tables)
        try:
            self.detected = self.detect_tables()
        except (AzureError, WaitTooLong) as exc:
            errors.append(f"table detection failed: {_describe(exc)}")
            return sorted(position["tables"])  # go on with what was collected before
        return self.detected

    def detect_tables(self) -> list[str]:
        """The known firewall tables that hold rows in the last ``detect_hours``."""
        query = (
            f"union isfuzzy=true withsource=SourceTable AZFW*, {LEGACY_TABLE}\n"
            "| summarize Rows = count() by SourceTable, Category"
        )
        answer = self._query(query, self.detect_window)
        if answer.rows is None or answer.error:
            raise HttpResponseError(message=answer.error or "no answer")
        found = set()
        for row in answer.rows:
            table, category = row.get("SourceTable"), row.get("Category")
            if table in AZFW_TABLES or (table == LEGACY_TABLE and category in self.categories):
                found.add(table)
        return [t for t in (*AZFW_TABLES, LEGACY_TABLE) if t in found]

    def _collect_table(
        self, table: str, position: dict[str, Any], store: Store, checkpoints: Checkpoints, totals: RunTally
    ) -> str | None:
        """Walk the table's window slice by slice; returns an error message, or None."""
        mark = position["tables"].get(table, {})
        end = self._clock() - self.delay
        start = (_parse_time(mark["until"]) - self.overlap) if "until" in mark else end - self.initial_lookback
        span = timedelta(seconds=mark.get("slice_seconds", self.max_slice.total_seconds()))
        span = min(max(span, self.min_slice), self.max_slice)
        while start < end:
            stop = min(start + span, end)
            answer = self._query(self.slice_query(table, start, stop), (start, stop))
            if answer.rows is None:
                self._report(table, start, stop, 0, "failed")
                return answer.error
            rows = len(answer.rows)
            if answer.truncated and stop - start > self.min_slice:
                span = max(self.min_slice, (stop - start) / 2)
                self._report(table, start, stop, rows, "halved")
                continue
            self._store(table, answer.rows, store, totals)
            if answer.truncated or answer.error:
                self._report(table, start, stop, rows, "partial")
                return answer.error or f"more than {self.max_rows} rows in {self.min_slice} (min_slice_seconds)"
            self._report(table, start, stop, rows, "stored")
            position["tables"][table] = {"until": _iso(stop), "slice_seconds": span.total_seconds()}
            checkpoints.commit(NAME, position)  # only now: the slice is stored
            start = stop
            if rows < self.max_rows // 4:
                span = min(self.max_slice, span * 2)
        return None

    # -- querying ---------------------------------------------------------------------------

    def slice_query(self, table: str, start: datetime, end: datetime) -> str:
        """The KQL for one table over [start, end), oldest first, at most ``max_rows`` + 1 rows."""
        stages = [table]
        if table == LEGACY_TABLE:
            stages.append("where Category in (" + ", ".join(_kql_string(c) for c in self.categories) + ")")
        stages.append(f"where TimeGenerated >= datetime({_iso(start)}) and TimeGenerated < datetime({_iso(end)})")
        if table == LEGACY_TABLE:
            stages.append("project " + ", ".join(LEGACY_COLUMNS))
        else:
            stages.append("extend _ItemId = _ItemId, _ResourceId = _ResourceId")
        stages.append("order by TimeGenerated asc, _ItemId asc")
        stages.append(f"take {self.max_rows + 1}")
        return "\n| ".join(stages)

    def _query(self, query: str, timespan) -> _Answer:
        """Ask once (azure-core retries inside): the rows, whether they were cut short, any error."""
        pause = self.query_gap - (time.monotonic() - self._last_query)
        if pause > 0:
            time.sleep(pause)  # stay well under 200 queries per 30 s per user
        self._last_query = time.monotonic()
        try:
            result = self._client.query_workspace(
                self.workspace_id,
                query,
                timespan=timespan,
                server_timeout=self.server_timeout,
                enforce_https=self._enforce_https,
            )
        except (AzureError, WaitTooLong) as exc:
            return _Answer(None, error=_describe(exc))
        if result.status == LogsQueryStatus.SUCCESS:
            tables, error = result.tables, None
        else:
            tables, error = result.partial_data or [], result.partial_error
        rows = _dicts(tables[0]) if tables else []
        too_large = error is not None and TOO_LARGE in _error_text(error)
        truncated = too_large or len(rows) > self.max_rows
        del rows[self.max_rows :]
        message = None if error is None or too_large else f"partial result: {_error_text(error)}"
        return _Answer(rows, truncated=truncated, error=message)

    # -- storing ----------------------------------------------------------------------------

    def _store(self, table: str, rows: list[dict[str, Any]], store: Store, totals: RunTally) -> None:
        if not rows:
            return
        originals, records = _row_texts(rows, table)
        batch = _parse(records)
        lines = [_row_of(reject.origin) for reject in batch.quarantined]
        events = _with_row_identity(batch.events, records, originals, set(lines))
        quarantined = [
            Quarantined(NAME, reject.reason, originals[line], self._origin(table, originals[line]))
            for reject, line in zip(batch.quarantined, lines)
        ]
        if events.num_rows:
            totals.count(store.append(events))
            totals.saw(newest_storable(events["@timestamp"]))
        totals.quarantined += store.state.quarantine_new(quarantined)

    def _origin(self, table: str, original: str) -> str:
        """Where a rejected row came from, with its hash: the overlap reads rows again, and a row
        already in quarantine is not put there twice."""
        return f"log-analytics:{self.workspace_id}/{table}#{hashlib.sha256(original.encode()).hexdigest()[:16]}"

    def _report(self, table, start, end, rows, outcome) -> None:
        self.slices.append(SliceReport(table, start, end, rows, outcome))


# -- rows to records ---------------------------------------------------------------------------


def _dicts(table) -> list[dict]:
    """A ``LogsTable``'s rows as dicts (the SDK has already made its datetimes)."""
    columns = list(table.columns)
    return [dict(zip(columns, row)) for row in table.rows]


def _row_texts(rows: list[dict], table: str) -> tuple[list[str], list[str]]:
    """Each row as JSON (``event.original``) and as the diagnostic record the parser reads.

    Log Analytics keeps a diagnostic record's ``properties`` as columns (legacy: ``msg`` as
    ``msg_s``), ``category`` as ``Type`` (legacy: ``Category``), ``time`` as ``TimeGenerated``.
    The row's ``_ItemId`` goes into the record too, so two identical lines stay two records.
    This is the one step done row by row: the SDK hands over Python rows, and orjson writes
    each in about a microsecond; the normalising is the parser's, in DuckDB. A time the SDK
    could not read stays text, and the parser quarantines it with the reason.
    """
    dumps, option = orjson.dumps, orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
    originals = [dumps(row, option=option).decode() for row in rows]
    if table == LEGACY_TABLE:
        records = [
            dumps(
                {
                    "category": row.get("Category"),
                    "operationName": row.get("OperationName"),
                    "time": row.get("TimeGenerated"),
                    "resourceId": row.get("ResourceId") or row.get("_ResourceId"),
                    "properties": {"msg": row.get("msg_s"), "_ItemId": row.get("_ItemId")},
                },
                option=option,
            ).decode()
            for row in rows
        ]
    else:
        records = [
            dumps(
                {
                    "category": row.get("Type") or table,
                    "time": row.get("TimeGenerated"),
                    "resourceId": row.get("_ResourceId"),
                    "properties": row,
                },
                option=option,
            ).decode()
            for row in rows
        ]
    return originals, records


#: What the parser calls the rows it is handed: a reject's origin is ``rows:<n>`` for row n - 1.
_ROWS = "rows"


def _parse(records: list[str]) -> ParsedBatch:
    """Run the firewall parser on the records in memory, as it reads an NDJSON export's lines."""
    return azure_firewall.parse_records(records, _ROWS)


def _row_of(origin: str) -> int:
    """The row a reject of :func:`_parse` came from. ``rows`` alone is the one row of a
    one-row answer, which the parser reads as one document, as it would a one-line file."""
    _, _, number = origin.partition(":")
    return int(number.split("[", 1)[0]) - 1 if number else 0


def _with_row_identity(events: pa.Table, records: list[str], originals: list[str], rejected: set[int]) -> pa.Table:
    """Replace the parser's record text and id by the row's (the SHA-256 of the row's JSON).

    The parser keeps its input order and drops only the rejected lines, so the events line up
    with the records that were not rejected; that is checked, not assumed, on the parser's ids.
    """
    kept = [i for i in range(len(records)) if i not in rejected]
    expected = [hashlib.sha256(records[i].encode()).hexdigest() for i in kept]
    if events["event.id"].to_pylist() != expected:
        raise RuntimeError("parsed firewall events do not line up with the rows they came from")
    texts = [originals[i] for i in kept]
    ids = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    events = events.set_column(events.schema.get_field_index("event.id"), "event.id", pa.array(ids, pa.string()))
    return events.set_column(
        events.schema.get_field_index("event.original"), "event.original", pa.array(texts, pa.string())
    )


# -- settings and small readers ------------------------------------------------------------------


def _required(conf: dict, key: str) -> str:
    value = conf.get(key)
    if not value or not isinstance(value, str):
        raise SettingsError(f"{key}: required (the Log Analytics workspace id, a GUID)")
    return value


def _number(conf: dict, key: str) -> float:
    value = conf[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SettingsError(f"{key}: must be a non-negative number, not {value!r}")
    return float(value)


def _tables(value) -> tuple[str, ...] | str:
    if value == "auto":
        return "auto"
    if isinstance(value, str):
        value = [value]
    known = (*AZFW_TABLES, LEGACY_TABLE)
    unknown = [t for t in value if t not in known]
    if not value or unknown:
        raise SettingsError(f'tables: "auto" or a list of {", ".join(known)}; unknown: {unknown}')
    return tuple(value)


def _enforce_https(endpoint: str) -> bool:
    parsed = urlparse(endpoint)
    if parsed.scheme == "https":
        return True
    if parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1"):
        return False
    raise SettingsError(f"endpoint: must be https (plain http only on the loopback address): {endpoint}")


def _kql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with seven fractional digits, as KQL ``datetime()`` and Log Analytics write."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text[:26] + "+00:00" if text.endswith("Z") else text)


def _error_text(error) -> str:
    """A ``LogsQueryError`` for a person. The SDK keeps the top message ("There were some errors
    when processing your query.") and leaves the engine's reason in ``details``; both are told."""
    reasons = []
    for detail in error.details or []:  # mappings (the SDK's own model type, not always a dict)
        inner = detail
        while isinstance(inner, Mapping) and isinstance(inner.get("innererror"), Mapping):
            inner = inner["innererror"]
        if isinstance(inner, Mapping) and inner.get("message"):
            reasons.append(str(inner["message"]))
    return f"{error.code}: {error.message}" + "".join(f" ({reason})" for reason in reasons)


def _describe(exc: Exception) -> str:
    """A message for a person: the HTTP status and the service's error, never a header or token."""
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) or getattr(exc, "reason", "") or ""
        message = str(exc.message).splitlines()[0] if exc.message else ""
        return f"HTTP {status} {code}: {message}".strip()
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
