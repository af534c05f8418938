"""The complaint centre's pages (315投诉中心) and the complaints panel of a department's duty board.

The centre's page shows what waits for triage, the time limits about to run out, the surges and
the consumer warnings; it follows the push (complaint, alert and warning events) and fetches its
panel again when something changes. A department's duty board includes the panel of complaints
routed to it (fragments/duty_complaints.html), with their limits counting down.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask import abort, render_template, request

from app.auth import current_user, page_login_required
from app.board import bp, common, presenters
from app.extensions import db, now, yingji
from app.calendar import calendar_for
from incidents import complaints
from incidents.kernel import labels
from incidents.records import audit, wording
from incidents.complaints import surge
from incidents.kernel.errors import Forbidden
from incidents.models import (
    WARNING_DRAFT,
    WARNING_PUBLISHED,
    WARNING_SUBMITTED,
    AuditEntry,
    AuditPending,
    Complaint,
)
from incidents.plan import Plan
from incidents.kernel.roles import DEPARTMENT_ROLES, STATION

RECENT = 30


def _limit_rows(plan: Plan, rows, moment: datetime, calendar=None) -> list[dict]:
    # The calendar once per page, not once per row: finding it checks the notices in the database.
    calendar = calendar or calendar_for(db(), plan)
    out = []
    for row in rows:
        view = complaints.limit_view(plan, calendar, row, moment)
        view["due_js"] = presenters.js_time(row.due_at)
        # The board's countdown turns amber from warn_at: its warning is the seconds between the two.
        view["warn_seconds"] = int((row.due_at - row.warn_at).total_seconds())
        view["countdown"] = presenters.countdown_text((row.due_at - moment).total_seconds())
        out.append(view)
    return out


def _item(plan: Plan, complaint: Complaint, moment: datetime, calendar=None) -> dict:
    item = complaints.snapshot(plan, complaint)
    pending = [r for r in complaint.limits if r.status == "pending"]
    item["limits"] = _limit_rows(plan, pending, moment, calendar)
    item["worst"] = max((lim["state"] for lim in item["limits"]), key=["running", "warn", "overdue"].index,
                        default="running")
    return item


def panel_data(user, moment: datetime) -> dict:
    """Return what the centre's page shows the user: triage queue, limits, open work, surges, warnings."""
    plan, session = yingji().plan, db()
    mine = complaints.visible_filter(user, plan)
    triager = complaints.can_triage(user, plan)
    untriaged = complaints.open_for(session, plan, department=None, untriaged=True) if triager else []
    department = user.unit if mine is not None else None  # a department sees its own; the centre all
    due = complaints.limits_due(session, now=moment, department=department)
    working = [c for c in complaints.open_for(session, plan, department=department) if c.department]
    recent = complaints.search(session, plan, user, status=request.args.get("status") or None,
                               category=request.args.get("category") or None, text=request.args.get("q") or None,
                               limit=RECENT)
    warnings = surge.warnings(session, statuses=(WARNING_DRAFT, WARNING_SUBMITTED, WARNING_PUBLISHED), limit=20) \
        if mine is None else []
    surges = surge.recent(session, limit=10) if mine is None else []
    calendar = calendar_for(session, plan)
    limit_items = []
    for row in due:
        view = _limit_rows(plan, [row], moment, calendar)[0]
        view["complaint"] = complaints.snapshot(plan, row.complaint)
        limit_items.append(view)
    return {
        "untriaged": [_item(plan, c, moment, calendar) for c in untriaged],
        "limits": limit_items,
        "working": [_item(plan, c, moment, calendar) for c in working],
        "recent": [complaints.snapshot(plan, c) for c in recent],
        "surges": [surge.surge_view(plan, s) for s in surges],
        "warnings": [surge.warning_view(w) for w in warnings],
        "departments": plan.departments,
        "categories": plan.complaints.categories,
        "statuses": labels.COMPLAINT_STATUS,
        "may_triage": triager,
        "may_edit_warnings": surge.may_edit_warnings(user, plan),
        "may_approve_warnings": surge.may_approve_warnings(user, plan),
        "counts": {"untriaged": len(untriaged),
                   "warn": sum(1 for x in limit_items if x["state"] == "warn"),
                   "overdue": sum(1 for x in limit_items if x["state"] == "overdue"),
                   "surges": sum(1 for s in surges if s.status == "open")},
        "filters": {"status": request.args.get("status", ""), "category": request.args.get("category", ""),
                    "q": request.args.get("q", "")},
    }


def _require_viewer(user) -> None:
    if user.role == STATION:
        raise Forbidden("forbidden", "市场监督管理所不使用投诉中心看板", "stations do not use the complaint centre page")


@bp.get("/complaints")
@page_login_required
def complaints_page():
    """Show the complaint centre's page: triage, limits about to run out, surges, consumer warnings."""
    user, moment = current_user(), now()
    _require_viewer(user)
    data = common.page_data(user, moment)
    # A department's officer sees its own complaints: the page is headed with the department, not the centre.
    centre = yingji().plan.complaints.centre
    unit = user.unit if user.role in DEPARTMENT_ROLES and user.unit and user.unit != centre else centre
    return render_template("complaints.html", p=panel_data(user, moment), page_data=data, now=moment,
                           now_js=presenters.js_time(moment), active="complaints", unit=unit)


@bp.get("/complaints/panel")
@page_login_required
def complaints_panel():
    """Render the page's panel again (the page swaps it in when a complaint, surge or warning changes)."""
    user, moment = current_user(), now()
    _require_viewer(user)
    return render_template("fragments/complaints_panel.html", p=panel_data(user, moment))


@bp.get("/complaints/<tracking_no>")
@page_login_required
def complaint_page(tracking_no: str):
    """Show one complaint: facts (phone masked), limits, history, and the actions the user may take."""
    user, moment = current_user(), now()
    plan, session = yingji().plan, db()
    complaint = complaints.get_complaint(session, plan, tracking_no, user=user)
    view = complaints.staff_view(plan, calendar_for(session, plan), complaint, moment)
    view["limits"] = _limit_rows(plan, complaint.limits, moment)
    history = audit.history(session, entity="complaint", entity_id=complaint.tracking_no)
    may_handle = complaints.can_handle(user, plan, complaint)
    actions = [{"to": to, "name": labels.COMPLAINT_ACTION[to]} for to in view["next"]] if may_handle else []
    return render_template(
        "complaint.html", c=view, actions=actions, history=[_history_line(plan, h) for h in history],
        may_triage=complaints.can_triage(user, plan) and complaint.status not in complaints.FINAL,
        may_contact=complaints.can_see_contact(user, plan, complaint) and not view["erased"],
        departments=plan.departments, page_data=common.page_data(user, moment, tracking_no=complaint.tracking_no),
        now=moment, now_js=presenters.js_time(moment), active="complaints")


def _history_line(plan: Plan, entry: AuditEntry | AuditPending) -> dict:
    data = json.loads(entry.data)
    text = labels.ACTIONS.get(entry.action, entry.action)
    if entry.action == "complaint.triaged":
        text += f"至{presenters.unit_name(plan, data.get('to'))}" + ("（改派）" if data.get("rerouted") else "")
    return {"at": entry.at, "who": wording.actor(entry.actor), "text": text}


# --- the department's duty board ----------------------------------------------------------------------


@bp.app_template_global("duty_complaints")
def duty_complaints(department: str) -> dict:
    """Return the complaints routed to a department for its duty board, with their limits."""
    plan, moment = yingji().plan, now()
    rows = [c for c in complaints.open_for(db(), plan, department=department)]
    calendar = calendar_for(db(), plan)
    items = sorted((_item(plan, c, moment, calendar) for c in rows),
                   key=lambda i: (-["running", "warn", "overdue"].index(i["worst"]),
                                  min((lim["due_at"] for lim in i["limits"]), default="9")))
    untriaged = 0
    if department == plan.complaints.centre:
        untriaged = len(complaints.open_for(db(), plan, department=None, untriaged=True))
    # The surge alert belongs on the centre's board and the office's (SPEC §8).
    alerted = department in (plan.complaints.centre, plan.office_department)
    surges = [surge.surge_view(plan, s) for s in surge.recent(db(), limit=10) if s.status == "open"] if alerted else []
    return {"items": items, "untriaged": untriaged, "is_centre": department == plan.complaints.centre,
            "department": department, "surges": surges}


@bp.get("/duty/complaints")
@page_login_required
def duty_complaints_fragment():
    """Render the complaints panel of a department's duty board (the board swaps it in)."""
    department = common.duty_department(current_user())
    if department is None:
        abort(404)
    return render_template("fragments/duty_complaints.html", department=department)
