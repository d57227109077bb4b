"""The Elasticsearch store against a real node: the embedded store's answers, every match, daily
indices, duplicates, alerts and retention.

Events here are built by tests/support/events_factory.py (no third-party data).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import ElasticStore, EmbeddedStore
from store.elastic.client import ElasticSettings, build_client
from store.elastic.store import name_batches
from store.state.alert_record import Alert
from tests.support.events_factory import event_table

T0 = datetime(2025, 6, 9, 23, 59, 59, 998_000, tzinfo=UTC)  # near a day and a millisecond edge
PORT = {"source.port": pa.int32()}


@pytest.fixture
def client(elastic_url, es_prefix):
    client = build_client(ElasticSettings(hosts=(elastic_url,)))
    yield client
    # Indices by name: a cluster refuses wildcard deletes (action.destructive_requires_name).
    names = sorted(client.indices.get(index=f"{es_prefix}*", ignore_unavailable=True, allow_no_indices=True))
    for joined in name_batches(names):
        client.indices.delete(index=joined, ignore_unavailable=True)
    client.close()


@pytest.fixture
def store(client, es_prefix, tmp_path):
    return ElasticStore(client, tmp_path / "es-home", es_prefix)


def ids(table: pa.Table) -> list[str]:
    return table.column("event.id").to_pylist()


# -- the same answers as the embedded store --------------------------------------------------------

event_rows = st.lists(
    st.tuples(
        st.integers(0, 6_000),  # microseconds after T0: spans a millisecond and a day boundary
        st.sampled_from(["a", "B", "b", "A1", "a1", "z", "Z"]),  # case-sensitive id order
        st.sampled_from(["test.one", "test.two"]),
        st.sampled_from(["Alice", "alice", "BOB", None]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=event_rows, window=st.tuples(st.integers(-5, 6_005), st.integers(0, 6_010)))
def test_search_gives_the_embedded_stores_rows_in_its_order(store, tmp_path_factory, rows, window):
    # Examples share the indices (creating indices is most of the time); a label of the
    # example's own keeps each example's events apart, and ids start with it. (Not drawn by
    # Hypothesis: it replays draws, and a replayed label would find its events already stored.)
    label = uuid.uuid4().hex[:8]
    embedded = EmbeddedStore(tmp_path_factory.mktemp("embedded"))
    table = event_table(
        [
            {
                "@timestamp": T0 + timedelta(microseconds=offset),
                "event.id": f"{label}-{event_id}",
                "event.dataset": dataset,
                "user.name": user,
                "labels.example": label,
                "source.port": offset % 65_536,
            }
            for offset, event_id, dataset, user in rows
        ],
        PORT,
    )
    mine, theirs = store.append(table), embedded.append(table)
    assert (mine.stored, mine.duplicates) == (theirs.stored, theirs.duplicates)
    start, end = (T0 + timedelta(microseconds=window[0]), T0 + timedelta(microseconds=window[1]))
    for datasets in (["test.one"], ["test.one", "test.two"]):
        got = store.search(datasets, start, end, f"labels.example:{label}", ["user.name", "source.port"])
        want = embedded.search(datasets, start, end, "true", ["user.name", "source.port"])
        assert got.to_pylist() == want.to_pylist()
        assert got.schema.field("@timestamp").type == pa.timestamp("us", tz="UTC")


def test_one_id_in_two_datasets_at_one_moment_comes_back_in_one_order(store, tmp_path):
    """Hypothesis found it: ids are unique within a dataset only, so (time, id) alone left two
    such events in either order, and the stores disagreed."""
    label = uuid.uuid4().hex[:8]
    rows = [
        {
            "@timestamp": T0,
            "event.id": f"{label}-a",
            "event.dataset": dataset,
            "user.name": "Alice",
            "labels.example": label,
            "source.port": 0,
        }
        for dataset in ("test.two", "test.one")
    ]
    table = event_table(rows, PORT)
    embedded = EmbeddedStore(tmp_path)
    store.append(table), embedded.append(table)
    both = ["test.one", "test.two"]
    window = (T0, T0 + timedelta(seconds=1))
    got = store.search(both, *window, f"labels.example:{label}", ["user.name"]).to_pylist()
    want = embedded.search(both, *window, "true", ["user.name"]).to_pylist()
    assert [row["event.dataset"] for row in got] == [row["event.dataset"] for row in want] == both


def test_counts_datasets_and_time_range_are_the_embedded_stores(store, tmp_path):
    embedded = EmbeddedStore(tmp_path / "embedded")
    table = event_table(
        [
            {"@timestamp": T0 + timedelta(microseconds=offset), "event.id": f"e{offset}", "event.dataset": dataset}
            for offset, dataset in ((1, "test.one"), (1_999, "test.two"), (2_001, "test.one"), (5_000, "test.one"))
        ]
    )
    store.append(table), embedded.append(table)
    assert store.count() == embedded.count() == 4
    assert store.count(["test.two"]) == embedded.count(["test.two"]) == 1
    assert store.datasets() == embedded.datasets() == {"test.one": 3, "test.two": 1}
    assert store.time_range() == embedded.time_range()  # to the microsecond, across midnight


def test_every_match_comes_back_not_only_the_first_ten_thousand(store):
    many = 12_345
    table = event_table(
        [
            {"@timestamp": T0 + timedelta(microseconds=7 * i), "event.id": f"e{i:05d}", "event.original": "x"}
            for i in range(many)
        ]
    )
    assert store.append(table).stored == many
    found = store.search(["test.events"], T0, T0 + timedelta(days=1))
    assert found.num_rows == many
    assert ids(found) == [f"e{i:05d}" for i in range(many)]


# -- writing ------------------------------------------------------------------------------------


def test_events_go_to_daily_indices_per_dataset_once_each(store, client, es_prefix):
    table = event_table(
        [
            {"@timestamp": T0, "event.id": "late", "event.dataset": "azure.signinlogs"},
            {"@timestamp": T0 + timedelta(seconds=1), "event.id": "early", "event.dataset": "azure.signinlogs"},
            {"@timestamp": T0, "event.id": "fw", "event.dataset": "azure.firewall"},
            {"@timestamp": T0, "event.id": "fw", "event.dataset": "azure.firewall"},  # a copy in the batch
        ]
    )
    first = store.append(table)
    assert (first.stored, first.duplicates, first.rejected) == (3, 1, 0)
    names = sorted(client.indices.get(index=f"{es_prefix}events-*"))
    assert names == [
        f"{es_prefix}events-azure.firewall-2025.06.09",
        f"{es_prefix}events-azure.signinlogs-2025.06.09",
        f"{es_prefix}events-azure.signinlogs-2025.06.10",
    ]
    again = store.append(table)
    assert (again.stored, again.duplicates) == (0, 4)
    assert store.count() == 3 and store.count(["azure.firewall"]) == 1


def test_results_have_the_embedded_stores_types(store, tmp_path):
    embedded = EmbeddedStore(tmp_path / "embedded")
    table = event_table([{"@timestamp": T0, "event.id": "one", "source.port": 443, "user.name": "x"}], PORT)
    store.append(table), embedded.append(table)
    wanted = ["source.port", "user.name", "event.ingested", "no.such.column"]
    got = store.search(["test.events"], T0, T0 + timedelta(seconds=1), "*", wanted)
    want = embedded.search(["test.events"], T0, T0 + timedelta(seconds=1), "true", wanted)
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()
    assert got.column("no.such.column").to_pylist() == [None]
    assert {k: v for k, v in store.columns().items() if k in table.column_names} == embedded.columns()


def test_a_lucene_query_filters_and_an_empty_window_is_empty(store):
    store.append(
        event_table(
            [
                {"@timestamp": T0, "event.id": "1", "user.name": "Alice@Westbrook-DC.gov.uk"},
                {"@timestamp": T0, "event.id": "2", "user.name": "bob@westbrook-dc.gov.uk"},
            ]
        )
    )
    window = (T0, T0 + timedelta(seconds=1))
    assert ids(store.search(["test.events"], *window, "user.name:alice@westbrook\\-dc.gov.uk")) == ["1"]
    assert ids(store.search(["test.events"], *window, "user.name:*westbrook\\-dc.gov.uk")) == ["1", "2"]
    assert ids(store.search(["test.events"], *window, "NOT user.name:bob*")) == ["1"]
    assert store.search(["no.such.dataset"], *window).num_rows == 0
    assert store.search(["test.events"], T0 - timedelta(days=9), T0 - timedelta(days=8)).num_rows == 0


def test_a_fresh_store_is_empty_not_an_error(store):
    assert store.count() == 0
    assert store.datasets() == {}
    assert store.time_range() is None
    assert store.columns() == {}
    assert store.search(["test.events"], T0, T0 + timedelta(days=1)).num_rows == 0


# -- alerts and retention --------------------------------------------------------------------------


def _mirrored(client, es_prefix) -> list[tuple[str, int, str, int]]:
    found = client.search(index=f"{es_prefix}alerts", query={"match_all": {}})["hits"]["hits"]
    return [(h["_id"], h["_source"]["event_count"], h["_source"]["status"], h["_source"]["sequence"]) for h in found]


def test_alerts_are_mirrored_once_by_id_as_the_state_database_keeps_them(store, client, es_prefix):
    alert = Alert.build(
        "rule-1",
        "Password spray",
        "high",
        ["attack.t1110"],
        {"source.ip": "203.0.113.9"},
        T0,
        T0,
        T0 + timedelta(microseconds=5),
        ["a", "b"],
    )
    store.alerts.save_run([alert])
    assert _mirrored(client, es_prefix) == [(alert.id, 2, "new", 1)]
    found = client.search(index=f"{es_prefix}alerts", query={"term": {"severity": "high"}})["hits"]["hits"]
    assert found[0]["_source"]["last_seen"] == "2025-06-09T23:59:59.998005+00:00"

    alert.event_ids = ["b", "c"]  # a later sighting: merged into the stored alert, then mirrored
    store.alerts.save_run([alert])
    assert _mirrored(client, es_prefix) == [(alert.id, 3, "new", 2)]
    store.alerts.set_status(alert.id, "closed", "analyst@council", reason="benign")
    assert _mirrored(client, es_prefix) == [(alert.id, 3, "closed", 3)]


def test_the_alerts_index_says_who_each_alert_is_assigned_to(store, client, es_prefix):
    alert = Alert.build("rule-1", "Spray", "high", [], {"source.ip": "x"}, T0, T0, T0, ["a"])
    store.alerts.save_run([alert])
    store.alerts.assign(alert.id, "sam", "priya")
    store.alerts.set_status(alert.id, "acknowledged", "sam")  # a later change keeps the assignee
    found = client.search(index=f"{es_prefix}alerts", query={"term": {"assignee": "sam"}})["hits"]["hits"]
    assert [(hit["_id"], hit["_source"]["status"]) for hit in found] == [(alert.id, "acknowledged")]
    store.alerts.assign(alert.id, None, "priya")
    client.indices.refresh(index=f"{es_prefix}alerts")
    [hit] = client.search(index=f"{es_prefix}alerts", query={"match_all": {}})["hits"]["hits"]
    assert hit["_source"]["assignee"] is None


def test_an_older_copy_reaching_the_alerts_index_late_never_replaces_a_newer_one(store, client, es_prefix):
    """Two processes (the daemon's detection run, an analyst's status change) commit in one order
    and may publish in the other: the index keeps the copy of the later change."""
    alert = Alert.build("rule-1", "Spray", "high", [], {"source.ip": "x"}, T0, T0, T0, ["a"])
    store.alerts.save_run([alert])
    stale = store.alerts.get(alert.id)
    store.alerts.set_status(alert.id, "acknowledged", "analyst@council")
    store.alerts_index.publish([stale])  # the first change, arriving after the second
    assert _mirrored(client, es_prefix) == [(alert.id, 1, "acknowledged", 2)]


def test_a_copy_written_before_alerts_had_sequences_is_replaced(store, client, es_prefix):
    alert = Alert.build("rule-1", "Spray", "high", [], {"source.ip": "x"}, T0, T0, T0, ["a"])
    store.alerts_index.ensure_template()
    for _ in range(3):  # the old publisher: internal versions, one per rerun
        client.index(index=f"{es_prefix}alerts", id=alert.id, document={**alert.to_dict(), "event_count": 99})
    store.alerts.save_run([alert])
    client.indices.refresh(index=f"{es_prefix}alerts")
    assert _mirrored(client, es_prefix) == [(alert.id, 1, "new", 1)]


def test_retention_deletes_the_days_older_than_n_days_and_nothing_newer(store, client, es_prefix):
    day = datetime(2025, 6, 1, 12, tzinfo=UTC)
    store.append(
        event_table([{"@timestamp": day + timedelta(days=offset), "event.id": f"d{offset}"} for offset in range(5)])
    )
    now = datetime(2025, 6, 6, 0, 0, tzinfo=UTC)  # three days ago is 2025-06-03 00:00
    deleted = store.delete_older_than(3, now=now)
    assert deleted == [f"{es_prefix}events-test.events-2025.06.01", f"{es_prefix}events-test.events-2025.06.02"]
    assert sorted(ids(store.search(["test.events"], day, day + timedelta(days=9)))) == ["d2", "d3", "d4"]
    assert store.delete_older_than(3, now=now) == []
    with pytest.raises(ValueError, match="days must be 1 or more"):
        store.delete_older_than(0)
