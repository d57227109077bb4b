"""Reading playbook files: every problem as ``<file>:<line>: <key>: <what was expected>``.

The YAML is composed to nodes first and built into data from them, so the nodes' marks can take
an error's location (``steps, 1, with, user``) back to the line the person has to edit. A file
with a problem is reported and skipped; the other playbooks load. PyYAML keeps the last of two
equal keys silently, so a repeated key is refused here (a step that says ``approval`` twice must
not be read one way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from playbooks.actions.base import Action
from playbooks.definition import DefinitionProblem, Loc, Playbook, shape_problems, step_problems
from playbooks.trigger import resolve_rules

PATTERNS = ("*.yml", "*.yaml")


@dataclass(frozen=True)
class PlaybookProblem:
    """One thing wrong in a playbook file, where to find it and what was expected."""

    file: str
    line: int  # 1-based; 0 when the problem is the file itself (unreadable, missing)
    key: str  # the key path, e.g. ``steps[1].with.user``; empty for the whole document
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.expected}" if self.key else f"{where}: {self.expected}"


def load_playbooks(
    dirs: Iterable[Path], actions: Mapping[str, Action], rule_ids: Mapping[str, str] | None = None
) -> tuple[dict[str, Playbook], list[PlaybookProblem]]:
    """The playbooks in the directories' ``*.yml``/``*.yaml`` files, by id, and the problems found.

    ``actions`` is the registry steps may call. ``rule_ids`` maps each loaded detection rule's id
    and name to its id; given, trigger rules are resolved through it and an unknown one is a
    problem. A playbook id used by an earlier file (directories in order, files by name) is refused.
    """
    playbooks: dict[str, Playbook] = {}
    problems: list[PlaybookProblem] = []
    for directory in dirs:
        directory = Path(directory)
        if not directory.is_dir():
            problems.append(PlaybookProblem(str(directory), 0, "", "expected a directory of playbook files"))
            continue
        files = sorted({path for pattern in PATTERNS for path in directory.glob(pattern)})
        for path in files:
            found, file_problems = load_file(path, actions, rule_ids)
            problems += file_problems
            for playbook, id_line in found:
                if playbook.id in playbooks:
                    earlier = playbooks[playbook.id].source
                    problems.append(
                        PlaybookProblem(
                            str(path),
                            id_line,
                            "id",
                            f"expected an id no other playbook has; {playbook.id!r} is already defined at {earlier}",
                        )
                    )
                else:
                    playbooks[playbook.id] = playbook
    return playbooks, problems


def load_file(
    path: Path, actions: Mapping[str, Action], rule_ids: Mapping[str, str] | None = None
) -> tuple[list[tuple[Playbook, int]], list[PlaybookProblem]]:
    """The valid playbooks of one file (each with the line of its ``id``) and the file's problems."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [], [PlaybookProblem(file, 0, "", f"expected a readable UTF-8 file ({type(error).__name__})")]
    try:
        documents = _documents(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or "not YAML"
        return [], [PlaybookProblem(file, mark.line + 1 if mark else 0, "", f"expected valid YAML: {reason}")]
    found: list[tuple[Playbook, int]] = []
    problems: list[PlaybookProblem] = []
    for node, data in documents:
        doc_problems = _repeated_keys(node)
        playbook = None
        if not doc_problems:
            playbook, doc_problems = _check(data, actions, rule_ids)
        problems += [_place(file, node, problem) for problem in doc_problems]
        if playbook is not None and not doc_problems:
            playbook._source = f"{file}:{_line(node, ())}"
            found.append((playbook, _line(node, ("id",))))
    return found, problems


def _check(
    data: object, actions: Mapping[str, Action], rule_ids: Mapping[str, str] | None
) -> tuple[Playbook | None, list[DefinitionProblem]]:
    if not isinstance(data, dict):
        return None, [DefinitionProblem((), f"expected a playbook (a mapping of keys), got {type(data).__name__}")]
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as error:
        return None, shape_problems(error)
    problems = step_problems(playbook, actions)
    if rule_ids is not None:
        trigger, unknown = resolve_rules(playbook.trigger, rule_ids)
        problems += [
            DefinitionProblem(
                ("trigger", "rules", index), f"expected the id or name of a loaded rule, got {reference!r}"
            )
            for index, reference in unknown
        ]
        playbook = playbook.model_copy(update={"trigger": trigger})
    return playbook, problems


def _documents(text: str) -> list[tuple[Node, object]]:
    """Each document's node and the plain data built from it (safe types only)."""
    loader = yaml.SafeLoader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append((node, loader.construct_document(node)))
        return documents
    finally:
        loader.dispose()


def _repeated_keys(node: Node, path: Loc = ()) -> list[DefinitionProblem]:
    problems = []
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else str(key.value)
            if name in seen:
                problems.append(
                    DefinitionProblem((*path, name), "expected each key once in a mapping; this one repeats")
                )
            seen.add(name)
            problems += _repeated_keys(value, (*path, name))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            problems += _repeated_keys(item, (*path, index))
    return problems


def _place(file: str, node: Node, problem: DefinitionProblem) -> PlaybookProblem:
    return PlaybookProblem(file, _line(node, problem.loc), key_path(problem.loc), problem.expected)


def _line(node: Node, loc: Loc) -> int:
    """The line of the deepest node the location reaches (a key's own line for a mapping entry;
    the mapping that lacks it for a missing key). For a repeated key, the last occurrence."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            entries = [(k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(part)]
            if not entries:
                break
            key, node = entries[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def key_path(loc: Loc) -> str:
    """``("steps", 1, "with", "user")`` as ``steps[1].with.user``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
