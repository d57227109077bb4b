"""Live Defender alerts from Graph security ``alerts_v2`` and ``incidents`` (source ``defender``).

Both listings are read by ``lastUpdateDateTime`` from the checkpoint minus an overlap, so an
alert comes back every time Defender (or an analyst) changes it: new status, classification,
more evidence. Records are normalised by :mod:`collectors.defender_alerts`; incidents are listed
with ``$expand=alerts`` so each brings its alerts.

Updated alerts: the store keeps the first copy of an ``event.id`` (it is append-only Parquet,
and its dedupe is what makes re-reading safe). So each *version* of an alert is its own event:
``event.id`` is ``<alert id>@<lastUpdateDateTime>`` and the alert's own id is kept in
``m365_defender.alert.id``. Re-reading the same version is a duplicate, as it should be; a new
version is a new event. The status history of an alert is the sequence of its versions
(:func:`alert_history`), and the current state of each alert is its newest version
(:func:`latest_alerts`). Rules over ``m365_defender.alert`` may see one alert several times;
detection alert ids are deterministic, so that adds matched events, not detection alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from azure.core.credentials import TokenCredential

from collectors import defender_alerts
from collectors.graph_pages import Access, GraphEndpoint, GraphReader
from collectors.graph_run import Listing, Window, run_listings
from store.checkpoints import Checkpoints, CollectorRun

LISTINGS = ("alerts_v2", "incidents")
ALERT_ID = "m365_defender.alert.id"
UPDATED = "m365_defender.alert.last_update_time"


def as_versions(table: pa.Table) -> pa.Table:
    """Each alert as the version it is: ``event.id`` = id@lastUpdateDateTime, the id kept aside."""
    ids = table.column("event.id")
    stamps = pc.strftime(table.column(UPDATED), format="%Y-%m-%dT%H:%M:%SZ")
    versions = pc.coalesce(pc.binary_join_element_wise(ids, stamps, "@"), ids)
    table = table.set_column(table.column_names.index("event.id"), "event.id", versions)
    return table.append_column(ALERT_ID, ids)


def _listing(kind: str, page_size: int) -> Listing:
    if kind == "alerts_v2":
        return Listing(
            key=kind, builder=lambda client: client.security.alerts_v2, time_field="lastUpdateDateTime",
            time_column=UPDATED, parse=defender_alerts.parse_file, shape=as_versions,
            access=Access("Defender alerts", ("SecurityAlert.Read.All",)),
            query={"top": page_size},
        )
    return Listing(
        key=kind, builder=lambda client: client.security.incidents, time_field="lastUpdateDateTime",
        time_column=UPDATED, parse=defender_alerts.parse_file, shape=as_versions,
        access=Access("Defender incidents", ("SecurityIncident.Read.All", "SecurityAlert.Read.All")),
        query={"top": min(page_size, 50), "expand": ["alerts"]},  # Graph caps incidents at 50 a page
    )


class DefenderCollector:
    """Alert versions from ``alerts_v2`` and, when configured, ``incidents``."""

    def __init__(self, credential_factory: Callable[[], TokenCredential], endpoint: GraphEndpoint = GraphEndpoint(),
                 interval: timedelta = timedelta(minutes=5), overlap: timedelta = timedelta(minutes=10),
                 listings: tuple[str, ...] = ("alerts_v2", "incidents"),
                 initial_lookback: timedelta = timedelta(days=1), name: str = "defender",
                 clock: Callable[[], datetime] | None = None):
        unknown = [kind for kind in listings if kind not in LISTINGS]
        if not listings or unknown:
            raise ValueError(f"listings: expected some of {', '.join(LISTINGS)}, got {list(listings)!r}")
        self.name = name
        self.interval = interval
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self.window = Window(overlap=overlap, initial_lookback=initial_lookback)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.listings = [_listing(kind, endpoint.page_size) for kind in listings]

    def __repr__(self) -> str:
        return f"DefenderCollector(name={self.name!r}, listings={[l.key for l in self.listings]!r})"

    def collect_once(self, store, checkpoints: Checkpoints) -> CollectorRun:
        return run_listings(self.name, store, checkpoints,
                            lambda: GraphReader(self.endpoint, self.credential_factory),
                            self.listings, self.window, self.clock)


_COLUMNS = ("@timestamp", ALERT_ID, UPDATED, "m365_defender.alert.status", "m365_defender.alert.severity",
            "message", "event.original")


def _query_versions(store, start: datetime, end: datetime, sql: str, alert_id: str | None = None) -> pa.Table:
    """``sql`` over ``versions``: the stored alert versions created in ``[start, end)``."""
    where = f'"{ALERT_ID}" IS NOT NULL'
    if alert_id is not None:
        where += f" AND \"{ALERT_ID}\" = '{alert_id.replace(chr(39), chr(39) * 2)}'"
    found = store.search(["m365_defender.alert"], start, end, where, columns=_COLUMNS)
    with duckdb.connect(":memory:") as con:
        con.register("versions", found)
        return con.sql(sql).to_arrow_table()


def latest_alerts(store, start: datetime, end: datetime) -> pa.Table:
    """The newest stored version of each alert created in ``[start, end)``."""
    return _query_versions(store, start, end, f"""
        SELECT * FROM versions
        QUALIFY row_number() OVER (PARTITION BY "{ALERT_ID}" ORDER BY "{UPDATED}" DESC) = 1
        ORDER BY "@timestamp", "{ALERT_ID}"
    """)


def alert_history(store, alert_id: str, start: datetime, end: datetime) -> list[dict]:
    """Every stored version of one alert, oldest first: when it changed, its status then."""
    return _query_versions(store, start, end, f"""
        SELECT "{UPDATED}" AS updated, "m365_defender.alert.status" AS status,
               "m365_defender.alert.severity" AS severity
        FROM versions ORDER BY "{UPDATED}"
    """, alert_id).to_pylist()
