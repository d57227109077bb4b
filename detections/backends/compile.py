"""Compile one Sigma rule into what the embedded store runs: a DuckDB boolean expression.

This is where a rule is refused, with a reason a person can act on: an error names the rule (title
and id) and what in it could not be honoured (the field, modifier or logsource). Refusing is always
better than a search that silently never matches.

The checks and the conversion are the same for every store: ``compile_for`` takes the store's
``QueryLanguage`` (its backend and joining syntax, as data); detections/backends/compile_es.py passes
Elasticsearch's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from sigma.conversion.base import TextQueryBackend
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from detections.backends.duckdb_backend import DuckDBBackend
from rules.logsources import UnsupportedLogsource, datasets_for
from rules.pipelines import cyberwell_pipeline


@dataclass(frozen=True)
class CompiledQuery:
    rule_id: str | None
    title: str
    # The search in the store's own language: here a DuckDB boolean expression over flattened
    # event columns (needs store.sql.functions); detections/backends/compile_es.py writes Lucene.
    query: str
    datasets: tuple[str, ...]  # the event.dataset values to search
    fields: tuple[str, ...]  # the columns the expression reads (a missing one must read as NULL)
    language: str = "duckdb-sql"  # the store.query_language the query is written in

    @property
    def sql(self) -> str:
        """The DuckDB expression (the name the embedded store's callers know it by)."""
        if self.language != "duckdb-sql":
            raise AttributeError(f"a {self.language} query has no SQL")
        return self.query


class RuleConversionError(ValueError):
    """A rule that cannot be compiled; ``str()`` names the rule and the reason."""

    def __init__(self, rule_name: str, reason: str):
        self.rule_name = rule_name
        self.reason = reason
        super().__init__(f"rule {rule_name}: {reason}")


LEGACY_AGGREGATION = "the legacy `| count()` aggregation is not supported; use a Sigma correlation rule"


def _rule_name(rule: SigmaRule) -> str:
    """``'Title' (id)`` — how errors and logs name a rule."""
    return f"{rule.title!r} ({rule.id})" if rule.id else repr(rule.title)


@dataclass(frozen=True)
class QueryLanguage:
    """What one store's compiler is, as data (pySigma style: a backend configured, not subclassed
    compilers): the refusals, logsource table and pipeline are the same for every store, so only
    these differ between detections/backends/compile.py and detections/backends/compile_es.py."""

    name: str  # the store.query_language the queries are written in
    # Makes a fresh backend (it keeps per-rule state) for a processing pipeline, or None when a
    # rule names its columns directly; the backend must offer ``referenced_fields``.
    backend: Callable[[ProcessingPipeline | None], TextQueryBackend]
    # How the queries of a rule with several conditions (one query each) become one.
    any_of: str = " OR "
    group: str = "({query})"


DUCKDB_SQL = QueryLanguage(name="duckdb-sql", backend=DuckDBBackend)


def compile_rule(rule: SigmaRule) -> CompiledQuery:
    """The rule's detection as one SQL boolean expression, plus where and what it searches."""
    return compile_for(rule, DUCKDB_SQL)


def compile_for(rule: SigmaRule, language: QueryLanguage) -> CompiledQuery:
    """The rule's detection as one query in ``language``, after the checks every store shares:
    correlations and the legacy aggregation are refused, and the logsource must name datasets."""
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
    return convert(rule, language, cyberwell_pipeline(), tuple(datasets))


def convert(
    rule: SigmaRule,
    language: QueryLanguage,
    pipeline: ProcessingPipeline | None = None,
    datasets: tuple[str, ...] = (),
) -> CompiledQuery:
    """Only the conversion, without the logsource checks: for tests whose rules name the columns
    they make (``compile_generic`` in compile_es.py); pySigma's errors become a named refusal."""
    name = _rule_name(rule)
    backend = language.backend(pipeline)
    try:
        queries = backend.convert_rule(_private_copy(rule))
    except (SigmaError, NotImplementedError) as error:
        raise RuleConversionError(name, _reason(error)) from None
    if not queries:
        raise RuleConversionError(name, "the detection converted to no condition")
    if len(queries) == 1:
        query = queries[0]
    else:
        query = language.any_of.join(language.group.format(query=query) for query in queries)
    return CompiledQuery(
        rule_id=str(rule.id) if rule.id else None,
        title=rule.title,
        query=query,
        datasets=datasets,
        fields=tuple(backend.referenced_fields),  # type: ignore[attr-defined]
        language=language.name,
    )


def _private_copy(rule: SigmaRule) -> SigmaRule:
    """A copy to transform: pipelines rewrite the rule in place, and the caller keeps theirs.

    Correlation rules that reference this rule are shared rather than copied; the copy is marked
    as an output rule so that conversion returns its query even when a correlation uses it with
    ``generate: false``.
    """
    shared = {id(reference): reference for reference in rule._backreferences}
    work = copy.deepcopy(rule, shared)
    work._backreferences = []
    work._output = True
    return work


def _reason(error: Exception) -> str:
    # pySigma appends " (while converting rule <path>)" to some errors; the rule is named already.
    text = str(error)
    marker = " (while "
    return text.split(marker)[0] if marker in text else text
