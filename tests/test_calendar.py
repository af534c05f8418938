"""The one calendar: statutory holidays for any year, the notices over them, working days and certainty.

The statutory days are checked against two independent sources: the State Council's notices of
2008–2026 as the chinesecalendar package holds them (every statutory day must be a day off there),
and the `holidays` package's own lunisolar tables for 2025–2030.
"""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import holidays as holidays_lib
import pytest

from app.calendar import LunarPython, package_notices, sources
from incidents.complaints import calendar_notices
from incidents.kernel.calendar import (
    Calendar,
    CalendarGap,
    WeekdayCalendar,
    add_working_days,
    edition_for,
    statutory_days,
    working_days_left,
)
from incidents.complaints.calendar_notices import NoticeRefused, describe, parse_notice

LUNAR = LunarPython()
PACKAGE_NAMES = {"new_year": "New Year's Day", "spring_festival": "Spring Festival", "qingming": "Tomb-sweeping Day",
                 "labour_day": "Labour Day", "dragon_boat": "Dragon Boat Festival",
                 "mid_autumn": "Mid-autumn Festival", "national_day": "National Day"}
HOLIDAYS_LIB = {"new_year": "New Year's Day", "spring_festival": "Chinese New Year", "qingming": "Tomb-Sweeping Day",
                "labour_day": "Labor Day", "dragon_boat": "Dragon Boat Festival", "mid_autumn": "Mid-Autumn Festival",
                "national_day": "National Day"}


def full_calendar() -> Calendar:
    return Calendar(LUNAR, dict(package_notices()))


def statutory_only() -> Calendar:
    return Calendar(LUNAR, {})


@pytest.mark.parametrize("year", range(2008, 2027))
def test_every_statutory_day_of_2008_to_2026_is_a_day_off_in_the_state_councils_notice(year):
    days = statutory_days(LUNAR, year)
    assert len(days) == sum(1 for _ in edition_for(year).days) - sum(len(v) - 1 for v in days.values())
    for day, names in days.items():
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert is_holiday, f"{day} ({names}) is a working day in the {year} notice"
        # Where two holidays fall together the notice names one break for both (国庆 with 中秋); the
        # package leaves some weekend days of its oldest years unnamed.
        assert (name is None and day.weekday() >= 5 and year < 2020) or name in {PACKAGE_NAMES[n] for n in names} or {"mid_autumn", "national_day"} & set(names), (day, name)


@pytest.mark.parametrize("year", range(2025, 2031))
def test_statutory_days_of_2025_to_2030_agree_with_the_holidays_package(year):
    ours = statutory_days(LUNAR, year)
    theirs: dict[date, set[str]] = {}
    for day, text in holidays_lib.China(years=year).items():
        for part in text.split("; "):
            if "observed" in part or "substituted" in part:
                continue  # the package's guesses and copies of notices: not the statutory days
            theirs.setdefault(day, set()).add("Chinese New Year" if "Eve" in part else part.split(" (")[0])
    assert set(ours) == set(theirs)
    for day, names in ours.items():
        assert {HOLIDAYS_LIB[n] for n in names} == theirs[day], day


def test_the_2025_rules_count_new_years_eve_and_two_labour_days():
    days = statutory_days(LUNAR, 2027)
    assert days[date(2027, 2, 5)] == ("spring_festival",)  # 除夕
    assert [d for d, n in days.items() if n == ("spring_festival",)] == [date(2027, 2, 5) + timedelta(days=i)
                                                                        for i in range(4)]
    assert days[date(2027, 5, 2)] == ("labour_day",)
    assert len(days) == 13
    # Under the 2014 rules 2024 had eleven: 春节 from 正月初一, one labour day.
    assert len(statutory_days(LUNAR, 2024)) == 11 and date(2024, 2, 9) not in statutory_days(LUNAR, 2024)


def test_2026_answers_are_the_packages_every_day():
    calendar = Calendar(*[sources().lunar, dict(sources().package)])
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        assert calendar.day(day).certain
        day += timedelta(days=1)


def test_a_year_without_a_notice_is_statutory_days_and_weekends_and_says_it_is_uncertain():
    calendar = full_calendar()
    spring = next(b for b in calendar.breaks(2027) if "spring_festival" in b.holidays)
    assert (spring.first_day, spring.last_day, spring.certain) == (date(2027, 2, 5), date(2027, 2, 8), False)
    assert calendar.day(date(2027, 2, 6)).holidays == ("spring_festival",)  # a Saturday inside the break
    assert calendar.day(date(2027, 2, 9)).workday and not calendar.day(date(2027, 2, 9)).certain
    assert "2027年放假通知未录入" in calendar.day(date(2027, 3, 1)).source
    new_year = calendar.breaks(2027)[0]
    assert (new_year.holidays, new_year.first_day, new_year.last_day) == (("new_year",), date(2027, 1, 1),
                                                                         date(2027, 1, 3))
    # 2028: 中秋 falls on 3 October, inside 国庆: one break carries both.
    national = [b for b in calendar.breaks(2028) if "national_day" in b.holidays]
    assert [(b.holidays, b.first_day, b.last_day) for b in national] == [
        (("mid_autumn", "national_day"), date(2028, 9, 30), date(2028, 10, 3))]


def test_a_break_that_begins_in_december_belongs_to_the_new_year():
    breaks = full_calendar().breaks(2024)
    assert (breaks[0].holidays, breaks[0].first_day, breaks[0].last_day) == (("new_year",), date(2023, 12, 30),
                                                                            date(2024, 1, 1))
    assert all("new_year" not in b.holidays for b in full_calendar().breaks(2023)[1:])


def test_outside_the_rules_the_calendar_says_it_knows_nothing():
    with pytest.raises(CalendarGap):
        statutory_only().day(date(2100, 1, 4))
    with pytest.raises(CalendarGap):
        statutory_only().day(date(2007, 1, 4))
    assert full_calendar().day(date(2005, 10, 3)).workday is False  # the package's notice still covers 2005


def test_working_days_skip_the_statutory_spring_festival_and_say_estimate():
    counted = add_working_days(full_calendar(), date(2027, 2, 3), 7)
    # 4 Feb, then 5–8 Feb off, 9, 10, 11, 12, 15, 16.
    assert counted.day == date(2027, 2, 16) and counted.estimated
    assert "2027年放假安排" in counted.note and "估算" in counted.note
    exact = add_working_days(full_calendar(), date(2026, 9, 30), 7)
    assert (exact.day, exact.estimated, exact.note) == (date(2026, 10, 15), False, None)
    gap = add_working_days(statutory_only(), date(2099, 12, 28), 5)
    assert gap.estimated and "未覆盖2100年" in gap.note
    assert working_days_left(full_calendar(), date(2027, 2, 4), date(2027, 2, 10)) == 3
    assert add_working_days(WeekdayCalendar(), date(2026, 9, 30), 7).day == date(2026, 10, 9)


# --- notices ------------------------------------------------------------------------------------------


def notice_2027(**extra) -> dict:
    """A made-up notice for 2027 (not the State Council's): 春节 nine days, two make-up Saturdays/Sundays."""
    data = {"year": 2027, "title": "测试用2027年放假通知（虚构）", "breaks": [
        {"holiday": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
        {"holiday": "spring_festival", "from": "2027-02-05", "to": "2027-02-13",
         "workdays": ["2027-01-31", "2027-02-20"]},
        {"holiday": "清明", "from": "2027-04-03", "to": "2027-04-05"},
        {"holiday": "劳动节", "from": "2027-05-01", "to": "2027-05-05", "workdays": ["2027-05-08"]},
        {"holiday": "端午节", "from": "2027-06-09", "to": "2027-06-09"},
        {"holiday": "中秋节", "from": "2027-09-15", "to": "2027-09-15"},
        {"holidays": ["国庆节"], "from": "2027-10-01", "to": "2027-10-07", "workdays": ["2027-09-26", "2027-10-09"]},
    ]}
    data.update(extra)
    return data


def test_a_good_notice_reads_back_in_chinese_and_overrides_the_statutory_dates():
    parsed = parse_notice(full_calendar(), 2027, notice_2027())
    text = describe(parsed)
    assert "春节：2月5日（星期五）至2月13日（星期六）放假，共9天；1月31日（星期日）、2月20日（星期六）上班。" in text
    assert "元旦：1月1日（星期五）至1月3日（星期日）放假，共3天。" in text
    notices = dict(package_notices())
    notices[2027] = calendar_notices._notice_of(type("Row", (), {"year": 2027, "title": parsed.title, "id": 1,
                                                                 "breaks": parsed.content()})())
    calendar = Calendar(LUNAR, notices)
    assert not calendar.is_workday(date(2027, 2, 10)) and calendar.is_workday(date(2027, 2, 20))
    assert calendar.day(date(2027, 2, 10)).certain
    spring = next(b for b in calendar.breaks(2027) if "spring_festival" in b.holidays)
    assert (spring.first_day, spring.last_day, spring.certain) == (date(2027, 2, 5), date(2027, 2, 13), True)
    assert spring.workdays == (date(2027, 1, 31), date(2027, 2, 20))


@pytest.mark.parametrize("change,expected", [
    # A statutory day missing: 中秋 left out.
    (lambda d: d["breaks"].pop(5), "2027年9月15日（星期三）（中秋节）是法定节假日，未列为放假日"),
    # A make-up working day on a Tuesday.
    (lambda d: d["breaks"][1].update(workdays=["2027-02-16"]), "调休上班日2027年2月16日（星期二）不是星期六或星期日"),
    # A date of another year.
    (lambda d: d["breaks"][6].update(to="2028-10-07"), "2028-10-07不在2027年内"),
    (lambda d: d["breaks"][1].update(workdays=["2026-10-10"]), "2026-10-10不在2027年内"),
    # Impossible and malformed dates.
    (lambda d: d["breaks"][1].update(to="2027-02-30"), "“2027-02-30”不是有效日期"),
    (lambda d: d["breaks"][1].update(holiday="腊八"), "未知节日“腊八”"),
    (lambda d: d["breaks"][2].update(**{"from": "2027-04-06"}), "放假起始日2027-04-06晚于结束日2027-04-05"),
    (lambda d: d["breaks"][1].update(workdays=["2027-02-06"]), "2027-02-06既是放假日又是调休上班日"),
    (lambda d: d.update(year=2028), "文件中的年份2028与录入的2027年不符"),
    (lambda d: d["breaks"].append({"holiday": "春节", "from": "2027-03-01", "to": "2027-03-01"}), "春节出现在两项放假安排中"),
])
def test_bad_notices_are_refused_naming_the_date(change, expected):
    data = notice_2027()
    change(data)
    with pytest.raises(NoticeRefused) as refused:
        parse_notice(full_calendar(), 2027, data)
    assert any(expected in p for p in refused.value.as_dict()["problems"]), refused.value.as_dict()["problems"]
    assert expected in refused.value.message_zh or len(refused.value.problems) > 8


def test_new_year_may_begin_in_the_december_before():
    data = notice_2027()
    data["breaks"][0].update({"from": "2026-12-31", "to": "2027-01-02"})
    parsed = parse_notice(full_calendar(), 2027, data)
    assert parsed.breaks[0].first_day == date(2026, 12, 31)


@pytest.mark.parametrize("raw", [None, [], "x", {"breaks": "no"}, {"breaks": [[]]}, {"breaks": [{"holiday": {"a": 1}}]},
                                 {"breaks": [{"from": 20270101}]}, {"breaks": [{"holiday": "元旦", "from": None}]}])
def test_malformed_notices_are_refused_in_chinese(raw):
    with pytest.raises(Exception) as refused:
        parse_notice(full_calendar(), 2027, raw)
    assert hasattr(refused.value, "message_zh") and refused.value.status == 400


def test_years_outside_the_rules_are_refused():
    for year in (2007, 2100, 9999, True, "2027"):
        with pytest.raises(Exception) as refused:
            parse_notice(full_calendar(), year, notice_2027())
        assert refused.value.code == "bad_year"
