"""A pySigma backend that turns a Sigma detection into one Lucene query string for Elasticsearch.

pySigma's ``LuceneBackend`` writes queries for ECS indices it knows nothing about; Cyberwell's
events index is made by ``store/elastic_mapping.py``, and each Sigma test must select exactly what
the embedded store selects (detections/duckdb_backend.py, pinned by tests/sigma_reference.py). So
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
  ``.cased``/``.text``; what has no exact translation (look-around, back-references, ``\\b``,
  anchors inside the pattern) is refused with the reason;
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
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import (
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaRegularExpressionError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCIDRExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from store.elastic_mapping import CASED, IP, TEXT, field_kind

#: A query that matches no document (Elasticsearch completes a purely negative group with
#: match-all, so this is "everything but everything").
NOTHING = "(NOT *:*)"
_NUMERIC = ("long", "integer", "double")
_INT32 = (-(2**31), 2**31 - 1)
# Characters the query parser reads as syntax, escaped with a backslash in terms and field names.
_QUERY_SPECIALS = set('+-=&|!(){}[]^"~*?:\\/<> \t\n\r\u3000#@%')


def escape_term(text: str) -> str:
    return "".join("\\" + c if c in _QUERY_SPECIALS else c for c in text)


class CyberwellLuceneBackend(LuceneBackend):
    """Sigma detection -> Lucene query string over the events index; see the module docstring."""

    name: ClassVar[str] = "Cyberwell Elasticsearch Lucene"
    requires_pipeline: ClassVar[bool] = False
    parenthesize: bool = True
    convert_or_as_in: ClassVar[bool] = False

    def __init__(self, *args: Any, declared: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = dict(declared or {})
        self.referenced_fields: list[str] = []

    def convert_rule(self, rule: SigmaRule, output_format: str | None = None, callback: Any = None) -> list[Any]:
        self.referenced_fields = []
        return super().convert_rule(rule, output_format, callback)

    # -- fields ---------------------------------------------------------------------------------

    def _kind(self, field: str) -> str:
        if field not in self.referenced_fields:
            self.referenced_fields.append(field)
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

    def convert_condition_field_eq_expansion(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        """The values of ``|windash`` and the like, OR-ed in a group of their own (LuceneBackend's
        version writes an in-list, which would skip the per-kind leaves here)."""
        return self.group_expression.format(expr=TextQueryBackend.convert_condition_field_eq_expansion(self, cond, state))

    # -- strings --------------------------------------------------------------------------------

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
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

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
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

    def convert_condition_field_eq_val_bool(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        kind = self._kind(cond.field)
        word = "true" if cond.value.boolean else "false"
        if kind in ("keyword", "ip", "boolean"):
            return f"{self._on(cond.field)}:{word}"  # a string reads 'true' in any case
        if kind == "stored":
            self._refuse(cond.field, kind, "a boolean test")
        return NOTHING

    def convert_condition_field_compare_op_val(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        field, value = cond.field, cond.value
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

    def convert_condition_field_eq_val_null(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        return f"(NOT {self._exists(cond.field, self._kind(cond.field))})"

    def convert_condition_field_exists(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        return self._exists(cond.field, self._kind(cond.field))

    def convert_condition_field_not_exists(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
        return f"(NOT {self._exists(cond.field, self._kind(cond.field))})"

    def _exists(self, field: str, kind: str) -> str:
        if kind == "stored":
            self._refuse(field, kind, "null or |exists")
        if kind in ("keyword", "ip"):
            # A string longer than the index keeps is still present: it is listed in _ignored.
            return f'(_exists_:{self._on(field)} OR _ignored:"{_quoted(field)}")'
        return f"_exists_:{self._on(field)}"

    # -- regular expressions --------------------------------------------------------------------

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
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

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str:
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

    # -- what is refused, naming the field --------------------------------------------------------

    def convert_condition_field_eq_field(self, cond, state):  # noqa: ANN001
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {cond.field!r}: the |fieldref modifier (comparing two fields) is not supported"
        )

    def convert_condition_field_eq_val_timestamp_part(self, cond, state):  # noqa: ANN001
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {cond.field!r}: timestamp-part modifiers (|minute, |hour, |day, |week, |month, |year)"
            " are not supported"
        )

    def _keyword(self, cond: ConditionValueExpression) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"keyword (field-less) detection {str(cond.value)!r} is not supported: name the field to search"
        )

    def convert_condition_val_str(self, cond, state):  # noqa: ANN001
        return self._keyword(cond)

    def convert_condition_val_num(self, cond, state):  # noqa: ANN001
        return self._keyword(cond)

    def convert_condition_val_re(self, cond, state):  # noqa: ANN001
        return self._keyword(cond)


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


# -- Sigma (RE2) regular expressions -> Lucene regular expressions --------------------------------
#
# Lucene's regexps match the whole term and have no flags; RE2's search a string. A pattern is
# split into its top-level alternatives; each is translated piece by piece and, unless anchored,
# surrounded by '.*'. Flags are applied while translating: (?i) turns letters into classes of
# both cases, without (?s) '.' excludes the newline, (?m) lets '^'/'$' match at line breaks.

_LUCENE_SPECIALS = set('.?+*|{}[]()"\\#@&<>~^$-')  # '/' is escaped last, for the query parser
_SHORTHANDS = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\n\f\r"}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAG_LETTERS = {"i": SigmaRegularExpressionFlag.IGNORECASE, "m": SigmaRegularExpressionFlag.MULTILINE,
                 "s": SigmaRegularExpressionFlag.DOTALL}


def translate_regex(pattern: str, flags=()) -> str:
    """An RE2/Sigma search pattern as an equivalent Lucene regexp; ValueError when there is none."""
    flags = set(flags)
    leading = re.match(r"\(\?([ims]+)\)", pattern)
    if leading:
        flags |= {_FLAG_LETTERS[letter] for letter in leading.group(1)}
        pattern = pattern[leading.end():]
    reader = _RegexReader(pattern, flags)
    branches = reader.alternatives(top=True)
    if reader.position != len(pattern):
        raise ValueError(f"unbalanced ')' at position {reader.position}")
    return "|".join(f"({branch})" for branch in branches)


def _literal(char: str, fold: bool) -> str:
    variants = _case_variants(char) if fold else [char]
    if len(variants) > 1:
        return "[" + "".join(_class_char(v) for v in variants) + "]"
    return "\\" + char if char in _LUCENE_SPECIALS else char


def _case_variants(char: str) -> list[str]:
    found = [char]
    for other in (char.lower(), char.upper(), char.swapcase()):
        if len(other) == 1 and other not in found:
            found.append(other)
    return found


def _class_char(char: str) -> str:
    return "\\" + char if char in _LUCENE_SPECIALS or char in "^-]" else char


class _RegexReader:
    """A recursive-descent reader of the RE2 subset that Lucene can express."""

    def __init__(self, pattern: str, flags: set):
        self.p, self.position = pattern, 0
        self.fold = SigmaRegularExpressionFlag.IGNORECASE in flags
        self.dotall = SigmaRegularExpressionFlag.DOTALL in flags
        self.multiline = SigmaRegularExpressionFlag.MULTILINE in flags

    def peek(self) -> str | None:
        return self.p[self.position] if self.position < len(self.p) else None

    def take(self) -> str:
        char = self.p[self.position]
        self.position += 1
        return char

    def alternatives(self, top: bool) -> list[str]:
        branches = [self.branch(top)]
        while self.peek() == "|":
            self.take()
            branches.append(self.branch(top))
        return branches

    def branch(self, top: bool) -> str:
        anchored_start = anchored_end = False
        if top and self.peek() == "^":
            self.take()
            anchored_start = "multiline" if self.multiline else True
        elif top and self.p.startswith("\\A", self.position):
            self.position += 2
            anchored_start = True
        pieces = []
        while self.peek() is not None and self.peek() not in "|)":
            if top and self.peek() == "$" and self._ends_branch(self.position + 1):
                self.take()
                anchored_end = "multiline" if self.multiline else True
                break
            if top and self.p.startswith("\\z", self.position) and self._ends_branch(self.position + 2):
                self.position += 2
                anchored_end = True
                break
            pieces.append(self.piece())
        body = "".join(pieces)
        if not top:
            return body
        prefix = {False: ".*", True: "", "multiline": "(.*\n)?"}[anchored_start]
        suffix = {False: ".*", True: "", "multiline": "(\n.*)?"}[anchored_end]
        return f"{prefix}({body}){suffix}" if body else (prefix + suffix if prefix + suffix else '""')

    def _ends_branch(self, index: int) -> bool:
        return index >= len(self.p) or self.p[index] == "|"

    def piece(self) -> str:
        atom = self.atom()
        char = self.peek()
        quantifier = ""
        if char in ("*", "+", "?"):
            quantifier = self.take()
        elif char == "{":
            match = _QUANTIFIER.match(self.p, self.position)
            if match:
                low, comma, high = match.group(1), match.group(2), match.group(3)
                if comma and high and int(high) < int(low):
                    raise ValueError(f"bad repetition {match.group(0)}")
                quantifier = match.group(0)
                self.position = match.end()
        if quantifier:
            if self.peek() == "?":
                self.take()  # lazy or greedy select the same strings
            elif self.peek() == "+":
                raise ValueError("possessive quantifiers are not RE2 syntax")
            if self.peek() in ("*", "+", "?") or (self.peek() == "{" and _QUANTIFIER.match(self.p, self.position)):
                raise ValueError("a repeated quantifier")
            return f"({atom}){quantifier}" if len(atom) > 1 and not atom.startswith("[") else atom + quantifier
        return atom

    def atom(self) -> str:
        char = self.take()
        if char == ".":
            return "." if self.dotall else "[^\n]"
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group()
        if char == "\\":
            return self.escape()
        if char in "^$":
            raise ValueError(f"the anchor {char!r} is only translated at the start or end of the pattern")
        if char in "*+?":
            raise ValueError(f"nothing to repeat at position {self.position - 1}")
        if char == "{" and _QUANTIFIER.match(self.p, self.position - 1):
            raise ValueError(f"nothing to repeat at position {self.position - 1}")
        return _literal(char, self.fold)

    def group(self) -> str:
        if self.p.startswith("?:", self.position):
            self.position += 2
        elif self.p.startswith("?P<", self.position) or (
            self.p.startswith("?<", self.position) and self.p[self.position + 2: self.position + 3] not in ("=", "!")
        ):
            end = self.p.find(">", self.position)
            if end < 0:
                raise ValueError("unterminated group name")
            self.position = end + 1
        elif self.peek() == "?":
            raise ValueError("look-around and inline flags inside the pattern have no Lucene equivalent")
        inner = self.alternatives(top=False)
        if self.peek() != ")":
            raise ValueError("missing ')'")
        self.take()
        return "(" + "|".join(branch or '""' for branch in inner) + ")"

    def escape(self) -> str:
        if self.peek() is None:
            raise ValueError("a trailing backslash")
        char = self.take()
        if char.lower() in _SHORTHANDS:
            return ("[^" if char.isupper() else "[") + _class_body(_SHORTHANDS[char.lower()]) + "]"
        if char in _CHAR_ESCAPES:
            return _literal(_CHAR_ESCAPES[char], self.fold)
        if char in "xu":
            return _literal(self.code_point(char), self.fold)
        if char.isalnum():
            raise ValueError(f"the escape \\{char} has no Lucene equivalent")
        return _literal(char, self.fold)

    def code_point(self, kind: str) -> str:
        if kind == "x" and self.peek() == "{":
            end = self.p.find("}", self.position)
            digits, self.position = self.p[self.position + 1: end], end + 1
        else:
            width = 2 if kind == "x" else 4
            digits = self.p[self.position: self.position + width]
            self.position += width
        try:
            return chr(int(digits, 16))
        except ValueError:
            raise ValueError(f"bad escape \\{kind}{digits}") from None

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.take()
        items: list[tuple[str, str]] = []  # (low, high) ranges
        parts: list[str] = []
        first = True
        while True:
            if self.peek() is None:
                raise ValueError("missing ']'")
            char = self.take()
            if char == "]" and not first:
                break
            first = False
            if char == "[" and self.peek() == ":":
                raise ValueError("POSIX classes ([:alpha:]) are not translated")
            if char == "\\":
                escaped = self.take() if self.peek() is not None else ""
                if escaped.lower() in _SHORTHANDS:
                    if escaped.isupper():
                        raise ValueError(f"\\{escaped} inside a class has no Lucene equivalent")
                    parts.append(_class_body(_SHORTHANDS[escaped]))
                    continue
                char = _CHAR_ESCAPES.get(escaped) or (self.code_point(escaped) if escaped in "xu" else escaped)
                if escaped.isalnum() and escaped not in _CHAR_ESCAPES and escaped not in "xu":
                    raise ValueError(f"the escape \\{escaped} has no Lucene equivalent")
            low = char
            if self.peek() == "-" and self.p[self.position + 1: self.position + 2] not in ("]", ""):
                self.take()
                high = self.take()
                if high == "\\":
                    escaped = self.take()
                    high = _CHAR_ESCAPES.get(escaped) or (self.code_point(escaped) if escaped in "xu" else escaped)
                if ord(high) < ord(low):
                    raise ValueError(f"bad range {low}-{high}")
                items.append((low, high))
            else:
                items.append((low, low))
        if self.fold:
            items += self._folded(items)
        body = "".join(_class_char(low) if low == high else f"{_class_char(low)}-{_class_char(high)}"
                       for low, high in items) + "".join(parts)
        return ("[^" if negated else "[") + body + "]"

    @staticmethod
    def _folded(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        extra = []
        for low, high in items:
            if ord(high) - ord(low) > 0x3000:
                raise ValueError("a case-insensitive class range too wide to translate")
            for code in range(ord(low), ord(high) + 1):
                for variant in _case_variants(chr(code))[1:]:
                    extra.append((variant, variant))
        return extra


def _class_body(chars: str) -> str:
    """Shorthand class contents; only '0-9'-style ranges are written as ranges."""
    out, index = [], 0
    while index < len(chars):
        if index + 2 < len(chars) and chars[index + 1] == "-":
            out.append(f"{_class_char(chars[index])}-{_class_char(chars[index + 2])}")
            index += 3
        else:
            out.append(_class_char(chars[index]))
            index += 1
    return "".join(out)
