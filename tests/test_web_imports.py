"""The web layer's imports: no cycle among app/ modules but the blueprint idiom, none hidden in a function.

The blueprint idiom is a package's `__init__` importing its route modules at the bottom, after the
blueprint they decorate exists (microblog, flaskr): those modules import the package for `bp`, and
Python resolves that because `bp` is bound before they run. Any other cycle is a real one.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import repo_root

ROOT = repo_root()
PROJECT = ("app", "incidents", "notifiers", "reports")


@dataclass(frozen=True)
class Edge:
    """One import of one module by another, where it stands in the importing file."""

    source: str
    target: str
    line: int
    local: bool  # inside a function body
    after_blueprint: bool  # at the top level of a package's __init__, below its `bp = Blueprint(...)`


def modules(package: str = "app", root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Return every module of a package: dotted name -> (file, is a package)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _defines_blueprint(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "Blueprint")


def edges(found: dict[str, tuple[Path, bool]]) -> list[Edge]:
    """Return the imports among the given modules, function-local ones included."""
    out = []
    for module, (path, is_package) in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = module if is_package else module.rpartition(".")[0]
        local = {id(sub) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for sub in ast.walk(fn)}
        blueprint_at = next((n.lineno for n in tree.body if _defines_blueprint(n)), None)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                # `from app import push` names the module app.push; `from app.board import bp` the package.
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in found else base for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in found:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    out.append(Edge(module, name, node.lineno, id(node) in local,
                                    is_package and node in tree.body and blueprint_at is not None
                                    and node.lineno > blueprint_at and name.startswith(module + ".")))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def real_cycles(found: dict[str, tuple[Path, bool]]) -> list[list[str]]:
    """Return the import cycles that remain once the blueprint idiom's imports are set aside."""
    graph: dict[str, set[str]] = {m: set() for m in found}
    for edge in edges(found):
        if not edge.after_blueprint:
            graph[edge.source].add(edge.target)
    return cycles(graph)


def test_no_import_cycle_in_the_web_layer_but_the_blueprint_idiom():
    assert real_cycles(modules()) == []


def test_no_project_import_is_hidden_in_a_function():
    found = modules()
    hidden = []
    for path, _ in found.values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                    if any(n.split(".")[0] in PROJECT for n in names):
                        hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert hidden == []


def test_no_private_name_is_imported_from_another_module():
    private = []
    for path, _ in modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") for a in node.names):
                private.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert private == []


def test_the_checker_tells_the_idiom_from_a_real_cycle(tmp_path):
    """Plant both in a copy of the layout: the bottom-of-package import passes, a sibling cycle is reported."""
    board = tmp_path / "app" / "board"
    board.mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (board / "__init__.py").write_text("from flask import Blueprint\nbp = Blueprint('b', __name__)\n"
                                       "from app.board import pages  # noqa: E402\n")
    (board / "pages.py").write_text("from app.board import bp\n")
    assert real_cycles(modules(root=tmp_path)) == []
    (board / "pages.py").write_text("from app.board import bp\nfrom app.board.forms import helper\n")
    (board / "forms.py").write_text("def helper():\n    from app.board import pages\n")
    assert real_cycles(modules(root=tmp_path)) == [["app.board.forms", "app.board.pages"]]
    # An import of the package above its blueprint is no idiom: it runs before `bp` exists.
    (board / "pages.py").write_text("from app.board import bp\n")
    (board / "__init__.py").write_text("from app.board import pages\nfrom flask import Blueprint\n"
                                       "bp = Blueprint('b', __name__)\n")
    assert real_cycles(modules(root=tmp_path)) == [["app.board", "app.board.pages"]]
