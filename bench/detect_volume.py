"""Detection at volume: seconds, events/s, peak RSS and alert counts, first and second run, per store.

    .venv/bin/python bench/detect_volume.py [--workloads la-1m,scenario-1m,scenario-10m]
        [--es-url http://127.0.0.1:9200] [--repeat 3] [--dir /tmp/cyberwell-detect-bench]

Workloads (issue 11, point 8):
- ``la-1m``: 1,000,000 Log Analytics sign-ins from ``/work/shared/tools/gen_la_signins.py`` (heavy on
  legacy protocols: half a million alert groups), the 18 SigmaHQ ``cloud/azure`` sign-in rules only;
- ``scenario-1m``, ``scenario-10m``: the demo scenario (``scenario.generate``) at that size, every
  shipped rule.

Each workload is ingested once under ``--dir`` (``cyberwell ingest``, one process per file) and
reused by later runs; the state database as the ingest left it is kept beside the home, so a
"first" run starts with no alerts and the "second" run repeats the same window over the first's.
Every figure is one ``cyberwell detect --json`` in a fresh process: ``detect s`` is the engine's
own (``seconds`` in its report: loading rules, the store's work, writing alerts), ``wall s`` the
whole process, ``peak MiB`` its maximum RSS. The median of ``--repeat`` runs is printed, with the
1-minute load average before them (the machine may be shared). With ``--es-url`` the workloads in
``--es-workloads`` also run on Elasticsearch (ingested once under their own index prefix).

Goals on a 2-core machine: la-1m first and second run <= 1.5 s and <= 1 GiB; scenario-10m <= 15 s;
on Elasticsearch, scenario-1m within 3x the embedded store's time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LA_GENERATOR = Path("/work/shared/tools/gen_la_signins.py")
SIGNIN_RULES = REPO / "rules" / "sigmahq" / "rules" / "cloud" / "azure"

CHILD = """
import json, resource, sys, time
began = time.perf_counter()
sys.path.insert(0, {repo!r})
from typer.testing import CliRunner
from console.cli import app
result = CliRunner().invoke(app, json.loads(sys.argv[1]), catch_exceptions=False)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"wall": time.perf_counter() - began, "rss_mib": usage.ru_maxrss / 1024,
                  "exit": result.exit_code, "output": json.loads(result.output)}}))
"""


def cyberwell(args: list[str]) -> dict:
    """One cyberwell command in a fresh process: its time and peak RSS are its own."""
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(repo=str(REPO)), json.dumps(args)], capture_output=True, text=True, cwd=REPO
    )
    if out.returncode != 0:
        raise SystemExit(f"cyberwell {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    run = json.loads(out.stdout.strip().splitlines()[-1])
    run["process"] = time.perf_counter() - began  # with the interpreter's start-up
    return run


class Workload:
    """Inputs, rule folders and window of one workload, ingested once into a home per store."""

    def __init__(self, name: str, root: Path):
        self.name, self.root = name, root / name
        self.kind, size = name.split("-")
        self.size = int(size.rstrip("m")) * 1_000_000
        self.window: list[str] = []

    def inputs(self) -> list[tuple[Path, str]]:
        """(file, source kind) to ingest; generated once."""
        if self.kind == "la":
            path = self.root / "la.ndjson"
            if not path.exists():
                self.root.mkdir(parents=True, exist_ok=True)
                subprocess.run([sys.executable, str(LA_GENERATOR), str(self.size), str(path)], check=True)
            return [(path, "entra-signins-la")]
        sys.path.insert(0, str(REPO))
        from scenario import generate

        manifest = generate(self.root / "inputs", size=self.size, seed=7)
        (self.root / "window.json").write_text(json.dumps([manifest.start.isoformat(), manifest.end.isoformat()]))
        return [(Path(item.path), item.kind) for item in manifest.files]

    def _window(self) -> list[str]:
        """The scenario's window (the LA workload's is the data's whole range: no window given)."""
        saved = self.root / "window.json"
        if self.kind == "la" or not saved.exists():
            return []
        start, end = json.loads(saved.read_text())
        return ["--from", start, "--to", end]

    def home(self, store: str, es_url: str | None) -> Path:
        """The workload's home on ``store``, ingested on first use; its clean state kept beside it."""
        home = self.root / f"home-{store}"
        clean = self.root / f"state-{store}.ingested"
        if clean.exists():
            self.window = self._window()
            return home
        inputs = self.inputs()
        self.window = self._window()
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        config = f'[detections]\nrule_dirs = ["{SIGNIN_RULES}"]\n' if self.kind == "la" else ""
        if store == "elasticsearch":
            prefix = f"bench-{self.name}-"
            config += f'\n[store]\nbackend = "elasticsearch"\n\n[store.elasticsearch]\nhosts = ["{es_url}"]\n'
            config += f'index_prefix = "{prefix}"\n'
        (home / "cyberwell.toml").write_text(config)
        began = time.perf_counter()
        events = 0
        for path, kind in inputs:
            events += cyberwell(["--home", str(home), "ingest", str(path), "--source", kind, "--json"])["output"][
                "ingested"
            ]
        print(f"{self.name} on {store}: ingested {events:,} events in {time.perf_counter() - began:.0f}s")
        shutil.copy(home / "state.sqlite", clean)
        return home


def first_run_state(home: Path, clean: Path) -> None:
    """The state as the ingest left it: no alerts, no runs."""
    for leftover in home.glob("state.sqlite*"):
        leftover.unlink()
    shutil.copy(clean, home / "state.sqlite")


def detect(home: Path, window: list[str]) -> dict:
    return cyberwell(["--home", str(home), "detect", *window, "--json"])


def measure(workload: Workload, store: str, es_url: str | None, repeat: int) -> list[dict]:
    """Median first and second run over ``repeat`` rounds (each round from the clean state)."""
    home = workload.home(store, es_url)
    clean = workload.root / f"state-{store}.ingested"
    rounds: dict[str, list[dict]] = {"first": [], "second": []}
    load = os.getloadavg()[0]
    for _ in range(repeat):
        first_run_state(home, clean)
        rounds["first"].append(detect(home, workload.window))
        rounds["second"].append(detect(home, workload.window))
    return [_summary(workload, store, run, runs, load) for run, runs in rounds.items()]


def _summary(workload: Workload, store: str, run: str, runs: list[dict], load: float) -> dict:
    median = sorted(runs, key=lambda r: r["output"]["seconds"])[len(runs) // 2]
    report = median["output"]
    events = max(r["matched"] for r in report["rules"]) if report["rules"] else 0
    slowest = sorted(report["rules"], key=lambda r: -r["seconds"])[:3]
    return {
        "workload": workload.name,
        "store": store,
        "run": run,
        "detect_s": statistics.median(r["output"]["seconds"] for r in runs),
        "wall_s": statistics.median(r["process"] for r in runs),
        "peak_mib": statistics.median(r["rss_mib"] for r in runs),
        "events_per_s": workload.size / report["seconds"],
        "most_matched": events,
        "new": report["alerts_new"],
        "updated": sum(r["updated"] for r in report["rules"]),
        "held_back": report["alerts_held_back"],
        "failed": [r["title"] for r in report["rules"] if r["status"] == "failed"],
        "slowest": [(r["title"], round(r["seconds"], 3)) for r in slowest],
        "load": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="la-1m,scenario-1m,scenario-10m")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cyberwell-detect-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="rounds per figure; the median is printed")
    parser.add_argument("--es-url", help="also run on this Elasticsearch node")
    parser.add_argument("--es-workloads", default="scenario-1m", help="the workloads run on Elasticsearch too")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON lines")
    args = parser.parse_args()

    rows = []
    for name in args.workloads.split(","):
        workload = Workload(name.strip(), args.dir)
        stores = ["embedded"] + (["elasticsearch"] if args.es_url and name in args.es_workloads.split(",") else [])
        for store in stores:
            rows += measure(workload, store, args.es_url, args.repeat)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(
        f"\n{'workload':14} {'store':13} {'run':6} {'detect s':>8} {'wall s':>7} {'events/s':>11} {'peak MiB':>8} "
        f"{'new':>5} {'updated':>7} {'held back':>9} {'load':>5}"
    )
    for row in rows:
        print(
            f"{row['workload']:14} {row['store']:13} {row['run']:6} {row['detect_s']:>8.2f} {row['wall_s']:>7.2f} "
            f"{row['events_per_s']:>11,.0f} {row['peak_mib']:>8,.0f} {row['new']:>5} {row['updated']:>7} "
            f"{row['held_back']:>9,} {row['load']:>5.2f}"
        )
    for row in rows:
        if row["failed"]:
            print(f"{row['workload']} on {row['store']}: failed rules: {row['failed']}")
    print("\nslowest rules (first run): ")
    for row in rows:
        if row["run"] == "first":
            print(f"  {row['workload']} {row['store']}: " + ", ".join(f"{t} {s}s" for t, s in row["slowest"]))


if __name__ == "__main__":
    main()
