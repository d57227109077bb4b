"""Compile one Sigma rule into what the embedded store runs: a DuckDB boolean expression.

This is where a rule is refused, with a reason a person can act on: an error names the rule (title
and id) and what in it could not be honoured (the field, modifier or logsource). Refusing is always
better than a search that silently never matches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detections.duckdb_backend import DuckDBBackend
from rules.logsources import UnsupportedLogsource, datasets_for
from rules.pipelines import cyberwell_pipeline


@dataclass(frozen=True)
class CompiledQuery:
    rule_id: str | None
    title: str
    # The search in the store's own language: here a DuckDB boolean expression over flattened
    # event columns (needs store.sql_functions); detections/compile_es.py writes Lucene.
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


def compile_rule(rule: SigmaRule) -> CompiledQuery:
    """The rule's detection as one SQL boolean expression, plus where and what it searches."""
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

    backend = DuckDBBackend(cyberwell_pipeline())
    try:
        queries = backend.convert_rule(_private_copy(rule))
    except (SigmaError, NotImplementedError) as error:
        raise RuleConversionError(name, _reason(error)) from None
    if not queries:
        raise RuleConversionError(name, "the detection converted to no condition")
    sql = queries[0] if len(queries) == 1 else " OR ".join(f"({query})" for query in queries)
    return CompiledQuery(
        rule_id=str(rule.id) if rule.id else None,
        title=rule.title,
        query=sql,
        datasets=tuple(datasets),
        fields=tuple(backend.referenced_fields),
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
