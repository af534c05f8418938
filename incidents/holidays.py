"""Holiday market warnings (节日市场应急预警, plan §三(三)4(2)).

Before each holiday the plan names, a Ⅳ-level watch incident is opened and activated, and
every department the plan lists gets a watch assignment on its board; the holiday's duty
roster is checked for gaps. The calendar is injected: the official holiday arrangements
come from a maintained package in the web layer, and a year its data does not cover is
said plainly instead of guessed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents import announce, board_events, service
from incidents.assignments import add as create_assignment
from incidents.duty import DutyAlert, gap_alert
from incidents.models import Incident, Shift
from incidents.plan import Plan

NAMES = {"new_year": "元旦", "spring_festival": "春节", "qingming": "清明节", "labour_day": "劳动节",
         "dragon_boat": "端午节", "mid_autumn": "中秋节", "national_day": "国庆节"}


class CalendarGap(LookupError):
    """The calendar has no official arrangement for this year."""

    def __init__(self, year: int, source: str) -> None:
        super().__init__(f"{source} has no holiday data for {year}")
        self.year = year
        self.source = source


class HolidayCalendar(Protocol):
    """Official holiday arrangements: which holiday a date belongs to."""

    source: str

    def holiday_on(self, day: date) -> str | None:
        """Return the holiday (a key of NAMES) that `day` is a day off of, or None; raise CalendarGap."""
        ...


@dataclass(frozen=True)
class Holiday:
    """One holiday break: its first and last day off."""

    name: str
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        return f"{self.first_day.year}年{NAMES[self.name]}"


@dataclass(frozen=True)
class WatchReport:
    """What one holiday-watch run found and did."""

    holidays: tuple[Holiday, ...]
    opened: tuple[int, ...]  # incident ids of watches opened now
    duty_gaps: tuple[DutyAlert, ...]
    not_covered: tuple[str, ...]  # plain statements of what the calendar data does not cover


# Missing calendar data is reported this far ahead, so that it can be mended in time.
DATA_HORIZON = timedelta(days=60)


def upcoming(calendar: HolidayCalendar, names: tuple[str, ...], today: date, *,
             horizon: timedelta) -> tuple[list[Holiday], list[str]]:
    """Return the breaks of these holidays that start within the horizon, and what data is missing."""
    found: dict[tuple[str, date], Holiday] = {}
    missing: list[str] = []
    day, end = today - timedelta(days=10), today + max(horizon, DATA_HORIZON)
    current: tuple[str, date] | None = None
    # Past the horizon, keep reading only to find where a break that began inside it ends.
    while day <= end or (current is not None and day <= end + timedelta(days=15)):
        try:
            name = calendar.holiday_on(day)
        except CalendarGap as gap:
            text = (f"节假日数据（{gap.source}）未覆盖{gap.year}年，无法确定{gap.year}年"
                    f"{'、'.join(NAMES[n] for n in names)}的放假安排，节日市场预警须人工核对国务院办公厅放假通知后安排")
            if text not in missing:
                missing.append(text)
            day = date(day.year + 1, 1, 1)
            current = None
            continue
        if name in names:
            if current and current[0] == name:
                found[current] = Holiday(name, current[1], day)
            else:
                current = (name, day)
                found[current] = Holiday(name, day, day)
        else:
            current = None
        day += timedelta(days=1)
    breaks = [h for h in found.values() if today <= h.first_day <= today + horizon]
    return sorted(breaks, key=lambda h: h.first_day), missing


def run_watch(session: Session, plan: Plan, calendar: HolidayCalendar, *, actor, now: datetime) -> WatchReport:
    """Open the Ⅳ-level watch of each holiday within the plan's lead time, once; check its duty."""
    rules = plan.holiday_warnings
    if not rules.holidays:
        return WatchReport((), (), (), ())
    zone = ZoneInfo(plan.timezone)
    today = now.astimezone(zone).date()
    holidays, missing = upcoming(calendar, rules.holidays, today, horizon=rules.lead_time)
    opened, gaps = [], []
    for holiday in holidays:
        start = datetime.combine(holiday.first_day, time(0), zone)
        end = datetime.combine(holiday.last_day + timedelta(days=1), time(0), zone)
        key = f"holiday:{holiday.first_day.isoformat()}:{holiday.name}"
        if session.scalar(select(Incident.id).where(Incident.source_key == key)) is None:
            opened.append(_open_watch(session, plan, holiday, key, start, actor=actor, now=now).id)
        gaps.extend(_duty_gaps(session, plan, rules.departments, start, end))
    for gap in gaps:
        board_events.publish(session, rooms={board_events.OVERVIEW, board_events.department_room(gap.department)},
                             event_name="alert", payload={"what": "holiday_duty_gap", **gap.as_dict()}, at=now)
    for text in missing:
        board_events.publish(session, rooms={board_events.OVERVIEW}, event_name="alert",
                             payload={"what": "holiday_calendar_missing", "message": text}, at=now)
    return WatchReport(tuple(holidays), tuple(opened), tuple(gaps), tuple(missing))


def _open_watch(session: Session, plan: Plan, holiday: Holiday, key: str, start: datetime, *, actor,
                now: datetime) -> Incident:
    rules = plan.holiday_warnings
    period = f"{holiday.first_day.isoformat()} 至 {holiday.last_day.isoformat()}"
    facts = service.NewIncident(
        title=f"{holiday.label}节日市场应急预警", category=rules.category, discovered_at=now,
        location="全县", station=None, source="系统按预案自动发布（节日市场应急预警）",
        nature="节日市场预警", scope=f"{holiday.label}放假期间（{period}）全县市场", trend="节日期间可能出现抢购、投诉高峰",
        measures_taken="", casualties="无", level=rules.level,
        level_reason="预案§三(三)4(2)：节日市场应急预警")
    incident = service.register_incident(session, plan, facts=facts, actor=actor, now=now)
    incident.source_key = key
    service.activate(session, incident_id=incident.id, actor=actor, now=now)
    for department in rules.departments:
        create_assignment(session, incident, plan, department=department, task=f"{holiday.label}：{rules.task}",
                          clock=None, due_at=start, standard=True, actor=actor, now=now,
                          holiday_key=f"{holiday.first_day.isoformat()}:{holiday.name}:{department}")
    announce.incident_changed(session, incident, plan, what="holiday_watch", at=now)
    return incident


def _duty_gaps(session: Session, plan: Plan, departments: tuple[str, ...], start: datetime,
               end: datetime) -> list[DutyAlert]:
    out = []
    for department in departments:
        rows = session.scalars(select(Shift).where(Shift.department == department, Shift.cancelled_at.is_(None),
                                                   Shift.ends_at > start, Shift.starts_at < end)
                               .order_by(Shift.starts_at))
        cursor = start
        for row in rows:
            if row.starts_at > cursor:
                out.append(gap_alert(plan, department, cursor, row.starts_at))
            cursor = max(cursor, row.ends_at)
        if cursor < end:
            out.append(gap_alert(plan, department, cursor, end))
    return out

