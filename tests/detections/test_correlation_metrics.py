"""Metric correlations (value_sum, value_avg, value_percentile) and range conditions (issue 11,
point 4), checked against a brute-force reference as tests/detections/test_correlate.py checks the counts.

The reference takes every event as a possible window start, computes the metric over the numbers
in the window (text that is not a number left out) and applies the greedy choice the module
describes. Windows must match the reference at every timespan and horizon, and the same windows
must be found when the events are seen by two runs that split a window. Then the same rules run
from rule files on both stores.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from elasticsearch import Elasticsearch
from hypothesis import given, settings
from hypothesis import strategies as st

from detections import run_detections
from detections.correlate import Condition, Correlation, UnsupportedCorrelation, find_windows, parse_condition
from detections.loader import load_rules
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from tests.rules.test_es_sigma_semantics import remove_indices
from tests.support.events_factory import event_table

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
METRICS = ["value_sum", "value_avg", "value_percentile"]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def table(events: list[dict]) -> pa.Table:
    """events: dicts with minute, id, user and value (text, as the engine hands fields over)."""
    return pa.table(
        {
            "@timestamp": pa.array([at(e["minute"]) for e in events], pa.timestamp("us", tz="UTC")),
            "event.id": pa.array([e["id"] for e in events], pa.string()),
            "user.name": pa.array([e.get("user") for e in events], pa.string()),
            "bytes": pa.array([e.get("value") for e in events], pa.string()),
        }
    )


def metric_correlation(kind: str, condition: Condition, span: int, percentile: float | None = None) -> Correlation:
    return Correlation(
        rule_id="m",
        title="m",
        kind=kind,
        rules=("base",),
        timespan=timedelta(minutes=span),
        group_by=("user.name",),
        condition=condition,
        value_field="bytes" if kind != "event_count" else None,
        percentile=percentile if kind == "value_percentile" else None,
    )


# -- the reference -------------------------------------------------------------------------------


def number(text: str | None) -> float | None:
    """What counts as a number: sign, digits, an optional fraction (as rules' |gt reads text)."""
    if text is None:
        return None
    body = text[1:] if text[:1] in "+-" else text
    whole, _, fraction = body.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or body.endswith("."):
        return None
    return float(text)


def percentile_of(values: list[float], p: float) -> float:
    """Linear interpolation between the nearest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def metric(correlation: Correlation, window: list[dict]) -> float | None:
    if correlation.kind == "event_count":
        return len(window)
    if correlation.kind == "value_count":
        return len({e["value"] for e in window if e.get("value") is not None})
    numbers = [n for n in (number(e.get("value")) for e in window) if n is not None]
    if not numbers:
        return None  # nothing measured: no condition holds
    if correlation.kind == "value_sum":
        return sum(numbers)
    if correlation.kind == "value_avg":
        return sum(numbers) / len(numbers)
    return percentile_of(numbers, correlation.percentile or 0)


def reference_windows(correlation: Correlation, events: list[dict], horizon: datetime | None = None):
    span = correlation.timespan
    chosen = []
    for group in sorted({e["user"] for e in events if e.get("user") is not None}):
        members = sorted((e for e in events if e.get("user") == group), key=lambda e: (e["minute"], e["id"]))
        consumed = None
        for start in sorted({at(e["minute"]) for e in members}):
            if consumed is not None and start <= consumed:
                continue
            window = [e for e in members if start <= at(e["minute"]) <= start + span]
            complete = correlation.grows_with_events or horizon is None or start + span < horizon
            if complete and correlation.counted.holds(metric(correlation, window)):
                end = max(at(e["minute"]) for e in window)
                bad = sum(1 for e in window if e.get("value") is not None and number(e["value"]) is None)
                bad = bad if correlation.kind in METRICS else 0
                chosen.append(((group,), start, end, tuple(e["id"] for e in window), bad))
                consumed = end
    return chosen


# -- strategies ----------------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.integers(-5, 20).map(str),
    st.sampled_from(["2.5", "-0.5", "n/a", "1e3", "", "0x10", "7."]),  # the last five are not numbers
)
event_lists = st.lists(
    st.fixed_dictionaries(
        {"minute": st.integers(0, 120), "user": st.sampled_from(["alice", "bob", None]), "value": values}
    ),
    max_size=40,
).map(lambda rows: [dict(row, id=f"e{i:03d}") for i, row in enumerate(rows)])

limits = st.one_of(st.integers(-5, 40), st.integers(-10, 80).map(lambda n: n / 2))
single = st.builds(Condition, op=st.sampled_from(["gt", "gte", "lt", "lte", "eq", "neq"]), count=limits)
ranged = st.builds(
    lambda low_op, low, high_op, width: Condition(low_op, low, (high_op, low + width)),
    st.sampled_from(["gt", "gte"]),
    limits,
    st.sampled_from(["lt", "lte"]),
    st.integers(0, 20),
)
correlations = st.builds(
    metric_correlation,
    kind=st.sampled_from([*METRICS, "event_count", "value_count"]),
    condition=st.one_of(single, ranged),
    span=st.integers(1, 30),
    percentile=st.sampled_from([0, 25, 50, 75, 100]),
)


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(events=event_lists, correlation=correlations)
def test_metric_and_range_windows_are_the_greedy_scan_of_the_reference(events, correlation):
    found = find_windows(correlation, table(events)) if events else []
    assert [(w.group, w.start, w.end, w.event_ids, w.not_numbers) for w in found] == reference_windows(
        correlation, events
    )


@settings(max_examples=150, deadline=None)
@given(events=event_lists, correlation=correlations, horizon=st.integers(0, 150))
def test_a_metric_or_range_window_cut_by_the_horizon_waits_until_it_is_complete(events, correlation, horizon):
    found = find_windows(correlation, table(events), horizon=at(horizon)) if events else []
    expected = reference_windows(correlation, events, horizon=at(horizon))
    assert [(w.group, w.start, w.end) for w in found] == [(g, s, e) for g, s, e, _, _ in expected]


@settings(max_examples=150, deadline=None)
@given(events=event_lists, correlation=correlations, cut=st.integers(1, 121))
def test_two_runs_that_split_a_window_find_the_windows_of_one_run(events, correlation, cut):
    """Run 1 knows the events before the cut (its horizon); run 2 rescans from one timespan
    before the cut, resuming after the windows run 1 found that began before that."""
    full = {(w.group, w.start) for w in find_windows(correlation, table(events))} if events else set()
    cut_at = at(cut)
    first_events = [e for e in events if at(e["minute"]) < cut_at]
    first = find_windows(correlation, table(first_events), horizon=cut_at) if first_events else []
    scan_start = cut_at - correlation.timespan
    resume: dict = {}
    for w in first:
        if w.start < scan_start and w.end >= scan_start:
            resume[w.group] = max(resume.get(w.group, w.end), w.end)
    second_events = [e for e in events if at(e["minute"]) >= scan_start]
    second = find_windows(correlation, table(second_events), resume_after=resume) if second_events else []
    assert {(w.group, w.start) for w in first} | {(w.group, w.start) for w in second} == full


# -- window edges --------------------------------------------------------------------------------


def rows(*pairs: tuple[float, str]) -> pa.Table:
    return table([{"minute": m, "id": f"e{i}", "user": "alice", "value": v} for i, (m, v) in enumerate(pairs)])


def test_a_sum_counts_an_event_exactly_at_the_end_of_the_timespan_and_not_one_after():
    total = metric_correlation("value_sum", Condition("gte", 100), span=10)
    [window] = find_windows(total, rows((0, "60"), (10, "40")))
    assert window.event_ids == ("e0", "e1")
    late = rows((0, "60"), (10 + 1 / 60_000_000, "40"))  # one microsecond past the timespan
    assert find_windows(total, late) == []


def test_an_average_in_a_range_is_judged_only_once_its_window_is_complete():
    """Average 5 at minute 3 is inside 4..6, but a value still to come can move it out: the
    window is not judged while the horizon cuts it; once complete, it is."""
    average = metric_correlation("value_avg", Condition("gte", 4, ("lte", 6)), span=10)
    events = rows((0, "4"), (3, "6"))
    assert find_windows(average, events, horizon=at(5)) == []
    [window] = find_windows(average, events, horizon=at(11))
    assert (window.start, window.end) == (at(0), at(3))
    assert find_windows(average, rows((0, "4"), (3, "6"), (8, "100")), horizon=at(11)) == []


def test_an_upper_bound_on_a_count_waits_for_the_window_as_a_range_does():
    quiet = metric_correlation("event_count", Condition("gte", 2, ("lte", 3)), span=10)
    events = rows((0, "1"), (2, "1"))
    assert find_windows(quiet, events, horizon=at(5)) == []
    assert len(find_windows(quiet, events, horizon=at(11))) == 1
    # four events from minute 0 are too many; the window from minute 1 holds three
    [window] = find_windows(quiet, rows((0, "1"), (1, "1"), (2, "1"), (3, "1")), horizon=at(20))
    assert (window.start, window.end, window.event_ids) == (at(1), at(3), ("e1", "e2", "e3"))


def test_a_value_that_is_not_a_number_is_left_out_and_counted():
    average = metric_correlation("value_avg", Condition("gte", 10), span=10)
    [window] = find_windows(average, rows((0, "12"), (1, "n/a"), (2, "8.5e2x"), (3, "10")))
    assert window.event_ids == ("e0", "e1", "e2", "e3")  # all of them are the window's events
    assert window.not_numbers == 2  # ... and two of them were not in the average


def test_a_window_without_a_single_number_satisfies_no_metric():
    low = metric_correlation("value_sum", Condition("lt", 5), span=10)
    assert find_windows(low, rows((0, "n/a"), (1, None))) == []


def test_a_percentile_interpolates_between_the_nearest_values():
    # From minute 0 the 90th percentile of 10..40, 100 is 40 + 0.6 * 60 = 76; later windows lack the 100.
    events = rows((0, "100"), (1, "40"), (2, "30"), (3, "20"), (4, "10"))
    assert find_windows(metric_correlation("value_percentile", Condition("gt", 76), 10, 90), events) == []
    [window] = find_windows(metric_correlation("value_percentile", Condition("gte", 76), 10, 90), events)
    assert window.start == at(0) and window.count == 5


# -- conditions as written -----------------------------------------------------------------------


def test_a_condition_is_read_with_its_range_and_fractions():
    assert parse_condition({"field": "bytes", "gte": 2.5, "lt": "10"}) == (
        Condition("gte", 2.5, ("lt", 10)),
        "bytes",
        None,
    )
    assert parse_condition({"field": "b", "lte": 20, "gt": 10, "percentile": 95}) == (
        Condition("gt", 10, ("lte", 20)),
        "b",
        95,
    )


@pytest.mark.parametrize(
    "written, complaint",
    [
        ({"gte": 1, "gt": 2}, "one lower bound"),
        ({"eq": 1, "lte": 2}, "one lower bound"),
        ({"gte": "many"}, "'many' is not a number"),
        ({"gte": float("nan")}, "not a finite number"),
        ({"field": "x"}, "needs one of"),
        ({"gte": 1, "above": 2}, "unknown items: above"),
    ],
)
def test_a_condition_that_means_nothing_is_refused_with_the_reason(written, complaint):
    with pytest.raises(UnsupportedCorrelation, match=complaint):
        parse_condition(written)


def test_a_percentile_needs_its_percentile_between_0_and_100():
    with pytest.raises(UnsupportedCorrelation, match="needs a percentile"):
        metric_correlation("value_percentile", Condition("gte", 1), 10, percentile=None)
    with pytest.raises(UnsupportedCorrelation, match="between 0 and 100"):
        metric_correlation("value_percentile", Condition("gte", 1), 10, percentile=101)


# -- from rule files, on both stores ---------------------------------------------------------------

FORTIGATE_RULES = """
title: Accepted FortiGate traffic
id: 7b2e0000-0000-4000-8000-000000000001
name: fortigate_accept
logsource: {product: fortigate}
detection:
  selection: {action: accept}
  condition: selection
level: low
---
title: Large upload from one address
id: 7b2e0000-0000-4000-8000-000000000002
correlation:
  type: value_sum
  rules: [fortigate_accept]
  group-by: [srcip]
  timespan: 1h
  condition: {field: sentbyte, gte: 1000000}
level: high
---
title: Steady mid-size sessions
id: 7b2e0000-0000-4000-8000-000000000003
correlation:
  type: value_avg
  rules: [fortigate_accept]
  group-by: [srcip]
  timespan: 1h
  condition: {field: sentbyte, gte: 1500.5, lte: 2500}
level: medium
---
title: Slow tail
id: 7b2e0000-0000-4000-8000-000000000004
correlation:
  type: value_percentile
  rules: [fortigate_accept]
  group-by: [srcip]
  timespan: 1h
  condition: {field: duration, percentile: 95, gt: 500}
level: medium
"""


def fortigate(n: int, minute: float, src: str, sent: str, duration: str = "1", action: str = "accept") -> dict:
    return {
        "@timestamp": T0 + timedelta(minutes=minute),
        "event.id": f"fg-{n}",
        "event.dataset": "fortinet.firewall",
        "fortinet.firewall.action": action,
        "fortinet.firewall.srcip": src,
        "fortinet.firewall.sentbyte": sent,  # FortiGate keys are kept as sent: text
        "fortinet.firewall.duration": duration,
    }


def fortigate_events() -> list[dict]:
    uploads = [fortigate(i, 5 + i, "198.51.100.7", "400000") for i in range(3)]  # 1.2 MB in 3 minutes
    uploads.append(fortigate(3, 9, "198.51.100.7", "n/a"))  # a record without a byte count
    uploads.append(fortigate(4, 10, "198.51.100.7", "900000", action="deny"))  # not accepted
    steady = [fortigate(10 + i, 20 + i, "198.51.100.20", str(2000 + i)) for i in range(5)]
    slow = [fortigate(20 + i, 30 + i, "198.51.100.30", "10", duration=str(d)) for i, d in enumerate([1, 2, 3, 900])]
    return uploads + steady + slow


@pytest.fixture
def client(elastic_url, es_prefix):
    connection = Elasticsearch(elastic_url, request_timeout=120)
    yield connection
    remove_indices(connection, es_prefix)
    connection.close()


def alerts_on(store, folder: Path, windows: list[tuple[datetime, datetime]]) -> list[tuple]:
    found = []
    for start, end in windows:
        report = run_detections(store, [folder], start, end)
        assert report.problems == [] and report.failed == []
        found += report.alerts
    return sorted((a.rule_title, a.id, tuple(sorted(a.group_keys.items())), tuple(a.event_ids)) for a in found)


def test_metric_rules_from_files_raise_the_same_alerts_on_both_stores_in_one_run_or_two(client, es_prefix, tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "fortigate.yml").write_text(FORTIGATE_RULES, encoding="utf-8")
    stores = [EmbeddedStore(tmp_path / "embedded"), ElasticStore(client, tmp_path / "elastic", prefix=es_prefix)]
    for store in stores:
        store.append(event_table(fortigate_events()))
        store.flush()
    expected = [
        (
            "Large upload from one address",
            ("fortinet.firewall.srcip", "198.51.100.7"),
            ("fg-0", "fg-1", "fg-2", "fg-3"),
        ),
        ("Slow tail", ("fortinet.firewall.srcip", "198.51.100.30"), ("fg-20", "fg-21", "fg-22", "fg-23")),
        (
            "Steady mid-size sessions",
            ("fortinet.firewall.srcip", "198.51.100.20"),
            ("fg-10", "fg-11", "fg-12", "fg-13", "fg-14"),
        ),
    ]
    # One run over the morning; then, on fresh stores' state, two runs split inside every window.
    one_run = [alerts_on(store, folder, [(T0, T0 + timedelta(hours=3))]) for store in stores]
    assert [(title, keys[0], ids) for title, _, keys, ids in one_run[0]] == expected
    assert one_run[1] == one_run[0]
    split = tmp_path / "split"
    split_stores = [EmbeddedStore(split / "embedded"), ElasticStore(client, split / "elastic", prefix=es_prefix)]
    for store in split_stores:
        store.append(event_table(fortigate_events()))
        store.flush()
    halves = [(T0, T0 + timedelta(minutes=22)), (T0 + timedelta(minutes=22), T0 + timedelta(hours=3))]
    for store in split_stores:
        assert alerts_on(store, folder, halves) == one_run[0]


def test_a_range_or_fraction_condition_loads_from_a_rule_file(tmp_path):
    (tmp_path / "fortigate.yml").write_text(FORTIGATE_RULES, encoding="utf-8")
    ruleset = load_rules([tmp_path])
    assert ruleset.problems == []
    by_title = {c.title: c.correlation for c in ruleset.correlations}
    assert by_title["Steady mid-size sessions"].condition == Condition("gte", 1500.5, ("lte", 2500))
    assert by_title["Slow tail"].percentile == 95
    assert by_title["Large upload from one address"].value_field == "fortinet.firewall.sentbyte"
