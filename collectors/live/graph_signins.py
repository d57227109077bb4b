"""Live Entra ID sign-ins from Microsoft Graph ``auditLogs/signIns`` (source ``entra-signins``).

Graph v1.0 lists interactive sign-ins only. The beta endpoint also lists non-interactive,
service-principal and managed-identity sign-ins when the filter asks for them with
``signInEventTypes/any(...)``; so asking for any kind but ``interactiveUser`` needs
``api_version = "beta"`` (checked when the collector is built, not discovered at 3 a.m.).
Reading sign-in logs through the API needs an Entra ID P1 or P2 licence and the application
permissions ``AuditLog.Read.All`` and ``Directory.Read.All``; a 403 says which is missing.

Records are normalised by :mod:`collectors.formats.signins.entra_signins` (the same parser as file replay), so a
sign-in collected live and one replayed from an export are the same event (same ``event.id``).
How a pass is made safe to interrupt is in :mod:`collectors.live.graph_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.core.credentials import TokenCredential

from collectors.formats.signins import entra_signins
from collectors.live.graph_run import Listing, Window, run_listings
from microsoft.graph import Access, GraphEndpoint, GraphReader
from store.protocol import Store
from store.state.checkpoints import Checkpoints, CollectorRun

SIGNIN_KINDS = ("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity")
ACCESS = Access("sign-in logs", ("AuditLog.Read.All", "Directory.Read.All"), licence="an Entra ID P1 or P2 licence")


def kinds_filter(kinds: tuple[str, ...]) -> str | None:
    """The beta ``signInEventTypes`` clause for the kinds; None for interactive only (the default)."""
    if tuple(kinds) == ("interactiveUser",):
        return None
    either = " or ".join(f"t eq '{kind}'" for kind in kinds)
    return f"(signInEventTypes/any(t: {either}))"


class EntraSigninCollector:
    """Sign-ins since the checkpoint minus ``overlap``, all pages, the configured kinds."""

    def __init__(
        self,
        credential_factory: Callable[[], TokenCredential],
        endpoint: GraphEndpoint = GraphEndpoint(),
        interval: timedelta = timedelta(minutes=5),
        overlap: timedelta = timedelta(minutes=10),
        kinds: tuple[str, ...] = ("interactiveUser",),
        initial_lookback: timedelta = timedelta(days=1),
        name: str = "entra-signins",
        clock: Callable[[], datetime] | None = None,
    ):
        unknown = [kind for kind in kinds if kind not in SIGNIN_KINDS]
        if not kinds or unknown:
            raise ValueError(f"kinds: expected some of {', '.join(SIGNIN_KINDS)}, got {list(kinds)!r}")
        if tuple(kinds) != ("interactiveUser",) and endpoint.api_version != "beta":
            raise ValueError(
                f"kinds: {', '.join(kinds)} need api_version = 'beta' (Graph v1.0 lists interactive sign-ins only)"
            )
        self.name = name
        self.interval = interval
        self.kinds = tuple(kinds)
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self.window = Window(overlap=overlap, initial_lookback=initial_lookback)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.listing = Listing(
            key="signIns",
            builder=lambda client: client.audit_logs.sign_ins,
            time_field="createdDateTime",
            time_column="@timestamp",
            parse=entra_signins.parse_records,
            access=ACCESS,
            query={"top": endpoint.page_size},
            extra_filter=kinds_filter(self.kinds),
        )

    def __repr__(self) -> str:
        return f"EntraSigninCollector(name={self.name!r}, kinds={self.kinds!r}, endpoint={self.endpoint!r})"

    def collect_once(self, store: Store, checkpoints: Checkpoints) -> CollectorRun:
        return run_listings(
            self.name,
            store,
            checkpoints,
            lambda: GraphReader(self.endpoint, self.credential_factory),
            [self.listing],
            self.window,
            self.clock,
        )
