"""The DuckDB backend selects exactly the events the plain-Python reference says a rule selects.

Each property generates events (columns of every stored type, fields missing or null, mixed case,
wildcard and LIKE characters, unicode letters, numbers as numbers and as text, IPv4 and IPv6
addresses in several spellings) and rules over them, loads the events into DuckDB through Arrow with
the store's macros installed, runs ``SELECT id FROM t WHERE <compiled expression>``, and compares the
ids with tests/support/sigma_reference.py. Rules here name columns directly and go through the backend alone;
the field-mapping pipelines are tested in tests/rules/test_pipelines.py, and the last tests here check how
``compile_rule`` reports what it refuses.

Unicode letters are kept to those whose lower-case form is one code point, the same in Python as in
DuckDB: Python's ``str.lower`` applies full case mapping (``'İ'`` becomes two code points, a final
sigma depends on its neighbours), while DuckDB — like Elasticsearch's lowercase normaliser — maps
code point by code point. Outside that set the reference, not the stores, would be wrong.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from detections.backends.compile import LEGACY_AGGREGATION, RuleConversionError, compile_rule
from detections.backends.duckdb_backend import DuckDBBackend
from store.sql import functions as sql_functions
from tests.support import sigma_reference

COLUMNS: dict[str, pa.DataType] = {
    "s.a": pa.string(),
    "s.b": pa.string(),
    'odd "col"': pa.string(),  # a quote inside a column name must be escaped, not break the SQL
    "n.i": pa.int64(),
    "n.j": pa.int32(),
    "n.f": pa.float64(),
    "b.x": pa.bool_(),
    "t.ts": pa.timestamp("us"),
    "ip.addr": pa.string(),
}
UNICODE_LETTERS = "ÄäÖöÉéÑñßẞKkΩωŁłДдЖжÆæ"
LETTERS = "aAbBzZ09 -/.:'" + UNICODE_LETTERS
SPECIALS = "*?\\%_"
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- running a rule both ways -------------------------------------------------------------------


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    sql_functions.install(connection)
    yield connection
    connection.close()


def make_rule(detection: dict) -> SigmaRule:
    return SigmaRule.from_dict(
        {"title": "generated", "id": str(uuid.uuid4()), "logsource": {"product": "test"}, "detection": detection}
    )


def to_sql(rule: SigmaRule) -> str:
    queries = DuckDBBackend().convert_rule(rule)
    return " OR ".join(f"({query})" for query in queries)


def selected_by_sql(con: duckdb.DuckDBPyConnection, sql: str, events: list[dict]) -> set[int]:
    table = pa.table(
        {"id": pa.array(range(len(events)), pa.int64())}
        | {name: pa.array([event.get(name) for event in events], type) for name, type in COLUMNS.items()}
    )
    con.register("t", table)
    try:
        return {row[0] for row in con.execute(f"SELECT id FROM t WHERE {sql}").fetchall()}
    finally:
        con.unregister("t")


def selected_by_reference(rule: SigmaRule, events: list[dict]) -> set[int]:
    return {index for index, event in enumerate(events) if sigma_reference.selects(rule, event)}


def assert_agree(con, detection: dict, events: list[dict]) -> set[int]:
    rule = make_rule(detection)
    expected = selected_by_reference(rule, events)
    sql = to_sql(make_rule(detection))
    assert selected_by_sql(con, sql, events) == expected, sql
    return expected


# -- strategies ---------------------------------------------------------------------------------

texts = st.text(LETTERS + SPECIALS + "\n", max_size=6) | st.sampled_from(
    [
        "",
        "true",
        "False",
        "50053",
        "5",
        "-2.5",
        "007",
        "1.0",
        "+3",
        ".5",
        "5.",
        "1e3",
        " 5",
        "inf",
        "NaN",
        "4611686018427387905",
        "Ab*c",
        "x?y",
        "%_\\",
        "a\\b",
    ]
)
ips_v4 = st.integers(0, 2**32 - 1).map(lambda n: ipaddress.IPv4Address(n))
ips_v6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n))


@st.composite
def ip_texts(draw, near: list[int] | None = None):
    """An address in one of its spellings, or text that is almost one."""
    kind = draw(
        st.sampled_from(["v4", "mapped", "mapped-hex", "mapped-upper", "v6", "v6-exploded", "v6-upper", "junk"])
    )
    if near and draw(st.booleans()):
        number = draw(st.sampled_from(near))
        v4 = ipaddress.IPv4Address(number & 0xFFFFFFFF)
        v6 = ipaddress.IPv6Address(number)
    else:
        v4, v6 = draw(ips_v4), draw(ips_v6)
    if kind == "v4":
        return str(v4)
    if kind == "mapped":
        return f"::ffff:{v4}"
    if kind == "mapped-hex":
        return str(ipaddress.IPv6Address((0xFFFF << 32) | int(v4)))
    if kind == "mapped-upper":
        return ipaddress.IPv6Address((0xFFFF << 32) | int(v4)).exploded.upper()
    if kind == "v6":
        return str(v6)
    if kind == "v6-exploded":
        return v6.exploded
    if kind == "v6-upper":
        return str(v6).upper()
    return draw(
        st.sampled_from(
            [
                f"{v4}.1",
                f"0{v4}",
                f" {v4}",
                f"{v6}%eth0",
                f"{v6}::1",
                "::ffff:1.2.3.256",
                "1:2:3:4:5:6:7:8:9",
                "not an ip",
                "1.2.3",
            ]
        )
    )


def column_values(ips=ip_texts()) -> dict:  # noqa: B008 (a hypothesis strategy, built once)
    return {
        "s.a": texts,
        "s.b": texts,
        'odd "col"': texts,
        "n.i": st.integers(-3, 3) | st.sampled_from([50053, 2**40, -(2**62), 2**62 + 1]),
        "n.j": st.integers(-3, 3) | st.just(50053),
        "n.f": st.sampled_from([0.0, -0.0, 0.5, 1.0, -2.5, 50053.0, 1e16, 0.1, 3e-05]),
        "b.x": st.booleans(),
        "t.ts": st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1)),
        "ip.addr": ips,
    }


@st.composite
def events(draw, ips=None):
    values = column_values(ips if ips is not None else ip_texts())
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        row = {}
        for name, strategy in values.items():
            presence = draw(st.sampled_from(["value", "value", "missing", "null"]))
            if presence == "value":
                row[name] = draw(strategy)
            elif presence == "null":
                row[name] = None
        rows.append(row)
    return rows


def sigma_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


@st.composite
def pattern_like(draw, source: str) -> str:
    """A Sigma string built from an event's text: some characters case-flipped and, in half the
    values, some replaced by ? or *, so that generated rules often match."""
    choices = ["keep", "keep", "keep", "flip"] + (["one", "many"] if draw(st.booleans()) else [])
    out = []
    for c in source:
        choice = draw(st.sampled_from(choices))
        if choice == "keep":
            out.append(sigma_escape(c))
        elif choice == "flip":
            out.append(sigma_escape(c.swapcase() if len(c.swapcase()) == 1 else c))
        elif choice == "one":
            out.append("?")
        else:
            out.append("*")
    return "".join(out)


@st.composite
def string_values(draw, rows: list[dict], field: str, wildcards: bool = True):
    """Mostly derived from the field's own values (as text), so that rules often match."""
    seen = [sigma_reference.text(row[field]) for row in rows if row.get(field) is not None]
    if seen and draw(st.integers(0, 3)):
        source = draw(st.sampled_from(seen))
        return draw(pattern_like(source)) if wildcards else sigma_escape(source)
    alphabet = LETTERS + SPECIALS if wildcards else LETTERS
    return draw(st.text(alphabet, max_size=5))


@st.composite
def conditions(draw, names: list[str], depth: int = 0) -> str:
    kinds = (
        ["name", "name", "not", "and", "or", "1 of", "all of"]
        if depth < 2
        else ["name", "not"]
        if depth < 3
        else ["name"]
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "name":
        return draw(st.sampled_from(names))
    if kind == "not":
        return f"not {draw(conditions(names, depth + 1))}"
    if kind in ("and", "or"):
        return f"({draw(conditions(names, depth + 1))} {kind} {draw(conditions(names, depth + 1))})"
    prefix = draw(st.sampled_from(["sel_*", "filter_*", "them"]))
    return f"{kind} {prefix}"


@st.composite
def detections(draw, leaf, rows: list[dict]) -> dict:
    names = draw(
        st.lists(st.sampled_from(["sel_a", "sel_b", "filter_a", "filter_b"]), min_size=1, max_size=3, unique=True)
    )
    detection = {name: draw(st.lists(leaf(rows), min_size=1, max_size=3).map(dict)) for name in names}
    condition = draw(conditions(names))
    # '1 of filter_*' with no filter selection is an error in Sigma itself, not in the backend.
    for prefix in ("sel_", "filter_"):
        if f"{prefix}*" in condition and not any(name.startswith(prefix) for name in names):
            condition = condition.replace(f"{prefix}*", "them")
    detection["condition"] = condition
    return detection


def string_leaf(rows):
    @st.composite
    def leaf(draw):
        field = draw(st.sampled_from(list(COLUMNS)))
        expansion = draw(st.sampled_from([None, None, None, "windash", "base64offset", "base64"]))
        position = draw(st.sampled_from([None, "contains", "startswith", "endswith"]))
        cased = draw(st.booleans()) and expansion is None
        values = draw(st.lists(string_values(rows, field, wildcards=expansion is None), min_size=1, max_size=3))
        modifiers = [m for m in (expansion, position, "cased" if cased else None) if m]
        if len(values) > 1 and draw(st.booleans()):
            modifiers.append("all")
        key = "|".join([field, *modifiers])
        return key, values if len(values) > 1 else values[0]

    return leaf()


# -- properties ---------------------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_string_matching_agrees(con, data):
    """Equality, wildcards and their escapes, |contains/|startswith/|endswith, |all, |cased,
    |windash, |base64offset and |base64, on columns of every type."""
    rows = data.draw(events())
    assert_agree(con, data.draw(detections(string_leaf, rows)), rows)


@EXAMPLES
@given(st.data())
def test_value_lists_agree(con, data):
    """A list of plain values is any-of (compiled to an IN list); with |all, every one."""
    rows = data.draw(events())
    field = data.draw(st.sampled_from(list(COLUMNS)))
    modifier = data.draw(st.sampled_from(["", "", "|cased", "|all"]))
    others = st.nothing() if modifier == "|cased" else st.sampled_from([5, 50053, True])
    values = data.draw(st.lists(string_values(rows, field, wildcards=False) | others, min_size=2, max_size=4))
    assert_agree(
        con,
        {"sel_a": {field + modifier: values}, "condition": data.draw(st.sampled_from(["sel_a", "not sel_a"]))},
        rows,
    )


def scalar_leaf(rows):
    @st.composite
    def leaf(draw):
        field = draw(st.sampled_from(list(COLUMNS)))
        kind = draw(st.sampled_from(["number", "float", "bool", "compare", "compare", "null", "exists"]))
        if kind == "number":
            return field, draw(st.lists(st.sampled_from([0, 1, -2, 5, 7, 50053, 2**40]), min_size=1, max_size=3))
        if kind == "float":
            return field, draw(st.sampled_from([0.5, -2.5, 1e16, 0.1, 50053.5]))
        if kind == "bool":
            return field, draw(st.booleans())
        if kind == "compare":
            operator = draw(st.sampled_from(["lt", "lte", "gt", "gte"]))
            return f"{field}|{operator}", draw(st.sampled_from([0, 1, -2, 5, 50053, 0.5, -2.5, 2**40, 2**62]))
        if kind == "null":
            return field, None
        return f"{field}|exists", draw(st.booleans())

    return leaf()


@EXAMPLES
@given(st.data())
def test_numbers_booleans_null_and_exists_agree(con, data):
    """Numbers against numeric and text columns, booleans, |lt/|lte/|gt/|gte, null, |exists."""
    rows = data.draw(events())
    assert_agree(con, data.draw(detections(scalar_leaf, rows)), rows)


def mixed_leaf(rows):
    return st.one_of(string_leaf(rows), scalar_leaf(rows))


@EXAMPLES
@given(st.data())
def test_boolean_structure_agrees(con, data):
    """and / or / not, '1 of', 'all of' over every kind of leaf, with fields often absent: a NULL
    field makes a test false, so 'not' selects the events that lack the field."""
    rows = data.draw(events())
    assert_agree(con, data.draw(detections(mixed_leaf, rows)), rows)


REGEX_ATOMS = ["a", "B", "z", "0", ".", r"\.", "[a-c]", "[^a]", "(a|B)", "ä", "Ä", r"\*", " ", "-"]


@st.composite
def regexes(draw) -> str:
    atoms = draw(st.lists(st.sampled_from(REGEX_ATOMS), min_size=1, max_size=4))
    body = "".join(atom + draw(st.sampled_from(["", "", "*", "+", "?", "{1,2}"])) for atom in atoms)
    return draw(st.sampled_from(["", "^"])) + body + draw(st.sampled_from(["", "$"]))


def regex_escape(text: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


@st.composite
def regex_from(draw, source: str) -> str:
    """A pattern for part of an event's text, some characters loosened, case sometimes flipped."""
    start = draw(st.integers(0, len(source)))
    end = draw(st.integers(start, len(source)))
    body = "".join(
        draw(
            st.sampled_from(
                [regex_escape(c), regex_escape(c), regex_escape(c.swapcase()) if len(c.swapcase()) == 1 else ".", "."]
            )
        )
        for c in source[start:end]
    )
    return (
        ("^" if start == 0 and draw(st.booleans()) else "")
        + body
        + ("$" if end == len(source) and draw(st.booleans()) else "")
    )


def regex_leaf(rows):
    @st.composite
    def leaf(draw):
        field = draw(st.sampled_from(list(COLUMNS)))
        flags = draw(st.lists(st.sampled_from(["i", "m", "s"]), unique=True, max_size=3))
        seen = [sigma_reference.text(row[field]) for row in rows if row.get(field) is not None]
        pattern = draw(regex_from(draw(st.sampled_from(seen)))) if seen and draw(st.booleans()) else draw(regexes())
        return "|".join([field, "re", *flags]), pattern

    return leaf()


@EXAMPLES
@given(st.data())
def test_regular_expressions_agree(con, data):
    """|re is an unanchored search, case-sensitive unless |i; |m and |s as in Python and RE2."""
    rows = data.draw(events())
    # RE2's '$' does not match before a final newline (Python's does); Sigma leaves it open.
    assume(not any(isinstance(v, str) and v.endswith("\n") for row in rows for v in row.values()))
    assert_agree(con, data.draw(detections(regex_leaf, rows)), rows)


def networks(version: int):
    bits = 32 if version == 4 else 128
    address = st.integers(0, 2**bits - 1)
    return st.tuples(address, st.integers(0, bits)).map(
        lambda pair: ipaddress.ip_network(
            (ipaddress.IPv4Address(pair[0]) if version == 4 else ipaddress.IPv6Address(pair[0]), pair[1]),
            strict=False,
        )
    )


def inside(network) -> st.SearchStrategy[int]:
    """Addresses in (and just around) the network, as 128-bit numbers with IPv4 mapped."""
    low, high = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return st.sampled_from([low, high, low - 1, high + 1, (low + high) // 2]).map(
            lambda n: n % 2**32
        ) | st.integers(low, high)
    return st.sampled_from([low, high, (low - 1) % 2**128, (high + 1) % 2**128]) | st.integers(low, high)


@pytest.mark.parametrize("version", [4, 6])
@EXAMPLES
@given(data=st.data())
def test_cidr_agrees_for_every_prefix_length(con, data, version):
    """|cidr with prefix lengths 0..32 and 0..128, against addresses inside, at the edges of and
    outside the network, written in IPv4, IPv4-mapped, compressed, exploded and upper-case forms."""
    assert_agree(con, *cidr_case(data, version))


def cidr_case(data, version: int) -> tuple[dict, list[dict]]:
    """A |cidr detection over one or two networks, and events with addresses near them (also
    drawn by tests/rules/test_es_sigma_semantics.py)."""
    nets = data.draw(st.lists(networks(version), min_size=1, max_size=2))
    near = data.draw(st.lists(st.one_of(*(inside(n) for n in nets)), min_size=1, max_size=6))
    rows = data.draw(events(ips=ip_texts(near)))
    values = [str(n) for n in nets]
    detection = {"sel_a": {"ip.addr|cidr": values if len(values) > 1 else values[0]}}
    detection["condition"] = data.draw(st.sampled_from(["sel_a", "not sel_a"]))
    return detection, rows


# -- examples a user would notice -------------------------------------------------------------


def test_not_filter_keeps_events_that_lack_the_filtered_field(con):
    rows = [{"s.a": "admin"}, {"s.a": "admin", "s.b": "svc"}, {"s.a": "admin", "s.b": None}, {"s.a": "guest"}]
    detection = {"sel_a": {"s.a": "ADMIN"}, "filter_a": {"s.b": "svc"}, "condition": "sel_a and not filter_a"}
    assert assert_agree(con, detection, rows) == {0, 2}


def test_a_number_matches_numeric_columns_and_its_exact_text(con):
    rows = [{"n.i": 50053}, {"n.f": 50053.0}, {"s.a": "50053"}, {"s.a": "050053"}, {"n.f": 50053.5}, {"n.j": 50053}]
    detection = {"sel_a": {"n.i": 50053}, "sel_b": {"n.f": 50053}, "filter_a": [{"s.a": 50053}, {"n.j": 50053}]}
    detection["condition"] = "1 of them"
    assert assert_agree(con, detection, rows) == {0, 1, 2, 5}


def test_wildcard_characters_in_values_are_literal_when_escaped(con):
    rows = [{"s.a": "50%_off"}, {"s.a": "50xyoff"}, {"s.a": "a*b"}, {"s.a": "axb"}, {"s.a": "c:\\temp"}]
    detection = {"sel_a": {"s.a": ["50%_off", "a\\*b", "c:\\temp"]}, "condition": "sel_a"}
    assert assert_agree(con, detection, rows) == {0, 2, 4}


def test_windash_and_base64offset_expand(con):
    rows = [{"s.a": "cmd /c whoami"}, {"s.a": "cmd -c whoami"}, {"s.a": "cmd –c whoami"}, {"s.a": "cmd c whoami"}]
    assert assert_agree(con, {"sel_a": {"s.a|windash|contains": " -c "}, "condition": "sel_a"}, rows) == {0, 1, 2}
    encoded = [
        {"s.b": "powershell -enc " + text}
        for text in ("aHR0cDovL2V2aWwuZXhhbXBsZQ==", "eGh0dHA6Ly9ldmls", "bm90aGluZw==")
    ]
    detection = {"sel_a": {"s.b|base64offset|contains": "http://evil"}, "condition": "sel_a"}
    assert assert_agree(con, detection, encoded) == {0, 1}


def test_regex_flags_and_newlines(con):
    rows = [{"s.a": "first\nSECOND"}, {"s.a": "first second"}]
    cases = {
        "s.a|re": "^SECOND",
        "s.a|re|m": "^SECOND",
        "s.a|re|i|m": "^second",
        "s.a|re|s": "first.SECOND",
        "s.a|re|i": "T.S",
    }
    found = {
        key: assert_agree(con, {"sel_a": {key: pattern}, "condition": "sel_a"}, rows) for key, pattern in cases.items()
    }
    assert found == {"s.a|re": set(), "s.a|re|m": {0}, "s.a|re|i|m": {0}, "s.a|re|s": {0}, "s.a|re|i": {1}}


def test_booleans_match_boolean_columns_and_their_text(con):
    rows = [{"b.x": False}, {"b.x": True}, {"s.a": "FALSE"}, {"s.a": "no"}]
    detection = {"sel_a": {"b.x": "false"}, "sel_b": {"s.a": False}, "condition": "1 of them"}
    assert assert_agree(con, detection, rows) == {0, 2}


def test_unicode_letters_fold_one_to_one_the_same_in_python_and_duckdb(con):
    folded = con.execute("SELECT lower(?)", [UNICODE_LETTERS]).fetchone()[0]
    assert folded == UNICODE_LETTERS.lower()


@st.composite
def mangled_ip_texts(draw):
    """Address spellings, and the same with a character inserted, deleted or replaced."""
    text = draw(ip_texts())
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(":.0123456789abcdefABCDEFg% "))
        text = draw(
            st.sampled_from(
                [
                    text[:position] + char + text[position:],
                    text[:position] + text[position + 1 :],
                    text[:position] + char + text[position + 1 :],
                ]
            )
        )
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(mangled_ip_texts(), min_size=1, max_size=20))
def test_ip_hex_reads_exactly_the_addresses_python_reads(con, texts):
    got = [
        row[0]
        for row in con.execute(
            "SELECT cw_ip_hex(v) FROM unnest(?) WITH ORDINALITY AS t(v, i) ORDER BY i", [texts]
        ).fetchall()
    ]
    expected = []
    for text in texts:
        number = sigma_reference.address_128(text)
        if number is None:
            expected.append(None)
        elif ":" in text:
            expected.append(f"{number:032x}")
        else:
            expected.append(f"{number & 0xFFFFFFFF:08x}")
    assert got == expected


def test_ip_hex_is_fixed_width_and_null_for_non_addresses(con):
    samples = [
        "10.1.2.3",
        "::ffff:10.1.2.3",
        "2001:DB8::1",
        "1:2:3:4:5:6:1.2.3.4",
        "01.2.3.4",
        "1::2::3",
        "fe80::1%eth0",
        None,
    ]
    got = dict(con.execute("SELECT v, cw_ip_hex(v) FROM unnest(?) AS t(v)", [samples]).fetchall())
    assert got["10.1.2.3"] == "0a010203"
    assert got["::ffff:10.1.2.3"] == "00000000000000000000ffff0a010203"
    assert got["2001:DB8::1"] == "20010db8000000000000000000000001"
    assert got["1:2:3:4:5:6:1.2.3.4"] == "00010002000300040005000601020304"
    assert got["01.2.3.4"] is None and got["1::2::3"] is None and got["fe80::1%eth0"] is None
    assert got[None] is None


# -- what is refused, and how it is reported --------------------------------------------------


def signin_rule(detection: dict, title: str = "Test rule") -> SigmaRule:
    return SigmaRule.from_dict(
        {
            "title": title,
            "id": "6f6b7c7e-1e1d-4c5b-9a0b-3c1d2e4f5a6b",
            "logsource": {"product": "azure", "service": "signinlogs"},
            "detection": detection,
        }
    )


def refusal(detection: dict, compile=compile_rule) -> str:
    """The refusal of a sign-in rule with this detection, which must name the rule (the Lucene
    compiler's tests, tests/rules/test_compile_es.py, pass their ``compile``)."""
    with pytest.raises(RuleConversionError) as raised:
        compile(signin_rule(detection))
    message = str(raised.value)
    assert "'Test rule' (6f6b7c7e-1e1d-4c5b-9a0b-3c1d2e4f5a6b)" in message
    return message


def test_legacy_count_aggregation_is_refused_with_the_rule_name():
    message = refusal({"sel": {"ResultType": 50126}, "condition": "sel | count() by UserPrincipalName > 10"})
    assert LEGACY_AGGREGATION in message


def test_keyword_detection_is_refused():
    assert "keyword (field-less) detection" in refusal({"keywords": ["mimikatz"], "condition": "keywords"})


def test_fieldref_and_timestamp_modifiers_are_refused_naming_the_field():
    assert "'user.name'" in refusal({"sel": {"user.name|fieldref": "user.id"}, "condition": "sel"})
    assert "'@timestamp'" in refusal({"sel": {"@timestamp|hour": 3}, "condition": "sel"})


def test_regex_that_re2_cannot_run_is_refused_naming_the_field():
    message = refusal({"sel": {"user_agent.original|re": "(?<=curl/)7"}, "condition": "sel"})
    assert "'user_agent.original'" in message and "RE2" in message


def test_an_unknown_field_is_refused_naming_it():
    assert "'UserPrincipleName'" in refusal({"sel": {"UserPrincipleName": "a@b.c"}, "condition": "sel"})


def test_sql_quotes_in_values_and_column_names_cannot_escape_the_expression(con):
    rows = [{'odd "col"': "x' OR '1'='1"}, {'odd "col"': "y"}]
    detection = {"sel_a": {'odd "col"|contains': "' OR '"}, "condition": "sel_a"}
    assert assert_agree(con, detection, rows) == {0}
    assert re.search(r'"odd ""col"""', to_sql(make_rule(detection)))
