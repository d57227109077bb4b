"""The awareness snapshots as one DuckDB table, ``recipients``: a row per person per campaign per
source, with the same columns whatever the tool, and the person's department.

Each source's columns mean what its definition (``definitions.toml``) says; the view only puts
them side by side, with ``source`` on every row, so no query can add GoPhish's "clicked" to
Attack Simulation's without saying so in its ``GROUP BY``. The campaigns counted are those
launched in the period; each one's rows come from its latest reading at or before the moment of
the report (``as_of``), so campaigns imported one at a time add up and a campaign still running
when first read is counted as it finally stood. A latest attempt that failed makes the source
not evidenced: an older reading is not used in its place.

The department is the directory's (the latest ``graph.users`` snapshot at or before ``as_of``),
found by Entra user id, then by address (user principal name or mail), lower-cased. A person
the directory does not know is counted under "(not in the directory)".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import duckdb

from collectors.evidence.awareness.columns import GOPHISH_DELIVERED_STATUSES
from reports.registry import AwarenessSource, EvidenceSource
from store.snapshots import SnapshotEntry, SnapshotStore

NOT_IN_DIRECTORY = "(not in the directory)"
NO_DEPARTMENT = "(no department set)"
NOT_RECORDED = "(department not recorded)"
_CREDENTIAL_TECHNIQUES = "('credentialHarvesting', 'linkInAttachment')"
_GOPHISH_DELIVERED = "(" + ", ".join(f"'{s}'" for s in GOPHISH_DELIVERED_STATUSES) + ")"
_GOPHISH_CLICKED = "('Clicked Link', 'Submitted Data')"

#: Each source's rows in the shape of ``recipients`` (without the department), from its view.
_SOURCE_SQL = {
    AwarenessSource.ATTACK_SIMULATION: f"""
        SELECT 'attack_simulation.results' AS source, simulation_id AS campaign_id,
               any_value(simulation_name) AS campaign, any_value(attack_technique) AS technique,
               any_value(launched_at) AS launched_at, coalesce(lower(user_id), email) AS user_key,
               any_value(lower(user_id)) AS user_id, any_value(email) AS email,
               bool_or(delivered_at IS NOT NULL OR clicked_at IS NOT NULL OR coalesce(is_compromised, false)
                       OR reported_at IS NOT NULL) AS delivered,
               bool_or(clicked_at IS NOT NULL) AS clicked,
               CASE WHEN bool_or(attack_technique IN {_CREDENTIAL_TECHNIQUES} OR credentials_at IS NOT NULL)
                    THEN bool_or(credentials_at IS NOT NULL
                                 OR (attack_technique IN {_CREDENTIAL_TECHNIQUES} AND coalesce(is_compromised, false)))
               END AS submitted,
               bool_or(coalesce(is_compromised, false)) AS compromised,
               bool_or(reported_at IS NOT NULL) AS reported,
               min(CASE WHEN reported_at >= delivered_at
                        THEN date_diff('second', delivered_at, reported_at) / 60.0 END) AS minutes_to_report,
               max(coalesce(assigned_trainings, 0)) > 0 AS training_assigned,
               max(coalesce(assigned_trainings, 0)) > 0
                 AND bool_and(coalesce(completed_trainings, 0) >= coalesce(assigned_trainings, 0)) AS training_completed,
               bool_or(coalesce(is_compromised, false)) AS failed
        FROM latest_ast
        WHERE launched_at >= $start AND launched_at <= $end AND coalesce(user_id, email) IS NOT NULL
        GROUP BY simulation_id, coalesce(lower(user_id), email)
    """,
    AwarenessSource.GOPHISH: f"""
        SELECT 'gophish.results' AS source, campaign_id, any_value(campaign_name) AS campaign,
               NULL::VARCHAR AS technique, any_value(launched_at) AS launched_at, email AS user_key,
               NULL::VARCHAR AS user_id, email,
               bool_or(status IN {_GOPHISH_DELIVERED} OR coalesce(reported, false)) AS delivered,
               bool_or(status IN {_GOPHISH_CLICKED}) AS clicked,
               bool_or(status = 'Submitted Data') AS submitted,
               NULL::BOOLEAN AS compromised,
               bool_or(coalesce(reported, false)) AS reported,
               min(CASE WHEN reported_at >= sent_at
                        THEN date_diff('second', sent_at, reported_at) / 60.0 END) AS minutes_to_report,
               NULL::BOOLEAN AS training_assigned, NULL::BOOLEAN AS training_completed,
               bool_or(status IN {_GOPHISH_CLICKED}) AS failed
        FROM latest_gophish
        WHERE launched_at >= $start AND launched_at <= $end AND email IS NOT NULL
        GROUP BY campaign_id, email
    """,
}
#: The view's columns: the same for every source.
RECIPIENT_COLUMNS = (
    "source VARCHAR, campaign_id VARCHAR, campaign VARCHAR, technique VARCHAR, launched_at TIMESTAMPTZ, "
    "user_key VARCHAR, user_id VARCHAR, email VARCHAR, delivered BOOLEAN, clicked BOOLEAN, submitted BOOLEAN, "
    "compromised BOOLEAN, reported BOOLEAN, minutes_to_report DOUBLE, training_assigned BOOLEAN, "
    "training_completed BOOLEAN, failed BOOLEAN, department VARCHAR"
)
_VIEW_OF = {AwarenessSource.ATTACK_SIMULATION: "latest_ast", AwarenessSource.GOPHISH: "latest_gophish"}
_CAMPAIGN_KEY = {AwarenessSource.ATTACK_SIMULATION: "simulation_id", AwarenessSource.GOPHISH: "campaign_id"}


@dataclass(frozen=True)
class Reading:
    """What was found of one source: ``collected`` (rows read), ``not evidenced`` (its latest
    attempt failed, with the reason) or ``absent`` (never read before the end of the period)."""

    source: str
    status: str
    reason: str | None = None
    latest: SnapshotEntry | None = None
    snapshots: int = 0
    undated_campaigns: int = 0  # campaigns with no launch time, so in no period
    evidence: tuple[SnapshotEntry, ...] = ()  # the snapshots read, for the evidence pack

    @property
    def collected(self) -> bool:
        return self.status == "collected"


class Recipients:
    """An open connection with the ``recipients`` table over the period's campaigns."""

    def __init__(self, snapshots: SnapshotStore, start: datetime, end: datetime, as_of: datetime | None = None):
        self.start, self.end = start.astimezone(UTC), end.astimezone(UTC)
        # Readings up to the moment of the report, not the end of the period: a campaign
        # launched in the period is often read (or its export imported) after it.
        self.as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.readings = tuple(self._source(snapshots, source) for source in AwarenessSource)
        self.directory = self._directory(snapshots)
        self.con.execute(f"CREATE TABLE recipients ({RECIPIENT_COLUMNS})")
        for reading in self.readings:
            if reading.collected:
                self.con.execute(
                    f"INSERT INTO recipients BY NAME SELECT r.*, {self._department_sql()} AS department "
                    f"FROM ({_SOURCE_SQL[AwarenessSource(reading.source)]}) AS r {self._department_join()}",
                    {"start": self.start, "end": self.end},
                )

    def __enter__(self) -> Recipients:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.con.close()

    @property
    def evidence(self) -> tuple[SnapshotEntry, ...]:
        """Every snapshot read (campaign readings and the directory), oldest first."""
        found = {(e.source, e.taken_at, e.run_id): e for r in (*self.readings, self.directory) for e in r.evidence}
        return tuple(sorted(found.values(), key=lambda e: (e.taken_at, e.source)))

    def reading(self, source: AwarenessSource) -> Reading:
        return next(r for r in self.readings if r.source == source.value)

    def _source(self, snapshots: SnapshotStore, source: AwarenessSource) -> Reading:
        latest = snapshots.latest(source.value, self.as_of)
        if latest is None:
            return Reading(source.value, "absent", f"no reading of {source.value} at or before {_iso(self.as_of)}")
        if not latest.collected:
            why = latest.reason or "no reason recorded"
            return Reading(
                source.value,
                "not evidenced",
                f"{source.value} could not be read at {_iso(latest.taken_at)}: {why}",
                latest,
            )
        key, view = _CAMPAIGN_KEY[source], _VIEW_OF[source]
        series = snapshots.series_relation(self.con, source.value, None, self.as_of)
        series.create_view(f"{view}_series")
        # Each campaign as its latest reading showed it.
        self.con.execute(
            f"CREATE VIEW {view} AS SELECT * EXCLUDE (newest) FROM (SELECT *, max(snapshot_taken_at) OVER "
            f"(PARTITION BY {key}) AS newest FROM {view}_series) WHERE snapshot_taken_at = newest"
        )
        rows = self.con.execute(
            f"SELECT count(DISTINCT {key}) FILTER (WHERE launched_at IS NULL) FROM {view}"
        ).fetchall()
        used = tuple(snapshots.series(source.value, None, self.as_of))
        return Reading(source.value, "collected", None, latest, len(used), int(rows[0][0] or 0), used)

    def _directory(self, snapshots: SnapshotStore) -> Reading:
        source = EvidenceSource.GRAPH_USERS.value
        latest = snapshots.latest(source, self.as_of)
        if latest is None or not latest.collected:
            why = f"no reading of {source} at or before {_iso(self.as_of)}" if latest is None else latest.reason
            return Reading(source, "absent" if latest is None else "not evidenced", why, latest)
        users = snapshots.relation(self.con, latest)
        columns = {c.lower() for c in users.columns}
        if "department" not in columns:
            return Reading(
                source,
                "no department",
                f"the {source} snapshot of {_iso(latest.taken_at)} has no department column",
                latest,
                1,
                evidence=(latest,),
            )
        users.create_view("directory_users")
        keys = [c for c in ("id", "user_principal_name", "mail") if c in columns]
        union = " UNION ALL ".join(f"SELECT lower({c}) AS key, department FROM directory_users" for c in keys)
        self.con.execute(
            f"CREATE VIEW directory AS SELECT key, min(department) AS department FROM ({union}) "
            "WHERE key IS NOT NULL GROUP BY key"
        )
        return Reading(source, "collected", None, latest, 1, evidence=(latest,))

    def _department_sql(self) -> str:
        if not self.directory.collected:
            return f"'{NOT_RECORDED}'"
        return (
            f"CASE WHEN d1.key IS NULL AND d2.key IS NULL THEN '{NOT_IN_DIRECTORY}' "
            f"ELSE coalesce(nullif(trim(coalesce(d1.department, d2.department)), ''), '{NO_DEPARTMENT}') END"
        )

    def _department_join(self) -> str:
        if not self.directory.collected:
            return ""
        return "LEFT JOIN directory AS d1 ON d1.key = r.user_id LEFT JOIN directory AS d2 ON d2.key = r.email"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
