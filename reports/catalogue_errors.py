"""How a broken catalogue is reported: each problem names the file, the entry's id and the key.

Pydantic locates an error by position (``requirements, 12, evidence, 0``); the person editing the
file thinks in ids (``requirement UA-07: evidence``), so the positions are translated back through
the raw data. Reading YAML is strict too: PyYAML keeps the last of two equal keys, and an entry
that says ``automatic_fail`` twice must be refused, not silently read one way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic_core import ErrorDetails


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a catalogue: where (``requirement UA-07``), the key, and what."""

    where: str
    key: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key} {self.detail}" if self.key else f"{self.where}: {self.detail}"


class CatalogueError(ValueError):
    """A catalogue that cannot be trusted, with every problem found in it."""

    def __init__(self, file: str, problems: Iterable[Problem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{file}: {problem}" for problem in self.problems))


@dataclass(frozen=True)
class Section:
    """A list section of the catalogue as messages name it: its entries' word and their keys."""

    word: str
    keys: tuple[str, ...]


def read_yaml(text: str, file: str) -> object:
    """The document in ``text``; a syntax error or a repeated key is a :class:`CatalogueError`."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as error:
        raise CatalogueError(file, [_yaml_problem(error)]) from None


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark is not None else "YAML"
    reason = getattr(error, "problem", None) or str(error)
    return Problem(where=where, key=None, detail=f"is not valid YAML: {reason}")


def validation_problems(
    errors: Iterable[ErrorDetails],
    raw: object,
    sections: Mapping[str, Section],
    top_keys: Mapping[str, tuple[str, ...]],
) -> list[Problem]:
    """Pydantic's errors as problems named by entry id and key.

    ``top_keys`` gives the keys of the catalogue itself (``catalogue``) and of its single
    sections (``framework``), so an unknown key's message can list the right ones.
    """
    return [_problem(error, raw, sections, top_keys) for error in errors]


def _problem(
    error: ErrorDetails, raw: object, sections: Mapping[str, Section], top_keys: Mapping[str, tuple[str, ...]]
) -> Problem:
    loc = error["loc"]
    where, rest, keys = _where(loc, raw, sections, top_keys)
    key = ".".join(str(part) for part in rest if not isinstance(part, int)) or None
    # The expected keys are only known for the entry's own level, not for a nested record.
    return Problem(where=where, key=key, detail=_detail(error, keys if len(rest) <= 1 else ()))


def _where(
    loc: tuple[int | str, ...], raw: object, sections: Mapping[str, Section], top_keys: Mapping[str, tuple[str, ...]]
) -> tuple[str, tuple[int | str, ...], tuple[str, ...]]:
    first = loc[0] if loc else None
    if isinstance(raw, Mapping) and isinstance(first, str):
        if first in top_keys and len(loc) > 1:
            return first, loc[1:], top_keys[first]
        section = sections.get(first)
        if section is not None and len(loc) > 1 and isinstance(loc[1], int):
            return f"{section.word} {_entry_id(raw.get(first), loc[1])}", loc[2:], section.keys
    return "catalogue", loc, top_keys.get("catalogue", ())


def _entry_id(entries: object, index: int) -> str:
    """The entry's own id when it has a usable one, else its position (``#4``)."""
    if isinstance(entries, list) and index < len(entries):
        entry = entries[index]
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            return str(entry["id"])
    return f"#{index + 1}"


def _unknown_key(error: ErrorDetails, keys: tuple[str, ...]) -> str:
    return "is not a key this entry may have" + (f"; expected one of {', '.join(keys)}" if keys else "")


_DETAILS: Mapping[str, Callable[[ErrorDetails, tuple[str, ...]], str]] = {
    "missing": lambda error, keys: "is missing",
    # Raised by the closed-list validators with the whole explanation already in it.
    "unknown_name": lambda error, keys: error["msg"],
    "extra_forbidden": _unknown_key,
    # The records keep lists as tuples; the person editing YAML wrote (or should write) a list.
    "tuple_type": lambda error, keys: f"is invalid: expected a list (got {_short(error['input'])})",
}


def _detail(error: ErrorDetails, keys: tuple[str, ...]) -> str:
    explain = _DETAILS.get(error["type"])
    if explain is not None:
        return explain(error, keys)
    return f"is invalid: {error['msg']} (got {_short(error['input'])})"


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
