"""Live Defender alerts from Graph security ``alerts_v2`` and ``incidents`` (source ``defender``).

Both listings are read by ``lastUpdateDateTime`` from the checkpoint minus an overlap, so an
alert comes back every time Defender (or an analyst) changes it: new status, classification,
more evidence. Records are normalised by :mod:`collectors.formats.defender_alerts`; incidents are listed
with ``$expand=alerts`` so each brings its alerts.

Updated alerts: ``event.id`` is the alert's own id, as a file replay of a Defender export gives
it, so an alert collected live and replayed from a file is one alert. ``m365_defender.alert`` is
a replaceable dataset (``store.batch.VERSION_COLUMNS``, by ``lastUpdateDateTime``): both
stores answer with its newest version only, so rules judge an alert as it is now and
:func:`latest_alerts` is a plain search. Every version is also kept, unchanged, as an event of
``m365_defender.alert_history`` (append-only; ``event.id`` = ``<alert id>@<lastUpdateDateTime>``,
``m365_defender.alert.id`` = the alert id): :func:`alert_history` reads an alert's status history
from it. The history is written before the alert, so no stored version is missing from it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from azure.core.credentials import TokenCredential

from collectors.formats import defender_alerts
from collectors.live.graph_run import Listing, Window, run_listings
from microsoft.graph import Access, GraphEndpoint, GraphReader
from store.protocol import Store
from store.sql.literals import quote_ident, quote_literal
from store.state.checkpoints import Checkpoints, CollectorRun

LISTINGS = ("alerts_v2", "incidents")
ALERTS = defender_alerts.DATASET
HISTORY, ALERT_ID, UPDATED = defender_alerts.HISTORY, defender_alerts.ALERT_ID, defender_alerts.UPDATED


def _listing(kind: str, page_size: int) -> Listing:
    if kind == "alerts_v2":
        return Listing(
            key=kind,
            builder=lambda client: client.security.alerts_v2,
            time_field="lastUpdateDateTime",
            time_column=UPDATED,
            parse=defender_alerts.parse_records,
            access=Access("Defender alerts", ("SecurityAlert.Read.All",)),
            query={"top": page_size},
        )
    return Listing(
        key=kind,
        builder=lambda client: client.security.incidents,
        time_field="lastUpdateDateTime",
        time_column=UPDATED,
        parse=defender_alerts.parse_records,
        access=Access("Defender incidents", ("SecurityIncident.Read.All", "SecurityAlert.Read.All")),
        query={"top": min(page_size, 50), "expand": ["alerts"]},  # Graph caps incidents at 50 a page
    )


class DefenderCollector:
    """Alerts (and their history) from ``alerts_v2`` and, when configured, ``incidents``."""

    def __init__(
        self,
        credential_factory: Callable[[], TokenCredential],
        endpoint: GraphEndpoint = GraphEndpoint(),
        interval: timedelta = timedelta(minutes=5),
        overlap: timedelta = timedelta(minutes=10),
        listings: tuple[str, ...] = ("alerts_v2", "incidents"),
        initial_lookback: timedelta = timedelta(days=1),
        name: str = "defender",
        clock: Callable[[], datetime] | None = None,
    ):
        unknown = [kind for kind in listings if kind not in LISTINGS]
        if not listings or unknown:
            raise ValueError(f"listings: expected some of {', '.join(LISTINGS)}, got {list(listings)!r}")
        self.name = name
        self.interval = interval
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self.window = Window(overlap=overlap, initial_lookback=initial_lookback)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.listings = [_listing(kind, endpoint.page_size) for kind in listings]

    def __repr__(self) -> str:
        return f"DefenderCollector(name={self.name!r}, listings={[listing.key for listing in self.listings]!r})"

    def collect_once(self, store: Store, checkpoints: Checkpoints) -> CollectorRun:
        return run_listings(
            self.name,
            defender_alerts.KeepingHistory(store),
            checkpoints,
            lambda: GraphReader(self.endpoint, self.credential_factory),
            self.listings,
            self.window,
            self.clock,
        )


_COLUMNS = (
    "@timestamp",
    UPDATED,
    "m365_defender.alert.status",
    "m365_defender.alert.severity",
    "message",
    "event.original",
)


def latest_alerts(store: Store, start: datetime, end: datetime) -> pa.Table:
    """Each alert created in ``[start, end)`` as it is now (the stores keep the newest version)."""
    return store.search([ALERTS], start, end, columns=_COLUMNS)


def alert_history(store: Store, alert_id: str, start: datetime, end: datetime) -> list[dict[str, object]]:
    """Every stored version of one alert created in ``[start, end)``, oldest first: when it
    changed, and its status and severity then."""
    found = store.search([HISTORY], start, end, _equals(store, ALERT_ID, alert_id), columns=_COLUMNS)
    found = found.take(pc.sort_indices(found, sort_keys=[(UPDATED, "ascending", "at_start")]))
    return [
        {
            "updated": row[UPDATED],
            "status": row["m365_defender.alert.status"],
            "severity": row["m365_defender.alert.severity"],
        }
        for row in found.to_pylist()
    ]


def _equals(store: Store, column: str, value: str) -> str:
    """``column = value`` in the store's query language (DuckDB SQL or Lucene)."""
    if store.query_language == "duckdb-sql":
        return f"{quote_ident(column)} = {quote_literal(value)}"
    if store.query_language == "elasticsearch-lucene":
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return column + ':"' + escaped + '"'
    raise ValueError(f"alert_history: no query for a store speaking {store.query_language!r}")
