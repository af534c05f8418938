"""The working-day calendar: what it says of a year or a day, and the notices the office enters."""
from __future__ import annotations

from datetime import date

from flask import jsonify

from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.calendar import calendar_for, sources
from app.extensions import db, now, yingji
from app.jobs.holiday_watch import holiday_watch_soon
from incidents import complaints
from incidents.complaints import calendar_notices
from incidents.kernel.calendar import HOLIDAY_NAMES, CalendarGap
from incidents.kernel.errors import InvalidInput


def _year(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        raise InvalidInput("bad_year", f"年份“{text[:12]}”无效，应为四位数字，如 2027", f"'{text[:12]}' is not a year",
                           field="year")
    return int(text)


def year_body(year: int) -> dict:
    """Return a year as the API and the calendar page show it: the calendar's answer and the notices entered."""
    session = db()
    view = calendar_notices.year_view(calendar_for(session, yingji().plan), year)
    view["entered"] = [calendar_notices.notice_dict(r) for r in calendar_notices.history(session, year)]
    return view


@bp.get("/calendar/<year>")
@api_login_required
def calendar_year(year: str):
    """Show a year: its holiday breaks, how sure they are and from where, and the notices entered for it."""
    return jsonify(year_body(_year(year)))


@bp.put("/calendar/<year>")
@api_login_required
def enter_calendar_notice(year: str):
    """Enter the year's holiday notice (国务院办公厅放假通知): checked, audited, limits recounted at once."""
    number = _year(year)
    session, plan = db(), yingji().plan
    entered = calendar_notices.enter_notice(session, plan, sources(), year=number, raw=parse.body(),
                                            actor=current_user(), now=now())
    session.commit()
    holiday_watch_soon(yingji())  # the notice may move a holiday's first day off into the watch's lead time
    body = {"notice": calendar_notices.notice_dict(entered.row), "description": entered.description,
            "changes": [complaints.change_dict(c) for c in entered.changes], "year": year_body(number)}
    return jsonify(body), 201


@bp.get("/calendar/days/<day>")
@api_login_required
def calendar_day(day: str):
    """Say of one day whether it is a working day, which holiday break it is part of, and how sure that is."""
    try:
        asked = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        asked = None
    if asked is None:
        raise InvalidInput("bad_date", f"日期“{day[:20]}”无效，应为 YYYY-MM-DD", f"'{day[:20]}' is not a date",
                           field="day")
    try:
        found = calendar_for(db(), yingji().plan).day(asked)
    except CalendarGap as gap:
        raise InvalidInput("no_calendar", f"{asked.year}年超出日历范围（{gap.source}）",
                           f"{asked.year} is outside the calendar", field="day") from None
    return jsonify({"date": asked.isoformat(), "workday": found.workday, "holidays": list(found.holidays),
                    "holiday_name": "、".join(HOLIDAY_NAMES[h] for h in found.holidays) or None,
                    "certain": found.certain, "source": found.source})
