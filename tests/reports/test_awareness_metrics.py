"""Awareness metrics: exact figures from snapshots written the way the collectors write them
(Graph's userSimulationDetails and GoPhish's results reshaped by the collectors' own functions),
counted by DuckDB, and the report document built from them."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.evidence.awareness.attack_simulation import user_row
from collectors.evidence.awareness.columns import AST_COLUMNS, ATTACK_SIMULATION, GOPHISH, GOPHISH_COLUMNS
from collectors.evidence.awareness.gophish import campaign_rows
from collectors.evidence.columns import PageConverter, col
from collectors.evidence.graph_directory import USER_COLUMNS, USERS
from reports.awareness import (
    DefinitionError,
    Recipients,
    awareness_document,
    group_metrics,
    load_definitions,
    repeat_offenders,
    suppress,
)
from reports.awareness.recipients import NOT_IN_DIRECTORY, NOT_RECORDED
from reports.document import Callout, CalloutKind, Chart, DefinitionList, Paragraph, Table
from reports.registry import AwarenessSource
from store.snapshots import SnapshotStore

UTC = dt.UTC
START = dt.datetime(2026, 10, 1, tzinfo=UTC)
END = dt.datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
READ_AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
AS_OF = dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # when the report is made
DIRECTORY_COLUMNS = (*USER_COLUMNS, col("department", pa.string(), "department"), col("mail", pa.string(), "mail"))
DEPARTMENTS = {"f": "Finance", "h": "Housing", "l": "Legal"}
PEOPLE = [f"f{n}" for n in range(6)] + [f"h{n}" for n in range(5)] + ["l0", "l1"]


def write(snapshots: SnapshotStore, source: str, columns, rows: list[dict], taken_at: dt.datetime = READ_AT):
    converter = PageConverter(columns)
    try:
        with snapshots.writer(source, taken_at, converter.schema, uuid.uuid4().hex) as writer:
            writer.write(converter.table(rows))
            return writer.commit()
    finally:
        converter.close()


def uid(person: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, person))


def mail(person: str) -> str:
    return f"{person}@council.example.gov.uk"


def directory(people=PEOPLE, departments=DEPARTMENTS) -> list[dict]:
    return [
        {
            "id": uid(p),
            "userPrincipalName": mail(p).upper(),  # matched without regard to case
            "mail": mail(p),
            "displayName": f"Person {p}",
            "accountEnabled": True,
            "userType": "Member",
            "department": departments.get(p[0]),
        }
        for p in people
    ]


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def simulation(name: str, technique: str, launched: dt.datetime) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "displayName": name,
        "attackType": "social",
        "attackTechnique": technique,
        "status": "succeeded",
        "launchDateTime": iso(launched),
        "completionDateTime": iso(launched + dt.timedelta(days=7)),
        "payloadDeliveryPlatform": "email",
    }


def sim_user(
    person: str,
    launched: dt.datetime,
    *,
    delivered=True,
    clicked=False,
    compromised=False,
    reported_after: int | None = None,
    assigned=0,
    completed=0,
) -> dict:
    """A userSimulationDetails record in Graph's documented shape."""
    at = launched + dt.timedelta(minutes=1)
    events = []
    if delivered:
        events.append({"eventName": "SuccessfullyDeliveredEmail", "eventDateTime": iso(at), "ipAddress": "203.0.113.9"})
    else:
        events.append({"eventName": "FailedToDeliverEmail", "eventDateTime": iso(at)})
    if clicked:
        events.append({"eventName": "EmailLinkClicked", "eventDateTime": iso(at + dt.timedelta(minutes=3))})
    return {
        "isCompromised": compromised,
        "compromisedDateTime": iso(at + dt.timedelta(minutes=4)) if compromised else None,
        "simulationEvents": events,
        "trainingEvents": [
            {"displayName": "Spotting phish", "latestTrainingStatus": "completed" if completed else "assigned"}
        ]
        if assigned
        else [],
        "assignedTrainingsCount": assigned,
        "completedTrainingsCount": completed,
        "inProgressTrainingsCount": 0,
        "reportedPhishDateTime": iso(at + dt.timedelta(minutes=reported_after)) if reported_after is not None else None,
        "simulationUser": {"userId": uid(person), "displayName": f"Person {person}", "email": mail(person)},
    }


S1_AT = dt.datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
S2_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
G1_AT = dt.datetime(2026, 10, 20, 8, 0, tzinfo=UTC)


def ast_rows() -> list[dict]:
    """S1 (credential harvest): 12 of 13 delivered (l1 failed), 3 clicked, 2 compromised, 4
    reported after 10, 30, 20 and 60 minutes, training assigned to 2 and done by 1.
    S2 (drive-by): 13 delivered, 2 compromised (clicked), 3 reported after 5, 15, 45 minutes,
    training assigned to 2 and done by both."""
    s1, s2 = simulation("Payroll update", "credentialHarvesting", S1_AT), simulation("Parcel", "driveByUrl", S2_AT)
    first = {
        "f0": dict(clicked=True, compromised=True, assigned=1, completed=1),
        "f1": dict(clicked=True),
        "h0": dict(clicked=True, compromised=True, assigned=1),
        "f2": dict(reported_after=10),
        "f3": dict(reported_after=30),
        "h1": dict(reported_after=20),
        "l0": dict(reported_after=60),
        "l1": dict(delivered=False),
    }
    second = {
        "f0": dict(clicked=True, compromised=True, assigned=1, completed=1),
        "h2": dict(clicked=True, compromised=True, assigned=1, completed=1),
        "f2": dict(reported_after=5),
        "f4": dict(reported_after=15),
        "h1": dict(reported_after=45),
    }
    rows = [user_row(s1, sim_user(p, S1_AT, **first.get(p, {}))) for p in PEOPLE]
    rows += [user_row(s2, sim_user(p, S2_AT, **second.get(p, {}))) for p in PEOPLE]
    return rows


def gophish_campaign(
    statuses: dict[str, str], reported: dict[str, int | None], launched=G1_AT, cid=1, name="Council tax rebate"
):
    """A GoPhish results document: every person in ``statuses`` with that status; ``reported``
    maps a person to minutes after sending (None: reported, no timeline event)."""
    results, timeline = [], [{"email": "", "time": iso(launched), "message": "Campaign Created", "details": ""}]
    for n, (person, status) in enumerate(statuses.items()):
        address = person if "@" in person else mail(person)
        sent = launched + dt.timedelta(seconds=n)
        results.append(
            {
                "id": f"r{n}",
                "status": status,
                "ip": "",
                "latitude": 0,
                "longitude": 0,
                "send_date": iso(sent),
                "reported": person in reported,
                "modified_date": iso(sent),
                "email": address.title(),
                "first_name": "Given",
                "last_name": "Family",
                "position": "",
            }
        )
        if status != "Error Sending Email":
            timeline.append({"email": address, "time": iso(sent), "message": "Email Sent", "details": ""})
        if status in ("Clicked Link", "Submitted Data"):
            timeline.append(
                {
                    "email": address,
                    "time": iso(sent + dt.timedelta(minutes=2)),
                    "message": "Clicked Link",
                    "details": "{}",
                }
            )
        if reported.get(person) is not None:
            timeline.append(
                {
                    "email": address,
                    "time": iso(sent + dt.timedelta(minutes=reported[person])),
                    "message": "Email Reported",
                    "details": "",
                }
            )
    return {
        "id": cid,
        "name": name,
        "status": "Completed",
        "launch_date": iso(launched),
        "completed_date": "0001-01-01T00:00:00Z",
        "results": results,
        "timeline": timeline,
    }


def gophish_rows() -> list[dict]:
    """G1: 12 delivered (l0's email failed), 4 clicked (f0 submitted), 3 reported, 2 of them timed
    (12 and 40 minutes)."""
    statuses = {p: "Email Sent" for p in PEOPLE if p != "l1"}
    statuses.update(
        {
            "f0": "Submitted Data",
            "f1": "Clicked Link",
            "h0": "Clicked Link",
            "h1": "Email Opened",
            "l0": "Error Sending Email",
            "x@elsewhere.example": "Clicked Link",
        }
    )
    return campaign_rows(gophish_campaign(statuses, {"f2": 12, "h3": None, "f1": 40}), "api")


@pytest.fixture
def home(tmp_path) -> Path:
    snapshots = SnapshotStore(tmp_path)
    write(snapshots, USERS, DIRECTORY_COLUMNS, directory())
    write(snapshots, ATTACK_SIMULATION, AST_COLUMNS, ast_rows())
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, gophish_rows())
    return tmp_path


def figures(group):
    return {m: (r.numerator, r.denominator) for m, r in group.rates.items()}


def by(groups, source, **key):
    found = [g for g in groups if g.source == source and all(g.key[k] == v for k, v in key.items())]
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------------------- exact figures


def test_attack_simulation_campaign_figures(home):
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        groups = group_metrics(data.con, "campaign")
    s1 = by(groups, ATTACK_SIMULATION, campaign="Payroll update")
    assert (s1.delivered, s1.recipients, s1.key["technique"]) == (12, 12, "credentialHarvesting")
    assert figures(s1) == {
        "report_rate": (4, 12),
        "click_rate": (3, 12),
        "credential_rate": (2, 12),
        "compromise_rate": (2, 12),
        "training_completion": (1, 2),
    }
    assert (s1.median_minutes_to_report, s1.timed_reports) == (25.0, 4)
    s2 = by(groups, ATTACK_SIMULATION, campaign="Parcel")
    # A drive-by simulation asks for no credentials: nothing to count, not 0 of 13.
    assert figures(s2) == {
        "report_rate": (3, 13),
        "click_rate": (2, 13),
        "credential_rate": (0, 0),
        "compromise_rate": (2, 13),
        "training_completion": (2, 2),
    }
    assert s2.median_minutes_to_report == 15.0


def test_gophish_campaign_figures_keep_their_own_definitions(home):
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        groups = group_metrics(data.con, "campaign")
    g1 = by(groups, GOPHISH, campaign="Council tax rebate")
    assert g1.delivered == 12
    assert figures(g1) == {
        "report_rate": (3, 12),
        "click_rate": (4, 12),  # GoPhish's cumulative clicked: the submitter counts
        "credential_rate": (1, 12),
        "compromise_rate": (0, 0),  # GoPhish has no such measure: never filled from "submitted"
        "training_completion": (0, 0),
    }
    assert (g1.median_minutes_to_report, g1.timed_reports) == (26.0, 2)
    assert {g.source for g in groups} == {ATTACK_SIMULATION, GOPHISH}
    assert len(groups) == 3, "one row per campaign per source: nothing merged across tools"


def test_departments_come_from_the_directory_and_small_ones_are_hidden(home):
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        raw = group_metrics(data.con, "department")
    shown = suppress(raw, 5)
    finance = by(shown, ATTACK_SIMULATION, department="Finance")
    assert not finance.suppressed and finance.recipients == 6
    assert figures(finance)["report_rate"] == (4, 12) and figures(finance)["click_rate"] == (3, 12)
    legal = by(shown, ATTACK_SIMULATION, department="Legal")
    assert legal.suppressed and legal.recipients == 2
    # Legal alone hidden could be worked out as the total minus the rest: Housing goes too.
    assert by(shown, ATTACK_SIMULATION, department="Housing").suppressed
    outsider = by(shown, GOPHISH, department=NOT_IN_DIRECTORY)
    assert outsider.suppressed and figures(outsider)["click_rate"] == (1, 1)
    assert not by(shown, GOPHISH, department="Finance").suppressed


def test_repeat_offenders_are_consecutive_failures_counted_per_source(home):
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        overall = repeat_offenders(data.con, 2)
    ast = next(o for o in overall if o.source == ATTACK_SIMULATION)
    # f0 compromised in both simulations; h0 and h2 once each. 12 people received both.
    assert (ast.offenders, ast.eligible) == (1, 12)
    gp = next(o for o in overall if o.source == GOPHISH)
    assert (gp.offenders, gp.eligible) == (0, 0)


def test_consecutive_means_in_launch_order(tmp_path):
    """Failed, passed, failed is not a run of two; failed, failed is, whatever the snapshot order."""
    snapshots = SnapshotStore(tmp_path)
    write(snapshots, USERS, DIRECTORY_COLUMNS, directory())
    months = [dt.datetime(2026, 10, d, 9, tzinfo=UTC) for d in (1, 8, 15)]
    rows = []
    for n, launched in enumerate(months):
        statuses = {"f0": "Clicked Link" if n != 1 else "Email Sent", "f1": "Clicked Link" if n != 0 else "Email Sent"}
        rows += campaign_rows(gophish_campaign(statuses, {}, launched, cid=n + 1, name=f"c{n}"), "api")
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, list(reversed(rows)))
    with Recipients(snapshots, START, END, AS_OF) as data:
        found = repeat_offenders(data.con, 2)
    assert [(o.offenders, o.eligible) for o in found] == [(1, 2)]  # f1 only


def test_each_campaign_counts_as_its_latest_reading_showed_it(tmp_path):
    snapshots = SnapshotStore(tmp_path)
    write(snapshots, USERS, DIRECTORY_COLUMNS, directory())
    early = READ_AT - dt.timedelta(days=20)
    statuses = {p: "Email Sent" for p in PEOPLE}
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, campaign_rows(gophish_campaign(statuses, {}), "api"), early)
    later = campaign_rows(gophish_campaign(statuses, {"f0": 5, "f1": 7}), "api")
    other = campaign_rows(gophish_campaign(statuses, {}, G1_AT + dt.timedelta(days=9), cid=2, name="Second"), "api")
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, later)  # campaign 1 again, with two reports
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, other, READ_AT + dt.timedelta(hours=1))  # an import of campaign 2 alone
    with Recipients(snapshots, START, END, AS_OF) as data:
        groups = group_metrics(data.con, "campaign")
    assert [(g.key["campaign"], figures(g)["report_rate"]) for g in groups] == [
        ("Council tax rebate", (2, 13)),
        ("Second", (0, 13)),
    ]


def test_a_failed_latest_reading_is_not_evidenced_and_not_replaced_by_an_older_one(home):
    SnapshotStore(home).record_failure(
        ATTACK_SIMULATION,
        READ_AT + dt.timedelta(hours=2),
        "run2",
        "Graph refused to list Attack Simulation Training simulations and their users (403 Authorization_RequestDenied: "
        "Insufficient privileges): the app registration needs the application permission AttackSimulation.Read.All",
        403,
    )
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        reading = data.reading(AwarenessSource.ATTACK_SIMULATION)
        groups = group_metrics(data.con, "campaign")
    assert reading.status == "not evidenced" and "AttackSimulation.Read.All" in (reading.reason or "")
    assert {g.source for g in groups} == {GOPHISH}


def test_users_without_a_department_column_are_counted_as_not_recorded(tmp_path):
    snapshots = SnapshotStore(tmp_path)
    before = [column for column in USER_COLUMNS if column.name not in ("department", "mail")]
    write(snapshots, USERS, before, directory())  # a snapshot from before departments were read
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, gophish_rows())
    with Recipients(snapshots, START, END, AS_OF) as data:
        departments = group_metrics(data.con, "department")
        assert data.directory.status == "no department"
    assert [g.key["department"] for g in departments] == [NOT_RECORDED]
    assert departments[0].delivered == 12


def test_trend_by_month_of_launch(home):
    with Recipients(SnapshotStore(home), START, END, AS_OF) as data:
        months = group_metrics(data.con, "month")
    ast = [(g.key["period"].month, figures(g)["report_rate"]) for g in months if g.source == ATTACK_SIMULATION]
    assert ast == [(10, (4, 12)), (11, (3, 13))]


def test_campaigns_outside_the_period_are_left_out(home):
    with Recipients(SnapshotStore(home), START, dt.datetime(2026, 10, 31, tzinfo=UTC), AS_OF) as data:
        names = [g.key["campaign"] for g in group_metrics(data.con, "campaign")]
    assert names == ["Payroll update", "Council tax rebate"]


# ------------------------------------------------------------------------------- the document


def cells(document) -> list[str]:
    found = []
    for _, section in document.walk():
        for block in section.blocks:
            if isinstance(block, Table):
                found += [str(c) for row in block.rows for c in row] + [block.note or ""]
            elif isinstance(block, Paragraph | Callout):
                found.append(block.text)
            elif isinstance(block, DefinitionList):
                found += [f"{d.term}: {d.description}" for d in block.items]
    return found


def test_the_document_prints_definitions_figures_and_names_no_one(home):
    document = awareness_document(home, START, END, now=AS_OF)
    assert document.kind == "awareness"
    headings = [s.heading for _, s in document.walk()]
    assert headings[:2] == ["How to read this report", "Evidence"]
    assert "Microsoft Defender Attack Simulation Training" in headings and "GoPhish" in headings
    text = cells(document)
    assert "33.3% (4 of 12)" in text and "25 min (of 4 timed)" in text  # S1 report rate, median
    assert "16.7% (2 of 12)" in text  # S1 compromise rate
    assert "none to count" in text  # S2's credential rate: a drive-by asks for no password
    assert any(
        t.startswith("Credential-submission rate: Counts: Recipients whose status is Submitted Data") for t in text
    )
    assert any("Compromise rate: Counts: Users Microsoft marks as compromised" in t for t in text)
    assert any(t.startswith("1 of 12 people who received 2 or more campaigns were compromised") for t in text)
    everything = " ".join(text)
    for person in PEOPLE:
        assert mail(person) not in everything and f"Person {person}" not in everything
    assert "@" not in everything
    assert "fewer than 5" in text and "not shown" in text  # Legal, then Housing hidden with it
    assert any("No one is named in this report" in t for t in text)


def test_the_document_says_why_a_source_is_not_evidenced(home):
    SnapshotStore(home).record_failure(
        GOPHISH, READ_AT + dt.timedelta(hours=1), "r", "GoPhish refused the API key (401 Invalid API Key)", 401
    )
    document = awareness_document(home, START, END, now=AS_OF)
    callouts = [b for _, s in document.walk() for b in s.blocks if isinstance(b, Callout)]
    assert any(c.kind is CalloutKind.NOT_EVIDENCED and "401 Invalid API Key" in c.text for c in callouts)
    assert "GoPhish" not in [s.heading for _, s in document.walk()]


def test_the_trend_chart_states_the_trend_in_words(home):
    document = awareness_document(home, START, END, now=AS_OF)
    charts = [b for _, s in document.walk() for b in s.blocks if isinstance(b, Chart)]
    ast = next(c for c in charts if c.caption.startswith("Microsoft"))
    assert ast.percent and ast.alt.startswith("Report rate 33.3% in October 2026, 23.1% in November 2026")


# ------------------------------------------------------------------------------- definitions


def test_every_definition_names_its_source_and_no_metric_is_shared_without_one():
    definitions = load_definitions()
    assert definitions.settings.min_group_size == 5
    gophish = {m.id for m in definitions.metric if GOPHISH in m.sources}
    assert "compromise_rate" not in gophish and "training_completion" not in gophish


def test_a_broken_definitions_file_is_refused_with_metric_and_key(tmp_path):
    text = Path("reports/awareness/definitions.toml").read_text(encoding="utf-8")
    broken = tmp_path / "definitions.toml"
    broken.write_text(
        text.replace('id = "click_rate"', 'id = "clik_rate"').replace('unit = "minutes"', 'unit = "hours"')
    )
    with pytest.raises(DefinitionError) as caught:
        load_definitions(broken)
    assert "definitions.toml: metric time_to_report: unit: Input should be 'rate', 'minutes' or 'count'" in str(
        caught.value
    )
    broken.write_text(text.replace('id = "click_rate"', 'id = "clik_rate"'))
    with pytest.raises(DefinitionError, match="metric clik_rate: id is not a metric the report computes"):
        load_definitions(broken)


# ------------------------------------------------------------------------------- properties

STATUS = st.sampled_from(
    ["Email Sent", "Email Opened", "Clicked Link", "Submitted Data", "Error Sending Email", "Scheduled"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    campaigns=st.lists(
        st.dictionaries(st.sampled_from(PEOPLE + ["z@outside.example"]), st.tuples(STATUS, st.booleans()), min_size=1),
        min_size=1,
        max_size=3,
    ),
    sims=st.lists(
        st.dictionaries(
            st.sampled_from(PEOPLE),
            st.fixed_dictionaries(
                {
                    "delivered": st.booleans(),
                    "clicked": st.booleans(),
                    "compromised": st.booleans(),
                    "reported_after": st.none() | st.integers(0, 600),
                    "assigned": st.integers(0, 2),
                    "completed": st.integers(0, 2),
                }
            ),
            min_size=1,
        ),
        max_size=2,
    ),
    technique=st.sampled_from(["credentialHarvesting", "driveByUrl", "attachmentMalware"]),
)
def test_rates_are_bounded_and_departments_add_up_to_campaigns(tmp_path_factory, campaigns, sims, technique):
    snapshots = SnapshotStore(tmp_path_factory.mktemp("prop"))
    write(snapshots, USERS, DIRECTORY_COLUMNS, directory())
    rows = []
    for n, people in enumerate(campaigns):
        statuses = {p: s for p, (s, _) in people.items()}
        reported = {p: 3 for p, (s, r) in people.items() if r}
        rows += campaign_rows(
            gophish_campaign(statuses, reported, G1_AT + dt.timedelta(days=n), cid=n, name=f"g{n}"), "api"
        )
    write(snapshots, GOPHISH, GOPHISH_COLUMNS, rows)
    ast = []
    for n, people in enumerate(sims):
        sim = simulation(f"s{n}", technique, S1_AT + dt.timedelta(days=n))
        ast += [user_row(sim, sim_user(p, S1_AT + dt.timedelta(days=n), **kw)) for p, kw in people.items()]
    if ast:
        write(snapshots, ATTACK_SIMULATION, AST_COLUMNS, ast)
    with Recipients(snapshots, START, END, AS_OF) as data:
        totals = group_metrics(data.con, "campaign")
        parts = group_metrics(data.con, "campaign_department")
    for group in totals + parts:
        for ratio in group.rates.values():
            assert 0 <= ratio.numerator <= ratio.denominator
            assert ratio.rate is None or 0.0 <= ratio.rate <= 1.0
        assert group.rates["report_rate"].denominator == group.delivered
    for total in totals:
        mine = [p for p in parts if p.source == total.source and p.key["campaign_id"] == total.key["campaign_id"]]
        assert sum(p.delivered for p in mine) == total.delivered
        for metric in total.rates:
            assert sum(p.rates[metric].numerator for p in mine) == total.rates[metric].numerator
            assert sum(p.rates[metric].denominator for p in mine) == total.rates[metric].denominator


@given(sizes=st.lists(st.integers(0, 40), max_size=12), minimum=st.integers(2, 10))
def test_hidden_groups_can_never_be_worked_out_from_the_total(sizes, minimum):
    from reports.awareness.metrics import hidden

    hide = hidden(sizes, minimum)
    assert all(i in hide for i, size in enumerate(sizes) if size < minimum)
    together = sum(sizes[i] for i in hide)
    assert together == 0 or together >= minimum or len(hide) == len(sizes)


def test_long_tables_list_the_latest_and_say_how_many_more(home, monkeypatch):
    import reports.awareness.tables as report

    monkeypatch.setattr(report, "LISTED", 1)  # two simulations in the fixture, one listed
    document = awareness_document(home, START, END, now=AS_OF)
    table = next(
        b
        for _, s in document.walk()
        if s.anchor == "attack_simulation.results-campaigns"
        for b in s.blocks
        if isinstance(b, Table)
    )
    assert [r[0] for r in table.rows] == ["Parcel"]
    assert table.held_back_note == "1 more not listed (1 of 2 shown)."
