"""A count correlation reads only the groups that can pass, and finds the same alerts.

On both stores (embedded, and a real Elasticsearch node): ``Store.reaching`` names exactly the
groups whose events reach a count or a distinct count (a missing group value is a group too),
``search``'s ``keep`` returns exactly those groups' events, the engine hands its correlation only
candidate groups' events, and — over generated sign-ins with missing users and countries and two
base rules — a run with pruning raises the same alerts, with the same counts, as a run without.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import detections.engine as engine
from detections import run_detections
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from store.protocol import ReachingQuery
from tests.support.events_factory import event_table

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
DATASET = "azure.signinlogs"
CODE = "azure.signinlogs.properties.status.error_code"
COUNTRY = "source.geo.country_iso_code"
TYPES = {CODE: pa.int64(), "user.name": pa.string(), COUNTRY: pa.string()}

RULES = """
title: Signed In
id: 5b0e0000-0000-4000-8000-000000000001
name: signed_in
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 0}
  condition: selection
level: low
tags: [attack.t1078.004]
---
title: Wrong Password
id: 5b0e0000-0000-4000-8000-000000000002
name: wrong_password
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 50126}
  condition: selection
level: low
tags: [attack.t1110.001]
---
title: MFA Denied
id: 5b0e0000-0000-4000-8000-000000000005
name: mfa_denied
logsource: {product: azure, service: signinlogs}
detection:
  selection: {azure.signinlogs.properties.status.error_code: 500121}
  condition: selection
level: low
tags: [attack.t1621]
---
title: Two Countries
id: 5b0e0000-0000-4000-8000-000000000003
correlation:
  type: value_count
  rules: [signed_in]
  group-by: [user.name]
  timespan: 1h
  condition: {gte: 2, field: source.geo.country_iso_code}
level: high
tags: [attack.initial-access]
---
title: Busy Account
id: 5b0e0000-0000-4000-8000-000000000004
correlation:
  type: event_count
  rules: [wrong_password, mfa_denied]
  group-by: [user.name, source.geo.country_iso_code]
  timespan: 30m
  condition: {gte: 4}
level: medium
tags: [attack.credential-access]
"""


def signin(n: int, minute: float, user: str | None, country: str | None, code: int = 0) -> dict:
    return {
        "@timestamp": T0 + timedelta(minutes=minute),
        "event.id": f"s-{n}",
        "event.dataset": DATASET,
        "user.name": user,
        COUNTRY: country,
        CODE: code,
    }


@pytest.fixture
def client(elastic_url):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    connection.close()


@pytest.fixture(params=["embedded", "elastic"])
def store(request, tmp_path):
    if request.param == "embedded":
        opened = EmbeddedStore(tmp_path / "embedded")
    else:
        url, prefix = request.getfixturevalue("elastic_url"), request.getfixturevalue("es_prefix")
        opened = ElasticStore(Elasticsearch(url, request_timeout=120), tmp_path / "elastic", prefix=prefix)
    yield opened
    opened.close()


def _asked(at_least: int, distinct: str | None, group_by=("user.name",), limit: int = 100) -> ReachingQuery:
    return ReachingQuery(
        datasets=(DATASET,),
        query=None,
        start=T0,
        end=T0 + timedelta(hours=1),
        group_by=group_by,
        at_least=at_least,
        distinct=distinct,
        limit=limit,
    )


FEW = [
    signin(1, 1, "ann", "GB"),
    signin(2, 2, "ann", "FR"),
    signin(3, 3, "bob", "GB"),
    signin(4, 4, "bob", "GB"),
    signin(5, 5, "bob", "GB"),
    signin(6, 6, None, "GB"),
    signin(7, 7, None, "DE"),
    signin(8, 8, "cy", None),
    signin(9, 9, "cy", None),
    signin(10, 70, "dee", "GB"),  # after the window asked about
    signin(11, 71, "dee", "US"),
]


def test_reaching_names_the_groups_that_reach_a_distinct_count_missing_keys_included(store):
    store.append(event_table(FEW, TYPES))
    # Two countries: ann and the sign-ins without a user; bob has one, cy none (missing values
    # are not values), dee's are outside [start, end).
    assert sorted(store.reaching(_asked(2, COUNTRY)), key=str) == [("ann",), (None,)]
    # Three events: bob only.
    assert store.reaching(_asked(3, None)) == [("bob",)]
    # Two events by (user, country): bob/GB and cy with no country.
    assert sorted(store.reaching(_asked(2, None, ("user.name", COUNTRY))), key=str) == [("bob", "GB"), ("cy", None)]
    # More groups than the limit: no answer, so the caller searches everything.
    assert store.reaching(_asked(1, None, limit=3)) is None


def test_search_keeps_only_the_named_groups_and_finds_a_missing_value_by_none(store):
    store.append(event_table(FEW, TYPES))
    window = (T0, T0 + timedelta(hours=2))
    kept = store.search([DATASET], *window, columns=["user.name"], keep={"user.name": ["ann", None]})
    assert kept.column("event.id").to_pylist() == ["s-1", "s-2", "s-6", "s-7"]
    kept = store.search([DATASET], *window, columns=[COUNTRY], keep={"user.name": ["cy"], COUNTRY: [None]})
    assert kept.column("event.id").to_pylist() == ["s-8", "s-9"]
    assert store.search([DATASET], *window, keep={"user.name": []}).num_rows == 0
    # A field no event has: only None keeps anything.
    assert store.search([DATASET], *window, keep={"no.such.field": [None]}).num_rows == 11
    assert store.search([DATASET], *window, keep={"no.such.field": ["x"]}).num_rows == 0


class _Recording:
    """The real store, with what the engine asked of it and got back written down."""

    def __init__(self, inner):
        self._inner = inner
        self.reached: list[list | None] = []
        self.searched: list[pa.Table] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def reaching(self, asked):
        answer = self._inner.reaching(asked)
        self.reached.append(answer)
        return answer

    def search(self, *args, **kwargs):
        found = self._inner.search(*args, **kwargs)
        self.searched.append(found)
        return found


def test_a_correlation_reads_only_candidate_groups_and_reports_unpruned_counts(store, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yml").write_text(RULES)
    events = [signin(100 + i, i * 0.5, f"quiet{i}", "GB") for i in range(40)]  # one sign-in each
    events += [signin(200, 10, "ann", "GB"), signin(201, 20, "ann", "FR")]
    events += [signin(300 + i, 30 + i, "mo", "GB", code=50126) for i in range(3)]
    events += [signin(400, 34, "mo", "GB", code=500121), signin(401, 35, "ann", "FR", code=500121)]
    store.append(event_table(events, TYPES))
    recording = _Recording(store)
    report = run_detections(recording, [rules], T0, T0 + timedelta(hours=1))

    assert report.ok
    # Two countries (ann), and four events of one user and country over two rules: the bound
    # per rule is 2, which mo reaches in one of them, and ann/FR in neither.
    assert sorted(recording.reached, key=str) == [[("ann",)], [("mo", "GB")], []]
    users = {user for table in recording.searched for user in table.column("user.name").to_pylist()}
    assert users == {"ann", "mo"}  # not one of the forty quiet users' events was read
    assert sorted((a.rule_title, tuple(a.group_keys.values())) for a in report.alerts) == [
        ("Busy Account", ("mo", "GB")),
        ("Two Countries", ("ann",)),
    ]
    matched = {r.title: r.matched for r in report.rules}
    # What was counted, not what was read (ann's denied MFA prompt was not read).
    assert matched == {"Signed In": 42, "Wrong Password": 3, "MFA Denied": 2, "Two Countries": 42, "Busy Account": 5}


# -- with and without pruning, over generated events ---------------------------------------------

_windows = itertools.count()


@st.composite
def signins(draw, start: datetime) -> pa.Table:
    count = draw(st.integers(1, 40))
    rows = []
    for n in range(count):
        rows.append(
            {
                "@timestamp": start + timedelta(minutes=draw(st.integers(0, 150))),
                "event.id": f"g-{n}",
                "event.dataset": DATASET,
                "user.name": draw(st.sampled_from(["ann", "bob", "Bob", None])),
                COUNTRY: draw(st.sampled_from(["GB", "FR", "DE", None])),
                CODE: draw(st.sampled_from([0, 0, 50126, 500121])),
            }
        )
    return event_table(rows, TYPES)


def _outcome(report) -> dict:
    return {
        "alerts": sorted(report.alerts, key=lambda alert: alert.id),
        "rules": sorted((r.rule_id, r.status, r.matched, r.alerts, r.excepted, r.error) for r in report.rules),
    }


def _both_ways(open_store, table: pa.Table, rules: Path, start: datetime, monkeypatch) -> tuple[dict, dict]:
    """One run with pruning and one without, each on a store with its own state over the same events."""
    pruned, whole = open_store("pruned"), open_store("whole")
    pruned.append(table)
    if isinstance(whole, EmbeddedStore):
        whole.append(table)
    end = start + timedelta(hours=2)
    with_pruning = _outcome(run_detections(pruned, [rules], start, end))
    with monkeypatch.context() as patched:
        patched.setattr(engine, "PRUNE_LIMIT", -1)  # every answer is "too many": search everything
        without = _outcome(run_detections(whole, [rules], start, end))
    for opened in (pruned, whole):
        if isinstance(opened, EmbeddedStore):  # an ElasticStore would close the shared client
            opened.close()
    return with_pruning, without


SETTINGS = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_pruning_changes_nothing_on_the_embedded_store(tmp_path, monkeypatch, data):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "rules.yml").write_text(RULES)
    table = data.draw(signins(T0))
    pruned, whole = _both_ways(lambda name: EmbeddedStore(root / name), table, root, T0, monkeypatch)
    assert pruned == whole


@settings(SETTINGS, max_examples=8)
@given(data=st.data())
def test_pruning_changes_nothing_on_elasticsearch(client, es_prefix, tmp_path, monkeypatch, data):
    """Both stores share the node's indices (the events), each with its own state beside them."""
    start = T0 + timedelta(days=1 + next(_windows))
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "rules.yml").write_text(RULES)
    table = data.draw(signins(start))
    pruned, whole = _both_ways(
        lambda name: ElasticStore(client, root / name, prefix=es_prefix), table, root, start, monkeypatch
    )
    assert pruned == whole
