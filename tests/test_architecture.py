"""Which package may import which (ARCHITECTURE.md), checked by parsing every .py file."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import repo_root

ROOT = repo_root()

# package -> top-level modules it must never import
FORBIDDEN = {
    "incidents": {"flask", "flask_socketio", "twilio", "reportlab", "apscheduler", "app", "notifiers", "reports"},
    "notifiers": {"app"},
    "reports": {"app"},
}


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Return (line, absolute dotted name) for every import in the source, relative ones resolved."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                drop = node.level - 1
                prefix = ".".join(parts[: len(parts) - drop]) if drop <= len(parts) else ""
                if not node.module:
                    out.extend((node.lineno, f"{prefix}.{a.name}" if prefix else a.name) for a in node.names)
                    continue
                name = f"{prefix}.{node.module}" if prefix else node.module
            else:
                name = node.module or ""
            out.append((node.lineno, name))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.append((node.lineno, arg.value))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def violations(package: str, files: list[Path] | None = None) -> list[str]:
    """Return every forbidden import in a package, as `file:line imports name`."""
    folder = ROOT / package
    found = []
    for path in files if files is not None else sorted(folder.rglob("*.py")):
        rel = path.relative_to(ROOT)
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        module = ".".join(parts)
        for line, name in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                found.append(f"{rel}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_rules(package):
    assert (ROOT / package).is_dir(), f"{package}/ is missing"
    assert violations(package) == []


def test_every_python_file_is_checked():
    # The checker must see the files that exist, including the nested packages like incidents/plan/.
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "incidents").rglob("*.py")}
    assert {"incidents/response/service.py", "incidents/plan/model.py", "incidents/kernel/db.py", "incidents/models/incident.py"} <= files


@pytest.mark.parametrize("source,module,is_package,expected", [
    ("import flask", "incidents.service", False, "flask"),
    ("from flask import current_app", "incidents.service", False, "flask"),
    ("import flask_socketio as sio", "incidents.x", False, "flask_socketio"),
    ("from twilio.rest import Client", "incidents.x", False, "twilio.rest"),
    ("from reportlab.pdfgen import canvas", "incidents.x", False, "reportlab.pdfgen"),
    ("from apscheduler.schedulers.background import BackgroundScheduler", "incidents.x", False,
     "apscheduler.schedulers.background"),
    ("from app.extensions import db", "incidents.x", False, "app.extensions"),
    ("import notifiers.base", "incidents.x", False, "notifiers.base"),
    ("def f():\n    from reports import pdf\n", "incidents.x", False, "reports"),
    ("from ..app import create_app", "incidents.service", False, "app"),
    ("from .. import app", "incidents.service", False, "app"),
    ("from ..notifiers import base", "incidents.sub", True, "incidents.notifiers"),
    ("__import__('flask')", "incidents.x", False, "flask"),
    ("import importlib\nimportlib.import_module('app.cli')", "incidents.x", False, "app.cli"),
])
def test_the_checker_sees_each_kind_of_import(source, module, is_package, expected):
    names = [name for _, name in imported_modules(source, module, is_package)]
    assert expected in names


def test_the_checker_reports_a_violation(tmp_path, monkeypatch):
    """Plant a bad file in a copy of the layout and see it reported with its line."""
    fake_root = tmp_path
    (fake_root / "incidents").mkdir()
    (fake_root / "notifiers").mkdir()
    (fake_root / "incidents" / "ok.py").write_text("import json\nfrom incidents import plan\n")
    (fake_root / "incidents" / "bad.py").write_text("import json\n\nfrom flask import g\n")
    (fake_root / "notifiers" / "bad.py").write_text("from app.extensions import db\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    assert violations("incidents") == ["incidents/bad.py:3 imports flask"]
    assert violations("notifiers") == ["notifiers/bad.py:1 imports app.extensions"]


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
