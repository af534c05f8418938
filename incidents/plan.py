"""Load and validate the emergency plan file into frozen objects.

Every error names the line of the plan file it is about, so that the person who
edits the plan can find it (`flask --app wsgi plan check FILE`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from incidents.kernel.calendar import HOLIDAYS
from incidents.kernel.durations import parse_duration
from incidents.kernel.roles import ROLES

DEFAULT_PLAN_FILE = Path(__file__).parent / "plans" / "zhongmou-2021.yaml"

LEVEL_CODES = ("I", "II", "III", "IV")
UNGRADED = "ungraded"
START_EVENTS = ("discovered", "initial_report", "activated", "ended")
SATISFIERS = ("initial", "bureau", "progress", "closing", "measure")
REPORT_KINDS = ("initial", "bureau", "progress", "closing")
RESPONSIBLE = ("station", "office", "lead")
COLOURS = ("red", "orange", "yellow", "blue")
# The escalation chain of the 12315 time limits (complaints have no level).
COMPLAINT_CHAIN = "complaint"
CHANNELS = ("board", "sms", "voice")
RECIPIENTS = ("duty_officer", "department_head", "leadership")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class PlanIssue:
    """One thing wrong with a plan file, at a line (1-based; 0 when unknown)."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"


class PlanError(ValueError):
    """The plan file is not valid; `issues` lists every problem with its line."""

    def __init__(self, issues: list[PlanIssue], source: str = "plan") -> None:
        self.issues = issues
        self.source = source
        super().__init__(f"{source}: " + "; ".join(str(i) for i in issues))


@dataclass(frozen=True)
class Level:
    """A response level (事件等级) and its rules."""

    code: str
    numeral: str
    name: str
    colour: str
    hints: tuple[str, ...]
    command_hq: str
    end_declared_by: tuple[str, ...]


@dataclass(frozen=True)
class Applicability:
    """One alternative of when a clock runs: the levels, narrowed by category."""

    levels: frozenset[str]
    categories: frozenset[str] | None = None
    categories_except: frozenset[str] = frozenset()

    def matches(self, level: str | None, category: str) -> bool:
        """Tell whether an incident at this level and category falls under it."""
        if (level or UNGRADED) not in self.levels:
            return False
        if self.categories is not None and category not in self.categories:
            return False
        return category not in self.categories_except


@dataclass(frozen=True)
class ClockRule:
    """A reporting or response-measure clock of the plan."""

    kind: str
    name: str
    basis: str
    starts_on: str
    due_after: tuple[tuple[str, timedelta], ...]  # (level or "*", duration)
    responsible: str
    satisfied_by: str
    warn_before: tuple[timedelta, ...]
    applies: tuple[Applicability, ...]
    repeats: bool = False

    def applies_to(self, level: str | None, category: str) -> bool:
        """Tell whether this clock runs for an incident at this level and category."""
        return any(a.matches(level, category) for a in self.applies)

    def duration(self, level: str | None) -> timedelta:
        """Return how long the clock runs at this level (None means ungraded)."""
        table = dict(self.due_after)
        key = level or UNGRADED
        if key in table:
            return table[key]
        if "*" in table:
            return table["*"]
        raise KeyError(f"clock {self.kind} has no duration for level {key}")


@dataclass(frozen=True)
class Department:
    """A department (科室) of the bureau."""

    code: str
    name: str
    domain: str


@dataclass(frozen=True)
class Station:
    """A market-supervision station (市场监督管理所)."""

    code: str
    name: str


@dataclass(frozen=True)
class Category:
    """An event category, its lead department and the level it usually gets."""

    code: str
    name: str
    lead_department: str
    suggested_level: str | None


@dataclass(frozen=True)
class EscalationStep:
    """One step of an escalation chain: after a wait, tell someone on a channel."""

    after: timedelta
    channel: str
    to: str


@dataclass(frozen=True)
class EscalationChain:
    """The escalation steps for one level, run up to `repeat` times, a round every `repeat_after`."""

    repeat: int
    steps: tuple[EscalationStep, ...]
    repeat_after: timedelta = timedelta(0)

    def as_dict(self, level: str) -> dict:
        """Return the chain as the plain data frozen onto an escalation when it starts."""
        return {"level": level, "repeat": self.repeat, "repeat_after": int(self.repeat_after.total_seconds()),
                "steps": [{"after": int(s.after.total_seconds()), "channel": s.channel, "to": s.to}
                          for s in self.steps]}


@dataclass(frozen=True)
class DeliveryRules:
    """How SMS and calls are paced: per-person throttles and the retries of a transient failure."""

    window: timedelta = timedelta(minutes=15)
    max_sms: int = 5
    max_calls: int = 3
    retry_after: tuple[timedelta, ...] = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=5))


@dataclass(frozen=True)
class DutyRules:
    """Which departments must be covered by a duty officer, and when."""

    always_covered: tuple[str, ...] = ()
    round_the_clock_levels: tuple[str, ...] = ()
    look_ahead: timedelta = timedelta(days=2)


@dataclass(frozen=True)
class StandardAssignment:
    """A task that activating a response at these levels assigns to a department."""

    levels: frozenset[str]
    department: str  # a department code, or "lead"
    task: str
    clock: str | None = None
    due_after: timedelta | None = None
    categories_except: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HolidayTask:
    """A task the holiday watch gives departments, due `due_before` the first day off."""

    code: str
    departments: tuple[str, ...]
    task: str
    due_before: timedelta = timedelta(0)


@dataclass(frozen=True)
class HolidayWarnings:
    """The holiday market warning: which holidays, how early it opens, the tasks it gives."""

    holidays: tuple[str, ...] = ()
    lead_time: timedelta = timedelta(days=4)
    open_at: str = "08:30"  # HH:MM on the day the lead time reaches: nobody is woken for a warning
    tasks: tuple[HolidayTask, ...] = ()
    category: str = ""  # the category and level the watch is registered with (no response: see holidays.py)
    level: str = "IV"

    @property
    def departments(self) -> tuple[str, ...]:
        """Return every department the tasks go to, in the plan's order."""
        out: list[str] = []
        for t in self.tasks:
            out.extend(d for d in t.departments if d not in out)
        return tuple(out)


@dataclass(frozen=True)
class ReportRules:
    """The briefings: the classification line, when the daily report goes out, who approves closing reports."""

    classification: str = "内部资料　注意保管"
    daily_at: str = "08:00"  # HH:MM in the plan's time zone
    closing_approved_by: tuple[str, ...] = ("leader",)


@dataclass(frozen=True)
class ComplaintCategory:
    """A 12315 complaint category: the department it usually goes to, the incident categories it may join."""

    code: str
    name: str
    department: str
    incident_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComplaintLimit:
    """A statutory handling time limit of complaints or tip-offs, in Chinese working days."""

    kind: str
    name: str
    basis: str
    applies_to: tuple[str, ...]  # complaint | tipoff
    starts_on: str  # received | accepted
    working_days: int
    warn_working_days: int
    met_by: tuple[str, ...]  # the statuses that end it


@dataclass(frozen=True)
class RateLimit:
    """At most `count` requests per `window` (a sliding window)."""

    count: int
    window: timedelta


@dataclass(frozen=True)
class CalendarYear:
    """An official holiday arrangement the bureau enters for a year its calendar data lacks."""

    year: int
    days_off: tuple[str, ...]  # ISO dates off that are weekdays
    workdays: tuple[str, ...]  # ISO dates worked that are weekend days (调休上班)


@dataclass(frozen=True)
class ComplaintRules:
    """The 12315 intake: categories, demands, time limits, retention, rate and size limits."""

    centre: str = "complaints"
    categories: tuple[ComplaintCategory, ...] = ()
    demands: tuple[tuple[str, str], ...] = ()
    limits: tuple[ComplaintLimit, ...] = ()
    retention: timedelta = timedelta(days=1095)
    submit_per_ip: RateLimit = RateLimit(20, timedelta(hours=1))
    submit_per_phone: RateLimit = RateLimit(5, timedelta(days=1))
    status_per_ip: RateLimit = RateLimit(60, timedelta(hours=1))
    max_text: int = 2000
    calendar: tuple[CalendarYear, ...] = ()
    # Refused submissions (a typo in the phone, a field missing) count apart, and generously: a family
    # or an office behind one address must not lock itself out by its own mistakes.
    refused_per_ip: RateLimit = RateLimit(120, timedelta(hours=1))

    def category(self, code: str) -> ComplaintCategory:
        """Return the complaint category with this code."""
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(code)


@dataclass(frozen=True)
class SurgeRule:
    """A surge: at least `min_count` complaints in `window` and `ratio` times the baseline rate."""

    by: str  # business | category | area
    window: timedelta
    min_count: int
    ratio: float


@dataclass(frozen=True)
class SurgeRules:
    """The complaint surge watch (投诉高峰) and the consumer warnings drafted from it."""

    rules: tuple[SurgeRule, ...] = ()
    baseline: timedelta = timedelta(days=28)
    cooldown: timedelta = timedelta(hours=12)
    incident_category: str = ""
    incident_level: str = "IV"
    warnings_approved_by: tuple[str, ...] = ("leader",)


@dataclass(frozen=True)
class Plan:
    """A validated emergency plan."""

    id: str
    version: str
    title: str
    bureau: str
    issued: str
    timezone: str
    levels: tuple[Level, ...]
    office_department: str
    clocks: tuple[ClockRule, ...]
    departments: tuple[Department, ...]
    support_departments: tuple[str, ...]
    stations: tuple[Station, ...]
    categories: tuple[Category, ...]
    escalation: tuple[tuple[str, EscalationChain], ...]
    source_text: str = field(repr=False, compare=False)
    duty: DutyRules = DutyRules()
    standard_assignments: tuple[StandardAssignment, ...] = ()
    holiday_warnings: HolidayWarnings = HolidayWarnings()
    delivery: DeliveryRules = DeliveryRules()
    reports: ReportRules = ReportRules()
    complaints: ComplaintRules = ComplaintRules()
    surge: SurgeRules = SurgeRules()
    sha256: str = ""

    def in_force_from(self) -> datetime:
        """Return the start of the year the plan was issued (Beijing time): no event it governs is older."""
        match = re.match(r"^(\d{4})", self.issued or "")
        year = int(match.group(1)) if match else 2000
        return datetime(year, 1, 1, tzinfo=ZoneInfo(self.timezone))

    def level(self, code: str) -> Level:
        """Return the level with this code (I, II, III, IV)."""
        for level in self.levels:
            if level.code == code:
                return level
        raise KeyError(code)

    def category(self, code: str) -> Category:
        """Return the category with this code."""
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(code)

    def department(self, code: str) -> Department:
        """Return the department with this code."""
        for department in self.departments:
            if department.code == code:
                return department
        raise KeyError(code)

    def station(self, code: str) -> Station:
        """Return the station with this code."""
        for station in self.stations:
            if station.code == code:
                return station
        raise KeyError(code)

    def clock(self, kind: str) -> ClockRule:
        """Return the clock rule of this kind."""
        for rule in self.clocks:
            if rule.kind == kind:
                return rule
        raise KeyError(kind)

    def has_unit(self, code: str) -> bool:
        """Tell whether a code names a department or a station."""
        return any(d.code == code for d in self.departments) or any(
            s.code == code for s in self.stations
        )

    def unit_name(self, code: str) -> str:
        """Return the Chinese name of a department or station."""
        try:
            return self.department(code).name
        except KeyError:
            return self.station(code).name

    def measure_kinds(self) -> tuple[str, ...]:
        """Return the kinds of the response-measure clocks."""
        return tuple(c.kind for c in self.clocks if c.satisfied_by == "measure")


# --- reading YAML with line numbers -----------------------------------------


class _Located:
    """Plain Python values built from YAML nodes, with the line of each path."""

    def __init__(self) -> None:
        self.lines: dict[tuple, int] = {}
        self.issues: list[PlanIssue] = []

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    self.issues.append(
                        PlanIssue(key_node.start_mark.line + 1, _dotted(path + (key,)), "duplicate key")
                    )
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def line(self, path: tuple) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 0)


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag.rsplit(":", 1)[-1]
    value = node.value
    if tag == "int":
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value  # YAML 1.1 reads 10:30 as a base-60 number; the checks then see the text
    if tag == "float":
        return float(value)
    if tag == "bool":
        return value.lower() in ("true", "yes", "on")
    if tag == "null":
        return None
    return value


def _dotted(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


class _Checker:
    """Collects every problem of a plan, each with its line."""

    def __init__(self, located: _Located) -> None:
        self.loc = located

    def fail(self, path: tuple, message: str) -> None:
        self.loc.issues.append(PlanIssue(self.loc.line(path), _dotted(path), message))

    def mapping(self, value: Any, path: tuple) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return {}
        return value

    def sequence(self, value: Any, path: tuple, *, allow_empty: bool = False) -> list:
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        if not value and not allow_empty:
            self.fail(path, "must not be empty")
        return value

    def text(self, parent: dict, key: str, path: tuple, *, required: bool = True) -> str:
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(path, f"missing `{key}`")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            self.fail(path + (key,), "must be a non-empty text")
            return ""
        return str(value)

    def code(self, parent: dict, key: str, path: tuple) -> str:
        value = self.text(parent, key, path)
        if value and not _CODE.match(value):
            self.fail(path + (key,), f"`{value}` is not a code (lower-case letters, digits, _)")
        return value

    def duration(self, value: Any, path: tuple) -> timedelta | None:
        if not isinstance(value, str):
            self.fail(path, "must be an ISO 8601 duration such as PT1H or P3D")
            return None
        try:
            return parse_duration(value)
        except ValueError:
            self.fail(path, f"`{value}` is not an ISO 8601 duration such as PT1H or P3D")
            return None

    def choice(self, value: Any, allowed: Iterable[str], path: tuple) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            self.fail(path, f"`{value}` is not one of: {', '.join(allowed)}")
            return ""
        return value

    def unknown_keys(self, mapping: dict, known: Iterable[str], path: tuple) -> None:
        for key in mapping:
            if key not in known:
                self.fail(path + (key,), f"unknown key `{key}`")


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
    located = _Located()
    data = located.build(root, ())
    plan = _validate(data, _Checker(located), text)
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


def _validate(data: Any, c: _Checker, text: str) -> Plan | None:
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
    reports = _reports(top, c)
    complaints = _complaints(top, c, dept_codes, category_codes)
    surge = _surge(top, c, category_codes)
    return Plan(
        id=meta["id"], version=meta["version"], title=meta["title"], bureau=meta["bureau"],
        issued=issued, timezone=tz, levels=levels, office_department=office, clocks=clocks,
        departments=departments, support_departments=tuple(support), stations=stations,
        categories=categories, escalation=escalation, source_text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        duty=duty, standard_assignments=standard, holiday_warnings=holidays, delivery=delivery,
        reports=reports, complaints=complaints, surge=surge,
    )


def _departments(top: dict, c: _Checker) -> tuple[Department, ...]:
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


def _stations(top: dict, c: _Checker, dept_codes: set[str]) -> tuple[Station, ...]:
    out: list[Station] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.sequence(top.get("stations"), ("stations",))):
        path = ("stations", i)
        item = c.mapping(raw, path)
        c.unknown_keys(item, ("code", "name"), path)
        code = c.code(item, "code", path)
        if code in seen or code in dept_codes:
            c.fail(path + ("code",), f"code `{code}` is already used by another unit")
        seen.add(code)
        out.append(Station(code, c.text(item, "name", path)))
    return tuple(out)


def _levels(top: dict, c: _Checker) -> tuple[Level, ...]:
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


def _categories(top: dict, c: _Checker, dept_codes: set[str]) -> tuple[Category, ...]:
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


def _clocks(top: dict, c: _Checker, category_codes: set[str]) -> tuple[ClockRule, ...]:
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


def _applies(item: dict, c: _Checker, path: tuple, category_codes: set[str]) -> tuple[Applicability, ...]:
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


def _due_after(value: Any, c: _Checker, path: tuple, covered: set[str]) -> tuple[tuple[str, timedelta], ...]:
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


def _escalation(top: dict, c: _Checker) -> tuple[tuple[str, EscalationChain], ...]:
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


def _codes(c: _Checker, value, path: tuple, known: set[str], what: str) -> tuple[str, ...]:
    out = []
    for i, code in enumerate(c.sequence(value, path)):
        if code not in known:
            c.fail(path + (i,), f"unknown {what} `{code}`")
        out.append(str(code))
    return tuple(out)


def _duty(top: dict, c: _Checker, dept_codes: set[str]) -> DutyRules:
    if "duty" not in top:
        return DutyRules()
    item = c.mapping(top["duty"], ("duty",))
    c.unknown_keys(item, ("always_covered", "round_the_clock_levels", "look_ahead"), ("duty",))
    covered = _codes(c, item.get("always_covered", []), ("duty", "always_covered"), dept_codes, "department") \
        if item.get("always_covered") else ()
    levels = tuple(c.choice(lv, LEVEL_CODES, ("duty", "round_the_clock_levels", i))
                   for i, lv in enumerate(c.sequence(item.get("round_the_clock_levels", []),
                                                     ("duty", "round_the_clock_levels"), allow_empty=True)))
    look = c.duration(item.get("look_ahead", "P2D"), ("duty", "look_ahead")) or timedelta(days=2)
    return DutyRules(covered, levels, look)


def _delivery(top: dict, c: _Checker) -> DeliveryRules:
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


def _standard_assignments(top: dict, c: _Checker, dept_codes: set[str], clock_kinds: set[str],
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


def _holiday_warnings(top: dict, c: _Checker, dept_codes: set[str], category_codes: set[str]) -> HolidayWarnings:
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
            if code and not _CODE.match(code):
                c.fail(tp + ("code",), "must be lower-case letters, digits and _")
            if code in {t.code for t in tasks}:
                c.fail(tp + ("code",), f"duplicate task code `{code}`")
            due = c.duration(entry.get("due_before", "PT0S"), tp + ("due_before",)) or timedelta(0)
            if due > lead:
                c.fail(tp + ("due_before",), "cannot be due before the watch opens (longer than lead_time)")
            tasks.append(HolidayTask(code, _codes(c, entry.get("departments"), tp + ("departments",), dept_codes,
                                                  "department"), c.text(entry, "task", tp), due))
    elif "departments" in item:
        tasks.append(HolidayTask("watch", _codes(c, item.get("departments"), path + ("departments",), dept_codes,
                                                 "department"), c.text(item, "task", path)))
    category = c.text(item, "category", path)
    if category and category not in category_codes:
        c.fail(path + ("category",), f"unknown category `{category}`")
    level = c.choice(item.get("level"), LEVEL_CODES, path + ("level",))
    return HolidayWarnings(holidays, lead, open_at, tuple(tasks), category, level)


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Approving a closing report archives the incident, so only roles that may archive can approve.
CLOSING_APPROVERS = ("leader", "office")


def _reports(top: dict, c: _Checker) -> ReportRules:
    if "reports" not in top:
        return ReportRules()
    path = ("reports",)
    item = c.mapping(top["reports"], path)
    c.unknown_keys(item, ("classification", "daily_at", "closing_approved_by"), path)
    default = ReportRules()
    classification = c.text(item, "classification", path, required=False) or default.classification
    daily_at = str(item.get("daily_at", default.daily_at))
    if not _HHMM.match(daily_at):
        c.fail(path + ("daily_at",), f"`{daily_at}` is not a time of day such as \"08:00\" (in quotes)")
        daily_at = default.daily_at
    approvers = tuple(c.choice(r, CLOSING_APPROVERS, path + ("closing_approved_by", i))
                      for i, r in enumerate(c.sequence(item.get("closing_approved_by", list(default.closing_approved_by)),
                                                       path + ("closing_approved_by",))))
    return ReportRules(classification, daily_at, approvers or default.closing_approved_by)


# --- 12315 complaints and the surge watch (issue 6) ------------------------------------------------

COMPLAINT_KINDS = ("complaint", "tipoff")
LIMIT_STARTS = ("received", "accepted")
# Statuses a time limit can end on: a decision on acceptance, the end of mediation, a filing decision.
LIMIT_ENDS = ("accepted", "refused", "closed", "filed", "not_filed")
SURGE_DIMENSIONS = ("business", "category", "area")
WARNING_APPROVERS = ("leader", "commander")
_ISO_DAY = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")


def _whole(c: _Checker, item: dict, key: str, path: tuple, default: int, *, least: int = 1) -> int:
    value = item.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        c.fail(path + (key,), f"must be a whole number of at least {least}")
        return default
    return value


def _rate(c: _Checker, item: dict, key: str, path: tuple, default: RateLimit) -> RateLimit:
    if key not in item:
        return default
    sub = c.mapping(item[key], path + (key,))
    c.unknown_keys(sub, ("count", "window"), path + (key,))
    count = _whole(c, sub, "count", path + (key,), default.count)
    window = c.duration(sub.get("window"), path + (key, "window")) or default.window
    return RateLimit(count, window)


def _complaints(top: dict, c: _Checker, dept_codes: set[str], category_codes: set[str]) -> ComplaintRules:
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
        joins = _codes(c, cat.get("incidents", []), cp + ("incidents",), category_codes, "incident category") \
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


def _surge(top: dict, c: _Checker, category_codes: set[str]) -> SurgeRules:
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
