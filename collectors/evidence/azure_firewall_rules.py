"""Azure Firewall policy rules through Azure Resource Manager: every rule of every rule collection
group of the configured firewall policies, one row per rule, with its collection's kind (NAT,
network/application filter), action and priority, and the description that should name the
business need (Cyber Essentials asks that inbound rules be documented).

The policies are named by resource id (``/subscriptions/.../firewallPolicies/<name>``): a
firewall's classic rules (on the ``azureFirewalls`` resource itself) are not read here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import pyarrow as pa

from collectors.evidence.columns import TEXT_LIST, col
from collectors.evidence.job import EvidenceJob, Records, RestListing
from microsoft.azure_resources import RULE_COLLECTION_GROUPS, ArmEndpoint
from microsoft.rest_reader import RestReader

RULES = "azure_firewall.rules"

COLUMNS = (
    col("policy_id", pa.string(), "policy_id"),
    col("group_name", pa.string(), "group.name"),
    col("group_priority", pa.int64(), "group.properties.priority"),
    col("collection_name", pa.string(), "collection.name"),
    col("collection_type", pa.string(), "collection.ruleCollectionType"),
    col("collection_priority", pa.int64(), "collection.priority"),
    col("action", pa.string(), "collection.action.type"),
    col("rule_name", pa.string(), "rule.name"),
    col("rule_type", pa.string(), "rule.ruleType"),
    col("description", pa.string(), "rule.description"),
    col("source_addresses", TEXT_LIST, "rule.sourceAddresses"),
    col("source_ip_groups", TEXT_LIST, "rule.sourceIpGroups"),
    col("destination_addresses", TEXT_LIST, "rule.destinationAddresses"),
    col("destination_fqdns", TEXT_LIST, "rule.destinationFqdns"),
    col("destination_ports", TEXT_LIST, "rule.destinationPorts"),
    col("ip_protocols", TEXT_LIST, "rule.ipProtocols"),
    col("target_fqdns", TEXT_LIST, "rule.targetFqdns"),
    col("translated_address", pa.string(), "rule.translatedAddress"),
    col("translated_port", pa.string(), "rule.translatedPort"),
    col("application_protocols", pa.string(), "rule.protocols", kind="json"),
)


def rule_rows(policy_id: str) -> Callable[[Records], Records]:
    """One row per rule of a page of rule collection groups (a collection without rules is kept
    as a row without a rule, so an empty DNAT collection is seen)."""

    def reshape(groups: Records) -> Records:
        rows: Records = []
        for group in groups:
            properties = group.get("properties")
            collections = properties.get("ruleCollections") if isinstance(properties, dict) else None
            for collection in _dicts(collections):
                rules: list[dict[str, Any] | None] = [*_dicts(collection.get("rules"))] or [None]
                rows.extend(
                    {"policy_id": policy_id, "group": group, "collection": collection, "rule": rule} for rule in rules
                )
        return rows

    return reshape


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class FirewallPolicies:
    """The rules of several policies as one source: pages of each policy in turn."""

    source = RULES
    columns = COLUMNS

    def __init__(self, reader: Callable[[], RestReader], policy_ids: tuple[str, ...], endpoint: ArmEndpoint):
        self._listings = [
            RestListing(
                RULES,
                COLUMNS,
                f"{policy_id.strip('/')}/ruleCollectionGroups",
                RULE_COLLECTION_GROUPS,
                reader,
                {"api-version": endpoint.api_version},
                reshape=rule_rows(policy_id),
            )
            for policy_id in policy_ids
        ]

    async def pages(self) -> AsyncGenerator[Records]:
        for listing in self._listings:
            async for rows in listing.pages():
                yield rows


def jobs(reader: Callable[[], RestReader], policy_ids: tuple[str, ...], endpoint: ArmEndpoint) -> list[EvidenceJob]:
    return [FirewallPolicies(reader, policy_ids, endpoint)] if policy_ids else []
