"""Attack Simulation Training results through Microsoft Graph, one row per user per simulation.

The simulations come from ``security/attackSimulation/simulations``; each launched one's users
from ``.../simulations/{id}/report/simulationUsers`` (``userSimulationDetails``), paged with
``@odata.nextLink``. msgraph-sdk's v1.0 builders stop at the simulation, so the report's URL is
given to the simulations builder (``with_url``): the request still goes through the SDK's
adapter and its retry middleware (429 with ``Retry-After``), as every other Graph read does.

A user's record is flattened here, a page at a time: the first time of each kind of event
(delivered, clicked, credentials supplied, reported) becomes a column, so the report counts with
SQL over the snapshot; the whole event list is kept beside them as JSON. Both calls need the
application permission ``AttackSimulation.Read.All`` and a Defender for Office 365 Plan 2 (or
E5) licence; a 403 is recorded as "not evidenced" with the permission named.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from msgraph import GraphServiceClient

from collectors.evidence.awareness.columns import (
    AST_CLICKED,
    AST_COLUMNS,
    AST_CREDENTIALS,
    AST_DELIVERED,
    AST_DELIVERY_FAILED,
    AST_REPORTED,
    ATTACK_SIMULATION,
)
from collectors.evidence.columns import Column
from collectors.evidence.job import EvidenceJob, Records
from microsoft.graph import Access, GraphReader, ListingBuilder

ACCESS = Access(
    "Attack Simulation Training simulations and their users",
    ("AttackSimulation.Read.All",),
    licence="Microsoft Defender for Office 365 Plan 2 (or Microsoft 365 E5)",
)
#: Simulations that never sent anything have no users to report.
NOT_LAUNCHED = frozenset({"draft", "scheduled"})


@dataclass(frozen=True)
class AttackSimulationResults:
    """Every launched simulation's users, as rows of :data:`AST_COLUMNS`."""

    reader: Callable[[], GraphReader]
    page_size: int = 1000
    source: str = ATTACK_SIMULATION
    columns: Sequence[Column] = AST_COLUMNS

    async def pages(self) -> AsyncGenerator[Records]:
        reader = self.reader()
        try:
            simulations: list[dict[str, Any]] = []
            async for page in reader.pages(_simulations, {"top": self.page_size}, ACCESS):
                # Tens a year for a council: the list is small, the users are what page.
                simulations.extend(s for s in page.records if s.get("status") not in NOT_LAUNCHED)
            for simulation in simulations:
                async for page in reader.pages(_users_of(str(simulation.get("id"))), {}, ACCESS):
                    yield [user_row(simulation, record) for record in page.records]
        finally:
            await reader.close()


def _simulations(client: GraphServiceClient) -> ListingBuilder:
    return client.security.attack_simulation.simulations


def _users_of(simulation_id: str) -> Callable[[GraphServiceClient], ListingBuilder]:
    def builder(client: GraphServiceClient) -> ListingBuilder:
        root = str(client.request_adapter.base_url).rstrip("/")
        url = f"{root}/security/attackSimulation/simulations/{quote(simulation_id, safe='')}/report/simulationUsers"
        return client.security.attack_simulation.simulations.with_url(url)

    return builder


def user_row(simulation: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """One ``userSimulationDetails`` record of ``simulation`` as a row of :data:`AST_COLUMNS`."""
    found = record.get("simulationUser")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    events = [e for e in record.get("simulationEvents") or [] if isinstance(e, dict)]
    trainings = [t for t in record.get("trainingEvents") or [] if isinstance(t, dict)]
    email = user.get("email")
    return {
        "simulation_id": simulation.get("id"),
        "simulation_name": simulation.get("displayName"),
        "attack_technique": simulation.get("attackTechnique"),
        "attack_type": simulation.get("attackType"),
        "simulation_status": simulation.get("status"),
        "delivery_platform": simulation.get("payloadDeliveryPlatform"),
        "launched_at": simulation.get("launchDateTime"),
        "completed_at": simulation.get("completionDateTime"),
        "user_id": user.get("userId"),
        "email": email.lower() if isinstance(email, str) else None,
        "is_compromised": record.get("isCompromised"),
        "compromised_at": record.get("compromisedDateTime"),
        "reported_at": record.get("reportedPhishDateTime") or _first(events, AST_REPORTED),
        "delivered_at": _first(events, AST_DELIVERED),
        "delivery_failed_at": _first(events, AST_DELIVERY_FAILED),
        "clicked_at": _first(events, AST_CLICKED),
        "credentials_at": _first(events, AST_CREDENTIALS),
        "assigned_trainings": record.get("assignedTrainingsCount"),
        "completed_trainings": record.get("completedTrainingsCount"),
        "in_progress_trainings": record.get("inProgressTrainingsCount"),
        "training_statuses": [str(t.get("latestTrainingStatus")) for t in trainings],
        "events": events,
    }


def _first(events: list[dict[str, Any]], names: tuple[str, ...]) -> str | None:
    """The earliest time of an event named one of ``names`` (ISO text sorts as time when the
    zone is Z, as Graph sends it)."""
    times = [str(e["eventDateTime"]) for e in events if e.get("eventName") in names and e.get("eventDateTime")]
    return min(times) if times else None


def jobs(reader: Callable[[], GraphReader], page_size: int = 1000) -> list[EvidenceJob]:
    return [AttackSimulationResults(reader, page_size)]
