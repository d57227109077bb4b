"""CEF read a batch at a time (``cef_bulk``) against the record-by-record reader (``cef.parse_cef``
and ``cef.build``): for any batch the table a user gets is the same — the same columns in the
same order, the same values, the custom labels' named columns, the event time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats.appliances import cef, cef_bulk

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

BODIES = [
    "CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|src=10.1.2.3 dst=52.1.2.3 dpt=443 msg=a b\\=c cs1Label=Rule cs1=web",
    "CEF:0|Acme|Gw|1|7|Blocked \\| x|5|rt=1772445600000 act=block suser=jdoe",
    "0|Fortinet|Fortigate|v7|00013|traffic|5|start=Mar 01 2026 09:30:00 src=10.0.0.1 FTNTFGTeventtime=1772445600123456789",
    "CEF: 0|A|B|C|D|E|F|cs2Label=Policy cs2=p1 cs1Label=policy cs1=p2 cs3Label=Rule Name cs3=r",
    "CEF:0|A|B|C|D|E|F|msg=has Label=inside x=1 cs1=a cs1Label=Rule",
    "CEF:0|A|B|C|D|E|F|a=1 a=2  b=two  spaces  c=\\\\n d=C:\\\\Windows\\\\x e=\\n\\r",
    "CEF:0|A|B|C|D|E|F|rt=Mar 01 2026 09:30:00 GMT+01:00 dtz=Europe/London",
    "CEF:0|A|B|C|D|E|F|rt= deviceReceiptTime=1772445600 end=x",
    "CEF:0|A|B|C|D|E|F|rt=2026-03-01T10:00:00 dtz=CET",
    "CEF:0|A|B|C|D|E|F|tab=a\tb=c",
    "CEF:0|A|B|C|D|E|F|",
    "CEF:0|A|B|C|D|E|F|=x k[0]=v k.x-y=w \u00e9=no caf\u00e9=yes",
    "CEF:0|A|B|C|D|E|F|x=1 aeventtime=1 beventtime=2",
    "CEF:0|A|B|C|D|E|F|cs1Label= cs1=v cs2Label=!! cs2=w Label=z",
]

_atoms = st.sampled_from(
    [
        "k=v",
        " ",
        "  ",
        "=",
        "\\",
        "\\=",
        "cs1Label=Rule",
        "cs1=x",
        "cs2Label=rule",
        "cs2=y",
        "rt=1772445600000",
        "rt=Mar 1 10:00:00",
        "Label=",
        "\t",
        "\u00e9",
        "a=",
        "|",
        "src=10.0.0.1",
        "FTNTFGTeventtime=1772445600",
    ]
)
_extension = st.lists(_atoms, max_size=10).map("".join)
_header = st.sampled_from(["CEF:0|A|B|C|D|E|F|", "0|V|P|1|2|N|3|", "CEF: 1|A\\|x|B|C|D|E|F|", "CEF:0|A|B|C|D|E|F"])
_body = st.one_of(st.sampled_from(BODIES), st.tuples(_header, _extension).map("".join))


def _records(bodies: list[str]) -> list[cef.CefRecord]:
    return [cef.parse_cef(body) for body in bodies]


def _assert_same(bodies: list[str]) -> None:
    records = _records(bodies)
    bulk = cef_bulk.build(pa.array(bodies, pa.string()), NOW)
    reference = cef.build(records, NOW)
    assert bulk.column_names == reference.column_names
    assert bulk.schema == reference.schema
    for name in reference.column_names:
        assert bulk[name].to_pylist() == reference[name].to_pylist(), name


def test_the_sample_bodies_give_the_same_table():
    _assert_same(BODIES)


def test_the_usual_records_are_read_in_bulk_with_their_named_custom_columns():
    bodies = pa.array(BODIES[:1] * 3, pa.string())
    assert cef_bulk.readable(bodies).all()
    table = cef_bulk.build(bodies, NOW)
    assert table["cef.custom.rule"].to_pylist() == ["web"] * 3
    assert table["cef.extensions.msg"].to_pylist() == ["a b=c"] * 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(_body, min_size=1, max_size=10))
def test_bulk_and_record_by_record_agree(bodies):
    try:
        _records(bodies)
    except cef.CefError:
        return  # a truncated header is the per-line reader's to quarantine
    _assert_same(bodies)
