"""The calendar's outside sources: lunar-python for lunar dates, chinesecalendar for the notices it holds.

The domain (incidents/calendar.py) builds the one calendar of the system from these, the plan
file's years and the notices the office entered; this module keeps one built calendar per
process and rebuilds it when a notice is entered (by this process or any other).
"""
from __future__ import annotations

import threading
from datetime import date, timedelta
from functools import lru_cache
from importlib.metadata import version

import chinese_calendar
from lunar_python import Lunar
from sqlalchemy.orm import Session

from incidents.complaints import calendar_notices
from incidents.kernel.calendar import Calendar, Notice, NoticeBreak
from incidents.plan import Plan

# The package's names for the holidays of the statutory rules; others (e.g. the one-off day of
# 3 September 2015) are days off without a name.
_NAMES = {
    chinese_calendar.Holiday.new_years_day.value: "new_year",
    chinese_calendar.Holiday.spring_festival.value: "spring_festival",
    chinese_calendar.Holiday.tomb_sweeping_day.value: "qingming",
    chinese_calendar.Holiday.labour_day.value: "labour_day",
    chinese_calendar.Holiday.dragon_boat_festival.value: "dragon_boat",
    chinese_calendar.Holiday.mid_autumn_festival.value: "mid_autumn",
    chinese_calendar.Holiday.national_day.value: "national_day",
}
PACKAGE = f"chinesecalendar {version('chinesecalendar')}"


class LunarPython:
    """Lunar dates and solar terms from lunar-python (computed, for any year the rules cover)."""

    source = f"lunar-python {version('lunar-python')}"

    def from_lunar(self, year: int, month: int, day: int) -> date:
        """Return the Gregorian date of a day of the lunar year that starts in `year`."""
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return date(solar.getYear(), solar.getMonth(), solar.getDay())

    def solar_term(self, year: int, name: str) -> date:
        """Return the date of a solar term (e.g. 清明) in a Gregorian year."""
        for lunar_year in (year, year - 1, year + 1):
            found = Lunar.fromYmd(lunar_year, 1, 1).getJieQiTable().get(name)
            if found is not None and found.getYear() == year:
                return date(found.getYear(), found.getMonth(), found.getDay())
        raise ValueError(f"no solar term {name} in {year}")


@lru_cache(maxsize=1)
def package_notices() -> dict[int, Notice]:
    """Return the State Council notices the chinesecalendar package holds, one per year."""
    out: dict[int, Notice] = {}
    source = f"国务院办公厅放假通知（{PACKAGE}）"
    year = 2000
    while year < 2200:
        try:
            chinese_calendar.get_holiday_detail(date(year, 1, 1))
        except NotImplementedError:
            if out:
                break
            year += 1
            continue
        out[year] = _package_year(year, source)
        year += 1
    return out


def _package_year(year: int, source: str) -> Notice:
    breaks: list[NoticeBreak] = []
    worked: list[tuple[date, tuple[str, ...]]] = []
    day = date(year, 1, 1)
    while day.year == year:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
        names = (_NAMES[name],) if name in _NAMES else ()
        if is_holiday and name:
            last = breaks[-1] if breaks else None
            if last and last.last_day == day - timedelta(days=1) and last.holidays == names:
                breaks[-1] = NoticeBreak(names, last.first_day, day)
            else:
                breaks.append(NoticeBreak(names, day, day))
        elif not is_holiday and day.weekday() >= 5:
            worked.append((day, names))
        day += timedelta(days=1)
    # The package names the holiday each make-up working day is for: give it to that break.
    loose: list[date] = []
    for day, names in worked:
        own = [i for i, b in enumerate(breaks) if b.holidays == names and names]
        if not own:
            loose.append(day)
            continue
        i = min(own, key=lambda k: abs((breaks[k].first_day - day).days))
        breaks[i] = NoticeBreak(breaks[i].holidays, breaks[i].first_day, breaks[i].last_day,
                                breaks[i].workdays + (day,))
    return Notice(year, source, tuple(breaks), workdays=tuple(loose))


@lru_cache(maxsize=1)
def sources() -> calendar_notices.Sources:
    """Return the lunar library and the package's notices (read once per process)."""
    return calendar_notices.Sources(LunarPython(), package_notices())


_lock = threading.Lock()
_built: dict[tuple, Calendar] = {}


def calendar_for(session: Session, plan: Plan) -> Calendar:
    """Return the calendar of the system as it stands: rebuilt when a notice was entered anywhere."""
    key = (plan.complaints.calendar, calendar_notices.version(session))
    found = _built.get(key)
    if found is None:
        found = calendar_notices.build_calendar(session, plan, sources())
        with _lock:
            _built.clear()  # the older versions are stale for good
            _built[key] = found
    return found
