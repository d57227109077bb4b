"""A pySigma backend that turns a Sigma detection into one DuckDB SQL boolean expression.

The expression runs over flattened event columns (``"source.ip"``, ``"user.name"``) whose types the
rule cannot know — the same field may be VARCHAR in one segment and BIGINT in another — so every
comparison is written to work on a column of any type, with the type-dependent parts in the macros
of ``store/sql/functions.py`` (``install`` must have run on the connection).

Semantics, chosen to agree with Elasticsearch (keyword fields with a lower-case normaliser, numeric,
boolean and ``ip`` fields), are pinned by tests/rules/test_sigma_semantics.py against a plain-Python
reference:

* Strings are compared with the column's text (``CAST(col AS VARCHAR)``; booleans read
  ``true``/``false``), case-insensitively unless ``|cased``, with ``*``/``?`` as wildcards.
  ``ILIKE`` is used for every case-insensitive string test, so there is one notion of
  case-folding, and it was the fastest form measured against ``lower(col) = 'x'`` and
  ``contains(lower(col), 'x')`` on Parquet. ``ESCAPE '\\'`` is added only when a pattern needs it,
  because it stops DuckDB's fast paths. A list of plain values becomes ``lower(col) IN (...)``,
  which measured faster than one ``ILIKE`` per value.
* A number equals a numeric column holding it, or text that is exactly its decimal form.
* ``|lt``/``|lte``/``|gt``/``|gte`` compare numbers, and text that reads as a plain decimal number.
* ``|re`` is a search (unanchored) with RE2; a pattern RE2 cannot compile is a conversion error
  here rather than a failed run later.
* ``|cidr`` compares the 128-bit address (IPv4 as IPv4-mapped IPv6, as Elasticsearch's ``ip``
  field does) with the network's range, exactly for every prefix length. Cheap text tests run
  first, so only the rows that may be inside the network are parsed as addresses.
* ``null`` and ``|exists`` test for SQL NULL: a field absent from an event is a NULL column.
* Every leaf is two-valued (``coalesce(..., false)``): a NULL column makes a test false, never
  unknown, so ``not filter`` keeps the events that lack the filtered field — as Sigma intends.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import duckdb
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaRegularExpressionError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
)

from store.sql import literals as sql_literals

_IPV4_MAPPED = 0xFFFF << 32


class CyberwellBackendRules:
    """What every Cyberwell backend shares, whichever store it writes for (put first among the
    bases, ahead of the pySigma backend): the columns a rule reads, so that a store can treat a
    missing one as NULL, and the Sigma features refused because the two stores could not agree on
    them — one list, so that a rule refused by one store is refused by the other with the same
    words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.referenced_fields: list[str] = []

    def convert_rule(self, rule: SigmaRule, output_format: str | None = None, callback: Any = None) -> list[Any]:
        self.referenced_fields = []
        return super().convert_rule(rule, output_format, callback)  # type: ignore[misc]

    def _reference(self, field: str) -> None:
        if field not in self.referenced_fields:
            self.referenced_fields.append(field)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {cond.field!r}: the |fieldref modifier (comparing two fields) is not supported:"
            " Elasticsearch cannot evaluate it without scripts, and both stores must agree"
        )

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {cond.field!r}: timestamp-part modifiers (|minute, |hour, |day, |week, |month, |year)"
            " are not supported"
        )

    def _keyword(self, cond: ConditionValueExpression) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"keyword (field-less) detection {str(cond.value)!r} is not supported: name the field to search"
        )

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._keyword(cond)

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._keyword(cond)

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        return self._keyword(cond)


class DuckDBBackend(CyberwellBackendRules, TextQueryBackend):
    """Sigma detection -> DuckDB SQL boolean expression; see the module docstring for semantics."""

    name: ClassVar[str] = "Cyberwell DuckDB SQL"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB SQL boolean expression"}
    requires_pipeline: ClassVar[bool] = False

    # Boolean structure. SQL's precedence (NOT, AND, OR) is Sigma's.
    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "

    # Columns are always quoted identifiers; a '"' inside a name is doubled.
    field_quote: ClassVar[str] = '"'
    field_escape: ClassVar[str] = '"'
    field_escape_quote: ClassVar[bool] = True

    # Values become SQL string literals ('' doubles a quote). In LIKE patterns Sigma's wildcards
    # become % and _, and a literal %, _ or \ is escaped with \.
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"
    like_specials: ClassVar[str] = "%_\\"

    # Leaf templates. {field} is a quoted column; {text} is the column as text.
    text_expression: ClassVar[str] = "CAST({field} AS VARCHAR)"
    like_expression: ClassVar[str] = "coalesce({text} {operator} {pattern}{escape}, false)"
    like_operators: ClassVar[dict[bool, str]] = {False: "ILIKE", True: "LIKE"}  # by |cased
    like_escape: ClassVar[str] = " ESCAPE '\\'"
    cased_eq_expression: ClassVar[str] = "coalesce({text} = {value}, false)"
    convert_or_as_in: ClassVar[bool] = True
    field_in_list_expression: ClassVar[str] = "coalesce(lower({text}) {op} ({list}), false)"
    or_in_operator: ClassVar[str] = "IN"
    list_separator: ClassVar[str] = ", "
    in_list_item: ClassVar[str] = "lower({value})"
    num_expression: ClassVar[str] = "cw_eq_num({field}, {number}, {text_value})"
    bool_expression: ClassVar[str] = "cw_eq_bool({field}, {value})"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"
    re_expression: ClassVar[str] = "coalesce(regexp_matches(CAST({field} AS VARCHAR), {regex}), false)"
    re_escape: ClassVar[list[str]] = []
    re_escape_escape_char: bool = False
    re_flag_prefix: bool = True  # (?i), (?m), (?s) mean the same in RE2 as in Sigma
    # Integers compare exactly as HUGEINT; other numbers (and numeric text) as DOUBLE.
    compare_op_expression: ClassVar[str] = (
        "coalesce(CASE WHEN cw_is_int({field}) THEN TRY_CAST({field} AS HUGEINT) {operator} {value}"
        " ELSE cw_num({field}) {operator} {value} END, false)"
    )
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
    }
    # IPv6 texts (they contain ':', IPv4-mapped ones included) compare as 32 hex digits, IPv4 texts
    # as numbers; each side gets the part of the network's 128-bit range it can fall in.
    cidr_expression: ClassVar[str] = (
        "coalesce(CASE WHEN contains({text}, ':') THEN {ipv6_test} ELSE {ipv4_test} END, false)"
    )
    cidr_ipv6_test: ClassVar[str] = "cw_ipv6_between({field}, '{low}', '{high}')"
    cidr_ipv4_test: ClassVar[str] = "cw_ipv4_between({field}, {low}, {high})"
    # Cheap exact necessary conditions tried first, so that the address parsers run on few rows:
    # a dotted quad in a network of prefix >= 8 starts with the network's whole octets; an IPv6
    # address in a network of prefix >= 16 has that first group, in one of its few spellings; an
    # IPv4-mapped address has an 'ffff' group. (CASE, not AND: inside an expression DuckDB
    # evaluates both sides of an AND, while a CASE branch runs only for its own rows.)
    cidr_prefilter: ClassVar[str] = "CASE WHEN {condition} THEN {test} ELSE false END"
    cidr_ipv4_prefix: ClassVar[str] = "starts_with({text}, {prefix})"
    cidr_ipv6_first_group: ClassVar[str] = "lower(split_part({text}, ':', 1)) IN ({spellings})"
    cidr_ipv4_mapped: ClassVar[str] = "contains(lower({text}), 'ffff')"

    # -- quoting -------------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        self._reference(field_name)
        return super().escape_and_quote_field(field_name)

    @staticmethod
    def quote_literal(text: str) -> str:
        if "\x00" in text:
            raise SigmaFeatureNotSupportedByBackendError("a value contains a NUL character")
        return sql_literals.quote_literal(text)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        """A SigmaString as a quoted LIKE pattern (pySigma's quoting would escape ' with \\)."""
        pattern = s.convert(
            self.escape_char, self.wildcard_multi, self.wildcard_single, self.add_escaped, self.filter_chars
        )
        return self.quote_literal(pattern)

    def convert_value_re(self, r: SigmaRegularExpression, state: ConversionState) -> str:
        pattern = r.escape(self.re_escape, self.re_escape_char, self.re_escape_escape_char, self.re_flag_prefix)
        return self.quote_literal(pattern)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        expression = super().convert_condition_field_eq_val_re(cond, state)
        assert isinstance(expression, str)  # pySigma defers only for backends without re_expression
        _check_re2(cond.field, expression)
        return expression

    def _text(self, field: str) -> str:
        return self.text_expression.format(field=self.escape_and_quote_field(field))

    # -- strings -------------------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_match(cond, state, case_sensitive=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_match(cond, state, case_sensitive=True)

    def _string_match(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState, case_sensitive: bool
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaString)
        text = self._text(cond.field)
        plain = "".join(part for part in value.s if isinstance(part, str))
        if case_sensitive and not value.contains_special():
            return self.cased_eq_expression.format(text=text, value=self.quote_literal(plain))
        return self.like_expression.format(
            text=text,
            operator=self.like_operators[case_sensitive],
            pattern=self.convert_value_str(value, state),
            escape=self.like_escape if any(c in self.like_specials for c in plain) else "",
        )

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        """Only plain case-insensitive strings make an IN list; numbers keep their own test."""
        return super().decide_convert_condition_as_in_expression(cond, state) and all(
            isinstance(arg, ConditionFieldEqualsValueExpression)
            and isinstance(arg.value, SigmaString)
            and not isinstance(arg.value, SigmaCasedString)
            for arg in cond.args
        )

    def convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state: ConversionState) -> str:
        first = cond.args[0]
        assert isinstance(first, ConditionFieldEqualsValueExpression)
        items = []
        for arg in cond.args:
            assert isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(arg.value, SigmaString)
            plain = "".join(part for part in arg.value.s if isinstance(part, str))
            items.append(self.in_list_item.format(value=self.quote_literal(plain)))
        return self.field_in_list_expression.format(
            text=self._text(first.field), op=self.or_in_operator, list=self.list_separator.join(items)
        )

    def convert_condition_field_eq_expansion(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """Always parenthesised: pySigma would write ``not x|windash`` as ``NOT a OR b OR c``."""
        return self.group_expression.format(expr=super().convert_condition_field_eq_expansion(cond, state))

    # -- numbers, booleans, comparisons --------------------------------------------------------

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        return self.num_expression.format(
            field=self.escape_and_quote_field(cond.field),
            number=_number_literal(cond.value),
            text_value=self.quote_literal(str(cond.value)),
        )

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.bool_expression.format(
            field=self.escape_and_quote_field(cond.field), value=self.bool_values[bool(cond.value)]
        )

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        if value.op not in self.compare_operators:
            raise SigmaFeatureNotSupportedByBackendError(
                f"field {cond.field!r}: comparison {value.op.name} is not supported"
            )
        return self.compare_op_expression.format(
            field=self.escape_and_quote_field(cond.field),
            operator=self.compare_operators[value.op],
            value=_number_literal(value.number),
        )

    # -- addresses -----------------------------------------------------------------------------

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        cidr = cond.value
        assert isinstance(cidr, SigmaCIDRExpression)
        network = cidr.network
        low, high = int(network.network_address), int(network.broadcast_address)
        if network.version == 4:
            low, high = _IPV4_MAPPED | low, _IPV4_MAPPED | high
        field = self.escape_and_quote_field(cond.field)
        text = self._text(cond.field)

        ipv6_test = self.cidr_ipv6_test.format(field=field, low=f"{low:032x}", high=f"{high:032x}")
        if network.version == 4:
            ipv6_condition = self.cidr_ipv4_mapped.format(text=text)
        elif network.prefixlen >= 16:
            spellings = ", ".join(self.quote_literal(s) for s in _group_spellings(low >> 112))
            ipv6_condition = self.cidr_ipv6_first_group.format(text=text, spellings=spellings)
        else:
            ipv6_condition = None
        if ipv6_condition:
            ipv6_test = self.cidr_prefilter.format(condition=ipv6_condition, test=ipv6_test)

        # The IPv4 addresses in the range, if any: its overlap with the IPv4-mapped block.
        low4, high4 = max(low, _IPV4_MAPPED), min(high, _IPV4_MAPPED | 0xFFFFFFFF)
        if low4 > high4:
            ipv4_test = "false"
        else:
            ipv4_test = self.cidr_ipv4_test.format(field=field, low=low4 - _IPV4_MAPPED, high=high4 - _IPV4_MAPPED)
            whole_octets = min(network.prefixlen // 8, 3) if network.version == 4 else 0
            if whole_octets:
                prefix = ".".join(str(network.network_address).split(".")[:whole_octets]) + "."
                condition = self.cidr_ipv4_prefix.format(text=text, prefix=self.quote_literal(prefix))
                ipv4_test = self.cidr_prefilter.format(condition=condition, test=ipv4_test)
        return self.cidr_expression.format(text=text, ipv6_test=ipv6_test, ipv4_test=ipv4_test)


def _group_spellings(group: int) -> list[str]:
    """How an IPv6 text may write its first 16-bit group: 1-4 hex digits with leading zeros, and
    nothing at all for a zero group compressed by a leading '::'."""
    digits = format(group, "x")
    spellings = [digits.rjust(width, "0") for width in range(len(digits), 5)]
    return spellings + [""] if group == 0 else spellings


def _number_literal(number: SigmaNumber) -> str:
    """Integers stay exact; other numbers are DOUBLE so that comparisons never go through DECIMAL."""
    if isinstance(number.number, int):
        return str(number.number)
    return f"CAST({number.number!r} AS DOUBLE)"


_re2_lock = threading.Lock()
_re2_connection: duckdb.DuckDBPyConnection | None = None


def _check_re2(field: str, expression: str) -> None:
    """DuckDB's RE2 refuses some Python/PCRE syntax (look-around, back-references): say so now,
    naming the field, rather than fail every run of the rule later. DuckDB compiles a constant
    pattern while binding, so running the expression on one NULL row is enough. One connection is
    kept for this (opening one costs tens of milliseconds)."""
    global _re2_connection
    with _re2_lock:
        if _re2_connection is None:
            _re2_connection = duckdb.connect()
        try:
            _re2_connection.execute(
                f"SELECT {expression} FROM (SELECT NULL::VARCHAR AS {sql_literals.quote_ident(field)})"
            ).fetchall()
        except duckdb.Error as error:
            raise SigmaRegularExpressionError(
                f"field {field!r}: the |re pattern is not one DuckDB's RE2 engine accepts: {error}"
            ) from None
