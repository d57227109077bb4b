"""Every Cyberwell rule with test events in rules/cyberwell/tests/<stem>.yaml behaves as they say.

The events are loaded into a real embedded store and the rule file is run by the detection engine,
so a failure here is what a user would see: a rule that stays silent on its own story, or one that
fires on the look-alikes. The test file's header documents its format (``mode: each`` /
``together``, ``groups``, ``base``); one test per rule file and aspect, named after the file.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from detections import load_rules, run_detections
from store import EmbeddedStore
from tests.events_factory import event_table

RULES = Path(__file__).resolve().parents[1] / "rules" / "cyberwell"
CASES = sorted(path for path in RULES.glob("*.y*ml") if (RULES / "tests" / f"{path.stem}.yaml").is_file())
TIMESTAMP_COLUMNS = {"@timestamp", "event.ingested", "m365_defender.alert.last_update_time"}
# Types docs/events.md gives that value inference would not (ints default to int64).
DECLARED_TYPES = {"source.port": pa.int32(), "destination.port": pa.int32()}


def spec(rule_file: Path) -> dict:
    return yaml.safe_load((RULES / "tests" / f"{rule_file.stem}.yaml").read_text(encoding="utf-8"))


def stored_rows(events: list[dict], label: str) -> pa.Table:
    """Test events as stored rows: ids where missing, ISO times parsed, lists/objects as JSON."""
    rows, types = [], dict(DECLARED_TYPES)
    for index, event in enumerate(events):
        row = {"event.id": f"{label}-{index}"}
        for name, value in event.items():
            if name in TIMESTAMP_COLUMNS and isinstance(value, str):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif isinstance(value, (dict, list)):
                value = json.dumps(value, separators=(",", ":"))
            row[name] = value
        rows.append(row)
    for name in {name for row in rows for name in row} - set(types) - TIMESTAMP_COLUMNS:
        kinds = {type(row[name]) for row in rows if row.get(name) is not None}
        if kinds == {bool}:
            types[name] = pa.bool_()
        elif kinds == {int}:
            types[name] = pa.int64()
        elif kinds and kinds <= {int, float}:
            types[name] = pa.float64()
    return event_table(rows, types)


def run(tmp_path: Path, rule_file: Path, events: list[dict], label: str):
    """Run the rule file over the events in a fresh store; the report covers all of them."""
    store = EmbeddedStore(tmp_path / label)
    table = stored_rows(events, label)
    store.append(table)
    times = table.column("@timestamp").to_pylist()
    # The window ends a day after the last event: the events are all there will be.
    return run_detections(store, [rule_file], min(times), max(times) + timedelta(days=1))


def rule_key(rule_file: Path, reference: str) -> str:
    ruleset = load_rules([rule_file])
    assert not ruleset.problems, ruleset.problems
    for loaded in (*ruleset.detections, *ruleset.correlations):
        if reference in (loaded.key, loaded.rule.name):
            return loaded.key
    raise AssertionError(f"{rule_file.name}: no rule named {reference}")


def fired(report, key: str) -> list:
    return [alert for alert in report.alerts if alert.rule_id == key]


@pytest.mark.parametrize("rule_file", CASES, ids=lambda path: path.stem)
def test_the_rule_file_loads_without_problems(rule_file):
    assert load_rules([rule_file]).problems == []


@pytest.mark.parametrize("rule_file", CASES, ids=lambda path: path.stem)
def test_match_events_raise_the_rule(tmp_path, rule_file):
    case = spec(rule_file)
    key = rule_key(rule_file, case["rule"])
    if case["mode"] == "each":
        for index, event in enumerate(case["match"]):
            report = run(tmp_path, rule_file, [event], f"match-{index}")
            assert report.ok, report.failed
            assert fired(report, key), f"match event {index} did not raise {case['rule']}"
    else:
        report = run(tmp_path, rule_file, case["match"], "match")
        assert report.ok, report.failed
        raised = [alert.group_keys for alert in fired(report, key)]
        assert sorted(map(_sorted_items, raised)) == sorted(map(_sorted_items, case["groups"]))


@pytest.mark.parametrize("rule_file", CASES, ids=lambda path: path.stem)
def test_no_match_events_raise_nothing(tmp_path, rule_file):
    case = spec(rule_file)
    report = run(tmp_path, rule_file, case["no_match"], "no-match")
    assert report.ok, report.failed
    assert report.alerts == [], [(a.rule_title, a.group_keys, a.event_ids) for a in report.alerts]


@pytest.mark.parametrize("rule_file", [path for path in CASES if "base" in spec(path)], ids=lambda path: path.stem)
def test_base_rule_events_match_their_base_rule(tmp_path, rule_file):
    """Base rules raise no alerts of their own, so their matches are read from the report."""
    for name, events in spec(rule_file)["base"].items():
        key = rule_key(rule_file, name)
        for section, expected in (("match", len(events["match"])), ("no_match", 0)):
            report = run(tmp_path, rule_file, events[section], f"{name}-{section}")
            [result] = [result for result in report.rules if result.rule_id == key]
            assert (result.status, result.matched) == ("succeeded", expected), (name, section)


def _sorted_items(mapping: dict) -> list:
    return sorted((name, str(value)) for name, value in mapping.items())
