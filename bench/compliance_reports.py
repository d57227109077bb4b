"""How long the compliance reports take on a large tenant, and their peak memory.

    .venv/bin/python bench/compliance_reports.py            # 5,000 users, 6,000 devices, 1,000,000 sign-ins

The tenant (issue 13, point 7): the demo council's evidence generator (``scenario.evidence``) at
``--users`` people and ``--devices`` devices, eight weekly snapshots of every source, each week's
sign-in snapshot holding ``--signins`` sign-ins (the one the legacy-authentication check reads);
and the same number of sign-ins in the embedded event store, from the scenario generator's Graph
export through ``cyberwell ingest`` (``--skip-store`` leaves that out: no report reads it yet).
The inputs are kept in ``--dir`` and reused.

Then, ``--repeat`` times, each in a fresh process (so its peak RSS is its own): judging every
requirement of Cyber Essentials v3.3 (``reports.judge``), the CE+ report built and rendered as
HTML, Markdown and JSON (``reports.ce_plus_run``, ``reports.rendering``), and the awareness
report built and rendered. Printed: seconds of each step and of the whole, peak RSS, CPU seconds
and the load average; the median of the runs. Goals: whole <= 10 s, peak <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: The scenario's default week ends here; the evidence's last snapshot is that morning.
AT = datetime(2025, 6, 16, 6, 0, tzinfo=UTC)

CHILD = """
import json, resource, sys, time
from datetime import datetime, timedelta
from pathlib import Path
sys.path.insert(0, {repo!r})
home, out, at = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
clock = time.perf_counter()
steps = {{}}
from reports.awareness.report import awareness_document
from reports.catalogue import load_catalogue
from reports.ce_plus_run import build_ce_plus
from reports.checks.context import CheckContext
from reports.judge import judge
from reports.rendering.formats import write_report
from store.snapshots import SnapshotStore
steps["import"] = time.perf_counter() - clock
mark = time.perf_counter()
judged = judge(load_catalogue(), CheckContext(SnapshotStore(home), at))
steps["judge every requirement"] = time.perf_counter() - mark
mark = time.perf_counter()
start = at - timedelta(weeks=8)
report = build_ce_plus(home, start, at, now=at)
written = write_report(report.document, out, ["html", "md", "json"])
steps["CE+ report, built and rendered"] = time.perf_counter() - mark
mark = time.perf_counter()
written += write_report(awareness_document(home, start, at, now=at), out, ["html", "md", "json"])
steps["awareness report, built and rendered"] = time.perf_counter() - mark
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"steps": steps, "seconds": time.perf_counter() - clock, "rss_mib": usage.ru_maxrss / 1024,
                  "cpu": usage.ru_utime + usage.ru_stime, "requirements": len(judged),
                  "failed": sorted(j.requirement.id for j in judged if j.verdict == "fail"),
                  "bytes": sum(p.stat().st_size for p in written)}}))
"""


def prepare_evidence(home: Path, users: int, devices: int, signins: int, seed: int) -> None:
    from scenario.evidence import EstateSize, write_demo_evidence

    clock = time.perf_counter()
    size = EstateSize(users=users, devices=devices, signins_per_week=signins)
    summary = write_demo_evidence(home, seed, AT, size)
    print(
        f"evidence: {summary.written} snapshots written, {summary.already_there} already there, "
        f"{summary.rows['graph.users']:,} accounts, {summary.story.devices:,} devices, "
        f"{summary.rows['graph.signins']:,} sign-ins in the last week's snapshot ({time.perf_counter() - clock:.1f}s)"
    )


def prepare_store(home: Path, inputs: Path, signins: int, seed: int) -> None:
    """``signins`` Graph sign-ins of the scenario in the home's embedded store, once."""
    done = home / ".bench-signins-ingested"
    if done.exists():
        print(f"event store: {done.read_text().strip()} (kept from an earlier run)")
        return
    from scenario import generate
    from scenario.formats.writers import SIGNIN_SHARE

    clock = time.perf_counter()
    manifest = generate(inputs, size=math.ceil(signins / SIGNIN_SHARE), seed=seed)
    files = [str(p) for p in manifest.files_of("entra-signins")]
    command = [sys.executable, "-m", "console.cli", "--home", str(home), "ingest", *files, "--source", "entra-signins"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"ingest failed:\n{result.stderr[-3000:]}")
    ingested = json.loads(result.stdout)["ingested"]
    done.write_text(f"{ingested:,} sign-ins ingested\n")
    print(f"event store: {ingested:,} sign-ins ingested ({time.perf_counter() - clock:.1f}s)")


def run_once(home: Path, out: Path) -> dict:
    load = os.getloadavg()[0]
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(home), str(out), AT.isoformat()],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if result.returncode != 0:
        raise SystemExit(f"the reports failed:\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    found["load"] = load
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--devices", type=int, default=6_000)
    parser.add_argument("--signins", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cyberwell-bench-compliance"))
    parser.add_argument("--skip-store", action="store_true", help="no sign-ins in the event store")

    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)  # the inputs only, in a child
    args = parser.parse_args()

    home = args.dir / f"home-{args.users}-{args.devices}-{args.signins}-{args.seed}"
    if args.prepare:
        prepare_evidence(home, args.users, args.devices, args.signins, args.seed)
        if not args.skip_store:
            prepare_store(home, args.dir / f"scenario-{args.signins}-{args.seed}", args.signins, args.seed)
        return
    # The inputs are made in a process of their own: Linux keeps a process's peak RSS across
    # fork and exec, so a parent grown by the generator would lend its peak to every report run.
    subprocess.run([sys.executable, __file__, "--prepare", *sys.argv[1:]], check=True, cwd=REPO)

    runs = [run_once(home, args.dir / "reports") for _ in range(args.repeat)]
    print(f"\n{'run':>4} {'seconds':>8} {'peak RSS MiB':>13} {'CPU s':>6} {'load':>5}")
    for number, run in enumerate(runs, 1):
        print(f"{number:>4} {run['seconds']:>8.2f} {run['rss_mib']:>13,.0f} {run['cpu']:>6.1f} {run['load']:>5.1f}")
    print(f"\nmedian of {len(runs)} runs:")
    for step in runs[0]["steps"]:
        print(f"  {step:40} {statistics.median(r['steps'][step] for r in runs):>6.2f} s")
    seconds = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["rss_mib"] for r in runs)
    print(f"  {'whole process after start-up':40} {seconds:>6.2f} s   (goal <= 10 s)")
    print(f"  {'peak RSS':40} {rss:>6,.0f} MiB (goal <= 1,024 MiB)")
    last = runs[-1]
    print(
        f"{last['requirements']} requirements judged; failing: {', '.join(last['failed'])}; "
        f"{last['bytes']:,} bytes of reports in {args.dir / 'reports'}"
    )


if __name__ == "__main__":
    main()
