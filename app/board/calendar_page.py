"""The calendar page (节假日日历): what the calendar says of a year, and the office's form to enter a notice."""
from __future__ import annotations

from flask import render_template, request

from app.api.calendar import year_body
from app.auth import current_user, page_login_required
from app.board import bp
from app.extensions import db, now, yingji
from incidents import complaints
from incidents.complaints import calendar_notices
from incidents.kernel.calendar import HOLIDAY_NAMES
from incidents.kernel.errors import InvalidInput
from incidents.kernel.moments import local_day

@bp.get("/calendar")
@page_login_required
def calendar_page():
    """Show a year's holidays (notice or statutory estimate), the notices entered, the limits they moved."""
    user, moment, plan = current_user(), now(), yingji().plan
    this_year = local_day(plan.tz, moment).year
    asked = request.args.get("year", "")
    if asked and not (asked.isascii() and asked.isdigit() and len(asked) == 4):
        raise InvalidInput("bad_year", f"年份“{asked[:12]}”无效，应为四位数字，如 2027", "bad year", field="year")
    year = int(asked) if asked else this_year
    view = year_body(year)
    moved = {}
    for entry in view["entered"]:
        moved[entry["id"]] = [{**complaints.change_dict(change, limit), "tracking_no": limit.complaint.tracking_no,
                               "business_name": limit.complaint.business_name}
                              for change, limit in calendar_notices.changes_of(db(), entry["id"])]
    rows = []
    for code, name in HOLIDAY_NAMES.items():
        found = next((b for b in view["breaks"] if code in b["holidays"]), None)
        rows.append({"code": code, "name": name, "from": found["first_day"] if found else "",
                     "to": found["last_day"] if found else "", "workdays": ", ".join(found["workdays"]) if found else ""})
    return render_template("calendar.html", view=view, year=year, years=range(this_year - 1, this_year + 3),
                           moved=moved, rows=rows, may_enter=user.role in calendar_notices.ENTER_ROLES,
                           active="calendar", holiday_names=HOLIDAY_NAMES)
