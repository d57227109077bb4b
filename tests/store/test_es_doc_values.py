"""Elasticsearch's ``search`` reads matches from doc values and still answers as the embedded store.

A correlation reads its base rules' matches through ``search``; on Elasticsearch they come from
doc values (not ``_source``), where a string is lower-cased for Sigma, a time is a ``date_nanos``
and a string longer than the mapping's ``ignore_above`` is not indexed at all. Whatever the
source of each value, the table must be the embedded store's: case as written, microseconds,
numbers and booleans typed, the long string whole, the raw record when asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from elasticsearch import Elasticsearch

from collectors.formats.signins import signin_schema
from store.elastic.mapping import MAX_INDEXED_CHARS
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from tests.rules.test_es_sigma_semantics import remove_indices

START = datetime(2025, 4, 7, 9, tzinfo=UTC)
_P = "azure.signinlogs.properties."
LONG_AGENT = "Mozilla/5.0 " + "x" * (MAX_INDEXED_CHARS + 50)
COLUMNS = [
    "user.name",
    "source.ip",
    "user_agent.original",
    _P + "status.error_code",
    _P + "is_interactive",
    "event.original",
]


@pytest.fixture
def client(elastic_url, es_prefix):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    remove_indices(connection, es_prefix)
    connection.close()


def events() -> pa.Table:
    rows = [
        {
            "user.name": "Alice@Council.gov.uk",
            "source.ip": "2001:DB8::1",
            "user_agent.original": "Edge",
            _P + "status.error_code": 50126,
            _P + "is_interactive": True,
        },
        {
            "user.name": "bob",
            "source.ip": None,
            "user_agent.original": LONG_AGENT,
            _P + "status.error_code": 0,
            _P + "is_interactive": False,
        },
        {
            "user.name": None,
            "source.ip": "10.0.0.1",
            "user_agent.original": "",
            _P + "status.error_code": None,
            _P + "is_interactive": None,
        },
    ]
    for i, row in enumerate(rows):
        row.update(
            {
                "@timestamp": START + timedelta(microseconds=123_457 * (i + 1)),
                "event.ingested": START,
                "event.dataset": "azure.signinlogs",
                "event.id": f"Doc-{i}",
                "event.original": f'{{"raw": {i}}}',
            }
        )
    return pa.table({name: pa.array([r.get(name) for r in rows], kind) for name, kind in signin_schema.COLUMNS.items()})


def test_search_on_elasticsearch_reads_what_the_embedded_store_reads(client, es_prefix, tmp_path):
    stores = (EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix))
    for store in stores:
        store.append(events())
    embedded, elastic = (
        store.search(["azure.signinlogs"], START, START + timedelta(hours=1), None, columns=COLUMNS).to_pylist()
        for store in stores
    )
    assert elastic == embedded
    assert [row["user.name"] for row in elastic] == ["Alice@Council.gov.uk", "bob", None]
    assert elastic[1]["user_agent.original"] == LONG_AGENT  # not indexed, still read whole
    assert elastic[0]["@timestamp"] == START + timedelta(microseconds=123_457)
