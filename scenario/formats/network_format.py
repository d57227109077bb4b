"""Network logs in their devices' own formats: Azure Firewall diagnostic JSON, FortiGate syslog.

Azure Firewall: one diagnostic record per line, as diagnostic settings deliver them to a storage
account or event hub. The resource-specific categories (AZFWNetworkRule, AZFWApplicationRule,
AZFWThreatIntel) carry typed ``properties`` and no ``operationName``; the legacy categories
(AzureFirewallNetworkRule, AzureFirewallApplicationRule) carry one ``properties.msg`` sentence.
Shapes and wording follow the records in Elastic's azure firewall_logs pipeline tests.

FortiGate: RFC 5424 syslog (facility local7, severity notice) whose message is FortiOS's
key=value traffic log, with date/time in the appliance's local (UK) time and ``eventtime`` in
nanoseconds, as in SEKOIA's FortiGate samples.
"""

from __future__ import annotations

import scenario.world.estate as estate
from scenario.week.events import Flow, Session
from scenario.week.timeline import iso7, iso_ms, uk_local


def firewall_record(f: Flow, resource_id: str = estate.FIREWALL_RESOURCE_ID) -> dict:
    """A resource-specific (AZFW*) diagnostic record."""
    if f.category == "AZFWNetworkRule":
        props = {
            "Action": f.action,
            "ActionReason": f.action_reason,
            "DestinationIp": f.dst_ip,
            "DestinationPort": f.dst_port,
            "Policy": estate.FIREWALL_POLICY,
            "Protocol": f.protocol,
            "Rule": f.rule,
            "RuleCollection": f.rule_collection,
            "RuleCollectionGroup": f.rule_collection_group,
            "SourceIp": f.src_ip,
            "SourcePort": f.src_port,
        }
    elif f.category == "AZFWApplicationRule":
        props = {
            "Action": f.action,
            "ActionReason": f.action_reason,
            "DestinationIp": f.dst_ip,
            "DestinationPort": f.dst_port,
            "Fqdn": f.fqdn,
            "IsExplicitProxyRequest": False,
            "IsTlsInspected": False,
            "Policy": estate.FIREWALL_POLICY,
            "Protocol": f.protocol,
            "Rule": f.rule,
            "RuleCollection": f.rule_collection,
            "RuleCollectionGroup": f.rule_collection_group,
            "SourceIp": f.src_ip,
            "SourcePort": f.src_port,
            "TargetUrl": f.url,
            "WebCategory": f.web_category,
        }
    elif f.category == "AZFWThreatIntel":
        props = {
            "Action": f.action,
            "DestinationIp": f.dst_ip,
            "DestinationPort": f.dst_port,
            "Fqdn": f.fqdn,
            "IsTlsInspected": False,
            "Protocol": f.protocol,
            "SourceIp": f.src_ip,
            "SourcePort": f.src_port,
            "ThreatDescription": f.threat,
            "Url": f.url,
        }
    else:
        raise ValueError(f"not a resource-specific Azure Firewall category: {f.category}")
    return {"category": f.category, "properties": props, "resourceId": resource_id, "time": iso7(f.ms)}


def legacy_record(f: Flow, resource_id: str = estate.LEGACY_FIREWALL_RESOURCE_ID) -> dict:
    """The same flow as the legacy AzureDiagnostics categories write it: one sentence in ``msg``."""
    if f.category == "AZFWNetworkRule":
        msg = f"{f.protocol} request from {f.src_ip}:{f.src_port} to {f.dst_ip}:{f.dst_port}. Action: {f.action}. "
        if f.rule:
            msg += f"Rule Collection: {f.rule_collection}. Rule: {f.rule}"
        category, operation = "AzureFirewallNetworkRule", "AzureFirewallNetworkRuleLog"
    elif f.category == "AZFWApplicationRule":
        # Azure pads "HTTP" to the width of "HTTPS": the double space is theirs.
        verb = "HTTPS" if f.protocol == "HTTPS" else "HTTP "
        target = f.fqdn or f.dst_ip
        msg = f"{verb} request from {f.src_ip}:{f.src_port} to {target}:{f.dst_port}. "
        if f.url:
            msg += f"Url: {f.url}. "
        msg += f"Action: {f.action}. "
        msg += (
            f"Rule Collection: {f.rule_collection}. Rule: {f.rule}"
            if f.action == "Allow"
            else "No rule matched. Proceeding with default action"
        )
        category, operation = "AzureFirewallApplicationRule", "AzureFirewallApplicationRuleLog"
    else:
        raise ValueError(f"no legacy form for {f.category}")
    return {
        "category": category,
        "operationName": operation,
        "properties": {"msg": msg},
        "resourceId": resource_id,
        "time": iso7(f.ms),
    }


_POLICY_NAMES = {0: "", 2: "LAN-to-FortiGate-DNS", 3: "LAN-to-Internet", 5: "LAN-to-Azure-Hub"}
_POLICY_UUIDS = {
    0: "",
    2: "6b1e5c0a-2f3d-51ef-8a1b-0c9e7d3f2a02",
    3: "6b1e5c0a-2f3d-51ef-8a1b-0c9e7d3f2a03",
    5: "6b1e5c0a-2f3d-51ef-8a1b-0c9e7d3f2a05",
}
SYSLOG_PRI = "<189>"  # local7.notice, FortiOS's default


def fortigate_line(s: Session) -> str:
    """One RFC 5424 syslog line carrying a FortiOS forward-traffic log."""
    date, time, tz = uk_local(s.ms)
    denied = s.action == "deny"
    wan = s.dst_interface == "wan1"
    body = [
        f'date={date} time={time} devname="{estate.FORTIGATE_NAME}" devid="{estate.FORTIGATE_SERIAL}"',
        f'eventtime={s.ms * 1_000_000 + s.session_id % 1_000_000} tz="{tz}" logid="0000000013" type="traffic"',
        f'subtype="forward" level="{"warning" if denied else "notice"}" vd="root"',
        f'srcip={s.src_ip} srcport={s.src_port} srcintf="internal" srcintfrole="lan"',
        f'dstip={s.dst_ip} dstport={s.dst_port} dstintf="{s.dst_interface}"',
        f'dstintfrole="{"wan" if wan else "undefined" if s.dst_interface != "internal" else "lan"}"',
        f'srccountry="Reserved" dstcountry="{s.dst_country}" sessionid={s.session_id} proto={s.proto}',
        f'action="{s.action}" policyid={s.policy_id} policytype="policy"',
    ]
    if not denied:
        body.append(f'poluuid="{_POLICY_UUIDS[s.policy_id]}" policyname="{_POLICY_NAMES[s.policy_id]}"')
    body.append(f'service="{s.service}"')
    if wan and not denied:
        body.append(f'trandisp="snat" transip={estate.AREA_OFFICE.egress_ip} transport={s.src_port}')
    else:
        body.append('trandisp="noop"')
    if s.app:
        body.append(f'app="{s.app}" appcat="{s.app_category}"')
    body.append(
        f"duration={s.duration} sentbyte={s.sent_bytes} rcvdbyte={s.rcvd_bytes} "
        f"sentpkt={max(1, s.sent_bytes // 1200) if s.sent_bytes else 0} "
        f"rcvdpkt={max(1, s.rcvd_bytes // 1200) if s.rcvd_bytes else 0}"
    )
    if denied:
        body.append('appcat="unscanned"')
    return f"{SYSLOG_PRI}1 {iso_ms(s.ms)} {estate.FORTIGATE_NAME} - - - - {' '.join(body)}"
