"""The event schema (store/events_schema.toml, read by store/schema.py) is the one description of
the datasets, and every room that needs it reads it: the parsers emit exactly its columns and
types, the Sigma pipelines know exactly its columns, the Elasticsearch template declares each
column by its type, alerts group by its entity fields, and docs/events.md documents exactly it.
A broken schema file fails with an error that names the dataset and the column.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from collectors.formats import azure_firewall, defender_alerts, syslog
from collectors.formats.signins import entra_signins, entra_signins_la, signin_schema
from detections import alerts, loader
from rules import logsources, pipelines
from rules.pipelines import RequireKnownColumns, cyberwell_pipeline
from store import batch, schema
from store.batch import plain_text
from store.elastic import mapping as elastic_mapping
from store.elastic.mapping import events_template, field_kind
from store.schema import EVENTS, ColumnType, EventSchema, SchemaError, loads

REPO = Path(__file__).resolve().parents[2]
EVENTS_MD = REPO / "docs" / "events.md"


# -- the parsers emit the schema's columns ------------------------------------------------------

SIGNIN = {
    "id": "a1",
    "createdDateTime": "2026-11-16T08:00:00Z",
    "userPrincipalName": "Ann.Smith@Council.gov.uk",
    "userId": "u1",
    "ipAddress": "81.2.69.142",
    "status": {"errorCode": 50126, "failureReason": "Invalid username or password"},
    "isInteractive": True,
    "deviceDetail": {"isCompliant": False, "operatingSystem": "Windows10"},
    "location": {"countryOrRegion": "GB", "city": "Maidstone"},
    "appliedConditionalAccessPolicies": [],
}
LA_ROW = {
    "TimeGenerated": "2026-11-16T08:00:00Z",
    "Id": "b1",
    "UserPrincipalName": "ann.smith@council.gov.uk",
    "ResultType": "0",
    "IPAddress": "81.2.69.142",
    "IsInteractive": "true",
    "ConditionalAccessPolicies": "[]",
}
GRAPH_ALERT = {
    "id": "da1",
    "providerAlertId": "p1",
    "serviceSource": "microsoftDefenderForEndpoint",
    "createdDateTime": "2026-11-16T08:00:00Z",
    "lastUpdateDateTime": "2026-11-16T09:00:00Z",
    "title": "Malware was detected",
    "severity": "high",
    "status": "new",
    "category": "Malware",
    "mitreTechniques": ["T1059"],
    "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "pc1"}],
}
ENDPOINT_ALERT = {
    "id": "da2",
    "alertCreationTime": "2026-11-16T08:00:00Z",
    "lastUpdateTime": "2026-11-16T09:30:00Z",
    "machineId": "m1",
    "computerDnsName": "pc2",
    "title": "Suspicious PowerShell",
    "severity": "Medium",
}
FIREWALL_RECORDS = [
    {
        "category": "AzureFirewallNetworkRule",
        "time": "2026-11-16T08:00:00Z",
        "resourceId": "/SUBSCRIPTIONS/X/AZUREFIREWALLS/FW",
        "operationName": "AzureFirewallNetworkRuleLog",
        "properties": {"msg": "TCP request from 10.0.0.4:49890 to 13.69.65.17:443. Action: Deny."},
    },
    {
        "category": "AZFWNetworkRule",
        "time": "2026-11-16T08:00:01Z",
        "resourceId": "/SUBSCRIPTIONS/X/AZUREFIREWALLS/FW",
        "properties": {"SourceIp": "10.0.0.4", "SourcePort": 4000, "DestinationIp": "1.1.1.1", "Protocol": "TCP"},
    },
]
FORTIGATE = (
    '<189>date=2026-11-16 time=08:00:00 devname="FGT-1" devid="FG100" logid="0000000013" type="traffic"'
    ' subtype="forward" level="notice" srcip=10.0.0.1 srcport=5000 dstip=1.1.1.1 dstport=443 proto=6'
    ' action="accept" policyid=1 policyname="out"'
)
PANOS = (
    "<14>Nov 16 08:00:00 fw1 1,2026/11/16 08:00:00,0123456789,TRAFFIC,end,2561,2026/11/16 08:00:00,"
    "10.0.0.1,1.1.1.1,0.0.0.0,0.0.0.0,allow-web,,,ssl,vsys1,trust,untrust,ethernet1/1,ethernet1/2,"
    "Forward,,1,1,5000,443,0,0,0x0,tcp,allow"
)
CEF = (
    "<134>Nov 16 08:00:00 host CEF:0|Vendor|Product|1.0|100|Blocked|5|src=10.0.0.1 dst=1.1.1.1"
    " spt=5000 dpt=443 act=blocked rt=1763280000000"
)


def _ndjson(*records: dict) -> bytes:
    return b"\n".join(orjson.dumps(record) for record in records) + b"\n"


def _la_csv() -> bytes:
    header = ",".join(LA_ROW)
    return ("\ufeff" + header + "\r\n" + ",".join(f'"{v}"' for v in LA_ROW.values()) + "\r\n").encode()


@dataclass(frozen=True)
class Case:
    dataset: str
    parse: Callable[[Path], pa.Table]
    name: str
    content: bytes


def _events(parse: Callable) -> Callable[[Path], pa.Table]:
    def run(path: Path) -> pa.Table:
        parsed = parse(path)
        assert not parsed.quarantined, parsed.quarantined
        assert parsed.count > 0
        return parsed.events

    return run


def _history(path: Path) -> pa.Table:
    return defender_alerts.history_events(_events(defender_alerts.parse_file)(path))


CASES = [
    Case("azure.signinlogs", _events(entra_signins.parse_file), "graph.ndjson", _ndjson(SIGNIN, SIGNIN | {"id": "a2"})),
    Case("azure.signinlogs", _events(entra_signins.parse_file), "graph.json.gz", gzip.compress(orjson.dumps([SIGNIN]))),
    Case("azure.signinlogs", _events(entra_signins_la.parse_file), "la.ndjson", _ndjson(LA_ROW)),
    Case("azure.signinlogs", _events(entra_signins_la.parse_file), "la.csv", _la_csv()),
    Case(
        "m365_defender.alert",
        _events(defender_alerts.parse_file),
        "alerts.ndjson",
        _ndjson(GRAPH_ALERT, ENDPOINT_ALERT),
    ),
    Case("m365_defender.alert_history", _history, "alerts.ndjson", _ndjson(GRAPH_ALERT, ENDPOINT_ALERT)),
    Case("azure.firewall", _events(azure_firewall.parse_file), "firewall.ndjson", _ndjson(*FIREWALL_RECORDS)),
    Case("fortinet.firewall", _events(syslog.parse_file), "fortigate.log", FORTIGATE.encode() + b"\n"),
    Case("panw.panos", _events(syslog.parse_file), "panos.log", PANOS.encode() + b"\n"),
    Case("cef", _events(syslog.parse_file), "cef.log", CEF.encode() + b"\n"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.dataset}:{case.name}")
def test_each_parser_emits_its_datasets_columns_in_order_with_their_types(tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.content)
    # event.original may come as views of the file's bytes (store.batch.ORIGINAL_VIEW): text.
    table = plain_text(case.parse(path))
    dataset = EVENTS.dataset(case.dataset)
    assert set(table.column("event.dataset").to_pylist()) == {case.dataset}
    fields = list(table.schema)
    assert [field.name for field in fields[: len(dataset.columns)]] == [column.name for column in dataset.columns]
    assert pa.schema(fields[: len(dataset.columns)]) == dataset.arrow_schema
    # Beyond the declared columns only vendor keys, as sent (strings), under an open namespace.
    for extra in fields[len(dataset.columns) :]:
        assert extra.name.startswith(dataset.open_namespaces), extra.name
        assert extra.type == pa.string(), extra


def test_tables_without_events_have_the_schemas_columns(tmp_path):
    blank = tmp_path / "blank.log"
    blank.write_bytes(b"")
    assert syslog.parse_file(blank).events.schema == EVENTS.group("syslog").arrow_schema
    assert signin_schema.empty().schema == EVENTS.dataset("azure.signinlogs").arrow_schema
    for module in (defender_alerts, azure_firewall):
        empty = module.parse_file(blank).events
        assert empty.num_rows == 0 and empty.schema == EVENTS.dataset(module.DATASET).arrow_schema


def test_the_arrow_schemas_are_the_schemas_own_built_once():
    assert signin_schema.SCHEMA is EVENTS.dataset("azure.signinlogs").arrow_schema
    assert defender_alerts.SCHEMA is EVENTS.dataset("m365_defender.alert").arrow_schema
    assert azure_firewall.SCHEMA is EVENTS.dataset("azure.firewall").arrow_schema
    assert schema.load().dataset("cef").arrow_schema == EVENTS.dataset("cef").arrow_schema


def test_the_store_batch_names_are_the_schemas():
    assert batch.REQUIRED_COLUMNS == dict(EVENTS.group("required").types)
    assert list(batch.EVENT_COLUMNS) == [
        *batch.REQUIRED_COLUMNS,
        "event.kind",
        "event.category",
        "event.action",
        "event.outcome",
    ]
    assert batch.VERSION_COLUMNS == {"m365_defender.alert": "m365_defender.alert.last_update_time"}
    assert batch.HISTORY_DATASETS == {"m365_defender.alert": "m365_defender.alert_history"}
    assert EVENTS.dataset("m365_defender.alert").columns == EVENTS.dataset("m365_defender.alert_history").columns[:-1]


# -- rules, detections and the Elasticsearch mapping read it -----------------------------------


def test_the_pipelines_know_exactly_the_schemas_columns():
    assert pipelines.DATASET_COLUMNS == {name: dataset.names for name, dataset in EVENTS.datasets.items()}
    assert loader.DATASET_COLUMNS is schema.DATASET_COLUMNS and loader.OPEN_NAMESPACES is schema.OPEN_NAMESPACES
    checks = [item for item in cyberwell_pipeline().items if isinstance(item.transformation, RequireKnownColumns)]
    assert len(checks) == 5
    for item in checks:
        datasets = logsources.datasets_for(item.rule_conditions[0].logsource)
        assert item.transformation.columns == frozenset().union(*(EVENTS.dataset(d).names for d in datasets))
        assert item.transformation.open_prefixes == tuple(
            p for d in datasets for p in EVENTS.dataset(d).open_namespaces
        )


LOGSOURCES = (
    logsources.SIGNINLOGS,
    logsources.FIREWALL,
    logsources.AZURE_FIREWALL,
    logsources.FORTIGATE,
    logsources.FORTIGATE_EVENT,
    logsources.M365_DEFENDER_ALERT,
)


@pytest.mark.parametrize("logsource", LOGSOURCES, ids=logsources.describe)
def test_every_dataset_a_logsource_names_is_in_the_schema(logsource):
    for dataset in logsources.datasets_for(logsource):
        assert dataset in EVENTS.datasets, dataset


def test_alert_entities_are_the_schemas():
    assert alerts.ENTITY_FIELDS == {name: d.entity for name, d in EVENTS.datasets.items() if d.entity}
    assert alerts.entity_fields(["azure.signinlogs"]) == ("user.name",)
    assert alerts.entity_fields(logsources.FIREWALL_DATASETS) == ("source.ip",)


# The Elasticsearch field type each schema type must be indexed as (store/elastic/mapping.py).
ES_TYPES = {
    ColumnType.INT32: "integer",
    ColumnType.INT64: "long",
    ColumnType.BOOL: "boolean",
    ColumnType.TIMESTAMP: "date_nanos",
}


def test_the_es_template_declares_each_column_by_its_schema_type():
    properties = events_template("cw-")["template"]["mappings"]["properties"]
    declared = set()
    for name, column in EVENTS.columns().items():
        mapping = properties.get(name)
        if not column.searched:
            assert mapping["index"] is False and field_kind(name) == "stored", name
        elif column.type in ES_TYPES:
            assert mapping["type"] == ES_TYPES[column.type], name
            assert field_kind(name) == elastic_mapping.KIND_OF_TYPE[column.type]
        elif column.type is ColumnType.IP:
            assert mapping["type"] == "keyword" and mapping["fields"]["ip"]["type"] == "ip", name
            assert field_kind(name) == "ip"
        else:  # strings and JSON text: left to the template's dynamic rule, which makes keywords
            assert mapping is None and field_kind(name) in ("keyword", "ip"), name
            continue
        declared.add(name)
    assert set(properties) == declared
    assert set(elastic_mapping.COLUMN_KINDS) == declared


# -- docs/events.md documents exactly the schema ------------------------------------------------

#: The documentation's type words.
DOC_TYPES = {
    "string": ColumnType.STRING,
    "ip": ColumnType.IP,
    "JSON text": ColumnType.JSON,
    "int32": ColumnType.INT32,
    "int64": ColumnType.INT64,
    "bool": ColumnType.BOOL,
    "timestamp": ColumnType.TIMESTAMP,
}
#: Headings that name their group or dataset in words rather than in backquotes.
SECTIONS = {"Every event": "event"}


@dataclass(frozen=True)
class Documented:
    section: str  # the group or dataset the row is about
    column: str
    type: str  # the documentation's word; "" where the row leaves it to a table above
    line: int


def documented(text: str) -> list[Documented]:
    """Every column row of every table with ``column`` and ``type`` headers, by section: a heading
    names its dataset (or group) in its first backquotes; a ``dataset`` cell overrides it."""
    rows: list[Documented] = []
    section, header = "", None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            named = re.search(r"`([^`]+)`", title)
            section, header = SECTIONS.get(title, named.group(1) if named else title), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if header is None:
            header = cells
            continue
        if all(re.fullmatch(r":?-+:?", cell) for cell in cells) or not {"column", "type"} <= set(header):
            continue
        names = re.findall(r"`([^`]+)`", cells[header.index("column")])
        # "timestamp (µs, UTC)" is the word "timestamp"; "ip, int32" types two columns.
        types = [word.strip() for word in re.sub(r"\s*\([^)]*\)", "", cells[header.index("type")]).split(",")]
        where = section
        if "dataset" in header:
            where = re.findall(r"`([^`]+)`", cells[header.index("dataset")])[0]
        for index, name in enumerate(names):
            rows.append(Documented(where, name, types[min(index, len(types) - 1)], number))
    return rows


def disagreements(events: EventSchema, rows: list[Documented]) -> list[str]:
    """What the documentation says that the schema does not, and what of the schema it leaves out."""
    sets = {**events.groups, **events.datasets}
    problems: list[str] = []
    typed: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        place = f"docs/events.md:{row.line}"
        if row.section not in sets:
            problems.append(f"{place}: {row.section!r} is no dataset or group of the schema")
            continue
        columns = sets[row.section]
        if row.column not in columns.names:
            problems.append(f"{place}: {row.column!r} is not a column of {row.section} in the schema")
            continue
        if row.type:
            expected = columns.column(row.column).type
            if DOC_TYPES.get(row.type) is not expected:
                problems.append(
                    f"{place}: {row.column!r} is documented as {row.type!r}; the schema says {expected.value}"
                )
            typed[row.section].add(row.column)
    for name, dataset in events.datasets.items():
        covered = set().union(*(typed[part] for part in (name, *dataset.includes)))
        problems += [
            f"{name}: {column.name!r} ({column.type.value}) is not documented with its type"
            for column in dataset.columns
            if column.name not in covered
        ]
    return problems


def test_docs_events_md_documents_every_column_and_type_of_the_schema_and_no_other():
    assert disagreements(EVENTS, documented(EVENTS_MD.read_text(encoding="utf-8"))) == []


def test_the_documentation_check_sees_a_missing_an_extra_and_a_mistyped_column():
    text = EVENTS_MD.read_text(encoding="utf-8")
    missing = re.search(r"^\| `user.full_name` .*\n", text, re.M)
    assert missing is not None
    text = text.replace(missing.group(0), "| `user.shoe_size` | int32 | | |\n")
    text = text.replace("| `rule.uuid` | string |", "| `rule.uuid` | int64 |")
    problems = disagreements(EVENTS, documented(text))
    assert any("'user.shoe_size' is not a column of azure.signinlogs" in p for p in problems), problems
    assert any("'rule.uuid' is documented as 'int64'; the schema says string" in p for p in problems), problems
    assert "azure.signinlogs: 'user.full_name' (string) is not documented with its type" in problems
    assert len(problems) == 3, problems


# -- a broken schema file names the dataset and the column --------------------------------------

VALID = """
[groups.required.columns]
"@timestamp" = "timestamp"
"event.ingested" = "timestamp"
"event.dataset" = "string"
"event.id" = "string"
"event.original" = { type = "string", searched = false }

[datasets.demo]
include = ["required"]
entity = ["user.name"]

[datasets.demo.columns]
"user.name" = "string"
"demo.updated" = "timestamp"
"""


def test_a_valid_file_loads_into_typed_records():
    events = loads(VALID)
    demo = events.dataset("demo")
    assert [c.name for c in demo.columns][-2:] == ["user.name", "demo.updated"]
    assert demo.types["demo.updated"] == pa.timestamp("us", tz="UTC")
    assert demo.column("event.original").searched is False
    assert demo.entity == ("user.name",) and demo.includes == ("required",)


@pytest.mark.parametrize(
    "change, where, column, words",
    [
        (('"user.name" = "string"', '"user.name" = "strin"'), "dataset 'demo'", "user.name", "unknown type 'strin'"),
        (('entity = ["user.name"]', 'entity = ["host.name"]'), "dataset 'demo'", "host.name", "entity"),
        (("entity =", 'version_column = "user.name"\nentity ='), "dataset 'demo'", "user.name", "timestamp"),
        (("entity =", 'version_column = "demo.gone"\nentity ='), "dataset 'demo'", "demo.gone", "not a column"),
        (
            ('"user.name" = "string"', '"user.name" = "string"\n"event.id" = "string"'),
            "dataset 'demo'",
            "event.id",
            "included",
        ),
        (('"user.name" = "string"', 'user.name = "string"'), "dataset 'demo'", "user", "quoted"),
        (('"user.name" = "string"', '"User.Name" = "string"'), "dataset 'demo'", "User.Name", "lower-case"),
        (('include = ["required"]', "include = []"), "dataset 'demo'", "@timestamp", "required"),
        (
            ('"demo.updated" = "timestamp"', '"demo.updated" = { type = "timestamp", indexed = false }'),
            "dataset 'demo'",
            "demo.updated",
            "indexed",
        ),
        (
            (
                "\n[datasets.demo]",
                '\n[datasets.other]\ninclude = ["required"]\n[datasets.other.columns]\n"user.name" = "int64"\n[datasets.demo]',
            ),
            "dataset 'demo'",
            "user.name",
            "int64 in dataset 'other'",
        ),
    ],
)
def test_schema_errors_name_the_dataset_and_the_column(change, where, column, words):
    old, new = change
    assert old in VALID
    with pytest.raises(SchemaError) as raised:
        loads(VALID.replace(old, new, 1), "test.toml")
    message = str(raised.value)
    assert raised.value.where == where and raised.value.column == column, message
    assert message.startswith(f"test.toml: {where}, column {column!r}: ") and words in message, message


@pytest.mark.parametrize(
    "change, where, words",
    [
        (('include = ["required"]', 'include = ["requred"]'), "dataset 'demo'", "includes 'requred'"),
        (('include = ["required"]', 'include = ["required", "demo"]'), "dataset 'demo'", "includes itself"),
        (("entity =", 'history = "demo_history"\nentity ='), "dataset 'demo'", "no version_column"),
        (
            ("entity =", 'version_column = "demo.updated"\nhistory = "nowhere"\nentity ='),
            "dataset 'demo'",
            "'nowhere' is not a dataset",
        ),
        (("entity =", 'open_namespaces = ["demo"]\nentity ='), "dataset 'demo'", "ending in '.'"),
        (("entity =", "entitty = []\nentity ="), "dataset 'demo'", "unknown key(s) entitty"),
        (("[datasets.demo]\n", "[datasets.demo]\nx = [\n"), "file", "not valid TOML"),
        (("[groups.required.columns]", "[groups.needed.columns]"), "group 'required'", "missing"),
    ],
)
def test_schema_errors_about_a_whole_dataset_name_it(change, where, words):
    old, new = change
    assert old in VALID
    with pytest.raises(SchemaError) as raised:
        loads(VALID.replace(old, new, 1), "test.toml")
    assert raised.value.where == where and words in str(raised.value), str(raised.value)
