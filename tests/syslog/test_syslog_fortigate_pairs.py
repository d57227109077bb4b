"""The FortiGate split on spaces (``fortigate_pairs``, by ``logscan.split_pairs``) against the grammar's regular expression in
DuckDB (``fortigate.build_by_pattern``, the way every batch was read before): for any batch of
bodies, the vendor columns a user sees must be the same, value for value, including the null of
a key a line does not have, the first value of a repeated key and a quoted value's quotes.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats import syslog_events
from collectors.formats.appliances import fortigate, fortigate_pairs, pair_columns

LINES = [
    'date=2026-03-01 time=09:30:00 devname="FGT-CORE" logid="0000000013" type="traffic" srcip=10.1.2.3',
    'date= time=10:00:01 devname="FGT" logid="0101037127" type="event" subtype="vpn" desc= msg="a, b"',
    'date=2026-03-01,time=09:30:00,devname="FGT",logid="0000000013",type="traffic",srcip=10.1.2.3',
    'logid="1" user="DOMAIN\\jdoe" msg="say \\"hi\\" now" x=1',
    'logid=2  devname=a   msg="two  spaces"  ',
    'logid=3 msg="unclosed value devname=b',
    'logid=4 a="x"y b=2 c="" d=" " e="q"',
    "logid=5 odd:key=1 k-2.x=3 K=upper k=lower",
    'logid=6 msg="tab\tinside" t=a\tb=c',
    "logid=7 a=1 a=2 a=3",
    "logid=8 url=https://x/?a=b&c=d empty= =lone",
    'logid=9 msg="caf\u00e9 \u00fc" h=\u00e9t\u00e9',
    'logid=10 msg="line\nbreak" devname=x',
    "logid=11\r devname=y",
]

_atoms = st.sampled_from(
    ["logid=1", "devname=", 'msg="a b"', '"', "\\", " ", "  ", "=", "k=v", "x", "\t", "\u00e9", ",", 'q="', 'z=""']
)
_bodies = st.one_of(st.sampled_from(LINES), st.lists(_atoms, min_size=1, max_size=12).map("".join))


def _same(bodies: list[str]) -> None:
    con = syslog_events.connection()
    fast = fortigate.build(pa.array(bodies, pa.string()), con)
    reference = fortigate.build_by_pattern(bodies, con)
    assert fast.schema == reference.schema
    for name in reference.column_names:
        assert fast[name].to_pylist() == reference[name].to_pylist(), name


def test_the_sample_lines_give_the_same_columns():
    _same(LINES)


def test_a_key_a_line_lacks_is_null_and_the_first_of_a_repeated_key_wins():
    table = fortigate.build(pa.array(["logid=7 a=1 a=2", 'logid=8 b="x y"']), syslog_events.connection())
    assert table["fortinet.firewall.a"].to_pylist() == ["1", None]
    assert table["fortinet.firewall.b"].to_pylist() == [None, "x y"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(_bodies, min_size=1, max_size=12))
def test_split_on_spaces_and_the_pattern_agree(bodies):
    # build_by_pattern refuses a batch without any pair (a bug upstream); so does build.
    if not any("=" in body for body in bodies):
        return
    try:
        reference = fortigate.build_by_pattern(bodies, syslog_events.connection())
    except fortigate.FortigateError:
        return
    fast = fortigate.build(pa.array(bodies, pa.string()), syslog_events.connection())
    assert fast.schema == reference.schema
    assert fast.equals(reference)


def test_a_batch_with_very_many_keys_is_pivoted_key_by_key(monkeypatch):
    monkeypatch.setattr(pair_columns, "MAX_CELLS", 4)
    _same(LINES)


def test_long_lines_with_many_quotes_are_split_as_the_pattern_splits_them():
    long_value = '"' + "x" * 70_000 + '"'
    _same([f"logid=1 msg={long_value} devname=a", 'logid=2 msg="' + '" "' * 40_000 + '"'])


def test_the_pairs_keep_line_order_when_both_ways_are_mixed():
    bodies = ['logid=1 a="x"y', "logid=2 b=1", 'logid=3 c="\\"q\\""', "logid=4 d=2"]
    found = fortigate_pairs.split(pa.array(bodies), syslog_events.connection(), fortigate._GRAMMAR)
    assert found.rows.tolist() == sorted(found.rows.tolist())
    table = fortigate.build(pa.array(bodies), syslog_events.connection())
    assert table["fortinet.firewall.c"].to_pylist() == [None, None, '"q"', None]


def test_common_lines_never_reach_the_pattern(monkeypatch):
    """The speed comes from here: plain FortiGate lines are split without the regular expression."""

    def refuse(*args, **kwargs):
        raise AssertionError("a plain line was sent to the regular expression")

    monkeypatch.setattr(fortigate_pairs, "_split_by_pattern", refuse)
    table = fortigate.build(pa.array([LINES[0], LINES[1], LINES[4], LINES[9]]), syslog_events.connection())
    assert table["fortinet.firewall.msg"].to_pylist() == [None, "a, b", "two  spaces", None]
