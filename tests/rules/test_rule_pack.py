"""``cyberwell rules test`` and ``cyberwell rules check`` as a person runs them (issue 11, point 5).

``rules test`` stores each rule's test events in throw-away stores — embedded always, and
Elasticsearch under a temporary index prefix when asked — and says per rule what passed and, for
what failed, which event did what; exit code 1 on any failure. ``rules check`` runs pySigma's
validators (and Cyberwell's "what to do" check) and names the rule and validator of each issue.
Every shipped rule's own events are run on the embedded store by tests/rules/test_rule_test_events.py.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from console.cli import app
from detections.pack.stores import ES_PREFIX

REPO = Path(__file__).resolve().parents[2]
CYBERWELL_RULES = REPO / "rules" / "cyberwell"
#: A cross-section for Elasticsearch: an empty string (unknown device), a shipped exception and
#: integer ports (cleartext), a correlation with its base rule, and a vendor namespace (FortiGate).
ES_SAMPLE = [
    "azure_ad_sign_ins_from_unknown_devices",
    "net_firewall_cleartext_protocols",
    "mfa_fatigue",
    "fortinet_fortigate_new_admin_account_created",
]


def cyberwell(home: Path, *args: str, config: Path | None = None):
    options = ["--home", str(home), *(["--config", str(config)] if config else [])]
    return CliRunner().invoke(app, [*options, *args], catch_exceptions=False)


def rule_folder_config(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "cyberwell.toml"
    config.write_text(f'[detections]\nrule_dirs = ["{folder}"]\n', encoding="utf-8")
    return config


def _indices(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/_cat/indices/{ES_PREFIX}*?h=index&expand_wildcards=all", timeout=30) as answer:
        return set(answer.read().decode().split())


# -- rules test ---------------------------------------------------------------------------------


def test_rules_test_runs_on_elasticsearch_too_and_leaves_nothing_behind(tmp_path, elastic_url):
    before = _indices(elastic_url)
    result = cyberwell(tmp_path, "rules", "test", "--es-url", elastic_url, "--json", *ES_SAMPLE)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    ran = {(Path(r["rule_file"]).stem, r["store"]): r for r in report["results"]}
    assert set(ran) == {(name, store) for name in ES_SAMPLE for store in ("embedded", "elasticsearch")}
    assert all(r["passed"] for r in ran.values()), [r["failures"] for r in ran.values() if not r["passed"]]
    assert _indices(elastic_url) == before  # the temporary prefix's indices are gone


@pytest.fixture
def own_rules(tmp_path) -> Path:
    """A person's rule folder: a copy of one Cyberwell rule with its test events."""
    folder = tmp_path / "rules"
    (folder / "tests").mkdir(parents=True)
    shutil.copy(CYBERWELL_RULES / "defender_malware_high.yml", folder)
    shutil.copy(CYBERWELL_RULES / "tests" / "defender_malware_high.yaml", folder / "tests")
    return folder


def test_rules_test_passes_a_rule_whose_events_agree(tmp_path, own_rules):
    result = cyberwell(tmp_path, "rules", "test", config=rule_folder_config(tmp_path, own_rules))
    assert result.exit_code == 0, result.output
    assert "pass" in result.output and "all 1 passed (embedded)" in result.output


def test_a_near_miss_that_fires_fails_the_rule_and_says_which(tmp_path, own_rules):
    events_file = own_rules / "tests" / "defender_malware_high.yaml"
    spec = yaml.safe_load(events_file.read_text(encoding="utf-8"))
    spec["no_match"].append({**spec["match"][0], "host.name": "near-miss-that-is-not"})
    events_file.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = cyberwell(tmp_path, "rules", "test", "--json", config=rule_folder_config(tmp_path, own_rules))
    assert result.exit_code == 1
    [outcome] = json.loads(result.output)["results"]
    assert not outcome["passed"]
    assert any("no_match events raised High-Severity Malware Alert" in line for line in outcome["failures"])


def test_a_match_event_that_does_not_fire_is_named(tmp_path, own_rules):
    events_file = own_rules / "tests" / "defender_malware_high.yaml"
    spec = yaml.safe_load(events_file.read_text(encoding="utf-8"))
    spec["match"].append({**spec["match"][0], "m365_defender.alert.severity": "low"})
    events_file.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = cyberwell(tmp_path, "rules", "test", "--json", config=rule_folder_config(tmp_path, own_rules))
    assert result.exit_code == 1
    [outcome] = json.loads(result.output)["results"]
    assert outcome["failures"] == [
        "match event 1 did not raise cyberwell-defender-malware-high (the rule did not match it)"
    ]


def test_a_rule_without_test_events_fails(tmp_path, own_rules):
    (own_rules / "tests" / "defender_malware_high.yaml").unlink()
    result = cyberwell(tmp_path, "rules", "test", config=rule_folder_config(tmp_path, own_rules))
    assert result.exit_code == 1
    assert "no test events" in result.output and "FAIL" in result.output


def test_a_rule_name_that_names_nothing_fails(tmp_path):
    result = cyberwell(tmp_path, "rules", "test", "--json", "cyberwell-no-such-rule")
    assert result.exit_code == 1
    assert json.loads(result.output)["unknown"] == ["cyberwell-no-such-rule"]


# -- rules check --------------------------------------------------------------------------------


def _stix(tags: set[str]) -> dict:
    """A MITRE ATT&CK STIX bundle (enterprise-attack.json's shape) with just these tags."""
    objects: list[dict] = [{"type": "x-mitre-collection", "x_mitre_version": "test"}]
    for tag in sorted(tags):
        name = tag.removeprefix("attack.")
        reference = [{"source_name": "mitre-attack", "external_id": name.upper()}]
        if name.startswith("t") and name[1:2].isdigit():
            objects.append({"type": "attack-pattern", "name": name, "external_references": reference})
        else:
            reference[0]["external_id"] = f"TA-{name}"
            objects.append({"type": "x-mitre-tactic", "x_mitre_shortname": name, "external_references": reference})
    return {"type": "bundle", "objects": objects}


def _cyberwell_tags() -> set[str]:
    tags = set()
    for path in CYBERWELL_RULES.glob("*.yml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            tags.update(tag for tag in document.get("tags", []) if tag.startswith("attack."))
    return tags


def test_the_shipped_rules_pass_every_validator_with_their_tags_checked(tmp_path):
    """ATT&CK tags are checked against the given catalogue. The vendored rules' tags are not in
    this one: those issues are quieted (fixed by a newer vendored commit), not failures; the
    Cyberwell rules' own must all be known, and each has its level and "what to do" note."""
    attack = tmp_path / "enterprise-attack.json"
    attack.write_text(json.dumps(_stix(_cyberwell_tags())), encoding="utf-8")
    result = cyberwell(tmp_path, "rules", "check", "--json", "--attack-data", str(attack))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and report["issues"] == []
    assert "attacktag" not in report["not_run"] and report["rules"] >= 37
    quieted = report["quieted"]
    assert quieted and {issue["validator"] for issue in quieted} == {"attacktag"}
    assert all("/rules/sigmahq/" in issue["path"] for issue in quieted)


def test_rules_check_names_the_rule_and_the_validator_of_each_issue(tmp_path, own_rules):
    rule = own_rules / "defender_malware_high.yml"
    text = rule.read_text(encoding="utf-8")
    # a selection the condition never uses, and no "what to do" note
    text = text.replace("    condition: selection\n", "    unused:\n        host.name: x\n    condition: selection\n")
    text = text.split("cyberwell:\n")[0] + "level: high\n"
    rule.write_text(text, encoding="utf-8")
    result = cyberwell(tmp_path, "rules", "check", "--json", config=rule_folder_config(tmp_path, own_rules))
    assert result.exit_code == 1
    issues = {(issue["validator"], issue["title"]) for issue in json.loads(result.output)["issues"]}
    title = "High-Severity Malware Alert From Microsoft Defender"
    assert {("dangling_detection", title), ("cyberwell_metadata", title)} <= issues
