"""Writing the demo council's evidence: every source, every week, as snapshots in the home.

Each snapshot's run id is derived from the seed, the size, the source and its time, so a second
run finds what the first wrote in the manifest and writes only what is missing: the same seed
gives the same snapshots, never two of one source at one time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from store.snapshots import SnapshotStore

from .council import build_council
from .estate.plan import EstateSize, snapshot_times
from .story import EvidenceStory, tell
from .tables.schemas import SCHEMAS


@dataclass(frozen=True)
class EvidenceSummary:
    """What :func:`write_demo_evidence` did, and the gaps the last week's snapshots show."""

    home: Path
    seed: int
    at: datetime
    taken_at: tuple[datetime, ...]  # the weekly snapshot times, oldest first
    written: int  # snapshots written by this call
    already_there: int  # snapshots a previous call had written, left as they were
    rows: dict[str, int]  # rows of each source's last snapshot
    story: EvidenceStory

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.rows)


def write_demo_evidence(home: Path, seed: int, at: datetime, size: EstateSize | None = None) -> EvidenceSummary:
    """Write the demo council's evidence into ``home``: a snapshot of every source each week for
    ``size.weeks`` weeks, the last at ``at``. Safe to run again: what is there stays as it is."""
    size = size or EstateSize()
    times = snapshot_times(at, size.weeks)
    council = build_council(seed, size, times)
    store = SnapshotStore(Path(home))
    done = {(e.source, e.run_id) for e in store.entries()}
    written = kept = 0
    for week, taken_at in enumerate(times):
        for source, build in council.builders().items():
            run_id = _run_id(seed, size, source, taken_at)
            if (source, run_id) in done:
                kept += 1
                continue
            with store.writer(source, taken_at, SCHEMAS[source], run_id) as writer:
                writer.write(build(week, taken_at))
                writer.commit()
            written += 1
    mine = {_run_id(seed, size, source, times[-1]): source for source in council.builders()}
    rows = {mine[e.run_id]: e.rows for e in store.entries() if e.run_id in mine}
    return EvidenceSummary(Path(home), seed, times[-1], times, written, kept, rows, tell(council))


def _run_id(seed: int, size: EstateSize, source: str, taken_at: datetime) -> str:
    text = f"demo-evidence:{seed}:{size}:{source}:{taken_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
