"""A rule that cannot run is reported by name, and every other rule still runs (issue 10, point 8)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
SPRAY = REPO / "rules" / "cyberwell" / "password_spray.yml"


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def wrong_password(i: int) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T09:{i % 60:02d}:00Z",
        "userPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "userId": f"u-{i}",
        "ipAddress": "81.2.69.160",
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "isInteractive": True,
        "status": {"errorCode": 50126, "failureReason": "Invalid username or password."},
    }


def home_with_rules(tmp_path: Path, timespan: str) -> str:
    """The shipped password-spray pair, and a copy of its correlation with ``timespan`` and its own id."""
    rules = tmp_path / "rules"
    rules.mkdir()
    spray = SPRAY.read_text()
    (rules / "spray.yml").write_text(spray)
    correlation = spray.split("\n---\n")[1]
    broken = (
        correlation.replace("timespan: 30m", f"timespan: {timespan}")
        .replace("c7a70d67-816a-4307-a65a-0c0dedb29595", "5f1f7d0e-2222-4c3e-9d55-2f0b6a1c2d3e")
        .replace("name: cyberwell-password-spray", "name: broken-spray")
        .replace("title: Password Spray From One Address", "title: Broken Spray From One Address")
    )
    (rules / "broken.yml").write_text(broken)
    (tmp_path / "cyberwell.toml").write_text('[detections]\nrule_dirs = ["rules"]\n')
    export = tmp_path / "signins.ndjson"
    export.write_bytes(b"".join(orjson.dumps(wrong_password(i)) + b"\n" for i in range(25)))
    assert run("--home", str(tmp_path), "ingest", str(export), "--source", "entra-signins").exit_code == 0
    return str(tmp_path)


@pytest.mark.parametrize("timespan", ["1000000000d", "999999999d", "400d", "20y"])
def test_a_correlation_too_long_to_run_is_named_and_the_others_run(tmp_path, timespan):
    home = home_with_rules(tmp_path, timespan)
    listed = run("--home", home, "rules", "list", "--json")
    assert listed.exit_code == 0
    problems = json.loads(listed.output)["problems"]
    assert [p["name"] for p in problems] == [
        "Broken Spray From One Address Against Many Accounts (5f1f7d0e-2222-4c3e-9d55-2f0b6a1c2d3e)"
    ]
    assert "timespan" in problems[0]["reason"] and "366 days" in problems[0]["reason"]

    window = ["--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z"]
    detected = run("--home", home, "detect", *window, "--json")
    assert detected.exit_code == 0, detected.output
    titles = {a["rule_title"] for a in json.loads(run("--home", home, "alerts", "list", "--json").output)}
    assert "Password Spray From One Address Against Many Accounts" in titles
    assert not any(title.startswith("Broken") for title in titles)


def test_the_longest_timespan_still_runs(tmp_path):
    home = home_with_rules(tmp_path, "366d")
    assert json.loads(run("--home", home, "rules", "list", "--json").output)["problems"] == []
