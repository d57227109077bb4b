"""Benchmark: parse generated Azure Firewall and Defender alert exports of a stated size.

    .venv/bin/python bench/parse_firewall_defender.py --events 1000000

Writes seeded synthetic files to a temporary folder (firewall NDJSON mixing the legacy ``msg``
categories and the ``AZFW*`` categories, plain and gzip, and one Event Hub ``{"records": [...]}``
document; Defender alerts as a Graph ``alerts_v2`` page and as Defender for Endpoint NDJSON), then
parses each in a fresh interpreter with the real parser and prints wall and CPU seconds, events/s
and that interpreter's peak memory (RSS). Generation is not timed. The machine is shared, so
compare CPU seconds when the load average is high.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.formats import azure_firewall, defender_alerts  # noqa: E402

RESOURCE = (
    "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NET"
    "/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW-HUB"
)
START = datetime(2026, 3, 2, tzinfo=UTC)


def _ip(rng: random.Random, private: bool) -> str:
    if private:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _firewall_record(rng: random.Random, n: int) -> dict:
    """Five in eight legacy msg records (network, UDP, application, DNAT, IDPS), the rest AZFW*."""
    when = _stamp(START + timedelta(milliseconds=n * 37))
    src, dst = _ip(rng, True), _ip(rng, False)
    sport, dport = rng.randrange(1024, 65535), rng.choice([53, 80, 443, 445, 3389, 8080])
    action = rng.choice(["Allow", "Deny"])
    host = f"host{n % 977}.example.com"
    kind = rng.randrange(8)
    if kind >= 5:
        category = ["AZFWNetworkRule", "AZFWApplicationRule", "AZFWThreatIntel"][kind - 5]
        properties = {
            "SourceIp": src,
            "SourcePort": sport,
            "DestinationIp": dst,
            "DestinationPort": dport,
            "Protocol": "TCP",
            "Action": action,
            "Policy": "pol",
            "RuleCollectionGroup": "rcg",
            "RuleCollection": "net",
            "Rule": "r1",
            "Fqdn": host,
            "ThreatDescription": "Known bad IP" if category == "AZFWThreatIntel" else "",
        }
        return {
            "category": category,
            "time": when,
            "resourceId": RESOURCE,
            "operationName": category,
            "properties": properties,
        }
    msg = [
        f"TCP request from {src}:{sport} to {dst}:{dport}. Action: {action}. "
        f"Rule Collection: net-{dport}. Rule: r{dport}",
        f"UDP request from {src}:{sport} to {dst}:{dport}. Action: {action}. ",
        f"HTTPS request from {src}:{sport} to {host}:443. Action: {action}. Policy: pol. "
        f"Rule Collection Group: rcg. Rule Collection: web. Rule: allow-web. Web Category: News",
        f"TCP request from {dst}:{sport} to 51.1.1.1:3389 was DNAT'ed to {src}:3389. Rule Collection: DNAT. Rule: rdp",
        f"TCP request from {src}:{sport} to {dst}:{dport}. Action: alert. Signature: 2102649. "
        f"IDS: SQL service_name buffer overflow attempt. Priority: 1. "
        f"Classification: Attempted User Privilege Gain",
    ][kind]
    category = "AzureFirewallApplicationRule" if kind == 2 else "AzureFirewallNetworkRule"
    return {
        "category": category,
        "time": when,
        "resourceId": RESOURCE,
        "operationName": category + "Log",
        "properties": {"msg": msg},
    }


def _v2_alert(rng: random.Random, n: int) -> dict:
    when = _stamp(START + timedelta(seconds=n * 11))
    evidence = [
        {
            "@odata.type": "#microsoft.graph.security.deviceEvidence",
            "deviceDnsName": f"lt-{n % 500}.council.local",
            "mdeDeviceId": f"{n % 500:040x}",
        },
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "userAccount": {"userPrincipalName": f"user{n % 1500}@council.gov.uk"},
        },
        {
            "@odata.type": "#microsoft.graph.security.fileEvidence",
            "fileDetails": {"fileName": "invoice.exe", "sha256": f"{n:064x}"},
        },
    ]
    return {
        "@odata.type": "#microsoft.graph.security.alert",
        "id": f"da{n:018d}_{rng.randrange(10**9)}",
        "providerAlertId": f"da{n:018d}",
        "incidentId": str(n // 3),
        "status": "new",
        "severity": rng.choice(["low", "medium", "high"]),
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "antivirus",
        "title": "Malware was detected",
        "category": rng.choice(["Malware", "Execution"]),
        "mitreTechniques": ["T1204.002"],
        "createdDateTime": when,
        "lastUpdateDateTime": when,
        "evidence": evidence,
    }


def _mde_alert(rng: random.Random, n: int) -> dict:
    when = _stamp(START + timedelta(seconds=n * 13))
    evidence = [
        {"entityType": "User", "userPrincipalName": f"user{n % 1500}@council.gov.uk"},
        {"entityType": "File", "fileName": "a.dll", "sha256": f"{n:064x}"},
    ]
    return {
        "id": f"da{n:018d}_{rng.randrange(10**9)}",
        "incidentId": n // 3,
        "severity": "Medium",
        "status": "New",
        "detectionSource": "WindowsDefenderAv",
        "category": "Malware",
        "title": "Suspicious behaviour",
        "alertCreationTime": when,
        "lastUpdateTime": when,
        "machineId": f"{n % 500:040x}",
        "computerDnsName": f"lt-{n % 500}.council.local",
        "mitreTechniques": ["T1059"],
        "evidence": evidence,
    }


def _write_ndjson(path: Path, records) -> Path:
    with open(path, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path


def _measure(label: str, source: str, path: Path) -> None:
    """Parse in a fresh interpreter, so its peak memory is the parse's own, not the generator's."""
    result = subprocess.run(
        [sys.executable, __file__, "--parse", source, str(path)], capture_output=True, text=True, check=True
    )
    figures = orjson.loads(result.stdout)
    size_mb = path.stat().st_size / 1e6
    print(
        f"{label:<40} {figures['events']:>9} events {figures['quarantined']:>3} quarantined "
        f"{figures['seconds']:6.2f} s wall {figures['cpu']:6.2f} s cpu "
        f"{figures['events'] / figures['seconds']:>9,.0f} events/s  file {size_mb:6.1f} MB  "
        f"peak RSS {figures['peak_mb']:,.0f} MB"
    )


def _parse(source: str, path: Path) -> None:
    parsers = {"azure-firewall": azure_firewall.parse_file, "defender-alerts": defender_alerts.parse_file}
    parse = parsers[source]
    started, cpu = time.perf_counter(), time.process_time()
    batch = parse(path)
    figures = {
        "events": batch.count,
        "quarantined": len(batch.quarantined),
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(orjson.dumps(figures).decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="firewall records per file")
    parser.add_argument("--alerts", type=int, default=None, help="Defender alerts (default events/10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--parse", nargs=2, metavar=("SOURCE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse:
        _parse(args.parse[0], Path(args.parse[1]))
        return
    alerts = args.alerts if args.alerts is not None else max(1, args.events // 10)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="cyberwell-bench-") as folder:
        folder = Path(folder)
        records = (_firewall_record(rng, n) for n in range(args.events))
        plain = _write_ndjson(folder / "firewall.ndjson", records)
        packed = folder / "firewall.ndjson.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
        envelope = folder / "firewall-eventhub.json"
        in_envelope = [_firewall_record(rng, n) for n in range(min(args.events, 100_000))]
        envelope.write_bytes(orjson.dumps({"records": in_envelope}))
        del in_envelope
        page = folder / "alerts_v2.json"
        page.write_bytes(orjson.dumps({"value": [_v2_alert(rng, n) for n in range(alerts)]}))
        mde = _write_ndjson(folder / "mde-alerts.ndjson", (_mde_alert(rng, n) for n in range(alerts)))
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.events} firewall records, "
            f"{alerts} alerts (load average before: {os.getloadavg()[0]:.1f})"
        )
        _measure("azure-firewall NDJSON", "azure-firewall", plain)
        _measure("azure-firewall NDJSON, gzip", "azure-firewall", packed)
        _measure("azure-firewall one {records:[...]} (≤100k)", "azure-firewall", envelope)
        _measure("defender-alerts Graph v2 page", "defender-alerts", page)
        _measure("defender-alerts MDE NDJSON", "defender-alerts", mde)


if __name__ == "__main__":
    main()
