"""Whether each inbound Azure Firewall rule is documented (``firewall.inbound_rules_documented``).

An inbound rule is a DNAT rule, or a network rule allowing traffic from any source. It is
documented when its description names both a business need and an approval: an approval is
"approved by ..." or a change reference (``CAB-2291``, ``CHG0012345``, ``RFC-88``), and the need
is what the description says besides that reference. The convention is Cyberwell's, stated in
docs/compliance.md; the approval itself (the change record) is the requirement's attestation.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.network.firewall import ANY_SOURCE
from reports.checks.result import CheckResult, Measure, pass_unless
from reports.registry import Check, EvidenceSource

APPROVAL = r"(?i)(approved by [^;,.]+|\b(cab|chg|rfc|change)[- ]?[0-9]+)"

INBOUND = """
    SELECT regexp_extract(policy_id, '[^/]+$') AS policy, collection_name AS collection, rule_name AS rule,
           rule_type, coalesce(trim(description), '') AS description
    FROM rules
    WHERE rule_name IS NOT NULL
      AND ((rule_type = 'NatRule' AND upper(action) = 'DNAT')
           OR (rule_type = 'NetworkRule' AND lower(action) = 'allow'
               AND list_has_any(list_transform(coalesce(source_addresses, []), lambda s: lower(trim(s))), $any_source)))
"""

JUDGED = f"""
    SELECT *, regexp_matches(description, $approval) AS approved,
           length(trim(regexp_replace(regexp_replace(description, $approval, '', 'g'), '[^A-Za-z]+', ' ', 'g'))) >= 10
               AS needed
    FROM ({INBOUND})
"""


def inbound_rules_documented(context: CheckContext) -> CheckResult:
    check = Check.FIREWALL_RULES_DOCUMENTED
    with context.views(rules=EvidenceSource.AZURE_FIREWALL_RULES) as v:
        params = {"any_source": list(ANY_SOURCE), "approval": APPROVAL}
        inbound, documented = v.one(f"SELECT count(*), count(*) FILTER (approved AND needed) FROM ({JUDGED})", params)
        missing = v.items(
            "inbound rules without a documented need and approval",
            f"""SELECT policy, collection, rule, description,
                       concat_ws(' and ', CASE WHEN NOT needed THEN 'business need' END,
                                 CASE WHEN NOT approved THEN 'approval' END) AS missing
                FROM ({JUDGED}) WHERE NOT (approved AND needed)""",
            "policy, collection, rule",
            params,
        )
        measures = (Measure("inbound rules documenting their business need and approval", documented, inbound),)
        summary = f"{documented:,} of {inbound:,} inbound rules document their business need and approval"
        return pass_unless(check, summary, measures, missing, v.entries)
