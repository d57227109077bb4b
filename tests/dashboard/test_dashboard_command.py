"""``cyberwell dashboard`` as a command: its options are checked before anything opens, and the
rule notes the detail shows come from the configured rule folders.

The command is registered in console/cli.py; here it is mounted on a group of its own with the
same home and config loading, so these tests do not depend on that registration.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from console import config as configuration
from console.dashboard.command import dashboard_command, rule_notes

REPO = Path(__file__).resolve().parents[2]
RULE = REPO / "rules" / "cyberwell" / "defender_malware_high.yml"

doors = typer.Typer()


@doors.callback()
def main(ctx: typer.Context, home: Annotated[Path, typer.Option("--home")]) -> None:
    ctx.obj = configuration.load(home, None)


doors.command("dashboard")(dashboard_command)


def test_a_refresh_out_of_range_is_refused_naming_the_option(tmp_path):
    result = CliRunner().invoke(doors, ["--home", str(tmp_path), "dashboard", "--refresh", "0"])
    assert result.exit_code == 2
    assert "--refresh: expected seconds from 0.2 to 3600, got 0" in result.output
    assert not (tmp_path / "state.sqlite").exists()  # refused before the store was opened


def test_a_blank_name_is_refused(tmp_path):
    result = CliRunner().invoke(doors, ["--home", str(tmp_path), "dashboard", "--as", "  "])
    assert result.exit_code == 2 and "--as: expected a name" in result.output


def test_rule_notes_are_the_configured_rules_what_to_do(tmp_path):
    rules = tmp_path / "my-rules"
    rules.mkdir()
    shutil.copy(RULE, rules / RULE.name)
    (tmp_path / "cyberwell.toml").write_text('[detections]\nrule_dirs = ["my-rules"]\n')
    cfg = configuration.load(tmp_path, None)
    notes = rule_notes(cfg, [])
    assert notes == {"e9b352fc-3feb-4d2e-a62e-785455d1f46a": notes["e9b352fc-3feb-4d2e-a62e-785455d1f46a"]}
    assert notes["e9b352fc-3feb-4d2e-a62e-785455d1f46a"].startswith("Isolate the device in Defender")
