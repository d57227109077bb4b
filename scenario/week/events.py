"""What happened, before it is written in any source's format.

The normal-activity and story generators produce these records; the format modules turn each
into the source's own raw text (Graph JSON, Log Analytics CSV, diagnostic JSON, syslog). One
record can so be written twice (a sign-in in Graph JSON and in the Log Analytics export) and
stay the same event. Times are integer milliseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from typing import NamedTuple

from scenario.world.places import Place
from scenario.world.tenant import User
from scenario.world.vocabulary import Policy, Result


class SignIn(NamedTuple):
    ms: int
    id: str
    correlation_id: str
    user: User
    app_id: str
    app_name: str
    resource: tuple[str, str]
    ip: str
    place: Place
    device_detail: dict  # Graph deviceDetail (shared, never mutated)
    client_app: str
    result: Result
    interactive: bool
    mfa: bool  # authenticationRequirement is multiFactorAuthentication
    named_location: str | None  # the Conditional Access named location the address is in
    ca_results: tuple[tuple[Policy, str], ...]  # (policy, result) as Graph reports them
    user_agent: str
    risk: str = "none"  # riskLevelDuringSignIn / riskLevelAggregated


class Flow(NamedTuple):
    """One Azure Firewall log record (network, application or threat-intel)."""

    ms: int
    category: str  # AZFWNetworkRule, AZFWApplicationRule, AZFWThreatIntel
    action: str  # Allow, Deny
    protocol: str  # TCP, UDP, ICMP for network rules; HTTP, HTTPS for application rules
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    rule: str
    rule_collection: str
    rule_collection_group: str
    fqdn: str = ""
    url: str = ""
    web_category: str = ""
    action_reason: str = ""
    threat: str = ""  # threat-intel description


class Session(NamedTuple):
    """One FortiGate traffic log (a session closing or being denied)."""

    ms: int
    session_id: int
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    proto: int  # IP protocol number
    service: str
    action: str  # accept, close, deny, timeout
    policy_id: int
    dst_country: str
    dst_interface: str
    duration: int
    sent_bytes: int
    rcvd_bytes: int
    app: str
    app_category: str
