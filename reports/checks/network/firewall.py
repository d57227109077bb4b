"""Firewall checks on Azure Firewall policies: rules that admit traffic from any source.

An inbound (DNAT) rule or an allowing network rule whose sources include ``*``, ``0.0.0.0/0``,
``Any`` or ``Internet`` admits the internet. Such a rule on every port, or on a remote
administration port (SSH, Telnet, RPC, SMB, RDP, VNC, WinRM), fails: Cyber Essentials wants
administration interfaces off the internet and inbound traffic blocked by default. A rule from
any source to another port (a public web server) may be a documented business need, so it makes
the result partial and is listed for the attestation of that need. Port ranges (``3380-3390``)
count when they contain a management port. Application rules filter outbound web traffic and
are not read here; boundary firewalls other than Azure Firewall are for attestation.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

MANAGEMENT_PORTS = (22, 23, 135, 139, 445, 3389, 5900, 5985, 5986)
ANY_SOURCE = ("*", "0.0.0.0/0", "any", "internet")

EXPOSED = """
    WITH exposed AS (
        SELECT row_number() OVER () AS rid, *
        FROM rules
        WHERE rule_name IS NOT NULL
          AND ((rule_type = 'NatRule' AND upper(action) = 'DNAT') OR (rule_type = 'NetworkRule' AND lower(action) = 'allow'))
          AND list_has_any(list_transform(coalesce(source_addresses, []), lambda s: lower(trim(s))), $any_source)
    ),
    ports AS (
        SELECT rid, port,
               TRY_CAST(split_part(port, '-', 1) AS INTEGER) AS low,
               TRY_CAST(coalesce(nullif(split_part(port, '-', 2), ''), split_part(port, '-', 1)) AS INTEGER) AS high
        FROM (SELECT rid, trim(unnest(list_concat(coalesce(destination_ports, []),
                                                  CASE WHEN translated_port IS NULL THEN [] ELSE [translated_port] END))) AS port
              FROM exposed)
    ),
    judged AS (
        SELECT e.rid,
               bool_or(p.port = '*') AS any_port,
               list(DISTINCT m.port ORDER BY m.port) FILTER (m.port IS NOT NULL) AS management
        FROM exposed e
        LEFT JOIN ports p ON p.rid = e.rid
        LEFT JOIN (SELECT unnest($management) AS port) m ON m.port BETWEEN p.low AND p.high
        GROUP BY e.rid
    )
    SELECT regexp_extract(e.policy_id, '[^/]+$') AS policy, e.collection_name AS collection, e.rule_name AS rule,
           e.action, array_to_string(e.source_addresses, ', ') AS sources,
           array_to_string(e.destination_ports, ', ') AS ports,
           CASE WHEN coalesce(j.any_port, false) THEN 'every port'
                WHEN len(coalesce(j.management, [])) > 0
                    THEN 'management port ' || array_to_string(list_transform(j.management, lambda x: CAST(x AS VARCHAR)), ', ')
                ELSE 'internet-facing service' END AS exposure,
           coalesce(j.any_port, false) OR len(coalesce(j.management, [])) > 0 AS dangerous,
           e.description
    FROM exposed e JOIN judged j USING (rid)
"""


def inbound_exposure(context: CheckContext) -> CheckResult:
    check = Check.FIREWALL_INBOUND_EXPOSURE
    with context.views(rules=EvidenceSource.AZURE_FIREWALL_RULES) as v:
        params = {"any_source": list(ANY_SOURCE), "management": list(MANAGEMENT_PORTS)}
        rules, exposed, dangerous = v.one(
            f"SELECT (SELECT count(*) FROM rules WHERE rule_name IS NOT NULL), count(*), count(*) FILTER (dangerous) FROM ({EXPOSED})",
            params,
        )
        measures = (
            Measure("rules admitting any source", exposed, rules),
            Measure("rules admitting any source to every port or a management port", dangerous),
        )
        if not exposed:
            return CheckResult(
                check, Status.PASS, f"none of {rules:,} rules admits traffic from any source", measures, None, v.entries
            )
        found = v.items(
            "rules admitting traffic from any source",
            f"SELECT * EXCLUDE (dangerous) FROM ({EXPOSED})",
            "exposure = 'internet-facing service', policy, collection, rule",
            params,
        )
        if dangerous:
            summary = f"{dangerous:,} of {rules:,} rules admit any source to every port or a management port"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        summary = f"{exposed:,} of {rules:,} rules admit any source to a service; each needs a documented business need"
        return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)
