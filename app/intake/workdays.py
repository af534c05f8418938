"""Chinese working days from the `chinesecalendar` package, with the years the plan adds."""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib.metadata import version

import chinese_calendar

from incidents.complaints import PlanCalendar
from incidents.holidays import CalendarGap
from incidents.plan import Plan


class ChineseWorkdays:
    """Working days of mainland China (holidays and make-up working days); a year without data raises CalendarGap."""

    source = f"chinesecalendar {version('chinesecalendar')}"

    def __init__(self) -> None:
        # The package checks every date against the range of its data (min and max of its tables):
        # a limit asks for dozens of days, so remember the answers (a year is 366 entries).
        self._known: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        """Tell whether `day` is an official working day."""
        known = self._known.get(day)
        if known is not None:
            return known
        try:
            answer = chinese_calendar.is_workday(day)
        except NotImplementedError:
            raise CalendarGap(day.year, self.source) from None
        if len(self._known) < 20_000:
            self._known[day] = answer
        return answer


@lru_cache(maxsize=8)
def _calendar(years: tuple) -> PlanCalendar:
    return PlanCalendar(ChineseWorkdays(), years)


def calendar_for(plan: Plan) -> PlanCalendar:
    """Return the working-day calendar of a plan: the package's data, and the years the plan fills in."""
    return _calendar(plan.complaints.calendar)
