"""Page routes; each parses, authorises, calls the domain and renders.

The live pages (overview, duty board, incident page) render their state once and then
follow the /board Socket.IO namespace: each page records the last event number of its
rooms *before* it reads its data, so the script resumes from there and nothing that
happened in between is lost. Fragments (/board/cards/<id>, /duty/clocks) are the same
templates, fetched again when an event says that something changed; /board/escalations is
the JSON of an incident's escalations that the boards read again on an "escalation" event.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import abort, jsonify, redirect, render_template, request, url_for

from app.api import parse
from app.auth import current_user, page_login_required
from app.board import bp, common, escalation_presenters, incident_forms, localtime, plan_zone, presenters
from app.calendar import calendar_for
from app.extensions import db, now, yingji
from incidents.kernel import labels
from incidents.response import accountability, holiday_watch, inbox, sending, service
from incidents.records import snapshots
from incidents.people import permissions
from incidents.response.assignments import for_department
from incidents.kernel.errors import Forbidden, InvalidInput, NotFound
from incidents.models import FINISHED
from incidents.kernel.roles import ADMIN, COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, UNIT_ROLES
from incidents.kernel.moments import local_day

# The accountability page covers this many days up to today unless asked otherwise.
DEFAULT_PERIOD_DAYS = 30
# Done and declined assignments stay on the duty board this long after they were created.
CLOSED_KEPT = timedelta(hours=24)


@bp.get("/")
@page_login_required
def index():
    """Show every open incident the user may see, by level Ⅰ→Ⅳ then ungraded, with clocks and assignments.

    A duty officer's home is the department's duty board.
    """
    user, moment = current_user(), now()
    if user.role in DEPARTMENT_ROLES:
        return redirect(url_for("board.duty_board"))
    data = common.page_data(user, moment, duty_alerts=user.role == OFFICE)
    visible = [i for i in common.open_incidents() if permissions.can_view(user, i, service.plan_of(i))]
    data["escalations"] = escalation_presenters.board_escalations(db(), visible, moment, keep_done=timedelta(0))
    groups = presenters.board_groups(yingji().plan, visible, moment)
    # The leadership and the office see the 来文 from other bureaus here too, and hear them arrive.
    office = _inbound_desk(user)
    data.update({k: office[k] for k in ("inbound_js", "report_kinds") if k in office})
    return render_template("index.html", office=office, groups=groups, total=len(visible), now=moment,
                           now_js=presenters.js_time(moment), active="index", page_data=data,
                           duty_alerts=user.role == OFFICE,
                           notices_missing=_notices_missing(moment) if user.role in (OFFICE, ADMIN) else [],
                           overdue=sum(c["overdue"] for g in groups for c in g["cards"]),
                           warn=sum(c["warn"] for g in groups for c in g["cards"]))


def _notices_missing(moment: datetime) -> list[int]:
    """Return this year, and from November next year, when the State Council's notice is not in the calendar."""
    plan = yingji().plan
    today = local_day(plan.tz, moment)
    calendar = calendar_for(db(), plan)
    years = (today.year, today.year + 1) if today.month >= 11 else (today.year,)
    return [y for y in years if calendar.notice(y) is None]


@bp.get("/board/cards/<int:incident_id>")
@page_login_required
def incident_card_fragment(incident_id: int):
    """Render one incident's card of the overview, inside its level group (the board swaps it in)."""
    moment = now()
    incident = service.get_incident(db(), incident_id, user=current_user())
    if incident.status in FINISHED:
        raise NotFound("archived", f"事件 {incident_id} 已归档、已作废或已关闭",
                       f"incident {incident_id} is archived, withdrawn or closed")
    card = presenters.incident_card(incident, moment)
    return render_template("fragments/card.html", group={"level": card["level"], "cards": [card]})


@bp.get("/duty")
@page_login_required
def duty_board():
    """Show a department's duty board: its assignments to acknowledge, its clocks, who is on duty."""
    user, moment = current_user(), now()
    department = common.duty_department(user)
    plan = yingji().plan
    if department is None:
        return render_template("duty_pick.html", departments=plan.departments, active="duty")
    data = common.page_data(user, moment, department=department, department_name=plan.department(department).name,
                      # As incidents.response.assignments: only the department's own duty officer (or office) handles them.
                      may_handle=(user.role in DEPARTMENT_ROLES or user.role == OFFICE) and user.unit == department)
    rows = [a for a in for_department(db(), department, open_only=False) if a.incident.status not in FINISHED
            and (a.status in presenters.OPEN_ASSIGNMENTS or a.created_at >= moment - CLOSED_KEPT)]
    rows = [a for a in rows if permissions.can_view(user, a.incident, service.plan_of(a.incident))]
    data["assignments"] = [snapshots.assignment(a, service.plan_of(a.incident)) for a in rows]
    open_incidents = list(common.open_incidents())
    followed = [i for i in presenters.department_incidents(open_incidents, department)
                if permissions.can_view(user, i, service.plan_of(i))]
    data["escalations"] = escalation_presenters.board_escalations(db(), followed, moment, department=department,
                                                  keep_done=CLOSED_KEPT)
    data["may_ack"] = _may_ack_escalations(user, department)
    cards = presenters.duty_clock_cards(open_incidents, department, moment)
    office = _office_desk(user, department, plan)
    # The script reads the 来文 and the refused sendings as the push gives them (ISO times).
    data.update({k: office[k] for k in ("inbound_js", "failed_dispatches_js", "report_kinds") if k in office})
    return render_template("duty.html", department=department, department_name=plan.department(department).name,
                           cards=cards, page_data=data, now=moment, now_js=presenters.js_time(moment), active="duty",
                           pending=sum(1 for a in rows if a.status == "pushed"), office=office)


def _office_desk(user, department: str, plan) -> dict:
    """Return what the office's own board adds: reports from other bureaus to sign for (来文) and sendings refused.

    Empty on every other department's board; the 来文 only for a role that signs for them (签收).
    """
    if department != plan.office_department:
        return {}
    session = db()
    failed = sending.failed_undelivered(session)
    out: dict = {"failed_dispatches": [{**d, "failed": presenters.parse_time(d["failed_at"])} for d in failed],
                 "failed_dispatches_js": failed}
    out.update(_inbound_desk(user))
    return out


def _inbound_desk(user) -> dict:
    """Return the reports from other bureaus waiting for 签收, for a role that signs for them (else nothing)."""
    if user.role not in permissions.ACTION_ROLES["receive"]:
        return {}
    inbound = [presenters.inbound_view(db(), row) for row in inbox.pending(db())]
    return {"inbound": inbound, "report_kinds": dict(labels.REPORT_KIND),
            "inbound_js": [{k: v for k, v in view.items() if k not in ("received", "sent", "receipt")}
                           for view in inbound]}


def _may_ack_escalations(user, department: str) -> bool:
    """Tell whether the user may acknowledge a department's escalations (as incidents.escalation allows)."""
    if user.role in (OFFICE, COMMANDER, LEADER):
        return True
    return user.role in DEPARTMENT_ROLES and user.unit == department


@bp.get("/board/escalations")
@page_login_required
def escalations_json():
    """Return an incident's escalations as the boards show them (JSON, phones masked), fetched on each event.

    `department` keeps one department's only (the duty board's).
    """
    incident_id = parse.arg_id(request.args, "incident", "事件编号")
    if incident_id is None:
        raise InvalidInput("missing_incident", "缺少事件编号", "incident is required", field="incident")
    incident = service.get_incident(db(), incident_id, user=current_user())  # 404 for one the user may not see
    department = (request.args.get("department") or "").strip() or None
    return jsonify({"incident_id": incident.id, "server_now": presenters.js_time(now()),
                    "escalations": escalation_presenters.escalation_entries(db(), incident, department=department,
                                                            with_content=False)})


@bp.get("/duty/clocks")
@page_login_required
def duty_clocks_fragment():
    """Render the clocks panel of a department's duty board (the board swaps it in)."""
    user, moment = current_user(), now()
    department = common.duty_department(user)
    if department is None:
        abort(404)
    cards = presenters.duty_clock_cards(common.open_incidents(), department, moment)
    return render_template("fragments/duty_clocks.html", cards=cards, department=department)


@bp.get("/incidents/new")
@page_login_required
def new_incident():
    """Show the registration form with the plan's report contents."""
    user, moment = current_user(), now()
    permissions.require(user, "register")
    plan = yingji().plan
    local_now = moment.astimezone(plan_zone()[0]).strftime("%Y-%m-%dT%H:%M")
    return render_template("new_incident.html", categories=plan.categories, stations=plan.stations,
                           levels=[presenters.level_view(plan, lv.code) for lv in plan.levels],
                           may_grade=incident_forms.may_grade(user), fixed_station=incident_forms.fixed_station(user),
                           local_now=local_now, active="new",
                           page_data={"plan": presenters.plan_js(plan), "server_now": presenters.js_time(moment)})


@bp.get("/incidents/<int:incident_id>")
@page_login_required
def incident_page(incident_id: int):
    """Show one incident: facts, level history, assignments, reports, clocks, audit, and the user's forms."""
    user, moment = current_user(), now()
    data = common.page_data(user, moment, incident_id=incident_id)
    incident = service.get_incident(db(), incident_id, user=user)
    detail = presenters.incident_detail(db(), incident, moment, localtime)
    forms = incident_forms.incident_forms(user, incident, service.plan_of(incident), session=db(), now=moment)
    data.update(status=incident.status, level=incident.level or "")
    escalations = escalation_presenters.escalation_entries(db(), incident)
    watch = holiday_watch.watch_view(db(), yingji().plan, incident, moment)
    return render_template("incident.html", i=detail, now=moment, now_js=presenters.js_time(moment), forms=forms,
                           escalations=escalations, watch=watch,
                           page_data=data, local_now=moment.astimezone(plan_zone()[0]).strftime("%Y-%m-%dT%H:%M"),
                           active="index")


def _date_arg(name: str, label: str, default: date) -> date:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("bad_date", f"{label}须为日期,如 2026-11-20", f"{name} must be a date such as 2026-11-20",
                           field=name) from None
    if not parse.FIRST_YEAR <= day.year <= parse.LAST_YEAR:
        raise InvalidInput("bad_date", f"{label}须在{parse.FIRST_YEAR}年至{parse.LAST_YEAR}年之间",
                           f"{name} must be within {parse.FIRST_YEAR}..{parse.LAST_YEAR}", field=name)
    return day


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
    page = parse.arg_count(request.args, "page", "页码", default=1, most=10**6)
    # The counts cover the whole period; only one page of the late and missed clocks is read in full.
    sheet = accountability.sheet(db(), now=moment, flt=flt, page=page, per_page=accountability.PER_PAGE)
    if page > sheet["paging"]["pages"]:
        raise InvalidInput("bad_page", f"页码超出范围（共{sheet['paging']['pages']}页）",
                           f"page must be 1..{sheet['paging']['pages']}", field="page")
    data = presenters.accountability_view(sheet, plan)
    return render_template("accountability.html", acc=data, start=start, end=end, unit=unit,
                           unit_fixed=user.role in UNIT_ROLES, now=moment, active="accountability",
                           page_args={"from": start.isoformat(), "to": end.isoformat(),
                                      **({"department": unit} if unit and user.role not in UNIT_ROLES else {})},
                           departments=plan.departments, stations=plan.stations)

