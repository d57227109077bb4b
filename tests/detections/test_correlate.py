"""Correlations over sliding windows, checked against a brute-force reference.

The reference looks at every event as a possible window start and checks the condition on the
events within the timespan; the engine must raise an alert for a group exactly when some such
window satisfies the condition, must choose the same windows as a plain greedy scan, and must
choose the same windows when the events are seen in two overlapping runs instead of one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from detections.correlate import (
    RULE_COLUMN,
    Condition,
    Correlation,
    Expression,
    UnsupportedCorrelation,
    find_windows,
    from_sigma,
)

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
OPS = ["gt", "gte", "lt", "lte", "eq", "neq"]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def table(events: list[dict]) -> pa.Table:
    """events: dicts with minute, id, and optional user, ip, rule."""
    return pa.table(
        {
            "@timestamp": pa.array([at(e["minute"]) for e in events], pa.timestamp("us", tz="UTC")),
            "event.id": pa.array([e["id"] for e in events], pa.string()),
            "user.name": pa.array([e.get("user") for e in events], pa.string()),
            "source.ip": pa.array([e.get("ip") for e in events], pa.string()),
            RULE_COLUMN: pa.array([e.get("rule", "base") for e in events], pa.string()),
        }
    )


def counting(kind: str, op: str, count: int, span: int, rules=("base",)) -> Correlation:
    return Correlation(
        rule_id="c",
        title="c",
        kind=kind,
        rules=tuple(rules),
        timespan=timedelta(minutes=span),
        group_by=("user.name",),
        condition=Condition(op, count),
        value_field="source.ip" if kind == "value_count" else None,
    )


# -- the reference -------------------------------------------------------------------------------


def metric(kind: str, window: list[dict]) -> int:
    if kind == "event_count":
        return len({e["id"] for e in window})
    return len({e["ip"] for e in window if e.get("ip") is not None})


def reference_windows(correlation: Correlation, events: list[dict], horizon: datetime | None = None):
    """Brute force: every event time as a window start; greedy choice of the satisfied ones."""
    span = correlation.timespan
    grows = correlation.condition.grows_with_events
    chosen = []
    for group in sorted({e["user"] for e in events if e.get("user") is not None}):
        members = sorted((e for e in events if e.get("user") == group), key=lambda e: (e["minute"], e["id"]))
        consumed = None
        for start in sorted({at(e["minute"]) for e in members}):
            if consumed is not None and start <= consumed:
                continue
            window = [e for e in members if start <= at(e["minute"]) <= start + span]
            complete = grows or horizon is None or start + span < horizon
            if complete and correlation.condition.holds(metric(correlation.kind, window)):
                end = max(at(e["minute"]) for e in window)
                chosen.append(((group,), start, end, tuple(e["id"] for e in window)))
                consumed = end
    return chosen


def satisfied_anywhere(correlation: Correlation, events: list[dict]) -> set:
    """Groups for which some window (starting at any event) satisfies the condition."""
    groups = set()
    for start_event in events:
        if start_event.get("user") is None:
            continue
        start = at(start_event["minute"])
        window = [
            e
            for e in events
            if e.get("user") == start_event["user"] and start <= at(e["minute"]) <= start + correlation.timespan
        ]
        if correlation.condition.holds(metric(correlation.kind, window)):
            groups.add((start_event["user"],))
    return groups


event_lists = st.lists(
    st.fixed_dictionaries(
        {
            "minute": st.integers(0, 120),
            "user": st.sampled_from(["alice", "bob", None]),
            "ip": st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", None]),
        }
    ),
    max_size=40,
).map(lambda rows: [dict(row, id=f"e{i:03d}") for i, row in enumerate(rows)])

correlations = st.builds(
    counting,
    kind=st.sampled_from(["event_count", "value_count"]),
    op=st.sampled_from(OPS),
    count=st.integers(0, 6),
    span=st.integers(1, 30),
)


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(events=event_lists, correlation=correlations)
def test_a_group_alerts_exactly_when_some_sliding_window_satisfies_the_condition(events, correlation):
    found = find_windows(correlation, table(events)) if events else []
    assert {w.group for w in found} == satisfied_anywhere(correlation, events)


@settings(max_examples=100, deadline=None)
@given(events=event_lists, correlation=correlations)
def test_the_windows_chosen_are_the_greedy_scan_of_the_reference(events, correlation):
    found = find_windows(correlation, table(events)) if events else []
    assert [(w.group, w.start, w.end, w.event_ids) for w in found] == reference_windows(correlation, events)


@settings(max_examples=100, deadline=None)
@given(events=event_lists, correlation=correlations, cut=st.integers(1, 121))
def test_two_overlapping_runs_choose_the_same_windows_as_one(events, correlation, cut):
    """Run 1 knows events before the cut; run 2 rescans from cut - timespan, resuming per group
    after the windows run 1 found before that — what the engine does with its stored windows."""
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


@settings(max_examples=100, deadline=None)
@given(events=event_lists, correlation=correlations, horizon=st.integers(0, 150))
def test_a_window_cut_by_the_horizon_is_judged_only_if_more_events_cannot_undo_it(events, correlation, horizon):
    found = find_windows(correlation, table(events), horizon=at(horizon)) if events else []
    expected = reference_windows(correlation, events, horizon=at(horizon))
    assert [(w.group, w.start, w.end) for w in found] == [(g, s, e) for g, s, e, _ in expected]


# -- examples ------------------------------------------------------------------------------------


def test_a_burst_straddling_a_clock_hour_is_one_window():
    events = [{"minute": 55 + i, "id": f"e{i}", "user": "alice"} for i in range(10)]
    found = find_windows(counting("event_count", "gte", 10, 15), table(events))
    assert len(found) == 1
    assert found[0].start == at(55) and found[0].end == at(64)
    assert found[0].count == 10


def test_events_without_the_group_by_field_form_no_group():
    events = [{"minute": i, "id": f"e{i}", "user": None} for i in range(10)]
    assert find_windows(counting("event_count", "gte", 3, 30), table(events)) == []


def test_value_count_counts_distinct_values_and_ignores_missing_ones():
    events = [
        {"minute": 0, "id": "a", "user": "u", "ip": "1.1.1.1"},
        {"minute": 1, "id": "b", "user": "u", "ip": "1.1.1.1"},
        {"minute": 2, "id": "c", "user": "u", "ip": None},
        {"minute": 3, "id": "d", "user": "u", "ip": "2.2.2.2"},
    ]
    assert find_windows(counting("value_count", "gte", 3, 10), table(events)) == []
    [window] = find_windows(counting("value_count", "gte", 2, 10), table(events))
    assert window.event_ids == ("a", "b", "c", "d")


def test_an_event_matched_by_two_rules_counts_once():
    events = [
        {"minute": 0, "id": "same", "user": "u", "rule": "a"},
        {"minute": 0, "id": "same", "user": "u", "rule": "b"},
    ]
    correlation = counting("event_count", "gte", 2, 5, rules=("a", "b"))
    assert find_windows(correlation, table(events)) == []


def temporal(kind: str, rules=("a", "b", "c"), expression=None, span=10) -> Correlation:
    return Correlation(
        rule_id="t",
        title="t",
        kind=kind,
        rules=rules,
        timespan=timedelta(minutes=span),
        group_by=("user.name",),
        condition=None if expression else Condition("gte", len(rules)),
        expression=expression,
    )


def test_temporal_needs_every_rule_within_the_timespan_in_any_order():
    events = [
        {"minute": 0, "id": "1", "user": "u", "rule": "c"},
        {"minute": 3, "id": "2", "user": "u", "rule": "a"},
        {"minute": 9, "id": "3", "user": "u", "rule": "b"},
        {"minute": 30, "id": "4", "user": "v", "rule": "a"},
        {"minute": 31, "id": "5", "user": "v", "rule": "b"},
        {"minute": 45, "id": "6", "user": "v", "rule": "c"},
    ]
    [window] = find_windows(temporal("temporal"), table(events))
    assert window.group == ("u",) and window.event_ids == ("1", "2", "3")


def test_temporal_ordered_needs_the_rules_in_the_order_written():
    in_order = [
        {"minute": 0, "id": "1", "user": "u", "rule": "a"},
        {"minute": 1, "id": "2", "user": "u", "rule": "b"},
        {"minute": 2, "id": "3", "user": "u", "rule": "c"},
    ]
    out_of_order = [
        {"minute": 0, "id": "1", "user": "v", "rule": "c"},
        {"minute": 1, "id": "2", "user": "v", "rule": "b"},
        {"minute": 2, "id": "3", "user": "v", "rule": "a"},
    ]
    found = find_windows(temporal("temporal_ordered"), table(in_order + out_of_order))
    assert [w.group for w in found] == [("u",)]
    assert find_windows(temporal("temporal"), table(out_of_order))  # unordered: it matches


def test_temporal_ordered_finds_a_late_first_step_followed_by_the_rest():
    events = [
        {"minute": 0, "id": "1", "user": "u", "rule": "b"},  # b before any a: no use
        {"minute": 5, "id": "2", "user": "u", "rule": "a"},
        {"minute": 8, "id": "3", "user": "u", "rule": "b"},
    ]
    found = find_windows(temporal("temporal_ordered", rules=("a", "b")), table(events))
    assert len(found) == 1 and found[0].start == at(0)  # the window starting at 0 holds a then b


def test_an_extended_temporal_condition_is_evaluated_per_window():
    a_not_b = Expression("and", (Expression("rule", rule="a"), Expression("not", (Expression("rule", rule="b"),))))
    events = [
        {"minute": 0, "id": "1", "user": "u", "rule": "a"},
        {"minute": 1, "id": "2", "user": "u", "rule": "b"},  # a with b: not this window
        {"minute": 20, "id": "3", "user": "u", "rule": "a"},  # a alone: this one
        {"minute": 0, "id": "4", "user": "v", "rule": "b"},
    ]  # b alone: never
    correlation = temporal("temporal", rules=("a", "b"), expression=a_not_b)
    found = find_windows(correlation, table(events))
    assert [(w.group, w.event_ids) for w in found] == [(("u",), ("3",))]
    # "not b" could be undone by a later b, so a window the horizon cuts waits
    assert find_windows(correlation, table(events), horizon=at(25)) == []


def test_group_values_are_compared_as_text():
    data = pa.table(
        {
            "@timestamp": pa.array([at(0), at(1)], pa.timestamp("us", tz="UTC")),
            "event.id": ["a", "b"],
            "destination.port": pa.array([22, 22], pa.int32()),
        }
    )
    correlation = Correlation(
        "c", "c", "event_count", ("base",), timedelta(minutes=5), ("destination.port",), Condition("gte", 2)
    )
    [window] = find_windows(correlation, data)
    assert window.group == ("22",)


SIGMA_CORRELATIONS = """
title: Base
name: failed_signin
id: 0f0f0f0f-0000-4000-8000-000000000001
logsource: {product: azure, service: signinlogs}
detection: {selection: {ResultType: 50126}, condition: selection}
---
title: Other base
name: success_signin
id: 0f0f0f0f-0000-4000-8000-000000000002
logsource: {product: azure, service: signinlogs}
detection: {selection: {ResultType: 0}, condition: selection}
---
title: Spray
id: 0f0f0f0f-0000-4000-8000-000000000003
correlation:
  type: value_count
  rules: [failed_signin]
  group-by: [source_ip]
  aliases:
    source_ip: {failed_signin: source.ip}
  timespan: 30m
  condition: {gte: 10, field: user.name}
---
title: Then success
id: 0f0f0f0f-0000-4000-8000-000000000004
correlation:
  type: temporal_ordered
  rules: [failed_signin, success_signin]
  group-by: [user.name]
  timespan: 1h
---
title: Sum
id: 0f0f0f0f-0000-4000-8000-000000000005
correlation:
  type: value_sum
  rules: [failed_signin]
  group-by: [user.name]
  timespan: 1h
  condition: {gte: 10, field: bytes}
"""


def test_pysigma_correlations_translate_with_aliases_and_defaults():
    collection = SigmaCollection.from_yaml(SIGMA_CORRELATIONS)
    key = lambda rule: str(rule.id)  # noqa: E731
    by_title = {rule.title: rule for rule in collection.rules}
    by_title["Spray"].aliases.resolve_rule_references(collection)  # as the loader does
    spray = from_sigma(by_title["Spray"], key)
    assert spray.kind == "value_count" and spray.value_field == "user.name"
    assert spray.condition == Condition("gte", 10) and spray.timespan == timedelta(minutes=30)
    assert spray.field_for("source_ip", "0f0f0f0f-0000-4000-8000-000000000001") == "source.ip"
    ordered = from_sigma(by_title["Then success"], key)
    assert ordered.rules == ("0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000002")
    assert ordered.condition == Condition("gte", 2)  # pySigma's default: all rules
    total = from_sigma(by_title["Sum"], key)  # a metric type (issue 11): the field is what is summed
    assert total.kind == "value_sum" and total.value_field == "bytes" and total.condition == Condition("gte", 10)


def test_temporal_ordered_with_a_partial_count_is_refused():
    with pytest.raises(UnsupportedCorrelation, match="temporal_ordered"):
        Correlation(
            "t", "t", "temporal_ordered", ("a", "b", "c"), timedelta(minutes=5), ("user.name",), Condition("gte", 2)
        )
