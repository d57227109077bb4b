"""Live records to events: in memory (``parse_records``) against the old route through a file.

The live collectors used to write each Graph page (and each Log Analytics answer) to a temporary
NDJSON file and parse the file. This measures both ways on the same records, per format, for one
page of 1,000 records and for a run of 100,000 (100 pages of 1,000), each measure in a fresh
process, median of ``--repeat`` runs::

    .venv/bin/python bench/live_records.py                # all formats, both sizes, both routes
    .venv/bin/python bench/live_records.py --format entra-signins --repeat 5

Printed: records/s, seconds (parsing only: making the records is not timed) and the process's
peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from collectors.formats import azure_firewall, defender_alerts  # noqa: E402
from collectors.formats.signins import entra_signins  # noqa: E402

FORMATS = {"entra-signins": entra_signins, "defender-alerts": defender_alerts, "azure-firewall": azure_firewall}
PAGE = 1_000
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _when(n: int) -> str:
    return (START + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signin(n: int) -> dict:
    return {
        "id": f"0b5c{n:028x}",
        "createdDateTime": _when(n),
        "userDisplayName": f"User {n % 500}",
        "userPrincipalName": f"user{n % 500}@council.example.gov.uk",
        "userId": f"u-{n % 500}",
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": f"81.2.{n % 250}.{n % 199}",
        "clientAppUsed": "Browser",
        "isInteractive": True,
        "status": {"errorCode": 0 if n % 9 else 50126, "failureReason": None if n % 9 else "Invalid password"},
        "location": {"city": "Leeds", "state": "West Yorkshire", "countryOrRegion": "GB"},
        "deviceDetail": {"deviceId": "", "operatingSystem": "Windows10", "browser": "Edge 120", "isCompliant": False},
        "appliedConditionalAccessPolicies": [{"id": "p1", "displayName": "MFA", "result": "success"}],
    }


def alert(n: int) -> dict:
    return {
        "@odata.type": "#microsoft.graph.security.alert",
        "id": f"da{n:030x}",
        "providerAlertId": f"p-{n}",
        "serviceSource": "microsoftDefenderForEndpoint",
        "createdDateTime": _when(n),
        "lastUpdateDateTime": _when(n + 60),
        "title": "Suspicious PowerShell command line",
        "severity": "high",
        "status": "new",
        "category": "Execution",
        "mitreTechniques": ["T1059.001"],
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": f"pc-{n % 300}.council.local"},
            {
                "@odata.type": "#microsoft.graph.security.userEvidence",
                "userAccount": {"userPrincipalName": f"user{n % 500}@council.example.gov.uk"},
            },
        ],
    }


def firewall(n: int) -> dict:
    row = {
        "TimeGenerated": _when(n),
        "SourceIp": f"10.0.{n % 250}.{n % 199}",
        "SourcePort": 40000 + n % 20000,
        "DestinationIp": f"13.69.{n % 250}.17",
        "DestinationPort": 443,
        "Protocol": "TCP",
        "Action": "Deny" if n % 7 == 0 else "Allow",
        "Policy": "council-policy",
        "RuleCollectionGroup": "DefaultNetworkRuleCollectionGroup",
        "RuleCollection": "egress",
        "Rule": "web",
        "_ItemId": f"item-{n}",
    }
    return {"category": "AZFWNetworkRule", "time": row["TimeGenerated"], "resourceId": "/sub/fw", "properties": row}


MAKERS = {"entra-signins": signin, "defender-alerts": alert, "azure-firewall": firewall}


def measure(kind: str, route: str, count: int) -> dict:
    """One measure in this process: ``count`` records in pages of 1,000 through ``route``."""
    module, make = FORMATS[kind], MAKERS[kind]
    pages = [[orjson.dumps(make(n)) for n in range(s, min(s + PAGE, count))] for s in range(0, count, PAGE)]
    events = 0
    started = time.perf_counter()
    if route == "memory":
        for number, page in enumerate(pages):
            events += module.parse_records(page, f"https://graph.example/page/{number}").events.num_rows
    else:
        with tempfile.TemporaryDirectory() as folder:
            for number, page in enumerate(pages):
                path = Path(folder, f"page-{number}.ndjson")
                path.write_bytes(b"\n".join(page) + b"\n")
                events += module.parse_file(path).events.num_rows
                path.unlink()
    seconds = time.perf_counter() - started
    if events != count:
        raise SystemExit(f"{kind} {route}: {events} events of {count} records")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=list(FORMATS), action="append")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("FORMAT", "ROUTE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], int(args.one[2]))))
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for kind in args.format or list(FORMATS):
        for count in (PAGE, 100 * PAGE):
            for route in ("file", "memory"):
                runs = [
                    json.loads(subprocess.check_output([sys.executable, __file__, "--one", kind, route, str(count)]))
                    for _ in range(args.repeat)
                ]
                seconds = statistics.median(run["seconds"] for run in runs)
                peak = max(run["peak_mb"] for run in runs)
                print(
                    f"{kind:16} {count:>7,} records  {route:6}  {count / seconds:>9,.0f} records/s"
                    f"  {seconds:7.3f} s  peak {peak:6.0f} MB"
                )


if __name__ == "__main__":
    main()
