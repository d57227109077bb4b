"""Writing a scenario: split the size between sources, then stream each file day by day.

Each day's events are generated, merged with that day's story events, sorted by time and
written before the next day is drawn, so memory stays at about one day's events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import orjson

import scenario.formats.network_format as network_format
import scenario.formats.signin_format as signin_format
import scenario.week.defender as defender
import scenario.week.simulation as simulation
from scenario.formats.ndjson import write_lines
from scenario.manifest import ScenarioFile, ScenarioManifest
from scenario.week.normal_network import NormalNetwork
from scenario.week.normal_signins import NormalSignIns
from scenario.week.stories import build_stories, malware_time
from scenario.week.timeline import DAY_MS, Window, day_weights, normalise_start
from scenario.world.tenant import build_tenant

SIGNIN_SHARE, FIREWALL_SHARE = 0.60, 0.35
LEGACY_FIREWALL_SHARE = 0.05  # of the firewall records, from the DR firewall's legacy categories
LA_EXPORT_DAY = 1  # the Log Analytics export covers the window's second day (the spray's night)

FILES = {
    "entra-signins": "entra-signins.ndjson",
    "entra-signins-la": "entra-signins-la.csv",
    "defender-alerts": "defender-alerts.json",
    "azure-firewall": "azure-firewall.ndjson",
    "azure-firewall-legacy": "azure-firewall-legacy.ndjson",
    "syslog": "fortigate-syslog.log",
}


def split(total: int, weights: list[float]) -> list[int]:
    """``total`` shared in proportion to ``weights``, exactly (largest remainders)."""
    if total <= 0:
        return [0] * len(weights)
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _by_day(events, window: Window) -> dict[int, list]:
    days = defaultdict(list)
    for e in events:
        days[(e.ms - window.start_ms) // DAY_MS].append(e)
    return days


def write_scenario(out_dir: Path, *, size: int, seed: int, start: datetime | None) -> ScenarioManifest:
    out_dir.mkdir(parents=True, exist_ok=True)
    window = Window(normalise_start(start))
    tenant = build_tenant(seed)
    stories = build_stories(tenant, window, seed)
    weights = day_weights(window)
    counts: dict[str, int] = {}

    # --- Entra ID sign-ins: Graph NDJSON for the week, LA CSV for one day of it ---------------
    normal = NormalSignIns(tenant, window, seed)
    rare = {day: normal.rare_failures(day) for day in range(window.days)}
    story_signins = _by_day(stories.signins, window)
    signin_budget = round(size * SIGNIN_SHARE)
    ordinary = max(0, signin_budget - len(stories.signins) - sum(len(r) for r in rare.values()))
    graph_path, la_path = out_dir / FILES["entra-signins"], out_dir / FILES["entra-signins-la"]
    graph_lines = la_rows = 0
    with open(graph_path, "wb") as graph, open(la_path, "w", encoding="utf-8", newline="") as la:
        la_csv = signin_format.la_writer(la)
        for day, n in enumerate(split(ordinary, weights)):
            events = normal.day(day, n) + rare[day] + story_signins.get(day, [])
            events.sort(key=lambda s: (s.ms, s.id))
            graph_lines += signin_format.write_graph(events, graph)
            if day == LA_EXPORT_DAY:
                # SigninLogs holds interactive sign-ins; token refreshes live in another table.
                rows = [signin_format.la_row(s) for s in events if s.interactive]
                la_csv.writerows(rows)
                la_rows += len(rows)
    counts["entra-signins"] = graph_lines

    # --- Azure Firewall: the hub's AZFW* records and the DR firewall's legacy ones -----------
    network = NormalNetwork(tenant, window, seed)
    firewall_budget = max(0, round(size * FIREWALL_SHARE) - len(stories.flows))
    legacy_total = round(firewall_budget * LEGACY_FIREWALL_SHARE)
    story_flows = _by_day(stories.flows, window)
    fw_path, legacy_path = out_dir / FILES["azure-firewall"], out_dir / FILES["azure-firewall-legacy"]
    fw_lines = legacy_lines = 0
    with open(fw_path, "wb") as fw:
        for day, n in enumerate(split(firewall_budget - legacy_total, weights)):
            flows = network.firewall_day(day, n) + story_flows.get(day, [])
            flows.sort(key=lambda f: (f.ms, f.src_ip, f.dst_port))
            fw_lines += write_lines(map(network_format.firewall_record, flows), fw)
    with open(legacy_path, "wb") as legacy:
        for day, n in enumerate(split(legacy_total, weights)):
            flows = network.legacy_firewall_day(day, n)
            legacy_lines += write_lines(map(network_format.legacy_record, flows), legacy)
    counts["azure-firewall"] = fw_lines + legacy_lines

    # --- Defender alerts, then the FortiGate's syslog takes what is left of the size --------
    alerts = defender.alerts(tenant, window, seed, stories.facts, malware_time(window))
    alerts_path = out_dir / FILES["defender-alerts"]
    alerts_path.write_bytes(orjson.dumps(defender.page(alerts), option=orjson.OPT_INDENT_2) + b"\n")
    counts["defender-alerts"] = len(alerts)

    syslog_total = max(0, size - signin_budget - round(size * FIREWALL_SHARE) - len(alerts))
    syslog_path = out_dir / FILES["syslog"]
    syslog_lines, session = 0, 3_100_000_000
    with open(syslog_path, "w", encoding="utf-8", newline="\n") as syslog:
        for day, n in enumerate(split(syslog_total, weights)):
            sessions = network.fortigate_day(day, n, session)
            session += n
            lines = [network_format.fortigate_line(s) for s in sessions]
            if lines:
                syslog.write("\n".join(lines) + "\n")
            syslog_lines += len(lines)
    counts["syslog"] = syslog_lines

    # --- the awareness campaign (no collector yet: reports read it) ---------------------------
    camp = simulation.campaign(tenant, window, seed)
    ats_dir = out_dir / "attack-simulation"
    ats_dir.mkdir(exist_ok=True)
    awareness = [ScenarioFile(ats_dir / "simulations.json", "attack-simulation", 1)]
    awareness[0].path.write_bytes(orjson.dumps(camp.simulations, option=orjson.OPT_INDENT_2) + b"\n")
    for i, page in enumerate(camp.user_pages, 1):
        path = ats_dir / f"simulation-users-{i:03d}.json"
        path.write_bytes(orjson.dumps(page, option=orjson.OPT_INDENT_2) + b"\n")
        awareness.append(ScenarioFile(path, "attack-simulation", len(page["value"])))

    files = (
        ScenarioFile(graph_path, "entra-signins", graph_lines),
        ScenarioFile(la_path, "entra-signins-la", la_rows),
        ScenarioFile(alerts_path, "defender-alerts", len(alerts)),
        ScenarioFile(fw_path, "azure-firewall", fw_lines),
        ScenarioFile(legacy_path, "azure-firewall", legacy_lines),
        ScenarioFile(syslog_path, "syslog", syslog_lines),
    )
    return ScenarioManifest(
        files=files,
        awareness_files=tuple(awareness),
        start=window.start,
        end=window.end,
        size=size,
        seed=seed,
        domain=tenant.domain,
        tenant_id=tenant.tenant_id,
        users=len(tenant.users),
        stories=replace(stories.facts, phishing_simulation_id=camp.simulation_id),
        counts=counts,
    )
