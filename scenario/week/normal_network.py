"""A council's ordinary network traffic: the Azure Firewall in the hub, and the area office's FortiGate.

Ordinary means: client devices reaching the council's servers on the ports those servers
offer, servers asking Azure's resolver, people browsing Microsoft 365, government and supplier
sites, and a few denials of the kind every firewall logs (remote desktop to a server, a blocked
web category). No host ever touches more than a handful of ports on another, and no threat
intelligence ever fires.
"""

from __future__ import annotations

import random

import scenario.world.estate as estate
from scenario.week.events import Flow, Session
from scenario.week.timeline import Window, draw_times
from scenario.world.draws import Weighted, rng_for
from scenario.world.tenant import Tenant

NETWORK, APPLICATION = "AZFWNetworkRule", "AZFWApplicationRule"
RCG_INTERNAL, RCG_EGRESS = "rcg-wbdc-internal", "rcg-wbdc-egress"

#: (fqdn, web category) the web-filtering policy denies; reserved names (RFC 2606), never real sites.
DENIED_WEB = (
    ("freegames.example", "Games"),
    ("bet-now.example", "Gambling"),
    ("proxy-unblock.example", "AnonymizersAndProxies"),
)
_FORTINET_SERVICES = {
    443: "HTTPS",
    80: "HTTP",
    53: "DNS",
    445: "SMB",
    88: "KERBEROS",
    389: "LDAP",
    636: "LDAPS",
    1433: "MS-SQL",
    8443: "tcp/8443",
    9100: "tcp/9100",
    3389: "RDP",
}


class NormalNetwork:
    def __init__(self, tenant: Tenant, window: Window, seed: int):
        self.window = window
        self.seed = seed
        hub_devices = [
            d
            for u in tenant.users
            for d in u.devices
            if d.kind in ("laptop", "desktop") and d.site is not estate.AREA_OFFICE
        ]
        self.hub_clients = [d.internal_ip for d in hub_devices]
        self.area_clients = [
            d.internal_ip
            for u in tenant.users
            for d in u.devices
            if d.kind in ("laptop", "desktop") and d.site is estate.AREA_OFFICE
        ]
        self.servers = Weighted(estate.SERVERS, estate.SERVER_WEIGHTS)
        self.web = Weighted(estate.WEB_DESTINATIONS, estate.WEB_WEIGHTS)

    # --- Azure Firewall (resource-specific AZFW* categories) ------------------------------

    def firewall_day(self, day: int, count: int) -> list[Flow]:
        rng = rng_for(self.seed, f"normal-firewall-{day}")
        rand = rng.random
        out = []
        for ms in draw_times(rng, self.window, day, count):
            r = rand()
            if r < 0.55:
                out.append(self._client_to_server(rng, ms))
            elif r < 0.63:
                server = self.servers.pick(rng)
                out.append(
                    Flow(
                        ms,
                        NETWORK,
                        "Allow",
                        "UDP",
                        server.ip,
                        _port(rng),
                        estate.AZURE_DNS,
                        53,
                        "Allow-AzureDNS",
                        "rc-platform",
                        RCG_INTERNAL,
                    )
                )
            else:
                out.append(self._web(rng, ms, rng.choice(self.hub_clients)))
        return out

    def _client_to_server(self, rng: random.Random, ms: int) -> Flow:
        src = rng.choice(self.hub_clients)
        server = self.servers.pick(rng)
        if rng.random() < 0.03:
            # Someone trying remote desktop to a server they are not allowed to manage.
            return Flow(
                ms, NETWORK, "Deny", "TCP", src, _port(rng), server.ip, 3389, "", "", "", action_reason="Default Action"
            )
        protocol, port = rng.choice(server.ports)
        return Flow(
            ms,
            NETWORK,
            "Allow",
            protocol,
            src,
            _port(rng),
            server.ip,
            port,
            f"Allow-Clients-{server.name}",
            "rc-clients-to-servers",
            RCG_INTERNAL,
        )

    def _web(self, rng: random.Random, ms: int, src: str) -> Flow:
        if rng.random() < 0.04:
            fqdn, category = rng.choice(DENIED_WEB)
            return Flow(
                ms,
                APPLICATION,
                "Deny",
                "HTTPS",
                src,
                _port(rng),
                "",
                443,
                "Deny-Web-Categories",
                "rc-web-filtering",
                RCG_EGRESS,
                fqdn=fqdn,
                web_category=category,
            )
        dest = self.web.pick(rng)
        http = dest.fqdn.startswith("ctldl.")
        return Flow(
            ms,
            APPLICATION,
            "Allow",
            "HTTP" if http else "HTTPS",
            src,
            _port(rng),
            dest.ip,
            80 if http else 443,
            "Allow-Business-Web",
            "rc-web-allow",
            RCG_EGRESS,
            fqdn=dest.fqdn,
            url=f"{dest.fqdn}/msdownload/update/v3/static/trustedr/en/authrootstl.cab" if http else "",
            web_category=dest.category,
        )

    # --- the disaster-recovery firewall, still on the legacy AzureDiagnostics categories -----

    def legacy_firewall_day(self, day: int, count: int) -> list[Flow]:
        rng = rng_for(self.seed, f"normal-legacy-firewall-{day}")
        out = []
        for ms in draw_times(rng, self.window, day, count):
            src = f"10.30.{rng.randrange(1, 4)}.{rng.randrange(4, 60)}"  # DR replicas and jump hosts
            if rng.random() < 0.7:
                server = self.servers.pick(rng)
                protocol, port = rng.choice(server.ports)
                action = "Deny" if rng.random() < 0.05 else "Allow"
                out.append(
                    Flow(
                        ms,
                        NETWORK,
                        action,
                        protocol,
                        src,
                        _port(rng),
                        server.ip,
                        port,
                        "Allow-DR-Replication" if action == "Allow" else "",
                        "rc-dr-replication" if action == "Allow" else "",
                        "",
                    )
                )
            else:
                out.append(self._web(rng, ms, src))
        return out

    # --- the Thatcham area office's FortiGate ------------------------------------------------

    def fortigate_day(self, day: int, count: int, first_session: int) -> list[Session]:
        rng = rng_for(self.seed, f"normal-fortigate-{day}")
        out = []
        for i, ms in enumerate(draw_times(rng, self.window, day, count)):
            src = rng.choice(self.area_clients)
            r = rng.random()
            sid = first_session + i
            if r < 0.6:
                dest = self.web.pick(rng)
                sent = rng.randrange(800, 40_000)
                out.append(
                    Session(
                        ms,
                        sid,
                        src,
                        _port(rng),
                        dest.ip,
                        443,
                        6,
                        "HTTPS",
                        "close",
                        3,
                        dest.fortigate_country,
                        "wan1",
                        rng.randrange(1, 600),
                        sent,
                        sent * rng.randrange(2, 30),
                        "HTTPS.BROWSER",
                        "Web.Client",
                    )
                )
            elif r < 0.9:
                server = self.servers.pick(rng)
                protocol, port = rng.choice(server.ports)
                proto = 6 if protocol == "TCP" else 17
                out.append(
                    Session(
                        ms,
                        sid,
                        src,
                        _port(rng),
                        server.ip,
                        port,
                        proto,
                        _FORTINET_SERVICES.get(port, f"tcp/{port}"),
                        "close" if proto == 6 else "accept",
                        5,
                        "Reserved",
                        "to-azure-hub",
                        rng.randrange(1, 900),
                        rng.randrange(300, 20_000),
                        rng.randrange(300, 200_000),
                        "",
                        "",
                    )
                )
            elif r < 0.97:
                out.append(
                    Session(
                        ms,
                        sid,
                        src,
                        _port(rng),
                        "10.23.0.1",
                        53,
                        17,
                        "DNS",
                        "accept",
                        2,
                        "Reserved",
                        "internal",
                        0,
                        rng.randrange(60, 120),
                        rng.randrange(90, 400),
                        "DNS",
                        "Network.Service",
                    )
                )
            else:
                # QUIC is blocked so that web filtering sees the traffic: the implicit deny (policy 0).
                dest = self.web.pick(rng)
                out.append(
                    Session(
                        ms,
                        sid,
                        src,
                        _port(rng),
                        dest.ip,
                        443,
                        17,
                        "udp/443",
                        "deny",
                        0,
                        dest.fortigate_country,
                        "wan1",
                        0,
                        0,
                        0,
                        "",
                        "",
                    )
                )
        return out


def _port(rng: random.Random) -> int:
    return rng.randrange(49152, 65536)
