"""The Azure Firewall policy's rules in one week: the hub firewall's DNAT, network and
application rule collections, one row per rule as the evidence job keeps them.

The story: an old FTP publication open to the internet is removed in week 3; in week 5 a
contractor's remote-support session gets an RDP DNAT rule from any source that nobody takes out
again, the risky rule the report must flag. The planning portal's HTTPS publication is a
legitimate internet-facing service (its need must be documented, not removed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from scenario.world.estate import FIREWALL_POLICY, SERVERS

from .schemas import FIREWALL_RULES, SCHEMAS

POLICY_ID = (
    "/subscriptions/3c5a1e62-7d0b-4c55-9f1e-6a0c2f3b8d14/resourceGroups/rg-wbdc-hub-uks"
    f"/providers/Microsoft.Network/firewallPolicies/{FIREWALL_POLICY}"
)
PUBLIC_IP = "198.51.100.200"
CLIENTS = ["10.20.0.0/16", "10.21.0.0/16", "10.22.0.0/16", "10.23.0.0/16"]
_SERVER = {s.name: s.ip for s in SERVERS}

#: The rule the story leaves open: RDP from anywhere to the revenues application server.
RISKY_RULE = "rdp-supplier-support"
RISKY_FROM_WEEK = 5
FTP_RULE = "ftp-legacy-uploads"
FTP_UNTIL_WEEK = 3


@dataclass(frozen=True)
class Rule:
    group: str
    group_priority: int
    collection: str
    collection_type: str
    collection_priority: int
    action: str
    values: dict[str, object]


def _dnat(name: str, port: str, target: str, target_port: str, description: str) -> Rule:
    return Rule(
        "DefaultDnatRuleCollectionGroup",
        100,
        "dnat-inbound",
        "FirewallPolicyNatRuleCollection",
        100,
        "DNAT",
        {
            "rule_name": name,
            "rule_type": "NatRule",
            "description": description,
            "source_addresses": ["*"],
            "destination_addresses": [PUBLIC_IP],
            "destination_ports": [port],
            "ip_protocols": ["TCP"],
            "translated_address": target,
            "translated_port": target_port,
        },
    )


def _network(name: str, sources: list[str], destinations: list[str], ports: list[str], description: str) -> Rule:
    return Rule(
        "DefaultNetworkRuleCollectionGroup",
        200,
        "net-allow-internal",
        "FirewallPolicyFilterRuleCollection",
        200,
        "Allow",
        {
            "rule_name": name,
            "rule_type": "NetworkRule",
            "description": description,
            "source_addresses": sources,
            "destination_addresses": destinations,
            "destination_ports": ports,
            "ip_protocols": ["TCP", "UDP"],
        },
    )


def _web(name: str, fqdns: list[str], description: str) -> Rule:
    return Rule(
        "DefaultApplicationRuleCollectionGroup",
        300,
        "app-allow-web",
        "FirewallPolicyFilterRuleCollection",
        300,
        "Allow",
        {
            "rule_name": name,
            "rule_type": "ApplicationRule",
            "description": description,
            "source_addresses": CLIENTS,
            "target_fqdns": fqdns,
            "application_protocols": json.dumps([{"protocolType": "Https", "port": 443}]),
        },
    )


def rules_in(week: int) -> list[Rule]:
    planning = _SERVER["WBDC-APP-PLAN"]
    found = [
        _dnat(
            "https-planning-portal",
            "443",
            planning,
            "443",
            "Public planning portal; need: statutory planning register; approved by Head of IT, CAB-2291",
        ),
        _network(
            "clients-to-domain-controllers",
            CLIENTS,
            [_SERVER["WBDC-DC-01"], _SERVER["WBDC-DC-02"]],
            ["53", "88", "389", "445", "636"],
            "Authentication and DNS; CAB-1004",
        ),
        _network("clients-to-file-server", CLIENTS, [_SERVER["WBDC-FS-01"]], ["445"], "File shares; CAB-1004"),
        _network(
            "clients-to-line-of-business",
            CLIENTS,
            [_SERVER["WBDC-APP-REVS"], planning],
            ["443", "8443"],
            "Revenues and planning applications; CAB-1187",
        ),
        _network("servers-to-azure-dns", ["10.10.0.0/16"], ["168.63.129.16"], ["53"], "Azure DNS"),
        _web("microsoft-365", ["*.office365.com", "*.sharepoint.com", "teams.microsoft.com"], "Microsoft 365"),
        _web("windows-update", ["*.windowsupdate.com", "update.microsoft.com"], "Windows Update"),
    ]
    if week < FTP_UNTIL_WEEK:
        found.append(_dnat(FTP_RULE, "21", _SERVER["WBDC-APP-REVS"], "21", "Old supplier uploads"))
    if week >= RISKY_FROM_WEEK:
        found.append(
            _dnat(RISKY_RULE, "3389", _SERVER["WBDC-APP-REVS"], "3389", "Temporary: supplier remote support session")
        )
    return found


def firewall_rules(week: int) -> pa.Table:
    rows = [
        {
            "policy_id": POLICY_ID,
            "group_name": rule.group,
            "group_priority": rule.group_priority,
            "collection_name": rule.collection,
            "collection_type": rule.collection_type,
            "collection_priority": rule.collection_priority,
            "action": rule.action,
            **rule.values,
        }
        for rule in rules_in(week)
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[FIREWALL_RULES])
