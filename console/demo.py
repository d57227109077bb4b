"""The main job on the demo scenario: generate, ingest through the parsers, detect, show.

Safe to run again on the same home: the generator is deterministic, ingest is idempotent
(the second run counts duplicates, stores nothing twice) and alert ids are deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.replay import IngestResult, ingest
from console.config import Config
from queries.alert_summary import AlertSummary, summarise_alerts
from queries.alerts import AlertListing, alerts_first_seen_between
from store import EmbeddedStore

if TYPE_CHECKING:  # pySigma loads with detections: only when the demo runs
    from detections import DetectionReport


@dataclass
class DemoOutcome:
    scenario_dir: Path
    ingest: dict[str, IngestResult]
    report: DetectionReport
    #: The alerts first seen in the scenario's week, most severe first.
    alerts: AlertListing
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> AlertSummary:
        return summarise_alerts(self.alerts.alerts)

    def to_dict(self) -> dict[str, object]:
        return {
            "scenario": str(self.scenario_dir),
            "ingest": {kind: result.to_dict() for kind, result in self.ingest.items()},
            "detections": self.report.to_dict(),
            "alerts": [alert.to_dict() for alert in self.alerts.alerts],
            "seconds": self.seconds,
        }


def run_demo(cfg: Config, size: int, seed: int, progress=None, store=None) -> DemoOutcome:
    """``store`` is the event store to fill (the CLI opens the configured one); by default the
    embedded store in the home."""
    from console.session import alert_defaults, scheduled_rules
    from detections.scheduling.scheduler import run_recorded
    from scenario import generate

    store = store if store is not None else EmbeddedStore(cfg.home)
    scenario_dir = cfg.home / "demo" / f"scenario-{size}-{seed}"
    clock = time.perf_counter()
    manifest = generate(scenario_dir, size=size, seed=seed)
    seconds = {"generate": time.perf_counter() - clock}

    clock = time.perf_counter()
    results: dict[str, IngestResult] = {}
    for item in manifest.files:
        result = ingest(store, [Path(item.path)], item.kind)
        merged = results.setdefault(item.kind, IngestResult())
        merged.ingested += result.ingested
        merged.duplicates += result.duplicates
        merged.quarantined += result.quarantined
        merged.files.extend(result.files)
    seconds["ingest"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _install_demo_exceptions(cfg.home)
    # As `detect` runs: the config's exceptions and defaults, and a run kept in the history.
    groups, problems = scheduled_rules(cfg, store)
    report = run_recorded(store, groups, manifest.start, manifest.end, "manual", alert_defaults(cfg)).report
    assert report is not None  # a run that could not finish raised
    report.problems = problems
    seconds["detect"] = time.perf_counter() - clock

    alerts = alerts_first_seen_between(store, manifest.start, manifest.end)
    return DemoOutcome(scenario_dir, results, report, alerts, seconds)


def _install_demo_exceptions(home: Path) -> None:
    """Put the demo council's own exceptions in the home's exceptions folder, where ``detect``
    reads them too, so a later ``detect`` in this home tunes the council's traffic the same way.
    A file already there is the person's: it is left as it is."""
    from detections import DEMO_EXCEPTIONS, EXCEPTIONS_FOLDER

    folder = home / EXCEPTIONS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(DEMO_EXCEPTIONS.glob("*.yml")):
        target = folder / f"demo-{source.name}"
        if not target.exists():
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
