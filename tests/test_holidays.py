"""Holiday market warnings: a Ⅳ watch with assignments before each holiday, duty checked, data gaps said."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.holiday_calendar import ChineseCalendar
from incidents import holidays
from incidents.holidays import CalendarGap
from incidents.models import Assignment, BoardEvent, Incident
from incidents.users import SystemActor

ACTOR = SystemActor(name="holiday-watch")


class TableCalendar:
    """A calendar from a table of days off; years outside it are not covered."""

    source = "test table"

    def __init__(self, days: dict[date, str], years: set[int]) -> None:
        self.days, self.years = days, years

    def holiday_on(self, day: date) -> str | None:
        if day.year not in self.years:
            raise CalendarGap(day.year, self.source)
        return self.days.get(day)


def _spring_festival_2027() -> TableCalendar:
    days = {date(2027, 2, 6) + timedelta(days=i): "spring_festival" for i in range(8)}
    days[date(2027, 1, 1)] = "new_year"
    return TableCalendar(days, {2026, 2027})


def test_watch_opens_three_days_before_once_with_assignments_and_duty_gaps(wiring, clock):
    calendar = _spring_festival_2027()
    plan = wiring.plan
    # 2027-02-02 09:00 Beijing: four days before, nothing yet.
    clock.set(datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc))
    with wiring.sessions() as session:
        result = holidays.run_watch(session, plan, calendar, actor=ACTOR, now=clock.now())
        session.commit()
    assert result.opened == () and result.holidays == ()
    clock.set(datetime(2027, 2, 3, 1, 0, tzinfo=timezone.utc))
    for _ in range(2):  # the second run opens nothing more
        with wiring.sessions() as session:
            result = holidays.run_watch(session, plan, calendar, actor=ACTOR, now=clock.now())
            session.commit()
    assert [(h.name, h.first_day, h.last_day) for h in result.holidays] == [
        ("spring_festival", date(2027, 2, 6), date(2027, 2, 13))]
    with wiring.sessions() as session:
        watch = session.scalars(select(Incident).where(Incident.category == "holiday_market")).all()
        assert len(watch) == 1
        assert watch[0].level == "IV" and watch[0].status == "active" and "2027年春节" in watch[0].title
        held = session.scalars(select(Assignment).where(Assignment.holiday_key.is_not(None))).all()
        assert sorted(a.department for a in held) == sorted(plan.holiday_warnings.departments)
        assert {a.due_at for a in held} == {datetime(2027, 2, 5, 16, 0, tzinfo=timezone.utc)}
        # The plan's Ⅳ case team is not sent for a holiday watch.
        assert not any("专案小组" in a.task for a in watch[0].assignments)
        alerts = session.scalars(select(BoardEvent).where(BoardEvent.event == "alert",
                                                          BoardEvent.room == "overview")).all()
    # Nobody is rostered: every listed department has a gap over the whole break, and it was announced.
    assert sorted(g.department for g in result.duty_gaps) == sorted(plan.holiday_warnings.departments)
    assert all(g.ends_at - g.starts_at == timedelta(days=8) for g in result.duty_gaps)
    assert {a.payload["what"] for a in alerts} == {"holiday_duty_gap"}


def test_a_year_the_calendar_does_not_cover_is_said_plainly(wiring, clock):
    calendar = TableCalendar({}, {2026})
    clock.set(datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc))
    with wiring.sessions() as session:
        result = holidays.run_watch(session, wiring.plan, calendar, actor=ACTOR, now=clock.now())
        session.commit()
        alerts = session.scalars(select(BoardEvent).where(BoardEvent.event == "alert")).all()
    assert len(result.not_covered) == 1 and "未覆盖2027年" in result.not_covered[0]
    assert [a.payload["what"] for a in alerts] == ["holiday_calendar_missing"]


def test_the_real_calendar_package_knows_2026_and_says_when_it_does_not_know():
    calendar = ChineseCalendar()
    assert calendar.holiday_on(date(2026, 10, 2)) == "national_day"
    assert calendar.holiday_on(date(2026, 10, 12)) is None
    found, missing = holidays.upcoming(calendar, ("national_day",), date(2026, 9, 28), horizon=timedelta(days=3))
    assert [(h.first_day, h.last_day >= date(2026, 10, 7)) for h in found] == [(date(2026, 10, 1), True)]
    with pytest.raises(CalendarGap) as gap:
        calendar.holiday_on(date(2099, 1, 1))
    assert gap.value.year == 2099 and "chinesecalendar" in gap.value.source
