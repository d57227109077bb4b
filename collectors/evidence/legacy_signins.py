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
