"""The latest Cyber Essentials Plus report, recorded in the home for whoever asks "where do we
stand?" without judging every requirement again: the dashboard's overview reads it.

``record_latest`` is called wherever a CE+ report is written (``cyberwell report ce-plus``, the
demo), so the record always describes the newest report: when it was written, its period, how
many requirements got each verdict, the automatic fails and where its files are. The file is
written to a temporary name and renamed, so a reader never sees half of it. ``read_latest``
never raises for a bad file: a missing record is ``None`` (no report yet) and an unreadable one
is a ``LatestUnreadable`` naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader (the dashboard) must not load the catalogue and the judge
    from reports.ce_plus_run import CePlusReport

#: Where a home keeps the record, beside the demo's reports.
LATEST_FILE = Path("reports") / "ce-plus-latest.json"
KIND = "cyberwell.ce-plus-latest"
VERSION = 1


@dataclass(frozen=True)
class AutomaticFail:
    id: str
    summary: str


@dataclass(frozen=True)
class LatestReport:
    """What the newest CE+ report found, and where it is."""

    generated_at: datetime
    period_start: datetime
    period_end: datetime
    verdicts: tuple[tuple[str, int], ...]  # (verdict, requirements), as the judge names them
    automatic_fails: tuple[AutomaticFail, ...]  # failed automatic-fail requirements: the assessment fails
    folder: str
    files: tuple[str, ...]  # the files' names in ``folder``

    def count(self, verdict: str) -> int:
        return dict(self.verdicts).get(verdict, 0)


@dataclass(frozen=True)
class LatestUnreadable:
    """A record that is there but cannot be used: said as such, never taken for "no report"."""

    path: Path
    reason: str


def record_latest(home: Path, report: CePlusReport, files: Sequence[Path]) -> Path:
    """Record ``report`` (written as ``files``) as the home's latest CE+ report; the record's path."""
    document = report.document
    verdicts = Counter(judgement.verdict.value for judgement in report.judgements)
    fails = [
        {"id": str(j.requirement.id), "summary": str(j.requirement.summary)}
        for j in report.judgements
        if j.fails_assessment
    ]
    folder = files[0].resolve().parent if files else None
    record = {
        "kind": KIND,
        "version": VERSION,
        "generated_at": document.generated_at.isoformat(),
        "from": document.period_start.isoformat(),
        "to": document.period_end.isoformat(),
        "verdicts": dict(sorted(verdicts.items())),
        "automatic_fails": fails,
        "folder": "" if folder is None else str(folder),
        "files": [path.name for path in files],
    }
    path = home / LATEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return path


def read_latest(home: Path) -> LatestReport | LatestUnreadable | None:
    """The home's latest CE+ report; ``None`` when none was recorded; ``LatestUnreadable`` when
    the record cannot be read or is not what ``record_latest`` writes."""
    path = home / LATEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        return LatestUnreadable(path, f"cannot be read ({type(error).__name__}: {error})")
    try:
        return _parse(json.loads(text))
    except json.JSONDecodeError as error:
        return LatestUnreadable(path, f"is not JSON (line {error.lineno}: {error.msg})")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return LatestUnreadable(path, f"is not a CE+ record ({type(error).__name__}: {error})")


def _parse(data: dict) -> LatestReport:
    if data.get("kind") != KIND or data.get("version") != VERSION:
        raise ValueError(f"expected kind {KIND!r} version {VERSION}, got {data.get('kind')!r} {data.get('version')!r}")
    verdicts = data["verdicts"]
    if not all(isinstance(name, str) and isinstance(n, int) for name, n in verdicts.items()):
        raise ValueError("verdicts: expected a count for each verdict")
    return LatestReport(
        generated_at=datetime.fromisoformat(data["generated_at"]),
        period_start=datetime.fromisoformat(data["from"]),
        period_end=datetime.fromisoformat(data["to"]),
        verdicts=tuple(verdicts.items()),
        automatic_fails=tuple(AutomaticFail(str(f["id"]), str(f["summary"])) for f in data["automatic_fails"]),
        folder=str(data["folder"]),
        files=tuple(str(name) for name in data["files"]),
    )
