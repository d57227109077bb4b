"""The Microsoft Defender for Endpoint API (``api.securitycenter.microsoft.com``): where it is, the
token audience it wants, and what each collection Cyberwell reads needs.

There is no Python SDK for this API, so it is read with :class:`microsoft.rest_reader.RestReader`
(httpx and an azure-identity token). The regional hosts (``us.``, ``eu.``, ``uk.api.security.
microsoft.com``) answer the same paths with a token for the same scope, so ``base_url`` can point
at the one nearest the tenant's data. Every collection here pages with ``@odata.nextLink``; the
export APIs (``machines/SoftwareVulnerabilitiesByMachine``, ``SoftwareInventoryByMachine``) take a
``pageSize`` of up to 200,000 and are limited to 30 calls a minute, so a large page is kinder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azure.core.credentials import TokenCredential

from microsoft.rest_reader import Need, RestEndpoint, RestReader

PUBLIC_API = "https://api.securitycenter.microsoft.com"
SCOPE = "https://api.securitycenter.microsoft.com/.default"

#: The collections read as evidence, each with the application permission it needs.
MACHINES = Need("machines", ("Machine.Read.All",))
ANTIVIRUS_HEALTH = Need("device antivirus health", ("Machine.Read.All",))
VULNERABILITIES_BY_MACHINE = Need("software vulnerabilities by machine", ("Vulnerability.Read.All",))
SOFTWARE_BY_MACHINE = Need("software inventory by machine", ("Software.Read.All",))


@dataclass(frozen=True)
class DefenderEndpoint:
    """Where Defender for Endpoint is and how patient to be with it."""

    base_url: str = PUBLIC_API
    scope: str = SCOPE
    page_size: int = 10_000  # $top for machines and AV health (their maximum); exports take more
    export_page_size: int = 50_000  # pageSize for the export APIs (the documented default)
    max_retries: int = 4
    max_retry_wait: float = 120.0
    retry_delay: float = 5.0
    verify: str | bool = True

    def rest(self) -> RestEndpoint:
        return RestEndpoint(
            name="Defender for Endpoint",
            base_url=self.base_url,
            scope=self.scope,
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
            retry_delay=self.retry_delay,
            verify=self.verify,
        )


def defender_reader(endpoint: DefenderEndpoint, credential_factory: Callable[[], TokenCredential]) -> RestReader:
    """A reader for one snapshot run against Defender for Endpoint."""
    return RestReader(endpoint.rest(), credential_factory)
