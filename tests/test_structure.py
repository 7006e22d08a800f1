"""The code's shape (issue 40): one home per responsibility, kept so. No class in vae_core/, app_ui/ or pages/ is
over 300 lines and no function over 80; the import graph has no circle, and nothing in the library imports the app."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("vae_core", "app_ui", "pages")
MAX_CLASS, MAX_FUNCTION = 300, 80


def _sources():
    for pkg in PACKAGES:
        yield from sorted((REPO / pkg).rglob("*.py"))


def long_definitions(source: str) -> list[str]:
    """The classes over MAX_CLASS lines and the functions over MAX_FUNCTION in a module's source."""
    long = []
    for node in ast.walk(ast.parse(source)):
        limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if limit is not None and node.end_lineno - node.lineno + 1 > limit:
            long.append(f"{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines, at most {limit})")
    return long


def test_no_class_over_300_lines_and_no_function_over_80():
    long = [f"{path.relative_to(REPO)}:{d}" for path in _sources()
            for d in long_definitions(path.read_text(encoding="utf-8"))]
    assert not long, long


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of vae_core and app_ui it imports, at any level of the file (lazy imports too)."""
    modules = {_module_name(p): p for pkg in ("vae_core", "app_ui") for p in (REPO / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else (node.module or "")
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def test_the_import_graph_has_no_circle_and_the_library_never_imports_the_app():
    graph = import_graph()
    up = sorted((a, b) for a, targets in graph.items() for b in targets
                if a.startswith("vae_core") and not b.startswith("vae_core"))
    assert not up, up
    assert find_circle(graph) is None, " -> ".join(find_circle(graph))


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of the graph (its nodes, the first again at the end), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (circle := visit(start)):
            return circle
    return None


def test_the_checks_find_a_circle_and_a_long_function():
    """The checks can fail: a made-up circle and a made-up long function and class are found."""
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    long = long_definitions("def f():\n" + "    x = 1\n" * 80 + "class C:\n" + "    y = 1\n" * 300)
    assert [d.split(" (")[0] for d in long] == ["1 f", "82 C"]
    assert import_graph()["vae_core.checkpoint"] >= {"vae_core.config", "vae_core.encoders"}  # lazy imports seen too
