"""The council's network: its sites, their address plans, the servers in Azure and the firewalls.

Internal addresses follow one plan (10.<site>.x.y for client devices, 10.10.x.y for the servers
in the Azure hub-and-spoke network behind the Azure Firewall) so a reader of the demo can tell
at a glance what kind of host an address is.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenario.world.places import GB_PLACES, Place


@dataclass(frozen=True)
class Site:
    name: str
    egress_ip: str  # the public address the site's traffic leaves from (documentation range)
    second_octet: int  # client devices at the site are 10.<second_octet>.x.y
    place: Place
    named_location: str  # the Conditional Access named location covering egress_ip


CIVIC_CENTRE = Site("Civic Centre", "198.51.100.10", 20, GB_PLACES[0], "WBDC Civic Centre")
DEPOT = Site("Hambridge Road Depot", "198.51.100.40", 21, GB_PLACES[0], "WBDC Depot")
LEISURE = Site("Northcroft Leisure Centre", "198.51.100.70", 22, GB_PLACES[0], "WBDC Leisure Centres")
AREA_OFFICE = Site("Thatcham Area Office", "198.51.100.100", 23, GB_PLACES[2], "WBDC Thatcham Area Office")


@dataclass(frozen=True)
class Server:
    name: str
    ip: str
    ports: tuple[tuple[str, int], ...]  # (protocol, port) the server offers to clients


SERVERS: tuple[Server, ...] = (
    Server("WBDC-DC-01", "10.10.1.4", (("TCP", 88), ("TCP", 389), ("UDP", 53), ("TCP", 445), ("TCP", 636))),
    Server("WBDC-DC-02", "10.10.1.5", (("TCP", 88), ("TCP", 389), ("UDP", 53), ("TCP", 445))),
    Server("WBDC-FS-01", "10.10.2.15", (("TCP", 445),)),
    Server("WBDC-SQL-01", "10.10.3.10", (("TCP", 1433),)),
    Server("WBDC-APP-REVS", "10.10.4.20", (("TCP", 443), ("TCP", 8443))),
    Server("WBDC-APP-PLAN", "10.10.4.30", (("TCP", 443),)),
    Server("WBDC-PRT-01", "10.10.5.5", (("TCP", 445), ("TCP", 9100))),
)
SERVER_WEIGHTS = (14, 6, 30, 3, 18, 10, 8)
FILE_SERVER = SERVERS[2]

#: Azure's own DNS resolver and NTP: every Azure network talks to them.
AZURE_DNS = "168.63.129.16"

FIREWALL_RESOURCE_ID = (
    "/SUBSCRIPTIONS/3C5A1E62-7D0B-4C55-9F1E-6A0C2F3B8D14/RESOURCEGROUPS/RG-WBDC-HUB-UKS"
    "/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/AFW-WBDC-HUB-UKS"
)
#: The disaster-recovery region's firewall still writes the legacy AzureDiagnostics categories.
LEGACY_FIREWALL_RESOURCE_ID = (
    "/SUBSCRIPTIONS/3C5A1E62-7D0B-4C55-9F1E-6A0C2F3B8D14/RESOURCEGROUPS/RG-WBDC-DR-UKW"
    "/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/AFW-WBDC-DR-UKW"
)
FIREWALL_POLICY = "afwp-wbdc-hub"

#: The FortiGate at the Thatcham area office, which sends syslog.
FORTIGATE_NAME = "WBDC-FGT-THA01"
FORTIGATE_SERIAL = "FG100FTK22004817"


@dataclass(frozen=True)
class WebDestination:
    fqdn: str
    ip: str
    category: str  # Azure Firewall's web category
    fortigate_country: str


#: Where council staff browse and sync to: Microsoft 365, government sites, suppliers.
WEB_DESTINATIONS: tuple[WebDestination, ...] = (
    WebDestination("outlook.office365.com", "52.97.146.162", "ComputersAndTechnology", "United Kingdom"),
    WebDestination("westbrookdc.sharepoint.com", "52.104.7.81", "ComputersAndTechnology", "United Kingdom"),
    WebDestination("teams.microsoft.com", "52.113.194.132", "ComputersAndTechnology", "United Kingdom"),
    WebDestination("login.microsoftonline.com", "20.190.151.70", "ComputersAndTechnology", "Ireland"),
    WebDestination("www.gov.uk", "151.101.0.144", "Government", "United Kingdom"),
    WebDestination("www.planningportal.co.uk", "104.18.22.54", "Government", "United Kingdom"),
    WebDestination("www.bbc.co.uk", "151.101.128.81", "NewsAndMedia", "United Kingdom"),
    WebDestination("update.microsoft.com", "13.107.4.50", "ComputersAndTechnology", "United States"),
    WebDestination("ctldl.windowsupdate.com", "93.184.221.240", "ComputersAndTechnology", "United States"),
    WebDestination("www.legislation.gov.uk", "151.101.64.144", "Government", "United Kingdom"),
    WebDestination("civicaportal.co.uk", "185.96.52.18", "Business", "United Kingdom"),
)
WEB_WEIGHTS = (25, 18, 15, 12, 8, 4, 4, 6, 3, 3, 2)


def client_ip(site: Site, number: int) -> str:
    """The fixed address a client device has at its site, derived from its asset number."""
    return f"10.{site.second_octet}.{10 + number // 200}.{20 + number % 200}"
