"""What a playbook file says, as a typed record, and the checks that need the actions.

A playbook is checked when it is loaded, not when an incident is under way: the shape of the
file by pydantic, then what only the registry of actions can tell (an action that does not exist,
arguments it refuses, a destructive step without an approval). Both kinds of problem come out as
a location — the path of keys into the file, as pydantic writes it — and what was expected, so
``playbooks.loading`` can turn each into ``<file>:<line>: <key>: <what was expected>``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from playbooks.actions.base import Action
from playbooks.templating import is_templated, template_syntax_problems

#: A location in a playbook file: keys and list positions, as pydantic reports them.
Loc = tuple[int | str, ...]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
#: Longer than this is not a step timeout but a mistake (a missing unit on an hour, say).
MAX_TIMEOUT_SECONDS = 3600.0


def parse_duration(value: object) -> float:
    """``30s``, ``5m``, ``1h``, ``500ms`` or a bare number of seconds, as seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"expected a duration like 30s, 5m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"expected a duration above 0 and at most 1h, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
#: The severities of ``store.state.alert_record.SEVERITIES``, least to most severe.
Severity = Literal["informational", "low", "medium", "high", "critical"]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class Trigger(BaseModel):
    """Which alerts start the playbook. Every criterion given must hold; a list holds if any
    of its items does (any of the rules, any of the tags, any of the values of a field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_severity: Severity | None = None
    #: Alert group keys (``user.name``, ``source.ip``, ``host.name``) and the values they must have;
    #: ``*`` matches any run of characters (``*@council.gov.uk``).
    where: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _says_something(self) -> Trigger:
        # A trigger with nothing in it would start the playbook for every alert, low ones too.
        if not (self.rules or self.tags or self.min_severity or self.where):
            raise ValueError("expected at least one of rules, tags, min_severity or where")
        return self


class Step(BaseModel):
    """One action call. ``with`` values may be Jinja templates over the alert; ``when`` is a
    Jinja expression, and the step is skipped when it is false."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Name
    action: str
    arguments: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = None
    approval: Literal["required", "none"] = "none"
    #: What a denial does: cancel the whole run (the default), or skip this step and go on.
    on_denied: Literal["cancel", "skip"] = "cancel"
    timeout: Duration = 30.0
    retries: int = Field(default=0, ge=0, le=10, strict=True)


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    title: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    #: Automatic runs only describe what they would do until this is false.
    dry_run: bool = False
    trigger: Trigger
    steps: tuple[Step, ...] = Field(min_length=1)

    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        """The file (and line) it was read from, for messages and listings."""
        return self._source

    @property
    def digest(self) -> str:
        """SHA-256 of the definition: a run remembers the one it started with."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"playbook {self.id!r} has no step {name!r}")


@dataclass(frozen=True)
class DefinitionProblem:
    """Something wrong at ``loc`` in a playbook document."""

    loc: Loc
    expected: str


def shape_problems(error: ValidationError) -> list[DefinitionProblem]:
    """Pydantic's errors as locations and what was expected there."""
    problems = []
    details = error.errors(include_url=False)
    for detail in details:
        loc = tuple(detail["loc"])
        # A list whose items failed is also "too short" to pydantic; the items' errors say it all.
        if detail["type"] == "too_short" and any(
            tuple(d["loc"])[: len(loc)] == loc != tuple(d["loc"]) for d in details
        ):
            continue
        if detail["type"] == "extra_forbidden":
            expected = "is not a key here"
        elif detail["type"] == "missing":
            expected = "is missing"
        else:
            message = detail["msg"].removeprefix("Value error, ")
            expected = f"{message} (got {_short(detail['input'])})" if "got" not in message else message
        problems.append(DefinitionProblem(loc, expected))
    return problems


def step_problems(playbook: Playbook, actions: Mapping[str, Action]) -> list[DefinitionProblem]:
    """What is wrong in the steps beyond their shape: a name used twice, a template that does not
    parse, an action the registry lacks, arguments it refuses, a destructive step without approval."""
    problems: list[DefinitionProblem] = []
    seen: set[str] = set()
    for index, step in enumerate(playbook.steps):
        here: Loc = ("steps", index)
        if step.name in seen:
            problems.append(DefinitionProblem((*here, "name"), f"expected a name no other step has, got {step.name!r}"))
        seen.add(step.name)
        if step.when is not None:
            problems += [DefinitionProblem((*here, "when"), p) for p in template_syntax_problems(step.when, True)]
        for key, value in step.arguments.items():
            for path, text in _strings(value, (key,)):
                problems += [DefinitionProblem((*here, "with", *path), p) for p in template_syntax_problems(text)]
        action = actions.get(step.action)
        if action is None:
            known = ", ".join(sorted(actions)) or "none are registered"
            problems.append(
                DefinitionProblem((*here, "action"), f"expected a known action ({known}), got {step.action!r}")
            )
            continue
        if action.destructive and step.approval != "required":
            problems.append(
                DefinitionProblem(
                    (*here, "approval"),
                    f"step {step.name!r} calls {step.action}, which is destructive: expected approval: required",
                )
            )
        problems += [DefinitionProblem((*here, "with", *loc), text) for loc, text in argument_problems(action, step)]
    return problems


def argument_problems(action: Action, step: Step) -> list[tuple[Loc, str]]:
    """The arguments the action's model refuses, judging only values known before rendering.

    A templated value is only known once the alert is there, so a problem at (or below) a
    templated key is left for the run, which validates the rendered arguments again.
    """
    model = action.arguments
    names = {field.alias or name for name, field in model.model_fields.items()}
    problems: list[tuple[Loc, str]] = [
        ((key,), f"is not an argument of {action.name}; expected one of {', '.join(sorted(names))}")
        for key in step.arguments
        if key not in names
    ]
    templated = {key for key, value in step.arguments.items() if any(is_templated(t) for _, t in _strings(value, ()))}
    try:
        model.model_validate(step.arguments)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            loc = tuple(detail["loc"])
            if detail["type"] == "extra_forbidden" or (loc and loc[0] in templated):
                continue
            what = "is missing" if detail["type"] == "missing" else f"{detail['msg']} (got {_short(detail['input'])})"
            problems.append((loc, what))
    return problems


def _strings(value: Any, path: Loc) -> list[tuple[Loc, str]]:
    """Every string inside an argument value, with its path: what templating renders."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list | tuple):
        return [found for index, item in enumerate(value) for found in _strings(item, (*path, index))]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _strings(item, (*path, key))]
    return []


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "DefinitionProblem",
    "Duration",
    "Loc",
    "Playbook",
    "Step",
    "Trigger",
    "step_problems",
    "parse_duration",
    "shape_problems",
]
