"""``Store.alert_groups`` gives the same answer on both stores, and the answer a person expects.

A flood of matches must become at most the cap of new alerts plus the open alerts it joins, with
the rest counted, and the store must do the grouping itself. What a person sees depends on the
answer being exact: which groups are kept (the earliest first seen, then the entity values), each
kept group's count, first and last seen and its sample of event ids (the first by time and id),
how many groups were held back, and how many events matched or were excepted. The stores are
held to a plain Python reference of that grouping and cap, over hypothesis-drawn event sets that
stress ties in time, letter case in ids and values, missing and empty values, spans cut by the
run's start and exceptions of one and two fields.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from collectors.formats import azure_firewall
from collectors.formats.signins import signin_schema
from store.alert_groups import order_key
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from store.epoch import to_micros
from store.protocol import AlertGroupQuery, KnownGroup
from tests.rules.test_es_sigma_semantics import remove_indices

SIGNINS = "azure.signinlogs"
FIREWALL = "azure.firewall"
USERS = ["alice@council.gov.uk", "Alice@council.gov.uk", "bob", "", "zoë"]
ADDRESSES = ["10.0.0.1", "2001:db8::1", "198.51.100.7", ""]
IDS = ["a", "B", "b", "c-1", "C-1", "z"]
SPAN = timedelta(minutes=10)
FIRST_WINDOW = datetime(2025, 3, 3, tzinfo=UTC)
STRIDE = timedelta(hours=2)
_windows = itertools.count()


@pytest.fixture
def client(elastic_url, es_prefix):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    remove_indices(connection, es_prefix)
    connection.close()


@pytest.fixture
def stores(client, es_prefix, tmp_path):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    return EmbeddedStore(root / "embedded"), ElasticStore(client, root / "elastic", prefix=es_prefix)


# -- the reference: the grouping and the cap, in plain Python -------------------------------------


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def reference(events: list[dict], asked: AlertGroupQuery) -> dict:
    width, since, end = asked.span_micros, to_micros(asked.since), to_micros(asked.end)
    start = since // width * width

    def excepted(event) -> bool:
        return any(all(_text(event.get(name)) in values for name, values in where) for where in asked.exceptions)

    seen = [e for e in events if start <= to_micros(e["@timestamp"]) < end]
    recent = [e for e in seen if to_micros(e["@timestamp"]) >= since]
    groups: dict[tuple, list[dict]] = {}
    for event in (e for e in seen if not excepted(e)):
        keys = tuple(_text(event.get(name)) for name in asked.entity)
        groups.setdefault((keys, to_micros(event["@timestamp"]) // width * width), []).append(event)
    known = {(group.keys, to_micros(group.window_start)) for group in asked.known}
    rows = []
    for (keys, window), members in groups.items():
        times = sorted((to_micros(e["@timestamp"]), e["event.id"]) for e in members)
        if times[-1][0] < since:
            continue
        rows.append(
            {
                **{f"k{i}": value for i, value in enumerate(keys)},
                "window_start": window,
                "first_seen": times[0][0],
                "last_seen": times[-1][0],
                "event_count": len(members),
                "event_ids": [event_id for _, event_id in times[: asked.sample]],
                "known": (keys, window) in known,
            }
        )
    rows.sort(key=lambda r: order_key(r["first_seen"], [r[f"k{i}"] for i in range(len(asked.entity))]))
    kept, fresh = [], 0
    for row in rows:
        if row["known"] or fresh < asked.max_new:
            fresh += not row["known"]
            kept.append(row)
    return {
        "rows": kept,
        "groups": len(rows),
        "matched": sum(not excepted(e) for e in recent),
        "excepted": sum(excepted(e) for e in recent),
    }


def answer(store, asked: AlertGroupQuery) -> dict:
    found = store.alert_groups(asked)
    rows = []
    for row in found.rows.to_pylist():
        for name in ("window_start", "first_seen", "last_seen"):
            row[name] = to_micros(row[name])
        rows.append(row)
    return {"rows": rows, "groups": found.groups, "matched": found.matched, "excepted": found.excepted}


# -- events ---------------------------------------------------------------------------------------


def signin_table(events: list[dict]) -> pa.Table:
    return _table(events, signin_schema.COLUMNS, SIGNINS)


def firewall_table(events: list[dict]) -> pa.Table:
    return _table(events, azure_firewall.COLUMNS, FIREWALL)


def _table(events: list[dict], columns: dict, dataset: str) -> pa.Table:
    filled = [
        {"event.dataset": dataset, "event.original": "{}", "event.ingested": e["@timestamp"], **e} for e in events
    ]
    return pa.table({name: pa.array([e.get(name) for e in filled], kind) for name, kind in columns.items()})


@st.composite
def signin_events(draw, start: datetime) -> list[dict]:
    """Sign-ins over five spans; few distinct instants, so ties in time are common."""
    instants = draw(st.lists(st.integers(0, 5 * SPAN // timedelta(microseconds=1) - 1), min_size=1, max_size=8))
    count = draw(st.integers(1, 40))
    ids = draw(st.lists(st.sampled_from(IDS), min_size=count, max_size=count))
    return [
        {
            "@timestamp": start + timedelta(microseconds=draw(st.sampled_from(instants))),
            "event.id": f"{event_id}-{start:%d%H}-{position}",  # unique; the case of its start varies
            "user.name": draw(st.none() | st.sampled_from(USERS)),
            "source.ip": draw(st.none() | st.sampled_from(ADDRESSES)),
        }
        for position, event_id in enumerate(ids)
    ]


@st.composite
def exceptions(draw) -> tuple:
    one = (("user.name", tuple(draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=2)))),)
    two = (*one, ("source.ip", tuple(draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2)))))
    return tuple(draw(st.lists(st.sampled_from([one, two]), max_size=2)))


def known_groups(draw, expected: dict, start: datetime) -> tuple[KnownGroup, ...]:
    """Some of the groups the reference finds, and one no event makes."""
    rows = expected["rows"]
    picked = draw(st.lists(st.sampled_from(rows), max_size=3)) if rows else []
    known = [
        KnownGroup((row["k0"], row["k1"]), start + timedelta(microseconds=row["window_start"] - to_micros(start)))
        for row in picked
    ]
    return (*dict.fromkeys(known), KnownGroup(("nobody", None), start))


# -- the tests ------------------------------------------------------------------------------------


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_both_stores_group_and_cap_as_the_reference_does(stores, data):
    """Not shrunk (Phase.shrink is off): each example costs a round of requests to a real node;
    a failure prints the events and the request as drawn."""
    start = FIRST_WINDOW + STRIDE * next(_windows)
    events = data.draw(signin_events(start))
    for store in stores:
        store.append(signin_table(events))
    since = start + timedelta(microseconds=data.draw(st.integers(0, 3 * SPAN // timedelta(microseconds=1))))
    end = since + timedelta(microseconds=data.draw(st.integers(1, 4 * SPAN // timedelta(microseconds=1))))
    asked = AlertGroupQuery(
        datasets=(SIGNINS,),
        query=None,
        entity=("user.name", "source.ip"),
        span=SPAN,
        since=since,
        end=end,
        exceptions=data.draw(exceptions()),
        max_new=data.draw(st.integers(0, 4)),
        sample=3,
    )
    # Known groups are drawn from what the reference finds without them.
    asked = replace(asked, known=known_groups(data.draw, reference(events, asked), start))
    expected = reference(events, asked)
    embedded, elastic = (answer(store, asked) for store in stores)
    assert embedded == expected
    assert elastic == expected


def test_a_flood_comes_back_as_the_cap_and_the_known_groups_with_the_rest_counted(stores):
    """1,000 users each signing in: the earliest three new groups, every known one, 1,000 counted."""
    start = FIRST_WINDOW + STRIDE * next(_windows)
    events = [
        {"@timestamp": start + timedelta(seconds=i), "event.id": f"flood-{i:04d}", "user.name": f"user{i:04d}"}
        for i in range(1000)
    ]
    late = KnownGroup(("user0900", None), start)
    asked = AlertGroupQuery((SIGNINS,), None, ("user.name", "source.ip"), timedelta(hours=1), start, start + SPAN * 6)
    asked = replace(asked, known=(late,), max_new=3)
    for store in stores:
        store.append(signin_table(events))
        found = store.alert_groups(asked)
        assert (found.groups, found.matched, found.excepted, found.known) == (1000, 1000, 0, 1)
        assert found.rows.column("k0").to_pylist() == ["user0000", "user0001", "user0002", "user0900"]
        assert found.rows.column("known").to_pylist() == [False, False, False, True]


def test_numbers_group_and_are_excepted_as_their_text_on_both_stores(stores):
    """A firewall rule grouped by port: keys read ``443`` on both stores, an exception of port 80
    (written as text) takes those events out on both."""
    start = FIRST_WINDOW + STRIDE * next(_windows)
    events = [
        {"@timestamp": start + timedelta(seconds=i), "event.id": f"fw-{i}", "destination.port": port}
        for i, port in enumerate([443, 80, 443, None, 8080, 80])
    ]
    asked = AlertGroupQuery(
        (FIREWALL,),
        None,
        ("destination.port",),
        SPAN,
        start,
        start + SPAN,
        exceptions=((("destination.port", ("80",)),),),
    )
    expected = reference(events, asked)
    assert [row["k0"] for row in expected["rows"]] == ["443", None, "8080"]
    for store in stores:
        store.append(firewall_table(events))
        assert answer(store, asked) == expected
