"""The ``cyberwell`` command with ``store.backend = "elasticsearch"``, as a user runs it.

Sign-ins here are written by the test (Graph ``signIn`` shape); the demo scenario is the bundled
generator. No third-party data.
"""

from __future__ import annotations

import importlib.util
import json

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from store.elastic.client import ElasticSettings, build_client
from store.elastic.store import name_batches

runner = CliRunner()
HAS_LUCENE_COMPILER = importlib.util.find_spec("detections.backends.compile_es") is not None


def signin(i: int) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T09:{i % 60:02d}:00.{i:06d}Z",
        "userPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "userId": f"u-{i}",
        "ipAddress": "81.2.69.160",
        "appDisplayName": "Office 365 Exchange Online",
        "clientAppUsed": "Browser",
        "status": {"errorCode": 0},
        "location": {"city": "London", "countryOrRegion": "GB"},
    }


@pytest.fixture
def home(tmp_path, elastic_url, es_prefix):
    (tmp_path / "cyberwell.toml").write_text(
        f'[store]\nbackend = "elasticsearch"\n\n[store.elasticsearch]\n'
        f'hosts = ["{elastic_url}"]\nindex_prefix = "{es_prefix}"\n'
    )
    yield tmp_path
    client = build_client(ElasticSettings(hosts=(elastic_url,)))
    names = sorted(client.indices.get(index=f"{es_prefix}*", ignore_unavailable=True, allow_no_indices=True))
    for joined in name_batches(names):  # by name: wildcard deletes are refused
        client.indices.delete(index=joined, ignore_unavailable=True)
    client.close()


def run(home, *args: str):
    result = runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)
    return result


def said(result) -> str:
    """The output as one line: the terminal wraps long messages."""
    return " ".join(result.output.split())


def run_json(home, *args: str):
    result = run(home, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_ingest_quarantine_and_retention_work_on_elasticsearch(home, elastic_url, es_prefix):
    export = home / "signins.ndjson"
    export.write_bytes(b"\n".join([*(orjson.dumps(signin(i)) for i in range(40)), b"{not json"]) + b"\n")
    first = run_json(home, "ingest", str(export), "--source", "entra-signins")
    assert (first["ingested"], first["duplicates"], first["quarantined"]) == (40, 0, 1)
    again = run_json(home, "ingest", str(export), "--source", "entra-signins")
    assert (again["ingested"], again["duplicates"]) == (0, 40)

    client = build_client(ElasticSettings(hosts=(elastic_url,)))
    assert client.count(index=f"{es_prefix}events-azure.signinlogs-2026.11.16")["count"] == 40
    quarantine = run_json(home, "quarantine", "list")
    assert quarantine["total"] == 1  # the bad line once, seen by both runs (as embedded)
    assert [r["sightings"] for r in quarantine["records"]] == [2]
    assert run_json(home, "alerts", "list") == []
    assert run_json(home, "rules", "list")["rules"]

    kept = run_json(home, "retention", "--days", "36500")
    assert kept["deleted"] == []
    gone = run_json(home, "retention", "--days", "1")  # the sign-ins are from 2026-11-16
    assert gone["deleted"] == [f"{es_prefix}events-azure.signinlogs-2026.11.16"]
    assert not client.indices.exists(index=f"{es_prefix}events-azure.signinlogs-2026.11.16")
    client.close()


def test_an_unreachable_cluster_is_one_clear_line(tmp_path):
    (tmp_path / "cyberwell.toml").write_text(
        '[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\nhosts = ["http://127.0.0.1:9"]\nrequest_timeout = 2\n'
    )
    result = run(tmp_path, "quarantine", "list")
    assert result.exit_code == 2
    assert "Elasticsearch at http://127.0.0.1:9: cannot connect" in said(result)
    assert "Traceback" not in result.output


def test_wrong_store_options_are_refused_clearly(tmp_path):
    assert "--es-url goes with --store elasticsearch" in said(run(tmp_path, "demo", "--es-url", "http://x:9200"))
    assert "--store: expected 'embedded' or 'elasticsearch'" in said(run(tmp_path, "demo", "--store", "mongo"))
    (tmp_path / "cyberwell.toml").write_text('[store]\nbackend = "elasticsearch"\n')
    assert "no [store.elasticsearch] table" in said(run(tmp_path, "alerts", "list"))


@pytest.mark.skipif(not HAS_LUCENE_COMPILER, reason="detections/backends/compile_es.py (Sigma -> Lucene) not there yet")
def test_the_demo_on_elasticsearch_raises_the_embedded_stores_alerts(home, tmp_path_factory, elastic_url):
    embedded_home = tmp_path_factory.mktemp("embedded")
    on_es = run_json(home, "demo", "--store", "elasticsearch", "--es-url", elastic_url, "--size", "1000")
    embedded = run_json(embedded_home, "demo", "--size", "1000")
    assert sum(r["ingested"] for r in on_es["ingest"].values()) == sum(
        r["ingested"] for r in embedded["ingest"].values()
    )
    assert on_es["detections"]["problems"] == embedded["detections"]["problems"]
    assert sorted(a["id"] for a in on_es["alerts"]) == sorted(a["id"] for a in embedded["alerts"])
    assert on_es["alerts"], "the demo's stories raise alerts"
    detect = run_json(home, "detect")  # every command works on the configured store
    assert detect["alerts_new"] == 0
