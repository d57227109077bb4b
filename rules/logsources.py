"""Which stored datasets a Sigma rule's logsource searches.

A rule names its data by logsource (``product: azure, service: signinlogs``); events carry
``event.dataset``. This table is the one place that joins the two, for both stores and for the
field-mapping pipelines. A logsource missing here is one we hold no events for: compiling such a rule
fails with a reason instead of producing a search that can never find anything.
"""

from __future__ import annotations

from sigma.rule import SigmaLogSource

FIREWALL_DATASETS = ("azure.firewall", "fortinet.firewall", "panw.panos", "cef")

# The logsources Cyberwell has data for, as rules spell them (SigmaHQ's and our own).
SIGNINLOGS = SigmaLogSource(product="azure", service="signinlogs")
FIREWALL = SigmaLogSource(category="firewall")
AZURE_FIREWALL = SigmaLogSource(product="azure", service="firewall")
FORTIGATE = SigmaLogSource(product="fortigate")
FORTIGATE_EVENT = SigmaLogSource(product="fortigate", service="event")
M365_DEFENDER_ALERT = SigmaLogSource(product="m365_defender", service="alert")

_DATASETS: dict[tuple[str | None, str | None, str | None], tuple[str, ...]] = {
    (ls.category, ls.product, ls.service): datasets
    for ls, datasets in (
        (SIGNINLOGS, ("azure.signinlogs",)),
        (FIREWALL, FIREWALL_DATASETS),
        (AZURE_FIREWALL, ("azure.firewall",)),
        (FORTIGATE, ("fortinet.firewall",)),
        (FORTIGATE_EVENT, ("fortinet.firewall",)),
        (M365_DEFENDER_ALERT, ("m365_defender.alert",)),
    )
}


class UnsupportedLogsource(ValueError):
    """No stored dataset holds events for this logsource."""


def describe(logsource: SigmaLogSource) -> str:
    """``category=firewall product=fortigate`` — how errors name a logsource."""
    parts = [
        f"{name}={value}"
        for name, value in (
            ("category", logsource.category),
            ("product", logsource.product),
            ("service", logsource.service),
        )
        if value is not None
    ]
    return " ".join(parts) or "(empty logsource)"


def datasets_for(logsource: SigmaLogSource) -> list[str]:
    """The ``event.dataset`` values a rule with this logsource searches.

    Matching is exact on category, product and service, as the pipelines' logsource conditions
    are: a rule that narrows a logsource in a way we have not mapped (``category: firewall,
    product: paloalto``), or spells it differently (``product: Azure``), is refused rather than
    searched without its field mappings.
    """
    key = (logsource.category, logsource.product, logsource.service)
    try:
        return list(_DATASETS[key])
    except KeyError:
        raise UnsupportedLogsource(f"no stored dataset holds events for logsource {describe(logsource)}") from None
