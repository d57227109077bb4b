"""One evidence run: a snapshot of every configured source, each recorded as collected or as not
evidenced with the reason, so one refusal never costs the others.

Sources are read one after another, not at once: the APIs throttle per tenant and per app (the
Defender exports allow 30 calls a minute), and a run is a daily or weekly job, not a race. Each
source's time is when its reading started. A failure the APIs explain (a 403 naming the
permission, a throttling storm, an unreachable host) is recorded with that message; anything
else (an answer of a shape nobody expected) is recorded with its type and message too, since it
is still a source not evidenced, and logged with its traceback for whoever runs Cyberwell.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.credentials import TokenCredential

from collectors.evidence import azure_firewall_rules, defender_devices, graph_directory, intune, legacy_signins
from collectors.evidence.awareness import attack_simulation, gophish
from collectors.evidence.awareness.gophish import GophishEndpoint
from collectors.evidence.columns import PageConverter
from collectors.evidence.job import EvidenceJob
from microsoft.azure_resources import ArmEndpoint, arm_reader
from microsoft.defender_endpoint import DefenderEndpoint, defender_reader
from microsoft.graph import GraphEndpoint, GraphFailure, GraphReader
from microsoft.rest_reader import RestFailure
from store.snapshots import SnapshotEntry, SnapshotStore

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class EvidenceSettings:
    """Which clouds to read and how. ``None`` leaves a cloud out (its sources are not configured,
    which is not the same as not evidenced: nothing was asked)."""

    credential_factory: Callable[[], TokenCredential]
    graph: GraphEndpoint | None = GraphEndpoint()
    defender: DefenderEndpoint | None = DefenderEndpoint()
    arm: ArmEndpoint | None = None
    firewall_policies: tuple[str, ...] = ()  # Azure Firewall policy resource ids
    signin_lookback: timedelta = timedelta(days=7)
    #: Attack Simulation Training results (Graph): off unless asked, because it needs a licence
    #: (Defender for Office 365 Plan 2) a tenant may not have, and a 403 every run is noise.
    attack_simulation: bool = False
    gophish: GophishEndpoint | None = None


@dataclass(frozen=True)
class SnapshotRun:
    """What one run did: each source's entry in the manifest, in the order read."""

    run_id: str
    started_at: datetime
    entries: tuple[SnapshotEntry, ...]

    @property
    def not_evidenced(self) -> tuple[SnapshotEntry, ...]:
        return tuple(e for e in self.entries if not e.collected)


def configured_jobs(settings: EvidenceSettings, clock: Clock = lambda: datetime.now(UTC)) -> list[EvidenceJob]:
    """The jobs of every source the settings configure."""
    found: list[EvidenceJob] = []
    credential = settings.credential_factory
    if settings.graph is not None:
        graph = settings.graph

        def graph_reader() -> GraphReader:
            return GraphReader(graph, credential)

        found += graph_directory.jobs(graph_reader, graph.page_size)
        found.append(legacy_signins.signins(graph_reader, settings.signin_lookback, graph.page_size, clock))
        found.append(intune.compliance(graph_reader, graph.page_size))
        if settings.attack_simulation:
            found += attack_simulation.jobs(graph_reader, graph.page_size)
    if settings.defender is not None:
        defender = settings.defender
        found += defender_devices.jobs(lambda: defender_reader(defender, credential), defender)
    if settings.arm is not None:
        arm = settings.arm
        found += azure_firewall_rules.jobs(lambda: arm_reader(arm, credential), settings.firewall_policies, arm)
    if settings.gophish is not None:
        found += gophish.jobs(settings.gophish)
    return found


async def take_snapshots(
    jobs: Sequence[EvidenceJob], snapshots: SnapshotStore, clock: Clock = lambda: datetime.now(UTC)
) -> SnapshotRun:
    run_id = uuid.uuid4().hex
    started = clock()
    entries = [await _take(job, snapshots, clock(), run_id) for job in jobs]
    return SnapshotRun(run_id, started, tuple(entries))


def snapshot_all(
    jobs: Sequence[EvidenceJob], snapshots: SnapshotStore, clock: Clock = lambda: datetime.now(UTC)
) -> SnapshotRun:
    """:func:`take_snapshots` for callers that are not async (the command line)."""
    return asyncio.run(take_snapshots(jobs, snapshots, clock))


async def _take(job: EvidenceJob, snapshots: SnapshotStore, taken_at: datetime, run_id: str) -> SnapshotEntry:
    converter = PageConverter(job.columns)
    try:
        with snapshots.writer(job.source, taken_at, converter.schema, run_id) as writer:
            async with aclosing(job.pages()) as pages:
                async for records in pages:
                    writer.write(converter.table(records))
            for note in converter.notes():
                writer.note(note)
            return writer.commit()
    except (GraphFailure, RestFailure) as exc:
        log.warning("evidence %s not collected: %s", job.source, exc)
        return snapshots.record_failure(job.source, taken_at, run_id, str(exc), exc.status)
    except Exception as exc:  # one source's surprise must not cost the others their snapshot
        log.exception("evidence %s failed unexpectedly", job.source)
        reason = f"unexpected {type(exc).__name__} while reading {job.source}: {exc}"
        return snapshots.record_failure(job.source, taken_at, run_id, reason)
    finally:
        converter.close()
