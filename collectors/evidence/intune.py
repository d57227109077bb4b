"""Intune device compliance through Microsoft Graph: each managed device, its compliance state,
ownership, operating system and last check-in (``deviceManagement/managedDevices``)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from collectors.evidence.columns import TIME, col
from collectors.evidence.job import GraphListing
from microsoft.graph import Access, GraphReader

COMPLIANCE = "intune.compliance"
ACCESS = Access("Intune managed devices", ("DeviceManagementManagedDevices.Read.All",))

COLUMNS = (
    col("id", pa.string(), "id"),
    col("device_name", pa.string(), "deviceName"),
    col("user_principal_name", pa.string(), "userPrincipalName"),
    col("azure_ad_device_id", pa.string(), "azureADDeviceId"),
    col("operating_system", pa.string(), "operatingSystem"),
    col("os_version", pa.string(), "osVersion"),
    col("compliance_state", pa.string(), "complianceState"),
    col("owner_type", pa.string(), "managedDeviceOwnerType"),
    col("management_agent", pa.string(), "managementAgent"),
    col("is_encrypted", pa.bool_(), "isEncrypted"),
    col("jail_broken", pa.string(), "jailBroken"),
    col("enrolled_at", TIME, "enrolledDateTime"),
    col("last_sync_at", TIME, "lastSyncDateTime"),
    col("grace_period_expires_at", TIME, "complianceGracePeriodExpirationDateTime"),
)


def compliance(reader: Callable[[], GraphReader], page_size: int = 1000) -> GraphListing:
    return GraphListing(
        COMPLIANCE,
        COLUMNS,
        lambda client: client.device_management.managed_devices,
        ACCESS,
        reader,
        {"top": page_size},
    )
