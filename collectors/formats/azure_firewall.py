"""Azure Firewall diagnostic-settings records → ``azure.firewall`` events (source ``azure-firewall``).

Two shapes arrive from the same firewall:

* the legacy categories ``AzureFirewallNetworkRule``, ``AzureFirewallApplicationRule`` and
  ``AzureFirewallDnsProxy``, whose only payload is free text in ``properties.msg``
  ("TCP request from 10.0.0.4:49890 to 13.69.65.17:443. Action: Deny. Rule Collection: ...");
* the resource-specific ``AZFW*`` categories (``AZFWNetworkRule``, ``AZFWApplicationRule``,
  ``AZFWNatRule``, ``AZFWThreatIntel``, ``AZFWIdpsSignature``, ``AZFWDnsQuery``, ...), whose
  ``properties`` hold named fields.

Both land in the same columns. The work is one DuckDB query over an Arrow table of raw record
texts: ``from_json`` parses each record once, string functions read the legacy text. Python only
frames the file (``collectors.reading.jsondoc``: NDJSON lines, or one JSON document), unnests the rare
envelopes with orjson, and turns the few rejects into :class:`Quarantined` entries.

Decisions, so a reader need not guess:

* Containers: NDJSON of records, NDJSON whose lines are ``{"records": [...]}`` envelopes or
  arrays, one such envelope or array as a whole document, one record (pretty-printed too).
  Trailing commas, as in Elastic's pretty-printed sample, are accepted (DuckDB's JSON reader
  allows them where orjson does not).
* ``event.original`` is the NDJSON line as it was; a record taken out of a larger document (an
  envelope, an array, a pretty-printed file) is stored minified.
* The source has no record id, so ``event.id`` is the SHA-256 (hex) of ``event.original``. Azure
  writes records compact, so the same record hashes alike from an NDJSON line or from an envelope.
* Also read: a Log Analytics row exported as JSON (the query API, the portal's JSON export),
  whose table's fields are top-level: ``Type`` (``AZFW*``) is its category, ``TimeGenerated`` its
  time, the row its properties; a legacy ``AzureDiagnostics`` row gives ``Category``,
  ``OperationName`` and ``msg_s``.
* Times: ``time`` (else ``TimeGenerated``) as ISO 8601 with up to 9 decimals, with or without a
  zone (UTC if none), or as the US form some exports write (``3/1/2024 10:00:19 AM``, UTC).
* Quarantined: text that is not JSON, JSON that is not an object, a record without ``category``
  (not a diagnostic record), a record without a readable ``time``.
* Kept: a legacy record whose ``msg`` cannot be read is still firewall telemetry; it is
  stored with ``message`` set and the columns read from the text (``event.action`` too) null.
  Unknown ``AZFW*`` categories are kept with whatever named fields they share with known ones.
* Every ``AZFW*`` category Microsoft documents is read by its field names: the rule logs
  (``AZFWNetworkRule``, ``AZFWApplicationRule``, ``AZFWNatRule`` and their ``*Aggregation``
  summaries), ``AZFWThreatIntel``, ``AZFWIdpsSignature``, ``AZFWDnsQuery``,
  ``AZFWFqdnResolveFailure`` (the DNS server it asked is the destination, its ``Error`` the
  reason), ``AZFWFatFlow`` and ``AZFWFlowTrace``.
* IDPS and threat-intelligence records are ``event.kind`` ``alert`` with category
  ``intrusion_detection``: the firewall matched a signature, as ECS defines an alert.
* Invalid UTF-8 is replaced with U+FFFD rather than rejecting the file; CRLF line ends are read
  as LF. The ``event.id`` of such a record is the SHA-256 of its original bytes, so two records
  that differ only in bytes that are not UTF-8 are not merged into one.
* A gzip export is read as a bounded stream (``collectors.reading.gunzip``): a damaged one keeps
  the records before the damage, and the damage is quarantined with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.azure_time import time_sql
from collectors.formats.records import Records, joined, read_as_lines, record_texts
from collectors.reading.duckdb_session import connect
from collectors.reading.jsondoc import NOT_JSON, TEXTS, lines_or_document, loads, original_digests
from collectors.reading.rawfile import READ_ERRORS, read_bytes, read_content, unreadable
from store.batch import ParsedBatch, Quarantined, check_required
from store.schema import EVENTS
from store.sql.literals import quote_literal

SOURCE = "azure-firewall"
DATASET = "azure.firewall"

_DATASET = EVENTS.dataset(DATASET)
#: Every column of the dataset, in the order every batch has them (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(_DATASET.types)
SCHEMA = _DATASET.arrow_schema

# --- reading the legacy msg text ------------------------------------------------------------
# "<proto>[ Type=n] request from <src>[ to <dst>[ was DNAT'ed to <nat>]]. Action: ..." is read
# with plain string functions, which cost a fraction of a pattern with captures: the words after
# "request from" give the endpoints, each split on its last colon (so a bare IPv6 address keeps
# its colons; brackets are dropped). ICMP writes "ip:" (empty port) or, with Type=, no port.
# The rest is "Key: value." pairs: a value runs from its key to the next ". " or the end.
MSG_KEYS = (
    "Url",
    "Action",
    "Policy",
    "Rule Collection Group",
    "Rule Collection",
    "Rule",
    "Web Category",
    "ThreatIntel",
    "Signature",
    "IDS",
    "Priority",
    "Classification",
)
# DNS proxy: "DNS Request: 10.0.0.4:48197 - 15676 AAAA IN host.example. udp 55 false 512 NOERROR ..."
MSG_DNS = r"^\s*DNS Request: (\S+):(\d+) \S+ (\d+) (\S+) \S+ (\S+?)\.? (\w+) \d+ \w+ \d+ (\w+)"
# and its failures: "Error: 2 time.windows.com. A: read udp 10.0.1.5:49126->168.63.129.160:53: i/o timeout"
MSG_DNS_ERROR = r"^\s*Error: \d+ (\S+?)\.? (\w+): \w+ (\w+) (\S+):(\d+)->(\S+):(\d+): (.+?)[.’']?\s*$"

#: The fields read from each record; ``from_json`` reads them all in one parse of the record.
RECORD_SHAPE = {
    "category": "VARCHAR",
    "operationName": "VARCHAR",
    "time": "VARCHAR",
    "resourceId": "VARCHAR",
    "properties": {
        name: "VARCHAR"
        for name in (
            "msg",
            "SourceIp",
            "SourcePort",
            "DestinationIp",
            "DestinationPort",
            "Protocol",
            "Action",
            "ActionReason",
            "Policy",
            "RuleCollectionGroup",
            "RuleCollection",
            "Rule",
            "Fqdn",
            "TargetUrl",
            "Url",
            "WebCategory",
            "ThreatDescription",
            "TranslatedIp",
            "TranslatedPort",
            "SignatureId",
            "Category",
            "Description",
            "Severity",
            "QueryId",
            "QueryType",
            "QueryName",
            "ResponseCode",
            "ErrorMessage",
            # AZFWFqdnResolveFailure
            "ServerIp",
            "ServerPort",
            "Error",
            "_ResourceId",  # a Log Analytics row's resource
        )
    },
    # A Log Analytics row exported as JSON: the table's name and time, and a legacy row's text.
    # (Its ``Category`` and ``OperationName`` are read apart: DuckDB's struct names ignore case.)
    "Type": "VARCHAR",
    "TimeGenerated": "VARCHAR",
    "msg_s": "VARCHAR",
}

#: The properties of a resource-specific Log Analytics row, which are its top-level fields.
ROW_SHAPE = RECORD_SHAPE["properties"]

_INPUT = pa.schema([("n", pa.int64()), ("item", pa.int64()), ("raw", pa.large_string())])


def parse_file(path: Path) -> ParsedBatch:
    """Parse one export file (plain or gzip) into ``azure.firewall`` events and quarantined rejects.

    Never raises for bad content: an unreadable file, or a query DuckDB refuses, comes back as
    quarantine with the reason.
    """
    path = Path(path)
    ingested = datetime.now(UTC)
    try:
        data, damage = read_content(path, SOURCE)
        data = bytes(data)
    except READ_ERRORS as exc:
        return ParsedBatch(_empty(), [unreadable(SOURCE, path, exc)])
    try:
        with connect() as con:
            texts = _texts_of(con, data)
            del data  # a big export's bytes are not held while the query runs
            parsed = _parse_texts(con, texts, str(path), ingested)
        return ParsedBatch(parsed.events, damage + parsed.quarantined)
    # Whatever goes wrong here (a bug, input DuckDB cannot take, an error message DuckDB cut
    # mid-character), the contract is to quarantine rather than raise: the file is kept whole.
    except Exception as exc:  # noqa: BLE001
        return ParsedBatch(_empty(), [_whole_file(path, f"parser error: {exc}")])


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
                could_nest = pc.any(pc.or_(pc.starts_with(plain, "["), pc.match_substring(plain, '"records"')))
                lines = pa.table([pa.array(range(1, len(plain) + 1), pa.int64()), plain], schema=TEXTS)
                texts = _Texts(_with_items(lines), False, None, bool(could_nest.as_py()))
            else:
                texts = _texts_of(con, joined(records))
            return _parse_texts(con, texts, origin, ingested)
    except Exception as exc:  # noqa: BLE001 — as parse_file: quarantine, never raise
        record = joined(records).decode("utf-8", errors="replace")
        return ParsedBatch(_empty(), [Quarantined(SOURCE, f"parser error: {exc}", record, origin)])


@dataclass(frozen=True)
class _Texts:
    """Framed record texts: (n, item, raw), whether they are one document, the digests of
    their original bytes (``jsondoc.original_digests``) and whether any may be an envelope."""

    lines: pa.Table
    whole: bool
    digests: pa.Array | None
    could_nest: bool


def _texts_of(con: duckdb.DuckDBPyConnection, data: bytes) -> _Texts:
    """A file's bytes framed as lines or one document (``collectors.reading.jsondoc``)."""
    # Only these can hold envelopes or arrays; without them no line needs looking at.
    could_nest = b'"records"' in data or b"\n[" in data or data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["
    lines, whole = _frame(con, data)
    return _Texts(lines, whole, original_digests(data, whole), could_nest)


def _parse_texts(con: duckdb.DuckDBPyConnection, texts: _Texts, where: str, ingested: datetime) -> ParsedBatch:
    records = _with_digests(_records(con, texts.lines, texts.whole, texts.could_nest), texts.digests)
    table = _normalise(con, records, ingested)
    return _split(_with_original(table, records), where, texts.whole)


def _frame(con: duckdb.DuckDBPyConnection, data: bytes) -> tuple[pa.Table, bool]:
    """The file as a table (n, item, raw) of texts (``collectors.reading.jsondoc``), and whether it is
    one JSON document; ``item`` is filled in when envelopes are unnested."""
    texts, whole = lines_or_document(con, data)
    return _with_items(texts), whole


def _with_items(texts: pa.Table) -> pa.Table:
    return texts.add_column(1, _INPUT.field("item"), pa.nulls(texts.num_rows, pa.int64()))


def _with_digests(records: pa.Table, digests: pa.Array | None) -> pa.Table:
    """``digest``: the SHA-256 of the original bytes of each record's line (or document) when
    the file is not valid UTF-8 (``jsondoc.original_digests``), else null; ``event.id`` is made
    from it, so records that differ only in bytes that are not UTF-8 stay apart."""
    if digests is None:
        return records.append_column("digest", pa.nulls(records.num_rows, pa.string()))
    return records.append_column("digest", digests.take(pc.subtract(records["n"], 1)))


def _records(con: duckdb.DuckDBPyConnection, lines: pa.Table, whole: bool, could_nest: bool) -> pa.Table:
    """One row per record: envelopes and arrays are unnested, a whole document re-serialised.

    Only texts that can be containers are parsed here (orjson); plain NDJSON lines, nearly always
    all of them, pass through untouched to the query. ``could_nest`` is false when the file has
    no ``"records"`` and no line starting with ``[``, which spares looking at every line.
    """
    if whole:
        candidates = pa.array([True] * lines.num_rows, pa.bool_())
    elif not could_nest:
        return lines
    else:
        raw = lines["raw"]
        candidates = pc.or_(pc.starts_with(raw, "["), pc.match_substring(raw, '"records"'))
    if not pc.any(candidates).as_py():
        return lines
    numbers, items, texts = [], [], []
    for row in lines.filter(candidates).to_pylist():
        for item, text in _unnest(con, row["raw"]):
            numbers.append(row["n"])
            items.append(item)
            texts.append(text)
    unnested = pa.table([numbers, items, texts], schema=_INPUT)
    plain = lines.filter(pc.invert(candidates))
    if plain.num_rows == 0:
        return unnested
    return pa.concat_tables([plain, unnested]).sort_by([("n", "ascending"), ("item", "ascending")])


def _unnest(con: duckdb.DuckDBPyConnection, text: str) -> list[tuple[int | None, str]]:
    """(item number, record text) of an envelope or array; (None, text) for anything else.

    Records come out minified. Text that is not JSON goes on unchanged, for the query to reject.
    """
    value = loads(con, text)
    if value is NOT_JSON:
        return [(None, text)]
    if isinstance(value, dict) and isinstance(value.get("records"), list):
        value = value["records"]
    elif not isinstance(value, list):
        return [(None, orjson.dumps(value).decode())]
    return [(number, orjson.dumps(item).decode()) for number, item in enumerate(value)]


def _value(key: str, stop: str = ". ") -> str:
    """SQL for the value after ``Key: `` in the msg, up to ``stop`` (". ") or the end."""
    marker = quote_literal(key + ": ")
    return (
        f"CASE WHEN contains(msg, {marker}) THEN "
        f"nullif(rtrim(split_part(split_part(msg, {marker}, 2), {quote_literal(stop)}, 1), '. '), '') END"
    )


def _address(token: str) -> str:
    """SQL for the address of an endpoint token: all before its last colon, without brackets."""
    port = f"split_part({token}, ':', -1)"
    return (
        f"nullif(CASE WHEN NOT no_ports AND contains({token}, ':') "
        f"THEN trim(left({token}, length({token}) - length({port}) - 1), '[]') ELSE {token} END, '')"
    )


def _port(token: str) -> str:
    """SQL for the port of an endpoint token: the digits after its last colon, if any."""
    return (
        f"CASE WHEN NOT no_ports AND contains({token}, ':') THEN TRY_CAST(split_part({token}, ':', -1) AS INTEGER) END"
    )


def _normalise(con: duckdb.DuckDBPyConnection, records: pa.Table, ingested: datetime) -> pa.Table:
    """Run the normalisation query: one row per record, ``_reason`` set on rejects.

    Patterns are inlined as literals rather than passed as parameters, so DuckDB compiles each
    one once."""
    con.register("records", records)
    sql = _SQL.format(
        shape=quote_literal(orjson.dumps(RECORD_SHAPE).decode()),
        row_shape=quote_literal(orjson.dumps(ROW_SHAPE).decode()),
        time=time_sql("time_text"),
        dns=quote_literal(MSG_DNS),
        dns_error=quote_literal(MSG_DNS_ERROR),
        src_ip=_address("src_token"),
        src_port=_port("src_token"),
        dst_ip=_address("dst_token"),
        dst_port=_port("dst_token"),
        nat_ip=_address("nat_token"),
        nat_port=_port("nat_token"),
        known_key=" OR ".join(f"prefix(after_action, {quote_literal(key + ': ')})" for key in MSG_KEYS),
        url=_value("Url"),
        policy=_value("Policy"),
        rcg=_value("Rule Collection Group"),
        rc=_value("Rule Collection"),
        rule=_value("Rule"),
        webcat=_value("Web Category"),
        ti=_value("ThreatIntel"),
        sig=_value("Signature"),
        ids=_value("IDS", ". Priority: "),
        priority=_value("Priority"),
        classification=_value("Classification"),
    )
    return con.sql(sql, params=[ingested, DATASET]).to_arrow_table()


# Each CTE is read once, so DuckDB streams it rather than materialising the texts.
_SQL = """
WITH parsed AS (
    -- from_json parses each record once; json_valid is asked only of the few it could not read
    SELECT n, item, raw, digest, is_object, r,
           CASE WHEN r IS NOT NULL THEN true ELSE json_valid(raw) END AS ok
    FROM (SELECT *, CASE WHEN is_object THEN try(from_json(raw, {shape})) END AS r
          FROM (SELECT *, CASE WHEN prefix(raw, '{{') THEN true ELSE prefix(ltrim(raw), '{{') END AS is_object
                FROM records))
), fields AS (
    SELECT *, coalesce(r.properties.msg, r.msg_s) AS msg, {time} AS ts
    FROM (SELECT *, CASE WHEN r.properties IS NOT NULL THEN r.properties
                         WHEN r.Type IS NOT NULL THEN try(from_json(raw, {row_shape})) END AS p,
                 coalesce(nullif(r.category, ''), CASE WHEN r.properties IS NOT NULL THEN NULL
                          WHEN starts_with(r.Type, 'AZFW') THEN r.Type
                          WHEN r.msg_s IS NOT NULL THEN json_extract_string(raw, '$.Category') END) AS category,
                 coalesce(r.operationName, CASE WHEN r.properties IS NULL AND r.msg_s IS NOT NULL
                          THEN json_extract_string(raw, '$.OperationName') END) AS operation,
                 coalesce(r.time, r.TimeGenerated) AS time_text
          FROM parsed)
), legacy AS (
    SELECT *,
        -- the words after "request from": <src> [to <dst> [was DNAT'ed to <nat>]]
        CASE WHEN contains(msg, ' request from ')
             THEN string_split(split_part(msg, ' request from ', 2), ' ') END AS words,
        CASE WHEN contains(msg, ' request from ') THEN split_part(ltrim(msg), ' ', 1) END AS msg_proto,
        contains(msg, ' Type=') AS no_ports,  -- "ICMP Type=8 request from a to b." has no ports
        CASE WHEN category = 'AzureFirewallDnsProxy' THEN regexp_extract(msg, {dns},
            ['src', 'sport', 'id', 'qtype', 'qname', 'transport', 'rcode']) END AS d,
        CASE WHEN category = 'AzureFirewallDnsProxy' THEN regexp_extract(msg, {dns_error},
            ['qname', 'qtype', 'transport', 'src', 'sport', 'dst', 'dport', 'reason']) END AS de,
        {sig} AS signature,
        split_part(msg, 'Action: ', 2) AS from_action
    FROM fields
), tokens AS (
    SELECT *,
        rtrim(words[1], '.') AS src_token,
        CASE WHEN words[2] = 'to' THEN rtrim(words[3], '.') END AS dst_token,
        CASE WHEN words[2] = 'to' AND words[4] = 'was' AND words[5] = 'DNAT''ed' AND words[6] = 'to'
             THEN rtrim(words[7], '.') END AS nat_token
    FROM legacy
), endpoints AS (
    SELECT *,
        -- what follows "Action: Deny." when it is free text: "No rule matched. Proceeding ..."
        CASE WHEN strpos(from_action, '.') > 0
             THEN nullif(trim(substr(from_action, strpos(from_action, '.')), '. '), '') END
            AS after_action,
        {src_ip} AS src_ip, {src_port} AS src_port,
        {dst_ip} AS dst_host, {dst_port} AS dst_port,
        {nat_ip} AS nat_ip, {nat_port} AS nat_port,
        coalesce(nullif(msg_proto, ''), nullif(p.Protocol, ''), nullif(d.transport, ''),
                 nullif(de.transport, '')) AS proto,
        coalesce(nullif(rtrim(split_part(from_action, '.', 1)), ''), nullif(p.Action, ''),
                 CASE WHEN nat_token IS NOT NULL OR category IN ('AZFWNatRule', 'AZFWNatRuleAggregation') THEN 'DNAT' END) AS act,
        (category IN ('AZFWThreatIntel', 'AZFWIdpsSignature') OR signature IS NOT NULL
         OR contains(msg, '. ThreatIntel: ')) AS intrusion,
        category IN ('AzureFirewallDnsProxy', 'AZFWDnsQuery') AS dns_record
    FROM tokens
), addresses AS (
    SELECT *, (regexp_full_match(dst_host, '[0-9.]+') OR contains(dst_host, ':')) AS dst_is_ip
    FROM endpoints
)
SELECT
    ts AS "@timestamp",
    CAST($1 AS TIMESTAMPTZ) AS "event.ingested",
    $2 AS "event.dataset",
    -- a record read from bytes that are not UTF-8 is known by those bytes (see _with_digests)
    CASE WHEN digest IS NULL THEN sha256(raw) WHEN item IS NULL THEN digest
         ELSE sha256(digest || raw) END AS "event.id",
    CAST(NULL AS VARCHAR) AS "event.original", -- attached afterwards from the input, uncopied
    CASE WHEN intrusion THEN 'alert' ELSE 'event' END AS "event.kind",
    CASE WHEN intrusion THEN 'intrusion_detection' ELSE 'network' END AS "event.category",
    lower(act) AS "event.action",
    CAST(NULL AS VARCHAR) AS "event.outcome",
    coalesce(TRY_CAST({priority} AS BIGINT), TRY_CAST(p.Severity AS BIGINT)) AS "event.severity",
    msg AS "message",
    coalesce(src_ip, nullif(d.src, ''), nullif(de.src, ''), nullif(p.SourceIp, '')) AS "source.ip",
    coalesce(src_port, TRY_CAST(nullif(d.sport, '') AS INTEGER), TRY_CAST(nullif(de.sport, '') AS INTEGER),
             TRY_CAST(p.SourcePort AS INTEGER)) AS "source.port",
    coalesce(CASE WHEN dst_is_ip THEN dst_host END, nullif(de.dst, ''), nullif(p.DestinationIp, ''),
             nullif(p.ServerIp, '')) AS "destination.ip",
    coalesce(dst_port, TRY_CAST(nullif(de.dport, '') AS INTEGER), TRY_CAST(p.DestinationPort AS INTEGER),
             TRY_CAST(p.ServerPort AS INTEGER)) AS "destination.port",
    coalesce(CASE WHEN NOT dst_is_ip THEN dst_host END, nullif(p.Fqdn, '')) AS "destination.domain",
    coalesce(nat_ip, nullif(p.TranslatedIp, '')) AS "destination.nat.ip",
    coalesce(nat_port, TRY_CAST(p.TranslatedPort AS INTEGER)) AS "destination.nat.port",
    CASE WHEN lower(proto) IN ('tcp', 'udp', 'icmp', 'icmpv6') THEN lower(proto)
         WHEN proto IS NOT NULL THEN 'tcp' END AS "network.transport",
    CASE WHEN dns_record THEN 'dns'
         WHEN lower(proto) NOT IN ('tcp', 'udp', 'icmp', 'icmpv6') THEN lower(proto) END
        AS "network.protocol",
    coalesce({url}, nullif(p.TargetUrl, ''), nullif(p.Url, '')) AS "url.original",
    coalesce(nullif(d.qname, ''), nullif(de.qname, ''), nullif(rtrim(p.QueryName, '.'), ''))
        AS "dns.question.name",  -- without the root's trailing dot, as ECS writes names
    coalesce(nullif(d.qtype, ''), nullif(de.qtype, ''), nullif(p.QueryType, ''))
        AS "dns.question.type",
    coalesce(nullif(d.rcode, ''), nullif(p.ResponseCode, '')) AS "dns.response_code",
    coalesce({rule}, nullif(p.Rule, '')) AS "rule.name",
    coalesce({rc}, nullif(p.RuleCollection, '')) AS "rule.ruleset",
    coalesce(signature, nullif(p.SignatureId, '')) AS "rule.id",
    coalesce({classification}, nullif(p.Category, '')) AS "rule.category",
    category AS "azure.firewall.category",
    operation AS "azure.firewall.operation_name",
    act AS "azure.firewall.action",
    coalesce(CASE WHEN prefix(after_action, 'Reason: ') THEN substr(after_action, 9)
                  WHEN NOT ({known_key}) THEN after_action END,
             nullif(de.reason, ''), nullif(p.ActionReason, ''), nullif(p.ErrorMessage, ''), nullif(p.Error, ''))
        AS "azure.firewall.action_reason",
    coalesce({policy}, nullif(p.Policy, '')) AS "azure.firewall.policy",
    coalesce({rcg}, nullif(p.RuleCollectionGroup, '')) AS "azure.firewall.rule_collection_group",
    coalesce({webcat}, nullif(p.WebCategory, '')) AS "azure.firewall.web_category",
    coalesce({ids}, {ti}, nullif(p.ThreatDescription, ''), nullif(p.Description, ''))
        AS "azure.firewall.threat_intel.description",
    coalesce(r.resourceId, p._ResourceId) AS "azure.resource.id",
    'Microsoft' AS "observer.vendor",
    'Azure Firewall' AS "observer.product",
    n AS _line,
    item AS _item,
    CASE WHEN ok THEN false ELSE trim(raw, ' \t\n\r\x0b\x0c') = '' END AS _blank,  -- no record
    CASE WHEN NOT ok THEN 'not valid JSON'
         WHEN NOT is_object THEN 'record is not a JSON object'
         WHEN category IS NULL AND r.Type IS NOT NULL
              THEN 'a Log Analytics row of table "' || left(r.Type, 64) || '", not an Azure Firewall table'
         WHEN category IS NULL
              THEN 'record has no category: not an Azure Firewall diagnostic record'
         WHEN time_text IS NULL THEN 'record has no time'
         WHEN ts IS NULL THEN 'time is not a timestamp: ' || left(time_text, 64) END AS _reason
FROM addresses
"""


def _with_original(table: pa.Table, records: pa.Table) -> pa.Table:
    """Attach ``event.original`` from the input texts rather than copying them through DuckDB.

    DuckDB keeps the input order, so the rows line up; should they not, both sides are sorted
    by (line, item), which is unique per record.
    """
    if not (table["_line"].equals(records["n"]) and table["_item"].equals(records["item"])):
        table = table.sort_by([("_line", "ascending"), ("_item", "ascending")])
        records = records.sort_by([("n", "ascending"), ("item", "ascending")])
    index = table.schema.get_field_index("event.original")
    return table.set_column(index, "event.original", records["raw"].cast(pa.string()))


def _split(table: pa.Table, where: str, whole: bool) -> ParsedBatch:
    """Separate kept events from rejects and blank lines; rejects are few, a Python list is fine."""
    dropped = pc.or_(table["_blank"], pc.is_valid(table["_reason"]))
    if not pc.any(dropped).as_py():
        events, rejects = table.select(SCHEMA.names), []
    else:
        events = table.filter(pc.invert(dropped)).select(SCHEMA.names)
        rejected = table.filter(pc.and_(pc.invert(table["_blank"]), pc.is_valid(table["_reason"])))
        rejects = rejected.select(["_line", "_item", "_reason", "event.original"]).to_pylist()
    events = events.cast(SCHEMA)
    check_required(events)
    quarantined = [
        Quarantined(SOURCE, row["_reason"], row["event.original"], _origin(where, whole, row["_line"], row["_item"]))
        for row in rejects
    ]
    return ParsedBatch(events, quarantined)


def _origin(where: str, whole: bool, line: int, item: int | None) -> str:
    """``path:line`` for an NDJSON line, ``[i]`` added for the i-th record of an envelope/array."""
    place = where if whole else f"{where}:{line}"
    return place if item is None else f"{place}[{item}]"


def _whole_file(path: Path, reason: str) -> Quarantined:
    """The file as one quarantined record, read again: the parse dropped its copy to save memory."""
    try:
        record = read_bytes(path).decode("utf-8", errors="replace")
    except READ_ERRORS as exc:
        record, reason = "", f"{reason}; and the file could not be read again: {exc}"
    return Quarantined(SOURCE, reason, record, str(path))


def _empty() -> pa.Table:
    return SCHEMA.empty_table()
