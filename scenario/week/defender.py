"""Defender's alerts as Graph security ``alert`` (v2) objects: the week's routine ones and the malware.

Routine alerts are informational or low (an EICAR test file, a potentially unwanted app,
post-delivery removal of a phishing mail, a user-reported mail, a blocked connection), so that
a high-severity malware alert on Karen Doyle's laptop is the only one worth waking anyone for.
Shapes follow microsoft-graph-docs-contrib's security-list-alerts_v2.md.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from scenario.manifest import StoryFacts
from scenario.week.timeline import HOUR_MS, MINUTE_MS, Window, draw_times, iso7
from scenario.world.draws import hex_digits, rng_for
from scenario.world.tenant import DOMAIN, TENANT_ID, Device, Tenant, User

MDE, MDO = "microsoftDefenderForEndpoint", "microsoftDefenderForOffice365"
PORTAL = "https://security.microsoft.com"
EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
#: Not a real sample's hash: the SHA-256 of a phrase, so nobody mistakes the demo for an indicator.
DEMO_MALWARE_SHA256 = hashlib.sha256(b"cyberwell demo scenario: not a real malware sample").hexdigest()


@dataclass(frozen=True)
class Routine:
    title: str
    category: str
    severity: str
    service: str
    detection: str
    mitre: tuple[str, ...]
    file: tuple[str, str] | None = None  # (file name, sha256)
    threat: str | None = None


ROUTINE: tuple[Routine, ...] = (
    Routine(
        "'EICAR_Test_File' malware was prevented",
        "Malware",
        "informational",
        MDE,
        "antivirus",
        (),
        ("eicar.com.txt", EICAR_SHA256),
        "EICAR_Test_File",
    ),
    Routine(
        "'Presenoker' unwanted software was prevented",
        "UnwantedSoftware",
        "low",
        MDE,
        "antivirus",
        (),
        ("FreePDFConverterSetup.exe", hashlib.sha256(b"cyberwell demo pua").hexdigest()),
        "Presenoker",
    ),
    Routine(
        "Email messages containing malicious URL removed after delivery",
        "InitialAccess",
        "informational",
        MDO,
        "microsoftDefenderForOffice365",
        ("T1566.002",),
    ),
    Routine(
        "Email reported by user as malware or phish",
        "InitialAccess",
        "informational",
        MDO,
        "microsoftDefenderForOffice365",
        ("T1566",),
    ),
    Routine(
        "Suspicious connection blocked by network protection",
        "CommandAndControl",
        "low",
        MDE,
        "microsoftDefenderForEndpoint",
        ("T1071",),
    ),
)
#: How many of each routine alert the week has.
ROUTINE_COUNTS = (2, 3, 3, 5, 2)


def alerts(tenant: Tenant, window: Window, seed: int, facts: StoryFacts, malware_ms: int) -> list[dict]:
    """The week's alerts, oldest first."""
    rng = rng_for(seed, "defender")
    out = []
    windows_users = [
        u
        for u in tenant.users
        if u.primary.kind in ("laptop", "desktop") and u.upn not in {c.upn for c in tenant.cast.values()}
    ]
    it_users = [u for u in windows_users if u.department.name == "IT"]
    for routine, count in zip(ROUTINE, ROUTINE_COUNTS, strict=True):
        for _ in range(count):
            day = rng.randrange(0, min(5, window.days))
            ms = draw_times(rng, window, day, 1)[0]
            user = rng.choice(it_users if routine.threat == "EICAR_Test_File" else windows_users)
            out.append(_routine_alert(rng, routine, user, ms))
    out.append(_malware_alert(rng, tenant.cast["malware"], facts, malware_ms))
    out.sort(key=lambda a: a["createdDateTime"])
    return out


def page(alerts_: list[dict]) -> dict:
    """One page of ``GET /security/alerts_v2``."""
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2", "value": alerts_}


def _alert_id(rng: random.Random, service: str) -> str:
    if service == MDE:
        return f"da{rng.randrange(10**17, 10**18)}_{-rng.randrange(10**9, 2 * 10**9)}"
    h = hex_digits(rng, 32)
    return f"fa{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _base(
    rng,
    *,
    alert_id,
    title,
    description,
    category,
    severity,
    service,
    detection,
    mitre,
    ms,
    first_ms,
    threat,
    evidence,
    incident,
) -> dict:
    created = iso7(ms)
    return {
        "@odata.type": "#microsoft.graph.security.alert",
        "id": alert_id,
        "providerAlertId": alert_id,
        "incidentId": str(incident),
        "status": "new",
        "severity": severity,
        "classification": None,
        "determination": None,
        "serviceSource": service,
        "detectionSource": detection,
        "detectorId": _detector(title),
        "tenantId": TENANT_ID,
        "title": title,
        "description": description,
        "recommendedActions": "",
        "category": category,
        "assignedTo": None,
        "alertWebUrl": f"{PORTAL}/alerts/{alert_id}?tid={TENANT_ID}",
        "incidentWebUrl": f"{PORTAL}/incidents/{incident}?tid={TENANT_ID}",
        "actorDisplayName": None,
        "threatDisplayName": threat,
        "threatFamilyName": threat,
        "mitreTechniques": list(mitre),
        "createdDateTime": created,
        "lastUpdateDateTime": iso7(ms + 5 * MINUTE_MS),
        "resolvedDateTime": None,
        "firstActivityDateTime": iso7(first_ms),
        "lastActivityDateTime": iso7(ms - MINUTE_MS),
        "comments": [],
        "evidence": evidence,
        "systemTags": [],
    }


def _detector(title: str) -> str:
    h = hashlib.sha256(title.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _routine_alert(rng: random.Random, r: Routine, user: User, ms: int) -> dict:
    alert_id = _alert_id(rng, r.service)
    evidence = []
    if r.service == MDE:
        evidence.append(_device_evidence(user.primary, user, ms, "informational"))
        if r.file:
            evidence.append(_file_evidence(r.file[0], r.file[1], user, user.primary, ms, "prevented"))
    evidence.append(_user_evidence(user, ms))
    return _base(
        rng,
        alert_id=alert_id,
        title=r.title,
        description=r.title + ".",
        category=r.category,
        severity=r.severity,
        service=r.service,
        detection=r.detection,
        mitre=r.mitre,
        ms=ms,
        first_ms=ms - 2 * MINUTE_MS,
        threat=r.threat,
        evidence=evidence,
        incident=rng.randrange(40_000, 41_000),
    )


def _malware_alert(rng: random.Random, user: User, facts: StoryFacts, ms: int) -> dict:
    laptop = user.primary
    evidence = [
        _device_evidence(laptop, user, ms, "high", dns_name=facts.infected_device, roles=["compromised"]),
        _file_evidence("Remittance_Advice_0612.pdf.exe", DEMO_MALWARE_SHA256, user, laptop, ms, "active"),
        _user_evidence(user, ms),
        {
            "@odata.type": "#microsoft.graph.security.ipEvidence",
            "createdDateTime": iso7(ms),
            "verdict": "malicious",
            "remediationStatus": "none",
            "remediationStatusDetails": None,
            "roles": ["destination"],
            "detailedRoles": [],
            "tags": [],
            "ipAddress": facts.bad_ip,
            "countryLetterCode": None,
        },
    ]
    description = (
        "Qakbot malware was detected on this device while it was running. The file arrived as an "
        "e-mail attachment disguised as a remittance advice and contacted a known command-and-control "
        "address. Isolate the device and reset the user's credentials."
    )
    return _base(
        rng,
        alert_id=facts.malware_alert_id,
        title="An active 'Qakbot' malware was detected",
        description=description,
        category="Malware",
        severity="high",
        service=MDE,
        detection="antivirus",
        mitre=("T1204.002", "T1071.001"),
        ms=ms,
        first_ms=ms - 8 * MINUTE_MS,
        threat="Qakbot",
        evidence=evidence,
        incident=41_337,
    )


def _device_evidence(
    device: Device, user: User, ms: int, risk: str, dns_name: str | None = None, roles: list | None = None
) -> dict:
    return {
        "@odata.type": "#microsoft.graph.security.deviceEvidence",
        "createdDateTime": iso7(ms),
        "verdict": "suspicious" if roles else "unknown",
        "remediationStatus": "none",
        "remediationStatusDetails": None,
        "firstSeenDateTime": iso7(ms - 200 * 24 * HOUR_MS),
        "mdeDeviceId": hashlib.sha1(device.device_id.encode()).hexdigest(),
        "azureAdDeviceId": device.device_id,
        "deviceDnsName": dns_name or device.name.lower(),
        "osPlatform": "Windows11",
        "osBuild": 22631,
        "version": "23H2",
        "healthStatus": "active",
        "riskScore": risk,
        "rbacGroupId": 12,
        "rbacGroupName": "WBDC Laptops",
        "onboardingStatus": "onboarded",
        "defenderAvStatus": "updated",
        "ipInterfaces": [device.internal_ip],
        "loggedOnUsers": [{"accountName": user.upn.split("@")[0], "domainName": DOMAIN.split(".")[0].upper()}],
        "roles": roles or [],
        "detailedRoles": [],
        "tags": [],
        "vmMetadata": None,
    }


def _file_evidence(name: str, sha256: str, user: User, device: Device, ms: int, status: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.security.fileEvidence",
        "createdDateTime": iso7(ms),
        "verdict": "malicious",
        "remediationStatus": "prevented" if status == "prevented" else "none",
        "remediationStatusDetails": None,
        "detectionStatus": "prevented" if status == "prevented" else "detected",
        "mdeDeviceId": hashlib.sha1(device.device_id.encode()).hexdigest(),
        "roles": [],
        "detailedRoles": ["Detected file"],
        "tags": [],
        "fileDetails": {
            "sha1": hashlib.sha1(sha256.encode()).hexdigest(),
            "sha256": sha256,
            "fileName": name,
            "filePath": f"C:\\Users\\{user.upn.split('@')[0]}\\Downloads",
            "fileSize": int(sha256[:5], 16) + 40_000,
            "filePublisher": None,
            "signer": None,
            "issuer": None,
        },
    }


def _user_evidence(user: User, ms: int) -> dict:
    return {
        "@odata.type": "#microsoft.graph.security.userEvidence",
        "createdDateTime": iso7(ms),
        "verdict": "unknown",
        "remediationStatus": "none",
        "remediationStatusDetails": None,
        "roles": [],
        "detailedRoles": [],
        "tags": [],
        "userAccount": {
            "accountName": user.upn.split("@")[0],
            "domainName": DOMAIN,
            "userSid": f"S-1-12-1-{int(user.user_id[:8], 16)}-{int(user.user_id[9:13], 16)}",
            "azureAdUserId": user.user_id,
            "userPrincipalName": user.upn,
            "displayName": user.display_name,
        },
    }
