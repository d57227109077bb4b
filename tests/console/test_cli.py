"""The ``cyberwell`` command as a user runs it: help, home, config errors, ingest, quarantine."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from store import EmbeddedStore

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def signin(i: int) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T09:{i % 60:02d}:00Z",
        "userPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "userId": f"u-{i}",
        "userDisplayName": f"User {i}",
        "ipAddress": "81.2.69.160",
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "conditionalAccessStatus": "success",
        "isInteractive": True,
        "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
        "location": {"city": "London", "state": "London", "countryOrRegion": "GB"},
    }


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    [[], ["ingest"], ["detect"], ["alerts", "list"], ["rules", "list"], ["quarantine", "list"], ["demo"]],
)
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_the_installed_command_runs():
    cyberwell = Path(sys.executable).parent / "cyberwell"
    out = subprocess.run([str(cyberwell), "--help"], capture_output=True, text=True, check=True)
    assert "ingest" in out.stdout and "detect" in out.stdout


def test_ingest_reports_counts_as_json_and_is_idempotent(tmp_path):
    export = tmp_path / "signins.ndjson.gz"
    lines = [orjson.dumps(signin(i)) for i in range(20)] + [b"{not json"]
    export.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    home = tmp_path / "home"
    first = run("--home", str(home), "ingest", str(export), "--source", "entra-signins", "--json")
    assert first.exit_code == 0, first.output
    assert {k: json.loads(first.output)[k] for k in ("ingested", "quarantined", "duplicates")} == {
        "ingested": 20,
        "quarantined": 1,
        "duplicates": 0,
    }
    second = run("--home", str(home), "ingest", str(export), "--source", "entra-signins", "--json")
    assert json.loads(second.output)["duplicates"] == 20
    assert json.loads(second.output)["ingested"] == 0
    listed = run("--home", str(home), "quarantine", "list", "--json")
    records = json.loads(listed.output)["records"]
    assert records and all(r["record"] == "{not json" for r in records)
    assert all(r["reason"] for r in records)


def test_home_comes_from_the_environment(tmp_path):
    export = tmp_path / "one.ndjson"
    export.write_bytes(orjson.dumps(signin(1)) + b"\n")
    home = tmp_path / "from-env"
    result = run("ingest", str(export), "--source", "entra-signins", "--json", env={"CYBERWELL_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert (home / "state.sqlite").is_file()


def test_an_unknown_source_kind_is_named_with_the_choices(tmp_path):
    export = tmp_path / "x.json"
    export.write_text("{}")
    result = run("--home", str(tmp_path), "ingest", str(export), "--source", "splunk")
    assert result.exit_code == 2
    assert "unknown source kind 'splunk'" in result.output and "entra-signins" in result.output


def test_a_bad_config_names_the_key_and_what_it_expected(tmp_path):
    (tmp_path / "cyberwell.toml").write_text('[store]\nbackend = "mongodb"\n')
    result = run("--home", str(tmp_path), "alerts", "list")
    assert result.exit_code == 2
    assert "store.backend" in result.output and "'embedded'" in result.output


def test_detect_then_list_alerts_and_rules_as_json(tmp_path):
    from scenario import generate

    manifest = generate(tmp_path / "scenario", size=5_000, seed=3)
    home = str(tmp_path / "home")
    for item in manifest.files:
        assert run("--home", home, "ingest", str(item.path), "--source", item.kind, "--json").exit_code == 0
    window = ["--from", manifest.start.isoformat(), "--to", manifest.end.isoformat()]
    detected = json.loads(run("--home", home, "detect", *window, "--json").output)
    assert detected["alerts_new"] > 0
    assert all(rule["status"] != "failed" for rule in detected["rules"])
    high = json.loads(run("--home", home, "alerts", "list", "--severity", "high", "--json").output)
    assert high and all(a["severity"] in ("high", "critical") for a in high)
    assert {"Password Spray From One Address Against Many Accounts"} <= {a["rule_title"] for a in high}
    rules = json.loads(run("--home", home, "rules", "list", "--json").output)
    assert len(rules["rules"]) >= 30 and rules["problems"] == []


def test_a_bad_time_window_is_named(tmp_path):
    result = run("--home", str(tmp_path), "detect", "--from", "yesterday")
    assert result.exit_code == 2
    assert "--from" in result.output and "ISO 8601" in result.output


def test_log_values_are_not_read_as_terminal_markup(tmp_path):
    export = tmp_path / "markup.ndjson"
    record = signin(1) | {"userPrincipalName": "[bold red]evil[/]@x.gov.uk"}
    export.write_bytes(orjson.dumps(record) + b"\n{[b]x[/b]\n")
    home = str(tmp_path / "home")
    run("--home", home, "ingest", str(export), "--source", "entra-signins")
    shown = run("--home", home, "quarantine", "list")
    assert "{[b]x[/b]" in shown.output


def test_rule_folders_come_from_the_config(tmp_path):
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "mine.yml").write_text(
        "title: My Own Rule\nid: 0b9d7a8e-1111-4c3e-9d55-2f0b6a1c2d3e\nstatus: experimental\n"
        "logsource: {product: azure, service: signinlogs}\n"
        "detection: {selection: {user.name: 'x@y'}, condition: selection}\nlevel: low\n"
    )
    (tmp_path / "cyberwell.toml").write_text('[detections]\nrule_dirs = ["my-rules"]\n')
    listed = json.loads(run("--home", str(tmp_path), "rules", "list", "--json").output)
    assert [r["title"] for r in listed["rules"]] == ["My Own Rule"]
    (tmp_path / "cyberwell.toml").write_text("[detections]\nrule_dirs = 3\n")
    result = run("--home", str(tmp_path), "rules", "list")
    assert result.exit_code == 2 and "detections.rule_dirs" in result.output


def test_retention_deletes_the_embedded_stores_old_days(tmp_path):
    export = tmp_path / "signins.ndjson"
    export.write_bytes(b"\n".join(orjson.dumps(signin(i)) for i in range(5)) + b"\n")  # 2026-11-16
    home = str(tmp_path / "home")
    assert run("--home", home, "ingest", str(export), "--source", "entra-signins").exit_code == 0
    kept = run("--home", home, "retention", "--days", "36500", "--json")
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.output) == {"days": 36500, "deleted": []}
    gone = run("--home", home, "retention", "--days", "1", "--json")
    assert json.loads(gone.output)["deleted"] == ["azure.signinlogs/2026-11-16"]
    assert EmbeddedStore(Path(home)).count() == 0
    assert "No events are older than 1 days" in run("--home", home, "retention", "--days", "1").output
    assert run("--home", home, "retention", "--days", "0").exit_code == 2


def test_alerts_list_filters_and_says_what_the_limit_held_back(tmp_path):
    from scenario import generate

    manifest = generate(tmp_path / "scenario", size=5_000, seed=3)
    home = str(tmp_path / "home")
    for item in manifest.files:
        assert run("--home", home, "ingest", str(item.path), "--source", item.kind, "--json").exit_code == 0
    run("--home", home, "detect", "--from", manifest.start.isoformat(), "--to", manifest.end.isoformat())
    every = json.loads(run("--home", home, "alerts", "list", "--limit", "100000", "--json").output)
    rule = every[0]["rule_id"]
    mine = json.loads(run("--home", home, "alerts", "list", "--rule", rule, "--json").output)
    assert mine and {a["rule_id"] for a in mine} == {rule}
    assert json.loads(run("--home", home, "alerts", "list", "--status", "closed", "--json").output) == []
    shown = run("--home", home, "alerts", "list", "--limit", "2")
    assert f"Showing 2 of {len(every)} alerts: {len(every) - 2} more with --limit" in " ".join(shown.output.split())
    assert "Showing" not in run("--home", home, "alerts", "list").output
    wrong = run("--home", home, "alerts", "list", "--severity", "severe")
    assert wrong.exit_code == 2 and "--severity: unknown severity 'severe'" in " ".join(wrong.output.split())


def test_ingest_and_detect_tell_a_person_what_happened(tmp_path):
    home = tmp_path / "home"
    export = tmp_path / "signins.ndjson"
    export.write_text("\n".join([json.dumps(signin(1)), "{not json", json.dumps(signin(2))]) + "\n")
    ingested = run("--home", str(home), "ingest", str(export), "--source", "entra-signins")
    assert ingested.exit_code == 0
    assert "Ingested" in ingested.output and "See them with: cyberwell quarantine list" in ingested.output

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: Broken Rule\nlogsource: {product: azure, service: signinlogs}\n")
    (home / "cyberwell.toml").write_text(f'[detections]\nrule_dirs = ["{rules}"]\n')
    detected = run("--home", str(home), "detect")
    assert detected.exit_code == 0
    assert "0 rules run over" in detected.output and "0 new alerts" in detected.output
    assert "Rules not run" in detected.output and "Broken Rule" in detected.output
    assert "must have a detection" in detected.output
