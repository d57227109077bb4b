"""The main job on the demo scenario: generate, ingest through the parsers, detect, run the
playbooks in dry run, write the compliance reports, show.

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
from queries.playbook_runs import RunFilter, RunListing, list_runs
from store import EmbeddedStore, Store

if TYPE_CHECKING:  # pySigma loads with detections: only when the demo runs
    from detections import DetectionReport


@dataclass
class DemoOutcome:
    scenario_dir: Path
    ingest: dict[str, IngestResult]
    report: DetectionReport
    #: The alerts first seen in the scenario's week, most severe first.
    alerts: AlertListing
    #: The playbooks' dry runs over those alerts: one run of each playbook, and the counts.
    playbooks: RunListing
    reports: DemoReports
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
            "playbooks": self.playbooks.to_dict(),
            "reports": self.reports.to_dict(),
            "seconds": self.seconds,
        }


def run_demo(cfg: Config, size: int, seed: int, store: Store | None = None) -> DemoOutcome:
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
    # No on_saved: the demo's alerts never go to the SOC partner's webhook, whatever the config.
    rules = scheduled_rules(cfg, store)
    report = run_recorded(store, rules.groups, manifest.start, manifest.end, "manual", alert_defaults(cfg)).report
    assert report is not None  # a run that could not finish raised
    report.problems = rules.problems
    seconds["detect"] = time.perf_counter() - clock

    alerts = alerts_first_seen_between(store, manifest.start, manifest.end)
    clock = time.perf_counter()
    playbooks = dry_run_playbooks(cfg, store.state, alerts, rules.rule_ids)
    seconds["respond"] = time.perf_counter() - clock

    clock = time.perf_counter()
    reports = write_demo_reports(cfg.home, seed, manifest.end)
    seconds["report"] = time.perf_counter() - clock
    return DemoOutcome(scenario_dir, results, report, alerts, playbooks, reports, seconds)


@dataclass(frozen=True)
class DemoReports:
    """The two reports written from the demo council's evidence, and the CE+ verdicts in counts."""

    folder: Path
    files: tuple[Path, ...]
    verdicts: dict[str, int]
    #: Requirements whose failure fails the whole assessment (automatic fails), by id.
    automatic_fails: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "files": [str(path) for path in self.files],
            "verdicts": self.verdicts,
            "automatic_fails": list(self.automatic_fails),
        }


def write_demo_reports(home: Path, seed: int, end) -> DemoReports:
    """The council's compliance evidence (eight weekly snapshots up to the scenario's end, written
    once) and, from it, the Cyber Essentials Plus and awareness reports in ``home/reports/``, as
    of the scenario's end so a second demo writes the same reports."""
    from collections import Counter
    from datetime import timedelta

    from reports.awareness import awareness_document
    from reports.ce_plus_run import build_ce_plus
    from reports.latest import record_latest
    from reports.rendering.formats import FORMATS, write_report
    from scenario.evidence import write_demo_evidence

    evidence = write_demo_evidence(home, seed, end)
    start = evidence.taken_at[0] - timedelta(days=1)
    folder = home / "reports"
    ce_plus = build_ce_plus(home, start, end, now=end)
    files = write_report(ce_plus.document, folder, FORMATS, stem="ce-plus")
    record_latest(home, ce_plus, files)  # the dashboard's overview shows the latest CE+ report
    awareness = awareness_document(home, start, end, now=end)
    files += write_report(awareness, folder, FORMATS, stem="awareness")
    verdicts = Counter(judgement.verdict.value for judgement in ce_plus.judgements)
    failing = tuple(j.requirement.id for j in ce_plus.judgements if j.fails_assessment)
    return DemoReports(folder, tuple(files), dict(sorted(verdicts.items())), failing)


#: The demo council's response settings: every action turned on, so the dry runs say what each
#: would do in its tenant. Nothing is called: every demo run is a dry run, and none signs in.
DEMO_ACTIONS = {
    "graph": {},
    "defender": {},
    "azure_firewall": {
        "ip_group": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-wbdc-network"
        "/providers/Microsoft.Network/ipGroups/ipg-cyberwell-blocked"
    },
    "named_location": {"id": "5f0c2a8e-3b1d-4c6e-9a7f-2d8b1e4c6a90"},
    "teams": {"webhook_url_env": "CYBERWELL_DEMO_TEAMS_URL"},
    "email": {"sender": "cyberwell@westbrook-dc.gov.uk", "recipients": ["security@westbrook-dc.gov.uk"]},
}
DEMO_ENVIRONMENT = {"CYBERWELL_DEMO_TEAMS_URL": "https://wbdc.example.invalid/workflows/security-team"}


def dry_run_playbooks(cfg: Config, state, alerts: AlertListing, rule_ids: dict[str, str]) -> RunListing:
    """Every enabled playbook the scenario's alerts trigger, run as a dry run (queued once per
    alert, so a second demo finds them done), and the runs to show: one of each playbook."""
    import asyncio

    from console.response.loading import load_response
    from playbooks import PlaybookRunner, queue_runs
    from playbooks.actions.settings import ActionSettings

    response = load_response(
        cfg, state, rule_ids, environ=DEMO_ENVIRONMENT, settings=ActionSettings.from_dict(DEMO_ACTIONS)
    )
    queue_runs(state, response.playbooks, alerts.alerts, dry_run=True, actor="cyberwell demo")
    asyncio.run(PlaybookRunner(state, response.playbooks, response.actions, "cyberwell demo").run_due())
    which = RunFilter(dry_run=True, alert_ids=[alert.id for alert in alerts.alerts])
    return list_runs(state, which, limit=20, per_playbook=1)


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
