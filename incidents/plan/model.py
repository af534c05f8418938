"""The plan as frozen objects: its levels, clocks, departments, chains, rules, and the Plan itself."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from incidents.kernel.errors import InvalidInput
from incidents.kernel.moments import zone
from incidents.plan.report_rules import (  # noqa: F401 - the plan's report rules, as before
    AUTOMATIC_CHANNELS, CLAIM_CONFIRMERS, DELIVERY_CHANNELS, EMAIL, INTERNAL, LOCAL_GOVERNMENT, RECORDED_CHANNELS, YINGJI, DocumentRules, Recipient, ReportRules,
)



DEFAULT_PLAN_FILE = Path(__file__).parent / "plans" / "zhongmou-2021.yaml"

LEVEL_CODES = ("I", "II", "III", "IV")
UNGRADED = "ungraded"
# bureau_informed: the bureau learned of the event (registered by the bureau itself, or the station's report).
START_EVENTS = ("discovered", "initial_report", "bureau_informed", "activated", "ended")
SATISFIERS = ("initial", "bureau", "progress", "closing", "measure")
REPORT_KINDS = ("initial", "bureau", "progress", "closing")
RESPONSIBLE = ("station", "office", "lead")
COLOURS = ("red", "orange", "yellow", "blue")
# The escalation chain of the 12315 time limits (complaints have no level).
COMPLAINT_CHAIN = "complaint"
CHANNELS = ("board", "sms", "voice")
RECIPIENTS = ("duty_officer", "department_head", "leadership")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # a code in the plan: department, category, task


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
    """A market-supervision station (市场监督管理所) and the local government it reports to (当地政府)."""

    code: str
    name: str
    government: str | None = None


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
    category: str = ""  # the category and level the watch is registered with (no response: see response/holiday_watch.py)
    level: str = "IV"

    @property
    def departments(self) -> tuple[str, ...]:
        """Return every department the tasks go to, in the plan's order."""
        out: list[str] = []
        for t in self.tasks:
            out.extend(d for d in t.departments if d not in out)
        return tuple(out)


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
    # The bureau's code among bureaus that run Yingji (what it signs as; how others' plans name it as `peer`).
    bureau_code: str = ""

    @property
    def tz(self) -> ZoneInfo:
        """Return the plan's time zone (Beijing), built once per process."""
        return zone(self.timezone)

    def in_force_from(self) -> datetime:
        """Return the start of the year the plan was issued (Beijing time): no event it governs is older."""
        match = re.match(r"^(\d{4})", self.issued or "")
        year = int(match.group(1)) if match else 2000
        return datetime(year, 1, 1, tzinfo=self.tz)

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

    def known_department(self, code: str) -> Department:
        """Return the department with this code, or refuse the input that named it (400)."""
        try:
            return self.department(code)
        except KeyError:
            raise InvalidInput("unknown_department", f"预案中没有科室“{code[:40]}”", f"unknown department '{code[:40]}'",
                               field="department") from None

    def station_codes(self) -> frozenset[str]:
        """Return the codes of the plan's stations."""
        return frozenset(s.code for s in self.stations)

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
