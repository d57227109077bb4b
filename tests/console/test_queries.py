"""The query layer on real stores: what a person is shown, as records.

Alerts come from a detection run over the demo generator's scenario ingested through the real
parsers; quarantined records from a real export with broken lines; collector status from run
records and a real syslog receiver's published counters.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from collectors.replay import ingest
from console.cli import app
from console.config import DEFAULT_RULE_DIRS
from detections import load_rules, run_detections
from queries.alert_summary import summarise_alerts
from queries.alerts import alerts_first_seen_between, list_alerts
from queries.collector_status import collector_status
from queries.quarantine import list_quarantine
from queries.receiver_status import RECEIVER_FRESH_SECONDS, receiver_status
from queries.rules import list_rules
from store import EmbeddedStore
from store.state.alert_record import SEVERITIES, severity_rank
from store.state.checkpoints import Checkpoints, CollectorRun
from tests.console.test_cli import signin

EVERY = 1_000_000


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    """A store after a detection run over a small scenario: alerts of several rules and levels."""
    from scenario import generate

    root = tmp_path_factory.mktemp("queries")
    manifest = generate(root / "scenario", size=5_000, seed=3)
    store = EmbeddedStore(root / "home")
    for item in manifest.files:
        ingest(store, [Path(item.path)], item.kind)
    run_detections(store, list(DEFAULT_RULE_DIRS), manifest.start, manifest.end)
    stored = store.alerts.list(limit=EVERY)
    assert len(stored) >= 5 and len({a.severity for a in stored}) >= 2 and len({a.rule_id for a in stored}) >= 3
    return store, manifest, stored


# -- alerts --------------------------------------------------------------------------------------


def test_a_limit_says_how_many_alerts_it_held_back(detected):
    store, _, stored = detected
    listing = list_alerts(store, limit=3)
    assert [a.id for a in listing.alerts] == [a.id for a in stored[:3]]  # newest last seen first
    assert (listing.total, listing.held_back) == (len(stored), len(stored) - 3)
    everything = list_alerts(store, limit=len(stored) + 10)
    assert (len(everything.alerts), everything.total, everything.held_back) == (len(stored), len(stored), 0)
    only_counted = list_alerts(store, limit=0)
    assert (only_counted.alerts, only_counted.total) == ((), len(stored))


def test_severity_filter_counts_what_matches_not_what_is_shown(detected):
    store, _, stored = detected
    serious = [a for a in stored if severity_rank(a.severity) >= severity_rank("high")]
    assert 1 < len(serious) < len(stored)
    listing = list_alerts(store, severity_at_least="high", limit=1)
    assert len(listing.alerts) == 1 and listing.alerts[0].severity in ("high", "critical")
    assert (listing.total, listing.held_back) == (len(serious), len(serious) - 1)


def test_rule_filter(detected):
    store, _, stored = detected
    rule_id = max({a.rule_id for a in stored}, key=lambda rid: sum(a.rule_id == rid for a in stored))
    mine = [a for a in stored if a.rule_id == rule_id]
    listing = list_alerts(store, rule_id=rule_id, limit=EVERY)
    assert {a.rule_id for a in listing.alerts} == {rule_id}
    assert listing.total == len(mine) == len(listing.alerts)
    assert list_alerts(store, rule_id="no-such-rule").total == 0


def test_status_filter(detected, tmp_path):
    store, _, stored = detected
    acknowledged = stored[-1]
    store.alerts.set_status(acknowledged.id, "acknowledged", actor="analyst@westbrook-dc.gov.uk")
    try:
        listing = list_alerts(store, status="acknowledged")
        assert [a.id for a in listing.alerts] == [acknowledged.id]
        assert listing.alerts[0].status == "acknowledged" and listing.total == 1
        new = list_alerts(store, status="new", limit=2)
        assert (len(new.alerts), new.total) == (2, len(stored) - 1)
        assert all(a.status == "new" for a in new.alerts)
    finally:
        store.alerts.set_status(acknowledged.id, "new", actor="analyst@westbrook-dc.gov.uk")


def test_an_unknown_severity_names_the_levels(detected):
    store, _, _ = detected
    with pytest.raises(ValueError, match="unknown severity 'severe'.*informational, low, medium, high, critical"):
        list_alerts(store, severity_at_least="severe")


def test_an_alert_record_gives_the_stores_json(detected):
    store, _, _ = detected
    listing = list_alerts(store, limit=EVERY)
    stored = store.alerts.list(limit=EVERY)  # read now: another test changes a status
    printed = CliRunner().invoke(app, ["--home", str(store.home), "alerts", "list", "--limit", str(EVERY), "--json"])
    assert [a.to_dict() for a in listing.alerts] == json.loads(printed.output)  # what the CLI prints
    assert [a.id for a in listing.alerts] == [a.id for a in stored]
    shown = listing.to_dict()
    assert (shown["total"], shown["held_back"], len(shown["alerts"])) == (len(stored), 0, len(stored))
    json.dumps(shown)  # JSON as it is, no encoder needed


def test_alerts_first_seen_in_a_window_most_severe_first(detected):
    store, manifest, stored = detected
    whole = alerts_first_seen_between(store, manifest.start, manifest.end)
    assert {a.id for a in whole.alerts} == {a.id for a in stored}
    ranks = [-severity_rank(a.severity) for a in whole.alerts]
    assert ranks == sorted(ranks)
    middle = manifest.start + (manifest.end - manifest.start) / 2
    late = alerts_first_seen_between(store, middle, manifest.end)
    expected = {a.id for a in stored if middle <= a.first_seen < manifest.end}
    assert 0 < len(expected) < len(stored)
    assert {a.id for a in late.alerts} == expected and late.total == len(expected)
    cut = alerts_first_seen_between(store, manifest.start, manifest.end, limit=2)
    assert len(cut.alerts) == 2 and (cut.total, cut.held_back) == (len(stored), len(stored) - 2)


def test_the_summary_counts_by_severity_and_by_rule(detected):
    store, manifest, stored = detected
    summary = summarise_alerts(alerts_first_seen_between(store, manifest.start, manifest.end).alerts)
    assert summary.total == len(stored)
    assert [(c.severity, c.alerts) for c in summary.by_severity] == [
        (level, n) for level in reversed(SEVERITIES) if (n := sum(a.severity == level for a in stored))
    ]
    assert sum(c.alerts for c in summary.by_rule) == len(stored)
    ordered = [(-severity_rank(c.severity), -c.alerts) for c in summary.by_rule]
    assert ordered == sorted(ordered)
    assert {a.id for a in summary.serious} == {a.id for a in stored if a.severity in ("high", "critical")}
    assert summary.to_dict()["by_severity"][0]["severity"] == summary.by_severity[0].severity


# -- rules -----------------------------------------------------------------------------------------


def test_rules_that_run_and_rules_that_cannot_with_why(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yml").write_text(
        "title: My Own Rule\nid: 0b9d7a8e-1111-4c3e-9d55-2f0b6a1c2d3e\nstatus: experimental\n"
        "logsource: {product: azure, service: signinlogs}\n"
        "detection: {selection: {user.name: 'x@y'}, condition: selection}\nlevel: low\n"
    )
    (rules / "broken.yml").write_text("title: [unclosed\n")
    catalogue = list_rules([rules])
    assert [(r.title, r.level, r.kind, r.generates) for r in catalogue.rules] == [
        ("My Own Rule", "low", "detection", True)
    ]
    assert [p.path for p in catalogue.problems] == [str(rules / "broken.yml")] and catalogue.problems[0].reason
    listed = catalogue.to_dict()
    assert [rule.pop("what_to_do") for rule in listed["rules"]] == [None]
    assert listed == load_rules([rules]).to_dict()


def test_every_cyberwell_rule_says_what_to_do_and_rules_list_shows_it():
    cyberwell = [d for d in DEFAULT_RULE_DIRS if d.name == "cyberwell"]
    catalogue = list_rules(cyberwell)
    assert catalogue.rules and all(rule.what_to_do for rule in catalogue.rules)
    listed = CliRunner().invoke(app, ["--home", "/nonexistent-home-for-rules", "rules", "list", "--json"])
    notes = {rule["title"]: rule["what_to_do"] for rule in json.loads(listed.output)["rules"]}
    assert all(notes[rule.title] == rule.what_to_do for rule in catalogue.rules)


# -- quarantine ------------------------------------------------------------------------------------


def test_quarantine_shows_the_newest_and_the_total(tmp_path):
    export = tmp_path / "signins.ndjson"
    export.write_bytes(b"\n".join([orjson.dumps(signin(1)), b"{first bad", orjson.dumps(signin(2)), b"[bad]"]) + b"\n")
    store = EmbeddedStore(tmp_path / "home")
    ingest(store, [export], "entra-signins")
    third = tmp_path / "third-bad.ndjson"
    third.write_bytes(orjson.dumps(signin(3)) + b"\n{third bad\n")
    ingest(store, [third], "entra-signins")
    ingest(store, [export], "entra-signins")  # the broken lines again: one row each, seen twice
    listing = list_quarantine(store, limit=2)
    assert (len(listing.records), listing.total, listing.held_back) == (2, 3, 1)
    assert [r.id for r in listing.records] == sorted((r.id for r in listing.records), reverse=True)
    assert {r.record for r in listing.records} == {"{third bad", "[bad]"}
    assert {r.record: r.sightings for r in listing.records} == {"{third bad": 1, "[bad]": 2}
    assert all(r.source == "entra-signins" and r.reason for r in listing.records)
    assert listing.to_dict() == {
        "total": 3,
        "records": [dict(row) for row in store.state.quarantined(2)],
    }


# -- collector status ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _run(source: str, minutes_ago: float, stored: int = 0, newest: dt.datetime | None = None, error=None):
    finished = NOW - dt.timedelta(minutes=minutes_ago)
    return CollectorRun(
        source=source,
        started_at=(finished - dt.timedelta(seconds=5)).isoformat(),
        finished_at=finished.isoformat(),
        stored=stored,
        newest_event=newest.isoformat() if newest else None,
        error=error,
    )


def test_collector_status_from_run_records(tmp_path):
    store = EmbeddedStore(tmp_path / "home")
    checkpoints = Checkpoints(store.state)
    newest = NOW - dt.timedelta(minutes=7)
    for run in (
        _run("entra-signins", 90, stored=500, newest=NOW - dt.timedelta(hours=2)),  # outside the hour
        _run("entra-signins", 40, stored=60, newest=newest),
        _run("entra-signins", 10, error="Graph kept answering 429"),
        _run("entra-signins", 5, stored=0),
        _run("defender", 20, error="the tenant needs an Entra ID P1 or P2 licence"),
    ):
        checkpoints.record_run(run)
    checkpoints.commit("entra-signins", {"signIns": newest.isoformat()})
    checkpoints.commit("azure-firewall", {"AZFWNetworkRule": "2026-11-20T10:00:00+00:00"})

    sources = {s.source: s for s in collector_status(store, now=NOW)}

    assert list(sources) == ["azure-firewall", "defender", "entra-signins"]
    signins = sources["entra-signins"]
    assert signins.last_success == (NOW - dt.timedelta(minutes=5)).isoformat()
    assert signins.newest_event == newest.isoformat() and signins.lag_seconds == 420.0
    assert (signins.runs_last_hour, signins.events_per_minute) == (3, 1.0)
    assert not signins.failing  # the latest run succeeded, after a failed one
    assert signins.last_error == "Graph kept answering 429"
    assert signins.last_error_at == (NOW - dt.timedelta(minutes=10)).isoformat()
    assert signins.checkpoint == {"signIns": newest.isoformat()} and signins.receiver is None
    defender = sources["defender"]
    assert defender.failing and defender.last_success is None and defender.lag_seconds is None
    firewall = sources["azure-firewall"]  # a checkpoint and no run yet
    assert (firewall.runs_last_hour, firewall.failing, firewall.last_error) == (0, False, None)
    assert signins.to_dict() == {
        "source": "entra-signins",
        "last_success": signins.last_success,
        "newest_event": newest.isoformat(),
        "lag_seconds": 420.0,
        "events_per_minute": 1.0,
        "runs_last_hour": 3,
        "failing": False,
        "last_error": "Graph kept answering 429",
        "last_error_at": signins.last_error_at,
        "checkpoint": {"signIns": newest.isoformat()},
    }


def test_a_syslog_source_is_listed_with_its_receiver_before_its_first_run(tmp_path):
    store = EmbeddedStore(tmp_path / "home")
    spool = tmp_path / "spool"
    (source,) = collector_status(store, {"syslog": spool}, now=NOW)
    assert source.source == "syslog" and source.runs_last_hour == 0
    assert source.receiver is not None and source.receiver.state == "never started"
    assert source.to_dict()["receiver"] == {
        "state": "never started",
        "running": False,
        "spool_dir": str(spool),
        "updated_at": None,
        "age_seconds": None,
        "udp_lost": 0,
    }


def test_receiver_status_running_stopped_and_not_responding(tmp_path):
    from collectors.live.syslog_receiver import STATS_FILE, SyslogReceiver

    spool = tmp_path / "spool"
    receiver = SyslogReceiver({"spool_dir": spool, "udp_port": 0, "tcp_port": None})
    receiver.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(3):
                sender.sendto(f"<134>Mar  1 09:30:0{i} fw1 test {i}".encode(), receiver.addresses["udp"])
        deadline = time.monotonic() + 10
        while (receiver_status(spool, dt.datetime.now(dt.UTC)).received or 0) < 3:
            assert time.monotonic() < deadline, "the receiver never published 3 received"
            time.sleep(0.1)
        running = receiver_status(spool, dt.datetime.now(dt.UTC))
        assert (running.state, running.running) == ("running", True)
        assert running.age_seconds is not None and running.age_seconds <= RECEIVER_FRESH_SECONDS
        host, port = receiver.addresses["udp"]
        assert running.listening == (("udp", f"{host}:{port}"),)
    finally:
        receiver.stop()

    stopped = receiver_status(spool, dt.datetime.now(dt.UTC))
    assert (stopped.state, stopped.running, stopped.received, stopped.udp_lost) == ("stopped", False, 3, 0)
    assert ("udp", 3) in stopped.received_by_transport
    assert stopped.to_dict()["received"] == 3 and stopped.to_dict()["state"] == "stopped"

    # What a receiver killed a minute ago leaves: "running" in its file, no longer written.
    published = json.loads((spool / STATS_FILE).read_text())
    published.update(running=True, dropped_udp=7, kernel_drops=5, error="[bold]spool write failed[/]")
    published["updated_at"] = (NOW - dt.timedelta(minutes=1)).isoformat()
    (spool / STATS_FILE).write_text(json.dumps(published))
    dead = receiver_status(spool, NOW)
    assert (dead.state, dead.running, dead.age_seconds) == ("not responding", False, 60.0)
    assert (dead.dropped_udp, dead.kernel_drops, dead.udp_lost) == (7, 5, 12)
    assert dead.error == "[bold]spool write failed[/]"
    assert dead.to_dict() == {
        **published,
        "state": "not responding",
        "running": False,
        "spool_dir": str(spool),
        "age_seconds": 60.0,
        "udp_lost": 12,
    }
