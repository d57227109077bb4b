"""Alerts at any volume, through the real CLI, on both stores.

A flood of matching events gives at most the rule's cap of new alerts, and the rest are counted
on the run (shown by ``detect``, ``detect --json`` and kept in the run history), never silently
dropped; repeats inside a rule's suppression span update one alert (count, last seen, a bounded
sample of event ids) and a later run past the span opens a new one; ``detect --json`` is the
run's summary, not every alert; the demo week raises tens of alerts, not a thousand.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from console.cli import app
from scenario import EXPECTED_ALERTS
from store.elastic.client import ElasticSettings, build_client
from store.elastic.store import name_batches

runner = CliRunner()

FLOOD_RULE = """
title: Any Sign-In From The Flood Address
id: 7f100d00-0000-4000-8000-000000000001
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    source.ip: 198.51.100.7
  condition: selection
level: medium
"""

SUPPRESSED_RULE = """
title: Sign-In From The Watched Address
id: 7f100d00-0000-4000-8000-000000000002
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    source.ip: 198.51.100.9
  condition: selection
level: medium
cyberwell:
  group-by: [source.ip]
  suppress: 24h
"""


def signin(i: int, ip: str, day: int = 16, hour: int = 9) -> dict:
    """A Graph sign-in; each ``i`` is its own user (so its own alert entity by default)."""
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-{day:02d}T{hour:02d}:{i % 60:02d}:{(i // 60) % 60:02d}.{i % 1000:03d}Z",
        "userPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "userId": f"u-{i}",
        "ipAddress": ip,
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "status": {"errorCode": 0},
        "location": {"city": "London", "countryOrRegion": "GB"},
    }


@pytest.fixture(params=["embedded", "elasticsearch"])
def home(request, tmp_path) -> Path:
    """A home whose rule folder holds the test's rules, on the store of the parameter."""
    (tmp_path / "rules").mkdir()
    config = '[detections]\nrule_dirs = ["rules"]\n'
    if request.param == "elasticsearch":
        url = request.getfixturevalue("elastic_url")
        prefix = request.getfixturevalue("es_prefix")
        config += f'\n[store]\nbackend = "elasticsearch"\n\n[store.elasticsearch]\nhosts = ["{url}"]\nindex_prefix = "{prefix}"\n'
    (tmp_path / "cyberwell.toml").write_text(config)
    yield tmp_path
    if request.param == "elasticsearch":
        client = build_client(ElasticSettings(hosts=(url,)))
        names = sorted(client.indices.get(index=f"{prefix}*", ignore_unavailable=True, allow_no_indices=True))
        for joined in name_batches(names):
            client.indices.delete(index=joined, ignore_unavailable=True)
        client.close()


def run_json(home: Path, *args: str):
    result = runner.invoke(app, ["--home", str(home), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def ingest(home: Path, name: str, records: list[dict]) -> None:
    export = home / name
    export.write_bytes(b"\n".join(orjson.dumps(record) for record in records) + b"\n")
    assert run_json(home, "ingest", str(export), "--source", "entra-signins")["ingested"] == len(records)


def detect(home: Path, start: str, end: str) -> dict:
    return run_json(home, "detect", "--from", start, "--to", end)


def rule_of(report: dict, rule_id: str) -> dict:
    [result] = [r for r in report["rules"] if r["rule_id"] == rule_id]
    return result


def test_a_flood_gives_the_cap_of_new_alerts_and_counts_the_rest(home):
    (home / "rules" / "flood.yml").write_text(FLOOD_RULE)
    ingest(home, "flood.ndjson", [signin(i, "198.51.100.7") for i in range(10_000)])

    report = detect(home, "2026-11-16T00:00:00Z", "2026-11-17T00:00:00Z")

    flood = rule_of(report, "7f100d00-0000-4000-8000-000000000001")
    assert (flood["matched"], flood["new"], flood["held_back"]) == (10_000, 100, 9_900)
    assert (report["alerts_new"], report["alerts_held_back"]) == (100, 9_900)
    assert "alerts" not in report  # the summary, not every alert
    listed = run_json(home, "alerts", "list", "--limit", "1000")
    assert len(listed) == 100
    with sqlite3.connect(home / "state.sqlite") as con:
        [(held_back, alerts)] = con.execute(
            "SELECT held_back, alerts FROM rule_runs WHERE rule_id = ?", ("7f100d00-0000-4000-8000-000000000001",)
        ).fetchall()
    assert (held_back, alerts) == (9_900, 100)

    window = ["--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z"]
    shown = runner.invoke(app, ["--home", str(home), "detect", *window], catch_exceptions=False)
    # The cap is per run: a second run over the flood opens the next 100 and says what is left.
    assert "100 new alerts, 0 updated, 9800 held back by the per-rule cap" in " ".join(shown.output.split())


def test_repeats_inside_the_suppression_span_update_one_alert_and_a_later_run_opens_another(home):
    (home / "rules" / "watched.yml").write_text(SUPPRESSED_RULE)
    rule_id = "7f100d00-0000-4000-8000-000000000002"
    ingest(home, "morning.ndjson", [signin(i, "198.51.100.9", hour=9) for i in range(30)])
    first = detect(home, "2026-11-16T00:00:00Z", "2026-11-16T12:00:00Z")
    assert rule_of(first, rule_id)["new"] == 1

    ingest(home, "evening.ndjson", [signin(100 + i, "198.51.100.9", hour=20) for i in range(25)])
    second = detect(home, "2026-11-16T12:00:00Z", "2026-11-17T00:00:00Z")
    assert (rule_of(second, rule_id)["new"], rule_of(second, rule_id)["updated"]) == (0, 1)
    [alert] = run_json(home, "alerts", "list")
    assert alert["event_count"] == 55
    assert alert["last_seen"].startswith("2026-11-16T20:")
    assert alert["first_seen"].startswith("2026-11-16T09:")
    assert len(alert["event_ids"]) == 10  # a bounded sample; the count is exact

    ingest(home, "next_day.ndjson", [signin(200 + i, "198.51.100.9", day=17, hour=9) for i in range(3)])
    third = detect(home, "2026-11-17T00:00:00Z", "2026-11-18T00:00:00Z")
    assert rule_of(third, rule_id)["new"] == 1
    alerts = run_json(home, "alerts", "list")
    assert sorted(a["event_count"] for a in alerts) == [3, 55]


def test_the_demo_week_raises_tens_of_alerts_with_every_expected_one(tmp_path):
    outcome = run_json(tmp_path, "demo", "--size", "100000")
    assert 10 <= len(outcome["alerts"]) < 100, len(outcome["alerts"])
    stories = yaml.safe_load(EXPECTED_ALERTS.read_text())["stories"]
    wanted = {entry["id"] for story in stories.values() for entry in story["alerts"]}
    assert wanted <= {alert["rule_id"] for alert in outcome["alerts"]}
    assert outcome["detections"]["alerts_held_back"] == 0
    cleartext = rule_of(outcome["detections"], "d7fb8f0e-bd5f-45c2-b467-19571c490d7e")
    assert cleartext["excepted"] > 900  # the known-benign traffic was taken out, and counted
