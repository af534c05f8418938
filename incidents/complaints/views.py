"""What people see of a complaint: staff and public views, limit and change records."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy.orm import Session

from incidents.complaints.limits import limit_state
from incidents.complaints.states import FINAL, NOT_FILED, REFUSED, TRANSITIONS
from incidents.kernel import labels
from incidents.kernel.calendar import WorkdayCalendar, working_days_left
from incidents.kernel.masking import mask_name, mask_phone, redact
from incidents.kernel.moments import iso, local_day
from incidents.models import (
    PENDING,
    Complaint,
    ComplaintLimitChange,
    ComplaintLimitRow,
)
from incidents.plan import Plan
from incidents.records import board_events
from incidents.records.board_events import department_room


def limit_view(plan: Plan, calendar: WorkdayCalendar | None, row: ComplaintLimitRow, now: datetime) -> dict:
    """Return a limit as boards and the API show it."""
    state = limit_state(row, now)
    out = {"id": row.id, "kind": row.kind, "name": row.name, "department": row.department,
           "department_name": _dept_name(plan, row.department), "starts_on": row.starts_on.isoformat(),
           "working_days": row.working_days, "due_on": row.due_on.isoformat(), "due_at": iso(row.due_at),
           "warn_at": iso(row.warn_at), "status": row.status, "state": state, "state_name": labels.COMPLAINT_LIMIT_STATE[state],
           "estimated": row.estimated, "estimate_note": row.estimate_note, "satisfied_at": iso(row.satisfied_at),
           "late_seconds": row.late_seconds, "cancel_reason": row.cancel_reason}
    if row.status == PENDING and calendar is not None:
        out["working_days_left"] = working_days_left(calendar, local_day(plan.tz, now), row.due_on)
    out["recounts"] = [change_dict(c) for c in row.changes]
    return out


def change_dict(change: ComplaintLimitChange, limit: ComplaintLimitRow | None = None) -> dict:
    """Return a recount of a limit as the boards and the API show it: before, after, how many days it moved."""
    moved = (change.due_on - change.due_on_before).days
    out = {"limit_id": change.limit_id, "due_on_before": change.due_on_before.isoformat(),
           "due_on": change.due_on.isoformat(), "days_moved": moved, "estimated_before": change.estimated_before,
           "estimated": change.estimated, "cause": change.cause, "notice_id": change.notice_id,
           "changed_at": change.changed_at.isoformat()}
    before, after = change.due_on_before, change.due_on
    if moved:
        out["summary"] = (f"时限由{before.month}月{before.day}日{'推迟' if moved > 0 else '提前'}至{after.month}月{after.day}日"
                          f"（{'+' if moved > 0 else ''}{moved}天）")
    else:
        out["summary"] = f"时限仍为{after.month}月{after.day}日"
    if change.estimated_before and not change.estimated:
        out["summary"] += "，已按放假通知确定（不再是估算）"
    if limit is not None:
        out.update(kind=limit.kind, name=limit.name)
    return out


def _dept_name(plan: Plan, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return plan.department(code).name
    except KeyError:
        return code


def category_name(plan: Plan, code: str) -> str:
    try:
        return plan.complaints.category(code).name
    except KeyError:
        return code


def _demand_name(plan: Plan, code: str | None) -> str | None:
    return dict(plan.complaints.demands).get(code, code) if code else None


def area_name(plan: Plan, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return plan.station(code).name.replace("市场监督管理所", "")
    except KeyError:
        return code


def snapshot(plan: Plan, complaint: Complaint) -> dict:
    """Return a complaint's headline for pushed events and lists: no name, phone, address or free text."""
    return {"tracking_no": complaint.tracking_no, "kind": complaint.kind, "kind_name": labels.COMPLAINT_KIND[complaint.kind],
            "status": complaint.status, "status_name": labels.COMPLAINT_STATUS[complaint.status],
            "category": complaint.category, "category_name": category_name(plan, complaint.category),
            "business_name": complaint.business_name, "area": complaint.area,
            "area_name": area_name(plan, complaint.area), "department": complaint.department,
            "department_name": _dept_name(plan, complaint.department),
            "suggested_department": complaint.suggested_department,
            "suggested_department_name": _dept_name(plan, complaint.suggested_department),
            "received_at": iso(complaint.received_at), "incident_id": complaint.incident_id,
            "verified": complaint.verified_by is not None, "verified_by": complaint.verified_by,
            "verification_name": labels.COMPLAINT_VERIFICATION.get(complaint.verified_by, "未验证")}


def staff_view(plan: Plan, calendar: WorkdayCalendar | None, complaint: Complaint, now: datetime, *,
               contact: bool = False) -> dict:
    """Return a complaint as staff see it: phone masked (unless `contact`), numbers in the text masked."""
    erased = complaint.erased_at is not None
    out = {
        **snapshot(plan, complaint),
        "name": complaint.name if contact else mask_name(complaint.name),
        "phone": complaint.phone if contact else mask_phone(complaint.phone),
        "phone_masked": not contact,
        "address": complaint.address if contact else redact(complaint.address),
        "business_address": complaint.business_address, "credit_code": complaint.credit_code,
        "purchased_on": complaint.purchased_on.isoformat() if complaint.purchased_on else None,
        "amount": complaint.amount, "order_no": complaint.order_no,
        "description": complaint.description if contact else redact(complaint.description),
        "demand": complaint.demand, "demand_name": _demand_name(plan, complaint.demand),
        "source": complaint.source, "triaged_at": iso(complaint.triaged_at), "triage_note": redact(complaint.triage_note),
        "accepted_at": iso(complaint.accepted_at), "mediation_started_at": iso(complaint.mediation_started_at),
        "decided_at": iso(complaint.decided_at), "closed_at": iso(complaint.closed_at),
        "finished_at": iso(complaint.finished_at), "reason": redact(complaint.reason),
        "answer": redact(complaint.answer), "erased": erased, "erased_at": iso(complaint.erased_at),
        "next": list(TRANSITIONS.get((complaint.kind, complaint.status), ())),
        "limits": [limit_view(plan, calendar, r, now) for r in complaint.limits],
    }
    return out


def public_view(plan: Plan, complaint: Complaint) -> dict:
    """Return what the complainant sees with the tracking number and phone: status, steps, the answer."""
    steps = [(complaint.received_at, "已收到您的" + labels.COMPLAINT_KIND[complaint.kind])]
    if complaint.triaged_at and complaint.department:
        steps.append((complaint.triaged_at, f"已转{_dept_name(plan, complaint.department)}办理"))
    if complaint.accepted_at:
        steps.append((complaint.accepted_at, "已受理"))
    if complaint.mediation_started_at:
        steps.append((complaint.mediation_started_at, "开始调解"))
    if complaint.decided_at:
        decided = {REFUSED: "不予受理", NOT_FILED: "不予立案"}.get(complaint.status, "已立案")
        steps.append((complaint.decided_at, decided))
    if complaint.closed_at:
        steps.append((complaint.closed_at, "已办结"))
    return {
        "tracking_no": complaint.tracking_no, "kind": complaint.kind, "kind_name": labels.COMPLAINT_KIND[complaint.kind],
        "status": complaint.status, "status_name": labels.COMPLAINT_STATUS[complaint.status],
        "category_name": category_name(plan, complaint.category), "business_name": complaint.business_name,
        "received_at": iso(complaint.received_at), "phone": mask_phone(complaint.phone),
        "department_name": _dept_name(plan, complaint.department),
        "steps": [{"at": iso(at), "text": text} for at, text in sorted(steps, key=lambda s: s[0])],
        "reason": complaint.reason if complaint.status in (REFUSED, NOT_FILED) else None,
        "answer": complaint.answer if complaint.status in FINAL else None,
        "finished": complaint.status in FINAL,
    }


def announce(session: Session, plan: Plan, complaint: Complaint, *, what: str, at: datetime,
             also: Iterable[str | None] = ()) -> None:
    """Tell the centre's board and the handling department's board what happened to a complaint."""
    rooms = {department_room(plan.complaints.centre)}
    for code in (complaint.department, *also):
        if code:
            rooms.add(department_room(code))
    board_events.publish(session, rooms=rooms, event_name="complaint",
                         payload={"what": what, "complaint": snapshot(plan, complaint)}, at=at)
