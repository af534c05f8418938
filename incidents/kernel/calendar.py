"""The working-day calendar of mainland China: statutory holidays, official notices, office entries.

One calendar answers three questions for any day: is it a working day, which holiday break is
it part of, and how sure are we. It is built in layers, each overriding the one before:

1. The statutory holidays of 《全国年节及纪念日放假办法》 (the edition in force that year), with
   weekends off. Lunar dates (春节, 端午, 中秋) and the solar term 清明 come from an injected
   library, never from a table typed in here. A year known only this way is *uncertain*: the
   State Council may still move days off and make a weekend a working day (调休).
2. The State Council's notice of the year (国务院办公厅关于部分节假日安排的通知): its days off
   and make-up working days, from a maintained package where it has the year.
3. Notices the office enters for years the package lacks (and the plan file's years).

Layers 2 and 3 arrive here as `Notice` objects: which layer a notice came from is only its
`source`. A year outside the statutory rules raises CalendarGap; counting then falls back to
Monday to Friday and says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable, Mapping, Protocol

HOLIDAY_NAMES = {"new_year": "元旦", "spring_festival": "春节", "qingming": "清明节", "labour_day": "劳动节",
                 "dragon_boat": "端午节", "mid_autumn": "中秋节", "national_day": "国庆节"}
HOLIDAYS = tuple(HOLIDAY_NAMES)
WEEKDAYS = "一二三四五六日"


class CalendarGap(LookupError):
    """The calendar cannot say anything official about this year."""

    def __init__(self, year: int, source: str) -> None:
        super().__init__(f"{source} has no holiday data for {year}")
        self.year = year
        self.source = source


# --- the statutory rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatutoryDay:
    """One statutory day off: a solar date, a lunar date, or a solar term, plus an offset in days."""

    holiday: str
    anchor: str  # solar | lunar | term
    month: int = 0
    day: int = 0
    offset: int = 0  # -1: the day before the anchor (除夕 is the day before 正月初一)
    term: str = ""
    label: str = ""  # how the rule names it, e.g. 除夕、正月初一

    def date_in(self, lunar: LunarDates, year: int) -> date:
        """Return this statutory day in a Gregorian year."""
        if self.anchor == "solar":
            base = date(year, self.month, self.day)
        elif self.anchor == "lunar":
            base = lunar.from_lunar(year, self.month, self.day)
        else:
            base = lunar.solar_term(year, self.term)
        return base + timedelta(days=self.offset)


@dataclass(frozen=True)
class Edition:
    """An edition of 《全国年节及纪念日放假办法》 and the years it governs."""

    since: int
    title: str
    days: tuple[StatutoryDay, ...]


def _solar(holiday: str, month: int, days: Iterable[int]) -> tuple[StatutoryDay, ...]:
    return tuple(StatutoryDay(holiday, "solar", month, d, label=f"{month}月{d}日") for d in days)


_EVE = StatutoryDay("spring_festival", "lunar", 1, 1, -1, label="除夕")
_FIRST_DAYS = tuple(StatutoryDay("spring_festival", "lunar", 1, 1, i, label=f"正月初{'一二三'[i]}") for i in range(3))
_COMMON = (StatutoryDay("qingming", "term", term="清明", label="清明"),
           StatutoryDay("dragon_boat", "lunar", 5, 5, label="端午（农历五月初五）"),
           StatutoryDay("mid_autumn", "lunar", 8, 15, label="中秋（农历八月十五）"))

# The editions since 2008, newest first. The State Council's notices of 2008–2026 agree with them
# (tests/test_calendar.py checks every statutory day against the package's data for those years).
EDITIONS = (
    Edition(2025, "《全国年节及纪念日放假办法》（2024年11月10日国务院令第797号修订，2025年1月1日起施行）",
            _solar("new_year", 1, [1]) + (_EVE,) + _FIRST_DAYS + _COMMON[:1] + _solar("labour_day", 5, [1, 2])
            + _COMMON[1:] + _solar("national_day", 10, [1, 2, 3])),
    Edition(2014, "《全国年节及纪念日放假办法》（2013年12月11日国务院令第644号修订，2014年1月1日起施行）",
            _solar("new_year", 1, [1]) + _FIRST_DAYS + _COMMON[:1] + _solar("labour_day", 5, [1])
            + _COMMON[1:] + _solar("national_day", 10, [1, 2, 3])),
    Edition(2008, "《全国年节及纪念日放假办法》（2007年12月14日国务院令第513号修订，2008年1月1日起施行）",
            _solar("new_year", 1, [1]) + (_EVE,) + _FIRST_DAYS[:2] + _COMMON[:1] + _solar("labour_day", 5, [1])
            + _COMMON[1:] + _solar("national_day", 10, [1, 2, 3])),
)
# Lunar dates are computed, not looked up, but the rules are only kept this far ahead.
LAST_YEAR = 2099


def edition_for(year: int) -> Edition:
    """Return the edition of the rules in force in a year; raise CalendarGap outside them."""
    if year <= LAST_YEAR:
        for edition in EDITIONS:
            if year >= edition.since:
                return edition
    raise CalendarGap(year, f"法定节假日规则（{EDITIONS[-1].since}–{LAST_YEAR}年）")


class LunarDates(Protocol):
    """Lunar calendar arithmetic from a maintained library."""

    source: str

    def from_lunar(self, year: int, month: int, day: int) -> date:
        """Return the Gregorian date of a day of the lunar year that starts in `year`."""
        ...

    def solar_term(self, year: int, name: str) -> date:
        """Return the date of a solar term (节气, e.g. 清明) in a Gregorian year."""
        ...


def statutory_days(lunar: LunarDates, year: int) -> dict[date, tuple[str, ...]]:
    """Return the statutory days off of a year, each with the holidays it belongs to."""
    out: dict[date, tuple[str, ...]] = {}
    for rule in edition_for(year).days:
        day = rule.date_in(lunar, year)
        if rule.holiday not in out.get(day, ()):
            out[day] = out.get(day, ()) + (rule.holiday,)
    return out


# --- notices -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeBreak:
    """One holiday break of a notice: its days off, first to last, and its make-up working days."""

    holidays: tuple[str, ...]
    first_day: date
    last_day: date
    workdays: tuple[date, ...] = ()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class Notice:
    """A year's official arrangement: its breaks, or bare lists of days off and days worked."""

    year: int
    source: str
    breaks: tuple[NoticeBreak, ...] = ()
    days_off: tuple[date, ...] = ()  # days off not grouped into breaks (the plan file's years)
    workdays: tuple[date, ...] = ()  # make-up working days not tied to a break

    def off_days(self) -> dict[date, tuple[str, ...]]:
        """Return every day off the notice names, with the holidays of its break."""
        out = {d: () for d in self.days_off}
        for b in self.breaks:
            for i in range(b.days):
                out[b.first_day + timedelta(days=i)] = b.holidays
        return out

    def worked(self) -> frozenset[date]:
        """Return the make-up working days (调休上班)."""
        return frozenset(self.workdays).union(*(b.workdays for b in self.breaks))


# --- the calendar --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """What the calendar says of one day."""

    day: date
    workday: bool
    holidays: tuple[str, ...]  # the holidays of the break it is part of; () on an ordinary day
    certain: bool  # an official notice covers it; False: statutory rules and weekends only
    source: str


@dataclass(frozen=True)
class Break:
    """A holiday break: consecutive days off around one or more statutory holidays."""

    holidays: tuple[str, ...]
    first_day: date
    last_day: date
    year: int  # whose holidays these are (元旦 may begin in the December before)
    workdays: tuple[date, ...]
    certain: bool
    source: str

    @property
    def name(self) -> str:
        return "、".join(HOLIDAY_NAMES[h] for h in self.holidays)

    @property
    def label(self) -> str:
        return f"{self.year}年{self.name}"

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass
class _Raw:
    off: bool
    names: tuple[str, ...]
    certain: bool
    source: str
    listed: bool = False  # a notice names it as a day off (not merely a weekend)


@dataclass
class Calendar:
    """Chinese working days in layers: statutory rules, then each year's notice (office > plan > package)."""

    lunar: LunarDates | None
    notices: Mapping[int, Notice] = field(default_factory=dict)
    _raw: dict[int, dict[date, _Raw] | None] = field(default_factory=dict, repr=False)
    _days: dict[int, dict[date, Day]] = field(default_factory=dict, repr=False)
    _breaks: dict[int, list[Break]] = field(default_factory=dict, repr=False)

    @property
    def source(self) -> str:
        lunar = self.lunar.source if self.lunar else "无农历数据"
        return f"法定节假日（{lunar}）与各年放假通知"

    def notice(self, year: int) -> Notice | None:
        """Return the notice that governs a year, if any."""
        return self.notices.get(year)

    def statutory(self, year: int) -> dict[date, tuple[str, ...]]:
        """Return the statutory days off of a year (raise CalendarGap outside the rules)."""
        if self.lunar is None:
            raise CalendarGap(year, "法定节假日规则（未配置农历）")
        return statutory_days(self.lunar, year)

    def day(self, day: date) -> Day:
        """Return what the calendar says of a day; raise CalendarGap for a year it knows nothing of."""
        days = self._days.get(day.year)
        if days is None:
            days = self._build(day.year)
        return days[day]

    def is_workday(self, day: date) -> bool:
        """Tell whether a day is a working day."""
        return self.day(day).workday

    def breaks(self, year: int) -> list[Break]:
        """Return the holiday breaks of a year's holidays, in date order."""
        found = self._breaks.get(year)
        if found is None:
            self._build(year)
            found = self._breaks[year]
        return found

    # The year's days are known only once the breaks around it are: a break can cross New Year.
    def _build(self, year: int) -> dict[date, Day]:
        raw = self._year_raw(year)
        if raw is None:
            raise CalendarGap(year, self.source)
        window = dict(raw)
        before, after = self._year_raw(year - 1), self._year_raw(year + 1)
        window.update({d: v for d, v in (before or {}).items() if d.month == 12})
        window.update({d: v for d, v in (after or {}).items() if d.month == 1})
        runs: dict[date, tuple[date, date, tuple[str, ...]]] = {}
        ordered = sorted(window)
        i = 0
        while i < len(ordered):
            if not window[ordered[i]].off:
                i += 1
                continue
            j = i
            while j + 1 < len(ordered) and window[ordered[j + 1]].off and \
                    ordered[j + 1] - ordered[j] == timedelta(days=1):
                j += 1
            names: tuple[str, ...] = ()
            for d in ordered[i:j + 1]:
                names += tuple(n for n in window[d].names if n not in names)
            lo, hi = i, j
            # A notice's break is what it says: a plain weekend next to it is not part of it.
            while lo < hi and window[ordered[lo]].certain and not window[ordered[lo]].listed:
                lo += 1
            while hi > lo and window[ordered[hi]].certain and not window[ordered[hi]].listed:
                hi -= 1
            if names:
                names = tuple(h for h in HOLIDAYS if h in names)
                for d in ordered[lo:hi + 1]:
                    runs[d] = (ordered[lo], ordered[hi], names)
            i = j + 1
        days = {d: Day(d, not v.off, runs[d][2] if d in runs else (), v.certain, v.source) for d, v in raw.items()}
        self._days[year] = days
        breaks: dict[tuple[date, date], Break] = {}
        for first, last, names in runs.values():
            owner = last.year if "new_year" in names else first.year
            if owner != year or (first, last) in breaks:
                continue
            span = [window[first + timedelta(days=k)] for k in range((last - first).days + 1)]
            notice = self.notices.get(year)
            worked = tuple(sorted(w for b in (notice.breaks if notice else ()) if set(b.holidays) & set(names)
                                  for w in b.workdays))
            breaks[(first, last)] = Break(names, first, last, year, worked, all(s.certain for s in span),
                                          span[0].source)
        self._breaks[year] = sorted(breaks.values(), key=lambda b: b.first_day)
        return days

    def _year_raw(self, year: int) -> dict[date, _Raw] | None:
        if year in self._raw:
            return self._raw[year]
        try:
            raw = self._layers(year)
        except CalendarGap:
            raw = None
        self._raw[year] = raw
        return raw

    def _layers(self, year: int) -> dict[date, _Raw]:
        notice = self.notices.get(year)
        statutory: dict[date, tuple[str, ...]] = {}
        try:
            statutory = self.statutory(year)
        except CalendarGap:
            if notice is None:
                raise
        first = date(year, 1, 1)
        out: dict[date, _Raw] = {}
        if notice is not None:
            off, worked = notice.off_days(), notice.worked()
            for k in range((date(year + 1, 1, 1) - first).days):
                d = first + timedelta(days=k)
                is_off = d in off or (d.weekday() >= 5 and d not in worked)
                out[d] = _Raw(is_off, (off.get(d) or statutory.get(d, ())) if is_off else (), True, notice.source,
                              d in off)
        else:
            source = (f"按{edition_for(year).title}和周末推算（{year}年放假通知未录入，调休未计入）")
            for k in range((date(year + 1, 1, 1) - first).days):
                d = first + timedelta(days=k)
                is_off = d in statutory or d.weekday() >= 5
                out[d] = _Raw(is_off, statutory.get(d, ()), False, source)
        following = self.notices.get(year + 1)
        if following is not None:
            # Next year's notice may start 元旦 in this December, or make a day of it a working day.
            for d, names in following.off_days().items():
                if d.year == year:
                    out[d] = _Raw(True, names, True, following.source, True)
            for d in following.worked():
                if d.year == year:
                    out[d] = _Raw(False, (), True, following.source)
        return out


class WeekdayCalendar:
    """Monday to Friday, no holidays: what an estimate assumes for a year nothing is known of."""

    source = "周一至周五（不含节假日）"

    def day(self, day: date) -> Day:
        """Return Monday to Friday as working days."""
        return Day(day, day.weekday() < 5, (), True, self.source)

    def is_workday(self, day: date) -> bool:
        """Tell whether `day` is Monday to Friday."""
        return day.weekday() < 5


class WorkdayCalendar(Protocol):
    """What the working-day arithmetic needs of a calendar."""

    source: str

    def day(self, day: date) -> Day:
        """Return what the calendar says of a day; raise CalendarGap for a year without rules."""
        ...


# --- counting working days ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    """The last working day of a count, and whether it rests on an estimate (and why)."""

    day: date
    estimated: bool
    note: str | None = None


MAX_WORKING_DAYS = 400


@dataclass
class _Tally:
    unnoticed: set[int] = field(default_factory=set)  # years known by the statutory rules only
    gaps: set[int] = field(default_factory=set)  # years the calendar knows nothing of

    def workday(self, calendar: WorkdayCalendar, day: date) -> bool:
        try:
            found = calendar.day(day)
        except CalendarGap as gap:
            self.gaps.add(gap.year)
            return day.weekday() < 5
        if not found.certain:
            self.unnoticed.add(day.year)
        return found.workday

    def note(self) -> str | None:
        parts = []
        if self.unnoticed:
            years = "、".join(f"{y}年" for y in sorted(self.unnoticed))
            parts.append(f"{years}放假安排（国务院办公厅通知）尚未录入，暂按法定节假日和周末推算，调休上班日未计入，"
                         f"时限为估算；录入通知后自动重算")
        if self.gaps:
            years = "、".join(f"{y}年" for y in sorted(self.gaps))
            parts.append(f"节假日数据未覆盖{years}，暂按周一至周五估算工作日，未计入法定节假日和调休")
        return "；".join(parts) or None


def add_working_days(calendar: WorkdayCalendar, start: date, n: int) -> Counted:
    """Return the n-th working day after `start` (the start day itself is not counted)."""
    if not 1 <= n <= MAX_WORKING_DAYS:
        raise ValueError(f"working days must be 1..{MAX_WORKING_DAYS}")
    tally = _Tally()
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if tally.workday(calendar, day):
            counted += 1
    note = tally.note()
    return Counted(day, note is not None, note)


def working_days_left(calendar: WorkdayCalendar, today: date, due_on: date) -> int:
    """Return the working days from today (counted if it is one) to the due day, both included; 0 if past."""
    if due_on < today:
        return 0
    tally = _Tally()
    days, day = 0, today
    while day <= due_on and days <= MAX_WORKING_DAYS:
        if tally.workday(calendar, day):
            days += 1
        day += timedelta(days=1)
    return days


def chinese_date(day: date, *, year: bool = False) -> str:
    """Return a date as a notice writes it: 2月5日（星期五）."""
    text = f"{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"
    return f"{day.year}年{text}" if year else text
