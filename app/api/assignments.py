"""Assignment endpoints: assign a task, then acknowledge, progress, done or decline it."""
from __future__ import annotations

from flask import jsonify, request

from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.extensions import db, now
from incidents.response import assignments, flows, service
from incidents.people import permissions
from incidents.records import snapshots
from incidents.kernel.errors import Forbidden, InvalidInput
from incidents.kernel.roles import DEPARTMENT_ROLES, STATION


def _one(row, status: int = 200):
    return jsonify(snapshots.assignment(row, service.plan_of(row.incident))), status


@bp.post("/incidents/<int:incident_id>/assignments")
@api_login_required
def create_assignment(incident_id: int):
    """Assign a task to a department; it is pushed to the department's board."""
    data = parse.body()
    session = db()
    row = assignments.assign(
        session, incident_id=incident_id,
        department=parse.text(data, "department", "科室", required_=True),
        task=parse.text(data, "task", "任务内容", required_=True),
        due_at=parse.timestamp(data, "due_at", "完成时限"),
        clock=parse.text(data, "clock", "对应措施"),
        actor=current_user(), now=now())
    session.commit()
    return _one(row, 201)


@bp.get("/assignments")
@api_login_required
def list_assignments():
    """List assignments: a duty officer sees their department's; others may filter by department."""
    user = current_user()
    department = request.args.get("department") or None
    if user.role in DEPARTMENT_ROLES:
        if department and department != user.unit:
            raise Forbidden("forbidden", "只能查看本科室的任务", "you may see only your department's assignments")
        department = user.unit
    elif user.role == STATION:
        raise Forbidden("forbidden", "市场监督管理所无任务列表", "stations have no assignment list")
    if department is None:
        raise InvalidInput("missing_field", "缺少科室", "department is required", field="department")
    open_only = request.args.get("open", "1") != "0"
    rows = assignments.for_department(db(), department, open_only=open_only)
    user_rows = [r for r in rows if permissions.can_view(user, r.incident, service.plan_of(r.incident))]
    return jsonify({"assignments": [snapshots.assignment(r, service.plan_of(r.incident)) for r in user_rows]})


def _transition(action, assignment_id: int, **fields):
    session = db()
    row = action(session, assignment_id=assignment_id, actor=current_user(), now=now(), **fields)
    session.commit()
    return _one(row)


@bp.post("/assignments/<int:assignment_id>/ack")
@api_login_required
def ack_assignment(assignment_id: int):
    """Acknowledge (签收) an assignment."""
    return _transition(assignments.acknowledge, assignment_id)


@bp.post("/assignments/<int:assignment_id>/progress")
@api_login_required
def progress_assignment(assignment_id: int):
    """Report progress on an acknowledged assignment."""
    data = parse.body()
    return _transition(assignments.progress, assignment_id, note=parse.text(data, "note", "办理情况", required_=True))


@bp.post("/assignments/<int:assignment_id>/done")
@api_login_required
def finish_assignment(assignment_id: int):
    """Mark an assignment done with a note."""
    data = parse.body()
    return _transition(flows.complete_assignment, assignment_id, note=parse.text(data, "note", "完成情况", required_=True))


@bp.post("/assignments/<int:assignment_id>/decline")
@api_login_required
def decline_assignment(assignment_id: int):
    """Decline an assignment with a reason (否定报备)."""
    data = parse.body()
    return _transition(assignments.decline, assignment_id,
                       reason=parse.text(data, "reason", "否定报备理由", required_=True))


@bp.post("/assignments/<int:assignment_id>/decline/approve")
@api_login_required
def approve_decline(assignment_id: int):
    """Approve a pending decline (同意否定报备): the command or the leadership only."""
    data = request.get_json(silent=True) or {}  # the note is optional, and so is the body
    if not isinstance(data, dict):
        raise InvalidInput("bad_json", "请求体须为 JSON 对象", "the request body must be a JSON object")
    return _transition(assignments.approve_decline, assignment_id, note=parse.text(data, "note", "审批意见"))


@bp.post("/assignments/<int:assignment_id>/decline/reject")
@api_login_required
def reject_decline(assignment_id: int):
    """Reject a pending decline with a reason; the task goes back to the department."""
    data = parse.body()
    return _transition(assignments.reject_decline, assignment_id,
                       reason=parse.text(data, "reason", "不同意的理由", required_=True))


@bp.get("/assignments/<int:assignment_id>")
@api_login_required
def get_assignment(assignment_id: int):
    """Show one assignment."""
    return _one(assignments.get_assignment(db(), assignment_id, actor=current_user()))
