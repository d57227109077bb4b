"""PAN-OS CSV syslog bodies → the ``panw.panos`` dataset.

PAN-OS writes one CSV record per log: ``FUTURE_USE,Receive Time,Serial Number,Type,Subtype,...``
where Type (the fourth field) says which layout the rest follows. Fields are positional;
values holding commas are double-quoted with ``""`` for a quote, as in RFC 4180.

Each field becomes a string column ``panw.panos.<name>`` with the field's name in the PAN-OS
10.x/11.x syslog field descriptions, snake_case. Fields past the end of a known layout (newer
PAN-OS versions append fields) and every field of a type without a layout here are kept as
``panw.panos.field_<n>`` (0-based position), so nothing is lost. The common fields
(``receive_time``, ``serial_number``, ``type``, ``subtype``, ``generated_time``) are named for
every type. ``FUTURE_USE`` fields are ``future_use_<n>``.

Times: PAN-OS writes the firewall's local time without a zone; they are read as UTC, like
RFC 3164 clocks. ``high_res_timestamp`` (ISO 8601 with an offset) wins when the record has it.
Besides the usual ``2024/01/12 11:21:15``, the generated and receive times are read as ISO 8601,
``1/12/24 11:21:15`` and ``Jan 12 2024 11:21:15``, as exports and forwarders that re-format them
write them.

Tolerance, because PAN-OS versions and forwarders differ (PAN-OS syslog field descriptions,
9.1 to 11.x): a record is read whatever its number of fields, from the four that name its type
upwards; names are given to what is there and the rest keeps positional names. The HIP Match type
is ``HIPMATCH`` on the wire but ``HIP-MATCH`` in the field descriptions: both are read. A record
whose CSV is not well formed (a quote inside a quoted value that was not doubled, a quoted value
cut off by a truncated UDP datagram) is read leniently rather than quarantined, and says so in
``panw.panos.csv_problem``.
"""

from __future__ import annotations

import csv
import re
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from store.schema import EVENTS

DATASET = "panw.panos"
PREFIX = "panw.panos."

#: ECS columns this dataset fills beyond those every syslog dataset has (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(EVENTS.dataset(DATASET).own_types)

_COMMON = ("future_use_0", "receive_time", "serial_number", "type", "subtype", "future_use_5", "generated_time")

# TRAFFIC, THREAT and DECRYPTION share the session fields up to the action (position 30).
_SESSION = _COMMON + (
    "source_address",
    "destination_address",
    "nat_source_ip",
    "nat_destination_ip",
    "rule_name",
    "source_user",
    "destination_user",
    "application",
    "virtual_system",
    "source_zone",
    "destination_zone",
    "inbound_interface",
    "outbound_interface",
    "log_action",
    "future_use_21",
    "session_id",
    "repeat_count",
    "source_port",
    "destination_port",
    "nat_source_port",
    "nat_destination_port",
    "flags",
    "protocol",
    "action",
)
_DEVICE_GROUPS = (
    "device_group_hierarchy_level_1",
    "device_group_hierarchy_level_2",
    "device_group_hierarchy_level_3",
    "device_group_hierarchy_level_4",
)
_DEVICE_PROFILES = tuple(
    f"{side}_device_{what}"
    for side in ("source", "destination")
    for what in ("category", "profile", "model", "vendor", "os_family", "os_version")
)

LAYOUTS: dict[str, tuple[str, ...]] = {
    "TRAFFIC": _SESSION
    + (
        "bytes",
        "bytes_sent",
        "bytes_received",
        "packets",
        "start_time",
        "elapsed_time",
        "category",
        "future_use_38",
        "sequence_number",
        "action_flags",
        "source_country",
        "destination_country",
        "future_use_43",
        "packets_sent",
        "packets_received",
        "session_end_reason",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "action_source",
        "source_vm_uuid",
        "destination_vm_uuid",
        "tunnel_id_imsi",
        "monitor_tag_imei",
        "parent_session_id",
        "parent_start_time",
        "tunnel_type",
        "sctp_association_id",
        "sctp_chunks",
        "sctp_chunks_sent",
        "sctp_chunks_received",
        "rule_uuid",
        "http_2_connection",
        "app_flap_count",
        "policy_id",
        "link_switches",
        "sd_wan_cluster",
        "sd_wan_device_type",
        "sd_wan_cluster_type",
        "sd_wan_site",
        "dynamic_user_group_name",
        "xff_address",
        *_DEVICE_PROFILES[:6],
        "source_hostname",
        "source_mac_address",
        *_DEVICE_PROFILES[6:],
        "destination_hostname",
        "destination_mac_address",
        "container_id",
        "pod_namespace",
        "pod_name",
        "source_external_dynamic_list",
        "destination_external_dynamic_list",
        "host_id",
        "device_serial_number",
        "source_dynamic_address_group",
        "destination_dynamic_address_group",
        "session_owner",
        "high_res_timestamp",
        "a_slice_service_type",
        "a_slice_differentiator",
        "application_subcategory",
        "application_category",
        "application_technology",
        "application_risk",
        "application_characteristic",
        "application_container",
        "tunneled_application",
        "application_saas",
        "application_sanctioned_state",
        "offloaded",
    ),
    "THREAT": _SESSION
    + (
        "url_filename",
        "threat_id",
        "category",
        "severity",
        "direction",
        "sequence_number",
        "action_flags",
        "source_location",
        "destination_location",
        "future_use_40",
        "content_type",
        "pcap_id",
        "file_digest",
        "cloud",
        "url_index",
        "user_agent",
        "file_type",
        "x_forwarded_for",
        "referer",
        "sender",
        "subject",
        "recipient",
        "report_id",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "future_use_60",
        "source_vm_uuid",
        "destination_vm_uuid",
        "http_method",
        "tunnel_id_imsi",
        "monitor_tag_imei",
        "parent_session_id",
        "parent_start_time",
        "tunnel_type",
        "threat_category",
        "content_version",
        "future_use_71",
        "sctp_association_id",
        "payload_protocol_id",
        "http_headers",
        "url_category_list",
        "rule_uuid",
        "http_2_connection",
        "dynamic_user_group_name",
        "xff_address",
        *_DEVICE_PROFILES[:6],
        "source_hostname",
        "source_mac_address",
        *_DEVICE_PROFILES[6:],
        "destination_hostname",
        "destination_mac_address",
        "container_id",
        "pod_namespace",
        "pod_name",
        "source_external_dynamic_list",
        "destination_external_dynamic_list",
        "host_id",
        "device_serial_number",
        "domain_edl",
        "source_dynamic_address_group",
        "destination_dynamic_address_group",
        "partial_hash",
        "high_res_timestamp",
        "reason",
        "justification",
        "a_slice_service_type",
        "application_subcategory",
        "application_category",
        "application_technology",
        "application_risk",
        "application_characteristic",
        "application_container",
        "tunneled_application",
        "application_saas",
        "application_sanctioned_state",
        "cloud_report_id",
        "cluster_name",
        "flow_type",
    ),
    "DECRYPTION": _SESSION
    + (
        "tunnel",
        "future_use_32",
        "future_use_33",
        "source_vm_uuid",
        "destination_vm_uuid",
        "rule_uuid",
        "stage_client_to_firewall",
        "stage_firewall_to_server",
        "tls_version",
        "key_exchange_algorithm",
        "encryption_algorithm",
        "hash_algorithm",
        "policy_name",
        "elliptic_curve",
        "error_index",
        "root_status",
        "chain_status",
        "proxy_type",
        "certificate_serial_number",
        "fingerprint",
        "certificate_start_date",
        "certificate_end_date",
        "certificate_version",
        "certificate_size",
        "common_name_length",
        "issuer_common_name_length",
        "root_common_name_length",
        "sni_length",
        "certificate_flags",
        "subject_common_name",
        "issuer_subject_common_name",
        "root_subject_common_name",
        "server_name_indication",
        "error",
        "container_id",
        "pod_namespace",
        "pod_name",
        "source_external_dynamic_list",
        "destination_external_dynamic_list",
        "source_dynamic_address_group",
        "destination_dynamic_address_group",
        "high_res_timestamp",
    ),
    "SYSTEM": _COMMON
    + (
        "virtual_system",
        "event_id",
        "object",
        "future_use_10",
        "future_use_11",
        "module",
        "severity",
        "description",
        "sequence_number",
        "action_flags",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "future_use_23",
        "future_use_24",
        "high_res_timestamp",
    ),
    "CONFIG": _COMMON
    + (
        "host",
        "virtual_system",
        "command",
        "admin",
        "client",
        "result",
        "configuration_path",
        "sequence_number",
        "action_flags",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "device_group",
        "audit_comment",
        "future_use_24",
        "high_res_timestamp",
    ),
    "USERID": _COMMON
    + (
        "virtual_system",
        "source_ip",
        "user",
        "data_source_name",
        "event_id",
        "repeat_count",
        "time_out_threshold",
        "source_port",
        "destination_port",
        "data_source",
        "data_source_type",
        "sequence_number",
        "action_flags",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "virtual_system_id",
        "factor_type",
        "factor_completion_time",
        "factor_number",
        "user_group_flags",
        "user_by_source",
        "tag_name",
        "high_res_timestamp",
        "origin_data_source",
        "origin_data_source_type",
    ),
    "GLOBALPROTECT": _COMMON
    + (
        "virtual_system",
        "event_id",
        "stage",
        "authentication_method",
        "tunnel_type",
        "source_user",
        "source_region",
        "machine_name",
        "public_ip",
        "public_ipv6",
        "private_ip",
        "private_ipv6",
        "host_id",
        "device_serial_number",
        "client_version",
        "client_os",
        "client_os_version",
        "repeat_count",
        "reason",
        "error",
        "description",
        "status",
        "location",
        "login_duration",
        "connect_method",
        "error_code",
        "portal",
        "sequence_number",
        "action_flags",
        "high_res_timestamp",
        "selection_type",
        "response_time",
        "priority",
        "attempted_gateways",
        "gateway",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "virtual_system_id",
    ),
    "HIPMATCH": _COMMON
    + (
        "source_user",
        "virtual_system",
        "machine_name",
        "os",
        "source_address",
        "hip",
        "repeat_count",
        "hip_type",
        "future_use_15",
        "future_use_16",
        "sequence_number",
        "action_flags",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "virtual_system_id",
        "source_ipv6",
        "host_id",
        "device_serial_number",
        "mac",
        "high_res_timestamp",
        "cluster_name",
    ),
    "AUTH": _COMMON
    + (
        "virtual_system",
        "source_ip",
        "user",
        "normalize_user",
        "object",
        "authentication_policy",
        "repeat_count",
        "authentication_id",
        "vendor",
        "log_action",
        "server_profile",
        "description",
        "client_type",
        "event_type",
        "factor_number",
        "sequence_number",
        "action_flags",
        *_DEVICE_GROUPS,
        "virtual_system_name",
        "device_name",
        "virtual_system_id",
        "authentication_protocol",
        "rule_uuid",
        "high_res_timestamp",
    ),
}

#: Other spellings of a type, and the layout they share: the field descriptions write the HIP
#: Match type as "HIP-MATCH"; firewalls send "HIPMATCH".
ALIASES: dict[str, str] = {"HIP-MATCH": "HIPMATCH"}

#: Every log type PAN-OS sends over syslog; those without a layout keep positional names.
LOG_TYPES = (
    frozenset(LAYOUTS)
    | frozenset(ALIASES)
    | {
        "CORRELATION",
        "TUNNEL",
        "GTP",
        "SCTP",
        "IPTAG",
        "URL",
        "DATA",
        "WILDFIRE",
        "AUDIT",
    }
)

# Type is the fourth field; the first three never hold quotes or commas. A record may end there.
_TYPE_FIELD = re.compile(r"[^,\"]*,[^,\"]*,[^,\"]*,([A-Z][A-Z-]*)(?:,|$)")

#: Fields up to and including the type: fewer, and the record does not say what it is.
MIN_FIELDS: Final = 4


class PanosError(ValueError):
    """A body that looked like PAN-OS CSV but is not readable as a PAN-OS record."""


class Repaired(list[str]):
    """The fields of a record whose CSV was not well formed, read leniently; ``problem`` says
    what the strict reader found, and lands in ``panw.panos.csv_problem``."""

    def __init__(self, fields: list[str], problem: str):
        super().__init__(fields)
        self.problem = problem


def looks_like(body: str) -> bool:
    """Whether a body is a PAN-OS CSV record (a known log type in the fourth field)."""
    match = _TYPE_FIELD.match(body)
    return match is not None and match.group(1) in LOG_TYPES


def split_fields(body: str) -> list[str]:
    """The CSV fields of one record.

    A record the strict reader refuses is read leniently as :class:`Repaired` (its fields stay in
    place: a stray quote only changes the value it is in). ``PanosError`` only when even that
    cannot find the type in the fourth field.
    """
    try:
        rows = list(csv.reader([body], strict=True))
        fields: list[str] = rows[0] if len(rows) == 1 else []
    except csv.Error as exc:
        problem = f"malformed CSV read leniently: {exc}"
        try:
            rows = list(csv.reader([body], strict=False))
        except csv.Error as lenient:  # not seen; the record is kept in quarantine with why
            raise PanosError(f"malformed PAN-OS CSV: {exc}; read leniently: {lenient}") from None
        fields = Repaired(rows[0], problem) if len(rows) == 1 else []
    if len(fields) < MIN_FIELDS or fields[3] not in LOG_TYPES:
        raise PanosError(
            f"malformed PAN-OS CSV: {len(fields)} fields, expected at least {MIN_FIELDS} with a log type in the fourth"
        )
    return fields


def field_names(log_type: str, count: int) -> list[str]:
    """Column names for a record of ``log_type`` with ``count`` fields."""
    layout = LAYOUTS.get(ALIASES.get(log_type, log_type), _COMMON)
    return [layout[i] if i < len(layout) else f"field_{i}" for i in range(count)]


def to_row(fields: list[str]) -> dict[str, str]:
    """The vendor columns of one record."""
    names = field_names(fields[3], len(fields))
    return {PREFIX + name: value for name, value in zip(names, fields)}


def build(records: list[list[str]]) -> pa.Table:
    """The vendor columns of many records, one row each, in order.

    Records of one type and length share their column names, so they are turned into Arrow
    columns a group at a time (a transpose) rather than a dict per row.
    """
    groups: dict[tuple[str, int], tuple[list[int], list[list[str]]]] = {}
    problems: dict[int, str] = {}
    for row, fields in enumerate(records):
        if type(fields) is Repaired:
            problems[row] = fields.problem
        key = (fields[3], len(fields))
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(row)
        group[1].append(fields)
    parts = []
    for (log_type, count), (rows, values) in groups.items():
        names = field_names(log_type, count)
        data = {PREFIX + name: pa.array(column, pa.string()) for name, column in zip(names, zip(*values))}
        data["_row"] = pa.array(rows, pa.int64())
        parts.append(pa.table(data))
    table = pa.concat_tables(parts, promote_options="default")
    if len(parts) > 1:
        table = table.take(pc.sort_indices(table["_row"]))
    table = table.drop_columns(["_row"])
    if problems:  # rare: the column is there only when a record needed it
        notes = pa.array([problems.get(row) for row in range(len(records))], pa.string())
        table = table.append_column(PREFIX + "csv_problem", notes)
    return table


# --- ECS ------------------------------------------------------------------------------------


def _f(name: str) -> str:
    return f"nullif(\"{PREFIX}{name}\", '')"


def _first(*names: str) -> str:
    return f"coalesce({', '.join(_f(name) for name in names)})"


def _ip(name: str) -> str:
    """An address field; PAN-OS writes 0.0.0.0 for "none" (no NAT, say)."""
    return f"ip_or_null(nullif({_f(name)}, '0.0.0.0'))"


def _port(name: str) -> str:
    return f"nullif(TRY_CAST({_f(name)} AS INTEGER), 0)"


#: Vendor columns the ECS mapping reads; absent ones are added as nulls before it runs.
SQL_INPUTS = tuple(
    PREFIX + name
    for name in (
        "type",
        "subtype",
        "receive_time",
        "generated_time",
        "high_res_timestamp",
        "source_address",
        "source_ip",
        "public_ip",
        "host",
        "destination_address",
        "nat_source_ip",
        "nat_destination_ip",
        "source_port",
        "destination_port",
        "nat_source_port",
        "nat_destination_port",
        "rule_name",
        "rule_uuid",
        "application",
        "protocol",
        "action",
        "source_user",
        "user",
        "destination_user",
        "admin",
        "serial_number",
        "device_name",
        "threat_id",
        "severity",
        "description",
        "event_id",
        "url_filename",
        "result",
        "status",
        "command",
        "event_type",
    )
)

#: DuckDB macros the ECS mapping uses.
SQL_MACROS = (
    # Receive and generated times: "2024/01/12 11:21:15" (told by the slash after a four-digit
    # year: DuckDB's %Y would also take the "1" of "1/1/24"), else ISO 8601 (told by its dashes),
    # or "9/16/19 10:00" and "Jan 12 2024 11:21:15" as some exports and forwarders rewrite them.
    # One format per value in the usual case: a list of formats costs more per value.
    r"""CREATE OR REPLACE MACRO panos_time(t) AS CASE
        WHEN strpos(t, '/') = 5 THEN coalesce(try_strptime(t, '%Y/%m/%d %H:%M:%S'),
                                                 try_strptime(t, '%Y/%m/%d %H:%M:%S.%f'))::TIMESTAMPTZ
        WHEN contains(t, '-') THEN TRY_CAST(t AS TIMESTAMPTZ)
        ELSE try_strptime(t, ['%m/%d/%y %H:%M:%S', '%m/%d/%y %H:%M', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M',
                              '%b %d %Y %H:%M:%S', '%b %d %H:%M:%S %Y'])::TIMESTAMPTZ END""",
    # "Microsoft Windows SMB Null Session Attempt(31914)", "(9999)" for URL logs.
    r"""CREATE OR REPLACE MACRO panos_threat_id(t) AS
        nullif(regexp_extract(t, '\((\d+)\)\s*$', 1), '')""",
    r"""CREATE OR REPLACE MACRO panos_threat_name(t) AS
        nullif(trim(regexp_replace(t, '\(\d+\)\s*$', '')), '')""",
)

_CATEGORY = f"""CASE {_f("type")}
    WHEN 'TRAFFIC' THEN 'network' WHEN 'DECRYPTION' THEN 'network'
    WHEN 'THREAT' THEN CASE WHEN lower({_f("subtype")}) IN ('virus', 'wildfire-virus', 'wildfire', 'ml-virus')
                            THEN 'malware' WHEN lower({_f("subtype")}) = 'url' THEN 'web'
                            ELSE 'intrusion_detection' END
    WHEN 'SYSTEM' THEN CASE WHEN lower({_f("subtype")}) = 'auth' THEN 'authentication'
                            ELSE 'host' END
    WHEN 'CONFIG' THEN 'configuration'
    WHEN 'USERID' THEN 'authentication' WHEN 'AUTH' THEN 'authentication'
    WHEN 'GLOBALPROTECT' THEN 'authentication' WHEN 'HIPMATCH' THEN 'host' WHEN 'HIP-MATCH' THEN 'host'
    END"""

# SYSTEM auth events name the user only in the description: "... for user 'jdoe'. ..." or
# "... for user jdoe. Reason: ...".
_SYSTEM_USER = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN nullif(coalesce("
    f"nullif(regexp_extract({_f('description')}, 'for user ''([^'']+)''', 1), ''), "
    f"regexp_extract({_f('description')}, 'for user ([^\\s'']+?)\\.?(?:\\s|$)', 1)), '') END"
)

# ... and the client address as "From: 10.0.0.1." (auth) or "from 10.0.0.1," or
# "initiated by: 10.0.0.1", the directory or RADIUS server as "server address 10.0.0.2".
_SYSTEM_CLIENT = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN ip_or_null(regexp_extract({_f('description')}, "
    f"'(?i)(?:from|initiated by):? ''?([0-9a-f:.]*[0-9a-f])', 1)) END"
)
_SYSTEM_SERVER = (
    f"CASE WHEN {_f('type')} = 'SYSTEM' THEN ip_or_null(regexp_extract({_f('description')}, "
    f"'(?i)server (?:address )?''?([0-9a-f:.]*[0-9a-f])', 1)) END"
)

#: (column, DuckDB expression over the vendor columns) for the ECS part.
ECS_SQL: tuple[tuple[str, str], ...] = (
    (
        "_body_time",
        f"""coalesce(TRY_CAST({_f("high_res_timestamp")} AS TIMESTAMPTZ),
                                panos_time({_f("generated_time")}),
                                panos_time({_f("receive_time")}))""",
    ),
    ("event.kind", "'event'"),
    ("event.category", _CATEGORY),
    # Sessions have an action; other logs say what happened in their event id, command or
    # subtype (USERID login/logout).
    (
        "event.action",
        f"""CASE {_f("type")}
        WHEN 'TRAFFIC' THEN normalise_action({_f("action")})
        WHEN 'THREAT' THEN normalise_action({_f("action")})
        WHEN 'DECRYPTION' THEN normalise_action({_f("action")})
        WHEN 'SYSTEM' THEN lower({_f("event_id")})
        WHEN 'GLOBALPROTECT' THEN lower({_f("event_id")})
        WHEN 'CONFIG' THEN lower({_f("command")})
        WHEN 'AUTH' THEN lower({_first("event_type", "subtype")})
        WHEN 'HIPMATCH' THEN 'hip-match'
        WHEN 'HIP-MATCH' THEN 'hip-match'
        ELSE lower({_f("subtype")}) END""",
    ),
    (
        "event.outcome",
        f"""CASE
        WHEN {_f("type")} = 'SYSTEM' AND lower({_f("event_id")}) LIKE '%-success' THEN 'success'
        WHEN {_f("type")} = 'SYSTEM' AND lower({_f("event_id")}) LIKE '%-fail%' THEN 'failure'
        WHEN {_f("type")} = 'CONFIG' AND lower({_f("result")}) = 'succeeded' THEN 'success'
        WHEN {_f("type")} = 'CONFIG' AND lower({_f("result")}) IN ('failed', 'failure') THEN 'failure'
        WHEN {_f("type")} = 'GLOBALPROTECT' AND lower({_f("status")}) = 'success' THEN 'success'
        WHEN {_f("type")} = 'GLOBALPROTECT' AND lower({_f("status")}) = 'failure' THEN 'failure'
        END""",
    ),
    ("message", _f("description")),
    ("log.level", _f("severity")),
    (
        "source.ip",
        f"coalesce({_ip('source_address')}, {_ip('source_ip')}, {_ip('public_ip')}, {_ip('host')}, {_SYSTEM_CLIENT})",
    ),
    ("source.port", _port("source_port")),
    ("source.nat.ip", _ip("nat_source_ip")),
    ("source.nat.port", _port("nat_source_port")),
    ("destination.ip", f"coalesce({_ip('destination_address')}, {_SYSTEM_SERVER})"),
    ("destination.port", _port("destination_port")),
    ("destination.nat.ip", _ip("nat_destination_ip")),
    ("destination.nat.port", _port("nat_destination_port")),
    ("network.transport", f"transport_name({_f('protocol')})"),
    ("network.application", _f("application")),
    ("url.original", f"CASE WHEN lower({_f('subtype')}) = 'url' THEN {_f('url_filename')} END"),
    ("rule.name", _f("rule_name")),
    ("rule.uuid", _f("rule_uuid")),
    ("user.name", f"coalesce({_first('source_user', 'user', 'admin')}, {_SYSTEM_USER})"),
    ("destination.user.name", _f("destination_user")),
    ("observer.vendor", "'Palo Alto Networks'"),
    ("observer.product", "'PAN-OS'"),
    ("observer.name", _f("device_name")),
    ("observer.serial_number", _f("serial_number")),
    ("panw.panos.threat.id", f"panos_threat_id({_f('threat_id')})"),
    ("panw.panos.threat.name", f"panos_threat_name({_f('threat_id')})"),
)
