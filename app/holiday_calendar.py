"""The official holiday arrangements of mainland China, from the `chinesecalendar` package."""
from __future__ import annotations

from datetime import date
from importlib.metadata import version

import chinese_calendar

from incidents.holidays import CalendarGap

# The package's names for the holidays the plan can name.
_NAMES = {
    chinese_calendar.Holiday.new_years_day.value: "new_year",
    chinese_calendar.Holiday.spring_festival.value: "spring_festival",
    chinese_calendar.Holiday.tomb_sweeping_day.value: "qingming",
    chinese_calendar.Holiday.labour_day.value: "labour_day",
    chinese_calendar.Holiday.dragon_boat_festival.value: "dragon_boat",
    chinese_calendar.Holiday.mid_autumn_festival.value: "mid_autumn",
    chinese_calendar.Holiday.national_day.value: "national_day",
}


class ChineseCalendar:
    """Look up holiday days off; a year the package has no data for raises CalendarGap."""

    source = f"chinesecalendar {version('chinesecalendar')}"

    def holiday_on(self, day: date) -> str | None:
        """Return the plan's name of the holiday `day` is a day off of, or None."""
        try:
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            raise CalendarGap(day.year, self.source) from None
        if not is_holiday or name is None:
            return None
        return _NAMES.get(name)
