"""Entra sign-ins by protocol, for the legacy-authentication evidence: a recent window of
``auditLogs/signIns`` with only the fields that say which client app (protocol) was used, whether
it succeeded and what Conditional Access did.

This is the snapshot of a window, kept beside the other evidence so a report reads one place; the
full sign-in log, with its volume, is the live collector's (``entra-signins``) and lives in the
event store. Reading sign-ins through the API needs an Entra ID P1 or P2 licence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from collectors.evidence.columns import TIME, col
from collectors.evidence.job import GraphListing
from microsoft.graph import Access, GraphReader

SIGNINS = "graph.signins"
ACCESS = Access("sign-in logs", ("AuditLog.Read.All", "Directory.Read.All"), licence="an Entra ID P1 or P2 licence")

COLUMNS = (
    col("id", pa.string(), "id"),
    col("created_at", TIME, "createdDateTime"),
    col("user_id", pa.string(), "userId"),
    col("user_principal_name", pa.string(), "userPrincipalName"),
    col("app_display_name", pa.string(), "appDisplayName"),
    col("client_app_used", pa.string(), "clientAppUsed"),
    col("is_interactive", pa.bool_(), "isInteractive"),
    col("error_code", pa.int64(), "status.errorCode"),
    col("conditional_access_status", pa.string(), "conditionalAccessStatus"),
    col("ip_address", pa.string(), "ipAddress"),
    # singleFactorAuthentication or multiFactorAuthentication (signins.single_factor). Graph v1.0's
    # signIn does not have it (the beta signIn and Log Analytics' SigninLogs do), and selecting it
    # there fails the whole listing: it is not selected, so this column stays empty and the check
    # says it is not evidenced rather than counting no one-factor sign-ins.
    col("authentication_requirement", pa.string(), "authenticationRequirement"),
    # The device signed in from (signIn.deviceDetail); an empty id is a device Entra does not know
    # (neither joined nor registered). For scope.device_inventory.
    col("device_id", pa.string(), "deviceDetail.deviceId"),
    col("device_name", pa.string(), "deviceDetail.displayName"),
    col("device_operating_system", pa.string(), "deviceDetail.operatingSystem"),
)
SELECT = [
    "id",
    "createdDateTime",
    "userId",
    "userPrincipalName",
    "appDisplayName",
    "clientAppUsed",
    "isInteractive",
    "status",
    "conditionalAccessStatus",
    "ipAddress",
    "deviceDetail",
]


def signins(
    reader: Callable[[], GraphReader],
    lookback: timedelta = timedelta(days=7),
    page_size: int = 1000,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> GraphListing:
    since = (clock() - lookback).astimezone(UTC)
    return GraphListing(
        SIGNINS,
        COLUMNS,
        lambda client: client.audit_logs.sign_ins,
        ACCESS,
        reader,
        {"filter": f"createdDateTime ge {since:%Y-%m-%dT%H:%M:%SZ}", "select": SELECT, "top": page_size},
    )
