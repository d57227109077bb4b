"""A pySigma backend that turns a Sigma detection into one Lucene query string for Elasticsearch.

pySigma's ``LuceneBackend`` writes queries for ECS indices it knows nothing about; Cyberwell's
events index is made by ``store/elastic/mapping.py``, and each Sigma test must select exactly what
the embedded store selects (detections/backends/duckdb_backend.py, pinned by tests/support/sigma_reference.py). So
every leaf here asks the mapping how its field is indexed (``field_kind``) and picks the sub-field
and query that give the embedded store's answer:

* strings: the ``lowercase``-normalised keyword for case-insensitive equality and wildcards,
  ``.cased`` for ``|cased``; on a number or boolean column, ``.text`` (its JSON text, which is
  lower-case, so case-insensitive patterns are lower-cased here);
* numbers: term and range queries on numeric columns; on a string column a number equals its exact
  decimal text (``.cased``); ``|lt``/``|gt`` on a string column is refused (the embedded store
  compares numeric text as numbers, which a keyword range cannot), on a boolean or a time never
  holds;
* ``|re``: the Sigma regex (RE2 syntax, a search) translated into Lucene's anchored syntax on
  ``.cased``/``.text`` (detections/backends/lucene_regex.py); what has no exact translation (look-around,
  back-references, ``\\b``, anchors inside the pattern) is refused with the reason;
* ``|cidr``: a term query on the ``.ip`` sub-field of address columns. Elasticsearch also reads
  an address with an IPv6 zone id (``fe80::1%eth0``), which the embedded store does not, so those
  values are excluded;
* ``null`` / ``|exists``: ``_exists_``, or ``_ignored`` for a string too long to index;
* a test that can never hold on the column's type (a boolean on a number) becomes a query that
  matches nothing, so that ``not`` around it behaves as on the embedded store.

Lucene's query parser has no operator precedence worth the name (``a OR NOT b`` means ``a AND NOT
b``), so every ``and``, ``or`` and ``not`` is put in its own parentheses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaRegularExpressionError
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from detections.backends.duckdb_backend import CyberwellBackendRules
from detections.backends.lucene_regex import translate_regex
from store.elastic.mapping import CASED, IP, TEXT, field_kind

#: A query that matches no document (Elasticsearch completes a purely negative group with
#: match-all, so this is "everything but everything").
NOTHING = "(NOT *:*)"
_NUMERIC = ("long", "integer", "double")
_INT32 = (-(2**31), 2**31 - 1)
# Characters the query parser reads as syntax, escaped with a backslash in terms and field names.
_QUERY_SPECIALS = set('+-=&|!(){}[]^"~*?:\\/<> \t\n\r\u3000#@%')


def escape_term(text: str) -> str:
    return "".join("\\" + c if c in _QUERY_SPECIALS else c for c in text)


# LuceneBackend annotates convert_condition_field_eq_field's ``cond`` as SigmaFieldReference, but
# pySigma calls it with the ConditionFieldEqualsValueExpression its base class declares (and ours takes).
class CyberwellLuceneBackend(CyberwellBackendRules, LuceneBackend):  # type: ignore[misc]
    """Sigma detection -> Lucene query string over the events index; see the module docstring."""

    name: ClassVar[str] = "Cyberwell Elasticsearch Lucene"
    requires_pipeline: ClassVar[bool] = False
    parenthesize: bool = True
    convert_or_as_in: ClassVar[bool] = False

    def __init__(self, *args: Any, declared: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = dict(declared or {})

    # -- fields ---------------------------------------------------------------------------------

    def _kind(self, field: str) -> str:
        self._reference(field)
        return field_kind(field, self.declared)

    def escape_and_quote_field(self, field_name: str) -> str:
        return escape_term(field_name)

    def _on(self, field: str, sub: str | None = None) -> str:
        return escape_term(field if sub is None else f"{field}.{sub}")

    def _refuse(self, field: str, kind: str, what: str) -> None:
        reasons = {
            "date": "it is a time, indexed as a date: only null and |exists apply",
            # 1e16 may be written 1e+16, 1e16 or 10000000000000000.0: its text is not the data's.
            "double": "the text of a floating-point number depends on how it was written",
            "stored": "it is kept for reading only and not indexed on Elasticsearch",
        }
        reason = reasons.get(kind, f"it is indexed as {kind}")
        raise SigmaFeatureNotSupportedByBackendError(f"field {field!r}: {what} is not supported: {reason}")

    # -- boolean structure ------------------------------------------------------------------------

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        """Always ``(NOT x)``: a bare ``NOT`` inside an ``OR`` would turn the ``OR`` into an
        ``AND NOT``. (LuceneBackend's own version rewrites ``not null`` to ``_exists_``, which the
        null and exists leaves here already write for the mapping.)"""
        inner = TextQueryBackend.convert_condition_not(self, cond, state)
        return f"({inner})"

    def compare_precedence(self, outer, inner) -> bool:  # noqa: ANN001 - pySigma's signature
        """pySigma's rule (``parenthesize``: group everything), without LuceneBackend's null
        special case, which assumed its own null expression."""
        return TextQueryBackend.compare_precedence(self, outer, inner)

    def convert_condition_field_eq_expansion(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """The values of ``|windash`` and the like, OR-ed in a group of their own (LuceneBackend's
        version writes an in-list, which would skip the per-kind leaves here)."""
        return self.group_expression.format(
            expr=TextQueryBackend.convert_condition_field_eq_expansion(self, cond, state)
        )

    # -- strings --------------------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string(cond, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string(cond, cased=True)

    def _string(self, cond: ConditionFieldEqualsValueExpression, cased: bool) -> str:
        field, value = cond.field, cond.value
        assert isinstance(value, SigmaString)
        kind = self._kind(field)
        if value.s and all(part == SpecialChars.WILDCARD_MULTI for part in value.s):
            return self._exists(field, kind)  # '*' is any text, which every present value has
        if kind in ("date", "stored", "double"):
            self._refuse(field, kind, "a string test")
        if kind in ("keyword", "ip"):
            target, fold = self._on(field, CASED if cased else None), False
        else:  # the JSON text of a number or boolean, lower-case already
            target, fold = self._on(field, TEXT), not cased
        pattern = _pattern(value, fold)
        if not pattern:
            # An empty string: the query parser has no empty term, the regexp language has.
            return f'{self._on(field, CASED if kind in ("keyword", "ip") else TEXT)}:/""/'
        return f"{target}:{pattern}"

    # -- numbers, booleans, comparisons ---------------------------------------------------------

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field, value = cond.field, cond.value
        assert isinstance(value, SigmaNumber)
        kind = self._kind(field)
        number = value.number
        if kind in ("keyword", "ip"):
            return f"{self._on(field, CASED)}:{escape_term(str(value))}"
        if kind == "stored":
            self._refuse(field, kind, "a number test")
        if kind not in _NUMERIC:
            return NOTHING  # a boolean or a time never equals a number
        if kind == "double":
            low = "\\-0.0" if number == 0 else _num(number)
            return f"{self._on(field)}:[{low} TO {_num(number)}]"  # -0.0 equals 0 too
        if number != int(number) or (kind == "integer" and not _INT32[0] <= number <= _INT32[1]):
            return NOTHING
        return f"{self._on(field)}:{_num(int(number))}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        kind = self._kind(cond.field)
        assert isinstance(cond.value, SigmaBool)
        word = "true" if cond.value.boolean else "false"
        if kind in ("keyword", "ip", "boolean"):
            return f"{self._on(cond.field)}:{word}"  # a string reads 'true' in any case
        if kind == "stored":
            self._refuse(cond.field, kind, "a boolean test")
        return NOTHING

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field, value = cond.field, cond.value
        assert isinstance(value, SigmaCompareExpression)
        kind = self._kind(field)
        if kind in ("keyword", "ip", "stored"):
            self._refuse(field, kind, f"the comparison |{value.op.name.lower()}")
        if kind not in _NUMERIC:
            return NOTHING  # booleans and times are not numbers to the embedded store either
        number = value.number.number
        if kind == "integer" and not _INT32[0] <= number <= _INT32[1]:
            # Elasticsearch refuses such a bound on an integer field; the answer is known.
            below = value.op in (CompareOperators.LT, CompareOperators.LTE)
            return self._exists(field, kind) if below == (number > 0) else NOTHING
        text = _num(number)
        if kind == "double" and number == 0:
            # Lucene orders -0.0 below 0.0; Sigma (and the embedded store) holds them equal.
            text = "\\-0.0" if value.op in (CompareOperators.LT, CompareOperators.GTE) else "0.0"
        ranges = {
            CompareOperators.LT: f"{{* TO {text}}}",
            CompareOperators.LTE: f"[* TO {text}]",
            CompareOperators.GT: f"{{{text} TO *]",
            CompareOperators.GTE: f"[{text} TO *]",
        }
        return f"{self._on(field)}:{ranges[value.op]}"

    # -- null and exists ------------------------------------------------------------------------

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"(NOT {self._exists(cond.field, self._kind(cond.field))})"

    def convert_condition_field_exists(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        return self._exists(cond.field, self._kind(cond.field))

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"(NOT {self._exists(cond.field, self._kind(cond.field))})"

    def _exists(self, field: str, kind: str) -> str:
        if kind == "stored":
            self._refuse(field, kind, "null or |exists")
        if kind in ("keyword", "ip"):
            # A string longer than the index keeps is still present: it is listed in _ignored.
            return f'(_exists_:{self._on(field)} OR _ignored:"{_quoted(field)}")'
        return f"_exists_:{self._on(field)}"

    # -- regular expressions --------------------------------------------------------------------

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field, value = cond.field, cond.value
        assert isinstance(value, SigmaRegularExpression)
        kind = self._kind(field)
        if kind in ("date", "stored", "double"):
            self._refuse(field, kind, "|re")
        try:
            lucene = translate_regex(str(value.regexp), value.flags)
        except ValueError as error:
            raise SigmaRegularExpressionError(
                f"field {field!r}: the |re pattern has no exact Lucene translation: {error}"
            ) from None
        target = self._on(field, CASED if kind in ("keyword", "ip") else TEXT)
        return f"{target}:/{lucene.replace('/', chr(92) + '/')}/"

    # -- addresses ------------------------------------------------------------------------------

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field, value = cond.field, cond.value
        assert isinstance(value, SigmaCIDRExpression)
        kind = self._kind(field)
        if kind == "keyword":
            raise SigmaFeatureNotSupportedByBackendError(
                f"field {field!r}: |cidr needs an address column (named like source.ip or *ip),"
                " which the Elasticsearch index gives an ip sub-field"
            )
        if kind != "ip":
            if kind == "stored":
                self._refuse(field, kind, "|cidr")
            return NOTHING  # no number, boolean or time text is an address
        network = escape_term(str(value.network))
        return f"({self._on(field, IP)}:{network} AND (NOT {self._on(field, CASED)}:*%*))"


def _pattern(value: SigmaString, fold: bool) -> str:
    """A Sigma string as a query-parser term: wildcards kept, everything else escaped."""
    out = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        elif isinstance(part, str):
            out.append(escape_term(part.lower() if fold else part))
        else:
            raise SigmaFeatureNotSupportedByBackendError(f"placeholder {part!r} was not replaced")
    return "".join(out)


def _num(number: int | float) -> str:
    if isinstance(number, float) and not math.isfinite(number):
        raise SigmaFeatureNotSupportedByBackendError(f"the number {number!r} cannot be searched")
    return escape_term(repr(number) if isinstance(number, float) else str(number))


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
