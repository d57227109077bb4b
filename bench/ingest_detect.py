"""Whole-process ingest speed per source format, all shipped rules over the window, peak memory.

    .venv/bin/python bench/ingest_detect.py --events 1000000

Scenario: ``--events`` N sign-ins as Graph NDJSON and as Log Analytics rows (CSV and NDJSON,
from bench/parse_signins.py's generator), and the demo scenario at size N (firewall, syslog,
Defender and the rest). Each format is ingested by ``cyberwell ingest`` in its own process into a
fresh store, so each figure is parse + normalise + write, whole process, and each peak RSS is
that process's own. Then every scenario file goes into one store and ``cyberwell detect`` runs
all shipped rules over the scenario's window; the seconds printed are the detection run's own
(``seconds`` in its report) and the process's wall time. Goals (issue 2, N = 1,000,000, 2 cores):
ingest >= 250,000 events/s for Graph NDJSON and LA rows, all rules <= 2 s, peak RSS <= 1 GiB.

The machine may be shared: each ingest also prints the process's CPU seconds (user + system),
which other load inflates far less than wall time, and the load average when it ran;
``--repeat`` runs each ingest that many times and keeps the best wall time. ``--skip-detect``
and ``--formats`` narrow a run to the ingests being worked on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from typer.testing import CliRunner
from console.cli import app
args = json.loads(sys.argv[1])
clock = time.perf_counter()
result = CliRunner().invoke(app, args, catch_exceptions=False)
seconds = time.perf_counter() - clock
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": seconds, "rss_mib": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime,
                  "exit": result.exit_code, "output": json.loads(result.output)}}))
"""


def cyberwell(args: list[str]) -> dict:
    """Run one cyberwell command in a fresh process; its time and peak RSS are its own."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(repo=str(REPO)), json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"cyberwell {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cyberwell-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per ingest; the best wall time is shown")
    parser.add_argument("--formats", help="only the ingests whose label contains one of these (comma-separated)")
    parser.add_argument("--skip-detect", action="store_true", help="ingests only")
    args = parser.parse_args()

    import parse_signins

    from scenario import generate

    inputs = args.dir / f"inputs-{args.events}-{args.seed}"
    clock = time.perf_counter()
    signins = parse_signins.generate(inputs / "signins", args.events, seed=args.seed)
    formats = [
        ("Graph sign-in NDJSON", "entra-signins", [signins["graph.ndjson"]]),
        ("Log Analytics rows, CSV", "entra-signins-la", [signins["la.csv"]]),
        ("Log Analytics rows, NDJSON", "entra-signins-la", [signins["la.ndjson"]]),
    ] + [(f"scenario {kind}", kind, None) for kind in ("azure-firewall", "syslog", "defender-alerts")]
    if args.formats:
        wanted = [w.strip().lower() for w in args.formats.split(",")]
        formats = [f for f in formats if any(w in f[0].lower() for w in wanted)]
    manifest = None
    if not args.skip_detect or any(paths is None for _, _, paths in formats):
        manifest = generate(inputs / "scenario", size=args.events, seed=args.seed)
        formats = [
            (label, kind, paths if paths is not None else [Path(p) for p in manifest.files_of(kind)])
            for label, kind, paths in formats
        ]
    print(f"inputs ready in {time.perf_counter() - clock:.1f}s under {inputs}")
    print(
        f"\n{'format':32} {'events':>10} {'seconds':>8} {'events/s':>10} {'peak RSS MiB':>13} {'CPU s':>6} {'load':>5}"
    )
    for label, kind, paths in formats:
        home = args.dir / "homes" / label.replace(" ", "_").replace(",", "")
        runs = []
        for _ in range(args.repeat):
            shutil.rmtree(home, ignore_errors=True)
            load = os.getloadavg()[0]
            runs.append(
                (cyberwell(["--home", str(home), "ingest", *map(str, paths), "--source", kind, "--json"]), load)
            )
        run, load = min(runs, key=lambda r: r[0]["seconds"])
        events = run["output"]["ingested"]
        print(
            f"{label:32} {events:>10,} {run['seconds']:>8.2f} {events / run['seconds']:>10,.0f} "
            f"{run['rss_mib']:>13,.0f} {run['cpu']:>6.1f} {load:>5.1f}"
        )
    if args.skip_detect:
        return

    home = args.dir / "homes" / "scenario"
    shutil.rmtree(home, ignore_errors=True)
    total = 0
    for item in manifest.files:
        total += cyberwell(["--home", str(home), "ingest", str(item.path), "--source", item.kind, "--json"])["output"][
            "ingested"
        ]
    window = ["--from", manifest.start.isoformat(), "--to", manifest.end.isoformat()]
    run = cyberwell(["--home", str(home), "detect", *window, "--json"])
    report = run["output"]
    failed = [r["title"] for r in report["rules"] if r["status"] == "failed"]
    running = sum(rule["seconds"] for rule in report["rules"])
    print(
        f"\nall shipped rules ({len(report['rules'])}) over {total:,} scenario events: "
        f"{running:.2f}s running the rules, {report['seconds']:.2f}s in the engine with loading and "
        f"storing alerts, {run['seconds']:.2f}s whole command, "
        f"peak RSS {run['rss_mib']:,.0f} MiB, {report['alerts_new']} alerts, failed: {failed or 'none'}"
    )
    slowest = sorted(report["rules"], key=lambda r: -r["seconds"])[:5]
    print("slowest rules: " + ", ".join(f"{r['title']} {r['seconds']:.2f}s" for r in slowest))


if __name__ == "__main__":
    main()
