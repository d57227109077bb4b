"""A small council home for the dashboard tests, and the query layer's answers over it.

``fill_home`` writes, through the store interface and the state database's own books, what the
dashboard reads: sign-in and firewall events (one raw record holding Rich markup and a terminal
escape), alerts of three severities, a collector run, a detection run and a gap, a webhook
message waiting and a playbook step awaiting approval. Every time in it is fixed (``NOW``), so
the snapshot tests see the same screen on every run. The other dashboard tests import it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detections.exception_files import ExceptionDraft, ExceptionFileError, write_exception
from detections.exceptions import load_exceptions
from queries.collector_status import collector_status
from queries.dashboard.alert_detail import alert_detail
from queries.dashboard.alert_queue import QueueFilter, alert_queue
from queries.dashboard.collector_health import collector_health
from queries.dashboard.overview import read_overview
from store.batch import REQUIRED_COLUMNS
from store.protocol import Store
from store.state.alert_record import Alert
from store.state.checkpoints import Checkpoints, CollectorRun
from store.state.outbox import NewMessage, enqueue
from store.state.playbook_runs import PlaybookRuns, StepPlan
from store.state.schedule import Gap, RunTotals, ScheduleBook

#: The frozen clock of every dashboard test.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALICE = "alice.smith@westbrook-dc.gov.uk"
SCANNER = "203.0.113.7"
#: A raw record that tries to style, link and move the cursor when shown.
HOSTILE = '{"user":"[bold red]ADMIN[/bold red] [link=https://evil.example]click[/link]","x":"\x1b[2J\x1b[31mred"}'
SIGNIN_RULE = "9f1c0b7e-0000-4000-8000-000000000001"
SCAN_RULE = "9f1c0b7e-0000-4000-8000-000000000002"
SPRAY_RULE = "9f1c0b7e-0000-4000-8000-000000000003"


def events(count: int, start: datetime, dataset: str, **columns: object) -> pa.Table:
    """``count`` events a minute apart; ``columns`` are constant values (or a list per event)."""
    types = dict(REQUIRED_COLUMNS)
    times = [start + timedelta(minutes=n) for n in range(count)]
    data: dict[str, list] = {
        "@timestamp": times,
        "event.ingested": times,
        "event.dataset": [dataset] * count,
        "event.id": [f"{dataset}-{start:%H%M}-{n}" for n in range(count)],
        "event.original": [f'{{"n": {n}, "dataset": "{dataset}"}}' for n in range(count)],
    }
    for name, value in columns.items():
        data[name] = list(value) if isinstance(value, list) else [value] * count
    return pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in data.items()})


def alert_for(rule_id: str, title: str, level: str, keys: dict, table: pa.Table) -> Alert:
    ids = table.column("event.id").to_pylist()
    times = table.column("@timestamp").to_pylist()
    return Alert.build(rule_id, title, level, ["attack.t1110"], keys, times[0], times[0], times[-1], ids)


def fill_home(store: Store) -> dict[str, str]:
    """Write the council's morning into ``store``; returns the alert ids by name."""
    signins = events(
        6,
        NOW - timedelta(hours=3),
        "azure.signinlogs",
        **{"user.name": ALICE, "source.ip": "81.2.69.160", "event.action": "sign-in", "event.outcome": "failure"},
    )
    signins = signins.set_column(
        signins.schema.get_field_index("event.original"),
        "event.original",
        pa.array([HOSTILE, *signins.column("event.original").to_pylist()[1:]]),
    )
    firewall = events(
        30,
        NOW - timedelta(hours=2),
        "azure.firewall",
        **{"source.ip": SCANNER, "destination.ip": "10.0.0.5", "destination.port": [str(p) for p in range(30)]},
    )
    spray = events(4, NOW - timedelta(hours=5), "azure.signinlogs", **{"user.name": "[bold]bob[/bold]"})
    store.append(signins)
    store.append(firewall)
    store.append(spray)
    store.flush()
    alerts = {
        "signin": alert_for(SIGNIN_RULE, "Sign-in from an unfamiliar country", "high", {"user.name": ALICE}, signins),
        "scan": alert_for(SCAN_RULE, "Port scan from the internet", "medium", {"source.ip": SCANNER}, firewall),
        "spray": alert_for(
            SPRAY_RULE,
            "Password spray [link=https://evil.example]x[/link]",
            "critical",
            {"user.name": "[bold]bob[/bold]"},
            spray,
        ),
    }
    store.alerts.save_run(alerts.values())
    _other_state(store, alerts["signin"].id)
    return {name: alert.id for name, alert in alerts.items()}


def _other_state(store: Store, alert_id: str) -> None:
    """A collector run, a detection run and gap, a webhook message and an approval waiting."""
    books = Checkpoints(store.state)
    books.commit("entra-signins", {"since": "2026-11-20T11:50:00+00:00"})
    books.record_run(
        CollectorRun("entra-signins", _iso(NOW - timedelta(minutes=2)), _iso(NOW - timedelta(minutes=1)), 6, 0, 0,
                     _iso(NOW - timedelta(minutes=10)))
    )  # fmt: skip
    schedule = ScheduleBook(store.state)
    run = schedule.begin("scheduled", [SIGNIN_RULE], NOW - timedelta(minutes=10), NOW - timedelta(minutes=5))
    schedule.finish(run, "succeeded", RunTotals(0.25, 40, 3, 3, 0, 0))
    schedule.skip([Gap(SCAN_RULE, NOW - timedelta(days=3), NOW - timedelta(days=2), "serve was stopped")])
    runs = PlaybookRuns(store.state)
    run_id = runs.start_manual("compromised_account", "digest", alert_id, False, "alice")
    claimed = runs.claim("test:1:x", 60, run_id)
    assert claimed is not None
    runs.plan_steps(run_id, "digest", [StepPlan("disable the account", "disable_user", "required", "cancel")])
    runs.wait_for_approval(run_id, 0, {"user": ALICE}, "would disable the account", "test:1:x")
    with store.state.transaction() as con:
        enqueue(con, [NewMessage(alert_id, 1, "new", f"{alert_id}:1", "{}")])
        # Fixed times where the books write the clock's, so the screens are the same every run.
        fixed = _iso(NOW - timedelta(minutes=3))
        con.execute("UPDATE detection_runs SET started_at = ?, finished_at = ?", (fixed, fixed))
        con.execute("UPDATE playbook_runs SET created_at = ?, updated_at = ?", (fixed, fixed))
        con.execute("UPDATE webhook_outbox SET created_at = ?, next_attempt_at = ?", (fixed, fixed))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


# -- the query layer over it ----------------------------------------------------------------


def test_overview_counts_what_the_council_has(home):
    store, ids = home
    seen = read_overview(store, NOW)
    assert seen.alerts.open_total == 3
    assert dict(seen.alerts.open_by_severity) == {"critical": 1, "high": 1, "medium": 1, "low": 0, "informational": 0}
    assert [rule.name for rule in seen.alerts.top_rules][0].startswith("Password spray")
    assert {user.name for user in seen.alerts.top_users} == {ALICE, "[bold]bob[/bold]"}
    assert [address.name for address in seen.alerts.top_addresses] == [SCANNER]
    # The chart's last hour holds the newest alert (first seen 2 h before NOW: the scan).
    by_level = {trend.severity: trend for trend in seen.alerts.trends}
    assert by_level["medium"].counts[-1] == 1 and by_level["critical"].total == 1
    assert [source.source for source in seen.collectors] == ["entra-signins"]
    assert seen.collectors[0].lag_seconds == 600
    assert seen.detection.runs[0].status == "succeeded" and seen.detection.gaps_total == 1
    assert seen.webhook.pending == 1
    assert seen.approvals.total == 1 and seen.approvals.runs[0].awaiting().name == "disable the account"


def test_closing_an_alert_takes_it_out_of_the_open_counts(home):
    store, ids = home
    store.alerts.set_status(ids["spray"], "closed", "alice", reason="benign")
    seen = read_overview(store, NOW)
    assert seen.alerts.open_total == 2 and seen.alerts.all_total == 3
    assert dict(seen.alerts.open_by_severity)["critical"] == 0


def test_queue_filters_by_severity_status_rule_entity_time_and_text(home):
    store, ids = home
    everything = alert_queue(store)
    assert [row.id for row in everything.rows] == [ids["scan"], ids["signin"], ids["spray"]]  # newest first
    assert [r.id for r in alert_queue(store, QueueFilter(severity_at_least="high")).rows] == [
        ids["signin"],
        ids["spray"],
    ]
    assert [r.id for r in alert_queue(store, QueueFilter(rule="port scan")).rows] == [ids["scan"]]
    assert [r.id for r in alert_queue(store, QueueFilter(entity="203.0.113")).rows] == [ids["scan"]]
    assert [r.id for r in alert_queue(store, QueueFilter(since=NOW - timedelta(hours=3))).rows] == [
        ids["scan"],
        ids["signin"],
    ]
    # A search for characters LIKE would read as wildcards means those characters.
    assert alert_queue(store, QueueFilter(search="%")).total == 0
    assert [r.id for r in alert_queue(store, QueueFilter(search="ALICE.SMITH")).rows] == [ids["signin"]]
    store.alerts.set_status(ids["scan"], "acknowledged", "alice")
    assert [r.id for r in alert_queue(store, QueueFilter(status="acknowledged")).rows] == [ids["scan"]]
    store.alerts.set_status(ids["scan"], "closed", "alice", reason="true_positive")
    assert ids["scan"] not in [r.id for r in alert_queue(store).rows]  # open only, by default
    limited = alert_queue(store, QueueFilter(status=None), limit=1)
    assert limited.total == 3 and limited.held_back == 2


def test_queue_refuses_an_unknown_severity_naming_the_levels(home):
    store, _ = home
    with pytest.raises(ValueError, match="informational, low, medium, high, critical"):
        alert_queue(store, QueueFilter(severity_at_least="severe"))


def test_detail_has_the_raw_record_the_events_and_the_entity_timeline(home):
    store, ids = home
    detail = alert_detail(store, ids["signin"])
    assert detail is not None
    assert len(detail.events) == 6 and detail.events[0].original == HOSTILE
    (timeline,) = detail.timelines
    assert (timeline.field, timeline.value, timeline.total) == ("user.name", ALICE, 6)
    scan = alert_detail(store, ids["scan"])
    assert scan is not None and scan.timelines[0].per_dataset == (("azure.firewall", 30),)
    assert alert_detail(store, "no-such-alert") is None


def test_assign_and_note_are_kept_in_history_and_the_audit_trail(home):
    from store.state.audit import recent_audit

    store, ids = home
    store.alerts.assign(ids["scan"], "bob", "alice")
    store.alerts.add_note(ids["scan"], "bob", "looked at the firewall; blocked upstream")
    history = store.alerts.history(ids["scan"])
    assert [(c.actor, c.status, c.note) for c in history] == [
        ("alice", "new", "assigned to bob"),
        ("bob", "new", "looked at the firewall; blocked upstream"),
    ]
    assert store.alerts.assignees([ids["scan"], ids["signin"]]) == {ids["scan"]: "bob"}
    trail = recent_audit(store.state, subject=f"alert:{ids['scan']}")
    assert [(entry.kind, entry.what, entry.detail.get("assignee")) for entry in trail] == [
        ("triage", "note added", None),
        ("triage", "assigned to bob", "bob"),
    ]
    with pytest.raises(KeyError):
        store.alerts.add_note("nope", "bob", "x")


def test_an_exception_written_from_an_alert_is_read_back_by_the_loader(tmp_path):
    folder = tmp_path / "exceptions"
    draft = ExceptionDraft(
        "scanner is our pentest", SCAN_RULE, {"source.ip": SCANNER}, "alice", "pentest", date(2027, 1, 31)
    )
    path = write_exception(folder, draft, today=date(2026, 11, 20))
    second = write_exception(folder, draft, today=date(2026, 11, 20))
    assert path.name == "dashboard-scanner-is-our-pentest.yml" and second.name.endswith("-2.yml")
    active, problems = load_exceptions([folder], today=date(2026, 11, 20))
    assert problems == []
    assert [(e.name, e.rules, e.where, e.owner, e.expires) for e in active][0] == (
        "scanner is our pentest",
        (SCAN_RULE,),
        (("source.ip", (SCANNER,)),),
        "alice",
        date(2027, 1, 31),
    )
    # Past its date the loader reports it instead of applying it.
    active, problems = load_exceptions([folder], today=date(2027, 2, 1))
    assert active == [] and "expired on 2027-01-31" in problems[0].reason


def test_an_exception_that_would_never_apply_is_refused(tmp_path):
    draft = ExceptionDraft("x", SCAN_RULE, {"source.ip": SCANNER}, "alice", "pentest", date(2026, 11, 20))
    with pytest.raises(ExceptionFileError, match="not after today"):
        write_exception(tmp_path, draft, today=date(2026, 11, 20))
    assert not any(Path(tmp_path).iterdir())


# -- collector health counted by SQLite agrees with the CLI's ----------------------------------

run_records = st.lists(
    st.tuples(
        st.sampled_from(["entra-signins", "defender", "firewall"]),
        st.integers(min_value=-180, max_value=5),  # minutes from NOW the run finished
        st.integers(min_value=0, max_value=500),  # events stored
        st.one_of(st.none(), st.integers(min_value=-600, max_value=0)),  # newest event, minutes from NOW
        st.one_of(st.none(), st.sampled_from(["HTTP 429 from Graph", "", "token expired"])),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def health_state(tmp_path_factory):
    from store.state.database import StateDB

    return StateDB(tmp_path_factory.mktemp("health") / "state.sqlite")


class StateOnly:
    """What both functions use of a store: its state database."""

    def __init__(self, state):
        self.state = state


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=run_records)
def test_collector_health_agrees_with_collector_status(health_state, runs):
    """The dashboard's bulk version and ``cyberwell status``'s give the same records."""
    with health_state.transaction() as con:
        con.execute("DELETE FROM collector_runs")
        con.execute("DELETE FROM checkpoints")
        con.executemany(
            "INSERT INTO collector_runs (source, started_at, finished_at, stored, duplicates, quarantined,"
            " newest_event, error) VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
            [
                (
                    source,
                    _iso(NOW + timedelta(minutes=finished)),
                    _iso(NOW + timedelta(minutes=finished)),
                    stored,
                    None if newest is None else _iso(NOW + timedelta(minutes=newest)),
                    error,
                )
                for source, finished, stored, newest, error in runs
            ],
        )
    Checkpoints(health_state).commit("syslog-only-checkpoint", {"offset": 3})
    holder = StateOnly(health_state)
    assert collector_health(holder, now=NOW) == collector_status(holder, now=NOW)


# -- properties of what a person types or writes -----------------------------------------------


@given(number=st.integers(min_value=0, max_value=10**6), unit=st.sampled_from(["m", "h", "d", "M", "H", "D"]))
def test_since_reads_a_number_and_a_unit(number, unit):
    from console.dashboard.screens.queue_screen import parse_since

    one = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}[unit.lower()]
    assert parse_since(f" {number}{unit} ") == number * one


@given(text=st.text(max_size=12))
def test_since_is_blank_a_span_or_refused_naming_itself(text):
    from console.dashboard.screens.queue_screen import parse_since

    try:
        span = parse_since(text)
    except ValueError as error:
        assert str(error).startswith("since: expected a number and m, h or d")
    else:
        assert span is None if not text.strip() else span >= timedelta(0)


field_names = st.sampled_from(["user.name", "source.ip", "host.name", "destination.domain"])
#: Values a log may hold: YAML's own words (yes, null, 1e3, a date), markup, quotes, unicode.
values = st.one_of(
    st.sampled_from(["yes", "null", "~", "1e3", "0x1F", "2027-01-31", "[bold]x[/bold]", "'q'", '"d"', "a: b", "#c"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.dictionaries(field_names, values, min_size=1, max_size=3), reason=values)
def test_an_exception_file_reads_back_exactly_what_was_written(tmp_path_factory, where, reason):
    folder = tmp_path_factory.mktemp("exceptions")
    draft = ExceptionDraft(f"x {reason}", SCAN_RULE, where, "alice", reason, date(2027, 1, 31))
    try:
        write_exception(folder, draft, today=date(2026, 11, 20))
    except ExceptionFileError as error:  # only a blank reason is refused
        assert not reason.strip() and "reason" in str(error)
        return
    active, problems = load_exceptions([folder], today=date(2026, 11, 20))
    assert problems == []
    (exception,) = active
    assert dict(exception.where) == {field: (value,) for field, value in where.items()}
    assert exception.reason == reason and exception.rules == (SCAN_RULE,)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20))
def test_the_queue_finds_an_alert_by_any_part_of_its_entity(health_state, value):
    """Unicode included: the stored JSON escapes it, the search does not."""
    from store.state.alerts import AlertBook

    book = AlertBook(health_state)
    with health_state.transaction() as con:
        con.execute("DELETE FROM alerts")
    book.save_run([Alert.build("r", "Rule", "low", [], {"user.name": value}, NOW, NOW, NOW, ["e"])])
    holder = StateOnly(health_state)
    same_letters = [value.upper(), value.lower(), value.casefold()]
    for asked in [value, value[len(value) // 2 :], *(v for v in same_letters if v.casefold() == value.casefold())]:
        assert alert_queue(holder, QueueFilter(entity=asked)).total == 1, asked
    assert alert_queue(holder, QueueFilter(entity=value + "\u2603x")).total == 0
