"""The sections of the plan file, each checked and turned into frozen objects."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from incidents.kernel.calendar import HOLIDAYS
from incidents.kernel.roles import ROLES
from incidents.plan.model import (
    CHANNELS,
    CODE,
    COLOURS,
    COMPLAINT_CHAIN,
    LEVEL_CODES,
    RECIPIENTS,
    RESPONSIBLE,
    SATISFIERS,
    START_EVENTS,
    UNGRADED,
    Applicability,
    Category,
    ClockRule,
    DeliveryRules,
    Department,
    DutyRules,
    EscalationChain,
    EscalationStep,
    HolidayTask,
    HolidayWarnings,
    Level,
    Plan,
    StandardAssignment,
    Station,
)
from incidents.plan.checker import Checker, codes
from incidents.plan.complaint_sections import complaints_section, surge_section
from incidents.plan.report_sections import reports_section

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def validate(data: Any, c: Checker, text: str) -> Plan | None:
    top = c.mapping(data, ())
    c.unknown_keys(
        top,
        ("plan", "levels", "office_department", "clocks", "departments", "support_departments",
         "stations", "categories", "escalation", "duty", "standard_assignments", "holiday_warnings",
         "delivery", "reports", "complaints", "surge"),
        (),
    )
    head = c.mapping(top.get("plan", {}), ("plan",)) if "plan" in top else {}
    if "plan" not in top:
        c.fail((), "missing `plan`")
    meta = {k: c.text(head, k, ("plan",)) for k in ("id", "version", "title", "bureau")}
    issued = c.text(head, "issued", ("plan",), required=False)
    bureau_code = c.text(head, "bureau_code", ("plan",), required=False)
    if bureau_code and not re.match(r"^[a-z][a-z0-9_-]{0,39}$", bureau_code):
        c.fail(("plan", "bureau_code"), f"`{bureau_code}` is not a code (lower-case letters, digits, - and _)")
    tz = c.text(head, "timezone", ("plan",))
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            c.fail(("plan", "timezone"), f"unknown time zone `{tz}`")

    departments = _departments(top, c)
    dept_codes = {d.code for d in departments}
    stations = _stations(top, c, dept_codes)
    levels = _levels(top, c)
    categories = _categories(top, c, dept_codes)
    category_codes = {cat.code for cat in categories}
    clocks = _clocks(top, c, category_codes)

    office = c.text(top, "office_department", ())
    if office and office not in dept_codes:
        c.fail(("office_department",), f"unknown department `{office}`")
    support = []
    for i, code in enumerate(c.sequence(top.get("support_departments", []), ("support_departments",))):
        if code not in dept_codes:
            c.fail(("support_departments", i), f"unknown department `{code}`")
        support.append(str(code))
    escalation = _escalation(top, c)
    clock_kinds = {k.kind for k in clocks}
    duty = _duty(top, c, dept_codes)
    standard = _standard_assignments(top, c, dept_codes, clock_kinds, category_codes)
    holidays = _holiday_warnings(top, c, dept_codes, category_codes)
    delivery = _delivery(top, c)
    reports = reports_section(top, c)
    complaints = complaints_section(top, c, dept_codes, category_codes)
    surge = surge_section(top, c, category_codes)
    return Plan(
        id=meta["id"], version=meta["version"], title=meta["title"], bureau=meta["bureau"],
        issued=issued, timezone=tz, levels=levels, office_department=office, clocks=clocks,
        departments=departments, support_departments=tuple(support), stations=stations,
        categories=categories, escalation=escalation, source_text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), bureau_code=bureau_code,
        duty=duty, standard_assignments=standard, holiday_warnings=holidays, delivery=delivery,
        reports=reports, complaints=complaints, surge=surge,
    )


def _departments(top: dict, c: Checker) -> tuple[Department, ...]:
    out: list[Department] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.sequence(top.get("departments"), ("departments",))):
        path = ("departments", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("code", "name", "domain"), path)
        code = c.code(item, "code", path)
        if code in seen:
            c.fail(path + ("code",), f"duplicate department `{code}`")
        seen.add(code)
        out.append(Department(code, c.text(item, "name", path), c.text(item, "domain", path, required=False)))
    return tuple(out)


def _stations(top: dict, c: Checker, dept_codes: set[str]) -> tuple[Station, ...]:
    out: list[Station] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.sequence(top.get("stations"), ("stations",))):
        path = ("stations", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("code", "name", "government"), path)
        code = c.code(item, "code", path)
        if code in seen or code in dept_codes:
            c.fail(path + ("code",), f"code `{code}` is already used by another unit")
        seen.add(code)
        out.append(Station(code, c.text(item, "name", path), c.text(item, "government", path, required=False) or None))
    return tuple(out)


def _levels(top: dict, c: Checker) -> tuple[Level, ...]:
    out: list[Level] = []
    for i, raw in enumerate(c.sequence(top.get("levels"), ("levels",))):
        path = ("levels", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("code", "numeral", "name", "colour", "hints", "command_hq", "end_declared_by"), path)
        code = c.choice(item.get("code"), LEVEL_CODES, path + ("code",))
        colour = c.choice(item.get("colour"), COLOURS, path + ("colour",))
        hints = tuple(str(h) for h in c.sequence(item.get("hints", []), path + ("hints",), allow_empty=True))
        hq = c.choice(item.get("command_hq", "required"), ("required", "optional"), path + ("command_hq",))
        enders = []
        for j, role in enumerate(c.sequence(item.get("end_declared_by"), path + ("end_declared_by",))):
            enders.append(c.choice(role, ROLES, path + ("end_declared_by", j)))
        out.append(Level(code, c.text(item, "numeral", path), c.text(item, "name", path), colour, hints,
                         hq, tuple(enders)))
    codes = [lv.code for lv in out]
    if sorted(codes, key=LEVEL_CODES.index if all(x in LEVEL_CODES for x in codes) else str) != list(LEVEL_CODES):
        c.fail(("levels",), "must list each of the levels I, II, III, IV exactly once")
    return tuple(out)


def _categories(top: dict, c: Checker, dept_codes: set[str]) -> tuple[Category, ...]:
    out: list[Category] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.sequence(top.get("categories"), ("categories",))):
        path = ("categories", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("code", "name", "lead_department", "suggested_level"), path)
        code = c.code(item, "code", path)
        if code in seen:
            c.fail(path + ("code",), f"duplicate category `{code}`")
        seen.add(code)
        lead = c.text(item, "lead_department", path)
        if lead and lead not in dept_codes:
            c.fail(path + ("lead_department",), f"unknown department `{lead}`")
        suggested = item.get("suggested_level")
        if suggested is not None:
            suggested = c.choice(suggested, LEVEL_CODES, path + ("suggested_level",)) or None
        out.append(Category(code, c.text(item, "name", path), lead, suggested))
    return tuple(out)


def _clocks(top: dict, c: Checker, category_codes: set[str]) -> tuple[ClockRule, ...]:
    out: list[ClockRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.sequence(top.get("clocks"), ("clocks",))):
        path = ("clocks", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("kind", "name", "basis", "starts_on", "due_after", "repeats", "responsible",
                              "satisfied_by", "warn_before", "applies"), path)
        kind = c.code(item, "kind", path)
        if kind in seen:
            c.fail(path + ("kind",), f"duplicate clock `{kind}`")
        seen.add(kind)
        starts_on = c.choice(item.get("starts_on"), START_EVENTS, path + ("starts_on",))
        satisfied_by = c.choice(item.get("satisfied_by"), SATISFIERS, path + ("satisfied_by",))
        responsible = c.choice(item.get("responsible"), RESPONSIBLE, path + ("responsible",))
        repeats = item.get("repeats", False)
        if not isinstance(repeats, bool):
            c.fail(path + ("repeats",), "must be true or false")
            repeats = False
        applies = _applies(item, c, path, category_codes)
        covered = set().union(*(a.levels for a in applies)) if applies else set()
        if starts_on in ("activated", "ended") and UNGRADED in covered:
            c.fail(path + ("applies",), f"a clock that starts when the response is {starts_on} "
                                        "cannot apply to an ungraded event")
        due = _due_after(item.get("due_after"), c, path + ("due_after",), covered)
        warn = []
        for j, w in enumerate(c.sequence(item.get("warn_before", []), path + ("warn_before",), allow_empty=True)):
            d = c.duration(w, path + ("warn_before", j))
            if d is not None:
                if due and d >= min(v for _, v in due):
                    c.fail(path + ("warn_before", j), "a warning must come after the clock starts")
                warn.append(d)
        if warn != sorted(warn, reverse=True):
            c.fail(path + ("warn_before",), "list warnings from the earliest (largest) to the latest")
        out.append(ClockRule(kind, c.text(item, "name", path), c.text(item, "basis", path, required=False),
                             starts_on, due, responsible, satisfied_by, tuple(warn), applies, repeats))
    kinds = [r.satisfied_by for r in out if r.satisfied_by != "measure"]
    for report_kind in sorted(set(kinds)):
        if kinds.count(report_kind) > 1:
            c.fail(("clocks",), f"more than one clock is satisfied by the `{report_kind}` report")
    return tuple(out)


def _applies(item: dict, c: Checker, path: tuple, category_codes: set[str]) -> tuple[Applicability, ...]:
    out = []
    for j, raw in enumerate(c.sequence(item.get("applies"), path + ("applies",))):
        ap = path + ("applies", j)
        alt = c.mapping(raw, ap)
        c.unknown_keys(alt, ("levels", "categories", "categories_except"), ap)
        levels = frozenset(
            c.choice(lv, LEVEL_CODES + (UNGRADED,), ap + ("levels", k))
            for k, lv in enumerate(c.sequence(alt.get("levels"), ap + ("levels",)))
        )

        def cats(key: str) -> frozenset[str]:
            codes = c.sequence(alt.get(key), ap + (key,))
            for k, code in enumerate(codes):
                if code not in category_codes:
                    c.fail(ap + (key, k), f"unknown category `{code}`")
            return frozenset(str(x) for x in codes)

        only = cats("categories") if "categories" in alt else None
        never = cats("categories_except") if "categories_except" in alt else frozenset()
        out.append(Applicability(levels, only, never))
    return tuple(out)


def _due_after(value: Any, c: Checker, path: tuple, covered: set[str]) -> tuple[tuple[str, timedelta], ...]:
    if isinstance(value, dict):
        out = []
        for level, raw in value.items():
            c.choice(level, LEVEL_CODES + (UNGRADED,), path + (level,))
            d = c.duration(raw, path + (level,))
            if d is not None:
                if d <= timedelta(0):
                    c.fail(path + (level,), "must be longer than zero")
                out.append((str(level), d))
        missing = sorted(covered - {lv for lv, _ in out})
        if missing:
            c.fail(path, f"no duration for {', '.join(missing)}")
        return tuple(out)
    d = c.duration(value, path)
    if d is None:
        return ()
    if d <= timedelta(0):
        c.fail(path, "must be longer than zero")
    return (("*", d),)


def _escalation(top: dict, c: Checker) -> tuple[tuple[str, EscalationChain], ...]:
    out = []
    chains = c.mapping(top.get("escalation"), ("escalation",))
    for level, raw in chains.items():
        path = ("escalation", level)
        c.choice(level, LEVEL_CODES + (UNGRADED, COMPLAINT_CHAIN), path)
        chain = c.mapping(raw, path)
        c.unknown_keys(chain, ("repeat", "repeat_after", "steps"), path)
        repeat = chain.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            c.fail(path + ("repeat",), "must be a whole number of at least 1")
            repeat = 1
        steps = []
        for j, s in enumerate(c.sequence(chain.get("steps"), path + ("steps",))):
            sp = path + ("steps", j)
            step = c.mapping(s, sp)
            c.unknown_keys(step, ("after", "channel", "to"), sp)
            after = c.duration(step.get("after"), sp + ("after",)) or timedelta(0)
            if steps and after < steps[-1].after:
                c.fail(sp + ("after",), "steps must come in order of their wait")
            steps.append(EscalationStep(after, c.choice(step.get("channel"), CHANNELS, sp + ("channel",)),
                                        c.choice(step.get("to"), RECIPIENTS, sp + ("to",))))
        last = steps[-1].after if steps else timedelta(0)
        if "repeat_after" in chain:
            every = c.duration(chain.get("repeat_after"), path + ("repeat_after",)) or timedelta(0)
            if every <= last:
                c.fail(path + ("repeat_after",), "must be longer than the wait of the last step")
        elif repeat > 1:
            c.fail(path + ("repeat_after",), "a chain that repeats needs `repeat_after`")
            every = timedelta(0)
        else:
            every = timedelta(0)
        out.append((str(level), EscalationChain(repeat, tuple(steps), every)))
    for level in LEVEL_CODES:
        if chains and level not in chains:
            c.fail(("escalation",), f"no escalation chain for level {level}")
    return tuple(out)


def _duty(top: dict, c: Checker, dept_codes: set[str]) -> DutyRules:
    if "duty" not in top:
        return DutyRules()
    item = c.mapping(top["duty"], ("duty",))
    c.unknown_keys(item, ("always_covered", "round_the_clock_levels", "look_ahead"), ("duty",))
    covered = codes(c, item.get("always_covered", []), ("duty", "always_covered"), dept_codes, "department") \
        if item.get("always_covered") else ()
    levels = tuple(c.choice(lv, LEVEL_CODES, ("duty", "round_the_clock_levels", i))
                   for i, lv in enumerate(c.sequence(item.get("round_the_clock_levels", []),
                                                     ("duty", "round_the_clock_levels"), allow_empty=True)))
    look = c.duration(item.get("look_ahead", "P2D"), ("duty", "look_ahead")) or timedelta(days=2)
    return DutyRules(covered, levels, look)


def _delivery(top: dict, c: Checker) -> DeliveryRules:
    if "delivery" not in top:
        return DeliveryRules()
    path = ("delivery",)
    item = c.mapping(top["delivery"], path)
    c.unknown_keys(item, ("throttle_window", "max_sms", "max_calls", "retry_after"), path)
    default = DeliveryRules()
    window = c.duration(item.get("throttle_window", "PT15M"), path + ("throttle_window",)) or default.window
    counts = []
    for key in ("max_sms", "max_calls"):
        value = item.get(key, getattr(default, key))
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            c.fail(path + (key,), "must be a whole number of at least 1")
            value = getattr(default, key)
        counts.append(value)
    retries = tuple(c.duration(v, path + ("retry_after", i)) or timedelta(0)
                    for i, v in enumerate(c.sequence(item.get("retry_after", []), path + ("retry_after",),
                                                     allow_empty=True)))
    return DeliveryRules(window, counts[0], counts[1], retries if "retry_after" in item else default.retry_after)


def _standard_assignments(top: dict, c: Checker, dept_codes: set[str], clock_kinds: set[str],
                          category_codes: set[str]) -> tuple[StandardAssignment, ...]:
    out = []
    for i, raw in enumerate(c.sequence(top.get("standard_assignments", []), ("standard_assignments",),
                                       allow_empty=True)):
        path = ("standard_assignments", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("levels", "department", "task", "clock", "due_after", "categories_except"), path)
        levels = frozenset(c.choice(lv, LEVEL_CODES, path + ("levels", j))
                           for j, lv in enumerate(c.sequence(item.get("levels"), path + ("levels",))))
        department = c.text(item, "department", path)
        if department and department != "lead" and department not in dept_codes:
            c.fail(path + ("department",), f"unknown department `{department}` (or `lead`)")
        clock = item.get("clock")
        if clock is not None and clock not in clock_kinds:
            c.fail(path + ("clock",), f"unknown clock `{clock}`")
        due = c.duration(item["due_after"], path + ("due_after",)) if "due_after" in item else None
        if clock is not None and due is not None:
            c.fail(path + ("due_after",), "an assignment with a clock takes the clock's due time")
        never = frozenset(str(x) for x in c.sequence(item.get("categories_except", []), path + ("categories_except",),
                                                     allow_empty=True))
        for j, code in enumerate(sorted(never - category_codes)):
            c.fail(path + ("categories_except",), f"unknown category `{code}`")
        out.append(StandardAssignment(levels, department, c.text(item, "task", path), clock, due, never))
    return tuple(out)


def _holiday_warnings(top: dict, c: Checker, dept_codes: set[str], category_codes: set[str]) -> HolidayWarnings:
    if "holiday_warnings" not in top:
        return HolidayWarnings()
    path = ("holiday_warnings",)
    item = c.mapping(top["holiday_warnings"], path)
    # `departments` and `task` are the one-task form of plans stored before December 2026.
    c.unknown_keys(item, ("holidays", "lead_time", "open_at", "tasks", "departments", "task", "category", "level"),
                   path)
    holidays = tuple(c.choice(h, HOLIDAYS, path + ("holidays", i))
                     for i, h in enumerate(c.sequence(item.get("holidays"), path + ("holidays",))))
    lead = c.duration(item.get("lead_time"), path + ("lead_time",)) or timedelta(days=4)
    open_at = str(item.get("open_at", "00:00" if "tasks" not in item else HolidayWarnings.open_at))
    if not _HHMM.match(open_at):
        c.fail(path + ("open_at",), f"`{open_at}` is not a time of day such as 08:30 (quote it)")
    tasks: list[HolidayTask] = []
    if "tasks" in item:
        for i, raw in enumerate(c.sequence(item.get("tasks"), path + ("tasks",))):
            tp = path + ("tasks", i)
            entry = c.mapping(raw, tp)
            c.unknown_keys(entry, ("code", "departments", "task", "due_before"), tp)
            code = c.text(entry, "code", tp)
            if code and not CODE.match(code):
                c.fail(tp + ("code",), "must be lower-case letters, digits and _")
            if code in {t.code for t in tasks}:
                c.fail(tp + ("code",), f"duplicate task code `{code}`")
            due = c.duration(entry.get("due_before", "PT0S"), tp + ("due_before",)) or timedelta(0)
            if due > lead:
                c.fail(tp + ("due_before",), "cannot be due before the watch opens (longer than lead_time)")
            tasks.append(HolidayTask(code, codes(c, entry.get("departments"), tp + ("departments",), dept_codes,
                                                  "department"), c.text(entry, "task", tp), due))
    elif "departments" in item:
        tasks.append(HolidayTask("watch", codes(c, item.get("departments"), path + ("departments",), dept_codes,
                                                 "department"), c.text(item, "task", path)))
    category = c.text(item, "category", path)
    if category and category not in category_codes:
        c.fail(path + ("category",), f"unknown category `{category}`")
    level = c.choice(item.get("level"), LEVEL_CODES, path + ("level",))
    return HolidayWarnings(holidays, lead, open_at, tuple(tasks), category, level)
