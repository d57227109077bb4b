"""The main job on the demo scenario: generate, ingest through the parsers, detect, show.

Safe to run again on the same home: the generator is deterministic, ingest is idempotent
(the second run counts duplicates, stores nothing twice) and alert ids are deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from collectors.replay import IngestResult, ingest
from console import render
from console.config import Config
from store import EmbeddedStore

SEVERITY_ORDER = ["informational", "low", "medium", "high", "critical"]


@dataclass
class DemoOutcome:
    scenario_dir: Path
    ingest: dict[str, IngestResult]
    report: object  # detections.DetectionReport
    alerts: list = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "scenario": str(self.scenario_dir),
            "ingest": {kind: result.to_dict() for kind, result in self.ingest.items()},
            "detections": self.report.to_dict(),
            "alerts": [alert.to_dict() for alert in self.alerts],
            "seconds": self.seconds,
        }

    def show(self, console) -> None:

        console.print(
            render.table(
                "Ingested",
                ["source", "events", "duplicates", "quarantined"],
                [(kind, r.ingested, r.duplicates, r.quarantined) for kind, r in self.ingest.items()],
            )
        )
        serious = [a for a in self.alerts if SEVERITY_ORDER.index(a.severity) >= SEVERITY_ORDER.index("high")]
        console.print(render.alerts_table(serious, title="Alerts of high severity and above, most severe first"))
        per_rule: dict[tuple[str, str], int] = {}
        for alert in self.alerts:
            per_rule[(alert.severity, alert.rule_title)] = per_rule.get((alert.severity, alert.rule_title), 0) + 1
        console.print(
            render.table(
                "All alerts by rule",
                ["severity", "rule", "alerts"],
                [
                    (render.severity(level), title, n)
                    for (level, title), n in sorted(
                        per_rule.items(), key=lambda item: (-SEVERITY_ORDER.index(item[0][0]), -item[1])
                    )
                ],
            )
        )
        by_severity = {level: 0 for level in SEVERITY_ORDER}
        for alert in self.alerts:
            by_severity[alert.severity] = by_severity.get(alert.severity, 0) + 1
        counts = ", ".join(f"{n} {level}" for level, n in reversed(by_severity.items()) if n)
        report = self.report.to_dict()
        console.print(
            render.Text(
                f"{len(self.alerts)} alerts ({counts or 'none'}) from {len(report['rules'])} rules; "
                f"{len(report['problems'])} rules could not run (cyberwell rules list). "
                f"Ingest {self.seconds['ingest']:.1f}s, detect {self.seconds['detect']:.1f}s. "
                f"Data in {self.scenario_dir.parent.parent}."
            )
        )


def run_demo(cfg: Config, size: int, seed: int, progress=None, store=None) -> DemoOutcome:
    """``store`` is the event store to fill (the CLI opens the configured one); by default the
    embedded store in the home."""
    from detections import run_detections
    from scenario import generate
    from store.alerts import list_alerts

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
    report = run_detections(store, list(cfg.rule_dirs), manifest.start, manifest.end)
    seconds["detect"] = time.perf_counter() - clock

    alerts = list_alerts(store.state, limit=10_000)
    alerts = [a for a in alerts if manifest.start <= a.first_seen < manifest.end]
    alerts.sort(key=lambda a: (-SEVERITY_ORDER.index(a.severity), a.first_seen))
    return DemoOutcome(scenario_dir, results, report, alerts, seconds)
