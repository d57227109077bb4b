"""The device evidence of one week: Defender machines and their antivirus health, Intune
compliance, and software past or near its end of support. One row per device (or per device and
product), a few thousand at most."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ..estate.fleet import Device, Fleet
from ..estate.plan import rng
from .schemas import ANTIVIRUS, INTUNE, MACHINES, SCHEMAS, SOFTWARE_EOL

#: (osPlatform, version, build) per kind: the council moved to Windows 11 24H2; servers run 2022.
WINDOWS_11 = ("Windows11", "24H2", 26100)
WINDOWS_10 = ("Windows10", "22H2", 19045)
SERVER = ("WindowsServer2022", "21H2", 20348)
INTUNE_OS = {"laptop": "Windows", "desktop": "Windows", "phone": "Android", "tablet": "iOS"}
INTUNE_VERSION = {"Windows": "10.0.26100.2605", "Android": "14", "iOS": "17.5.1"}

SIGNATURE, ENGINE, PLATFORM = "1.421.{}.0", "1.1.24090.11", "4.18.24090.11"


def os_of(device: Device, week: int) -> tuple[str, str, int]:
    if device.name == LEGACY_SERVER:
        return ("WindowsServer2012R2", "6.3", 9600)
    if device.kind == "server":
        return SERVER
    return WINDOWS_10 if week < device.gaps.windows10_until else WINDOWS_11


def machines(fleet: Fleet, seed: int, week: int, taken_at: datetime) -> pa.Table:
    draw = rng(seed, f"machines-{week}")
    rows = []
    for device in fleet.onboarded():
        silent = week < device.gaps.sensor_silent_until
        platform, version, build = os_of(device, week)
        rows.append(
            {
                "id": device.machine_id,
                "computer_dns_name": device.dns_name,
                "aad_device_id": device.aad_device_id,
                "first_seen": device.enrolled_at,
                "last_seen": taken_at - timedelta(days=draw.uniform(9, 40) if silent else draw.uniform(0.01, 1)),
                "os_platform": platform,
                "os_version": version,
                "os_build": build,
                "health_status": "Inactive" if silent else "Active",
                "onboarding_status": "Onboarded",
                "defender_av_status": "Updated",
                "risk_score": "Low",
                "exposure_level": "Medium",
                "device_value": "High" if device.kind == "server" else "Normal",
                "rbac_group_name": "Servers" if device.kind == "server" else "Council clients",
                "machine_tags": [device.department],
                "is_aad_joined": device.kind != "server",
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[MACHINES])


def antivirus(fleet: Fleet, seed: int, week: int, taken_at: datetime) -> pa.Table:
    draw = rng(seed, f"antivirus-{week}")
    current = 9000 + 7 * week  # Defender ships several signature builds a day
    rows = []
    for device in fleet.onboarded():
        stale = week < device.gaps.av_stale_until
        updated = taken_at - timedelta(days=draw.uniform(12, 30) if stale else draw.uniform(0.05, 0.9))
        rows.append(
            {
                "machine_id": device.machine_id,
                "computer_dns_name": device.dns_name,
                "os_platform": os_of(device, week)[0],
                "av_mode": "0",
                "signature_version": SIGNATURE.format(current - (60 if stale else 0)),
                "engine_version": ENGINE,
                "platform_version": PLATFORM,
                "signature_up_to_date": not stale,
                "engine_up_to_date": True,
                "platform_up_to_date": True,
                "signature_published_at": updated - timedelta(hours=2),
                "signature_updated_at": updated,
                "quick_scan_result": "Completed",
                "quick_scan_at": taken_at - timedelta(days=draw.uniform(0.1, 2)),
                "full_scan_result": None,
                "last_seen": updated,
                "data_refreshed_at": taken_at - timedelta(hours=4),
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[ANTIVIRUS])


def intune(fleet: Fleet, seed: int, week: int, taken_at: datetime) -> pa.Table:
    draw = rng(seed, f"intune-{week}")
    rows = []
    for device in fleet.devices:
        if not device.managed:
            continue
        system = INTUNE_OS[device.kind]
        noncompliant = week < device.gaps.noncompliant_until
        rows.append(
            {
                "id": device.aad_device_id[::-1],  # Intune's own id, stable per device
                "device_name": device.name,
                "user_principal_name": device.owner,
                "azure_ad_device_id": device.aad_device_id,
                "operating_system": system,
                "os_version": "10.0.19045.5011" if os_of(device, week) == WINDOWS_10 else INTUNE_VERSION[system],
                "compliance_state": "noncompliant" if noncompliant else "compliant",
                "owner_type": "company",
                "management_agent": "mdm",
                "is_encrypted": not noncompliant,
                "jail_broken": "False" if system != "Windows" else "Unknown",
                "enrolled_at": device.enrolled_at,
                "last_sync_at": taken_at - timedelta(hours=draw.uniform(0.5, 30)),
                "grace_period_expires_at": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[INTUNE])


#: Products past or near end of support: (vendor, name, version, status, end of support).
WINDOWS_10_EOS = ("microsoft", "windows_10", "10.0.19045", "Upcoming EOS Version", datetime(2025, 10, 14, tzinfo=UTC))
OFFICE_2013 = ("microsoft", "office", "15.0.5589", "EOS Version", datetime(2023, 4, 11, tzinfo=UTC))
SERVER_2012 = ("microsoft", "windows_server_2012_r2", "6.3.9600", "EOS Version", datetime(2023, 10, 10, tzinfo=UTC))
#: The print server still runs Server 2012 R2 (its driver is not made for anything newer).
LEGACY_SERVER = "WBDC-PRT-01"


def software_eol(fleet: Fleet, seed: int, week: int, taken_at: datetime) -> pa.Table:
    """Windows 10 where it is left (its end of support a fixed date: past or near depends on the
    moment judged), Office 2013 on a few of those, and the print server's Windows Server 2012 R2."""
    rows = []
    for index, device in enumerate(fleet.onboarded()):
        products = []
        if os_of(device, week) == WINDOWS_10:
            products.append(WINDOWS_10_EOS)
            if index % 3 == 0:
                products.append(OFFICE_2013)
        if device.name == LEGACY_SERVER:
            products.append(SERVER_2012)
        for vendor, name, version, status, ends in products:
            past = ends <= taken_at
            rows.append(
                {
                    "device_id": device.machine_id,
                    "device_name": device.dns_name,
                    "os_platform": os_of(device, week)[0],
                    "software_vendor": vendor,
                    "software_name": name,
                    "software_version": version,
                    "end_of_support_status": "EOS Version" if past else status,
                    "end_of_support_date": ends,
                    "number_of_weaknesses": 12 if past else 3,
                    "first_seen": device.enrolled_at,
                }
            )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[SOFTWARE_EOL])
