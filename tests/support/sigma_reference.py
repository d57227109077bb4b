"""A plain-Python reference for what a Sigma detection selects, to test the SQL backend against.

It walks pySigma's parsed detection tree (pySigma has applied the modifiers: a ``|contains`` value
arrives as a string with wildcards, ``|windash`` as an expansion of values) and decides every leaf on
an event — a dict of column -> Python value, where a missing key or None is an absent field — in
ordinary Python, sharing no code with detections/backends/duckdb_backend.py.

The semantics written down here are the ones both stores promise:

* a field's text is its value as text (booleans ``true``/``false``; numbers and timestamps as DuckDB
  prints them); strings match that text whole, case-insensitively (``str.lower`` on both sides)
  unless ``|cased``, with ``*`` any run of characters and ``?`` exactly one;
* a number matches a numeric value equal to it, or text that is exactly its decimal form;
* ``|lt``/``|lte``/``|gt``/``|gte`` compare numbers, and text that is a plain decimal number;
* ``|re`` searches the text (Python's ``re``; tests keep to syntax RE2 reads the same way);
* ``|cidr`` compares 128-bit addresses, an IPv4 address being its IPv4-mapped IPv6 form;
* ``null`` / ``|exists`` look at presence; every other test is false on an absent field, and
  ``not`` is plain two-valued negation.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from datetime import datetime
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

NUMERIC_TEXT = re.compile(r"[+-]?[0-9]{1,20}(\.[0-9]{1,20})?")
_COMPARE = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
}
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_MAPPED = 0xFFFF << 32


class Unsupported(Exception):
    """A construct the stores refuse to compile (the test then expects a conversion error)."""


def selects(rule: SigmaRule, event: dict[str, Any]) -> bool:
    """Does the rule's detection select this event? (Several conditions: any of them.)"""
    return any(_holds(condition.parsed, event) for condition in rule.detection.parsed_condition)


def _holds(node: Any, event: dict[str, Any]) -> bool:
    if isinstance(node, ConditionAND):
        return all(_holds(arg, event) for arg in node.args)
    if isinstance(node, ConditionOR):
        return any(_holds(arg, event) for arg in node.args)
    if isinstance(node, ConditionNOT):
        return not _holds(node.args[0], event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return leaf(event.get(node.field), node.value)
    if isinstance(node, ConditionValueExpression):
        raise Unsupported("keyword detection")
    raise Unsupported(type(node).__name__)


def leaf(value: Any, expected: Any) -> bool:
    """One field test: the event's value of the field against one Sigma value."""
    if isinstance(expected, SigmaExpansion):
        return any(leaf(value, item) for item in expected.values)
    if isinstance(expected, SigmaNull):
        return value is None
    if isinstance(expected, SigmaExists):
        return (value is not None) == bool(expected)
    if value is None:
        if isinstance(
            expected,
            (SigmaString, SigmaNumber, SigmaBool, SigmaRegularExpression, SigmaCIDRExpression, SigmaCompareExpression),
        ):
            return False
        raise Unsupported(type(expected).__name__)
    if isinstance(expected, SigmaString):  # SigmaCasedString included
        return _wildcard_match(expected, text(value), cased=isinstance(expected, SigmaCasedString))
    if isinstance(expected, SigmaBool):
        if isinstance(value, bool):
            return value == expected.boolean
        return text(value).lower() == ("true" if expected.boolean else "false")
    if isinstance(expected, SigmaNumber):
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return value == expected.number
        return text(value) == str(expected.number)
    if isinstance(expected, SigmaCompareExpression):
        number = _as_number(value)
        return number is not None and _COMPARE[expected.op](number, expected.number.number)
    if isinstance(expected, SigmaRegularExpression):
        flags = 0
        for flag in expected.flags:
            flags |= _RE_FLAGS[flag]
        return re.search(str(expected.regexp), text(value), flags) is not None
    if isinstance(expected, SigmaCIDRExpression):
        address = address_128(text(value))
        network = expected.network
        low, high = int(network.network_address), int(network.broadcast_address)
        if network.version == 4:
            low, high = _MAPPED | low, _MAPPED | high
        return address is not None and low <= address <= high
    raise Unsupported(type(expected).__name__)


def text(value: Any) -> str:
    """A value as the stores read it as text (DuckDB's CAST AS VARCHAR)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form, as DuckDB prints a DOUBLE
    if isinstance(value, datetime):
        base = value.strftime("%Y-%m-%d %H:%M:%S")
        return base + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")
    return str(value)


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and NUMERIC_TEXT.fullmatch(value):
        return float(value)
    return None


def _wildcard_match(pattern: SigmaString, subject: str, cased: bool) -> bool:
    regex = []
    for part in pattern.s:
        if part == SpecialChars.WILDCARD_MULTI:
            regex.append(".*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            regex.append(".")
        elif isinstance(part, str):
            regex.append(re.escape(part if cased else part.lower()))
        else:
            raise Unsupported(f"placeholder {part!r}")
    return re.fullmatch("".join(regex), subject if cased else subject.lower(), re.DOTALL) is not None


def address_128(candidate: str) -> int | None:
    """The address as a 128-bit number (IPv4 mapped into IPv6), or None when not an address."""
    if "%" in candidate:  # zone ids are not addresses to the stores
        return None
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return _MAPPED | int(address) if address.version == 4 else int(address)
