"""Triage and handling: route to a department, move the status, reveal contact details."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from incidents import escalation
from incidents.complaints.access import can_handle, can_see_contact, can_triage, forbid, get_complaint
from incidents.complaints.intake import start_limits
from incidents.complaints.states import (
    ACCEPTED,
    CLOSED,
    FIELD_NAMES,
    FILED,
    FINAL,
    LIMITS,
    MEDIATING,
    NEED_DEPARTMENT,
    NOT_FILED,
    RECEIVED,
    REFUSED,
    TRANSITIONS,
)
from incidents.complaints.views import announce
from incidents.kernel import labels
from incidents.kernel.actors import actor_id
from incidents.kernel.calendar import WorkdayCalendar
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.kernel.text import checked_text
from incidents.models import (
    CANCELLED,
    ESC_RESOLVED,
    ESC_STOPPED,
    LATE,
    MET,
    PENDING,
    Complaint,
)
from incidents.plan import Plan
from incidents.records import audit


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    return checked_text(value, field=field, label=FIELD_NAMES[field], limit=LIMITS.get(field, 2000), required=required,
                        clean=True, ask="请填写") or None


def _sha(text: str | None) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def triage(session: Session, plan: Plan, *, tracking_no: str, department: str, note: str | None, actor,
           now: datetime) -> Complaint:
    """Route a complaint to a department (分流): confirm the suggestion or re-route it; its limits follow."""
    if not can_triage(actor, plan):
        raise forbid("只有315投诉中心或应急办公室可以分流投诉举报", "only the complaint centre or the office may triage")
    complaint = get_complaint(session, plan, tracking_no, user=actor, for_update=True)
    if complaint.status in FINAL:
        raise Conflict("finished", "该投诉举报已办结，不能再分流", "the complaint is finished")
    plan.known_department(department)
    note = _text(note, "note", required=department != complaint.suggested_department and not complaint.triaged_at)
    before = complaint.department
    if before == department:
        raise Conflict("same_department", f"已分流至{plan.department(department).name}", "already routed there")
    if before is not None and complaint.status not in (RECEIVED,) and not note:
        raise InvalidInput("missing_field", "受理后改派须写明理由", "re-routing after acceptance needs a note",
                           field="note")
    complaint.department = department
    complaint.triaged_at = now
    complaint.triaged_by_id = actor_id(actor)
    complaint.triage_note = note
    complaint.updated_at = now
    for row in complaint.limits:
        if row.status == PENDING:
            row.department = department
            escalation.reroute_complaint_limit(session, row, now=now)
    rerouted = department != complaint.suggested_department
    audit.record(session, actor=actor, action="complaint.triaged", entity="complaint", entity_id=complaint.tracking_no,
                 incident_id=complaint.incident_id, at=now,
                 data={"from": before, "to": department, "suggested": complaint.suggested_department,
                       "rerouted": rerouted, "note_sha256": _sha(note)})
    announce(session, plan, complaint, what="triaged", at=now, also=[before] if before else ())
    return complaint


def change_status(session: Session, plan: Plan, calendar: WorkdayCalendar, *, tracking_no: str, to: str, actor,
                  now: datetime, reason: str | None = None, answer: str | None = None) -> Complaint:
    """Move a complaint on: accept or refuse (with a reason), mediate, close with the answer; file or not."""
    complaint = get_complaint(session, plan, tracking_no, user=actor, for_update=True)
    if not can_handle(actor, plan, complaint):
        raise forbid("只有承办科室、315投诉中心或应急办公室可以办理", "only the handling department, the centre or the office")
    allowed = TRANSITIONS.get((complaint.kind, complaint.status), ())
    if to not in labels.COMPLAINT_STATUS:
        raise InvalidInput("unknown_status", f"未知状态“{to[:20]}”", f"unknown status '{to}'", field="to")
    if to not in allowed:
        now_name = labels.COMPLAINT_STATUS[complaint.status]
        options = "、".join(labels.COMPLAINT_ACTION[s] for s in allowed) or "无（已办结）"
        raise Conflict("bad_transition", f"当前为“{now_name}”，不能{labels.COMPLAINT_ACTION.get(to, to)}；可以：{options}",
                       f"cannot go from {complaint.status} to {to}")
    if to in NEED_DEPARTMENT and complaint.department is None:
        raise Conflict("not_triaged", "请先分流至承办科室", "route the complaint to a department first")
    reason = _text(reason, "reason", required=to in (REFUSED, NOT_FILED))
    answer = _text(answer, "answer", required=to == CLOSED)
    before = complaint.status
    complaint.status = to
    complaint.updated_at = now
    complaint.handled_by_id = actor_id(actor)
    if to == ACCEPTED:
        complaint.accepted_at = now
    elif to == MEDIATING:
        complaint.mediation_started_at = now
    elif to in (REFUSED, FILED, NOT_FILED):
        complaint.decided_at = now
    if to == CLOSED:
        complaint.closed_at = now
        complaint.answer = answer
    if reason:
        complaint.reason = reason
    if to in (REFUSED, NOT_FILED) and not complaint.answer:
        complaint.answer = reason  # the complainant is told why
    if to in FINAL:
        complaint.finished_at = now
    _settle_limits(session, plan, complaint, to, now)
    if to == ACCEPTED:
        start_limits(plan, calendar, complaint, "accepted", at=now, now=now)
    audit.record(session, actor=actor, action=f"complaint.{to}", entity="complaint", entity_id=complaint.tracking_no,
                 incident_id=complaint.incident_id, at=now,
                 data={"from": before, "to": to, "department": complaint.department,
                       "reason_sha256": _sha(reason), "answer_sha256": _sha(answer)})
    announce(session, plan, complaint, what=to, at=now)
    return complaint


def _settle_limits(session: Session, plan: Plan, complaint: Complaint, status: str, now: datetime) -> None:
    ends = {rule.kind: rule.met_by for rule in plan.complaints.limits}
    for row in complaint.limits:
        if row.status != PENDING:
            continue
        if status in ends.get(row.kind, ()):
            late = (now - row.due_at).total_seconds()
            row.status = LATE if late > 0 else MET
            row.late_seconds = int(late) if late > 0 else 0
            row.satisfied_at = now
            escalation.settle_complaint_limit(session, row, status=ESC_RESOLVED,
                                              reason=f"已{labels.COMPLAINT_STATUS[status]}", now=now)
        elif status in FINAL:
            row.status = CANCELLED
            row.cancelled_at = now
            row.cancel_reason = f"投诉举报已{labels.COMPLAINT_STATUS[status]}，此时限不再适用"
            escalation.settle_complaint_limit(session, row, status=ESC_STOPPED, reason=row.cancel_reason, now=now)


def reveal_contact(session: Session, plan: Plan, *, tracking_no: str, actor, now: datetime) -> dict:
    """Return the complainant's full phone and address to someone who must call them; audited."""
    complaint = get_complaint(session, plan, tracking_no, user=actor)
    if not can_see_contact(actor, plan, complaint):
        raise forbid("只有315投诉中心和承办科室可以查看完整联系方式", "only the centre and the handling department")
    if complaint.erased_at is not None:
        raise Conflict("erased", "个人信息已按保存期限删除", "personal data has been erased")
    audit.record(session, actor=actor, action="complaint.contact_viewed", entity="complaint",
                 entity_id=complaint.tracking_no, incident_id=complaint.incident_id, at=now, data={})
    return {"tracking_no": complaint.tracking_no, "name": complaint.name, "phone": complaint.phone,
            "address": complaint.address}
