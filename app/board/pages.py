"""Page routes; each parses, authorises, calls the domain and renders."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth import current_user, page_login_required
from app.board import bp, localtime, plan_zone, views
from app.extensions import db, now, yingji
from incidents import accountability, permissions, service
from incidents.errors import Forbidden, InvalidInput
from incidents.models import ARCHIVED, Incident
from incidents.roles import UNIT_ROLES

# The board re-reads itself this often (seconds); board.js swaps the new content in.
REFRESH_SECONDS = 60
# The accountability page covers this many days up to today unless asked otherwise.
DEFAULT_PERIOD_DAYS = 30


@bp.get("/")
@page_login_required
def index():
    """Show every open incident the user may see, by level Ⅰ→Ⅳ then ungraded, with its clocks."""
    user, moment = current_user(), now()
    rows = db().scalars(select(Incident).where(Incident.status != ARCHIVED).order_by(Incident.id.desc())
                        .options(selectinload(Incident.deadlines), selectinload(Incident.plan_version)))
    visible = [i for i in rows if permissions.can_view(user, i, service.plan_of(i))]
    groups = views.board_groups(yingji().plan, visible, moment)
    return render_template("index.html", groups=groups, total=len(visible), now=moment,
                           now_js=views.js_time(moment), refresh=REFRESH_SECONDS, active="index",
                           overdue=sum(c["overdue"] for g in groups for c in g["cards"]),
                           warn=sum(c["warn"] for g in groups for c in g["cards"]))


@bp.get("/incidents/<int:incident_id>")
@page_login_required
def incident_page(incident_id: int):
    """Show one incident: facts, level history, reports, clocks, audit trail, accountability."""
    moment = now()
    incident = service.get_incident(db(), incident_id, user=current_user())
    detail = views.incident_detail(db(), incident, moment, localtime)
    return render_template("incident.html", i=detail, now=moment, now_js=views.js_time(moment),
                           active="index")


def _date_arg(name: str, label: str, default: date) -> date:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("bad_date", f"{label}须为日期,如 2026-11-20", f"{name} must be a date such as 2026-11-20",
                           field=name) from None


@bp.get("/accountability")
@page_login_required
def accountability_page():
    """Show the clocks met, met late and missed in a period, per department, station and incident."""
    user, moment = current_user(), now()
    permissions.require(user, "accountability")
    plan = yingji().plan
    tz, _ = plan_zone()
    today = moment.astimezone(tz).date()
    start = _date_arg("from", "起始日期", today - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    end = _date_arg("to", "截止日期", today)
    if end < start:
        raise InvalidInput("bad_period", "截止日期不能早于起始日期", "'to' is before 'from'", field="to")
    unit = request.args.get("department") or None
    # Mirrors the API: a duty officer or a station sees only its own unit.
    if user.role in UNIT_ROLES:
        if unit and unit != user.unit:
            raise Forbidden("forbidden", "只能查看本单位的迟报漏报情况",
                            "you may see only your own unit's accountability")
        unit = user.unit
    elif unit and not plan.has_unit(unit):
        raise InvalidInput("unknown_unit", f"预案中没有科室或市场监督管理所“{unit}”", f"unknown unit '{unit}'",
                           field="department")
    flt = accountability.Filter(
        due_from=datetime.combine(start, time.min, tz),
        due_to=datetime.combine(end + timedelta(days=1), time.min, tz),
        unit=unit,
    )
    data = views.accountability_view(accountability.report(db(), now=moment, flt=flt), plan)
    return render_template("accountability.html", acc=data, start=start, end=end, unit=unit,
                           unit_fixed=user.role in UNIT_ROLES, now=moment, active="accountability",
                           departments=plan.departments, stations=plan.stations)
