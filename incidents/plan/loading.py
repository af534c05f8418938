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


def load_plan_file(path: str | Path) -> Plan:
    """Load and validate a plan file from disk."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([PlanIssue(0, "(file)", f"cannot read {path}: {exc.strerror}")], str(path)) from exc
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
