"""The attack stories woven into the council's week, each at a fixed time and of a fixed size.

Their particulars (addresses, people, the laptop) do not depend on the seed, so the alerts
they must raise are written down once, beside this module, in expected_alerts.yaml. Only who
the password spray happens to try is drawn from the seed.

  Tue 02:13  password spray from Moscow: one address, 42 people, bad password each (50126)
  Wed 08:47  Gareth Llewellyn signs in at the Civic Centre; 09:21 the same account from Lagos
  Wed 19:05  Derek Ashworth's old mail apps: IMAP4, POP3, Authenticated SMTP, Exchange ActiveSync
  Thu 13:44  Karen Doyle's laptop WBDC-LT-0421 reaches a command-and-control address; from 13:51
             the firewall's threat intelligence denies it; 13:52 Defender raises high-severity malware
  Thu 15:20  the same laptop scans the file server: 260 ports in under four minutes
  Fri 07:58  MFA fatigue: ten pushes to Hannah Whitfield declined, the eleventh approved
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

import scenario.world.estate as estate
from scenario.manifest import StoryFacts
from scenario.week.events import Flow, SignIn
from scenario.week.timeline import Window
from scenario.world.draws import guid, rng_for
from scenario.world.places import LAGOS, LONDON, MOSCOW, Place
from scenario.world.tenant import Tenant, User
from scenario.world.vocabulary import (
    APPS,
    CA_BLOCK_LEGACY,
    CA_COMPLIANT_DEVICE,
    CA_REQUIRE_MFA,
    DESKTOP_AND_MOBILE,
    EXCHANGE,
    INVALID_PASSWORD,
    MFA_DENIED,
    SUCCESS,
    SUCCESS_MFA,
    UA_ACTIVESYNC,
    UA_ATTACKER_CHROME,
    UA_SPRAY_TOOL,
    App,
    Result,
)
from store.epoch import from_micros

SPRAY_IP = "203.0.113.45"
SPRAY_TARGETS = 42
COMPROMISED_IP = "203.0.113.99"
FATIGUE_IP = "192.0.2.250"  # a residential proxy in London: the attacker hides in the victim's country
FATIGUE_DENIALS = 10
BAD_IP = "203.0.113.66"
SCAN_PORTS = 260
INFECTED_DEVICE_DNS = "wbdc-lt-0421"
MALWARE_ALERT_ID = "da638853115200000000_-1420117325"

_APP = {a.name: a for a in APPS if not a.mobile}
EXCHANGE_APP = App(EXCHANGE[0], EXCHANGE[1], EXCHANGE, DESKTOP_AND_MOBILE, 1.0)


def _unknown_device(os_name: str, browser: str) -> dict:
    """deviceDetail of a device Entra ID does not know: no id, no compliance, no trust."""
    return {
        "deviceId": "",
        "displayName": None,
        "operatingSystem": os_name,
        "browser": browser,
        "isCompliant": None,
        "isManaged": None,
        "trustType": None,
    }


ATTACKER_BROWSER = _unknown_device("Windows10", "Chrome 124.0.0")
SPRAY_CLIENT = _unknown_device("", "Python Requests 2.31")
MAIL_CLIENT = _unknown_device("", "")
ACTIVESYNC_PHONE = _unknown_device("Android", "")


@dataclass
class Stories:
    signins: list[SignIn]
    flows: list[Flow]
    facts: StoryFacts


def build_stories(tenant: Tenant, window: Window, seed: int) -> Stories:
    rng = rng_for(seed, "stories")
    signins: list[SignIn] = []
    flows: list[Flow] = []

    spray_users, spray_at = _password_spray(rng, tenant, window, signins)
    compromised_at = _compromised_account(rng, tenant.cast["compromised"], window, signins)
    legacy_clients, legacy_at = _legacy_protocols(rng, tenant.cast["legacy"], window, signins)
    fatigue_at = _mfa_fatigue(rng, tenant.cast["mfa_fatigue"], window, signins)
    laptop = tenant.cast["malware"].primary
    bad_ip_at = _command_and_control(rng, laptop.internal_ip, window, flows)
    scan_at = _port_scan(rng, laptop.internal_ip, window, flows)

    def utc(ms: int) -> datetime:
        return from_micros(ms * 1000)

    facts = StoryFacts(
        spray_ip=SPRAY_IP,
        spray_country=MOSCOW.country,
        spray_users=tuple(spray_users),
        spray_at=utc(spray_at),
        fatigue_user=tenant.cast["mfa_fatigue"].upn,
        fatigue_ip=FATIGUE_IP,
        fatigue_denials=FATIGUE_DENIALS,
        fatigue_at=utc(fatigue_at),
        compromised_user=tenant.cast["compromised"].upn,
        compromised_ip=COMPROMISED_IP,
        compromised_countries=("GB", LAGOS.country),
        compromised_at=utc(compromised_at),
        legacy_user=tenant.cast["legacy"].upn,
        legacy_clients=legacy_clients,
        legacy_at=utc(legacy_at),
        infected_device=INFECTED_DEVICE_DNS,
        infected_device_ip=laptop.internal_ip,
        infected_user=tenant.cast["malware"].upn,
        malware_alert_id=MALWARE_ALERT_ID,
        malware_at=utc(malware_time(window)),
        scanning_host=laptop.internal_ip,
        scan_target=estate.FILE_SERVER.ip,
        scan_ports=SCAN_PORTS,
        scan_at=utc(scan_at),
        bad_ip=BAD_IP,
        bad_ip_at=utc(bad_ip_at),
        phishing_simulation_id="",  # filled in by the awareness campaign
    )
    return Stories(signins=signins, flows=flows, facts=facts)


def malware_time(window: Window) -> int:
    """When Defender raises the malware alert (Thursday 13:52 UK time)."""
    return window.at(3, 13, 52, 14)


def _signin(
    rng: random.Random,
    user: User,
    ms: int,
    app: App,
    ip: str,
    place: Place,
    device: dict,
    result: Result,
    *,
    client_app: str | None = None,
    user_agent: str,
    mfa: bool,
    named_location: str | None = None,
    ca: tuple = (),
    risk: str = "none",
) -> SignIn:
    return SignIn(
        ms=ms,
        id=guid(rng),
        correlation_id=guid(rng),
        user=user,
        app_id=app.app_id,
        app_name=app.name,
        resource=app.resource,
        ip=ip,
        place=place,
        device_detail=device,
        client_app=client_app or app.client_app,
        result=result,
        interactive=True,
        mfa=mfa,
        named_location=named_location,
        ca_results=ca,
        user_agent=user_agent,
        risk=risk,
    )


def _password_spray(rng, tenant: Tenant, window: Window, out: list[SignIn]) -> tuple[list[str], int]:
    """One address in Moscow tries one password against 42 people in about 20 minutes."""
    cast = {u.upn for u in tenant.cast.values()}
    targets = rng.sample([u for u in tenant.users if u.upn not in cast], SPRAY_TARGETS)
    start = window.at(1, 2, 13, 5)
    ms = start
    for user in targets:
        out.append(
            _signin(
                rng,
                user,
                ms,
                _APP["Microsoft Office"],
                SPRAY_IP,
                MOSCOW,
                SPRAY_CLIENT,
                INVALID_PASSWORD,
                user_agent=UA_SPRAY_TOOL,
                mfa=False,
            )
        )
        ms += rng.randrange(22_000, 36_000)
    return [u.upn for u in targets], start


def _compromised_account(rng, user: User, window: Window, out: list[SignIn]) -> int:
    """A normal morning at the Civic Centre, then the same account, phished, used from Lagos."""
    laptop = user.primary
    site = laptop.site
    office_ca = ((CA_REQUIRE_MFA, "success"), (CA_COMPLIANT_DEVICE, "success"), (CA_BLOCK_LEGACY, "notApplied"))
    out.append(
        _signin(
            rng,
            user,
            window.at(2, 8, 47, 12),
            _APP["Windows Sign In"],
            site.egress_ip,
            site.place,
            laptop.detail_client,
            SUCCESS_MFA,
            user_agent=laptop.client_ua,
            mfa=True,
            named_location=site.named_location,
            ca=office_ca,
        )
    )
    # The stolen session cookie carries the MFA claim, so Entra ID lets it through (that is the trick).
    foreign_ca = ((CA_REQUIRE_MFA, "success"), (CA_COMPLIANT_DEVICE, "notApplied"), (CA_BLOCK_LEGACY, "notApplied"))
    first = window.at(2, 9, 21, 40)
    for offset_s, app in ((0, "OfficeHome"), (95, "One Outlook Web"), (610, "Office 365 SharePoint Online")):
        out.append(
            _signin(
                rng,
                user,
                first + offset_s * 1000,
                _APP[app],
                COMPROMISED_IP,
                LAGOS,
                ATTACKER_BROWSER,
                SUCCESS_MFA,
                user_agent=UA_ATTACKER_CHROME,
                mfa=True,
                ca=foreign_ca,
                risk="medium",
            )
        )
    return first


def _legacy_protocols(rng, user: User, window: Window, out: list[SignIn]) -> tuple[tuple[str, ...], int]:
    """An old mail client at home and a personal phone, on protocols that cannot do MFA.

    CA003 (block legacy authentication) is still in report-only mode, so they succeed.
    """
    ca = ((CA_REQUIRE_MFA, "notApplied"), (CA_COMPLIANT_DEVICE, "notApplied"), (CA_BLOCK_LEGACY, "reportOnlyFailure"))
    plan = (
        [("IMAP4", MAIL_CLIENT, "")] * 4
        + [("POP3", MAIL_CLIENT, "")] * 2
        + [("Authenticated SMTP", MAIL_CLIENT, "")] * 3
        + [("Exchange ActiveSync", ACTIVESYNC_PHONE, UA_ACTIVESYNC)] * 3
    )
    start = window.at(2, 19, 5, 33)
    ms = start
    for client, device, agent in plan:
        out.append(
            _signin(
                rng,
                user,
                ms,
                EXCHANGE_APP,
                user.home_ip,
                user.home,
                device,
                SUCCESS,
                client_app=client,
                user_agent=agent,
                mfa=False,
                ca=ca,
            )
        )
        ms += rng.randrange(6, 18) * 60_000
    return tuple(dict.fromkeys(c for c, _, _ in plan)), start


def _mfa_fatigue(rng, user: User, window: Window, out: list[SignIn]) -> int:
    """Ten push notifications declined within eight minutes, then the tired victim approves one."""
    denied_ca = ((CA_REQUIRE_MFA, "failure"), (CA_COMPLIANT_DEVICE, "notApplied"), (CA_BLOCK_LEGACY, "notApplied"))
    ok_ca = ((CA_REQUIRE_MFA, "success"), (CA_COMPLIANT_DEVICE, "notApplied"), (CA_BLOCK_LEGACY, "notApplied"))
    start = window.at(4, 7, 58, 9)
    ms = start
    for _ in range(FATIGUE_DENIALS):
        out.append(
            _signin(
                rng,
                user,
                ms,
                _APP["OfficeHome"],
                FATIGUE_IP,
                LONDON,
                ATTACKER_BROWSER,
                MFA_DENIED,
                user_agent=UA_ATTACKER_CHROME,
                mfa=True,
                ca=denied_ca,
            )
        )
        ms += rng.randrange(35_000, 55_000)
    approved = Result(0, None, "MFA completed in Azure AD")
    out.append(
        _signin(
            rng,
            user,
            ms + 20_000,
            _APP["OfficeHome"],
            FATIGUE_IP,
            LONDON,
            ATTACKER_BROWSER,
            approved,
            user_agent=UA_ATTACKER_CHROME,
            mfa=True,
            ca=ok_ca,
            risk="low",
        )
    )
    return start


def _command_and_control(rng, laptop_ip: str, window: Window, out: list[Flow]) -> int:
    """Two beacons get out before the threat-intelligence feed lists the address; then every one is denied."""
    first = window.at(3, 13, 44, 10)
    for offset_s in (0, 200):
        out.append(
            Flow(
                first + offset_s * 1000,
                "AZFWNetworkRule",
                "Allow",
                "TCP",
                laptop_ip,
                rng.randrange(49152, 65536),
                BAD_IP,
                443,
                "Allow-Client-Web-Egress",
                "rc-client-egress",
                "rcg-wbdc-egress",
            )
        )
    for offset_s in (415, 630, 845, 1060):
        out.append(
            Flow(
                first + offset_s * 1000,
                "AZFWThreatIntel",
                "Deny",
                "TCP",
                laptop_ip,
                rng.randrange(49152, 65536),
                BAD_IP,
                443,
                "",
                "",
                "",
                threat="Destination reported by Threat Intelligence",
            )
        )
    return first


def _port_scan(rng, laptop_ip: str, window: Window, out: list[Flow]) -> int:
    """The infected laptop sweeps the file server's ports; only SMB (445) is allowed through."""
    target = estate.FILE_SERVER
    ports = sorted(rng.sample([p for p in range(1, 10_000) if p != 445], SCAN_PORTS - 1) + [445])
    start = window.at(3, 15, 20, 2)
    ms = start
    for port in ports:
        if port == 445:
            out.append(
                Flow(
                    ms,
                    "AZFWNetworkRule",
                    "Allow",
                    "TCP",
                    laptop_ip,
                    rng.randrange(49152, 65536),
                    target.ip,
                    port,
                    f"Allow-Clients-{target.name}",
                    "rc-clients-to-servers",
                    "rcg-wbdc-internal",
                )
            )
        else:
            out.append(
                Flow(
                    ms,
                    "AZFWNetworkRule",
                    "Deny",
                    "TCP",
                    laptop_ip,
                    rng.randrange(49152, 65536),
                    target.ip,
                    port,
                    "",
                    "",
                    "",
                    action_reason="Default Action",
                )
            )
        ms += rng.randrange(500, 1_000)
    return start
