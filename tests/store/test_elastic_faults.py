"""Faults on the way into Elasticsearch: a refused document, 429s, a node that goes away.

After each, every event is stored exactly once and nothing good is lost. Events are built by
tests/support/events_factory.py (no third-party data).
"""

from __future__ import annotations

import http.client
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from store import ElasticStore
from store.elastic.bulk import BulkOptions
from store.elastic.client import ElasticRefused, ElasticSettings, ElasticUnavailable, build_client
from tests.conftest import delete_indices
from tests.support.elastic_node import free_port, running_node
from tests.support.events_factory import event_table

T0 = datetime(2025, 6, 9, 8, 0, tzinfo=UTC)
FAST = BulkOptions(initial_backoff=0.05, max_backoff=0.5, deadline=120)


def events(count: int, **extra) -> pa.Table:
    return event_table(
        [
            {
                "@timestamp": T0 + timedelta(milliseconds=i),
                "event.id": f"ev-{i:06d}",
                "event.original": f"raw {i}",
                **extra,
            }
            for i in range(count)
        ]
    )


@pytest.fixture
def client(elastic_url, es_prefix):
    client = build_client(ElasticSettings(hosts=(elastic_url,)))
    yield client  # es_prefix deletes the test's indices and templates afterwards
    client.close()


# -- a document the mapping refuses -------------------------------------------------------------


def test_a_refused_document_is_quarantined_with_the_reason_and_the_rest_is_stored(client, es_prefix, tmp_path):
    store = ElasticStore(client, tmp_path, es_prefix, FAST)
    rows = [
        {"@timestamp": T0, "event.id": f"ok-{i}", "source.port": str(1000 + i), "event.original": f"line {i}"}
        for i in range(5)
    ]
    rows.insert(2, {"@timestamp": T0, "event.id": "bad", "source.port": "not-a-port", "event.original": "the bad line"})
    result = store.append(event_table(rows))  # source.port is an integer field in the events template
    assert (result.stored, result.duplicates, result.rejected) == (5, 0, 1)
    [record] = store.state.quarantined()
    assert record["record"] == "the bad line"
    assert "source.port" in record["reason"] and "Elasticsearch refused" in record["reason"]
    assert record["origin"] == f"elasticsearch {es_prefix}events-test.events-2025.06.09/bad"
    found = store.search(["test.events"], T0, T0 + timedelta(seconds=1), "*", ["source.port"])
    assert found.column("event.id").to_pylist() == [f"ok-{i}" for i in range(5)]
    assert found.column("source.port").to_pylist() == [1000, 1001, 1002, 1003, 1004]


def test_a_refusal_that_is_the_clusters_fault_is_an_error_not_a_quarantine(client, es_prefix, tmp_path):
    store = ElasticStore(client, tmp_path, es_prefix, FAST)
    store.append(event_table([{"@timestamp": T0, "event.id": "first"}]))
    client.indices.close(index=f"{es_prefix}events-test.events-2025.06.09")
    later = T0 + timedelta(days=1)
    batch = event_table([{"@timestamp": T0, "event.id": "to-closed"}, {"@timestamp": later, "event.id": "next-day"}])
    with pytest.raises(ElasticRefused, match="refused 1 of 2 events.*index_closed_exception.*1 were stored"):
        store.append(batch)
    assert store.state.quarantine_count() == 0
    assert store.search(["test.events"], later, later + timedelta(seconds=1)).column("event.id").to_pylist() == [
        "next-day"
    ]
    client.indices.open(index=f"{es_prefix}events-test.events-2025.06.09", wait_for_active_shards="1")
    again = store.append(batch)  # once the cluster is put right, the same input completes the job
    assert (again.stored, again.duplicates, again.rejected) == (1, 1, 0)


# -- 429 from the cluster ----------------------------------------------------------------------


class RefusingProxy:
    """An HTTP proxy in front of the node that refuses the first ``refuse`` bulk requests with
    ``status`` (429 by default: the node's own back-pressure answer)."""

    def __init__(self, upstream: str, refuse: int, status: int = 429):
        self.upstream = urlsplit(upstream)
        self.refuse = refuse
        self.status = status
        self.refused = 0
        self.bulk_forwarded = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "_bulk" in self.path:
                    with proxy.lock:
                        refuse = proxy.refused < proxy.refuse
                        proxy.refused += refuse
                        proxy.bulk_forwarded += not refuse
                    if refuse:
                        payload = (
                            b'{"error":{"type":"es_rejected_execution_exception",'
                            b'"reason":"rejected by the test proxy"},"status":%d}' % proxy.status
                        )
                        self.send_response(proxy.status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_bulk_429s_are_retried_and_every_event_is_stored_once(client, elastic_url, es_prefix, tmp_path):
    table = events(3_000)
    with RefusingProxy(elastic_url, refuse=3) as proxy:
        proxied = build_client(ElasticSettings(hosts=(proxy.url,)))
        store = ElasticStore(proxied, tmp_path, es_prefix, BulkOptions(chunk_docs=1_000, initial_backoff=0.05))
        result = store.append(table)
        store.flush()  # visible to other readers now (another store instance counts below)
        proxied.close()
    assert proxy.refused == 3  # the first three bulk requests were turned away...
    assert proxy.bulk_forwarded >= 3  # ...and sent again, then the rest
    assert (result.stored, result.duplicates, result.rejected) == (3_000, 0, 0)
    assert ElasticStore(client, tmp_path, es_prefix).count() == 3_000


def test_whole_bulk_requests_failing_with_500_are_sent_again_and_every_event_is_stored_once(
    client, elastic_url, es_prefix, tmp_path
):
    """A 500 is not retried by the client; the bulk helpers report every action of the failed
    request as failed (reading each action back as a dict), and the store sends them again."""
    table = events(2_000)
    with RefusingProxy(elastic_url, refuse=2, status=500) as proxy:
        proxied = build_client(ElasticSettings(hosts=(proxy.url,)))
        store = ElasticStore(proxied, tmp_path, es_prefix, BulkOptions(chunk_docs=500, initial_backoff=0.05))
        result = store.append(table)
        store.flush()
        proxied.close()
    assert proxy.refused == 2 and proxy.bulk_forwarded >= 4
    assert (result.stored, result.duplicates, result.rejected) == (2_000, 0, 0)
    assert ElasticStore(client, tmp_path, es_prefix).count() == 2_000


def test_an_unreachable_cluster_is_a_clear_error_after_the_deadline(tmp_path):
    nowhere = build_client(ElasticSettings(hosts=(f"http://127.0.0.1:{free_port()}",), request_timeout=2))
    store = ElasticStore(nowhere, tmp_path, "cwt-nowhere-", BulkOptions(initial_backoff=0.05, deadline=0.5))
    store._templates_ready = True  # nothing to install templates on; the bulk path is under test
    with pytest.raises(ElasticUnavailable, match="did not take 10 of 10 events.*ingest the same input again"):
        store.append(events(10))


# -- the node goes away in the middle of an ingest ---------------------------------------------


@pytest.fixture
def stoppable_node(elastic_node):
    """A node this test may stop: the session's, or one of its own beside an external node."""
    if elastic_node is not None:
        yield elastic_node
        elastic_node.wait_healthy()
        return
    with running_node() as node:
        yield node


def test_a_node_stopped_mid_ingest_and_started_again_ends_with_every_event_once(stoppable_node, tmp_path):
    prefix = "cwt-stop-mid-ingest-"
    client = build_client(ElasticSettings(hosts=(stoppable_node.url,), request_timeout=10))
    delete_indices(stoppable_node.url, prefix)  # a run that failed may have left them
    store = ElasticStore(
        client, tmp_path, prefix, BulkOptions(chunk_docs=200, initial_backoff=0.2, max_backoff=2, deadline=180)
    )
    table = events(20_000)
    outcome: dict = {}

    def ingest():
        try:
            outcome["result"] = store.append(table)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while (
            not client.indices.exists(index=f"{prefix}events-*", allow_no_indices=False) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.3)
        stoppable_node.stop()
        assert writer.is_alive(), "the ingest ended before the node was stopped: make the table bigger"
        time.sleep(2)  # the writer meets a dead node and backs off
        stoppable_node.start()
    finally:
        writer.join(240)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result.rejected == 0
    assert result.stored + result.duplicates == 20_000  # a resent chunk's events count as duplicates
    assert result.stored > 0
    store.refresh()
    assert store.count() == 20_000
    assert store.search(["test.events"], T0, T0 + timedelta(hours=1)).column("event.id").to_pylist() == [
        f"ev-{i:06d}" for i in range(20_000)
    ]
    delete_indices(stoppable_node.url, prefix)
    client.close()
