"""SigmaHQ's rules, through Cyberwell's pipelines, compile and select the events they are about.

Rules come from SigmaHQ/sigma (../shared/data/sigmahq-sigma, DRL 1.1); FortiGate records from
SEKOIA-IO/intake-formats (../shared/data/sekoia-intake-formats/Fortinet/fortigate/tests). The
sign-in and firewall events are built here, column by column, from the event schema
(store/events_schema.toml, which docs/events.md documents), so a rule is tested against the shape
every parser writes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sigma.rule import SigmaLogSource, SigmaRule

from detections.backends.compile import CompiledQuery, RuleConversionError, compile_rule
from rules import pipelines
from rules.logsources import FIREWALL_DATASETS, UnsupportedLogsource, datasets_for
from store.schema import EVENTS
from store.sql import functions as sql_functions

P = "azure.signinlogs.properties."


# -- the stored columns: the event schema (store/events_schema.toml) -------------------------------


def arrow_schema(dataset: str) -> dict[str, pa.DataType]:
    return dict(EVENTS.dataset(dataset).types)


def test_pipeline_columns_are_the_columns_of_the_event_schema():
    # tests/store/test_event_schema.py holds docs/events.md to the same schema.
    for dataset, columns in pipelines.DATASET_COLUMNS.items():
        assert columns == {column.name for column in EVENTS.dataset(dataset).columns}, dataset
    assert set(pipelines.DATASET_COLUMNS) == set(EVENTS.datasets)
    assert pipelines.OPEN_NAMESPACES == {
        "fortinet.firewall": ("fortinet.firewall.",),
        "panw.panos": ("panw.panos.",),
        "cef": ("cef.",),
    }


@pytest.mark.parametrize("logsource, mapping", pipelines.FIELD_MAPPINGS, ids=lambda x: str(x)[:40])
def test_every_mapping_target_is_a_column_of_the_logsources_datasets(logsource, mapping):
    datasets = datasets_for(logsource)
    columns = set().union(*(pipelines.DATASET_COLUMNS[d] for d in datasets))
    prefixes = tuple(p for d in datasets for p in pipelines.OPEN_NAMESPACES.get(d, ()))
    for sigma_name, target in mapping.items():
        for column in [target] if isinstance(target, str) else target:
            assert column in columns or column.startswith(prefixes), (sigma_name, column)


# -- logsources ---------------------------------------------------------------------------------


def test_datasets_for_each_logsource():
    assert datasets_for(SigmaLogSource(product="azure", service="signinlogs")) == ["azure.signinlogs"]
    assert datasets_for(SigmaLogSource(category="firewall")) == list(FIREWALL_DATASETS)
    assert datasets_for(SigmaLogSource(product="fortigate", service="event")) == ["fortinet.firewall"]
    assert datasets_for(SigmaLogSource(product="azure", service="firewall")) == ["azure.firewall"]
    assert datasets_for(SigmaLogSource(product="m365_defender", service="alert")) == ["m365_defender.alert"]
    with pytest.raises(UnsupportedLogsource, match="product=azure service=auditlogs"):
        datasets_for(SigmaLogSource(product="azure", service="auditlogs"))


def test_a_rule_for_data_we_do_not_hold_is_refused_naming_the_logsource(shared_data):
    rule = load(shared_data / "sigmahq-sigma/rules/cloud/azure/audit_logs/azure_ad_bitlocker_key_retrieval.yml")
    with pytest.raises(
        RuleConversionError, match=r"no stored dataset holds events for logsource product=azure service=auditlogs"
    ) as raised:
        compile_rule(rule)
    assert rule.title in str(raised.value) and str(rule.id) in str(raised.value)


# -- SigmaHQ sign-in rules ----------------------------------------------------------------------


def load(path: Path) -> SigmaRule:
    return SigmaRule.from_yaml(path.read_text())


def signin_rule_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "sigmahq-sigma/rules/cloud/azure/signin_logs").glob("*.yml")) + sorted(
        (shared_data / "sigmahq-sigma/rules-threat-hunting/cloud/azure/signin_logs").glob("*.yml")
    )


DEFAULT_SIGNIN = {
    "event.category": "authentication",
    "event.action": "sign-in",
    "event.outcome": "success",
    "user.name": "alice@council.gov.uk",
    "source.ip": "81.2.69.160",
    "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "azure.signinlogs.result_type": "0",
    P + "status.error_code": 0,
    P + "authentication_requirement": "multiFactorAuthentication",
    P + "conditional_access_status": "notApplied",
    P + "client_app_used": "Browser",
    P + "authentication_protocol": "none",
    P + "risk_state": "none",
    P + "resource_display_name": "Office 365 Exchange Online",
    P + "device_detail.device_id": "6f1c5a43-8c1e-4d7e-9a2b-1f0e3c4d5b6a",
    P + "device_detail.is_compliant": True,
    P + "device_detail.trust_type": "Azure AD joined",
    P + "network_location_details": '[{"networkType":"trustedNamedLocation","networkNames":["Council HQ"]}]',
}


def failure(code: int, description: str, **extra) -> dict:
    return {
        "event.outcome": "failure",
        P + "status.error_code": code,
        "azure.signinlogs.result_type": str(code),
        "azure.signinlogs.result_description": description,
        P + "status.failure_reason": description,
    } | extra


DEVICE_REGISTRATION = {
    P + "resource_display_name": "Device Registration Service",
    P + "conditional_access_status": "success",
}
SINGLE_FACTOR = {P + "authentication_requirement": "singleFactorAuthentication"}

SIGNIN_EVENTS: dict[str, dict] = {
    "lockout": failure(
        50053,
        "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
    ),
    "ca_blocked": failure(53003, "Blocked by Conditional Access", **{P + "conditional_access_status": "failure"}),
    "disabled": failure(50057, "User account is disabled. The account has been disabled by an administrator."),
    "azurehound": {"user_agent.original": "AzureHound/2.1.7"},
    "axios": {"user_agent.original": "axios/1.7.2"},
    "devreg_sfa": DEVICE_REGISTRATION | SINGLE_FACTOR,
    "devreg_mfa": DEVICE_REGISTRATION,
    # No authentication requirement recorded: 'not filter_mfa' must still select it.
    "devreg_unknown": DEVICE_REGISTRATION | {P + "authentication_requirement": None},
    "risky_unknown_device": SINGLE_FACTOR | {P + "risk_state": "atRisk", P + "device_detail.trust_type": None},
    "noncompliant": {P + "device_detail.is_compliant": False},
    "unknown_device": SINGLE_FACTOR | {P + "network_location_details": "[]", P + "device_detail.device_id": ""},
    "bav2ropc": {"user_agent.original": "BAV2ROPC"},
    "device_code": {P + "authentication_protocol": "deviceCode"},
    "ropc": {P + "authentication_protocol": "ropc"},
    "legacy_imap": {P + "client_app_used": "IMAP4"},
    "legacy_smtp_no_user": {P + "client_app_used": "Authenticated SMTP", "user.name": None},
    "mfa_denied": failure(
        500121,
        "Authentication failed during strong authentication request.",
        **{P + "status.additional_details": "MFA denied; user declined the authentication"},
    ),
    "strong_auth": failure(50074, "Strong Auth required"),
    "device_auth": failure(50097, "Device authentication is required"),
}

# What each SigmaHQ rule must select among SIGNIN_EVENTS (and nothing else).
SIGNIN_EXPECTED = {
    "azure_account_lockout": {"lockout"},
    "azure_ad_azurehound_discovery": {"azurehound"},
    "azure_ad_device_registration_or_join_without_mfa": {"devreg_sfa", "devreg_unknown"},
    "azure_ad_only_single_factor_auth_required": {"devreg_sfa", "risky_unknown_device", "unknown_device"},
    "azure_ad_risky_sign_ins_with_singlefactorauth_from_unknown_devices": {"risky_unknown_device"},
    "azure_ad_sign_ins_from_noncompliant_devices": {"noncompliant"},
    "azure_ad_sign_ins_from_unknown_devices": {"unknown_device"},
    "azure_ad_suspicious_signin_bypassing_mfa": {"bav2ropc"},
    "azure_app_device_code_authentication": {"device_code"},
    "azure_app_ropc_authentication": {"ropc"},
    "azure_blocked_account_attempt": {"disabled"},
    "azure_conditional_access_failure": {"ca_blocked"},
    "azure_legacy_authentication_protocols": {"legacy_imap"},
    "azure_login_to_disabled_account": {"disabled"},
    "azure_mfa_denies": {"mfa_denied"},
    "azure_mfa_interrupted": {"mfa_denied", "strong_auth"},
    "azure_unusual_authentication_interruption": {"device_auth"},
    "azure_user_login_blocked_by_conditional_access": {"ca_blocked"},
    "azure_ad_signin_axios_user_agent": {"axios"},
}


def event_table(dataset: str, named_events: dict[str, dict], defaults: dict | None = None) -> pa.Table:
    schema = arrow_schema(dataset)
    rows = []
    for index, (name, event) in enumerate(named_events.items()):
        row = {
            "@timestamp": datetime(2025, 3, 4, 9, 0, index, tzinfo=UTC),
            "event.dataset": event.get("event.dataset", dataset),
            "event.id": name,
        }
        row.update(defaults or {})
        row.update(event)
        rows.append(row)
    columns = {"name": pa.array(list(named_events), pa.string())}
    for column, kind in schema.items():
        columns[column] = pa.array([row.get(column) for row in rows], kind)
    extra = sorted({k for row in rows for k in row} - set(schema) - {"event.dataset"})
    for column in extra:  # vendor keys "as sent", stored as text
        columns[column] = pa.array([row.get(column) for row in rows], pa.string())
    return pa.table(columns)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    sql_functions.install(connection)
    yield connection
    connection.close()


def selected(con: duckdb.DuckDBPyConnection, table: pa.Table, query: CompiledQuery) -> set[str]:
    for column in query.fields:
        assert column in table.column_names, f"{query.title} reads {column}, which the table lacks"
    con.register("events", table)
    try:
        marks = ", ".join("?" * len(query.datasets))
        sql = f'SELECT name FROM events WHERE "event.dataset" IN ({marks}) AND ({query.sql})'
        return {row[0] for row in con.execute(sql, list(query.datasets)).fetchall()}
    finally:
        con.unregister("events")


def test_every_sigmahq_signin_rule_compiles(shared_data):
    files = signin_rule_files(shared_data)
    assert {path.stem for path in files} == set(SIGNIN_EXPECTED)
    for path in files:
        query = compile_rule(load(path))
        assert query.datasets == ("azure.signinlogs",)
        assert query.fields and query.sql


def test_sigmahq_signin_rules_select_the_events_they_are_about(shared_data, con):
    table = event_table("azure.signinlogs", SIGNIN_EVENTS, DEFAULT_SIGNIN)
    found = {path.stem: selected(con, table, compile_rule(load(path))) for path in signin_rule_files(shared_data)}
    assert found == SIGNIN_EXPECTED


def test_placeholder_rules_are_refused_naming_the_placeholder(shared_data):
    for path in sorted((shared_data / "sigmahq-sigma/rules-placeholder/cloud/azure/signin_logs").glob("*.yml")):
        with pytest.raises(RuleConversionError, match="placeholder"):
            compile_rule(load(path))


def test_graph_diagnostic_and_column_names_mean_the_same_columns(con):
    spellings = [
        {"ResultType": 50053, "UserPrincipalName": "Alice@Council.gov.uk", "Location": "GB"},
        {"status.errorCode": 50053, "userPrincipalName": "alice@council.gov.uk", "location.countryOrRegion": "gb"},
        {
            "properties.status.errorCode": 50053,
            "properties.userPrincipalName": "ALICE@council.gov.uk",
            "location": "GB",
        },
        {P + "status.error_code": "50053", "user.name": "alice@council.gov.uk", "source.geo.country_iso_code": "GB"},
    ]
    events = {
        "match": failure(50053, "locked", **{"source.geo.country_iso_code": "GB"}),
        "other_user": failure(
            50053, "locked", **{"user.name": "bob@council.gov.uk", "source.geo.country_iso_code": "GB"}
        ),
        "other_country": failure(50053, "locked", **{"source.geo.country_iso_code": "FR"}),
    }
    table = event_table("azure.signinlogs", events, DEFAULT_SIGNIN)
    for selection in spellings:
        query = compile_rule(signin_rule({"sel": selection, "condition": "sel"}))
        assert selected(con, table, query) == {"match"}, selection


def signin_rule(detection: dict) -> SigmaRule:
    return SigmaRule.from_dict(
        {
            "title": "Pipeline test",
            "id": "0b7a4bb4-3a4c-4a8e-9d0e-5f6a7b8c9d0e",
            "logsource": {"product": "azure", "service": "signinlogs"},
            "detection": detection,
        }
    )


@pytest.mark.parametrize(
    "detection, field",
    [
        ({"sel": {"UserPrincipleName": "a@b.c"}, "condition": "sel"}, "UserPrincipleName"),
        ({"sel": {"properties.message": "Something else"}, "condition": "sel"}, "properties.message"),
        ({"sel": {"ActivityDetails": "Audit"}, "condition": "sel"}, "ActivityDetails"),
        ({"sel": {"destination.port": 443}, "condition": "sel"}, "destination.port"),
    ],
)
def test_fields_without_a_column_fail_naming_field_and_rule(detection, field):
    with pytest.raises(RuleConversionError) as raised:
        compile_rule(signin_rule(detection))
    message = str(raised.value)
    assert f"'{field}'" in message and "'Pipeline test' (0b7a4bb4-3a4c-4a8e-9d0e-5f6a7b8c9d0e)" in message


def test_compiling_leaves_the_callers_rule_untouched_and_lists_what_it_reads():
    rule = signin_rule({"sel": {"ResultType": 50053, "userAgent|contains": "python"}, "condition": "sel"})
    first = compile_rule(rule)
    assert rule.detection.detections["sel"].detection_items[0].field == "ResultType"
    assert compile_rule(rule) == first
    assert first.fields == (P + "status.error_code", "user_agent.original")
    assert (first.rule_id, first.title, first.datasets) == (
        "0b7a4bb4-3a4c-4a8e-9d0e-5f6a7b8c9d0e",
        "Pipeline test",
        ("azure.signinlogs",),
    )


# -- firewalls ----------------------------------------------------------------------------------


FIREWALL_EVENTS = {
    "azure_telnet_allowed": {"event.dataset": "azure.firewall", "destination.port": 23, "event.action": "allow"},
    "azure_telnet_denied": {"event.dataset": "azure.firewall", "destination.port": 23, "event.action": "deny"},
    "forti_http_alt_allowed": {"event.dataset": "fortinet.firewall", "destination.port": 8080, "event.action": "allow"},
    "panw_https_allowed": {"event.dataset": "panw.panos", "destination.port": 443, "event.action": "allow"},
    "cef_ftp_dropped": {"event.dataset": "cef", "destination.port": 21, "event.action": "drop"},
    "cef_vnc_allowed": {"event.dataset": "cef", "destination.port": 5901, "event.action": "allow"},
    "signin_not_a_firewall": {"event.dataset": "azure.signinlogs", "destination.port": 23, "event.action": "allow"},
}


def test_sigmahq_cleartext_protocol_rule_selects_allowed_cleartext_traffic(shared_data, con):
    query = compile_rule(
        load(shared_data / "sigmahq-sigma/rules/network/firewall/net_firewall_cleartext_protocols.yml")
    )
    assert query.datasets == FIREWALL_DATASETS
    table = event_table("fortinet.firewall", FIREWALL_EVENTS)
    assert selected(con, table, query) == {"azure_telnet_allowed", "forti_http_alt_allowed", "cef_vnc_allowed"}


def test_blocked_flag_means_the_normalised_action(con):
    rule = SigmaRule.from_dict(
        {
            "title": "Blocked cleartext",
            "logsource": {"category": "firewall"},
            "detection": {"sel": {"dst_port": [21, 23], "blocked": True}, "condition": "sel"},
        }
    )
    table = event_table("fortinet.firewall", FIREWALL_EVENTS)
    assert selected(con, table, compile_rule(rule)) == {"azure_telnet_denied", "cef_ftp_dropped"}


def fortigate_records(shared_data: Path) -> dict[str, dict]:
    """SEKOIA's FortiGate configuration-change samples as stored events: every key=value under
    fortinet.firewall.<key> (quotes removed), as the syslog parser stores them."""
    records = {}
    for path in sorted((shared_data / "sekoia-intake-formats/Fortinet/fortigate/tests").glob("*.json")):
        message = json.loads(path.read_text())["input"]["message"]
        if "cfgpath=" not in message:
            continue
        pairs = re.findall(r'(\w+)=("[^"]*"|\S+)', message)
        records[path.stem] = {f"fortinet.firewall.{key}": value.strip('"') for key, value in pairs}
    return records


FORTIGATE_EXPECTED = {
    "fortinet_fortigate_new_admin_account_created": {"event_add_admin"},
    "fortinet_fortigate_new_firewall_address_object": {"test_event_source_ip_4"},
    "fortinet_fortigate_new_firewall_policy_added": {
        "test_event_source_ip_1",
        "test_event_source_ip_2",
        "test_event_source_ip_3",
    },
    "fortinet_fortigate_new_local_user_created": set(),
    "fortinet_fortigate_new_vpn_ssl_web_portal": set(),
    "fortinet_fortigate_user_group_modified": set(),
    "fortinet_fortigate_vpn_ssl_settings_modified": set(),
}


def test_sigmahq_fortigate_rules_select_sekoias_configuration_change_records(shared_data, con):
    table = event_table("fortinet.firewall", fortigate_records(shared_data))
    found = {
        path.stem: selected(con, table, compile_rule(load(path)))
        for path in sorted((shared_data / "sigmahq-sigma/rules/network/fortinet/fortigate").glob("*.yml"))
    }
    assert found == FORTIGATE_EXPECTED


def test_azure_firewall_and_defender_logsources_map_their_own_names(con):
    firewall_rule = SigmaRule.from_dict(
        {
            "title": "RDP allowed in",
            "logsource": {"product": "azure", "service": "firewall"},
            "detection": {"sel": {"DestinationPort": 3389, "action": "accept"}, "condition": "sel"},
        }
    )
    events = {
        "rdp_allowed": {"destination.port": 3389, "event.action": "allow"},
        "rdp_denied": {"destination.port": 3389, "event.action": "deny"},
    }
    assert selected(con, event_table("azure.firewall", events), compile_rule(firewall_rule)) == {"rdp_allowed"}

    defender_rule = SigmaRule.from_dict(
        {
            "title": "High-severity malware alert",
            "logsource": {"product": "m365_defender", "service": "alert"},
            "detection": {
                "sel": {"severity": "high", "title|contains": "ransomware", "host.name|exists": True},
                "condition": "sel",
            },
        }
    )
    alerts = {
        "ransomware": {
            "m365_defender.alert.severity": "high",
            "message": "Ransomware behavior detected",
            "host.name": "lt-0042",
        },
        "low": {
            "m365_defender.alert.severity": "low",
            "message": "Ransomware behavior detected",
            "host.name": "lt-0042",
        },
        "no_host": {"m365_defender.alert.severity": "high", "message": "Ransomware behavior detected"},
    }
    assert selected(con, event_table("m365_defender.alert", alerts), compile_rule(defender_rule)) == {"ransomware"}
