"""Making the Cyber Essentials Plus report from a Cyberwell home: load the catalogue and the
attestations, judge every requirement at the end of the period over the evidence snapshots,
read the trends over the period, build the document, and list what its evidence pack holds.

The command line calls :func:`build_ce_plus` and then writes the formats and the pack; the
demo and the benchmark call the same, so all three make the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reports.attestations import Attestation, load_attestations
from reports.catalogue import Catalogue, load_catalogue
from reports.ce_plus_document import CePlusInputs, ce_plus_document
from reports.checks.context import CheckContext, Thresholds
from reports.document import Document
from reports.judge import Judgement, judge
from reports.rendering.evidence_pack import PackFile, report_files
from reports.trends import trend_series
from store.snapshots import SnapshotEntry, SnapshotStore

#: Where a home keeps its attestations file, beside the evidence files it names.
ATTESTATIONS_FILE = Path("attestations") / "attestations.yaml"


@dataclass(frozen=True)
class CePlusReport:
    document: Document
    judgements: tuple[Judgement, ...]
    attestations: tuple[Attestation, ...]
    attestations_file: Path | None
    snapshots: SnapshotStore

    @property
    def evidence(self) -> tuple[SnapshotEntry, ...]:
        """Every snapshot a check read, once, oldest first."""
        found = {
            (e.source, e.taken_at, e.run_id): e for j in self.judgements for result in j.checks for e in result.evidence
        }
        return tuple(sorted(found.values(), key=lambda e: (e.taken_at, e.source)))


def build_ce_plus(
    home: Path,
    start: datetime,
    end: datetime,
    attestations_file: Path | None = None,
    catalogue: Catalogue | None = None,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> CePlusReport:
    """The report for [start, end], judged at ``end``. ``attestations_file`` defaults to the
    home's ``attestations/attestations.yaml`` when there is one; a broken file raises
    ``AttestationError`` naming every problem, rather than a report without them."""
    if end <= start:
        raise ValueError(f"the period is empty: --to {end.isoformat()} is not after --from {start.isoformat()}")
    catalogue = catalogue or load_catalogue()
    snapshots = SnapshotStore(home)
    chosen = attestations_file or _default_attestations(home)
    attestations = load_attestations(chosen, catalogue) if chosen is not None else ()
    judgements = judge(catalogue, CheckContext(snapshots, end, thresholds or Thresholds(), since=start), attestations)
    inputs = CePlusInputs(
        catalogue,
        judgements,
        trend_series(snapshots, start, end),
        attestations,
        start,
        end,
        now or datetime.now(UTC),
    )
    return CePlusReport(ce_plus_document(inputs), judgements, attestations, chosen, snapshots)


def pack_files(report: CePlusReport, rendered: list[Path], index: Path) -> list[PackFile]:
    """What the evidence pack holds: the rendered files, the snapshots' Parquet files and their
    manifest lines (written to ``index``), the attestations file and every evidence file it names."""
    files = report_files(rendered, report.evidence, report.snapshots.root, index)
    if report.attestations_file is not None:
        folder = report.attestations_file.parent
        files.append(PackFile(report.attestations_file, f"attestations/{report.attestations_file.name}"))
        named = {a.evidence for a in report.attestations}
        files += [PackFile(path, f"attestations/{path.relative_to(folder).as_posix()}") for path in sorted(named)]
    return files


def _default_attestations(home: Path) -> Path | None:
    path = home / ATTESTATIONS_FILE
    return path if path.is_file() else None
