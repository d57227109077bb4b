"""Compiling Sigma rules to Lucene for the Elasticsearch store: what is written, what is refused.

What a query selects on a real node is tested in tests/rules/test_es_sigma_semantics.py and
tests/detections/test_differential_stores.py; these tests need no node. They check that every shipped rule
compiles for Elasticsearch exactly when it compiles for the embedded store, that each test picks
the sub-field the mapping (store/elastic/mapping.py) gives it, that values cannot break out of the
query syntax, that refusals name the rule and the reason, and — as a property — that the regex
translation searches what RE2/Python's ``re`` search.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.types import SigmaRegularExpressionFlag

from console.config import DEFAULT_RULE_DIRS
from detections.backends.compile import LEGACY_AGGREGATION
from detections.backends.compile import compile_rule as compile_sql
from detections.backends.compile_es import compile_rule
from detections.backends.lucene_regex import translate_regex
from detections.engine import compiler_for
from detections.loader import load_rules
from store.elastic.mapping import MAX_INDEXED_CHARS, events_template, field_kind
from tests.rules.test_sigma_semantics import REGEX_ATOMS, regexes, signin_rule
from tests.rules.test_sigma_semantics import refusal as sql_refusal


def lucene(detection: dict) -> str:
    return compile_rule(signin_rule(detection)).query


def refusal(detection: dict) -> str:
    return sql_refusal(detection, compile=compile_rule)


# -- the shipped rules ----------------------------------------------------------------------------


def test_every_shipped_rule_compiles_for_elasticsearch_when_it_does_for_the_embedded_store():
    embedded = load_rules(DEFAULT_RULE_DIRS, compile=compile_sql)
    elastic = load_rules(DEFAULT_RULE_DIRS, compile=compile_rule)
    assert [(p.name, p.reason) for p in elastic.problems] == [(p.name, p.reason) for p in embedded.problems]
    assert [r.key for r in elastic.detections] == [r.key for r in embedded.detections]
    assert len(elastic.detections) > 25
    assert all(r.compiled.language == "elasticsearch-lucene" and r.compiled.query for r in elastic.detections)
    assert [r.compiled.datasets for r in elastic.detections] == [r.compiled.datasets for r in embedded.detections]


def test_the_engine_picks_the_compiler_by_the_stores_language():
    class Lucene:
        query_language = "elasticsearch-lucene"

    class Other:
        query_language = "kql"

    assert compiler_for(Lucene()) is compile_rule
    with pytest.raises(ValueError, match="kql"):
        compiler_for(Other())


def test_a_lucene_query_is_not_mistaken_for_sql():
    compiled = compile_rule(signin_rule({"sel": {"UserPrincipalName": "a@b.c"}, "condition": "sel"}))
    with pytest.raises(AttributeError):
        _ = compiled.sql


# -- which sub-field answers which test -----------------------------------------------------------


def test_strings_are_case_insensitive_on_the_field_and_cased_on_its_cased_sub_field():
    assert lucene({"sel": {"UserPrincipalName|startswith": "Admin"}, "condition": "sel"}) == "user.name:Admin*"
    assert lucene({"sel": {"UserPrincipalName|cased": "Admin"}, "condition": "sel"}) == "user.name.cased:Admin"


def test_numbers_are_numeric_on_integer_columns_and_exact_text_on_string_columns():
    assert (
        lucene({"sel": {"ResultType": 50126}, "condition": "sel"})
        == "azure.signinlogs.properties.status.error_code:50126"
    )
    # On the int64 column, a string pattern reads the number's text.
    assert lucene({"sel": {"ResultType": "5012*"}, "condition": "sel"}) == (
        "azure.signinlogs.properties.status.error_code.text:5012*"
    )
    assert lucene({"sel": {"azure.signinlogs.result_type": 50126}, "condition": "sel"}) == (
        "azure.signinlogs.result_type.cased:50126"
    )
    assert lucene({"sel": {"ResultType|gt": -2.5}, "condition": "sel"}) == (
        "azure.signinlogs.properties.status.error_code:{\\-2.5 TO *]"
    )


def test_booleans_and_their_text():
    assert (
        lucene({"sel": {"IsInteractive": True}, "condition": "sel"})
        == "azure.signinlogs.properties.is_interactive:true"
    )
    assert lucene({"sel": {"IsInteractive": "FALSE"}, "condition": "sel"}) == (
        "azure.signinlogs.properties.is_interactive.text:false"
    )
    # A number never equals a boolean column: a query matching nothing, so that 'not' keeps all.
    assert lucene({"sel": {"IsInteractive": 1}, "condition": "not sel"}) == "(NOT (NOT *:*))"


def test_null_and_exists_see_values_too_long_to_index():
    assert lucene({"sel": {"UserAgent": None}, "condition": "sel"}) == (
        '(NOT (_exists_:user_agent.original OR _ignored:"user_agent.original"))'
    )
    assert lucene({"sel": {"ResultType|exists": True}, "condition": "sel"}) == (
        "_exists_:azure.signinlogs.properties.status.error_code"
    )
    assert lucene({"sel": {"UserAgent": "*"}, "condition": "sel"}) == (
        '(_exists_:user_agent.original OR _ignored:"user_agent.original")'
    )


def test_cidr_is_a_term_on_the_ip_sub_field_without_zone_ids():
    assert lucene({"sel": {"IPAddress|cidr": "2001:db8::/32"}, "condition": "sel"}) == (
        "(source.ip.ip:2001\\:db8\\:\\:\\/32 AND (NOT source.ip.cased:*%*))"
    )


def test_not_and_or_are_always_grouped():
    """Lucene's parser reads 'a OR NOT b' as 'a AND NOT b'."""
    query = lucene({"a": {"UserPrincipalName": "x"}, "b": {"IPAddress": "1.2.3.4"}, "condition": "a or not b"})
    assert query == "user.name:x OR ((NOT source.ip:1.2.3.4))"


def test_values_and_field_names_cannot_break_out_of_the_query():
    query = lucene({"sel": {"UserAgent|contains": 'x") OR *:* OR ("\\'}, "condition": "sel"})
    # The '*' stay Sigma's wildcards; quotes, brackets, spaces and the colon are escaped.
    assert query == 'user_agent.original:*x\\"\\)\\ OR\\ *\\:*\\ OR\\ \\(\\"\\\\*'
    assert lucene({"sel": {"UserAgent": "a/b\nc"}, "condition": "sel"}) == "user_agent.original:a\\/b\\\nc"


def test_the_template_maps_every_typed_column_and_keeps_event_original_unsearched():
    mappings = events_template("cw-")["template"]["mappings"]
    assert mappings["subobjects"] is False and mappings["date_detection"] is False
    properties = mappings["properties"]
    assert properties["@timestamp"]["type"] == "date_nanos"
    assert properties["event.original"]["index"] is False
    assert properties["source.ip"]["fields"]["ip"]["type"] == "ip"
    assert properties["source.port"]["type"] == "integer"
    assert properties["azure.signinlogs.properties.status.error_code"]["fields"]["text"]["type"] == "keyword"
    assert MAX_INDEXED_CHARS * 4 <= 32766
    assert field_kind("fortinet.firewall.srcip") == "ip" and field_kind("fortinet.firewall.srcport") == "keyword"
    assert field_kind("user.name") == "keyword"


# -- refusals -------------------------------------------------------------------------------------


def test_refusals_name_the_rule_and_the_reason():
    assert LEGACY_AGGREGATION in refusal(
        {"sel": {"ResultType": 50126}, "condition": "sel | count() by UserPrincipalName > 10"}
    )
    assert "keyword (field-less) detection" in refusal({"keywords": ["mimikatz"], "condition": "keywords"})
    assert "'user.name'" in refusal({"sel": {"user.name|fieldref": "user.id"}, "condition": "sel"})
    assert "'UserPrincipleName'" in refusal({"sel": {"UserPrincipleName": "a@b.c"}, "condition": "sel"})


def test_what_elasticsearch_cannot_answer_exactly_is_refused_with_the_reason():
    assert "not indexed" in refusal({"sel": {"event.original|contains": "mimikatz"}, "condition": "sel"})
    assert "is a time" in refusal({"sel": {"TimeGenerated|startswith": "2025-"}, "condition": "sel"})
    assert "comparison |gt" in refusal({"sel": {"UserAgent|gt": 5}, "condition": "sel"})
    assert "address column" in refusal({"sel": {"UserAgent|cidr": "10.0.0.0/8"}, "condition": "sel"})
    message = refusal({"sel": {"UserAgent|re": "(?<=curl/)7"}, "condition": "sel"})
    assert "'user_agent.original'" in message and "no exact Lucene translation" in message


# -- regular expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        ("abc", "", "(.*(abc).*)"),
        ("^a.c$", "", "((a[^\n]c))"),
        ("^a.c$", "s", "((a.c))"),
        ("^ab", "m", "((.*\n)?(ab).*)"),
        ("a|^b", "", "(.*(a).*)|((b).*)"),
        ("x[a-c]", "i", "(.*([xX][a-cABC]).*)"),
        (r"\d+\.\d{1,3}", "", r"(.*([0-9]+\.[0-9]{1,3}).*)"),
        ("^$", "", '("")'),
        ('a#@&<>~"', "", '(.*(a\\#\\@\\&\\<\\>\\~\\").*)'),
        ("(?i)ab", "", "(.*([aA][bB]).*)"),
        ("a*?", "", "(.*(a*).*)"),
    ],
)
def test_regex_translations(pattern, flags, expected):
    names = {
        "i": SigmaRegularExpressionFlag.IGNORECASE,
        "m": SigmaRegularExpressionFlag.MULTILINE,
        "s": SigmaRegularExpressionFlag.DOTALL,
    }
    assert translate_regex(pattern, {names[f] for f in flags}) == expected


@pytest.mark.parametrize("pattern", ["(?=a)", "(a)\\1", "\\bword", "a$b", "a^", "[[:alpha:]]", "(?i:a)", "a++"])
def test_regex_without_an_exact_translation_is_refused(pattern):
    with pytest.raises(ValueError):
        translate_regex(pattern)


def lucene_as_python(lucene_pattern: str) -> re.Pattern:
    """Lucene's syntax as this translation writes it, read back into Python (whole-string match):
    '.' matches any character, '\\x' is a literal x, '""' the empty string."""
    out, index = [], 0
    while index < len(lucene_pattern):
        char = lucene_pattern[index]
        if char == "\\":
            out.append(re.escape(lucene_pattern[index + 1]))
            index += 2
            continue
        if lucene_pattern.startswith('""', index):
            index += 2
            continue
        out.append("(?s:.)" if char == "." else re.escape(char) if char == "\n" else char)
        index += 1
    return re.compile("".join(out), re.DOTALL)


FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
SIGMA_FLAGS = {
    "i": SigmaRegularExpressionFlag.IGNORECASE,
    "m": SigmaRegularExpressionFlag.MULTILINE,
    "s": SigmaRegularExpressionFlag.DOTALL,
}


@settings(max_examples=300, deadline=None)
@given(
    regexes()
    | st.lists(
        st.sampled_from(REGEX_ATOMS + ["|", "(?:a|)", "\\s", "\\W", "[^\\d]", "\\x41"]), min_size=1, max_size=5
    ).map("".join),
    st.lists(st.sampled_from(["i", "m", "s"]), unique=True, max_size=3),
    st.lists(st.text("aAbBzZ0.* -\nÄä", max_size=8), min_size=1, max_size=6),
)
def test_translated_regex_searches_what_re_searches(pattern, flags, subjects):
    # RE2's (and so the embedded store's) \d, \w and \s are ASCII; Python's are Unicode unless
    # re.ASCII, which would also make (?i) ASCII-only, unlike RE2: that pairing is left out.
    shorthand = re.search(r"\\[dDwWsS]", pattern) is not None
    if shorthand and "i" in flags:
        return
    try:
        python = re.compile(pattern, sum(FLAGS[f] for f in flags) | (re.ASCII if shorthand else 0))
    except re.error:
        return
    try:
        translated = lucene_as_python(translate_regex(pattern, {SIGMA_FLAGS[f] for f in flags}))
    except ValueError:
        return  # refused (anchors inside, ...): the compiler reports it
    for subject in subjects:
        if subject.endswith("\n") and "$" in pattern:
            continue  # Python's '$' also matches before a final newline; RE2's does not
        assert (translated.fullmatch(subject) is not None) == (python.search(subject) is not None), (
            pattern,
            flags,
            subject,
            translated.pattern,
        )
