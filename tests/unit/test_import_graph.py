"""kbench's modules import each other without a cycle (issue 15).

The graph is built from the source with :mod:`ast`: every ``import`` and ``from ... import`` of a
kbench or policies module counts, at module level, inside functions (lazy imports) and under
``if TYPE_CHECKING:`` alike, so a cycle cannot hide behind a function-local import. An edge goes to
the most specific module named (``from kbench.cluster.objects import core`` → the submodule, ``from
kbench.config import Scenario`` → the package ``kbench.config``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kbench", "policies")


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" for a in node.names] + [target]


def import_graph() -> dict[str, set[str]]:
    """Module name → the kbench/policies modules it imports anywhere in its source."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = _imported(node, name, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):  # "from X import a": a submodule X.a if it exists, else X
                subs = [n for n in names[:-1] if n in mods]
                names = subs if len(subs) == len(names) - 1 else subs + [names[-1]]
            for dep in names:
                while dep and dep not in mods:
                    dep = dep.rpartition(".")[0]
                if dep and dep != name:
                    deps.add(dep)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_kbench_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["kbench.errors"] = graph["kbench.errors"] | {"kbench.cli"}  # errors -> cli -> ... -> errors
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "kbench.cli" in cycle


def test_the_graph_sees_function_local_imports():
    graph = import_graph()
    assert "kbench.experiment.runner" in graph["kbench"]  # kbench.run imports the runner lazily
    assert "kbench.experiment.run_cmd" in graph["kbench.cli"]
