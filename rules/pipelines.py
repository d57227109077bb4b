"""pySigma processing pipelines: Sigma field names and values -> Cyberwell's stored columns.

SigmaHQ's Azure sign-in rules name fields three ways — Log Analytics ``SigninLogs`` columns
(``ResultType``, ``IPAddress``), Microsoft Graph ``signIn`` properties (``userAgent``,
``status.errorCode``) and diagnostic-settings records (``resultType``, ``properties.appId``) — while
every parser writes the ECS-style columns of docs/events.md. The tables below say, per logsource,
which column each name means; rules that already use our column names need no mapping. Both stores
use this pipeline, so a rule means the same on DuckDB and Elasticsearch.

Strictness: after mapping, every field a rule tests must be a column of the logsource's datasets
(vendor namespaces such as ``fortinet.firewall.*`` hold keys "as sent", so any key under them is
accepted). Anything else fails the rule's conversion with the field's name: a typo must not become a
search that silently never matches.

Decisions where SigmaHQ uses a name no schema has (each is pinned by tests/rules/test_pipelines.py):

* ``Status`` and ``ResultDescription`` whose value is exactly ``Success`` or ``Failure`` mean the
  sign-in's outcome (``event.outcome``): ``azure_ad_only_single_factor_auth_required`` tests
  ``Status: Success``, and ``azure_blocked_account_attempt`` pairs ``ResultType: 50057`` with
  ``ResultDescription: Failure`` although error 50057's description is never "Failure". Any other
  ``Status`` value is searched in the status texts (failure reason, additional details), where
  Log Analytics' ``Status`` column keeps e.g. "MFA denied; user declined the authentication".
* ``properties.message: Device Code`` / ``ROPC`` (the two application-flow rules) mean the
  authentication protocol Entra records for those flows, ``deviceCode`` / ``ropc`` (Microsoft's
  "security operations for applications" guide the rules cite names exactly these two).
  ``properties.message`` with any other value has no column and fails.
* ``azure_legacy_authentication_protocols`` was written against the portal's sign-in export:
  ``ActivityDetails: Sign-ins`` only says "sign-in logs", which the dataset already is, so that
  item is dropped (other ``ActivityDetails`` values fail); ``Username: 'UPN'`` is the placeholder
  "the user's UPN", so it becomes "any user name". Its ``ClientApp`` values are the short names
  (``IMAP``, ``MAPI``, ``SMTP``, ``Other client``); Entra writes ``IMAP4``, ``MAPI Over HTTP``,
  ``Authenticated SMTP`` and ``Other clients``, so those are searched too.
* Firewalls: SigmaHQ's ``action`` words (``forward``, ``accept``, ``2``, ...) are searched as our
  normalised ``event.action`` word as well (``allow``), and ``blocked: false/true`` is
  ``event.action`` allow / deny|drop.
* Addresses: the stores keep an address column in one spelling per address
  (``store.batch.canonical_address``: ``2001:DB8:0:0::1`` is stored as ``2001:db8::1``,
  ``::ffff:10.0.0.1`` as ``10.0.0.1``), so a rule's plain value on an address column is written
  the same way; a pattern (``|contains``, wildcards), a regex or a ``|cidr`` is left as written.

Correlations name fields too (``group-by``, aliases, the condition's field): ``stored_field``
maps such a name through this same pipeline, as the base rule's logsource would map it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sigma.exceptions import SigmaError, SigmaTransformationError
from sigma.processing.conditions import (
    DetectionItemProcessingCondition,
    FieldNameProcessingCondition,
    IncludeFieldCondition,
    LogsourceCondition,
    MatchStringCondition,
    RuleProcessingCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    ConvertTypeTransformation,
    DropDetectionItemTransformation,
    FieldMappingTransformation,
    MapStringTransformation,
    ReplaceStringTransformation,
)
from sigma.processing.transformations.base import DetectionItemTransformation, ValueTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLogSource, SigmaRule
from sigma.types import SigmaBool, SigmaString, SigmaType

from rules import logsources
from rules.logsources import (
    AZURE_FIREWALL,
    FIREWALL,
    FORTIGATE,
    M365_DEFENDER_ALERT,
    SIGNINLOGS,
)
from store.batch import ADDRESS_COLUMNS, canonical_address

# The stored columns (DATASET_COLUMNS) and the vendor namespaces whose keys are stored as sent
# (OPEN_NAMESPACES) are the event schema's: store/events_schema.toml, docs/events.md.
from store.schema import DATASET_COLUMNS, OPEN_NAMESPACES

# -- Sigma names -> columns, per logsource ----------------------------------------------------

_P = "azure.signinlogs.properties."
_A = "m365_defender.alert."

# Graph signIn property -> column; diagnostic-settings records carry the same under "properties.".
_SIGNIN_GRAPH = {
    "createdDateTime": "@timestamp",
    "id": "event.id",
    "userPrincipalName": "user.name",
    "userId": "user.id",
    "userDisplayName": "user.full_name",
    "ipAddress": "source.ip",
    "userAgent": "user_agent.original",
    "location": "source.geo.country_iso_code",
    "location.countryOrRegion": "source.geo.country_iso_code",
    "location.city": "source.geo.city_name",
    "location.state": "source.geo.region_name",
    "homeTenantId": "azure.tenant_id",
    "resourceTenantId": "azure.tenant_id",
    "appId": _P + "app_id",
    "appDisplayName": _P + "app_display_name",
    "resourceDisplayName": _P + "resource_display_name",
    "clientAppUsed": _P + "client_app_used",
    "conditionalAccessStatus": _P + "conditional_access_status",
    "authenticationRequirement": _P + "authentication_requirement",
    "authenticationProtocol": _P + "authentication_protocol",
    "isInteractive": _P + "is_interactive",
    "riskState": _P + "risk_state",
    "riskLevelDuringSignIn": _P + "risk_level_during_signin",
    "riskLevelAggregated": _P + "risk_level_aggregated",
    "status.errorCode": _P + "status.error_code",
    "status.failureReason": _P + "status.failure_reason",
    "status.additionalDetails": _P + "status.additional_details",
    "deviceDetail.deviceId": _P + "device_detail.device_id",
    "deviceDetail.displayName": _P + "device_detail.display_name",
    "deviceDetail.operatingSystem": _P + "device_detail.operating_system",
    "deviceDetail.browser": _P + "device_detail.browser",
    "deviceDetail.isCompliant": _P + "device_detail.is_compliant",
    "deviceDetail.isManaged": _P + "device_detail.is_managed",
    "deviceDetail.trustType": _P + "device_detail.trust_type",
    "networkLocationDetails": _P + "network_location_details",
    "authenticationDetails": _P + "authentication_details",
    "appliedConditionalAccessPolicies": _P + "applied_conditional_access_policies",
    "correlationId": _P + "correlation_id",
}
# Log Analytics SigninLogs columns (and the spellings SigmaHQ rules use for them).
_SIGNIN_LOG_ANALYTICS: dict[str, str | list[str]] = {
    "TimeGenerated": "@timestamp",
    "CreatedDateTime": "@timestamp",
    "Id": "event.id",
    # The numeric column, so |gt/|lt compare numbers; text rules still match its decimal text.
    "ResultType": _P + "status.error_code",
    "ResultDescription": "azure.signinlogs.result_description",
    "Resultdescription": "azure.signinlogs.result_description",  # azure_conditional_access_failure
    "UserPrincipalName": "user.name",
    "Username": "user.name",  # the portal export's column
    "UserId": "user.id",
    "UserDisplayName": "user.full_name",
    "IPAddress": "source.ip",
    "Location": "source.geo.country_iso_code",
    "LocationDetails.countryOrRegion": "source.geo.country_iso_code",
    "LocationDetails.city": "source.geo.city_name",
    "LocationDetails.state": "source.geo.region_name",
    "UserAgent": "user_agent.original",
    "TenantId": "azure.tenant_id",
    "AADTenantId": "azure.tenant_id",
    "Category": "azure.signinlogs.category",
    "Type": "azure.signinlogs.category",
    "AppId": _P + "app_id",
    "AppDisplayName": _P + "app_display_name",
    "ResourceDisplayName": _P + "resource_display_name",
    "ClientAppUsed": _P + "client_app_used",
    "ClientApp": _P + "client_app_used",  # azure_legacy_authentication_protocols
    "ConditionalAccessStatus": _P + "conditional_access_status",
    "AuthenticationRequirement": _P + "authentication_requirement",
    "AuthenticationProtocol": _P + "authentication_protocol",
    "IsInteractive": _P + "is_interactive",
    "RiskState": _P + "risk_state",
    "RiskLevelDuringSignIn": _P + "risk_level_during_signin",
    "RiskLevelAggregated": _P + "risk_level_aggregated",
    "Status": [_P + "status.failure_reason", _P + "status.additional_details"],
    "Status.errorCode": _P + "status.error_code",
    "Status.failureReason": _P + "status.failure_reason",
    "Status.additionalDetails": _P + "status.additional_details",
    "DeviceDetail.deviceId": _P + "device_detail.device_id",
    "DeviceDetail.displayName": _P + "device_detail.display_name",
    "DeviceDetail.operatingSystem": _P + "device_detail.operating_system",
    "DeviceDetail.browser": _P + "device_detail.browser",
    "DeviceDetail.isCompliant": _P + "device_detail.is_compliant",
    "DeviceDetail.isManaged": _P + "device_detail.is_managed",
    "DeviceDetail.trustType": _P + "device_detail.trust_type",
    "DeviceDetail.trusttype": _P + "device_detail.trust_type",  # SigmaHQ's spelling
    "NetworkLocationDetails": _P + "network_location_details",
    "AuthenticationDetails": _P + "authentication_details",
    "ConditionalAccessPolicies": _P + "applied_conditional_access_policies",
    "CorrelationId": _P + "correlation_id",
}
# Azure Monitor diagnostic-settings records (Event Hub / storage export).
_SIGNIN_DIAGNOSTIC = {
    "time": "@timestamp",
    "resultType": _P + "status.error_code",
    "resultDescription": "azure.signinlogs.result_description",
    "callerIpAddress": "source.ip",
    "tenantId": "azure.tenant_id",
    "category": "azure.signinlogs.category",
    **{f"properties.{name}": column for name, column in _SIGNIN_GRAPH.items()},
}
SIGNIN_FIELDS: dict[str, str | list[str]] = {**_SIGNIN_GRAPH, **_SIGNIN_LOG_ANALYTICS, **_SIGNIN_DIAGNOSTIC}

# SigmaHQ's generic firewall taxonomy.
FIREWALL_FIELDS = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "action": "event.action",
    "blocked": "event.action",
}
# Resource-specific AZFW* table columns.
AZURE_FIREWALL_FIELDS = {
    **FIREWALL_FIELDS,
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "Protocol": "network.transport",
    "Action": "azure.firewall.action",
    "Fqdn": "destination.domain",
    "TargetUrl": "url.original",
    "Rule": "rule.name",
    "RuleCollection": "rule.ruleset",
    "RuleCollectionGroup": "azure.firewall.rule_collection_group",
    "Policy": "azure.firewall.policy",
    "ThreatDescription": "azure.firewall.threat_intel.description",
    "OperationName": "azure.firewall.operation_name",
    "Category": "azure.firewall.category",
    "ResourceId": "azure.resource.id",
}
# FortiOS log fields (FortiOS log message reference; the keys seen in SEKOIA's FortiGate samples):
# stored under fortinet.firewall.<key> as sent.
FORTIGATE_KEYS = (
    "action",
    "alert",
    "app",
    "appcat",
    "appid",
    "applist",
    "apprisk",
    "assignip",
    "attack",
    "attackid",
    "auth_status",
    "authproto",
    "authserver",
    "catdesc",
    "cfgattr",
    "cfgobj",
    "cfgpath",
    "cfgtid",
    "count",
    "countapp",
    "countips",
    "countweb",
    "craction",
    "crlevel",
    "crscore",
    "date",
    "desc",
    "devid",
    "devname",
    "devtype",
    "dhcp_msg",
    "dir",
    "direction",
    "dstcountry",
    "dstintf",
    "dstintfrole",
    "dstip",
    "dstmac",
    "dstname",
    "dstport",
    "dstuser",
    "dstuuid",
    "duration",
    "eventtime",
    "eventtype",
    "forwardedfor",
    "group",
    "hostname",
    "httpmethod",
    "icmpcode",
    "icmpid",
    "icmptype",
    "incidentserialno",
    "interface",
    "ip",
    "lease",
    "level",
    "logdesc",
    "logid",
    "mac",
    "method",
    "msg",
    "osname",
    "policyid",
    "policyname",
    "policytype",
    "poluuid",
    "profile",
    "proto",
    "qname",
    "qtype",
    "rcvdbyte",
    "rcvdpkt",
    "reason",
    "ref",
    "remip",
    "remport",
    "result",
    "sentbyte",
    "sentpkt",
    "service",
    "sessionid",
    "severity",
    "srccountry",
    "srcintf",
    "srcintfrole",
    "srcip",
    "srcmac",
    "srcname",
    "srcport",
    "srcuser",
    "srcuuid",
    "status",
    "subtype",
    "time",
    "trandisp",
    "tranip",
    "tranport",
    "transip",
    "transport",
    "tunnelid",
    "tunnelip",
    "tunneltype",
    "type",
    "tz",
    "ui",
    "unauthuser",
    "url",
    "user",
    "utmaction",
    "vd",
    "vpntunnel",
    "vpntype",
    "xauthgroup",
    "xauthuser",
)
FORTIGATE_FIELDS = {key: f"fortinet.firewall.{key}" for key in FORTIGATE_KEYS}
DEFENDER_FIELDS = {
    "createdDateTime": "@timestamp",
    "id": "event.id",
    "title": "message",
    "severity": _A + "severity",
    "status": _A + "status",
    "category": _A + "category",
    "detectionSource": _A + "detection_source",
    "serviceSource": _A + "service_source",
    "incidentId": _A + "incident_id",
    "lastUpdateDateTime": _A + "last_update_time",
    "mitreTechniques": _A + "mitre_techniques",
    "threatFamilyName": _A + "threat_family_name",
    "evidence": _A + "evidence",
}

FIELD_MAPPINGS: tuple[tuple[SigmaLogSource, Mapping[str, str | list[str]]], ...] = (
    (SIGNINLOGS, SIGNIN_FIELDS),
    (FIREWALL, FIREWALL_FIELDS),
    (AZURE_FIREWALL, AZURE_FIREWALL_FIELDS),
    (FORTIGATE, FORTIGATE_FIELDS),
    (M365_DEFENDER_ALERT, DEFENDER_FIELDS),
)

# -- value decisions (see the module docstring) -----------------------------------------------

OUTCOME_FIELDS = ("Status", "ResultDescription", "Resultdescription", "resultDescription")
LEGACY_CLIENT_APPS: dict[str, str | list[str]] = {
    "IMAP": ["IMAP", "IMAP4"],
    "POP": ["POP", "POP3"],
    "MAPI": ["MAPI", "MAPI Over HTTP"],
    "SMTP": ["SMTP", "Authenticated SMTP"],
    "Other client": ["Other client", "Other clients"],
}
AUTHENTICATION_FLOWS = {"Device Code": "deviceCode", "ROPC": "ropc"}
FIREWALL_ACTION_WORDS = {word: ["allow", word] for word in ("forward", "accept", "2", "permit", "pass", "allowed")} | {
    "block": ["deny", "drop", "block"],
    "blocked": ["deny", "drop", "blocked"],
    "reject": ["deny", "reject"],
}


@dataclass
class BlockedAsAction(ValueTransformation):
    """``blocked: true/false`` (some firewalls' flag) as the normalised ``event.action`` words."""

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | list[SigmaType]:
        word = str(val.boolean if isinstance(val, SigmaBool) else val).lower()
        if word == "false":
            return SigmaString("allow")
        if word == "true":
            return [SigmaString("deny"), SigmaString("drop")]
        raise SigmaTransformationError(f"field 'blocked': value {str(val)!r} is neither true nor false")


@dataclass
class CanonicalAddress(ValueTransformation):
    """A plain value on an address column, spelt as the stores keep addresses (module docstring)."""

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if not isinstance(val, SigmaString) or val.contains_special():
            return None  # patterns match the stored text as written; |cidr compares numbers
        text = val.to_plain()
        canonical = canonical_address(text)
        return None if canonical == text else SigmaString(canonical)


@dataclass
class RequireKnownColumns(DetectionItemTransformation):
    """Fail, naming the field, when a (mapped) field is not a column of the logsource's datasets."""

    logsource: str
    columns: frozenset[str]
    open_prefixes: tuple[str, ...] = ()

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        field = detection_item.field
        # Keyword (field-less) items are refused by the backend with their own reason.
        if field is None or field in self.columns or field.startswith(self.open_prefixes):
            return None
        raise SigmaTransformationError(
            f"field {field!r} is not known for logsource {self.logsource}: it is neither a Sigma name"
            f" this pipeline maps nor a stored column (see docs/events.md and rules/pipelines.py)"
        )


def _on(logsource: SigmaLogSource) -> list[RuleProcessingCondition]:
    return [LogsourceCondition(logsource.category, logsource.product, logsource.service)]


def _fields(*names: str) -> list[FieldNameProcessingCondition]:
    return [IncludeFieldCondition(fields=list(names))]


def _all_values(pattern: str) -> list[DetectionItemProcessingCondition]:
    return [MatchStringCondition(cond="all", pattern=pattern)]


def _value_items() -> list[ProcessingItem]:
    """Value-dependent decisions; they run before the plain field mappings."""
    firewall_logsources = (FIREWALL, AZURE_FIREWALL)
    items = [
        ProcessingItem(
            FieldMappingTransformation({name: "event.outcome" for name in OUTCOME_FIELDS}),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields(*OUTCOME_FIELDS),
            detection_item_conditions=_all_values(r"(?i)^(success|failure)$"),
        ),
        ProcessingItem(
            ReplaceStringTransformation(regex="^UPN$", replacement="*"),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields("Username"),
        ),
        ProcessingItem(
            DropDetectionItemTransformation(),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields("ActivityDetails"),
            detection_item_conditions=_all_values(r"(?i)^sign-ins$"),
        ),
        ProcessingItem(
            MapStringTransformation(LEGACY_CLIENT_APPS),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields("ClientApp", "ClientAppUsed", "clientAppUsed"),
        ),
        ProcessingItem(
            MapStringTransformation({**AUTHENTICATION_FLOWS}),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields("properties.message"),
            detection_item_conditions=_all_values("^(" + "|".join(AUTHENTICATION_FLOWS) + ")$"),
        ),
        ProcessingItem(
            FieldMappingTransformation({"properties.message": _P + "authentication_protocol"}),
            rule_conditions=_on(SIGNINLOGS),
            field_name_conditions=_fields("properties.message"),
            detection_item_conditions=_all_values("^(" + "|".join(AUTHENTICATION_FLOWS.values()) + ")$"),
        ),
    ]
    for logsource in firewall_logsources:
        items += [
            ProcessingItem(
                ConvertTypeTransformation(target_type="str"),
                rule_conditions=_on(logsource),
                field_name_conditions=_fields("action"),
            ),
            ProcessingItem(
                MapStringTransformation({**FIREWALL_ACTION_WORDS}),
                rule_conditions=_on(logsource),
                field_name_conditions=_fields("action"),
            ),
            ProcessingItem(
                BlockedAsAction(),
                rule_conditions=_on(logsource),
                field_name_conditions=_fields("blocked"),
            ),
        ]
    return items


def _strict_items() -> list[ProcessingItem]:
    items = []
    for logsource in (SIGNINLOGS, FIREWALL, AZURE_FIREWALL, FORTIGATE, M365_DEFENDER_ALERT):
        datasets = logsources.datasets_for(logsource)
        items.append(
            ProcessingItem(
                RequireKnownColumns(
                    logsource=logsources.describe(logsource),
                    columns=frozenset().union(*(DATASET_COLUMNS[d] for d in datasets)),
                    open_prefixes=tuple(p for d in datasets for p in OPEN_NAMESPACES.get(d, ())),
                ),
                rule_conditions=_on(logsource),
            )
        )
    return items


def _address_items() -> list[ProcessingItem]:
    """After the field mappings: values on the (mapped) address columns, in the stored spelling."""
    return [
        ProcessingItem(CanonicalAddress(), field_name_conditions=_fields(*sorted(ADDRESS_COLUMNS))),
    ]


def _mapping(mapping: Mapping[str, str | list[str]]) -> dict[str | None, str | list[str]]:
    """A fresh copy for pySigma, which types its keys as optional."""
    return {name: column for name, column in mapping.items()}


def cyberwell_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-rule state, so each conversion needs its own)."""
    mapping_items = [
        ProcessingItem(FieldMappingTransformation(_mapping(mapping)), rule_conditions=_on(logsource))
        for logsource, mapping in FIELD_MAPPINGS
    ]
    return ProcessingPipeline(
        name="Cyberwell: Sigma fields to stored columns",
        priority=20,
        items=_value_items() + mapping_items + _address_items() + _strict_items(),
    )


class UnknownField(ValueError):
    """A field name the pipeline maps to no single stored column; the message names it."""


def stored_field(logsource: SigmaLogSource, name: str) -> str:
    """The stored column a rule of ``logsource`` means by ``name`` (``IPAddress`` -> ``source.ip``).

    Correlations group and count by names their base rules' authors wrote, which must mean what
    they mean in those rules: so the name goes through this very pipeline, as a one-item rule of
    the same logsource, and the column it lands on is the answer. A name the pipeline refuses, or
    maps to several columns (``Status`` is searched in two texts), raises ``UnknownField``.
    """
    if "|" in name:
        raise UnknownField(f"field {name!r}: a correlation names a field without modifiers")
    probe = SigmaRule.from_dict(
        {
            "title": "field probe",
            "logsource": {
                key: value
                for key, value in (
                    ("category", logsource.category),
                    ("product", logsource.product),
                    ("service", logsource.service),
                )
                if value is not None
            },
            "detection": {"probe": {name: "probe"}, "condition": "probe"},
        }
    )
    try:
        cyberwell_pipeline().apply(probe)
    except SigmaError as error:
        raise UnknownField(str(error.args[0] if error.args else error)) from None
    [item] = probe.detection.detections["probe"].detection_items
    if isinstance(item, SigmaDetection) or not isinstance(item, SigmaDetectionItem) or item.field is None:
        raise UnknownField(
            f"field {name!r} maps to several columns for logsource {logsources.describe(logsource)};"
            " a correlation needs one (name the stored column, see docs/events.md)"
        )
    return item.field
