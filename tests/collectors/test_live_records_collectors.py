"""Live collectors hand their records to the parsers in memory: no temporary file is written.

Each collector runs against its stand-in service (tests/support/graph_standin.py, a real HTTPS Graph and
identity server; tests/support/loganalytics_standin.py, a real Log Analytics query server) with
``TMPDIR`` pointed at an empty folder of the test's own, while a Python audit hook watches every
file and folder opened or made under it. The collectors used to write each Graph page, and each
Log Analytics answer, to an NDJSON file there (``tempfile``) and parse the file; the hook sees
that even when the file is deleted before the run ends. The events and quarantine must be those
the file route gives for the same records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collectors.formats import azure_firewall, defender_alerts
from collectors.formats.signins import entra_signins
from collectors.live.firewall_logs import AzureFirewallCollector
from collectors.live.graph_defender import DefenderCollector
from collectors.live.graph_signins import EntraSigninCollector
from microsoft.graph import GraphEndpoint
from microsoft.identity import credential_from
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.collectors.test_firewall_collector import Clock, make_rows
from tests.support.graph_standin import GraphStandIn, make_alerts, make_signins
from tests.support.loganalytics_standin import LogAnalyticsStandIn, StandInCredential

SECRET = "stand-in-secret-Zq9"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
WIDE = (NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=1))
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
WS = "ws-council"

# -- watching the temporary folder ------------------------------------------------------------------

_WATCHED: list[tuple[str, list[str]]] = []  # (folder, what was opened or made under it)


def _audit(event: str, args: tuple) -> None:
    """Note every path opened (``open``, ``os.open``) or made (``os.mkdir``) under a watched folder."""
    if not _WATCHED or event not in ("open", "os.mkdir") or not args:
        return
    target = args[0]
    if not isinstance(target, (str, bytes, os.PathLike)):
        return  # a file descriptor
    path = os.path.abspath(os.fsdecode(target))
    for folder, seen in _WATCHED:
        if path.startswith(folder):
            seen.append(f"{event} {path}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; it does nothing while nothing is watched


@contextlib.contextmanager
def temporary_files_watched(folder: Path, monkeypatch) -> Iterator[list[str]]:
    """``TMPDIR`` (and :mod:`tempfile`'s cached choice) set to ``folder``; the paths touched under it."""
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert tempfile.gettempdir() == str(folder)
    seen: list[str] = []
    _WATCHED.append((str(folder.resolve()), seen))
    try:
        yield seen
    finally:
        _WATCHED.pop()


def ndjson_file_parse(module, folder: Path, records: list[bytes]):
    """The route the collectors used to take: the records as an NDJSON file, parsed as a file."""
    path = folder / "page.ndjson"
    path.write_bytes(b"".join(record + b"\n" for record in records))
    return module.parse_file(path)


def same_events(stored, expected) -> None:
    """The stored events are the expected ones, in every column the search returns (but the
    moment of ingest), whatever the order."""
    columns = [c for c in expected.column_names if c in stored.column_names and c != "event.ingested"]
    assert len(columns) > 10

    def rows(table) -> list[dict]:
        return sorted(table.select(columns).to_pylist(), key=lambda row: row["event.id"])

    assert rows(stored) == rows(expected)


# -- Graph --------------------------------------------------------------------------------------------


@pytest.fixture
def standin():
    server = GraphStandIn().start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


def _endpoint(standin: GraphStandIn, page_size: int) -> tuple[GraphEndpoint, object]:
    settings = {
        "auth": "client_secret",
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "client_secret_env": "GRAPH_SECRET",
        "authority_host": standin.authority,
        "ca_bundle": standin.ca_bundle,
    }
    endpoint = GraphEndpoint(base_url=standin.graph_url, page_size=page_size, retry_delay=0.05)
    return endpoint, lambda: credential_from(settings, {"GRAPH_SECRET": SECRET})


SIGNIN = {
    "appDisplayName": "Office 365 Exchange Online",
    "ipAddress": "81.2.69.142",
    "clientAppUsed": "Browser",
    "status": {"errorCode": 0, "failureReason": None},
    "location": {"city": "Leeds", "countryOrRegion": "GB"},
    "deviceDetail": {"deviceId": "", "operatingSystem": "Windows10", "isCompliant": False},
}


def test_signin_pages_are_parsed_in_memory_with_the_events_and_quarantine_of_the_file_route(
    standin, tmp_path, monkeypatch
):
    records = make_signins([SIGNIN], 23, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=3))
    records[5]["createdDateTime"] = "yesterday-ish"
    standin.add(signins=records)
    store = EmbeddedStore(tmp_path / "home")
    endpoint, credential = _endpoint(standin, page_size=10)

    with temporary_files_watched(tmp_path / "tmp", monkeypatch) as touched:
        run = EntraSigninCollector(credential, endpoint).collect_once(store, Checkpoints(store.state))

    assert run.error is None and (run.stored, run.quarantined) == (22, 1)
    assert touched == [] and list((tmp_path / "tmp").iterdir()) == []
    # as the file route gives them: the same events, the same reject (Graph lists newest first)
    newest_first = [orjson.dumps(record) for record in reversed(records)]
    expected = ndjson_file_parse(entra_signins, tmp_path, newest_first)
    stored = store.search(["azure.signinlogs"], *WIDE, columns=expected.events.column_names)
    same_events(stored, expected.events)
    [kept] = store.state.quarantined()
    [reject] = expected.quarantined
    assert (kept["reason"], kept["record"]) == (reject.reason, reject.record)
    assert "not a timestamp" in kept["reason"] and kept["origin"].startswith(standin.graph_url)


ALERT = {
    "@odata.type": "#microsoft.graph.security.alert",
    "providerAlertId": "p-1",
    "serviceSource": "microsoftDefenderForEndpoint",
    "title": "Suspicious PowerShell command line",
    "severity": "high",
    "category": "Execution",
    "evidence": [
        {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "pc-017.council.local"},
        {"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"userPrincipalName": "A@Council"}},
    ],
}


def test_defender_pages_are_parsed_in_memory_with_the_events_and_quarantine_of_the_file_route(
    standin, tmp_path, monkeypatch
):
    alerts = make_alerts(ALERT, 9, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=7))
    alerts[4]["id"] = ""  # an alert Cyberwell cannot store without its id
    standin.add(alerts=alerts)
    store = EmbeddedStore(tmp_path / "home")
    endpoint, credential = _endpoint(standin, page_size=4)

    with temporary_files_watched(tmp_path / "tmp", monkeypatch) as touched:
        run = DefenderCollector(credential, endpoint, listings=("alerts_v2",)).collect_once(
            store, Checkpoints(store.state)
        )

    assert run.error is None and (run.stored, run.quarantined) == (8, 1)
    assert touched == [] and list((tmp_path / "tmp").iterdir()) == []
    expected = ndjson_file_parse(defender_alerts, tmp_path, [orjson.dumps(alert) for alert in alerts])
    stored = store.search([defender_alerts.DATASET], *WIDE, columns=expected.events.column_names)
    same_events(stored, expected.events)
    [kept] = store.state.quarantined()
    assert kept["reason"] == "alert has no id" == expected.quarantined[0].reason
    assert json.loads(kept["record"]) == alerts[4]


# -- Log Analytics ------------------------------------------------------------------------------------


def test_firewall_rows_are_parsed_in_memory_with_the_events_and_quarantine_of_the_file_route(tmp_path, monkeypatch):
    rows = make_rows("AZFWNetworkRule", T0 - dt.timedelta(minutes=30), T0 - dt.timedelta(minutes=5), 40, seed=7)
    rows[11]["TimeGenerated"] += "+garbled"
    store = EmbeddedStore(tmp_path / "home")
    with LogAnalyticsStandIn(workspace_id=WS).start() as service:
        service.state.add_rows("AZFWNetworkRule", rows)
        settings = {
            "workspace_id": WS,
            "endpoint": service.url,
            "tables": ["AZFWNetworkRule"],
            "initial_lookback_hours": 1,
            "min_query_interval_seconds": 0,
            "retry_backoff_factor": 0.05,
        }
        collector = AzureFirewallCollector(settings, StandInCredential(service.token_url()), clock=Clock(T0))
        with temporary_files_watched(tmp_path / "tmp", monkeypatch) as touched:
            run = collector.collect_once(store, Checkpoints(store.state))

    assert run.error is None and (run.stored, run.quarantined) == (39, 1)
    assert touched == [] and list((tmp_path / "tmp").iterdir()) == []
    [kept] = store.state.quarantined()
    assert "time" in kept["reason"] and json.loads(kept["record"])["_ItemId"] == rows[11]["_ItemId"]
    # the columns the parser makes are those the file route makes of the same diagnostic records
    records = [
        orjson.dumps({"category": row["Type"], "time": row["TimeGenerated"], "properties": row})
        for n, row in enumerate(rows)
        if n != 11
    ]
    expected = ndjson_file_parse(azure_firewall, tmp_path, records).events
    columns = ["@timestamp", "source.ip", "source.port", "destination.ip", "destination.port", "event.action"]
    stored = store.search(["azure.firewall"], T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1), columns=columns)
    key = ["@timestamp", "source.ip", "source.port", "destination.ip", "destination.port"]
    assert stored.select(columns).sort_by([(c, "ascending") for c in key]).to_pylist() == (
        expected.select(columns).sort_by([(c, "ascending") for c in key]).to_pylist()
    )


def test_a_one_row_answer_with_a_bad_row_is_quarantined_not_a_failed_run(tmp_path):
    """One row is one NDJSON line, which the parser reads as a whole document: its reject names no
    line. The collector used to read the row number from the reject's origin and fail the run."""
    rows = make_rows("AZFWNetworkRule", T0 - dt.timedelta(minutes=30), T0 - dt.timedelta(minutes=5), 1, seed=3)
    rows[0]["TimeGenerated"] += "+garbled"
    store = EmbeddedStore(tmp_path / "home")
    with LogAnalyticsStandIn(workspace_id=WS).start() as service:
        service.state.add_rows("AZFWNetworkRule", rows)
        settings = {
            "workspace_id": WS,
            "endpoint": service.url,
            "tables": ["AZFWNetworkRule"],
            "initial_lookback_hours": 1,
            "min_query_interval_seconds": 0,
        }
        collector = AzureFirewallCollector(settings, StandInCredential(service.token_url()), clock=Clock(T0))
        run = collector.collect_once(store, Checkpoints(store.state))
    assert run.error is None and (run.stored, run.quarantined) == (0, 1)
    [kept] = store.state.quarantined()
    assert json.loads(kept["record"])["_ItemId"] == rows[0]["_ItemId"]
