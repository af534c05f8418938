"""Plans derived from the seed plan for tests and benchmarks that run real scheduler processes.

A real `flask scheduler` reads the wall clock, so a chain that waits minutes cannot be
walked in a test. `write_derived_plan` keeps the seed plan (incidents/plan/plans/zhongmou-2021.yaml)
and replaces only what a test names: the escalation chains (the same chain for every level),
the delivery rules, extra departments. It also switches off the holiday market watch, which
a scheduler opens by itself in the days before a holiday and whose assignments would
escalate to the test's duty officers too. The result is validated as `flask plan check` would.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import yaml

from incidents.plan import DEFAULT_PLAN_FILE, Plan, load_plan_file

# board at once, SMS to the duty officer after 2 s, a call after 5 s, the department head after 7 s
SECONDS_CHAIN = (("PT0S", "board", "duty_officer"), ("PT2S", "sms", "duty_officer"),
                 ("PT5S", "voice", "duty_officer"), ("PT7S", "voice", "department_head"))


def derived_plan_text(*, steps: Iterable[tuple[str, str, str]] | None = None, repeat: int = 1,
                      repeat_after: str | None = None, delivery: dict | None = None,
                      departments: Iterable[tuple[str, str]] = (), tag: str = "derived") -> str:
    """Return the seed plan's text with these chains (every level), delivery rules and extra departments."""
    data = yaml.safe_load(Path(DEFAULT_PLAN_FILE).read_text(encoding="utf-8"))
    data["plan"]["version"] = f"{data['plan']['version']}+{tag}"
    if steps is not None:
        chain: dict = {"repeat": repeat, "steps": [{"after": a, "channel": c, "to": t} for a, c, t in steps]}
        if repeat_after:
            chain["repeat_after"] = repeat_after
        levels = [level["code"] for level in data["levels"]] + ["ungraded"]
        data["escalation"] = {level: dict(chain) for level in levels}
    if delivery:
        data["delivery"] = {**data["delivery"], **delivery}
    for code, name in departments:
        data["departments"].append({"code": code, "name": name, "domain": "压测用科室"})
    data.pop("holiday_warnings", None)  # no holidays: the scheduler opens no watch of its own
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_derived_plan(path: Path, **kwargs) -> Plan:
    """Write a derived plan file (see derived_plan_text) and return it loaded and validated."""
    path.write_text(derived_plan_text(**kwargs), encoding="utf-8")
    return load_plan_file(path)  # raises PlanError, naming the line, if the plan is not valid
