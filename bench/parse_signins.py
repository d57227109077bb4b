"""How fast the sign-in parsers read: events/s of ``parse_file`` alone, per input form.

    .venv/bin/python bench/parse_signins.py --events 1000000

Generates, once per size (cached in ``--dir``), realistic inputs of N sign-ins: Graph ``signIn``
NDJSON as ``GET /auditLogs/signIns`` returns them (~1.8 KB a line), and the same sign-ins as Log
Analytics ``SigninLogs`` rows: the portal's 71-column CSV export, NDJSON rows, and one JSON array
of rows. Then
times ``parse_file`` on each ``--repeat`` times and prints the median's events/s (the goals of
issue 15 are medians of 3), its CPU seconds, the best run, the load average before and after,
and peak memory (per form: private, and the export's mapped pages; see ``MemoryPeaks``). The machine is shared: CPU seconds show how much work was done when wall time
is inflated by other load.

Arrow's default pool (mimalloc) asks for transparent huge pages; where the kernel compacts
memory on such faults (``defrag=madvise``), fresh buffers cost seconds of system time per GB.
``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` (or ``MIMALLOC_ALLOW_LARGE_OS_PAGES=0``) avoids that; run
both ways to see what the machine charges.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.formats.signins import entra_signins, entra_signins_la  # noqa: E402

# The portal's CSV export columns, as the demo scenario writes them.
from scenario.formats.signin_format import LA_COLUMNS as LA_HEADER  # noqa: E402

TENANT = "2ad3fc79-1859-42fa-9011-6f8df2251b22"
WORKSPACE = "7c759f10-811c-4db8-ad6d-f07d8ae3f8ea"
APPS = [
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
]
PLACES = [
    {
        "city": "Maidstone",
        "state": "Kent",
        "countryOrRegion": "GB",
        "geoCoordinates": {"latitude": 51.27, "longitude": 0.52},
    },
    {
        "city": "London",
        "state": "London",
        "countryOrRegion": "GB",
        "geoCoordinates": {"latitude": 51.5, "longitude": -0.12},
    },
    {
        "city": "Lagos",
        "state": "Lagos",
        "countryOrRegion": "NG",
        "geoCoordinates": {"latitude": 6.45, "longitude": 3.39},
    },
]
RESULTS = [
    (0, None, None),
    (0, None, "MFA requirement satisfied by claim in the token"),
    (50126, "Invalid username or password or Invalid on-premise username or password.", None),
    (50074, "Strong Authentication is required.", None),
]
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
POLICIES = [
    {
        "id": "de7e60eb-ed89-4d73-8205-2227def6b7c9",
        "displayName": "Require MFA for all users",
        "enforcedGrantControls": ["Mfa"],
        "enforcedSessionControls": [],
        "result": "success",
    },
    {
        "id": "6701123a-b4c6-48af-8565-565c8bf7cabc",
        "displayName": "Block legacy authentication",
        "enforcedGrantControls": ["Block"],
        "enforcedSessionControls": [],
        "result": "notApplied",
    },
]


def graph_signin(rng: random.Random, index: int, start: datetime) -> dict:
    """One sign-in as Graph v1.0 returns it, varied by ``rng``."""
    user = rng.randrange(1500)
    app_id, app_name = rng.choice(APPS)
    code, failure, details = RESULTS[0] if rng.random() < 0.85 else rng.choice(RESULTS)
    interactive = rng.random() < 0.7
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "createdDateTime": (start + timedelta(milliseconds=index * 600)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "userDisplayName": f"Staff Member {user}",
        "userPrincipalName": f"Staff.Member{user}@Council.gov.uk",
        "userId": str(uuid.UUID(int=user + 1)),
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": f"81.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "clientAppUsed": "Browser",
        "userAgent": AGENT,
        "correlationId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "conditionalAccessStatus": "success" if code == 0 else "notApplied",
        "isInteractive": interactive,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": app_name,
        "resourceId": app_id,
        "resourceTenantId": TENANT,
        "homeTenantId": TENANT,
        "authenticationRequirement": "multiFactorAuthentication",
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "status": {"errorCode": code, "failureReason": failure, "additionalDetails": details},
        "deviceDetail": {
            "deviceId": "",
            "displayName": None,
            "operatingSystem": "Windows10",
            "browser": "Edge 120.0.0",
            "isCompliant": False,
            "isManaged": False,
            "trustType": None,
        },
        "location": rng.choice(PLACES),
        "appliedConditionalAccessPolicies": POLICIES,
        "networkLocationDetails": [],
    }


def la_row(s: dict) -> dict:
    """The sign-in as a ``SigninLogs`` row (dynamic columns as JSON text, as the query API sends)."""
    dumps = lambda value: orjson.dumps(value).decode()  # noqa: E731
    status = {k: v for k, v in s["status"].items() if v is not None}
    when = datetime.strptime(s["createdDateTime"][:26], "%Y-%m-%dT%H:%M:%S.%f")
    return {
        "TenantId": WORKSPACE,
        "SourceSystem": "Azure AD",
        "ResourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
        "OperationName": "Sign-in activity",
        "OperationVersion": "1.0",
        "Category": "SignInLogs" if s["isInteractive"] else "NonInteractiveUserSignInLogs",
        "ResultType": str(s["status"]["errorCode"]),
        "ResultSignature": "None",
        "ResultDescription": s["status"]["failureReason"] or "",
        "DurationMs": "0",
        "CorrelationId": s["correlationId"],
        "Identity": s["userDisplayName"],
        "Level": "4",
        "Location": s["location"]["countryOrRegion"],
        "AppDisplayName": s["appDisplayName"],
        "AppId": s["appId"],
        "AuthenticationDetails": "[]",
        "AuthenticationRequirement": s["authenticationRequirement"],
        "ClientAppUsed": s["clientAppUsed"],
        "ConditionalAccessPolicies": dumps(s["appliedConditionalAccessPolicies"]),
        "ConditionalAccessStatus": s["conditionalAccessStatus"],
        "CreatedDateTime": f"{when.month}/{when.day}/{when.year}, {when.hour % 12 or 12}:{when:%M:%S}."
        f"{when.microsecond // 1000:03d} {'AM' if when.hour < 12 else 'PM'}",
        "DeviceDetail": dumps({k: v for k, v in s["deviceDetail"].items() if v is not None}),
        "IsInteractive": "TRUE" if s["isInteractive"] else "FALSE",
        "Id": s["id"],
        "IPAddress": s["ipAddress"],
        "LocationDetails": dumps(s["location"]),
        "NetworkLocationDetails": dumps(s["networkLocationDetails"]),
        "OriginalRequestId": s["id"],
        "RiskDetail": "none",
        "RiskLevelAggregated": "none",
        "RiskLevelDuringSignIn": "none",
        "RiskState": "none",
        "ResourceDisplayName": s["resourceDisplayName"],
        "ResourceIdentity": s["resourceId"],
        "Status": dumps(status),
        "TokenIssuerType": "AzureAD",
        "UserAgent": s["userAgent"],
        "UserDisplayName": s["userDisplayName"],
        "UserId": s["userId"],
        "UserPrincipalName": s["userPrincipalName"],
        "AADTenantId": TENANT,
        "UserType": "Member",
        "ResourceTenantId": TENANT,
        "HomeTenantId": TENANT,
        "Type": "SigninLogs",
    }


def _csv_cells(row: dict) -> list[str]:
    suffixed = {
        "ConditionalAccessPolicies_dynamic": "ConditionalAccessPolicies",
        "DeviceDetail_dynamic": "DeviceDetail",
        "LocationDetails_dynamic": "LocationDetails",
        "Status_dynamic": "Status",
        "CreatedDateTime [UTC]": "CreatedDateTime",
    }
    return [row.get(suffixed.get(name, name), "") for name in LA_HEADER]


FORMS = ("graph.ndjson", "la.csv", "la.ndjson", "la.json")


def generate(folder: Path, events: int, seed: int = 1) -> dict[str, Path]:
    """Write the three inputs of ``events`` sign-ins into ``folder`` (kept for the next run)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"signins-{events}.{name}" for name in FORMS if name != "la.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    rng, start = random.Random(seed), datetime(2025, 6, 2, 7, 0, tzinfo=UTC)
    with (
        open(paths["graph.ndjson"], "wb") as graph,
        open(paths["la.ndjson"], "wb") as la_json,
        open(paths["la.csv"], "w", encoding="utf-8", newline="") as la_csv,
    ):
        la_csv.write("\ufeff")
        writer = csv.writer(la_csv, lineterminator="\r\n")
        writer.writerow(LA_HEADER)
        for index in range(events):
            signin = graph_signin(rng, index, start)
            row = la_row(signin)
            graph.write(orjson.dumps(signin) + b"\n")
            la_json.write(orjson.dumps(row) + b"\n")
            writer.writerow(_csv_cells(row))
    return paths


def array_form(ndjson: Path) -> Path:
    """The rows of ``ndjson`` as one JSON array (made on demand: a 2 GB file for 1M rows)."""
    path = ndjson.with_suffix(".json")
    if not path.exists():
        with open(ndjson, "rb") as rows, open(path, "wb") as array:
            array.write(b"[" + b",".join(line.rstrip(b"\n") for line in rows) + b"]\n")
    return path


def measure(parse, path: Path, repeat: int) -> tuple[int, int, list[float], list[float]]:
    """Run ``parse`` on ``path`` ``repeat`` times: the events, the rejects, and every run's wall
    and CPU seconds (the caller reports the median, as the goals are stated, and the best)."""
    walls, cpus, count, rejects = [], [], 0, 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        batch = parse(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        count, rejects = batch.count, len(batch.quarantined)
        del batch
    return count, rejects, walls, cpus


class MemoryPeaks:
    """The largest private (anonymous) and file-backed resident memory while a block runs,
    sampled from ``/proc/self/status`` every 20 ms: a parser's own memory (the batch it builds,
    DuckDB's and Arrow's buffers) is private; the pages of a memory-mapped export are the page
    cache's, counted in the resident size while mapped but not used up by the process.
    (``ru_maxrss`` is one peak over the whole run, of both together.)"""

    def __init__(self) -> None:
        self.private = self.mapped = 0
        self.before = _resident().get("RssAnon", 0)  # what earlier forms left in the pools
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            sizes = _resident()
            self.private = max(self.private, sizes.get("RssAnon", 0))
            self.mapped = max(self.mapped, sizes.get("RssFile", 0))


def _resident() -> dict[str, int]:
    """The process's resident bytes by kind (``RssAnon``, ``RssFile``, ...)."""
    sizes = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key.startswith("Rss"):
                sizes[key] = int(value.split()[0]) * 1024
    return sizes


def load_average() -> str:
    """The 1-minute load average: on a shared machine, what inflated the wall times."""
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cyberwell-bench-signins"))
    parser.add_argument("--only", choices=FORMS, action="append")
    args = parser.parse_args()
    started = time.perf_counter()
    paths = generate(args.dir, args.events)
    if "la.json" in (args.only or FORMS):
        paths["la.json"] = array_form(paths["la.ndjson"])
    print(f"inputs ready in {time.perf_counter() - started:.1f} s ({args.dir})")
    parsers = {
        "graph.ndjson": entra_signins.parse_file,
        "la.csv": entra_signins_la.parse_file,
        "la.ndjson": entra_signins_la.parse_file,
        "la.json": entra_signins_la.parse_file,
    }
    for name in args.only or parsers:
        path = paths[name]
        before = load_average()
        with MemoryPeaks() as memory:
            count, rejects, walls, cpus = measure(parsers[name], path, args.repeat)
        size, wall, cpu = path.stat().st_size, statistics.median(walls), statistics.median(cpus)
        print(
            f"{name:13} {count:>9,} events {rejects} quarantined  {size / count:6.0f} B/event  "
            f"median {wall:6.2f} s  {count / wall:>9,.0f} events/s  (cpu {cpu:.2f} s; "
            f"best {count / min(walls):,.0f} events/s; load {before} -> {load_average()}; "
            f"private {memory.before / 2**20:,.0f} -> peak {memory.private / 2**20:,.0f} MiB, "
            f"mapped file {memory.mapped / 2**20:,.0f} MiB)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MiB; Arrow memory pool: {pa.default_memory_pool().backend_name}")


if __name__ == "__main__":
    main()
