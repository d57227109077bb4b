"""The ``[detections]`` table as a person writes it, and the commands that run rules obeying it:
``detect`` (with ``--profile`` and ``--backfill``), ``detect runs`` and ``rules list``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from console.config import ConfigError, load

runner = CliRunner()

FLOOD_RULE = """
title: Any Sign-In From The Flood Address
id: 7f100d00-0000-4000-8000-00000000c001
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    source.ip: 198.51.100.7
  condition: selection
level: medium
"""

EXCEPTION = """
exceptions:
  - name: the-scanner-we-run
    rules: [7f100d00-0000-4000-8000-00000000c001]
    where: {user.name: user3@westbrook-dc.gov.uk}
    owner: it-operations@westbrook-dc.gov.uk
    reason: Our own scanner signs in as user3 every hour.
    expires: 2099-12-31
  - name: last-years-pen-test
    where: {source.ip: 203.0.113.1}
    owner: it-operations@westbrook-dc.gov.uk
    reason: The 2024 penetration test.
    expires: 2024-12-31
"""


def signin(i: int, hour: int = 9) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T{hour:02d}:{i % 60:02d}:00Z",
        "userPrincipalName": f"user{i % 10}@westbrook-dc.gov.uk",
        "userId": f"u-{i % 10}",
        "ipAddress": "198.51.100.7",
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "status": {"errorCode": 0},
        "location": {"city": "London", "countryOrRegion": "GB"},
    }


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def run_json(home: Path, *args: str):
    result = cli(home, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def home(tmp_path) -> Path:
    """A home with the flood rule and 40 sign-ins by 10 users, 09:00 and 10:00 on 16 November."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "flood.yml").write_text(FLOOD_RULE)
    export = tmp_path / "signins.ndjson"
    records = [signin(i, hour=9 + (i // 10) % 2) for i in range(40)]
    export.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    configure(tmp_path)
    assert run_json(tmp_path, "ingest", str(export), "--source", "entra-signins")["ingested"] == 40
    return tmp_path


def configure(home: Path, extra: str = "") -> None:
    (home / "cyberwell.toml").write_text('[detections]\nrule_dirs = ["rules"]\n' + extra)


WINDOW = ("--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z")


# -- reading the table --------------------------------------------------------------------------


def test_every_detections_key_is_read_into_the_config(tmp_path):
    (tmp_path / "cyberwell.toml").write_text(
        "[detections]\n"
        'exception_dirs = ["allow-lists", "/etc/cyberwell/exceptions"]\n'
        'suppress = "24h"\nmax_alerts = 5\ninterval = "10m"\nlookback = 0\ndelay = "2m"\n'
        'max_catchup = "3d"\nbackfill_max_window = 3600\nstart = 2026-11-16T00:00:00Z\n'
    )
    settings = load(tmp_path).detections
    assert settings.exception_dirs == (tmp_path / "allow-lists", Path("/etc/cyberwell/exceptions"))
    assert (settings.suppress, settings.max_alerts) == (timedelta(hours=24), 5)
    assert (settings.interval, settings.lookback, settings.delay) == (
        timedelta(minutes=10),
        timedelta(0),
        timedelta(minutes=2),
    )
    assert (settings.max_catchup, settings.backfill_max_window) == (timedelta(days=3), timedelta(hours=1))
    assert settings.start == datetime(2026, 11, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('interval = "soon"', 'detections.interval: expected a duration such as "30m", "1h" or "7d" (at least 1s)'),
        ("suppress = 0", "detections.suppress: expected a duration"),
        ("lookback = true", "detections.lookback: expected a duration"),
        ('delay = "-5m"', "detections.delay: expected a duration"),
        ("max_alerts = 0", "detections.max_alerts: expected a whole number of 1 or more, got 0"),
        ('max_alerts = "100"', "detections.max_alerts: expected int, got str '100'"),
        ("exception_dirs = 3", "detections.exception_dirs: expected list, got int 3"),
        ('start = "yesterday"', "detections.start: expected an ISO 8601 time"),
        ('intreval = "5m"', "detections: unknown key 'intreval'; expected one of: backfill_max_window"),
    ],
)
def test_a_wrong_value_names_the_key_and_what_it_expected(tmp_path, line, message):
    (tmp_path / "cyberwell.toml").write_text(f"[detections]\n{line}\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path)
    assert message in str(raised.value)
    result = cli(tmp_path, "rules", "list")  # and a command stops on it with the same words
    assert result.exit_code == 2 and message in " ".join(result.output.split())


# -- the commands obey it -------------------------------------------------------------------------


def test_detect_takes_the_cap_and_suppression_defaults_from_the_config(home):
    first = run_json(home, "detect", *WINDOW)
    assert (first["alerts_new"], first["alerts_held_back"]) == (20, 0)  # 10 users x 2 hours

    configure(home, 'max_alerts = 3\nsuppress = "1d"\n')
    capped = run_json(home, "detect", *WINDOW)
    # A day's span (new alert ids): one alert per user (10), of which the cap lets 3 through.
    assert (capped["alerts_new"], capped["alerts_held_back"]) == (3, 7)


def test_configured_exception_folders_apply_in_detect_and_are_checked_by_rules_list(home):
    (home / "allow-lists").mkdir()
    (home / "allow-lists" / "ours.yml").write_text(EXCEPTION)
    configure(home, 'exception_dirs = ["allow-lists"]\n')
    report = run_json(home, "detect", *WINDOW)
    [flood] = report["rules"]
    assert (flood["matched"], flood["excepted"]) == (36, 4)  # user3's four sign-ins were allowed
    expired = [p for p in report["problems"] if "last-years-pen-test" in p["name"]]
    assert expired and "expired" in expired[0]["reason"]
    listed = run_json(home, "rules", "list")
    assert [p["name"] for p in listed["problems"]] == [expired[0]["name"]]


def test_detect_profile_shows_the_slowest_rules_first_and_how_many_more(home):
    for number in range(24):
        text = FLOOD_RULE.replace("c001", f"d{number:03d}").replace("Flood Address", f"Flood Address {number}")
        (home / "rules" / f"copy{number}.yml").write_text(text)
    result = cli(home, "detect", *WINDOW, "--profile")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Time per rule" in text and "5 more rules, each faster" in text
    table = result.output[result.output.index("Time per rule") :]
    cells = [line.split("│")[2].strip() for line in table.splitlines() if line.count("│") == 8]
    seconds = [float(cell) for cell in cells if cell]  # a long title folds onto a second line
    assert len(seconds) == 20 and seconds == sorted(seconds, reverse=True)


def test_backfill_runs_in_bounded_windows_and_the_history_shows_them(home):
    configure(home, 'backfill_max_window = "4h"\n')
    done = run_json(home, "detect", "--backfill", "2026-11-16T00:00:00Z", "2026-11-17T00:00:00Z")
    assert [(r["start"][11:16], r["end"][11:16]) for r in done["runs"]] == [
        ("00:00", "04:00"),
        ("04:00", "08:00"),
        ("08:00", "12:00"),
        ("12:00", "16:00"),
        ("16:00", "20:00"),
        ("20:00", "00:00"),
    ]
    assert sum(r["alerts_new"] for r in done["runs"]) == 20 and done["gaps_left"] == 0
    run_json(home, "detect", *WINDOW)  # a manual run is kept in the history too
    history = run_json(home, "detect", "runs", "--limit", "2")
    assert [r["kind"] for r in history["runs"]] == ["manual", "backfill"] and history["runs_total"] == 7
    assert history["runs"][1]["events_scanned"] == 0 and history["runs"][0]["events_scanned"] == 40
    shown = " ".join(cli(home, "detect", "runs", "--limit", "2").output.split())
    assert "5 more runs: see them with --limit." in shown
    refused = cli(home, "detect", "--backfill", "2026-11-17T00:00:00Z", "2026-11-16T00:00:00Z")
    assert refused.exit_code == 2 and "--backfill: FROM 2026-11-17T00:00:00+00:00 is not before TO" in refused.output


def test_a_rule_with_a_wrong_schedule_is_listed_as_a_problem_and_not_run(home):
    broken = FLOOD_RULE.replace("c001", "c002").replace("level: medium", "level: medium\ncyberwell: {interval: soon}")
    (home / "rules" / "broken.yml").write_text(broken)
    listed = run_json(home, "rules", "list")
    assert [r["id"] for r in listed["rules"]] == ["7f100d00-0000-4000-8000-00000000c001"]
    [problem] = listed["problems"]
    assert "'cyberwell: interval' must be a duration" in problem["reason"] and "c002" in problem["name"]
    report = run_json(home, "detect", *WINDOW)
    assert [r["rule_id"] for r in report["rules"]] == ["7f100d00-0000-4000-8000-00000000c001"]
    assert [p["name"] for p in report["problems"]] == [problem["name"]]
