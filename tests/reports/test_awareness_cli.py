"""The awareness evidence from the command line: a GoPhish export imported with `cyberwell
evidence import-gophish` and read back by `cyberwell report awareness`; the `[evidence]` table
turning Attack Simulation Training and GoPhish's API on, its mistakes named."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest
from typer.testing import CliRunner

from collectors.evidence.awareness.columns import AST_COLUMNS, ATTACK_SIMULATION, GOPHISH, GOPHISH_COLUMNS
from collectors.evidence.snapshot_run import EvidenceSettings, configured_jobs
from console.cli import app
from console.reporting.evidence_commands import awareness_settings
from store.snapshots import SnapshotStore
from tests.reports.test_awareness_metrics import (
    DIRECTORY_COLUMNS,
    READ_AT,
    USERS,
    ast_rows,
    directory,
    gophish_rows,
    write,
)

LAUNCH = "2026-11-03T09:00:00Z"


def campaign(results: list[tuple[str, str, bool]]) -> dict:
    """A campaign as GoPhish's API documents it (GET /api/campaigns/:id), without its timeline."""
    return {
        "id": 7,
        "name": "Council tax rebate",
        "status": "Completed",
        "launch_date": LAUNCH,
        "completed_date": "2026-11-10T09:00:00Z",
        "results": [
            {"id": f"r{n}", "email": email, "status": status, "reported": reported, "send_date": LAUNCH}
            for n, (email, status, reported) in enumerate(results)
        ],
        "timeline": [],
    }


AWARENESS_PERIOD = ["--from", "2026-09-01T00:00:00Z", "--to", "2026-11-30T00:00:00Z"]


def cyberwell(home, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_an_imported_gophish_export_is_counted_in_the_awareness_report(tmp_path):
    people = [(f"p{n}@council.gov.uk", "Clicked Link" if n < 3 else "Email Sent", n >= 8) for n in range(10)]
    people.append(("", "Email Sent", False))  # no address: cannot be counted
    export = tmp_path / "rebate.json"
    export.write_text(json.dumps(campaign(people)))
    imported = cyberwell(tmp_path, "evidence", "import-gophish", str(export), "--json")
    assert imported.exit_code == 0, imported.output
    answer = json.loads(imported.stdout)
    assert answer["kept"] == 10 and len(answer["set_aside"]) == 1

    out = tmp_path / "out"
    written = cyberwell(
        tmp_path,
        "report",
        "awareness",
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-30T00:00:00Z",
        "--out",
        str(out),
        "--format",
        "md",
    )
    assert written.exit_code == 0, written.output
    text = " ".join((out / "awareness.md").read_text().split())
    assert "Council tax rebate" in text and "3 of 10" in text and "2 of 10" in text
    assert "p1@council.gov.uk" not in text  # no named individuals in the default report


def test_the_awareness_report_writes_a_pack_of_the_snapshots_it_read_that_verifies(tmp_path):
    snapshots = SnapshotStore(tmp_path)
    write(snapshots, USERS, DIRECTORY_COLUMNS, directory())
    write(snapshots, ATTACK_SIMULATION, AST_COLUMNS, ast_rows())
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, gophish_rows())
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, gophish_rows(), READ_AT + dt.timedelta(days=1))
    out = tmp_path / "out"
    result = cyberwell(tmp_path, "report", "awareness", *AWARENESS_PERIOD, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    pack = json.loads(result.stdout)["pack"]
    with zipfile.ZipFile(pack["path"]) as archive:
        names = set(archive.namelist())
        index = [json.loads(line) for line in archive.read("evidence/snapshots.jsonl").splitlines()]
    assert {f"report/awareness.{kind}" for kind in ("html", "md", "json")} <= names
    # Both GoPhish readings (a campaign counts as its latest showed it), the simulation and the directory.
    assert sorted(entry["source"] for entry in index) == sorted([USERS, ATTACK_SIMULATION, GOPHISH, GOPHISH])
    assert {f"evidence/{entry['file']}" for entry in index} <= names
    verified = cyberwell(tmp_path, "report", "verify", pack["path"], "--expect-manifest", pack["manifest_sha256"])
    assert verified.exit_code == 0 and "evidence pack intact" in verified.output

    nothing = cyberwell(
        tmp_path, "report", "awareness", *AWARENESS_PERIOD, "--out", str(tmp_path / "bare"), "--no-pack"
    )
    assert nothing.exit_code == 0 and not (tmp_path / "bare" / "awareness-evidence-pack.zip").exists()


def test_a_file_that_is_not_an_export_is_refused_by_name(tmp_path):
    wrong = tmp_path / "notes.json"
    wrong.write_text('{"hello": 1}')
    result = cyberwell(tmp_path, "evidence", "import-gophish", str(wrong))
    assert result.exit_code == 2
    assert "notes.json: campaign 1 has no 'results' list" in " ".join(result.output.split())


def test_the_evidence_table_turns_on_attack_simulation_and_gophish(tmp_path):
    table = {"attack_simulation": True, "gophish": {"url": "https://phish.council.gov.uk", "api_key_file": "gp.key"}}
    attack, endpoint = awareness_settings(table, tmp_path)
    assert attack is True and endpoint is not None
    assert (endpoint.base_url, endpoint.api_key_file) == ("https://phish.council.gov.uk", tmp_path / "gp.key")
    jobs = configured_jobs(EvidenceSettings(lambda: None, defender=None, attack_simulation=attack, gophish=endpoint))  # type: ignore[arg-type, return-value]
    assert {"attack_simulation.results", "gophish.results"} <= {job.source for job in jobs}
    plain = configured_jobs(EvidenceSettings(lambda: None, defender=None))  # type: ignore[arg-type, return-value]
    assert not {"attack_simulation.results", "gophish.results"} & {job.source for job in plain}


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"phishing": True}, "evidence: unknown key 'phishing'"),
        ({"attack_simulation": "yes"}, "evidence.attack_simulation: expected true or false"),
        ({"gophish": {"url": "http://phish.example"}}, "evidence.gophish.url: expected GoPhish's https:// admin URL"),
        ({"gophish": {"url": "https://p", "api_key": "k3y"}}, "evidence.gophish: unknown key 'api_key'"),
    ],
)
def test_a_wrong_evidence_setting_names_the_key(tmp_path, table, said):
    from console.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        awareness_settings(table, tmp_path)
    assert said in str(raised.value) and "k3y" not in str(raised.value)


POLICY = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/firewallPolicies/fwp-hub"


def test_the_evidence_table_names_the_firewall_policies_and_where_the_apis_are():
    from console.reporting.evidence_commands import cloud_settings

    defender, arm, policies = cloud_settings(
        {"firewall_policies": [POLICY], "arm_base_url": "http://127.0.0.1:9/arm", "defender_base_url": "https://x"}
    )
    assert (defender.base_url, arm and arm.base_url, policies) == ("https://x", "http://127.0.0.1:9/arm", (POLICY,))
    jobs = configured_jobs(EvidenceSettings(lambda: None, defender=defender, arm=arm, firewall_policies=policies))  # type: ignore[arg-type, return-value]
    assert "azure_firewall.rules" in {job.source for job in jobs}
    _, no_arm, none = cloud_settings({})
    assert no_arm is None and none == ()


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"firewall_policies": ["fwp-hub"]}, "evidence.firewall_policies: expected a list of Azure Firewall policy"),
        ({"arm_base_url": "http://arm.example"}, "evidence.arm_base_url: expected an https:// URL"),
    ],
)
def test_a_wrong_cloud_setting_names_the_key(table, said):
    from console.config import ConfigError
    from console.reporting.evidence_commands import cloud_settings

    with pytest.raises(ConfigError) as raised:
        cloud_settings(table)
    assert said in str(raised.value)
