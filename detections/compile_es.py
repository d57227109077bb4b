"""Compile one Sigma rule into what the Elasticsearch store runs: a Lucene query string.

The twin of detections/compile.py: the same pipeline (rules/pipelines.py) maps Sigma names to
stored columns, the same logsource table chooses the datasets, and a rule is refused the same way —
a ``RuleConversionError`` naming the rule and what in it cannot be honoured. What differs is the
backend (detections/lucene_backend.py), which writes each test against the events index's mapping
(store/elastic_mapping.py) so that it selects what the embedded store selects; a test it cannot
make exact on Elasticsearch is refused here rather than run with another meaning.
"""

from __future__ import annotations

from collections.abc import Mapping

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detections.compile import (
    LEGACY_AGGREGATION,
    CompiledQuery,
    RuleConversionError,
    _private_copy,
    _reason,
    _rule_name,
)
from detections.lucene_backend import CyberwellLuceneBackend
from rules.logsources import UnsupportedLogsource, datasets_for
from rules.pipelines import cyberwell_pipeline

LANGUAGE = "elasticsearch-lucene"


def compile_rule(rule: SigmaRule, declared: Mapping[str, str] | None = None) -> CompiledQuery:
    """The rule's detection as one Lucene query string, plus where and what it searches.

    ``declared`` gives the kinds of columns the index template was told about beyond
    docs/events.md (``store.elastic_mapping.events_template``); the engine never needs it.
    """
    name = _rule_name(rule)
    if not isinstance(rule, SigmaRule):
        raise RuleConversionError(
            name, "only detection rules compile to a search; correlations are evaluated by the correlator"
        )
    if any("|" in condition for condition in rule.detection.condition):
        raise RuleConversionError(name, LEGACY_AGGREGATION)
    try:
        datasets = datasets_for(rule.logsource)
    except UnsupportedLogsource as error:
        raise RuleConversionError(name, str(error)) from None
    backend = CyberwellLuceneBackend(cyberwell_pipeline(), declared=declared)
    return _converted(rule, name, backend, tuple(datasets))


def compile_generic(rule: SigmaRule, declared: Mapping[str, str]) -> CompiledQuery:
    """A rule over columns named directly, without the logsource pipeline (for tests that make
    their own columns, as tests/test_sigma_semantics.py does for the embedded store)."""
    return _converted(rule, _rule_name(rule), CyberwellLuceneBackend(declared=declared), ())


def _converted(rule: SigmaRule, name: str, backend: CyberwellLuceneBackend, datasets) -> CompiledQuery:
    try:
        queries = backend.convert_rule(_private_copy(rule))
    except (SigmaError, NotImplementedError) as error:
        raise RuleConversionError(name, _reason(error)) from None
    if not queries:
        raise RuleConversionError(name, "the detection converted to no condition")
    query = queries[0] if len(queries) == 1 else " OR ".join(f"({query})" for query in queries)
    return CompiledQuery(
        rule_id=str(rule.id) if rule.id else None,
        title=rule.title,
        query=query,
        datasets=datasets,
        fields=tuple(backend.referenced_fields),
        language=LANGUAGE,
    )
