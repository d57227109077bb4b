"""Correlation conditions: one bound or a range, as a rule file writes them, in Python and SQL.

``detections.correlate`` evaluates windows with these; they live apart because reading what a
rule file wrote (``parse_condition``) is its own job: pySigma 1.5.1 refuses a range (``gte: 10,
lte: 20``) and reads every limit with ``int()`` (``gte: 2.5`` would become 2), so the loader hands
the condition mapping from the file to ``parse_condition`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The comparisons a condition may make, and how SQL writes each.
_SQL_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}


class UnsupportedCorrelation(ValueError):
    """A correlation this engine will not evaluate; the message says what and why."""


#: The bounds a range may combine: one lower and one upper (``gte: 10, lte: 20``).
_LOWER = ("gt", "gte")
_UPPER = ("lt", "lte")


@dataclass(frozen=True)
class Condition:
    """``op count`` (``gte: 10``), or a range when ``upper`` gives its other end (``gte: 10,
    lte: 20``): every bound must hold. ``count`` may be a fraction (an average, a percentile)."""

    op: str  # gt, gte, lt, lte, eq, neq
    count: float
    upper: tuple[str, float] | None = None  # (lt|lte, limit): the range's upper end

    def __post_init__(self) -> None:
        if self.op not in _SQL_OPS:
            raise UnsupportedCorrelation(f"unknown condition operator {self.op!r}")
        for _, limit in self.bounds:
            if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
                raise UnsupportedCorrelation(f"condition limit {limit!r} is not a finite number")
        if self.upper is not None and (self.op not in _LOWER or self.upper[0] not in _UPPER):
            raise UnsupportedCorrelation(
                "a range condition combines one lower bound (gt or gte) with one upper bound (lt or lte),"
                f" not {self.op} with {self.upper[0]}"
            )

    @property
    def bounds(self) -> tuple[tuple[str, float], ...]:
        return ((self.op, self.count),) if self.upper is None else ((self.op, self.count), self.upper)

    @property
    def grows_with_events(self) -> bool:
        """True when more events can only keep the condition true (so partial windows may fire):
        a count only grows, so only lower bounds qualify; a range has an upper bound."""
        return self.upper is None and self.op in _LOWER

    @property
    def lower(self) -> Condition | None:
        """The lower bound alone, when there is one: what a count must reach somewhere."""
        return Condition(self.op, self.count) if self.op in _LOWER else None

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` satisfies every bound; no value (an average of nothing) never does."""
        if value is None:
            return False
        return all(_holds(op, value, limit) for op, limit in self.bounds)

    def sql(self, expression: str) -> str:
        """The condition over a SQL ``expression``; NULL (no value) is false, as in ``holds``."""
        tests = [f"{expression} {_SQL_OPS[op]} {_number_sql(limit)}" for op, limit in self.bounds]
        return f"coalesce({' AND '.join(tests)}, false)"


def _holds(op: str, value: float, limit: float) -> bool:
    return {
        "gt": value > limit,
        "gte": value >= limit,
        "lt": value < limit,
        "lte": value <= limit,
        "eq": value == limit,
        "neq": value != limit,
    }[op]


def _number_sql(limit: float) -> str:
    """A limit as a SQL literal: an integer stays exact; a fraction is a DOUBLE."""
    return str(int(limit)) if isinstance(limit, int) else f"CAST({float(limit)!r} AS DOUBLE)"


def parse_condition(condition: Mapping[str, Any]) -> tuple[Condition, str | list[str] | None, float | None]:
    """A correlation's condition mapping as written (``{field: X, gte: 10, lte: 20, percentile:
    95}``) -> the condition, its field and its percentile.

    pySigma 1.5.1 refuses a range and reads every limit with ``int()`` (``gte: 2.5`` would become
    2), so the loader gives this the mapping from the rule file instead.
    """
    unknown = sorted(set(map(str, condition)) - {*_SQL_OPS, "field", "percentile"})
    if unknown:
        raise UnsupportedCorrelation(f"condition has unknown items: {', '.join(unknown)}")
    limits = {op: _limit(op, condition[op]) for op in _SQL_OPS if op in condition}
    if not limits:
        raise UnsupportedCorrelation(f"condition needs one of {', '.join(_SQL_OPS)}")
    lower = [op for op in limits if op in _LOWER]
    upper = [op for op in limits if op in _UPPER]
    if len(limits) == 1:
        ((op, limit),) = limits.items()
        parsed = Condition(op, limit)
    elif len(limits) == 2 and len(lower) == 1 and len(upper) == 1:
        parsed = Condition(lower[0], limits[lower[0]], (upper[0], limits[upper[0]]))
    else:
        raise UnsupportedCorrelation(
            f"condition combines {', '.join(limits)}: a range is one lower bound (gt or gte)"
            " and one upper bound (lt or lte)"
        )
    percentile = condition.get("percentile")
    if percentile is not None:
        percentile = _limit("percentile", percentile)
    return parsed, condition.get("field"), percentile


def _limit(name: str, value: Any) -> float:
    """A number as written in YAML; text that reads as one is accepted (``gte: "10"``)."""
    if isinstance(value, bool):
        raise UnsupportedCorrelation(f"condition {name}: {value!r} is not a number")
    if isinstance(value, int | float):
        number: float = value
    else:
        try:
            number = int(str(value))
        except ValueError:
            try:
                number = float(str(value))
            except ValueError:
                raise UnsupportedCorrelation(f"condition {name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise UnsupportedCorrelation(f"condition {name}: {value!r} is not a finite number")
    return number
