"""The 12315 sections of the plan file: complaints and the surge watch."""
from __future__ import annotations

import re
from datetime import timedelta


from incidents.plan.model import (
    LEVEL_CODES,
    CalendarYear,
    ComplaintCategory,
    ComplaintLimit,
    ComplaintRules,
    RateLimit,
    SurgeRule,
    SurgeRules,
)
from incidents.plan.checker import Checker, codes


# --- 12315 complaints and the surge watch ------------------------------------------------

COMPLAINT_KINDS = ("complaint", "tipoff")
LIMIT_STARTS = ("received", "accepted")
# Statuses a time limit can end on: a decision on acceptance, the end of mediation, a filing decision.
LIMIT_ENDS = ("accepted", "refused", "closed", "filed", "not_filed")
SURGE_DIMENSIONS = ("business", "category", "area")
WARNING_APPROVERS = ("leader", "commander")
_ISO_DAY = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")


def _whole(c: Checker, item: dict, key: str, path: tuple, default: int, *, least: int = 1) -> int:
    value = item.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        c.fail(path + (key,), f"must be a whole number of at least {least}")
        return default
    return value


def _rate(c: Checker, item: dict, key: str, path: tuple, default: RateLimit) -> RateLimit:
    if key not in item:
        return default
    sub = c.mapping(item[key], path + (key,))
    c.unknown_keys(sub, ("count", "window"), path + (key,))
    count = _whole(c, sub, "count", path + (key,), default.count)
    window = c.duration(sub.get("window"), path + (key, "window")) or default.window
    return RateLimit(count, window)


def complaints_section(top: dict, c: Checker, dept_codes: set[str], category_codes: set[str]) -> ComplaintRules:
    if "complaints" not in top:
        return ComplaintRules()
    path = ("complaints",)
    item = c.mapping(top["complaints"], path)
    c.unknown_keys(item, ("centre", "categories", "demands", "limits", "retention", "rate_limits", "max_text",
                          "calendar"), path)
    default = ComplaintRules()
    centre = c.text(item, "centre", path)
    if centre and centre not in dept_codes:
        c.fail(path + ("centre",), f"unknown department `{centre}`")
    categories, seen = [], set()
    for i, raw in enumerate(c.sequence(item.get("categories"), path + ("categories",))):
        cp = path + ("categories", i)
        cat = c.mapping(raw, cp)
        c.unknown_keys(cat, ("code", "name", "department", "incidents"), cp)
        code = c.code(cat, "code", cp)
        if code in seen:
            c.fail(cp + ("code",), f"duplicate complaint category `{code}`")
        seen.add(code)
        department = c.text(cat, "department", cp)
        if department and department not in dept_codes:
            c.fail(cp + ("department",), f"unknown department `{department}`")
        joins = codes(c, cat.get("incidents", []), cp + ("incidents",), category_codes, "incident category") \
            if cat.get("incidents") else ()
        categories.append(ComplaintCategory(code, c.text(cat, "name", cp), department, joins))
    demands, seen = [], set()
    for i, raw in enumerate(c.sequence(item.get("demands"), path + ("demands",))):
        dp = path + ("demands", i)
        d = c.mapping(raw, dp)
        c.unknown_keys(d, ("code", "name"), dp)
        code = c.code(d, "code", dp)
        if code in seen:
            c.fail(dp + ("code",), f"duplicate demand `{code}`")
        seen.add(code)
        demands.append((code, c.text(d, "name", dp)))
    limits, seen = [], set()
    for i, raw in enumerate(c.sequence(item.get("limits", []), path + ("limits",), allow_empty=True)):
        lp = path + ("limits", i)
        lim = c.mapping(raw, lp)
        c.unknown_keys(lim, ("kind", "name", "basis", "applies_to", "starts_on", "working_days",
                             "warn_working_days", "met_by"), lp)
        kind = c.code(lim, "kind", lp)
        if kind in seen:
            c.fail(lp + ("kind",), f"duplicate limit `{kind}`")
        seen.add(kind)
        applies = tuple(c.choice(k, COMPLAINT_KINDS, lp + ("applies_to", j))
                        for j, k in enumerate(c.sequence(lim.get("applies_to"), lp + ("applies_to",))))
        starts_on = c.choice(lim.get("starts_on"), LIMIT_STARTS, lp + ("starts_on",))
        days = _whole(c, lim, "working_days", lp, 1)
        warn = _whole(c, lim, "warn_working_days", lp, 0, least=0)
        if warn >= days:
            c.fail(lp + ("warn_working_days",), "the warning must come after the limit starts (fewer days)")
        met_by = tuple(c.choice(s, LIMIT_ENDS, lp + ("met_by", j))
                       for j, s in enumerate(c.sequence(lim.get("met_by"), lp + ("met_by",))))
        if starts_on in met_by:
            c.fail(lp + ("met_by",), f"a limit cannot end on the status it starts on (`{starts_on}`)")
        limits.append(ComplaintLimit(kind, c.text(lim, "name", lp), c.text(lim, "basis", lp, required=False),
                                     applies, starts_on, days, warn, met_by))
    retention = c.duration(item.get("retention", "P1095D"), path + ("retention",)) or default.retention
    if retention < timedelta(days=1):
        c.fail(path + ("retention",), "must be at least one day")
    rates = c.mapping(item.get("rate_limits", {}), path + ("rate_limits",))
    c.unknown_keys(rates, ("submit_per_ip", "submit_per_phone", "status_per_ip", "refused_per_ip"),
                   path + ("rate_limits",))
    rp = path + ("rate_limits",)
    max_text = _whole(c, item, "max_text", path, default.max_text, least=100)
    years, seen = [], set()
    for i, raw in enumerate(c.sequence(item.get("calendar", []), path + ("calendar",), allow_empty=True)):
        yp = path + ("calendar", i)
        entry = c.mapping(raw, yp)
        c.unknown_keys(entry, ("year", "days_off", "workdays"), yp)
        year = _whole(c, entry, "year", yp, 0, least=2000)
        if year in seen:
            c.fail(yp + ("year",), f"duplicate year {year}")
        seen.add(year)
        days = {}
        for key in ("days_off", "workdays"):
            out = []
            for j, day in enumerate(c.sequence(entry.get(key, []), yp + (key,), allow_empty=True)):
                m = _ISO_DAY.match(str(day))
                if not m or int(m.group(1)) != year:
                    c.fail(yp + (key, j), f"`{day}` is not a date of {year} such as {year}-01-01")
                    continue
                out.append(str(day))
            days[key] = tuple(out)
        years.append(CalendarYear(year, days["days_off"], days["workdays"]))
    return ComplaintRules(centre or default.centre, tuple(categories), tuple(demands), tuple(limits), retention,
                          _rate(c, rates, "submit_per_ip", rp, default.submit_per_ip),
                          _rate(c, rates, "submit_per_phone", rp, default.submit_per_phone),
                          _rate(c, rates, "status_per_ip", rp, default.status_per_ip), max_text, tuple(years),
                          _rate(c, rates, "refused_per_ip", rp, default.refused_per_ip))


def surge_section(top: dict, c: Checker, category_codes: set[str]) -> SurgeRules:
    if "surge" not in top:
        return SurgeRules()
    path = ("surge",)
    item = c.mapping(top["surge"], path)
    c.unknown_keys(item, ("rules", "baseline", "cooldown", "incident", "warnings_approved_by"), path)
    default = SurgeRules()
    rules = []
    for i, raw in enumerate(c.sequence(item.get("rules"), path + ("rules",))):
        rp = path + ("rules", i)
        rule = c.mapping(raw, rp)
        c.unknown_keys(rule, ("by", "window", "min_count", "ratio"), rp)
        by = c.choice(rule.get("by"), SURGE_DIMENSIONS, rp + ("by",))
        window = c.duration(rule.get("window"), rp + ("window",)) or timedelta(hours=1)
        count = _whole(c, rule, "min_count", rp, 1)
        ratio = rule.get("ratio", 1)
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or ratio < 1:
            c.fail(rp + ("ratio",), "must be a number of at least 1")
            ratio = 1
        rules.append(SurgeRule(by, window, count, float(ratio)))
    baseline = c.duration(item.get("baseline", "P28D"), path + ("baseline",)) or default.baseline
    if rules and baseline <= max(r.window for r in rules):
        c.fail(path + ("baseline",), "must be longer than the longest window")
    cooldown = c.duration(item.get("cooldown", "PT12H"), path + ("cooldown",)) or default.cooldown
    incident = c.mapping(item.get("incident"), path + ("incident",))
    c.unknown_keys(incident, ("category", "level"), path + ("incident",))
    category = c.text(incident, "category", path + ("incident",))
    if category and category not in category_codes:
        c.fail(path + ("incident", "category"), f"unknown category `{category}`")
    level = c.choice(incident.get("level"), LEVEL_CODES, path + ("incident", "level"))
    approvers = tuple(c.choice(r, WARNING_APPROVERS, path + ("warnings_approved_by", i))
                      for i, r in enumerate(c.sequence(item.get("warnings_approved_by", ["leader"]),
                                                       path + ("warnings_approved_by",))))
    return SurgeRules(tuple(rules), baseline, cooldown, category, level or "IV", approvers or ("leader",))
