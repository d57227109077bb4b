"""Awareness evidence collection: Attack Simulation Training through msgraph-sdk (GraphReader)
against the Graph stand-in of tests/support/evidence_standin.py taught the attackSimulation paths, and
GoPhish through httpx against a GoPhish stand-in here; both on 127.0.0.1, in the documented
shapes (Graph: attacksimulationroot-list-simulations, usersimulationdetails-list; GoPhish:
api-documentation/campaigns), into snapshots read back with DuckDB. Also GoPhish's exported
files. One test reads the GoPhish documentation's own example from ../shared/data and says so.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from collectors.evidence.awareness import attack_simulation
from collectors.evidence.awareness.columns import AWARENESS_COLUMNS, GOPHISH
from collectors.evidence.awareness.gophish import GophishEndpoint, GophishResults
from collectors.evidence.awareness.gophish_export import ExportFile, GophishExportError, import_exports
from collectors.evidence.snapshot_run import snapshot_all
from microsoft.graph import GraphEndpoint, GraphReader
from microsoft.identity import credential_from
from reports.registry import AwarenessSource
from store.snapshots import SnapshotStore
from tests.reports.test_awareness_metrics import gophish_campaign, mail, sim_user, simulation
from tests.support.evidence_standin import EvidenceStandIn, _ApiHandler
from tests.support.graph_standin import PERMISSION_403

SECRET = "stand-in-secret-Aw4"
API_KEY = "gophish-key-0d9f7c1e5b"
LAUNCHED = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


# -- Graph with Attack Simulation Training ---------------------------------------------------------


class _AttackSimulationHandler(_ApiHandler):
    """The evidence stand-in's Graph, plus ``security/attackSimulation/simulations`` and each
    simulation's ``report/simulationUsers``, paged and faulted by the stand-in's own rules."""

    def _collection(self, path: str, query: dict) -> list[dict] | None:
        resource = path.strip("/").partition("/")[2]
        if self.server.kind != "graph" or not resource.startswith("security/attackSimulation/simulations"):
            return super()._collection(path, query)
        parts = resource.split("/")
        with self.standin.lock:
            if len(parts) == 3:
                return copy.deepcopy(self.standin.simulations)
            if len(parts) == 6 and parts[4:] == ["report", "simulationUsers"]:
                return copy.deepcopy(self.standin.simulation_users.get(parts[3], []))
        return None


class AttackSimulationStandIn(EvidenceStandIn):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.simulations: list[dict] = []
        self.simulation_users: dict[str, list[dict]] = {}

    def start(self) -> AttackSimulationStandIn:
        super().start()
        self._servers[1].RequestHandlerClass = _AttackSimulationHandler  # the Graph server
        return self


@pytest.fixture
def graph():
    server = AttackSimulationStandIn(page_limit=4).start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


def graph_jobs(standin):
    identity = {
        "auth": "client_secret",
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "client_secret_env": "AWARENESS_SECRET",
        "authority_host": standin.authority,
        "ca_bundle": standin.ca_bundle,
    }
    endpoint = GraphEndpoint(base_url=standin.graph_url, retry_delay=0.05)
    return attack_simulation.jobs(
        lambda: GraphReader(endpoint, lambda: credential_from(identity, {"AWARENESS_SECRET": SECRET})), page_size=4
    )


def fill_simulations(standin) -> None:
    """Two launched simulations (10 and 3 users) and a draft that must not be asked for users."""
    first = simulation("Payroll update", "credentialHarvesting", LAUNCHED)
    second = simulation("Parcel", "driveByUrl", LAUNCHED + dt.timedelta(days=30))
    draft = dict(simulation("Draft", "credentialHarvesting", LAUNCHED), status="draft")
    people = [f"f{n}" for n in range(10)]
    standin.simulations = [first, second, draft]
    standin.simulation_users = {
        first["id"]: [
            sim_user(p, LAUNCHED, clicked=n < 3, compromised=n < 2, reported_after=5 + n if n >= 7 else None)
            for n, p in enumerate(people)
        ],
        second["id"]: [sim_user(p, LAUNCHED, delivered=n != 0) for n, p in enumerate(people[:3])],
        draft["id"]: [sim_user("nobody", LAUNCHED)],
    }


def read_back(snapshots: SnapshotStore, entry, sql: str):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        snapshots.relation(con, entry).create_view("t")
        return con.execute(sql).fetchall()


def test_attack_simulation_users_are_read_page_by_page_into_one_row_each(graph, tmp_path):
    fill_simulations(graph)
    snapshots = SnapshotStore(tmp_path)

    run = snapshot_all(graph_jobs(graph), snapshots)

    entry = run.entries[0]
    assert entry.source == "attack_simulation.results" and entry.collected and entry.rows == 13
    pages = [r for r in graph.requests("simulationUsers") if r.status == 200]
    assert len(pages) == 3 + 1  # 10 users at 4 a page, then 3
    assert not graph.requests("/" + graph.simulations[2]["id"]), "a draft sent nothing: its users are not asked"
    rows = read_back(
        snapshots,
        entry,
        "SELECT simulation_name, count(*), count(*) FILTER (WHERE is_compromised), count(clicked_at), "
        "count(reported_at), count(delivered_at), count(delivery_failed_at) FROM t GROUP BY 1 ORDER BY 1",
    )
    assert rows == [("Parcel", 3, 0, 0, 0, 2, 1), ("Payroll update", 10, 2, 3, 3, 10, 0)]
    first = read_back(
        snapshots, entry, f"SELECT email, user_id, delivered_at, reported_at FROM t WHERE email = '{mail('f9')}'"
    )
    assert first[0][2] == LAUNCHED + dt.timedelta(minutes=1)
    assert first[0][3] == LAUNCHED + dt.timedelta(minutes=15)
    names = read_back(snapshots, entry, "SELECT column_name FROM (DESCRIBE t)")
    assert [n for (n,) in names] == [c.name for c in AWARENESS_COLUMNS["attack_simulation.results"]]


def test_attack_simulation_throttling_waits_what_retry_after_says(graph, tmp_path):
    fill_simulations(graph)
    graph.fault(429, path="simulationUsers", paged=True, retry_after="1", code="TooManyRequests")

    run = snapshot_all(graph_jobs(graph), SnapshotStore(tmp_path))

    assert run.entries[0].collected and run.entries[0].rows == 13
    asked = graph.requests("simulationUsers")
    assert [r.status for r in asked[:3]] == [200, 429, 200]
    assert asked[2].at - asked[1].at >= 1.0
    assert asked[2].query == asked[1].query  # the same page again, not skipped


def test_a_missing_permission_is_not_evidenced_with_the_permission_named(graph, tmp_path):
    fill_simulations(graph)
    graph.fault(403, path="attackSimulation/simulations", code=PERMISSION_403[0], message=PERMISSION_403[1])
    snapshots = SnapshotStore(tmp_path)

    run = snapshot_all(graph_jobs(graph), snapshots)

    (failed,) = run.not_evidenced
    assert failed.http_status == 403
    assert "AttackSimulation.Read.All" in (failed.reason or "") and "Attack Simulation Training" in (
        failed.reason or ""
    )
    assert snapshots.latest("attack_simulation.results") == failed  # the manifest says so
    assert not list((tmp_path / "evidence").glob("attack_simulation.results/*.parquet"))


# -- GoPhish ---------------------------------------------------------------------------------------


class GophishStandIn:
    """GoPhish's admin API on 127.0.0.1: ``/api/campaigns/`` and ``/api/campaigns/:id/results``,
    the key checked as GoPhish checks it (``Authorization: Bearer`` or ``api_key``), scripted
    faults (status, Retry-After, times), and every request kept."""

    def __init__(self, key: str = API_KEY):
        self.key = key
        self.campaigns: list[dict] = []
        self.faults: list[dict] = []
        self.requests: list[tuple[float, str, int, str]] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_GophishHandler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _GophishHandler(BaseHTTPRequestHandler):
    standin: GophishStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body, headers=None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        status = self._serve()
        with self.standin.lock:
            self.standin.requests.append((time.time(), self.path, status, self.headers.get("Authorization", "")))

    def _serve(self) -> int:
        standin = self.standin
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if key != standin.key:
            self.reply(401, {"message": "Invalid API Key", "success": False, "data": None})
            return 401
        with standin.lock:
            fault = next((f for f in standin.faults if f["times"] > 0 and f["path"] in self.path), None)
            if fault is not None:
                fault["times"] -= 1
        if fault is not None:
            self.reply(fault["status"], {"message": "slow down", "success": False, "data": None}, fault.get("headers"))
            return fault["status"]
        if self.path == "/api/campaigns/":
            listed = [{k: v for k, v in c.items() if k != "timeline"} for c in standin.campaigns]
            self.reply(200, listed)
            return 200
        found = re.fullmatch(r"/api/campaigns/(\d+)/results", self.path)
        campaign = next((c for c in standin.campaigns if found and c["id"] == int(found.group(1))), None)
        if campaign is None:
            self.reply(404, {"message": "Campaign not found", "success": False, "data": None})
            return 404
        keys = ("id", "name", "status", "results", "timeline")
        self.reply(200, {k: campaign[k] for k in keys})
        return 200


@pytest.fixture
def gophish():
    server = GophishStandIn()
    people = [f"f{n}" for n in range(6)]
    statuses = {p: ("Clicked Link" if n < 2 else "Email Sent") for n, p in enumerate(people)}
    server.campaigns = [
        gophish_campaign(statuses, {"f5": 9}, cid=1, name="Council tax rebate"),
        gophish_campaign({p: "Email Sent" for p in people[:2]}, {}, LAUNCHED, cid=2, name="Parking permit"),
    ]
    yield server
    server.stop()


def gophish_job(server, tmp_path, **endpoint):
    key_file = tmp_path / "gophish.key"
    key_file.write_text(API_KEY + "\n")
    settings = {"api_key_file": key_file, "retry_delay": 0.05, **endpoint}
    return GophishResults(GophishEndpoint(server.url, **settings), environ={})


def test_gophish_campaigns_and_results_are_read_with_the_key_from_a_file(gophish, tmp_path):
    snapshots = SnapshotStore(tmp_path / "home")

    run = snapshot_all([gophish_job(gophish, tmp_path)], snapshots)

    entry = run.entries[0]
    assert entry.source == GOPHISH and entry.collected and entry.rows == 8
    assert [p for _, p, _, _ in gophish.requests] == [
        "/api/campaigns/",
        "/api/campaigns/1/results",
        "/api/campaigns/2/results",
    ]
    assert all(auth == f"Bearer {API_KEY}" for *_, auth in gophish.requests)
    assert all("api_key" not in p for _, p, _, _ in gophish.requests), "the key never travels in a URL"
    rows = read_back(
        snapshots,
        entry,
        "SELECT campaign_name, count(*), count(*) FILTER (WHERE status = 'Clicked Link'), count(*) FILTER (WHERE reported), "
        "count(clicked_at), max(reported_at - sent_at), count(completed_at), any_value(origin) FROM t GROUP BY 1 ORDER BY 1",
    )
    assert rows == [
        ("Council tax rebate", 6, 2, 1, 2, dt.timedelta(minutes=9), 0, "api"),  # Go's zero time is null
        ("Parking permit", 2, 0, 0, 0, None, 0, "api"),
    ]
    assert read_back(snapshots, entry, "SELECT count(*) FROM t WHERE email <> lower(email)") == [(0,)]


def test_gophish_key_from_the_environment_and_throttling_waits_retry_after(gophish, tmp_path):
    gophish.faults.append(
        {"path": "/api/campaigns/2/results", "status": 429, "headers": {"Retry-After": "1"}, "times": 1}
    )
    job = GophishResults(GophishEndpoint(gophish.url, retry_delay=0.05), environ={"GOPHISH_API_KEY": API_KEY})

    run = snapshot_all([job], SnapshotStore(tmp_path))

    assert run.entries[0].collected and run.entries[0].rows == 8
    second = [(at, status) for at, p, status, _ in gophish.requests if p == "/api/campaigns/2/results"]
    assert [s for _, s in second] == [429, 200]
    assert second[1][0] - second[0][0] >= 1.0


def test_gophish_asking_for_a_longer_wait_than_allowed_is_not_evidenced_saying_so(gophish, tmp_path):
    gophish.faults.append(
        {"path": "/api/campaigns/2/results", "status": 503, "headers": {"Retry-After": "3600"}, "times": 1}
    )
    job = GophishResults(GophishEndpoint(gophish.url, max_retry_wait=30), environ={"GOPHISH_API_KEY": API_KEY})

    run = snapshot_all([job], SnapshotStore(tmp_path))

    (failed,) = run.not_evidenced
    assert failed.reason == (
        "GoPhish answered 503 for campaign results and asked to wait 3600 s, longer than the 30 s allowed; "
        "try again later"
    )


def test_a_refused_key_is_not_evidenced_and_the_key_is_nowhere(gophish, tmp_path, caplog):
    gophish.key = "another-key"
    snapshots = SnapshotStore(tmp_path / "home")
    caplog.set_level(logging.DEBUG)

    run = snapshot_all([gophish_job(gophish, tmp_path)], snapshots)

    (failed,) = run.not_evidenced
    assert failed.http_status == 401
    assert failed.reason == (
        f"GoPhish refused the API key for campaigns (401 Invalid API Key): check the key in {tmp_path / 'gophish.key'}"
    )
    manifest = (tmp_path / "home" / "evidence" / "index.jsonl").read_text()
    job = gophish_job(gophish, tmp_path)
    for text in (manifest, caplog.text, repr(job), str(failed)):
        assert API_KEY not in text


def test_no_key_at_all_names_where_it_was_looked_for(gophish, tmp_path):
    job = GophishResults(GophishEndpoint(gophish.url, api_key_env="COUNCIL_GOPHISH_KEY"), environ={})

    run = snapshot_all([job], SnapshotStore(tmp_path))

    assert run.not_evidenced[0].reason == (
        "no GoPhish API key: set the environment variable COUNCIL_GOPHISH_KEY or name a key file"
    )
    assert gophish.requests == []


# -- GoPhish exports -------------------------------------------------------------------------------


def test_the_documentations_own_campaign_json_imports(tmp_path, shared_data):
    """Reads ../shared/data: the 'Get Campaign' example of GoPhish's API documentation, as is."""
    text = (shared_data / "gophish-api-documentation" / "campaigns.md").read_text(encoding="utf-8")
    example = re.search(r'path="/api/campaigns/:id" %\}.*?```javascript\n(\{.*?\n\})\n```', text, re.S).group(1)
    exported = tmp_path / "campaign-1.json"
    exported.write_text(example)
    snapshots = SnapshotStore(tmp_path / "home")

    result = import_exports(snapshots, [ExportFile(exported)], taken_at=LAUNCHED)

    assert (result.kept, result.set_aside) == (2, ())
    rows = read_back(
        snapshots, result.entry, "SELECT email, status, clicked_at, opened_at, sent_at FROM t ORDER BY email"
    )
    assert rows[0][:2] == ("foo@bar.com", "Clicked Link")
    assert rows[0][2] == dt.datetime(2018, 10, 8, 15, 56, 46, 955281, tzinfo=dt.UTC)
    assert rows[1][:2] == ("user@example.com", "Email Sent") and rows[1][2] is None


def test_csv_exports_join_their_raw_events_and_set_aside_bad_rows(tmp_path):
    results = tmp_path / "Council tax rebate - Results.csv"
    results.write_text(
        "id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position\n"
        "a1,Clicked Link,::1,0,0,2026-10-20T08:00:00Z,true,2026-10-20T08:05:00Z,Ann@Council.example,Ann,A,Finance\n"
        "a2,Email Sent,,0,0,2026-10-20T08:00:01Z,false,2026-10-20T08:00:01Z,bob@council.example,Bob,B,\n"
        "a3,Teleported,,0,0,2026-10-20T08:00:02Z,false,2026-10-20T08:00:02Z,cat@council.example,Cat,C,\n"
        "a4,Email Sent,,0,0,2026-10-20T08:00:03Z,false,2026-10-20T08:00:03Z,,Dan,D,\n"
    )
    events = tmp_path / "Council tax rebate - Events.csv"
    events.write_text(
        "email,time,message,details\n"
        ",2026-10-20T07:59:00Z,Campaign Created,\n"
        "ann@council.example,2026-10-20T08:00:00Z,Email Sent,\n"
        "ann@council.example,2026-10-20T08:03:00Z,Clicked Link,{}\n"
        "ann@council.example,2026-10-20T08:01:00Z,Clicked Link,{}\n"
        "ann@council.example,2026-10-20T08:20:00Z,Email Reported,\n"
    )
    snapshots = SnapshotStore(tmp_path / "home")

    result = import_exports(snapshots, [ExportFile(results, campaign="Council tax rebate", events=events)])

    assert result.kept == 2
    assert result.set_aside == (
        f"{results.name} record 3: status 'Teleported' is not a GoPhish result status (expected one of "
        "Email Sent, Email Opened, Clicked Link, Submitted Data, Email Reported, Error Sending Email, Error, "
        "Scheduled, Queued, Sending, Retrying)",
        f"{results.name} record 4: no email address",
    )
    assert result.entry.notes[0] == "2 record(s) set aside and not counted"
    rows = read_back(
        snapshots,
        result.entry,
        "SELECT campaign_name, email, position, reported, clicked_at, reported_at - sent_at, launched_at FROM t ORDER BY email",
    )
    start = dt.datetime(2026, 10, 20, 8, 0, tzinfo=dt.UTC)
    assert rows == [
        (
            "Council tax rebate",
            "ann@council.example",
            "Finance",
            True,
            start + dt.timedelta(minutes=1),
            dt.timedelta(minutes=20),
            start,
        ),
        ("Council tax rebate", "bob@council.example", None, False, None, None, start),
    ]


def test_a_file_that_is_not_an_export_is_refused_by_name_and_nothing_written(tmp_path):
    wrong = tmp_path / "users.csv"
    wrong.write_text("name,mail\nAnn,ann@council.example\n")
    snapshots = SnapshotStore(tmp_path / "home")
    with pytest.raises(GophishExportError) as caught:
        import_exports(snapshots, [ExportFile(wrong)])
    assert (
        str(caught.value) == f"{wrong}: has no email, status column; expected GoPhish's CSV export with email, status"
    )
    broken = tmp_path / "campaign.json"
    broken.write_text('{"id": 1, "name": "x"}')
    with pytest.raises(GophishExportError, match="campaign 1 has no 'results' list"):
        import_exports(snapshots, [ExportFile(broken)])
    assert snapshots.entries() == []


def test_the_source_names_are_the_report_registry_names():
    assert set(AWARENESS_COLUMNS) == {s.value for s in AwarenessSource}
    assert {j.source for j in graph_jobs_for_names()} | {GOPHISH} == {s.value for s in AwarenessSource}


def graph_jobs_for_names():
    endpoint = GraphEndpoint(base_url="http://127.0.0.1:9")
    return attack_simulation.jobs(lambda: GraphReader(endpoint, lambda: None))  # type: ignore[arg-type,return-value]


def test_key_file_path_errors_name_the_file(tmp_path):
    endpoint = GophishEndpoint("http://127.0.0.1:9", api_key_file=tmp_path / "missing.key")
    with pytest.raises(Exception) as caught:
        endpoint.api_key({})
    assert (
        str(caught.value)
        == f"cannot read the GoPhish API key file {tmp_path / 'missing.key'}: No such file or directory"
    )
    (tmp_path / "empty.key").write_text("\n")
    with pytest.raises(Exception, match="is empty"):
        GophishEndpoint("http://127.0.0.1:9", api_key_file=tmp_path / "empty.key").api_key({})
