"""Defender alerts → ``m365_defender.alert`` events (source ``defender-alerts``).

Two APIs describe the same alerts in different shapes, and exports of either arrive here:

* Microsoft Graph security ``alert`` (``/security/alerts_v2``): ``createdDateTime``,
  ``providerAlertId``, ``serviceSource``, and ``evidence`` items typed by ``@odata.type``
  (``deviceEvidence``, ``userEvidence``, ``fileEvidence``, ...);
* Defender for Endpoint ``/api/alerts``: ``alertCreationTime``, ``machineId``,
  ``computerDnsName``, and ``evidence`` items typed by ``entityType`` (``User``, ``File``, ...).

The shape is told per record, so one file may mix them. Containers: one alert, a ``{"value":
[...]}`` page, a JSON array, NDJSON of any of these, and Graph incidents with ``$expand=alerts``
(each incident's ``alerts`` become events). The mapping is one DuckDB query over the raw alert
texts (``from_json`` reads each alert once); Python frames the file, unnests pages, arrays and
incidents with orjson (a line that is one alert goes to the query untouched), and lists the
rejects. Trailing commas, as in some documentation samples, are accepted.

Decisions:

* ``event.id`` is the alert's own ``id``; ``event.original`` is the NDJSON line when the line is
  the alert, otherwise the alert minified (from a page, an array, an incident, a pretty file).
* ``event.kind`` is ``alert``; ``event.category`` is ``malware`` when the alert's category is
  Malware, else ``threat``; ``event.action`` is the category lower-cased (``alert`` without one);
  ``event.outcome`` is null: an alert is neither a success nor a failure.
* Quarantined: text that is not JSON, JSON that is not an object, an object that is neither
  alert shape (an incident listed without ``$expand=alerts`` says so), an alert without ``id``,
  an alert without a readable creation time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.records import Records, joined, read_as_lines, record_texts
from collectors.reading.duckdb_session import connect
from collectors.reading.jsondoc import NOT_JSON, TEXTS, lines_or_document, loads
from collectors.reading.rawfile import READ_ERRORS, read_content, unreadable
from store.batch import HISTORY_DATASETS, VERSION_COLUMNS, ParsedBatch, Quarantined, check_required
from store.schema import EVENTS
from store.sql.literals import quote_literal

SOURCE = "defender-alerts"
DATASET = "m365_defender.alert"
HISTORY = HISTORY_DATASETS[DATASET]
ALERT_ID = "m365_defender.alert.id"
UPDATED = VERSION_COLUMNS[DATASET]
#: Defender for Endpoint's API serves only its own alerts; Graph names that service so.
MDE_SERVICE_SOURCE = "microsoftDefenderForEndpoint"

_DATASET = EVENTS.dataset(DATASET)
#: Every column of the dataset, in the order every batch has them (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(_DATASET.types)
SCHEMA = _DATASET.arrow_schema

#: The fields read from each alert, both shapes at once; ``from_json`` parses the alert once.
ALERT_SHAPE = {
    "id": "VARCHAR",
    "@odata.type": "VARCHAR",
    "providerAlertId": "VARCHAR",
    "serviceSource": "VARCHAR",
    "createdDateTime": "VARCHAR",
    "lastUpdateDateTime": "VARCHAR",
    "alertCreationTime": "VARCHAR",
    "lastUpdateTime": "VARCHAR",
    "machineId": "VARCHAR",
    "computerDnsName": "VARCHAR",
    "title": "VARCHAR",
    "severity": "VARCHAR",
    "status": "VARCHAR",
    "category": "VARCHAR",
    "detectionSource": "VARCHAR",
    "incidentId": "VARCHAR",
    "threatFamilyName": "VARCHAR",
    "mitreTechniques": "JSON",
    "evidence": "JSON",
    "incidentWebUrl": "VARCHAR",
}

#: One row per alert text: line number, item in a page or array, alert in an incident, and
#: where that is, written for a person ("[3]", "[0].alerts[1]").
_INPUT = pa.schema(
    [("n", pa.int64()), ("i", pa.int64()), ("j", pa.int64()), ("place", pa.string()), ("raw", pa.large_string())]
)


# -- versions and history ------------------------------------------------------------------------
#
# An alert keeps its own id as ``event.id`` in every version; the stores answer with the newest
# (``store.batch.VERSION_COLUMNS``). Every version is also kept unchanged in the append-only
# history dataset, so the status history survives the replacement, whether the versions came
# from the live collector or from exports replayed one after another.


def history_events(alerts: pa.Table) -> pa.Table:
    """Each alert version as a history event: ``event.id`` = id@lastUpdateDateTime (UTC, µs, ``Z``;
    the id alone when the alert has none), the alert id kept in ``m365_defender.alert.id``."""
    ids = alerts.column("event.id")
    stamps = pc.strftime(alerts.column(UPDATED), format="%Y-%m-%dT%H:%M:%SZ")
    versions = pc.coalesce(pc.binary_join_element_wise(ids, stamps, "@"), ids)
    history = alerts.set_column(alerts.column_names.index("event.id"), "event.id", versions)
    history = history.set_column(
        history.column_names.index("event.dataset"), "event.dataset", pa.array([HISTORY] * alerts.num_rows, pa.string())
    )
    return history.append_column(ALERT_ID, ids)


class KeepingHistory:
    """A store as alert writers see it: each batch is appended to the history first, then as the
    alerts themselves, whose result (stored, duplicates) is the caller's. History first, so no
    stored version is ever missing from it."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def append(self, events: pa.Table):
        self._store.append(history_events(events))
        return self._store.append(events)


#: How ``collectors.replay`` stores this source's events.
store_view = KeepingHistory


def parse_file(path: Path) -> ParsedBatch:
    """Parse one export file (plain or gzip) into ``m365_defender.alert`` events and rejects.

    Never raises for bad content: an unreadable file, or a query DuckDB refuses, comes back as
    quarantine with the reason.
    """
    path = Path(path)
    ingested = datetime.now(UTC)
    try:
        content, damage = read_content(path, SOURCE)
        data = bytes(content)
    except READ_ERRORS as exc:
        return ParsedBatch(_empty(), [unreadable(SOURCE, path, exc)])
    try:
        with connect() as con:
            lines, whole = _frame(con, data)
            parsed = _parse_texts(con, lines, whole, str(path), ingested)
        return ParsedBatch(parsed.events, damage + parsed.quarantined)
    # Whatever goes wrong here (a bug, input DuckDB cannot take, an error message DuckDB cut
    # mid-character), the contract is to quarantine rather than raise: the file is kept whole.
    except Exception as exc:  # noqa: BLE001
        record = data.decode("utf-8", errors="replace")
        return ParsedBatch(_empty(), [Quarantined(SOURCE, f"parser error: {exc}", record, str(path))])


def parse_records(records: Records, origin: str) -> ParsedBatch:
    """What :func:`parse_file` gives for ``records`` written as NDJSON lines, without the file;
    ``origin`` names them where the file's path would (``<origin>:<record number>``).

    Plain records go to the query as they are (:mod:`collectors.formats.records`); the same
    framing decisions as a file's are made on them (one record alone, or a first record that is
    not JSON, may make the text one document), and anything odder is framed as a file's bytes.
    """
    ingested = datetime.now(UTC)
    try:
        with connect() as con:
            plain = record_texts(records)
            if plain is not None and read_as_lines(con, plain):
                texts = pa.table([pa.array(range(1, len(plain) + 1), pa.int64()), plain], schema=TEXTS)
                lines, whole = _with_places(texts), False
            else:
                lines, whole = _frame(con, joined(records))
            return _parse_texts(con, lines, whole, origin, ingested)
    except Exception as exc:  # noqa: BLE001 — as parse_file: quarantine, never raise
        record = joined(records).decode("utf-8", errors="replace")
        return ParsedBatch(_empty(), [Quarantined(SOURCE, f"parser error: {exc}", record, origin)])


def _parse_texts(
    con: duckdb.DuckDBPyConnection, lines: pa.Table, whole: bool, where: str, ingested: datetime
) -> ParsedBatch:
    table = _normalise(con, _alerts(con, lines, whole), ingested)
    return _split(table, where, whole)


def _frame(con: duckdb.DuckDBPyConnection, data: bytes) -> tuple[pa.Table, bool]:
    """The file as a table of texts (``collectors.reading.jsondoc``: one per line, or one document), and
    whether it is a document; ``i``, ``j`` and ``place`` are filled in when containers are unnested."""
    texts, whole = lines_or_document(con, data)
    return _with_places(texts), whole


def _with_places(texts: pa.Table) -> pa.Table:
    count = texts.num_rows
    nulls = pa.nulls(count, pa.int64())
    table = texts.add_column(1, _INPUT.field("i"), nulls).add_column(2, _INPUT.field("j"), nulls)
    return table.add_column(3, _INPUT.field("place"), pa.array([""] * count, pa.string()))


def _alerts(con: duckdb.DuckDBPyConnection, lines: pa.Table, whole: bool) -> pa.Table:
    """One row per alert: pages, arrays and incidents are unnested, a document re-serialised.

    Only texts that can be containers are parsed here (orjson); a line that is an alert, the
    usual case, goes to the query as it is.
    """
    raw = lines["raw"]
    candidates = (
        pa.array([True] * lines.num_rows)
        if whole
        else pc.or_(
            pc.starts_with(raw, "["),
            pc.or_(pc.match_substring(raw, '"value"'), pc.match_substring(raw, '"alerts"')),
        )
    )
    if not pc.any(candidates).as_py():
        return lines
    rows: dict[str, list] = {name: [] for name in _INPUT.names}
    for line in lines.filter(candidates).to_pylist():
        for i, j, place, text in _unnest(con, line["raw"]):
            for name, value in zip(_INPUT.names, (line["n"], i, j, place, text)):
                rows[name].append(value)
    unnested = pa.table(rows, schema=_INPUT)
    plain = lines.filter(pc.invert(candidates))
    if plain.num_rows == 0:
        return unnested
    order = [("n", "ascending"), ("i", "ascending"), ("j", "ascending")]
    return pa.concat_tables([plain, unnested]).sort_by(order)


def _unnest(con: duckdb.DuckDBPyConnection, text: str) -> list[tuple[int | None, int | None, str, str]]:
    """(item, alert, place, text) for each alert in a page, an array or incidents' ``alerts``.

    Anything else is one text: minified when it is JSON, as it was when it is not (the query
    rejects it).
    """
    value = loads(con, text)
    if value is NOT_JSON:
        return [(None, None, "", text)]
    if isinstance(value, dict) and isinstance(value.get("value"), list):
        value = value["value"]
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    found: list[tuple[int | None, int | None, str, str]] = []
    for i, item in items:
        place = "" if i is None else f"[{i}]"
        alerts = item.get("alerts") if isinstance(item, dict) else None
        if isinstance(alerts, list):
            found.extend((i, j, f"{place}.alerts[{j}]", orjson.dumps(alert).decode()) for j, alert in enumerate(alerts))
        else:
            found.append((i, None, place, orjson.dumps(item).decode()))
    return found


def _normalise(con: duckdb.DuckDBPyConnection, alerts: pa.Table, ingested: datetime) -> pa.Table:
    """Run the query: one row per alert text, ``_reason`` set on rejects."""
    con.register("alerts", alerts)
    return con.sql(_QUERY, params=[ingested, DATASET, MDE_SERVICE_SOURCE]).to_arrow_table()


# Stages: parsed (from_json once) → shaped (which API; creation time) → evidence (the first
# device, user and file) → the columns. JSON functions fail on invalid text, and AND does not
# always spare them, so each is guarded by a CASE.
_SQL = """
WITH checked AS (
    SELECT n, i, j, place, raw, json_valid(raw) AS ok FROM alerts WHERE trim(raw, ' \t\n\r\x0b\x0c') <> ''  -- a blank line is no record
), parsed AS (
    SELECT *, coalesce(json_kind = 'OBJECT', false) AS is_object,
        CASE WHEN json_kind = 'OBJECT' THEN from_json(raw, {shape}) END AS a
    FROM (SELECT *, CASE WHEN ok THEN json_type(raw) END AS json_kind FROM checked)
), shaped AS (
    SELECT *,
        -- an incident carries some of these too, so its own type rules it out
        coalesce(NOT contains(a."@odata.type", 'incident'), true)
        AND coalesce(a."@odata.type" = '#microsoft.graph.security.alert'
                     OR a.providerAlertId IS NOT NULL OR a.serviceSource IS NOT NULL
                     OR json_extract_string(ev[1], '$."@odata.type"') IS NOT NULL, false) AS graph,
        (a.alertCreationTime IS NOT NULL OR a.machineId IS NOT NULL OR a.computerDnsName IS NOT NULL)
            AS endpoint
    FROM (SELECT *, TRY_CAST(a.evidence AS JSON[]) AS ev FROM parsed)
), timed AS (
    SELECT *,
        CASE WHEN graph THEN a.createdDateTime ELSE a.alertCreationTime END AS created,
        TRY_CAST(created AS TIMESTAMPTZ) AS ts
    FROM shaped
), evidence AS (
    SELECT *,
        list_filter(ev, lambda e: json_extract_string(e, '$."@odata.type"')
                                  = '#microsoft.graph.security.deviceEvidence')[1] AS device,
        list_filter(ev, lambda e: json_extract_string(e, '$."@odata.type"')
                                      = '#microsoft.graph.security.userEvidence'
                                  AND json_extract_string(e, '$.userAccount.userPrincipalName')
                                      IS NOT NULL)[1] AS graph_user,
        list_filter(ev, lambda e: json_extract_string(e, '$."@odata.type"')
                                  = '#microsoft.graph.security.fileEvidence')[1] AS graph_file,
        list_filter(ev, lambda e: json_extract_string(e, '$.userPrincipalName')
                                  IS NOT NULL)[1] AS endpoint_user,
        list_filter(ev, lambda e: json_extract_string(e, '$.entityType') = 'File')[1] AS endpoint_file
    FROM timed
)
SELECT
    ts AS "@timestamp",
    CAST($1 AS TIMESTAMPTZ) AS "event.ingested",
    $2 AS "event.dataset",
    a.id AS "event.id",
    raw AS "event.original",
    'alert' AS "event.kind",
    CASE WHEN lower(a.category) = 'malware' THEN 'malware' ELSE 'threat' END AS "event.category",
    coalesce(lower(nullif(a.category, '')), 'alert') AS "event.action",
    CAST(NULL AS VARCHAR) AS "event.outcome",
    a.title AS "message",
    a.title AS "rule.name",
    CASE WHEN graph THEN json_extract_string(device, '$.deviceDnsName') ELSE a.computerDnsName END
        AS "host.name",
    CASE WHEN graph THEN json_extract_string(device, '$.mdeDeviceId') ELSE a.machineId END
        AS "host.id",
    lower(CASE WHEN graph THEN json_extract_string(graph_user, '$.userAccount.userPrincipalName')
               ELSE json_extract_string(endpoint_user, '$.userPrincipalName') END) AS "user.name",
    CASE WHEN graph THEN json_extract_string(graph_file, '$.fileDetails.fileName')
         ELSE json_extract_string(endpoint_file, '$.fileName') END AS "file.name",
    CASE WHEN graph THEN json_extract_string(graph_file, '$.fileDetails.sha256')
         ELSE json_extract_string(endpoint_file, '$.sha256') END AS "file.hash.sha256",
    a.mitreTechniques AS "threat.technique.id",
    lower(a.severity) AS "m365_defender.alert.severity",
    a.status AS "m365_defender.alert.status",
    a.category AS "m365_defender.alert.category",
    a.detectionSource AS "m365_defender.alert.detection_source",
    CASE WHEN graph THEN a.serviceSource ELSE $3 END AS "m365_defender.alert.service_source",
    a.incidentId AS "m365_defender.alert.incident_id",
    TRY_CAST(CASE WHEN graph THEN a.lastUpdateDateTime ELSE a.lastUpdateTime END AS TIMESTAMPTZ)
        AS "m365_defender.alert.last_update_time",
    a.mitreTechniques AS "m365_defender.alert.mitre_techniques",
    a.threatFamilyName AS "m365_defender.alert.threat_family_name",
    a.evidence AS "m365_defender.alert.evidence",
    n AS _line,
    place AS _place,
    CASE WHEN NOT ok THEN 'not valid JSON'
         WHEN NOT is_object THEN 'record is not a JSON object'
         WHEN NOT (graph OR endpoint)
              AND (contains(a."@odata.type", 'incident') OR a.incidentWebUrl IS NOT NULL)
              THEN 'an incident without alerts: list incidents with $expand=alerts'
         WHEN NOT (graph OR endpoint)
              THEN 'neither a Graph security alert nor a Defender for Endpoint alert'
         WHEN nullif(a.id, '') IS NULL THEN 'alert has no id'
         WHEN created IS NULL THEN 'alert has no creation time'
         WHEN ts IS NULL THEN 'creation time is not a timestamp: ' || created END AS _reason
FROM evidence
"""
_QUERY = _SQL.format(shape=quote_literal(orjson.dumps(ALERT_SHAPE).decode()))


def _split(table: pa.Table, where: str, whole: bool) -> ParsedBatch:
    """Separate kept events from rejects; both are few, so a Python list of rejects is fine."""
    rejected = pc.is_valid(table["_reason"])
    events = table.filter(pc.invert(rejected)).select(SCHEMA.names).cast(SCHEMA)
    check_required(events)
    rejects = table.filter(rejected).select(["_line", "_place", "_reason", "event.original"]).to_pylist()
    quarantined = [
        Quarantined(SOURCE, row["_reason"], row["event.original"], _origin(where, whole, row["_line"], row["_place"]))
        for row in rejects
    ]
    return ParsedBatch(events, quarantined)


def _origin(where: str, whole: bool, line: int, place: str) -> str:
    """``path:line`` for an NDJSON line, then where in it: ``[2]``, ``[0].alerts[1]``."""
    return (where if whole else f"{where}:{line}") + place


def _empty() -> pa.Table:
    return SCHEMA.empty_table()
