"""Load a plan from a file or a stored copy; every error names the line of the file it is about
(`flask --app wsgi plan check FILE`)."""
from __future__ import annotations

from pathlib import Path

import yaml

from incidents.plan.model import (
    Plan,
    PlanError,
    PlanIssue,
)
from incidents.plan.checker import Checker, Located
from incidents.plan.sections import validate


def load_plan_text(text: str, source: str = "plan") -> Plan:
    """Parse and validate plan text; raise PlanError listing every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise PlanError([PlanIssue(line, "(yaml)", str(getattr(exc, "problem", exc)))], source) from exc
    if root is None:
        raise PlanError([PlanIssue(1, "(top)", "the plan file is empty")], source)
    located = Located()
    data = located.build(root, ())
    plan = validate(data, Checker(located), text)
    if located.issues:
        raise PlanError(sorted(located.issues, key=lambda i: i.line), source)
    assert plan is not None
    return plan


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([PlanIssue(0, "(file)", f"cannot read {path}: {exc.strerror}")], str(path)) from exc


def _keyed(items: list) -> str | None:
    """Return the key a list of mappings is merged by (clocks by kind, most lists by code), if any."""
    for key in ("kind", "code"):
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _merge(base, over, replaces: frozenset = frozenset(), at: str = ""):
    """Merge a plan that extends another: mappings key by key, lists of coded items item by item, and
    what `replaces` names (dotted paths, e.g. `stations`, `reports.recipients`) replaced whole."""
    if at in replaces:
        return over
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            path = f"{at}.{key}" if at else str(key)
            out[key] = _merge(base[key], value, replaces, path) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list):
        key = _keyed(base)
        if key is None or _keyed(over) != key:
            return over
        out = list(base)
        for item in over:
            at = next((i for i, b in enumerate(out) if b[key] == item[key]), None)
            if item.get("omitted") is True:  # `{kind: initial_report, omitted: true}` drops it
                if at is not None:
                    out.pop(at)
            elif at is None:
                out.append(item)
            else:
                out[at] = _merge(out[at], item)
        return out
    return over


def _resolved(path: Path, seen: tuple = ()) -> tuple[str, bool]:
    """Return a plan file's text, with any `extends: BASE` chain merged in; tell whether it extended."""
    text = _read(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, False  # load_plan_text reports it with its line
    if not isinstance(data, dict) or "extends" not in data:
        return text, False
    base_path = (path.parent / str(data.pop("extends"))).resolve()
    if base_path in seen or len(seen) > 8:
        raise PlanError([PlanIssue(1, "extends", f"`{base_path.name}` extends itself")], str(path))
    base_text, _ = _resolved(base_path, seen + (base_path,))
    replaces = data.pop("replaces", [])
    if not isinstance(replaces, list) or not all(isinstance(r, str) for r in replaces):
        raise PlanError([PlanIssue(1, "replaces", "a list of dotted paths, e.g. [stations, reports.recipients]")],
                        str(path))
    merged = _merge(yaml.safe_load(base_text), data, frozenset(replaces))
    header = f"# {path.name}, extending {base_path.name}, merged: what Yingji stores and runs.\n"
    return header + yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=120), True


def load_plan_file(path: str | Path) -> Plan:
    """Load and validate a plan file from disk (a plan may `extends:` another and change only what differs)."""
    path = Path(path)
    text, _extended = _resolved(path)
    plan = load_plan_text(text, str(path))
    _STORED_PLANS.setdefault(text, plan)  # incidents registered under this file need not parse it again
    return plan


_STORED_PLANS: dict[str, Plan] = {}


def plan_from_stored_text(text: str) -> Plan:
    """Load a plan kept with an incident; cached because stored plans never change."""
    plan = _STORED_PLANS.get(text)
    if plan is None:
        if len(_STORED_PLANS) >= 64:
            _STORED_PLANS.pop(next(iter(_STORED_PLANS)))  # a bureau has a handful of plan versions
        plan = _STORED_PLANS.setdefault(text, load_plan_text(text, "stored plan"))
    return plan
