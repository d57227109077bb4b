"""How scheduled detection is doing, as a person asks: the recent runs, the open gaps and how far
the schedule groups have run (``cyberwell detect runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.state.alert_record import iso
from store.state.schedule import DetectionRun, Gap, ScheduleBook


@dataclass(frozen=True)
class DetectionRunListing:
    runs: tuple[DetectionRun, ...]  # newest first
    runs_total: int
    gaps: tuple[Gap, ...]  # oldest first
    gaps_total: int
    groups: int  # schedule groups that have a watermark
    oldest_watermark: datetime | None  # the group furthest behind has run up to here
    newest_watermark: datetime | None

    @property
    def runs_held_back(self) -> int:
        return self.runs_total - len(self.runs)

    @property
    def gaps_held_back(self) -> int:
        return self.gaps_total - len(self.gaps)

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell detect runs --json`` prints it."""
        return {
            "runs": [run.to_dict() for run in self.runs],
            "runs_total": self.runs_total,
            "gaps": [gap.to_dict() for gap in self.gaps],
            "gaps_total": self.gaps_total,
            "groups": self.groups,
            "oldest_watermark": iso(self.oldest_watermark) if self.oldest_watermark else None,
            "newest_watermark": iso(self.newest_watermark) if self.newest_watermark else None,
        }


def detection_runs(store, limit: int = 20) -> DetectionRunListing:
    """The newest ``limit`` runs and the oldest ``limit`` open gaps, with their totals."""
    book = ScheduleBook(store.state)
    runs, runs_total = book.runs(limit)
    gaps, gaps_total = book.gaps(limit)
    marks = list(book.watermarks().values())
    return DetectionRunListing(
        runs=tuple(runs),
        runs_total=runs_total,
        gaps=tuple(gaps),
        gaps_total=gaps_total,
        groups=len(marks),
        oldest_watermark=min(marks) if marks else None,
        newest_watermark=max(marks) if marks else None,
    )
