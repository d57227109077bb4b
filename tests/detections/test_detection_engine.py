"""The detection engine on a real embedded store: rules written to a folder, events appended,
alerts read back from the state database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from detections import run_detections
from detections.alerts import alert_id
from store import EmbeddedStore
from store.protocol import AlertFilter
from tests.support.events_factory import event_table

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
SIGNIN_TYPES = {"azure.signinlogs.properties.status.error_code": pa.int64()}

LEGACY_AUTH = """
title: Legacy Protocol Sign-In
id: 6a1d0000-0000-4000-8000-000000000001
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    azure.signinlogs.properties.client_app_used: IMAP4
  condition: selection
level: high
tags: [attack.initial-access, attack.t1078.004, car.2013-02-003]
"""

SPRAY = """
title: Wrong Password
id: 6a1d0000-0000-4000-8000-000000000010
name: wrong_password
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 50126}
  condition: selection
level: low
tags: [attack.t1110.003]
---
title: Password Spray
id: 6a1d0000-0000-4000-8000-000000000011
correlation:
  type: value_count
  rules: [wrong_password]
  group-by: [source.ip]
  timespan: 30m
  condition: {gte: 5, field: user.name}
level: high
tags: [attack.credential-access]
"""


def signin(
    n: int,
    minute: float,
    user: str = "alice@westbrook-dc.gov.uk",
    ip: str = "192.0.2.10",
    code: int = 0,
    app: str = "Browser",
    country: str = "GB",
) -> dict:
    return {
        "@timestamp": T0 + timedelta(minutes=minute),
        "event.id": f"signin-{n}",
        "event.dataset": "azure.signinlogs",
        "event.category": "authentication",
        "event.action": "sign-in",
        "event.outcome": "success" if code == 0 else "failure",
        "user.name": user,
        "source.ip": ip,
        "source.geo.country_iso_code": country,
        "azure.signinlogs.result_type": str(code),
        "azure.signinlogs.properties.status.error_code": code,
        "azure.signinlogs.properties.client_app_used": app,
    }


@pytest.fixture
def store(tmp_path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "home")


@pytest.fixture
def rules(tmp_path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def append(store: EmbeddedStore, rows: list[dict]) -> None:
    store.append(event_table(rows, SIGNIN_TYPES))


def legacy_events() -> list[dict]:
    return [
        signin(1, 5, app="IMAP4"),
        signin(2, 6, app="IMAP4"),
        signin(3, 50, app="IMAP4"),
        signin(4, 65, app="IMAP4"),  # the next hour
        signin(5, 10, user="bob@westbrook-dc.gov.uk", app="IMAP4"),
        signin(6, 7, app="Browser"),
        signin(7, 8, user="bob@westbrook-dc.gov.uk"),
    ]


def test_a_matching_rule_raises_one_alert_per_user_and_hour_with_the_rules_metadata(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    append(store, legacy_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))

    assert report.problems == [] and report.ok
    [result] = report.rules
    assert (result.title, result.status, result.matched, result.alerts) == (
        "Legacy Protocol Sign-In",
        "succeeded",
        5,
        3,
    )
    stored = {(a.group_keys["user.name"], a.first_seen): a for a in store.alerts.list()}
    assert len(stored) == 3 and report.alerts_new == 3
    alice_8 = stored[("alice@westbrook-dc.gov.uk", T0 + timedelta(minutes=5))]
    assert alice_8.event_ids == ["signin-1", "signin-2", "signin-3"] and alice_8.event_count == 3
    assert alice_8.last_seen == T0 + timedelta(minutes=50)
    assert alice_8.rule_id == "6a1d0000-0000-4000-8000-000000000001"
    assert alice_8.rule_title == "Legacy Protocol Sign-In"
    assert alice_8.severity == "high"
    assert alice_8.tags == ["attack.initial-access", "attack.t1078.004"]  # ATT&CK tags only
    assert stored[("alice@westbrook-dc.gov.uk", T0 + timedelta(minutes=65))].event_ids == ["signin-4"]
    assert stored[("bob@westbrook-dc.gov.uk", T0 + timedelta(minutes=10))].event_ids == ["signin-5"]
    json.dumps(report.to_dict())  # the CLI prints it as JSON


def test_running_twice_gives_the_same_alerts_and_no_duplicates(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    append(store, legacy_events())
    first = run_detections(store, [rules], T0, T0 + timedelta(hours=3))
    second = run_detections(store, [rules], T0, T0 + timedelta(hours=3))
    assert sorted(a.id for a in first.alerts) == sorted(a.id for a in second.alerts)
    assert (second.alerts_new, second.alerts_updated) == (0, 0)
    assert len(store.alerts.list()) == 3


def test_overlapping_windows_find_the_same_alerts_as_one_window_and_merge_their_events(tmp_path, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    whole = EmbeddedStore(tmp_path / "whole")
    append(whole, legacy_events())
    run_detections(whole, [rules], T0, T0 + timedelta(hours=3))

    pieces = EmbeddedStore(tmp_path / "pieces")
    append(pieces, legacy_events())
    run_detections(pieces, [rules], T0, T0 + timedelta(minutes=30))
    later = run_detections(pieces, [rules], T0 + timedelta(minutes=20), T0 + timedelta(hours=3))
    assert later.alerts_updated == 1  # alice's 08:00 hour gained signin-3

    def summary(store):
        return sorted((a.id, tuple(a.event_ids), a.event_count, a.first_seen, a.last_seen) for a in store.alerts.list())

    assert summary(pieces) == summary(whole)


def test_a_broken_file_and_a_legacy_count_rule_are_reported_by_name_while_the_others_run(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    write(rules, "broken.yml", "title: [unclosed\n  detection: {")
    write(
        rules,
        "count.yml",
        """
title: Many Failures (legacy count)
id: 6a1d0000-0000-4000-8000-000000000002
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 50126}
  condition: selection | count() by source.ip > 10
level: medium
""",
    )
    write(
        rules,
        "nowhere.yml",
        """
title: Unknown Log Source
id: 6a1d0000-0000-4000-8000-000000000003
logsource: {product: windows, service: security}
detection: {selection: {EventID: 4625}, condition: selection}
""",
    )
    (rules / "tests").mkdir()
    write(rules / "tests", "legacy.yaml", "match: [not, a, rule]")  # test events, not a rule
    append(store, legacy_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))

    problems = {p.name: p for p in report.problems}
    assert set(problems) == {
        "broken.yml",
        "Many Failures (legacy count) (6a1d0000-0000-4000-8000-000000000002)",
        "Unknown Log Source (6a1d0000-0000-4000-8000-000000000003)",
    }
    assert "correlation" in problems["Many Failures (legacy count) (6a1d0000-0000-4000-8000-000000000002)"].reason
    assert "windows" in problems["Unknown Log Source (6a1d0000-0000-4000-8000-000000000003)"].reason
    assert [r.title for r in report.rules] == ["Legacy Protocol Sign-In"]
    assert len(report.alerts) == 3


def test_a_rule_failing_at_run_time_is_recorded_failed_by_name_and_the_others_still_run(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    write(
        rules,
        "firewall.yml",
        """
title: Denied Connection
id: 6a1d0000-0000-4000-8000-000000000004
logsource: {product: azure, service: firewall}
detection: {selection: {event.action: deny}, condition: selection}
level: low
""",
    )
    append(store, legacy_events())
    store.append(
        event_table(
            [
                {
                    "@timestamp": T0,
                    "event.id": "fw-1",
                    "event.dataset": "azure.firewall",
                    "event.action": "deny",
                    "source.ip": "203.0.113.9",
                }
            ]
        )
    )
    for segment in (store.home / "events" / "azure.firewall").rglob("*.parquet"):
        segment.write_bytes(b"not parquet any more")  # a damaged segment: DuckDB fails reading it
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))

    results = {r.title: r for r in report.rules}
    assert results["Denied Connection"].status == "failed"
    assert results["Denied Connection"].error
    assert results["Legacy Protocol Sign-In"].status == "succeeded"
    assert len(report.alerts) == 3 and not report.ok
    with store.state.connect() as con:  # the runs as recorded, for whoever reads them later
        runs = {row["rule_title"]: row for row in con.execute("SELECT * FROM rule_runs")}
    assert runs["Denied Connection"]["status"] == "failed" and runs["Denied Connection"]["error"]
    assert (runs["Legacy Protocol Sign-In"]["status"], runs["Legacy Protocol Sign-In"]["alerts"]) == ("succeeded", 3)


def spray_events(ip: str = "203.0.113.45", people: int = 6, start: float = 0, step: float = 2) -> list[dict]:
    return [
        signin(
            1000 + i + int(start) * 100,
            start + i * step,
            user=f"user{i}@westbrook-dc.gov.uk",
            ip=ip,
            code=50126,
            country="RU",
        )
        for i in range(people)
    ]


def test_a_value_count_correlation_raises_one_alert_per_group_and_its_base_rule_none(store, rules):
    write(rules, "spray.yml", SPRAY)
    append(store, spray_events() + spray_events(ip="198.51.100.7", people=4, start=1) + [signin(1, 3, code=0)])
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=2))

    assert report.problems == []
    [alert] = store.alerts.list()
    assert alert.rule_title == "Password Spray" and alert.severity == "high"
    assert alert.group_keys == {"source.ip": "203.0.113.45"}
    assert alert.event_ids == [f"signin-{1000 + i}" for i in range(6)]
    assert alert.tags == ["attack.credential-access", "attack.t1110.003"]  # own, then its parts'
    assert alert.id == alert_id("6a1d0000-0000-4000-8000-000000000011", {"source.ip": "203.0.113.45"}, T0)
    results = {r.title: r for r in report.rules}
    assert results["Wrong Password"].alerts == 0  # generate defaults to false
    assert results["Wrong Password"].matched == 10


def test_a_base_rule_with_generate_true_also_raises_its_own_alerts(store, rules):
    write(rules, "spray.yml", SPRAY.replace("  type: value_count", "  type: value_count\n  generate: true"))
    append(store, spray_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=2))
    titles = sorted(a.rule_title for a in report.alerts)
    assert titles == ["Password Spray"] + ["Wrong Password"] * 6  # one per person (user.name)


def test_correlation_alerts_are_stable_across_overlapping_runs(tmp_path, rules):
    """A burst spanning two runs, whose window began before the second run's start."""
    write(rules, "spray.yml", SPRAY)
    events = spray_events(people=12, start=50, step=3)  # 08:50 .. 09:23, one every 3 minutes
    whole = EmbeddedStore(tmp_path / "whole")
    append(whole, events)
    run_detections(whole, [rules], T0, T0 + timedelta(hours=3))

    pieces = EmbeddedStore(tmp_path / "pieces")
    append(pieces, events)
    for start, end in [(0, 60), (45, 75), (70, 120), (0, 180)]:  # scheduler runs with overlap
        run_detections(pieces, [rules], T0 + timedelta(minutes=start), T0 + timedelta(minutes=end))

    def summary(store):
        return sorted((a.id, tuple(a.event_ids)) for a in store.alerts.list())

    assert summary(pieces) == summary(whole)
    assert len(summary(whole)) == 1


def test_a_chained_correlation_finds_failures_followed_by_a_success(store, rules):
    """The specification's own example: many failures, then a success, for one user."""
    write(
        rules,
        "chain.yml",
        """
title: Failures Then Success
id: 6a1d0000-0000-4000-8000-000000000020
correlation:
  type: temporal_ordered
  rules: [many_failures, success]
  group-by: [user.name]
  timespan: 30m
level: critical
---
title: Many Failures
id: 6a1d0000-0000-4000-8000-000000000021
name: many_failures
correlation:
  type: event_count
  rules: [failure]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 3}
---
title: Failure
id: 6a1d0000-0000-4000-8000-000000000022
name: failure
logsource: {product: azure, service: signinlogs}
detection: {selection: {event.outcome: failure}, condition: selection}
---
title: Success
id: 6a1d0000-0000-4000-8000-000000000023
name: success
logsource: {product: azure, service: signinlogs}
detection: {selection: {event.outcome: success}, condition: selection}
""",
    )
    carol, dave = "carol@westbrook-dc.gov.uk", "dave@westbrook-dc.gov.uk"
    append(
        store,
        [
            signin(1, 0, user=carol, code=50126),
            signin(2, 1, user=carol, code=50126),
            signin(3, 2, user=carol, code=50126),
            signin(4, 6, user=carol),
            # dave: a success first, then failures — not "followed by"
            signin(5, 0, user=dave),
            signin(6, 1, user=dave, code=50126),
            signin(7, 2, user=dave, code=50126),
            signin(8, 3, user=dave, code=50126),
        ],
    )
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=1))
    assert report.problems == [] and report.ok
    [alert] = report.alerts
    assert alert.rule_title == "Failures Then Success" and alert.severity == "critical"
    assert alert.group_keys == {"user.name": carol}
    assert alert.event_ids == ["signin-1", "signin-2", "signin-3", "signin-4"]


def test_aliases_group_events_whose_fields_differ_per_rule(store, rules):
    write(
        rules,
        "alias.yml",
        """
title: Inbound Then Sign-In
id: 6a1d0000-0000-4000-8000-000000000030
correlation:
  type: temporal
  rules: [blocked_inbound, signin_from_address]
  group-by: [address]
  aliases:
    address:
      blocked_inbound: source.ip
      signin_from_address: source.ip
  timespan: 15m
level: medium
---
title: Blocked Inbound
id: 6a1d0000-0000-4000-8000-000000000031
name: blocked_inbound
logsource: {product: azure, service: firewall}
detection: {selection: {event.action: deny}, condition: selection}
---
title: Sign-In
id: 6a1d0000-0000-4000-8000-000000000032
name: signin_from_address
logsource: {product: azure, service: signinlogs}
detection: {selection: {event.outcome: success}, condition: selection}
""",
    )
    append(store, [signin(1, 5, ip="203.0.113.9"), signin(2, 5, ip="192.0.2.1")])
    store.append(
        event_table(
            [
                {
                    "@timestamp": T0,
                    "event.id": "fw-1",
                    "event.dataset": "azure.firewall",
                    "event.action": "deny",
                    "source.ip": "203.0.113.9",
                },
            ]
        )
    )
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=1))
    assert report.problems == []
    [alert] = report.alerts
    assert alert.group_keys == {"address": "203.0.113.9"}
    assert alert.event_ids == ["fw-1", "signin-1"]


def test_an_unsupported_correlation_is_reported_by_name(store, rules):
    write(rules, "mode.yml", SPRAY.replace("type: value_count", "type: value_mode"))
    write(rules, "legacy.yml", LEGACY_AUTH)
    append(store, legacy_events() + spray_events(start=100))
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))
    [problem] = report.problems
    assert problem.name == "Password Spray (6a1d0000-0000-4000-8000-000000000011)"
    assert "value_mode" in problem.reason and "runs on its own" in problem.reason
    # the other rule ran, and so did the spray's base rule: a correlation that cannot run must
    # not silence the failed sign-ins it was built on
    assert {a.rule_title for a in report.alerts} == {"Legacy Protocol Sign-In", "Wrong Password"}


def test_a_correlation_pysigma_rejects_is_reported_and_the_rest_of_its_file_still_loads(store, rules):
    broken = SPRAY.replace("condition: {gte: 5, field: user.name}", "condition: {gte: 5, eq: 3, field: user.name}")
    write(rules, "spray.yml", broken + LEGACY_AUTH.replace("\ntitle:", "---\ntitle:", 1))
    append(store, spray_events() + legacy_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))
    [problem] = report.problems
    assert problem.name == "Password Spray (6a1d0000-0000-4000-8000-000000000011)"
    # the legacy rule in the same file runs, and the spray's base rule raises its own alerts
    assert {a.rule_title for a in report.alerts} == {"Legacy Protocol Sign-In", "Wrong Password"}


def test_the_entity_of_a_single_event_rule_can_be_chosen_in_the_rule(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH + "cyberwell:\n  group-by: [source.ip]\n")
    append(
        store,
        [
            signin(1, 5, app="IMAP4", ip="192.0.2.1"),
            signin(2, 6, user="bob@westbrook-dc.gov.uk", app="IMAP4", ip="192.0.2.1"),
            signin(3, 7, app="IMAP4", ip="192.0.2.2"),
        ],
    )
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=1))
    assert sorted((a.group_keys["source.ip"], a.event_count) for a in report.alerts) == [
        ("192.0.2.1", 2),
        ("192.0.2.2", 1),
    ]


def test_two_rules_with_one_id_are_reported_and_the_first_runs(store, rules):
    write(rules, "a.yml", LEGACY_AUTH)
    write(rules, "b.yml", LEGACY_AUTH.replace("Legacy Protocol Sign-In", "Copy Of It"))
    append(store, legacy_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=3))
    [problem] = report.problems
    assert problem.name.startswith("Copy Of It") and "already used" in problem.reason
    assert {a.rule_title for a in report.alerts} == {"Legacy Protocol Sign-In"}


def test_alerts_are_listed_newest_first_and_filtered_by_severity_and_time(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    write(rules, "spray.yml", SPRAY.replace("level: high", "level: critical"))
    append(store, legacy_events() + spray_events(start=100))
    run_detections(store, [rules], T0, T0 + timedelta(hours=3))

    everything = store.alerts.list()
    assert [a.last_seen for a in everything] == sorted((a.last_seen for a in everything), reverse=True)
    assert {a.severity for a in store.alerts.list(AlertFilter(severity_at_least="critical"))} == {"critical"}
    assert len(store.alerts.list(AlertFilter(severity_at_least="high"))) == 4
    late = store.alerts.list(AlertFilter(last_seen_from=T0 + timedelta(minutes=60)))
    assert {a.rule_title for a in late} == {"Password Spray", "Legacy Protocol Sign-In"}
    assert all(a.last_seen >= T0 + timedelta(minutes=60) for a in late)
    assert len(store.alerts.list(limit=2)) == 2
    assert store.alerts.count() == len(everything)
    assert store.alerts.count(AlertFilter(severity_at_least="high")) == 4
    first_hour = AlertFilter(first_seen_from=T0, first_seen_before=T0 + timedelta(minutes=60))
    early = store.alerts.list(first_hour)
    assert early and all(T0 <= a.first_seen < T0 + timedelta(minutes=60) for a in early)
    assert store.alerts.count(first_hour) == len(early) < len(everything)
    with pytest.raises(ValueError, match="severity"):
        store.alerts.list(AlertFilter(severity_at_least="urgent"))


def test_new_alerts_are_handed_over_inside_the_transaction_that_stores_them(store, rules):
    write(rules, "legacy.yml", LEGACY_AUTH)
    append(store, legacy_events())
    handed = []

    def outbox(connection, new, updated):
        (stored,) = connection.execute("SELECT count(*) FROM alerts").fetchone()
        handed.append((stored, sorted(a.id for a in new)))

    first = run_detections(store, [rules], T0, T0 + timedelta(hours=3), on_saved=outbox)
    run_detections(store, [rules], T0, T0 + timedelta(hours=3), on_saved=outbox)
    assert handed == [(3, sorted(a.id for a in first.alerts))]  # once, and already in the table


def test_a_correlation_grouping_by_a_field_that_is_not_stored_is_reported(store, rules):
    """A name no pipeline maps would read NULL in every row and never fire: refuse it."""
    write(rules, "spray.yml", SPRAY.replace("group-by: [source.ip]", "group-by: [IpAddres]"))
    append(store, spray_events())
    report = run_detections(store, [rules], T0, T0 + timedelta(hours=2))
    [problem] = report.problems
    assert problem.name == "Password Spray (6a1d0000-0000-4000-8000-000000000011)"
    assert "IpAddres" in problem.reason
