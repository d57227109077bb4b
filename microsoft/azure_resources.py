"""Azure Resource Manager (``management.azure.com``), for the resources Cyberwell reads as
evidence: an Azure Firewall policy's rule collection groups.

Read with :class:`microsoft.rest_reader.RestReader`: Resource Manager pages with ``nextLink`` (not
``@odata.nextLink``) and throttles with 429 and ``Retry-After`` like the others. It authorises by
Azure role, not by application permission, so a 403 names the role to assign on the resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azure.core.credentials import TokenCredential

from microsoft.rest_reader import Need, RestEndpoint, RestReader

PUBLIC_ARM = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
NETWORK_API_VERSION = "2024-05-01"

RULE_COLLECTION_GROUPS = Need(
    "Azure Firewall policy rule collection groups",
    ("Reader (Microsoft.Network/firewallPolicies/ruleCollectionGroups/read) on the firewall policy",),
    kind="Azure role",
)


@dataclass(frozen=True)
class ArmEndpoint:
    """Where Resource Manager is and how patient to be with it."""

    base_url: str = PUBLIC_ARM
    scope: str = SCOPE
    api_version: str = NETWORK_API_VERSION
    max_retries: int = 4
    max_retry_wait: float = 120.0
    retry_delay: float = 5.0
    verify: str | bool = True

    def rest(self) -> RestEndpoint:
        return RestEndpoint(
            name="Azure Resource Manager",
            base_url=self.base_url,
            scope=self.scope,
            next_link="nextLink",
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
            retry_delay=self.retry_delay,
            verify=self.verify,
        )


def arm_reader(endpoint: ArmEndpoint, credential_factory: Callable[[], TokenCredential]) -> RestReader:
    """A reader for one snapshot run against Resource Manager."""
    return RestReader(endpoint.rest(), credential_factory)
