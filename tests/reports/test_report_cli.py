"""``cyberwell report ce-plus|awareness|verify`` and ``cyberwell evidence collect``, run as a
person runs them (typer's runner over the real ``cyberwell`` app), on a home with real evidence
snapshots; ``evidence collect`` against the Microsoft stand-ins on 127.0.0.1.

Until the lead registers the two typer apps in console/cli.py, the tests add them to the app
themselves (the same two lines); afterwards they use the app as it ships.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from store.snapshots import SnapshotStore
from tests.reports.test_ce_checks import T
from tests.reports.test_report_rendering import EVIL, attestations_file, hostile_estate
from tests.support.evidence_standin import EvidenceStandIn, make_users

runner = CliRunner()
PERIOD = ["--from", "2026-11-01T00:00:00Z", "--to", T.isoformat()]


def cyberwell(home: Path, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(
        app, ["--home", str(home), *args], env={"COLUMNS": "200", **(env or {})}, catch_exceptions=False
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    hostile_estate(tmp_path / "home")
    attestations_file(tmp_path / "home")
    return tmp_path / "home"


def test_ce_plus_writes_every_format_and_a_pack_that_verifies(home, tmp_path):
    out = tmp_path / "out"
    result = cyberwell(home, "report", "ce-plus", *PERIOD, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "ce-plus.html",
        "ce-plus.md",
        "ce-plus.json",
        "ce-plus-evidence-pack.zip",
    }
    assert "automatic fails (the assessment would fail): " in result.output and "SU-05" in result.output
    manifest_hash = next(line.split()[2] for line in result.output.splitlines() if line.startswith("manifest SHA-256"))
    verified = cyberwell(
        home, "report", "verify", str(out / "ce-plus-evidence-pack.zip"), "--expect-manifest", manifest_hash
    )
    assert verified.exit_code == 0, verified.output
    assert "evidence pack intact:" in verified.output
    assert "<script" not in (out / "ce-plus.html").read_text() and EVIL not in (out / "ce-plus.md").read_text()


def test_ce_plus_json_summary_and_chosen_formats(home, tmp_path):
    out = tmp_path / "out"
    result = cyberwell(home, "report", "ce-plus", *PERIOD, "--out", str(out), "--format", "json", "--no-pack", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["files"] == [str(out / "ce-plus.json")] and summary["pack"] is None
    assert summary["verdicts"]["fail"] >= 5 and "UA-07" in summary["automatic_fails"]
    assert sorted(p.name for p in out.iterdir()) == ["ce-plus.json"]


def test_verify_exits_1_naming_the_changed_file(home, tmp_path):
    out = tmp_path / "out"
    cyberwell(home, "report", "ce-plus", *PERIOD, "--out", str(out), "--format", "md")
    pack = out / "ce-plus-evidence-pack.zip"
    with zipfile.ZipFile(pack) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["report/ce-plus.md"] += b"\nAll requirements pass.\n"
    with zipfile.ZipFile(pack, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = cyberwell(home, "report", "verify", str(pack), "--json")
    assert result.exit_code == 1
    verdict = json.loads(result.output)
    assert verdict["changed"] == ["report/ce-plus.md"] and not verdict["ok"]
    text = cyberwell(home, "report", "verify", str(pack))
    assert "changed: report/ce-plus.md does not match its SHA-256 in the manifest" in text.output


def test_wrong_options_are_refused_with_what_was_expected(home, tmp_path):
    out = str(tmp_path / "out")
    bad_format = cyberwell(home, "report", "ce-plus", *PERIOD, "--out", out, "--format", "html,pdf")
    assert (
        bad_format.exit_code == 2
        and "--format: 'pdf' is not a format; expected a list of html, md, json" in bad_format.output
    )
    backwards = cyberwell(
        home, "report", "ce-plus", "--from", "2026-12-02T00:00:00Z", "--to", "2026-12-01T00:00:00Z", "--out", out
    )
    assert backwards.exit_code == 2 and "is not before --to" in backwards.output
    not_a_pack = tmp_path / "x.zip"
    not_a_pack.write_text("hello")
    refused = cyberwell(home, "report", "verify", str(not_a_pack))
    assert refused.exit_code == 2 and "x.zip: not a zip file" in refused.output


def test_a_broken_attestations_file_stops_the_report_naming_the_problem(home, tmp_path):
    broken = home / "attestations" / "attestations.yaml"
    broken.write_text(broken.read_text().replace("by:", "who:"), encoding="utf-8")
    result = cyberwell(home, "report", "ce-plus", *PERIOD, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "attestations.yaml: attestation #1 (SCP-01): by is missing" in result.output


# -- evidence collect ------------------------------------------------------------------------------

SECRET = "stand-in-secret-Cli9"


@pytest.fixture
def standin():
    server = EvidenceStandIn(page_limit=7).start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


def config(home: Path, standin: EvidenceStandIn) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "cyberwell.toml").write_text(
        f"""
[collectors.entra-signins]
tenant_id = "{standin.tenant_id}"
client_id = "cyberwell-app"
client_secret_env = "CW_EVIDENCE_SECRET"
authority_host = "{standin.authority}"
ca_bundle = "{standin.ca_bundle}"
base_url = "{standin.graph_url}"
""",
        encoding="utf-8",
    )


def test_evidence_collect_takes_snapshots_with_the_configs_identity(standin, tmp_path):
    people, registrations = make_users(30, T)
    standin.set(users=people, registrations=registrations)
    home = tmp_path / "collect-home"
    config(home, standin)
    env = {"CW_EVIDENCE_SECRET": SECRET}
    result = cyberwell(
        home,
        "evidence",
        "collect",
        "--source",
        "graph.users",
        "--source",
        "graph.authentication_methods",
        "--json",
        env=env,
    )
    assert result.exit_code == 0, result.output
    entries = {e["source"]: e for e in json.loads(result.output)["entries"]}
    assert set(entries) == {"graph.users", "graph.authentication_methods"}
    assert entries["graph.users"]["status"] == "collected" and entries["graph.users"]["rows"] == 30
    assert SnapshotStore(home).latest("graph.users").rows == 30
    assert SECRET not in result.output


def test_evidence_collect_names_a_missing_secret_and_an_unknown_source(standin, tmp_path):
    home = tmp_path / "collect-home"
    config(home, standin)
    missing = cyberwell(home, "evidence", "collect", "--source", "graph.users")
    assert missing.exit_code == 2 and "collectors.entra-signins.client_secret_env" in missing.output
    unknown = cyberwell(home, "evidence", "collect", "--source", "graph.userz", env={"CW_EVIDENCE_SECRET": SECRET})
    assert unknown.exit_code == 2 and "--source: 'graph.userz' is not an evidence source" in unknown.output


def test_evidence_collect_without_a_graph_table_says_what_to_add(tmp_path):
    result = cyberwell(tmp_path / "bare-home", "evidence", "collect")
    assert result.exit_code == 2 and "add a [collectors.entra-signins] table" in result.output


def test_ce_plus_records_the_latest_report_for_the_dashboard(home, tmp_path):
    from console.dashboard.screens.overview_panels import compliance
    from reports.latest import LATEST_FILE, LatestReport, LatestUnreadable, read_latest

    out = tmp_path / "out"
    result = cyberwell(home, "report", "ce-plus", *PERIOD, "--out", str(out), "--format", "md,json", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    latest = read_latest(home)
    assert isinstance(latest, LatestReport)
    assert dict(latest.verdicts) == summary["verdicts"]
    assert [fail.id for fail in latest.automatic_fails] == summary["automatic_fails"]
    assert (latest.period_start.isoformat(), latest.period_end.isoformat()) == (summary["from"], summary["to"])
    assert latest.folder == str(out.resolve())
    assert latest.files == ("ce-plus.md", "ce-plus.json", "ce-plus-evidence-pack.zip")
    assert not list((home / LATEST_FILE).parent.glob(".*.tmp"))  # written to a temporary name, then renamed

    record = (home / LATEST_FILE).read_text("utf-8")
    (home / LATEST_FILE).write_text(record[: len(record) // 2], "utf-8")  # cut short by hand
    broken = read_latest(home)
    assert isinstance(broken, LatestUnreadable) and "is not JSON" in broken.reason
    assert "cannot be used" in compliance(broken).plain and str(home / LATEST_FILE) in compliance(broken).plain
