"""What a terminal shows of hostile log data: every control character made visible, never obeyed.

A user principal name can hold an OSC 8 hyperlink, a syslog line can hold ``ESC [2J`` (clear the
screen), a rule title can hold a C1 CSI or a right-to-left override. Each command is run as a
person runs it, in a subprocess, and its stdout and stderr must hold none of those characters
raw, while still showing the value (with ``\\x1b`` written out).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]

OSC8_LINK = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
CLEAR_SCREEN = "\x1b[2J"
C1_CSI = "\x9b31m"
RTL_OVERRIDE = "\u202e"
#: Characters a terminal acts on: none may reach stdout or stderr raw.
OBEYED = ["\x1b", "\x9b", "\u202e", "\u2066", "\x07", "\x7f"]


def cyberwell(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="400")  # wide: a value is not folded
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_nothing_obeyed(done: subprocess.CompletedProcess[str]) -> None:
    for char in OBEYED:
        assert char not in done.stdout, f"{char!r} reached stdout"
        assert char not in done.stderr, f"{char!r} reached stderr"


def signin(upn: str) -> dict:
    return {
        "id": "00000000-0000-0000-0000-000000000001",
        "createdDateTime": "2026-11-16T09:00:00Z",
        "userPrincipalName": upn,
        "userId": "u-1",
        "userDisplayName": f"Mallory {RTL_OVERRIDE}gpj.exe",
        "ipAddress": "81.2.69.160",
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "conditionalAccessStatus": "success",
        "isInteractive": True,
        "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
        "location": {"city": "London", "state": "London", "countryOrRegion": "GB"},
    }


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory) -> Path:
    """A home with an alert on a user named with an OSC 8 link, raised by a rule whose title
    holds a C1 CSI, and quarantined syslog lines that clear the screen."""
    base = tmp_path_factory.mktemp("hostile")
    home = base / "home"
    rules = home / "rules"
    rules.mkdir(parents=True)
    # YAML's "\e" and "\x9b" are ESC and CSI: a rule file is as hostile as a log line can be.
    (rules / "hostile.yml").write_text(
        'title: "Sign-in \\x9b31m[link=http://evil]seen[/link]"\n'
        "id: 0b9d7a8e-1111-4c3e-9d55-2f0b6a1c2d3e\nstatus: experimental\n"
        "logsource: {product: azure, service: signinlogs}\n"
        "detection: {selection: {source.ip: '81.2.69.160'}, condition: selection}\nlevel: high\n"
    )
    (home / "cyberwell.toml").write_text('[detections]\nrule_dirs = ["rules"]\n')
    signins = base / "signins.ndjson"
    signins.write_bytes(orjson.dumps(signin(f"{OSC8_LINK}@x.gov.uk")) + b"\n")
    syslog = base / "firewall.log"
    syslog.write_text(f"{CLEAR_SCREEN}not syslog at all {C1_CSI} {RTL_OVERRIDE}\n", encoding="utf-8")
    for path, kind in ((signins, "entra-signins"), (syslog, "syslog")):
        assert cyberwell(home, "ingest", str(path), "--source", kind).returncode == 0
    assert cyberwell(home, "detect").returncode == 0
    return home


def test_alerts_list_shows_an_osc8_link_as_text_not_a_link(hostile_home):
    done = cyberwell(hostile_home, "alerts", "list")
    assert done.returncode == 0, done.stderr
    assert_nothing_obeyed(done)
    assert "\\x1b]8;;http://evil\\x1b\\click" in done.stdout  # shown, written out
    assert "\\x9b31m[link=http://evil]seen[/link]" in done.stdout  # the rule title, markup literal


def test_quarantine_list_does_not_clear_the_screen(hostile_home):
    done = cyberwell(hostile_home, "quarantine", "list")
    assert done.returncode == 0, done.stderr
    assert_nothing_obeyed(done)
    assert "\\x1b[2Jnot syslog at all \\x9b31m \\u202e" in done.stdout


def test_rules_list_shows_a_hostile_title_as_written(hostile_home):
    done = cyberwell(hostile_home, "rules", "list")
    assert_nothing_obeyed(done)
    assert "Sign-in \\x9b31m[link=http://evil]seen[/link]" in done.stdout


@pytest.mark.parametrize("command", [["alerts", "list"], ["quarantine", "list"], ["rules", "list"]])
def test_json_stays_valid_and_carries_the_values_unchanged(hostile_home, command):
    done = cyberwell(hostile_home, *command, "--json")
    assert done.returncode == 0, done.stderr
    assert_nothing_obeyed(done)
    values = set(strings(json.loads(done.stdout)))  # the values themselves survive the round trip
    expected = {
        "alerts": f"{OSC8_LINK}@x.gov.uk",
        "quarantine": f"{CLEAR_SCREEN}not syslog at all {C1_CSI} {RTL_OVERRIDE}",
        "rules": "Sign-in \x9b31m[link=http://evil]seen[/link]",
    }[command[0]]
    assert expected in values


def strings(value: object):
    """Every string in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_an_error_about_a_file_name_shows_it_without_obeying_or_styling_it(tmp_path):
    name = tmp_path / f"signins{CLEAR_SCREEN}[bold red]x[/]{RTL_OVERRIDE}.json"
    done = cyberwell(tmp_path / "home", "ingest", str(name), "--source", "entra-signins")
    assert done.returncode == 2
    assert_nothing_obeyed(done)
    assert "signins\\x1b[2J[bold red]x[/]\\u202e.json" in done.stderr
    assert done.stdout == ""  # errors go to stderr


def test_an_error_from_a_hostile_option_value_is_one_visible_line(tmp_path):
    done = cyberwell(tmp_path / "home", "alerts", "list", "--severity", f"high{CLEAR_SCREEN}\nforged line")
    assert done.returncode == 2
    assert_nothing_obeyed(done)
    assert done.stderr.count("\n") == 1 and "\\x1b[2J\\nforged line" in done.stderr


@given(st.text())
def test_visible_leaves_nothing_a_terminal_obeys(value):
    from console import render

    for one_line in (True, False):
        shown = render.visible(value, one_line)
        assert not any(char in shown for char in OBEYED)
        assert not any(0x80 <= ord(char) < 0xA0 or ord(char) < 0x20 and char not in "\n\t" for char in shown)
        if one_line:
            assert "\n" not in shown and "\r" not in shown


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cf", "Zl", "Zp"))))
def test_visible_changes_nothing_in_ordinary_text(value):
    from console import render

    assert render.visible(value) == value


def test_serve_log_lines_are_one_visible_line_each():
    from console.live.commands import VisibleFormatter

    record = logging.LogRecord("cyberwell.collect", logging.WARNING, __file__, 1, "%s: run failed: %s", None, None)
    record.args = ("syslog", f"bad frame {CLEAR_SCREEN}\n2026-01-01 INFO forged: stopped")
    line = VisibleFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == "WARNING cyberwell.collect: syslog: run failed: bad frame \\x1b[2J\\n2026-01-01 INFO forged: stopped"
