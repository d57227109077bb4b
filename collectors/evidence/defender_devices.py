"""Device evidence from the Defender for Endpoint API: machines and their onboarding and sensor
health, antivirus health, missing security updates with how long each has been open, and
software past or near its end of support.

Missing updates come from the vulnerability export (``machines/SoftwareVulnerabilitiesByMachine``):
one row per device, software and CVE, with the CVE's severity and CVSS score, whether a security
update exists and which, and ``firstSeenTimestamp``, when the exposure was first seen on that
device, from which the 14-day clock of Cyber Essentials is measured. Rows without a CVE (software
the export lists as installed but not vulnerable) are left out. End of support comes from the
software inventory export (``machines/SoftwareInventoryByMachine``): rows whose
``endOfSupportStatus`` is anything but ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from collectors.evidence.columns import TEXT_LIST, TIME, col
from collectors.evidence.job import EvidenceJob, RestListing
from microsoft import defender_endpoint as mde
from microsoft.rest_reader import RestReader

MACHINES = "defender.machines"
ANTIVIRUS_HEALTH = "defender.antivirus_health"
MISSING_UPDATES = "defender.missing_updates"
SOFTWARE_EOL = "defender.software_eol"

MACHINE_COLUMNS = (
    col("id", pa.string(), "id"),
    col("computer_dns_name", pa.string(), "computerDnsName"),
    col("aad_device_id", pa.string(), "aadDeviceId"),
    col("first_seen", TIME, "firstSeen"),
    col("last_seen", TIME, "lastSeen"),
    col("os_platform", pa.string(), "osPlatform"),
    col("os_version", pa.string(), "version"),
    col("os_build", pa.int64(), "osBuild"),
    col("health_status", pa.string(), "healthStatus"),
    col("onboarding_status", pa.string(), "onboardingStatus"),
    col("defender_av_status", pa.string(), "defenderAvStatus"),
    col("risk_score", pa.string(), "riskScore"),
    col("exposure_level", pa.string(), "exposureLevel"),
    col("device_value", pa.string(), "deviceValue"),
    col("rbac_group_name", pa.string(), "rbacGroupName"),
    col("machine_tags", TEXT_LIST, "machineTags"),
    col("is_aad_joined", pa.bool_(), "isAadJoined"),
)

ANTIVIRUS_COLUMNS = (
    col("machine_id", pa.string(), "machineId"),
    col("computer_dns_name", pa.string(), "computerDnsName"),
    col("os_platform", pa.string(), "osPlatform"),
    col("av_mode", pa.string(), "avMode"),
    col("signature_version", pa.string(), "avSignatureVersion"),
    col("engine_version", pa.string(), "avEngineVersion"),
    col("platform_version", pa.string(), "avPlatformVersion"),
    col("signature_up_to_date", pa.bool_(), "avIsSignatureUpToDate", kind="text_bool"),
    col("engine_up_to_date", pa.bool_(), "avIsEngineUpToDate", kind="text_bool"),
    col("platform_up_to_date", pa.bool_(), "avIsPlatformUpToDate", kind="text_bool"),
    col("signature_published_at", TIME, "avSignaturePublishTime"),
    col("signature_updated_at", TIME, "avSignatureUpdateTime"),
    col("quick_scan_result", pa.string(), "quickScanResult"),
    col("quick_scan_at", TIME, "quickScanTime"),
    col("full_scan_result", pa.string(), "fullScanResult"),
    col("last_seen", TIME, "lastSeenTime"),
    col("data_refreshed_at", TIME, "dataRefreshTimestamp"),
)

VULNERABILITY_COLUMNS = (
    col("id", pa.string(), "id"),
    col("device_id", pa.string(), "deviceId"),
    col("device_name", pa.string(), "deviceName"),
    col("os_platform", pa.string(), "osPlatform"),
    col("software_vendor", pa.string(), "softwareVendor"),
    col("software_name", pa.string(), "softwareName"),
    col("software_version", pa.string(), "softwareVersion"),
    col("cve_id", pa.string(), "cveId"),
    col("severity", pa.string(), "vulnerabilitySeverityLevel"),
    col("cvss_score", pa.float64(), "cvssScore"),
    col("exploitability_level", pa.string(), "exploitabilityLevel"),
    col("security_update_available", pa.bool_(), "securityUpdateAvailable"),
    col("recommended_security_update", pa.string(), "recommendedSecurityUpdate"),
    col("recommended_security_update_id", pa.string(), "recommendedSecurityUpdateId"),
    col("first_seen", TIME, "firstSeenTimestamp"),
    col("last_seen", TIME, "lastSeenTimestamp"),
)

SOFTWARE_COLUMNS = (
    col("device_id", pa.string(), "deviceId"),
    col("device_name", pa.string(), "deviceName"),
    col("os_platform", pa.string(), "osPlatform"),
    col("software_vendor", pa.string(), "softwareVendor"),
    col("software_name", pa.string(), "softwareName"),
    col("software_version", pa.string(), "softwareVersion"),
    col("end_of_support_status", pa.string(), "endOfSupportStatus"),
    col("end_of_support_date", TIME, "endOfSupportDate"),
    col("number_of_weaknesses", pa.int64(), "numberOfWeaknesses"),
    col("first_seen", TIME, "softwareFirstSeenTimestamp"),
)


def _has_cve(record: dict[str, Any]) -> bool:
    return bool(record.get("cveId"))


def _past_or_near_end_of_support(record: dict[str, Any]) -> bool:
    return record.get("endOfSupportStatus") not in (None, "", "None")


def jobs(reader: Callable[[], RestReader], endpoint: mde.DefenderEndpoint) -> list[EvidenceJob]:
    top: dict[str, str | int] = {"$top": endpoint.page_size}
    export: dict[str, str | int] = {"pageSize": endpoint.export_page_size}
    return [
        RestListing(MACHINES, MACHINE_COLUMNS, "api/machines", mde.MACHINES, reader, top),
        RestListing(ANTIVIRUS_HEALTH, ANTIVIRUS_COLUMNS, "api/deviceavinfo", mde.ANTIVIRUS_HEALTH, reader, top),
        RestListing(
            MISSING_UPDATES,
            VULNERABILITY_COLUMNS,
            "api/machines/SoftwareVulnerabilitiesByMachine",
            mde.VULNERABILITIES_BY_MACHINE,
            reader,
            export,
            keep=_has_cve,
        ),
        RestListing(
            SOFTWARE_EOL,
            SOFTWARE_COLUMNS,
            "api/machines/SoftwareInventoryByMachine",
            mde.SOFTWARE_BY_MACHINE,
            reader,
            export,
            keep=_past_or_near_end_of_support,
        ),
    ]
