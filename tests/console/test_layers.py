"""The rooms import one way down, and no two project modules import each other, however indirectly.

The import graph is read from the source (``ast``), every import counted wherever it is written:
a lazy import inside a function is a dependency too. ``LAYERS`` is the order of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Each room and its floor: a module imports its own room and rooms on lower floors only, so two
#: rooms on one floor never import each other.
LAYERS: dict[str, int] = {
    "store": 0,
    "microsoft": 1,
    "rules": 1,
    "scenario": 1,
    "collectors": 2,
    "detections": 2,
    "playbooks": 3,
    "queries": 4,
    "reports": 5,
    "console": 6,
}


def project_modules(root: Path = REPO) -> dict[str, Path]:
    found = {}
    for room in LAYERS:
        for path in (root / room).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                # ``from pkg import sub`` runs pkg/__init__.py too: both are dependencies.
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in graph.items():
        room = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other != room and LAYERS[other] >= LAYERS[room]:
                wrong.append(f"{module} -> {target} ({room} is on floor {LAYERS[room]}, {other} on {LAYERS[other]})")
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_room_has_a_floor():
    rooms = {path.parent.name for path in REPO.glob("*/__init__.py")} - {"tests"}
    assert rooms <= set(LAYERS), f"rooms without a floor in LAYERS: {sorted(rooms - set(LAYERS))}"


def test_no_room_imports_a_room_above_or_beside_it():
    assert upward_imports(import_graph(project_modules())) == []


def test_no_import_cycles_between_project_modules():
    assert cycles(import_graph(project_modules())) == []


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"store/a.py": "from collectors import b\n", "collectors/b.py": ""}, "upward"),
        ({"store/a.py": "def f():\n    from console.c import x\n", "console/c.py": ""}, "upward"),
        ({"collectors/a.py": "import detections.d\n", "detections/d.py": ""}, "upward"),
        ({"collectors/a.py": "from collectors import b\n", "collectors/b.py": "from . import a\n"}, "cycle"),
        (
            {
                "store/a.py": "from store.b import x\n",
                "store/b.py": "from store.c import y\n",
                "store/c.py": "import store.a\n",
            },
            "cycle",
        ),
    ],
)
def test_the_checks_catch_what_they_are_for(tmp_path, files, problem):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    graph = import_graph(project_modules(tmp_path))
    if problem == "upward":
        assert upward_imports(graph)
        assert cycles(graph) == []
    else:
        assert cycles(graph)
