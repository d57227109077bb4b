"""``cyberwell audit`` as the operator runs it: verify's exit code and message, the head to keep
elsewhere, ``--expect-head``, ``--all``, ``list`` with filters and terminal-safe values."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from store.state.audit import AuditEntry, append_audit
from store.state.database import StateDB

runner = CliRunner()


def run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "audit", *args], env={"COLUMNS": "300"}, catch_exceptions=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    state = StateDB(tmp_path / "state.sqlite")
    with state.transaction() as con:
        append_audit(
            con,
            [
                AuditEntry(
                    "alice", "approval", "playbook-run:1", "approved graph.user.disable for a.user", "succeeded"
                ),
                AuditEntry("cyberwell serve", "action", "playbook-run:1", "graph.user.disable a.user", "succeeded"),
                AuditEntry("cyberwell deliverer", "delivery", "webhook:3", "POST to the SOC", "succeeded"),
                AuditEntry("bob", "triage", "alert:a1", "closed as false_positive", "succeeded"),
                AuditEntry("bob", "triage", "alert:\x1b[31mred", "acknowledged", "succeeded"),
            ],
        )
    return tmp_path


def edit(home: Path, sql: str) -> None:
    con = sqlite3.connect(home / "state.sqlite")
    with con:
        con.execute(sql)
    con.close()


def test_verify_says_intact_prints_the_head_and_exits_0(home):
    result = run(home, "verify")
    assert result.exit_code == 0, result.output
    assert "audit trail intact: 5 entries checked" in result.output
    head = _head(home)
    assert f"head: {head}" in result.output
    assert run(home, "anchor").output.strip() == head


def test_verify_names_the_edited_entry_and_exits_1(home):
    edit(home, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    result = run(home, "verify")
    assert result.exit_code == 1
    assert "audit trail tampered with: entry 2 was edited: its hash does not match its content (entry 2, edited)" in (
        result.output
    )


def test_verify_json_reports_a_deletion(home):
    edit(home, "DELETE FROM audit_log WHERE seq = 5")
    result = run(home, "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["checked"] == 4
    assert report["problems"] == [
        {"seq": 5, "kind": "deleted", "message": "entries after 4 were deleted: the head records entry 5"}
    ]


def test_verify_all_lists_every_problem(home):
    edit(home, "UPDATE audit_log SET what = 'nothing' WHERE seq = 1")
    edit(home, "UPDATE audit_log SET result = 'failed' WHERE seq = 3")
    first = json.loads(run(home, "verify", "--json").stdout)["problems"]
    every = json.loads(run(home, "verify", "--all", "--json").stdout)["problems"]
    assert [p["seq"] for p in first] == [1]
    assert [(p["seq"], p["kind"]) for p in every] == [(1, "edited"), (3, "edited")]


def test_expect_head_catches_a_rewritten_trail(home):
    anchor = _head(home)
    assert run(home, "verify", "--expect-head", anchor).exit_code == 0
    # rewrite the whole trail with a consistent chain: bob's closing never happened
    state = StateDB(home / "state.sqlite")
    edit(home, "DELETE FROM audit_log")
    edit(home, "DELETE FROM audit_head")
    with state.transaction() as con:
        append_audit(con, [AuditEntry("alice", "approval", "playbook-run:1", "approved", "succeeded")] * 5)
    assert run(home, "verify").exit_code == 0
    result = run(home, "verify", "--expect-head", anchor)
    assert result.exit_code == 1
    assert f"the chain no longer leads to the anchor 5:{anchor.split(':')[1][:16]}" in result.output


def test_a_malformed_anchor_is_a_usage_error(home):
    result = run(home, "verify", "--expect-head", "five:abc")
    assert result.exit_code == 2
    assert "--expect-head: an audit anchor is SEQ:HASH" in result.output


def test_list_filters_and_shows_log_values_without_obeying_them(home):
    result = run(home, "list", "--kind", "triage")
    assert result.exit_code == 0
    assert "closed as false_positive" in result.output and "POST to the SOC" not in result.output
    assert "\x1b" not in result.output and "\\x1b[31mred" in result.output
    listed = json.loads(run(home, "list", "--subject", "playbook-run:1", "--json").stdout)
    assert [(e["seq"], e["actor"]) for e in listed] == [(2, "cyberwell serve"), (1, "alice")]
    assert [e["seq"] for e in json.loads(run(home, "list", "--limit", "2", "--json").stdout)] == [5, 4]


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--kind", "approve"], "--kind: expected one of approval"), (["--limit", "0"], "--limit: expected 1 to 10000")],
)
def test_list_refuses_bad_options(home, args, says):
    result = run(home, "list", *args)
    assert result.exit_code == 2 and says in result.output


def test_the_installed_command_exits_1_on_a_tampered_trail(home):
    edit(home, "DELETE FROM audit_log WHERE seq = 3")
    cyberwell = Path(sys.executable).parent / "cyberwell"
    done = subprocess.run([str(cyberwell), "--home", str(home), "audit", "verify"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "entry 3 was deleted" in done.stderr


def _head(home: Path) -> str:
    con = sqlite3.connect(home / "state.sqlite")
    seq, digest = con.execute("SELECT seq, hash FROM audit_head").fetchone()
    con.close()
    return f"{seq}:{digest}"
