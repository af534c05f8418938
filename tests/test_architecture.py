"""The import rules (ARCHITECTURE.md, README "How the code is laid out"), held by import-linter.

The contracts live in `.importlinter`; this module runs them inside the suite, shows on a
copy of the tree that they catch a planted violation, and checks that no import cycle
exists among the project's modules beyond the blueprint idiom.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.conftest import repo_root

ROOT = repo_root()
PACKAGES = ("incidents", "app", "notifiers", "reports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run `lint-imports` on the tree at `root` with its `.importlinter`."""
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


def test_the_import_contracts_are_kept():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every contract of the file ran: a contract dropped from the file would pass silently otherwise.
    assert "Contracts: 3 kept, 0 broken." in out.stdout, out.stdout


@pytest.fixture
def tree_copy(tmp_path):
    """A copy of the project's packages and contracts, to plant violations in."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize("module,line,broken", [
    ("incidents/kernel/roles.py", "import flask", "The domain imports no web, provider, document or scheduler code"),
    ("incidents/response/service.py", "from incidents import complaints",
     "Each layer of the domain imports only the layers below it"),
    ("incidents/plan/model.py", "from incidents.models import Incident",
     "Each layer of the domain imports only the layers below it"),
    ("reports/render.py", "from app.extensions import db", "Senders and documents do not reach into the web application"),
])
def test_a_planted_violation_breaks_its_contract(tree_copy, module, line, broken):
    path = tree_copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")
    out = lint_imports(tree_copy)
    assert out.returncode == 1, out.stdout
    assert f"{broken} BROKEN" in out.stdout, out.stdout
    assert out.stdout.count(" BROKEN") == 1, out.stdout


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return the strongly connected groups of modules (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def blueprint_idiom(graph: grimp.ImportGraph, group: list[str]) -> bool:
    """Tell whether a cycle is only a package and its route modules importing each other (Flask's idiom)."""
    package = min(group, key=len)
    children = [m for m in group if m != package]
    if not all(m.rpartition(".")[0] == package for m in children):
        return False
    return not any(graph.direct_import_exists(importer=a, imported=b) for a in children for b in children if a != b)


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "q", "q.routes"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="q", imported="q.routes")
    graph.add_import(importer="q.routes", imported="q")
    assert import_cycles(graph) == [["p.a", "p.b"], ["q", "q.routes"]]
    assert not blueprint_idiom(graph, ["p.a", "p.b"])
    assert blueprint_idiom(graph, ["q", "q.routes"])


def test_no_import_cycle_but_the_blueprint_idiom():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    cycles = [group for group in import_cycles(graph) if not blueprint_idiom(graph, group)]
    assert cycles == []


def test_no_import_hides_inside_a_function():
    """A function-local import of the project's own code hides a dependency (and usually a cycle)."""
    import ast

    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for inner in ast.walk(node):
                        name = (inner.module or "") if isinstance(inner, ast.ImportFrom) else (
                            inner.names[0].name if isinstance(inner, ast.Import) else None)
                        if name is not None and name.split(".")[0] in PACKAGES:
                            found.append(f"{path.relative_to(ROOT)}:{inner.lineno} {name}")
    assert found == []


def test_the_domain_imports_cleanly_without_the_web_stack():
    """Importing the domain in a fresh interpreter loads none of the forbidden packages."""
    import subprocess
    import sys

    # Every module of the domain, wherever it lives in the packages.
    code = ("import importlib, pkgutil, sys\n"
            "import incidents\n"
            "for m in pkgutil.walk_packages(incidents.__path__, 'incidents.'): importlib.import_module(m.name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'flask','flask_socketio','twilio','reportlab','apscheduler','app','notifiers','reports'})\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
