"""The CLI at 80 columns and beyond: alerts that read on three lines instead of wrapping every
cell onto five, ``--wide``, ``--help`` that lists choices and shows flags as flags, choices
checked before a command runs, a progress bar only where a person watches, and hostile log
values shown literally in every listing.

Commands run in-process with typer's CliRunner (not a terminal, as when piped); a terminal is
made by handing ``console.render`` rich consoles with ``force_terminal=True``.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from console import progress, render
from console.cli import app
from store.state.alert_record import Alert
from store.state.alerts import AlertBook
from store.state.checkpoints import Checkpoints, CollectorRun
from store.state.database import StateDB
from tests.console.test_cli import signin

LONG_TITLE = "Password Spray From One Address Against Many Accounts"
USER = "hannah.whitfield@westbrook-dc.gov.uk"

#: Hostile values, each short enough for a table cell at 200 columns.
MARKUP = "[bold red]boss[/] [link=https://x]y[/link]"
ESCAPES = "\x1b[31mred\x1b]8;;https://x\x1b\\z"
SHOWN_ESCAPES = "\\x1b[31mred\\x1b]8;;https://x\\x1b\\z"


def cli(*args: str, columns: int = 80, env: dict[str, str] | None = None):
    return CliRunner(env={"COLUMNS": str(columns), **(env or {})}).invoke(app, list(args), catch_exceptions=False)


def save_alerts(home: Path, count: int = 3, title: str = LONG_TITLE, user: str = USER) -> list[Alert]:
    seen = datetime(2026, 11, 30, 9, tzinfo=UTC)
    alerts = [
        Alert.build(
            f"rule-{i}", title, "high", (), {"user.name": user, "source.ip": f"203.0.113.{i}"}, seen, seen, seen, ["e1"]
        )
        for i in range(count)
    ]
    AlertBook(StateDB(home / "state.sqlite")).save_run(alerts)
    return alerts


# -- alerts list at 80 columns, wide, and --wide ---------------------------------------------------


def test_alerts_at_80_columns_take_three_lines_each_with_the_title_whole(tmp_path):
    alerts = save_alerts(tmp_path)
    done = cli("--home", str(tmp_path), "alerts", "list")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert max(map(len, lines)) <= 80
    assert sum(LONG_TITLE in line for line in lines) == 3  # each title on one line, not folded
    assert sum(f"user.name={USER}" in line for line in lines) == 3
    for alert in alerts:
        (headline,) = [line for line in lines if line.startswith(alert.id[:12])]
        assert re.fullmatch(rf"{alert.id[:12]}  high +2026-11-30 09:00:00  1 event", headline.rstrip())
        assert alert.id not in done.output  # the whole id is for --wide and --json
    assert len(lines) == 1 + 3 * 3  # the title, then three lines an alert


def test_a_wide_terminal_gets_the_table(tmp_path):
    save_alerts(tmp_path)
    done = cli("--home", str(tmp_path), "alerts", "list", columns=200)
    rows = [line for line in done.output.splitlines() if LONG_TITLE in line]
    assert len(rows) == 3 and all("│" in row and "2026-11-30 09:00:00" in row and "high" in row for row in rows)


def test_wide_shows_whole_ids_one_line_an_alert_whatever_the_terminal(tmp_path):
    alerts = save_alerts(tmp_path)
    done = cli("--home", str(tmp_path), "alerts", "list", "--wide", columns=80)
    assert done.exit_code == 0, done.output
    for alert in alerts:
        (row,) = [line for line in done.output.splitlines() if alert.id in line]
        assert LONG_TITLE in row and f"user.name={USER}" in row and len(row) > 80


def test_the_demo_summary_reads_at_80_columns(tmp_path):
    done = cli("--home", str(tmp_path), "demo", "--size", "20000")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert max(map(len, lines)) <= 80
    # the serious alerts are cards: a rule title is one line
    assert any(line.strip() == "MFA Fatigue - Repeated Declined MFA Prompts For One User" for line in lines)
    # the dry runs are a table per playbook: what a step would do has most of the width
    assert any("would post a card titled 'Compromised account:" in line for line in lines)
    assert any(line.startswith("compromised-account (") for line in lines)


# -- --help and choices ------------------------------------------------------------------------------


def command_paths(group=None, prefix=()) -> list[tuple[str, ...]]:
    """Every command of the app, as the words that reach it."""
    group = group if group is not None else typer.main.get_command(app)
    found = [prefix]
    for name, command in getattr(group, "commands", {}).items():
        found.extend(command_paths(command, (*prefix, name)))
    return found


def test_no_help_shows_a_flag_as_taking_a_value():
    for path in command_paths():
        shown = cli(*path, "--help", columns=200)
        assert shown.exit_code == 0, (path, shown.output)
        assert "<bool>" not in shown.output, path


def test_a_commands_description_is_not_broken_where_its_source_line_ended():
    listing = cli("--help", columns=200).output
    assert "until SIGTERM or SIGINT." in next(line for line in listing.splitlines() if " serve " in line)
    shown = cli("serve", "--help", columns=200).output
    assert "on their schedules, until SIGTERM or SIGINT." in shown


@pytest.mark.parametrize(
    ("path", "option", "listed"),
    [
        (["ingest"], "--source", "[entra-signins|entra-signins-la|defender-alerts|azure-firewall|syslog]"),
        (["alerts", "list"], "--severity", "[informational|low|medium|high|critical]"),
        (["alerts", "list"], "--status", "[new|acknowledged|closed]"),
        (["playbook", "runs"], "--state", "[queued|running|awaiting_approval|succeeded|failed|timed_out|cancelled]"),
        (["demo"], "--store", "[embedded|elasticsearch]"),
        (["serve"], "--log-level", "[DEBUG|INFO|WARNING|ERROR]"),
        (["audit", "list"], "--kind", "[approval|denial|action|delivery|triage|playbook]"),
        (["detect"], "--from", "<str> Window start (ISO 8601) [default: oldest stored event]."),  # not read as markup
        ([], "--home", "<path> Data and config folder [env: CYBERWELL_HOME; default ~/.cyberwell]."),
        (["alerts", "list"], "--wide", "Every column in full"),
    ],
)
def test_help_lists_the_choices(path, option, listed):
    shown = " ".join(cli(*path, "--help", columns=250).output.replace("│", " ").split())
    assert f"{option} {listed}" in shown


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["alerts", "list", "--status", "open"], "--status: expected one of new, acknowledged, closed, got 'open'"),
        (
            ["alerts", "list", "--severity", "severe"],
            "--severity: unknown severity 'severe'; expected one of: informational, low, medium, high, critical",
        ),
        (["playbook", "runs", "--state", "stuck"], "--state: expected one of queued, running, awaiting_approval"),
        (["audit", "list", "--kind", "login"], "--kind: expected one of approval, denial"),
        (["demo", "--store", "mongo"], "--store: expected 'embedded' or 'elasticsearch', got 'mongo'"),
        (["serve", "--log-level", "LOUD"], "--log-level: expected one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'"),
    ],
)
def test_a_value_not_among_the_choices_is_refused_naming_them(tmp_path, args, said):
    done = cli("--home", str(tmp_path), *args, columns=200)
    assert done.exit_code == 2
    assert said in done.stderr and done.stderr.count("\n") == 1  # one line, no usage box
    assert done.stdout == ""


def test_a_refused_choice_is_json_with_json(tmp_path):
    done = cli("--home", str(tmp_path), "alerts", "list", "--status", "open", "--json")
    said = "--status: expected one of new, acknowledged, closed, got 'open'"
    assert done.exit_code == 2 and json.loads(done.stdout) == {"error": said, "code": 2}


def test_an_option_a_command_does_not_have_is_one_line_too(tmp_path):
    done = cli("--home", str(tmp_path), "serve", "--json")
    assert done.exit_code == 2 and done.stderr == "error: No such option: --json\n"


def test_choices_in_any_case_where_the_option_says_so(tmp_path):
    # --log-level takes any case; serve then stops on having nothing to serve, past the option
    done = cli("--home", str(tmp_path), "serve", "--no-detect", "--log-level", "debug")
    assert done.exit_code == 2 and "nothing to serve" in done.output


# -- the progress bar ---------------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path) -> Path:
    path = tmp_path / "signins.ndjson"
    path.write_bytes(b"".join(orjson.dumps(signin(i)) + b"\n" for i in range(50)))
    return path


@pytest.fixture
def terminal(monkeypatch):
    """stdout and stderr as a terminal would be, each written to a buffer the test reads."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, force_terminal=True, width=100))
    monkeypatch.setattr(render, "errors", Console(file=err, force_terminal=True, width=100))
    monkeypatch.delenv(progress.MODE_VARIABLE, raising=False)
    return out, err


def test_a_slow_ingest_on_a_terminal_shows_a_bar_on_stderr_then_the_table(tmp_path, export, terminal, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)  # every ingest is "slow"
    out, err = terminal
    done = cli("--home", str(tmp_path / "home"), "ingest", str(export), "--source", "entra-signins")
    assert done.exit_code == 0
    drawn = err.getvalue()
    assert "Ingesting entra-signins" in drawn and "━" in drawn and "1/1" in drawn
    assert "Ingesting" not in out.getvalue() and "Ingested" in out.getvalue()


def test_a_quick_ingest_draws_no_bar(tmp_path, export, terminal, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 60)
    out, err = terminal
    assert cli("--home", str(tmp_path / "home"), "ingest", str(export), "--source", "entra-signins").exit_code == 0
    assert err.getvalue() == "" and "Ingested" in out.getvalue()


def test_json_on_a_terminal_gets_no_bar(tmp_path, export, terminal, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    _, err = terminal
    done = cli("--home", str(tmp_path / "home"), "ingest", str(export), "--source", "entra-signins", "--json")
    assert json.loads(done.stdout)["ingested"] == 50
    assert err.getvalue() == ""


def test_piped_output_gets_no_bar_unless_asked(tmp_path, export, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    monkeypatch.delenv(progress.MODE_VARIABLE, raising=False)
    home = str(tmp_path / "home")
    piped = cli("--home", home, "ingest", str(export), "--source", "entra-signins")
    assert piped.exit_code == 0 and "Ingesting" not in piped.output
    asked = cli(
        "--home", home, "ingest", str(export), "--source", "entra-signins", env={progress.MODE_VARIABLE: "always"}
    )
    assert "Ingesting entra-signins" in asked.stderr and "Ingesting" not in asked.stdout


def test_never_turns_the_bar_off_on_a_terminal(tmp_path, export, terminal, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    _, err = terminal
    monkeypatch.setenv(progress.MODE_VARIABLE, "never")
    assert cli("--home", str(tmp_path / "home"), "ingest", str(export), "--source", "entra-signins").exit_code == 0
    assert err.getvalue() == ""


def test_a_backfill_on_a_terminal_counts_its_runs(tmp_path, export, terminal, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    out, err = terminal
    home = tmp_path / "home"
    home.mkdir()
    (home / "cyberwell.toml").write_text('[detections]\nbackfill_max_window = "1h"\n')
    done = cli("--home", str(home), "detect", "--backfill", "2026-11-16T08:00:00Z", "2026-11-16T11:00:00Z")
    assert done.exit_code == 0
    assert "Backfilling" in err.getvalue() and "0/3" in err.getvalue()
    assert "Backfill runs" in out.getvalue()


# -- hostile values in every listing -------------------------------------------------------------------

HOSTILE_USER = f"{MARKUP}{ESCAPES}@x.gov.uk"
PLAYBOOK = """\
id: tell
title: Tell the team
trigger:
  min_severity: critical
steps:
  - name: card
    action: notify.teams
    with:
      title: "Sign-in: {{ group['user.name'] }}"
      text: "{{ alert.rule_title }}"
"""
TEAMS = {"CW_POLISH_TEAMS": "https://teams.example.invalid/hook"}


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory) -> Path:
    """A home where a rule title, an alert's user name, a quarantined record, a collector's
    error, a playbook step's result and an audit entry's actor each hold Rich markup and
    terminal escapes."""
    base = tmp_path_factory.mktemp("hostile")
    home = base / "home"
    (home / "rules").mkdir(parents=True)
    (home / "playbooks").mkdir()
    (home / "playbooks" / "tell.yml").write_text(PLAYBOOK)
    # YAML's "\e" is ESC: a rule file is as hostile as a log line can be.
    (home / "rules" / "hostile.yml").write_text(
        'title: "Rule [bold red]boss[/] \\e[31mred"\n'
        "id: 0b9d7a8e-2222-4c3e-9d55-2f0b6a1c2d3e\nstatus: experimental\n"
        "logsource: {product: azure, service: signinlogs}\n"
        "detection: {selection: {source.ip: '81.2.69.160'}, condition: selection}\nlevel: high\n"
    )
    (home / "cyberwell.toml").write_text(
        '[detections]\nrule_dirs = ["rules"]\n\n[playbooks]\ndirs = ["playbooks"]\n\n'
        '[actions.teams]\nwebhook_url_env = "CW_POLISH_TEAMS"\n'
    )
    signins = base / "signins.ndjson"
    signins.write_bytes(orjson.dumps({**signin(1), "userPrincipalName": HOSTILE_USER}) + b"\n")
    syslog = base / "firewall.log"
    syslog.write_text(f"not syslog {MARKUP} {ESCAPES}\n", encoding="utf-8")
    for path, kind in ((signins, "entra-signins"), (syslog, "syslog")):
        assert cli("--home", str(home), "ingest", str(path), "--source", kind).exit_code == 0
    assert cli("--home", str(home), "detect", env=TEAMS).exit_code == 0
    Checkpoints(StateDB(home / "state.sqlite")).record_run(
        CollectorRun(
            "graph-signins", "2026-11-30T09:00:00Z", "2026-11-30T09:00:01Z", error=f"Graph said {MARKUP}{ESCAPES}"
        )
    )
    # a Teams card's title refuses control characters, so this alert's user name is markup only
    (alert,) = save_alerts(home, count=1, title="Markup rule", user=f"{MARKUP}@x.gov.uk")
    ran = cli(
        "--home",
        str(home),
        "playbook",
        "run",
        "tell",
        alert.id,
        "--dry-run",
        "--actor",
        f"eve {MARKUP}{ESCAPES}",
        env=TEAMS,
    )
    assert ran.exit_code == 0, ran.output
    return home


MARKED = ("[bold red]boss[/]", "\\x1b[31mred")  # a piece of each hostile value, as it must be shown
LISTINGS = [
    (["alerts", "list"], 80, MARKED),
    (["alerts", "list"], 200, MARKED),
    (["alerts", "list", "--wide"], 80, MARKED),
    (["quarantine", "list"], 200, MARKED),
    (["quarantine", "list"], 80, MARKED),
    (["rules", "list"], 200, MARKED),
    (["status"], 200, MARKED),
    (["status"], 80, MARKED),
    (["playbook", "runs"], 200, ()),  # the run's playbook, alert id and state: nothing from a log
    (["playbook", "runs"], 80, ()),
    (["playbook", "show", "1"], 200, MARKED[:1]),
    (["audit", "list"], 200, MARKED),
    (["detect"], 200, MARKED),  # the rules that matched, by title
    (["detect", "runs"], 200, ()),
]


@pytest.mark.parametrize(("command", "columns", "marked"), LISTINGS)
def test_every_listing_shows_markup_and_escapes_literally(hostile_home, command, columns, marked):
    done = cli("--home", str(hostile_home), *command, columns=columns, env=TEAMS)
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.output  # no colour, no link, no cleared screen: an ESC never reaches it raw
    for piece in marked:
        assert piece in done.output, (piece, done.output)


def test_each_hostile_value_is_shown_whole_where_it_belongs(hostile_home):
    def shown(*command: str) -> str:
        done = cli("--home", str(hostile_home), *command, columns=250, env=TEAMS)
        assert done.exit_code == 0 and "\x1b" not in done.output
        return done.output

    assert f"{MARKUP}{SHOWN_ESCAPES}@x.gov.uk" in shown("alerts", "list")  # the user name
    assert "Rule [bold red]boss[/] \\x1b[31mred" in shown("alerts", "list")  # the rule title
    assert "Rule [bold red]boss[/] \\x1b[31mred" in shown("rules", "list")
    record = shown("quarantine", "list")  # the record, in a column it wraps in
    assert f"not syslog {MARKUP}" in record and SHOWN_ESCAPES in record
    assert f"Graph said {MARKUP}{SHOWN_ESCAPES}" in shown("status")  # the collector's error
    assert f"Sign-in: {MARKUP}@x.gov.uk" in shown("playbook", "show", "1")  # a step's result
    assert f"eve {MARKUP}{SHOWN_ESCAPES}" in shown("audit", "list")  # who acted


def test_status_at_80_columns_gives_a_collectors_error_lines_of_its_own(tmp_path):
    error = "Graph answered 403: sign-in logs need Microsoft Entra ID P1 or P2 on the tenant (no premium licence)"
    Checkpoints(StateDB(tmp_path / "state.sqlite")).record_run(
        CollectorRun("entra-signins", "2026-11-30T09:00:00Z", "2026-11-30T09:00:01Z", error=error)
    )
    done = cli("--home", str(tmp_path), "status")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert max(map(len, lines)) <= 80
    (first,) = [number for number, line in enumerate(lines) if line.startswith("  last error: ")]
    told = " ".join(" ".join(lines[first:]).split())  # its lines, read as one sentence
    assert told.startswith(f"last error: 2026-11-30T09:00:01Z: {error}")


def test_playbook_runs_at_80_columns_give_the_whole_alert_id_a_line(hostile_home):
    (alert,) = [a for a in AlertBook(StateDB(hostile_home / "state.sqlite")).list() if a.rule_title == "Markup rule"]
    done = cli("--home", str(hostile_home), "playbook", "runs", env=TEAMS)
    lines = done.output.splitlines()
    assert max(map(len, lines)) <= 80
    assert [line for line in lines if alert.id in line] == [f"  alert: {alert.id}"]
