"""The awareness metrics' definitions, read from ``definitions.toml``: what each counts, per source.

Definitions are data so an auditor can read them in one file and the report can print each one
beside its figure. The loader is strict: an unknown key, a metric the report cannot compute or a
source Cyberwell does not collect is refused with the file, metric and key named, so a typo
never silently drops a definition from the report.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reports.registry import AwarenessSource

DEFINITIONS_FILE = Path(__file__).with_name("definitions.toml")
#: The metrics the report can compute (reports/awareness/metrics.py holds their SQL).
KNOWN_METRICS = (
    "report_rate",
    "time_to_report",
    "click_rate",
    "credential_rate",
    "compromise_rate",
    "training_completion",
    "repeat_offenders",
)


class DefinitionError(ValueError):
    """A definitions file the report cannot rely on; the message names file, metric and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceDefinition(_Strict):
    numerator: str = Field(min_length=1)
    denominator: str = Field(min_length=1)
    event: str = Field(min_length=1)


class Metric(_Strict):
    id: str
    name: str = Field(min_length=1)
    unit: Literal["rate", "minutes", "count"]
    why: str = Field(min_length=1)
    sources: dict[AwarenessSource, SourceDefinition]

    def for_source(self, source: AwarenessSource) -> SourceDefinition | None:
        """This metric's definition for ``source``; None when the source cannot measure it."""
        return self.sources.get(source)


class Settings(_Strict):
    version: str
    min_group_size: int = Field(ge=2)
    repeat_threshold: int = Field(ge=2)


class Definitions(_Strict):
    settings: Settings
    metric: tuple[Metric, ...]

    def by_id(self) -> Mapping[str, Metric]:
        return {m.id: m for m in self.metric}

    def for_source(self, source: AwarenessSource) -> tuple[Metric, ...]:
        """The metrics ``source`` can measure, in the file's order (the order shown)."""
        return tuple(m for m in self.metric if source in m.sources)


def load_definitions(path: Path = DEFINITIONS_FILE) -> Definitions:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DefinitionError(f"{path.name}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path.name}: is not valid TOML: {exc}") from None
    try:
        found = Definitions.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError("\n".join(_describe(path, data, e) for e in exc.errors())) from None
    problems = [
        f"{path.name}: metric {m.id}: id is not a metric the report computes; expected one of {', '.join(KNOWN_METRICS)}"
        for m in found.metric
        if m.id not in KNOWN_METRICS
    ]
    seen: set[str] = set()
    for m in found.metric:
        if m.id in seen:
            problems.append(f"{path.name}: metric {m.id}: id is used twice")
        seen.add(m.id)
    if problems:
        raise DefinitionError("\n".join(problems))
    return found


def _describe(path: Path, data: dict, error: object) -> str:
    """One pydantic error as ``file: metric <id>: key: what was wrong``."""
    assert isinstance(error, dict)
    where = list(error.get("loc", ()))
    label = ""
    if len(where) >= 2 and where[0] == "metric" and isinstance(where[1], int):
        metrics = data.get("metric") or []
        entry = metrics[where[1]] if where[1] < len(metrics) else {}
        label = f"metric {entry.get('id') or '#' + str(where[1] + 1)}: "
        where = where[2:]
    key = ".".join(str(part) for part in where) or "(top level)"
    return f"{path.name}: {label}{key}: {error.get('msg')}"
