"""Compile one Sigma rule into what the Elasticsearch store runs: a Lucene query string.

Only the query language differs from detections/backends/compile.py, whose ``compile_for`` does the rest
for both stores: the same pipeline (rules/pipelines.py) maps Sigma names to stored columns, the
same logsource table chooses the datasets, and a rule is refused the same way — a
``RuleConversionError`` naming the rule and what in it cannot be honoured. The language's
backend (detections/backends/lucene_backend.py) writes each test against the events index's mapping
(store/elastic/mapping.py) so that it selects what the embedded store selects; a test it cannot
make exact on Elasticsearch is refused rather than run with another meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sigma.rule import SigmaRule

from detections.backends.compile import CompiledQuery, QueryLanguage, compile_for, convert
from detections.backends.lucene_backend import CyberwellLuceneBackend

LANGUAGE = "elasticsearch-lucene"


def lucene(declared: Mapping[str, str] | None = None) -> QueryLanguage:
    """The Lucene query language over an events index whose template also declared ``declared``."""
    return QueryLanguage(name=LANGUAGE, backend=partial(CyberwellLuceneBackend, declared=declared))


def compile_rule(rule: SigmaRule, declared: Mapping[str, str] | None = None) -> CompiledQuery:
    """The rule's detection as one Lucene query string, plus where and what it searches.

    ``declared`` gives the kinds of columns the index template was told about beyond
    docs/events.md (``store.elastic.mapping.events_template``); the engine never needs it.
    """
    return compile_for(rule, lucene(declared))


def compile_generic(rule: SigmaRule, declared: Mapping[str, str]) -> CompiledQuery:
    """A rule over columns named directly, without the logsource pipeline (for tests that make
    their own columns, as tests/rules/test_sigma_semantics.py does for the embedded store)."""
    return convert(rule, lucene(declared))
