"""A record no store can keep never stops the others (issue 10, point 2).

A time outside what both stores can hold (``store.batch.STORABLE_FROM`` .. ``STORABLE_UNTIL``:
0001-01-01 is how Microsoft writes "never", 9999-12-31 a placeholder too) used to raise in the
embedded store and lose the whole file; through ``serve`` one such syslog line made every drain
fail for good. Now the record is quarantined with the reason and the rest is stored — the same
way on the embedded store and on a real Elasticsearch node, for every source kind.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from elasticsearch import Elasticsearch

from collectors.formats.registry import SOURCE_KINDS
from collectors.live.syslog_receiver import read_stats
from collectors.replay import ingest
from store.batch import STORABLE_FROM, STORABLE_UNTIL
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.collectors.test_graph_collectors import NOW, SECRET, signins_collector
from tests.console.test_cli import signin
from tests.parsers.test_parse_azure_firewall import legacy
from tests.parsers.test_parse_defender_alerts import mde_alert
from tests.parsers.test_parse_entra_signins_la import la_row
from tests.rules.test_es_sigma_semantics import remove_indices
from tests.support.events_factory import event_table
from tests.support.graph_standin import GraphStandIn, make_signins, sample_signins

REPO = Path(__file__).resolve().parents[2]
NEVER, FAR = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
#: Storable on both stores, though a double no longer holds its microseconds exactly (past 2255).
LATE = "2261-06-01T00:00:00Z"
GOOD = "2026-03-01T09:30:00Z"
UPDATED = "m365_defender.alert.last_update_time"


def _ndjson(*records: dict) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def _signin(i: int, stamp: str) -> dict:
    return {**signin(i), "createdDateTime": stamp}


def _firewall(i: int, stamp: str) -> dict:
    return legacy(f"UDP request from 10.0.0.{i}:5353 to 10.0.0.53:53. Action: Allow. ", time=stamp)


def _cef(i: int, stamp: str) -> str:
    return f"<14>1 {stamp} fw{i} app - - - CEF:0|Acme|Gateway|4.2|100|Allowed|3|src=10.0.0.{i} cn1={i}\n"


#: Kind -> (file name, the file's bytes given (index, time) per record).
WRITERS = {
    "entra-signins": ("signins.ndjson", lambda rows: _ndjson(*(_signin(i, t) for i, t in rows))),
    "entra-signins-la": ("signinlogs.json", lambda rows: _ndjson(*(la_row(_signin(i, t)) for i, t in rows))),
    "defender-alerts": (
        "alerts.ndjson",
        lambda rows: _ndjson(*(mde_alert(id=f"da{i}", alertCreationTime=t, lastUpdateTime=GOOD) for i, t in rows)),
    ),
    "azure-firewall": ("firewall.ndjson", lambda rows: _ndjson(*(_firewall(i, t) for i, t in rows))),
    "syslog": ("fw.log", lambda rows: "".join(_cef(i, t) for i, t in rows).encode()),
}


@pytest.fixture
def client(elastic_url, es_prefix):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    remove_indices(connection, es_prefix)
    connection.close()


def _stored_ids(store) -> list[str]:
    every = store.search(list(store.datasets()), STORABLE_FROM, STORABLE_UNTIL)
    return sorted(every.column("event.id").to_pylist())


def test_every_kind_has_a_writer_here():
    assert tuple(WRITERS) == SOURCE_KINDS


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_a_record_dated_never_or_year_9999_is_quarantined_and_the_rest_stored_on_both_stores(
    tmp_path, client, es_prefix, kind
):
    name, write = WRITERS[kind]
    export = tmp_path / name
    export.write_bytes(write([(1, NEVER), (2, GOOD), (3, FAR), (4, LATE)]))
    stores = (EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix))

    outcomes = []
    for store in stores:
        result = ingest(store, [export], kind)
        store.flush()
        rows = store.state.quarantined()
        reasons = sorted(row["reason"] for row in rows)
        outcomes.append((result.ingested, result.quarantined, _stored_ids(store), len(rows), reasons))
    embedded, elastic = outcomes

    assert embedded == elastic  # same stored ids, same quarantine, same reasons
    ingested, quarantined, ids, rows, reasons = embedded
    versions = 2 if kind == "defender-alerts" else 1  # an alert is stored in its history too
    assert (ingested, quarantined, len(ids), rows) == (2, 2, 2 * versions, 2)
    assert [reason.split(" is outside")[0] for reason in reasons] == [
        "@timestamp 0001-01-01T00:00:00.000000Z",
        "@timestamp 9999-12-31T23:59:59.000000Z",
    ]
    assert all("1970-01-01 up to 2262-01-01" in reason for reason in reasons)
    kept = sorted(row["record"] for row in stores[0].state.quarantined())
    assert any("0001-01-01" in record for record in kept) and any("9999-12-31" in record for record in kept)


def test_a_wrong_time_in_another_column_is_refused_alike_and_named(tmp_path, client, es_prefix):
    """A Defender alert whose last update is "never" cannot be versioned or indexed: refused,
    naming the column, on both stores, while its neighbour is stored."""
    when, alert = datetime(2026, 3, 1, 9, tzinfo=UTC), {"event.dataset": "m365_defender.alert"}
    table = event_table(
        [
            {**alert, "@timestamp": when, "event.id": "bad", UPDATED: datetime(1, 1, 1, tzinfo=UTC)},
            {**alert, "@timestamp": when, "event.id": "good", UPDATED: when},
        ],
        extra_types={UPDATED: pa.timestamp("us", tz="UTC")},
    )
    stores = (EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix))
    for store in stores:
        result = store.append(table)
        store.flush()
        assert (result.stored, result.duplicates, result.rejected) == (1, 0, 1)
        assert _stored_ids(store) == ["good"]
        [row] = store.state.quarantined()
        assert row["reason"].startswith("m365_defender.alert.last_update_time 0001-01-01")
        assert row["source"] == "m365_defender.alert"


# -- through serve ----------------------------------------------------------------------------------


def _wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def _state(home: Path, sql: str):
    con = sqlite3.connect(home / "state.sqlite", timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_serve_quarantines_a_syslog_line_dated_never_and_stores_the_line_after_it(tmp_path):
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    (home / "cyberwell.toml").write_text(f"""
[collectors.syslog]
spool_dir = "{spool}"
udp_port = 0
tcp_port = false
interval_seconds = 1
""")
    serve = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        udp = _wait_for(lambda: (read_stats(spool) or {}).get("listening", {}).get("udp"), 30)
        assert udp, ("the receiver never published where it listens", serve.poll())
        host, port = udp.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(_cef(1, NEVER).encode(), (host, int(port)))
            time.sleep(1.5)  # its own drain first: the poison line must not block the next one
            sender.sendto(_cef(2, GOOD).encode(), (host, int(port)))

        def stored() -> int:
            rows = _state(home, "SELECT coalesce(sum(rows), 0) FROM segments")
            return rows[0][0]

        assert _wait_for(lambda: stored() == 1, 30), (stored(), _state(home, "SELECT error FROM collector_runs"))
        [(reason, record)] = _state(home, "SELECT reason, record FROM quarantine")
        assert reason.startswith("@timestamp 0001-01-01T00:00:00") and "0001-01-01" in record
        assert _state(home, "SELECT count(*) FROM collector_runs WHERE error IS NOT NULL") == [(0,)]
        assert _state(home, "SELECT sum(quarantined) FROM collector_runs") == [(1,)]  # counted in status
        [(checkpoint,)] = _state(home, "SELECT value FROM checkpoints WHERE source = 'syslog'")
        assert json.loads(checkpoint)  # the drain moved on past the poison line
    finally:
        serve.terminate()
        serve.communicate(timeout=30)
    store = EmbeddedStore(home)
    [event] = store.search(["cef"], STORABLE_FROM, STORABLE_UNTIL, columns=["host.hostname"]).to_pylist()
    assert event["host.hostname"] == "fw2"


def test_a_placeholder_time_in_a_column_nothing_is_ordered_by_is_emptied_and_the_event_kept(
    tmp_path, client, es_prefix
):
    """``event.ingested`` dated "never" is a placeholder, not a reason to lose the sign-in."""
    when = datetime(2026, 3, 1, 9, tzinfo=UTC)
    signin = {"event.dataset": "azure.signinlogs", "@timestamp": when}
    table = event_table(
        [
            {**signin, "event.id": "never", "event.ingested": datetime(1, 1, 1, tzinfo=UTC)},
            {**signin, "event.id": "far", "event.ingested": datetime(9999, 12, 31, tzinfo=UTC)},
            {**signin, "event.id": "good", "event.ingested": when},
        ],
        extra_types={"event.ingested": pa.timestamp("us", tz="UTC")},
    )
    stores = (EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix))
    for store in stores:
        result = store.append(table)
        store.flush()
        assert (result.stored, result.rejected) == (3, 0)
        every = store.search(["azure.signinlogs"], STORABLE_FROM, STORABLE_UNTIL, columns=["event.ingested"])
        ingested = dict(zip(every.column("event.id").to_pylist(), every.column("event.ingested").to_pylist()))
        assert ingested == {"never": None, "far": None, "good": when}
        assert store.state.quarantined() == []


@pytest.fixture
def standin():
    server = GraphStandIn().start()
    server.add_client("cyberwell-app", SECRET)
    yield server
    server.stop()


def test_a_sign_in_dated_9999_is_refused_and_never_moves_the_collectors_checkpoint(standin, shared_data, tmp_path):
    """Graph lists sign-ins from the checkpoint on: a checkpoint moved to 9999 would never see
    another sign-in. The refused record leaves it at the newest sign-in stored."""
    store = EmbeddedStore(tmp_path / "home")
    samples = sample_signins(shared_data)
    records = make_signins(samples, 5, NOW - timedelta(hours=1), timedelta(minutes=1))
    records[2]["createdDateTime"] = FAR
    standin.add(signins=records)
    checkpoints = Checkpoints(store.state)
    first = signins_collector(standin).collect_once(store, checkpoints)
    assert (first.error, first.stored, first.quarantined) == (None, 4, 1)
    assert checkpoints.get("entra-signins")["signIns"] < "2100"

    late = make_signins(samples, 1, NOW - timedelta(minutes=30), timedelta(0), seed="late")
    standin.add(signins=late)
    second = signins_collector(standin).collect_once(store, checkpoints)
    assert second.error is None and second.stored == 1
    assert late[0]["id"] in _stored_ids(store)
