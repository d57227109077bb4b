"""A local stand-in for the Microsoft APIs compliance evidence is read from: Graph (directory,
reports, Conditional Access, Intune, sign-ins), Defender for Endpoint and Azure Resource Manager.

Real HTTP servers on 127.0.0.1, one per API so each client is pointed at its own base URL, plus
the identity platform of :mod:`tests.support.graph_standin` (HTTPS token endpoint; tokens checked here).
Each answers with the documented response shapes:

* Graph v1.0: ``users`` (with ``signInActivity``), ``reports/authenticationMethods/
  userRegistrationDetails``, ``identity/conditionalAccess/policies``, ``directoryRoles`` and
  ``directoryRoles/{id}/members``, ``auditLogs/signIns`` (``$filter`` on ``createdDateTime``),
  ``deviceManagement/managedDevices``; ``$select`` projects, ``$top`` and ``$skiptoken`` page with
  ``@odata.nextLink`` (learn.microsoft.com/graph/api/...: user-list, authenticationmethodsroot-
  list-userregistrationdetails, conditionalaccessroot-list-policies, directoryrole-list,
  directoryrole-list-members, signin-list, intune-devices-manageddevice-list);
* Defender for Endpoint: ``api/machines`` and ``api/deviceavinfo`` (``$top``), the exports
  ``api/machines/SoftwareVulnerabilitiesByMachine`` and ``SoftwareInventoryByMachine``
  (``pageSize``), all paged with ``@odata.nextLink`` (MicrosoftDocs/defender-docs,
  defender-endpoint/api: get-machines, device-health-export-antivirus-health-report-api,
  get-assessment-software-vulnerabilities, get-assessment-software-inventory): note Defender's
  times without a zone (``2020-12-30 14:17:26``) and its ``"True"`` strings;
* Resource Manager: ``.../firewallPolicies/{name}/ruleCollectionGroups`` paged with ``nextLink``.

The Graph docs in ../shared/data hold sign-in samples only (used as they are, through
:func:`tests.support.graph_standin.sample_signins`); the other records are made here in the documented
shapes with invented values. Faults are scripted as in the Graph stand-in (``fault``): a 429 with
``Retry-After``, the 403s each API sends.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.graph_standin import (
    GraphStandIn,
    Request,
    _Handler,
    _IdentityHandler,
    _parse_time,
    _self_signed,
    _server,
    iso,
    make_signins,
)

DOMAIN = "council.example.gov.uk"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"
#: Defender's 403 for an app without the role the call needs.
DEFENDER_403 = "Forbidden"
ARM_403 = "AuthorizationFailed"

GRAPH_RESOURCES = {
    "users": "users",
    "reports/authenticationMethods/userRegistrationDetails": "registrations",
    "identity/conditionalAccess/policies": "policies",
    "directoryRoles": "roles",
    "auditLogs/signIns": "signins",
    "deviceManagement/managedDevices": "managed_devices",
}
DEFENDER_RESOURCES = {
    "api/machines": "machines",
    "api/deviceavinfo": "antivirus",
    "api/machines/SoftwareVulnerabilitiesByMachine": "vulnerabilities",
    "api/machines/SoftwareInventoryByMachine": "software",
}


@dataclass
class Estate:
    """The records each API serves, by collection."""

    users: list[dict] = field(default_factory=list)
    registrations: list[dict] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)
    members: dict[str, list[dict]] = field(default_factory=dict)  # role id -> members
    signins: list[dict] = field(default_factory=list)
    managed_devices: list[dict] = field(default_factory=list)
    machines: list[dict] = field(default_factory=list)
    antivirus: list[dict] = field(default_factory=list)
    vulnerabilities: list[dict] = field(default_factory=list)
    software: list[dict] = field(default_factory=list)
    rule_groups: dict[str, list[dict]] = field(default_factory=dict)  # policy id -> groups


class EvidenceStandIn(GraphStandIn):
    """Start with :meth:`start`; point the clients at ``graph_url``, ``defender_url``, ``arm_url``
    (and ``authority``, ``ca_bundle`` for sign-in)."""

    def __init__(self, page_limit: int = 1000, **kwargs):
        super().__init__(**kwargs)
        self.estate = Estate()
        self.page_limit = page_limit  # the most records a page holds, whatever the client asks

    def start(self) -> EvidenceStandIn:
        key_file = _self_signed(Path(self._dir.name), self.ca_bundle)
        identity = _server(self, _IdentityHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key_file)
        identity.socket = context.wrap_socket(identity.socket, server_side=True)
        apis = {kind: _server(self, _ApiHandler) for kind in ("graph", "defender", "arm")}
        for kind, server in apis.items():
            server.kind = kind
        self._servers = [identity, *apis.values()]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.authority = f"https://127.0.0.1:{identity.server_address[1]}"
        self.graph_url, self.defender_url, self.arm_url = (
            f"http://127.0.0.1:{apis[kind].server_address[1]}" for kind in ("graph", "defender", "arm")
        )
        return self

    def set(self, **collections: Any) -> None:
        """Replace collections of the estate (``users=[...]``, ``vulnerabilities=[...]``)."""
        with self.lock:
            for name, records in collections.items():
                setattr(self.estate, name, copy.deepcopy(records))

    def token_scopes(self) -> list[str]:
        with self.lock:
            return [r.get("scope", "") for r in self.tenant.token_requests]


class _ApiHandler(_Handler):
    """Graph, Defender or Resource Manager, by the server it is on."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        token = self.headers.get("Authorization", "").removeprefix("Bearer ") or None
        status = self._serve(url.path, query, token)
        with self.standin.lock:
            self.standin.tenant.requests.append(Request(time.time(), url.path, query, status, token))

    def _serve(self, path: str, query: dict, token: str | None) -> int:
        standin = self.standin
        with standin.lock:
            expiry = standin.tenant.tokens.get(token or "")
            valid = expiry is not None and expiry > time.time()
            fault = next((f for f in standin.tenant.faults if f.matches(path, query)), None) if valid else None
            if fault is not None:
                fault.times -= 1
        if not valid:
            self.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is invalid."}})
            return 401
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self.reply(fault.status, {"error": {"code": fault.code, "message": fault.message}}, headers)
            return fault.status
        items = self._collection(path, query)
        if items is None:
            self.reply(404, {"error": {"code": "ResourceNotFound", "message": f"no such collection: {path}"}})
            return 404
        self.reply(200, self._page(path, query, items))
        return 200

    def _collection(self, path: str, query: dict) -> list[dict] | None:
        kind, estate = self.server.kind, self.standin.estate
        resource = path.strip("/")
        with self.standin.lock:
            if kind == "graph":
                version, _, resource = resource.partition("/")
                if resource.startswith("directoryRoles/") and resource.endswith("/members"):
                    items = estate.members.get(resource.split("/")[1], [])
                elif resource in GRAPH_RESOURCES:
                    items = getattr(estate, GRAPH_RESOURCES[resource])
                else:
                    return None
            elif kind == "defender":
                if resource not in DEFENDER_RESOURCES:
                    return None
                items = getattr(estate, DEFENDER_RESOURCES[resource])
            else:
                if not resource.endswith("/ruleCollectionGroups") or "api-version" not in query:
                    return None
                items = estate.rule_groups.get("/" + resource.removesuffix("/ruleCollectionGroups"), [])
            items = copy.deepcopy(items)
        return _selected(_filtered(items, query.get("$filter", "")), query.get("$select"))

    def _page(self, path: str, query: dict, items: list[dict]) -> dict:
        arm = self.server.kind == "arm"
        token_name = "$skipToken" if arm else "$skiptoken"
        asked = int(query.get("$top") or query.get("pageSize") or query.get("pagesize") or self.standin.page_limit)
        size = max(1, min(asked, self.standin.page_limit))
        offset = int(base64.urlsafe_b64decode(query[token_name]).decode()) if token_name in query else 0
        base = {"graph": self.standin.graph_url, "defender": self.standin.defender_url, "arm": self.standin.arm_url}
        page: dict[str, Any] = {"value": items[offset : offset + size]}
        if not arm:
            page["@odata.context"] = f"{base[self.server.kind]}/$metadata"
        if offset + size < len(items):
            following = dict(query, **{token_name: base64.urlsafe_b64encode(str(offset + size).encode()).decode()})
            page["nextLink" if arm else "@odata.nextLink"] = f"{base[self.server.kind]}{path}?{urlencode(following)}"
        return page


def _filtered(items: list[dict], text: str) -> list[dict]:
    """Graph's ``createdDateTime ge <time>`` (the one filter the evidence jobs send)."""
    if not text:
        return items
    name, op, value = text.split(" ", 2)
    if op != "ge":
        raise ValueError(f"the stand-in does not filter with {text!r}")
    bound = _parse_time(value)
    return [i for i in items if _parse_time(i[name]) >= bound]


def _selected(items: list[dict], select: str | None) -> list[dict]:
    if not select:
        return items
    keep = set(select.split(",")) | {"id", "@odata.type"}
    return [{k: v for k, v in i.items() if k in keep} for i in items]


# -- an estate in the documented shapes ------------------------------------------------------------


def _id(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def _hex(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def _defender_time(moment: dt.datetime) -> str:
    """Defender's export times: no zone, a space for the T."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def make_users(count: int, now: dt.datetime, seed: str = "u") -> tuple[list[dict], list[dict]]:
    """``count`` users and their registration details: every 50th disabled, every 40th a guest,
    every 7th stale (last success 120 days ago), every 9th without MFA registered."""
    users, registrations = [], []
    for n in range(count):
        user_id = _id(f"{seed}-user-{n}")
        upn = f"user{n:05d}@{DOMAIN}"
        last = now - dt.timedelta(days=120 if n % 7 == 3 else 2, hours=n % 24)
        guest = n % 40 == 39
        users.append(
            {
                "id": user_id,
                "displayName": f"User {n}",
                "userPrincipalName": upn,
                "mail": upn,
                "accountEnabled": n % 50 != 49,
                "userType": "Guest" if guest else "Member",
                "createdDateTime": iso(now - dt.timedelta(days=400 + n % 300)).replace(".000000", ""),
                "onPremisesSyncEnabled": None,
                "assignedLicenses": [] if guest else [{"disabledPlans": [], "skuId": _id("sku-e3")}],
                "signInActivity": {
                    "lastSignInDateTime": iso(last),
                    "lastSignInRequestId": _id(f"{seed}-req-{n}"),
                    "lastNonInteractiveSignInDateTime": iso(last + dt.timedelta(hours=1)),
                    "lastNonInteractiveSignInRequestId": _id(f"{seed}-nireq-{n}"),
                    "lastSuccessfulSignInDateTime": iso(last),
                    "lastSuccessfulSignInRequestId": _id(f"{seed}-req-{n}"),
                },
            }
        )
        registered = n % 9 != 4
        registrations.append(
            {
                "id": user_id,
                "userPrincipalName": upn,
                "userDisplayName": f"User {n}",
                "userType": "guest" if guest else "member",
                "isAdmin": n < 3,
                "isSsprRegistered": registered,
                "isSsprEnabled": True,
                "isSsprCapable": registered,
                "isMfaRegistered": registered,
                "isMfaCapable": registered,
                "isPasswordlessCapable": False,
                "methodsRegistered": ["microsoftAuthenticatorPush", "softwareOneTimePasscode"] if registered else [],
                "isSystemPreferredAuthenticationMethodEnabled": True,
                "systemPreferredAuthenticationMethods": ["push"] if registered else [],
                "userPreferredMethodForSecondaryAuthentication": "push" if registered else "none",
                "lastUpdatedDateTime": iso(now - dt.timedelta(days=1)),
            }
        )
    return users, registrations


def make_policies(now: dt.datetime, break_glass: str) -> list[dict]:
    """Three Conditional Access policies: MFA for all (one break-glass exclusion), legacy
    authentication blocked, and one in report-only mode."""

    def policy(name: str, state: str, users: dict, apps: list[str], client_apps: list[str], controls: list[str]):
        return {
            "id": _id(f"policy-{name}"),
            "templateId": None,
            "displayName": name,
            "createdDateTime": iso(now - dt.timedelta(days=200)),
            "modifiedDateTime": iso(now - dt.timedelta(days=20)),
            "state": state,
            "sessionControls": None,
            "conditions": {
                "userRiskLevels": [],
                "signInRiskLevels": [],
                "clientAppTypes": client_apps,
                "platforms": None,
                "locations": None,
                "applications": {
                    "includeApplications": apps,
                    "excludeApplications": [],
                    "includeUserActions": [],
                    "includeAuthenticationContextClassReferences": [],
                },
                "users": {
                    "includeUsers": users.get("include", []),
                    "excludeUsers": users.get("exclude", []),
                    "includeGroups": [],
                    "excludeGroups": [],
                    "includeRoles": users.get("roles", []),
                    "excludeRoles": [],
                },
            },
            "grantControls": {
                "operator": "OR",
                "builtInControls": controls,
                "customAuthenticationFactors": [],
                "termsOfUse": [],
                "authenticationStrength": None,
            },
        }

    return [
        policy(
            "Require MFA for all users",
            "enabled",
            {"include": ["All"], "exclude": [break_glass]},
            ["All"],
            ["all"],
            ["mfa"],
        ),
        policy(
            "Block legacy authentication",
            "enabled",
            {"include": ["All"]},
            ["All"],
            ["exchangeActiveSync", "other"],
            ["block"],
        ),
        policy(
            "Admins: compliant device",
            "enabledForReportingButNotEnforced",
            {"roles": [GLOBAL_ADMIN]},
            ["All"],
            ["all"],
            ["compliantDevice"],
        ),
    ]


def make_roles(users: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """Global Administrator with the first two users, User Administrator with the third,
    Security Reader with nobody."""
    roles = [
        {
            "id": _id("role-ga"),
            "deletedDateTime": None,
            "description": "Can manage all aspects of Microsoft Entra ID.",
            "displayName": "Global Administrator",
            "roleTemplateId": GLOBAL_ADMIN,
        },
        {
            "id": _id("role-ua"),
            "deletedDateTime": None,
            "description": "Can manage all aspects of users and groups.",
            "displayName": "User Administrator",
            "roleTemplateId": USER_ADMIN,
        },
        {
            "id": _id("role-sr"),
            "deletedDateTime": None,
            "description": "Can read security information and reports.",
            "displayName": "Security Reader",
            "roleTemplateId": SECURITY_READER,
        },
    ]

    def member(user: dict) -> dict:
        return {
            "@odata.type": "#microsoft.graph.user",
            "id": user["id"],
            "displayName": user["displayName"],
            "userPrincipalName": user["userPrincipalName"],
        }

    members = {roles[0]["id"]: [member(u) for u in users[:2]], roles[1]["id"]: [member(users[2])], roles[2]["id"]: []}
    return roles, members


def make_devices(count: int, now: dt.datetime, seed: str = "d") -> dict[str, list[dict]]:
    """``count`` devices as Intune, Defender and its antivirus report see them: every 11th
    non-compliant, every 13th not reporting, every 17th with out-of-date signatures."""
    managed, machines, antivirus = [], [], []
    for n in range(count):
        name = f"pc{n:05d}"
        aad_id = _id(f"{seed}-aad-{n}")
        machine_id = _hex(f"{seed}-machine-{n}")
        managed.append(
            {
                "id": _id(f"{seed}-managed-{n}"),
                "userId": _id(f"u-user-{n}"),
                "deviceName": name.upper(),
                "managedDeviceOwnerType": "personal" if n % 23 == 22 else "company",
                "enrolledDateTime": iso(now - dt.timedelta(days=300)),
                "lastSyncDateTime": iso(now - dt.timedelta(hours=n % 48)),
                "operatingSystem": "Windows",
                "complianceState": "noncompliant" if n % 11 == 10 else "compliant",
                "jailBroken": "Unknown",
                "managementAgent": "mdm",
                "osVersion": "10.0.22631.3880",
                "easActivated": False,
                "azureADDeviceId": aad_id,
                "emailAddress": f"user{n:05d}@{DOMAIN}",
                "userPrincipalName": f"user{n:05d}@{DOMAIN}",
                "isEncrypted": True,
                "model": "Latitude 5440",
                "manufacturer": "Dell Inc.",
                "serialNumber": f"SN{n:07d}",
                "complianceGracePeriodExpirationDateTime": "9999-12-31T23:59:59Z",
                "deviceEnrollmentType": "windowsAzureADJoin",
            }
        )
        machines.append(
            {
                "id": machine_id,
                "computerDnsName": f"{name}.council.local",
                "firstSeen": iso(now - dt.timedelta(days=300)),
                "lastSeen": iso(now - dt.timedelta(days=30 if n % 13 == 12 else 0, hours=1)),
                "osPlatform": "Windows11",
                "version": "23H2",
                "osProcessor": "x64",
                "lastIpAddress": f"10.1.{n // 250}.{n % 250 + 1}",
                "lastExternalIpAddress": "203.0.113.10",
                "osBuild": 22631,
                "healthStatus": "Inactive" if n % 13 == 12 else "Active",
                "rbacGroupId": 140,
                "rbacGroupName": "Workstations",
                "riskScore": "Low",
                "exposureLevel": "Medium",
                "isAadJoined": True,
                "aadDeviceId": aad_id,
                "machineTags": ["council"],
                "onboardingStatus": "Onboarded",
                "defenderAvStatus": "Updated",
                "deviceValue": "Normal",
            }
        )
        stale = n % 17 == 16
        antivirus.append(
            {
                "id": _id(f"{seed}-av-{n}"),
                "machineId": machine_id,
                "computerDnsName": name,
                "osKind": "windows",
                "osPlatform": "Windows11",
                "osVersion": "10.0.22631.3880",
                "avMode": "0",
                "avSignatureVersion": "1.415.100.0" if stale else "1.421.50.0",
                "avEngineVersion": "1.1.24090.11",
                "avPlatformVersion": "4.18.24090.11",
                "lastSeenTime": iso(now - dt.timedelta(hours=2)).replace(".000000", ""),
                "quickScanResult": "Completed",
                "quickScanError": "",
                "quickScanTime": iso(now - dt.timedelta(hours=20)),
                "fullScanResult": "",
                "fullScanError": "",
                "fullScanTime": None,
                "dataRefreshTimestamp": iso(now - dt.timedelta(hours=1)),
                "avEngineUpdateTime": iso(now - dt.timedelta(days=3)),
                "avSignatureUpdateTime": iso(now - dt.timedelta(days=20 if stale else 0)),
                "avPlatformUpdateTime": iso(now - dt.timedelta(days=10)),
                "avIsSignatureUpToDate": "False" if stale else "True",
                "avIsEngineUpToDate": "True",
                "avIsPlatformUpToDate": "True",
                "avSignaturePublishTime": iso(now - dt.timedelta(days=20 if stale else 0)),
                "rbacGroupName": "Workstations",
                "rbacGroupId": 140,
            }
        )
    return {"managed_devices": managed, "machines": machines, "antivirus": antivirus}


def vulnerability(
    machine: dict, cve: str | None, severity: str | None, first_seen: dt.datetime, now: dt.datetime
) -> dict:
    """One row of the vulnerability export for ``machine`` (no CVE: installed software only)."""
    return {
        "id": f"{machine['id']}_chrome_120.0.6099.71_{cve or ''}",
        "deviceId": machine["id"],
        "rbacGroupName": "Workstations",
        "deviceName": machine["computerDnsName"],
        "osPlatform": "Windows11",
        "osVersion": "10.0.22631.3880",
        "osArchitecture": "x64",
        "softwareVendor": "google",
        "softwareName": "chrome",
        "softwareVersion": "120.0.6099.71",
        "cveId": cve,
        "cvssScore": {"Critical": 9.8, "High": 8.1, "Medium": 5.3}.get(severity or "", None),
        "vulnerabilitySeverityLevel": severity,
        "recommendedSecurityUpdate": "Update Chrome to 120.0.6099.129" if cve else None,
        "recommendedSecurityUpdateId": None,
        "recommendedSecurityUpdateUrl": None,
        "diskPaths": ["C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"],
        "registryPaths": [],
        "lastSeenTimestamp": _defender_time(now - dt.timedelta(hours=3)),
        "firstSeenTimestamp": _defender_time(first_seen),
        "exploitabilityLevel": "ExploitIsPublic" if severity == "Critical" else "NoExploit",
        "recommendationReference": "va-_-google-_-chrome",
        "securityUpdateAvailable": cve is not None,
    }


def software(machine: dict, name: str, version: str, status: str, end: str | None, now: dt.datetime) -> dict:
    """One row of the software inventory export for ``machine``."""
    return {
        "deviceId": machine["id"],
        "rbacGroupName": "Workstations",
        "deviceName": machine["computerDnsName"],
        "osPlatform": "Windows11",
        "softwareVendor": "microsoft",
        "softwareName": name,
        "softwareVersion": version,
        "numberOfWeaknesses": 4 if status != "None" else 0,
        "diskPaths": [],
        "registryPaths": [],
        "softwareFirstSeenTimestamp": _defender_time(now - dt.timedelta(days=90)),
        "endOfSupportStatus": status,
        "endOfSupportDate": end,
    }


def rule_collection_groups(policy_id: str) -> list[dict]:
    """Two rule collection groups of a firewall policy: DNAT for RDP (undocumented) and a
    network filter collection; an empty application collection."""
    base = f"{policy_id}/ruleCollectionGroups"
    return [
        {
            "name": "DefaultDnatRuleCollectionGroup",
            "id": f"{base}/DefaultDnatRuleCollectionGroup",
            "type": "Microsoft.Network/FirewallPolicies/RuleCollectionGroups",
            "etag": _id("etag-dnat"),
            "properties": {
                "provisioningState": "Succeeded",
                "priority": 100,
                "ruleCollections": [
                    {
                        "ruleCollectionType": "FirewallPolicyNatRuleCollection",
                        "name": "inbound-dnat",
                        "priority": 100,
                        "action": {"type": "DNAT"},
                        "rules": [
                            {
                                "ruleType": "NatRule",
                                "name": "rdp-to-jumpbox",
                                "ipProtocols": ["TCP"],
                                "sourceAddresses": ["*"],
                                "sourceIpGroups": [],
                                "destinationAddresses": ["198.51.100.7"],
                                "destinationPorts": ["3389"],
                                "translatedAddress": "10.0.2.4",
                                "translatedPort": "3389",
                            }
                        ],
                    }
                ],
            },
        },
        {
            "name": "DefaultNetworkRuleCollectionGroup",
            "id": f"{base}/DefaultNetworkRuleCollectionGroup",
            "type": "Microsoft.Network/FirewallPolicies/RuleCollectionGroups",
            "etag": _id("etag-net"),
            "properties": {
                "provisioningState": "Succeeded",
                "priority": 200,
                "ruleCollections": [
                    {
                        "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                        "name": "allow-dns",
                        "priority": 200,
                        "action": {"type": "Allow"},
                        "rules": [
                            {
                                "ruleType": "NetworkRule",
                                "name": "dns-out",
                                "description": "Outbound DNS to resolvers; need: name resolution; approved: J. Smith",
                                "ipProtocols": ["UDP"],
                                "sourceAddresses": ["10.0.0.0/16"],
                                "sourceIpGroups": [],
                                "destinationAddresses": ["10.0.0.4"],
                                "destinationIpGroups": [],
                                "destinationFqdns": [],
                                "destinationPorts": ["53"],
                            }
                        ],
                    },
                    {
                        "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                        "name": "apps-empty",
                        "priority": 300,
                        "action": {"type": "Allow"},
                        "rules": [],
                    },
                ],
            },
        },
    ]


def legacy_signins(samples: list[dict], count: int, start: dt.datetime, step: dt.timedelta) -> list[dict]:
    """Sign-ins from Microsoft's samples, every 4th over a legacy protocol."""
    made = make_signins(samples, count, start, step, seed="evidence")
    for n, record in enumerate(made):
        record["clientAppUsed"] = ("IMAP4", "Exchange ActiveSync")[n % 2] if n % 4 == 0 else "Browser"
    return made
