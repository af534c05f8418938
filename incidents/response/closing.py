"""The command's handling summary (应急处置工作总结) that comes before the end, plan §五(一).

When the handling is over, the command (the lead department, the office, the HQ) writes the
summary: cause, handling, aftermath, lessons, improvements. Submitting it files a `summary`
report. The approver the plan names (the leadership group) returns it for revision or approves
it; the approval is the leadership's decision to end (同意应急状态结束的决定), after which the role
the plan names declares the end (service.end_emergency). The written report to the government
and the city bureau then goes up within 4 (Ⅰ–Ⅲ) or 8 (Ⅳ) days (recipients.py): that, not this
summary, meets the closing clock and archives the incident.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import announce, audit
from incidents.response import flows, service
from incidents.kernel.errors import Collect, Conflict, Forbidden, InvalidInput, NotFound
from incidents.models import (
    ACTIVE,
    CLOSING_APPROVED,
    CLOSING_RETURNED,
    CLOSING_SUBMITTED,
    ENDED,
    ClosingReport,
)
from incidents.plan import Plan
from incidents.kernel.roles import LEADER, ROLES
from incidents.kernel.actors import actor_id

# The five parts the plan asks of the summary (§五(二)), in order; the cause is required.
SECTIONS = (
    ("cause", "事件发生的原因"),
    ("handling", "处置经过"),
    ("aftermath", "善后处置情况"),
    ("lessons", "经验教训"),
    ("improvements", "改进工作的要求和建议"),
)
NUMERALS = "一二三四五"
MAX_SECTION = 20000


@dataclass(frozen=True)
class ClosingForm:
    """What the cause-investigation group writes; `investigators` names the group's members."""

    cause: str
    handling: str = ""
    aftermath: str = ""
    lessons: str = ""
    improvements: str = ""
    investigators: str = ""


def approvers(plan: Plan) -> tuple[str, ...]:
    """Return the roles that approve closing reports under this plan (the leadership group by default)."""
    return plan.reports.closing_approved_by or (LEADER,)


def body_text(form: ClosingForm) -> str:
    """Return the summary as one text, the body of the `closing` report it files."""
    parts = []
    if form.investigators:
        parts.append(f"原因调查小组：{form.investigators}")
    for n, (key, title) in enumerate(SECTIONS):
        parts.append(f"{NUMERALS[n]}、{title}\n{getattr(form, key) or '（未填写）'}")
    return "\n\n".join(parts)


def _clean(form: ClosingForm) -> ClosingForm:
    values, found = {}, Collect()
    for key, title in SECTIONS + (("investigators", "原因调查小组"),):
        value = (getattr(form, key) or "").strip()
        if len(value) > MAX_SECTION:
            found.errors.append(InvalidInput("too_long", f"{title}过长（最多{MAX_SECTION}字）",
                                             f"{key} is longer than {MAX_SECTION} characters", field=key))
        values[key] = value
    if not values["cause"]:
        found.errors.insert(0, InvalidInput("missing_field", "缺少事件发生的原因：应急处置工作总结须包含原因调查的结论",
                                            "cause is required: the closing report must contain the cause investigation",
                                            field="cause"))
    found.done()
    return ClosingForm(**values)


def get(session: Session, incident_id: int, *, user=None, for_update: bool = False) -> ClosingReport | None:
    """Return the incident's closing report, or None; the user must be able to see the incident."""
    service.get_incident(session, incident_id, user=user)
    stmt = select(ClosingReport).where(ClosingReport.incident_id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def submit(session: Session, *, incident_id: int, form: ClosingForm, actor, now: datetime,
           submitted_at: datetime | None = None) -> ClosingReport:
    """Submit (or resubmit after a return) the closing report; it files a `closing` report for the clock."""
    form = _clean(form)
    # Lock the incident first: a concurrent submission waits here and then sees this one.
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    row = get(session, incident_id, for_update=True)
    if row is not None and row.status == CLOSING_SUBMITTED:
        raise Conflict("closing_pending", "应急处置工作总结已提交，正在等待审批", "the closing report is waiting for approval")
    if row is not None and row.status == CLOSING_APPROVED:
        raise Conflict("closing_approved", "应急处置工作总结已批准，不能再提交", "the handling summary is already approved")
    # Permission, state (ended, not archived) and time checks are the report's own.
    report = flows.submit_report(session, incident_id=incident_id, kind="summary", body=body_text(form),
                                   actor=actor, now=now, submitted_at=submitted_at)
    if row is None:
        row = ClosingReport(incident_id=incident.id, version=1)
        session.add(row)
    else:
        row.version += 1
    row.status = CLOSING_SUBMITTED
    for key in ("cause", "handling", "aftermath", "lessons", "improvements", "investigators"):
        setattr(row, key, getattr(form, key))
    row.report_id = report.id
    row.submitted_by_id = actor_id(actor)
    row.submitted_at = report.submitted_at
    row.decided_by_id = row.decided_at = row.decision_note = None
    session.flush()
    audit.record(session, actor=actor, action="closing.submitted", entity="closing_report", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"version": row.version, "report_id": report.id,
                       "body_sha256": hashlib.sha256(report.body.encode("utf-8")).hexdigest(),
                       "sections": [k for k, _ in SECTIONS if getattr(form, k)]})
    announce.incident_changed(session, incident, service.plan_of(incident), what="closing:submitted", at=now)
    return row


def _decide(session: Session, incident_id: int, actor, what_zh: str, what_en: str):
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = service.plan_of(incident)
    allowed = approvers(plan)
    if actor.role not in allowed and actor.role != "system":
        names = "、".join(ROLES.get(r, r) for r in allowed)
        raise Forbidden("forbidden", f"应急处置工作总结须由{names}{what_zh}，角色“{ROLES.get(actor.role, actor.role)}”无权操作",
                        f"only {', '.join(allowed)} may {what_en} the closing report; not '{actor.role}'")
    row = get(session, incident_id, for_update=True)
    if row is None:
        raise NotFound("no_closing_report", "尚未提交应急处置工作总结", "no closing report has been submitted")
    if row.status != CLOSING_SUBMITTED or incident.status not in (ACTIVE, ENDED):
        raise Conflict("closing_not_pending", f"应急处置工作总结当前为“{labels.CLOSING_STATUS[row.status]}”，不能{what_zh}",
                       f"the closing report is {row.status}; cannot {what_en} it")
    return incident, plan, row


def approve(session: Session, *, incident_id: int, actor, now: datetime, note: str | None = None) -> ClosingReport:
    """Approve the submitted summary: the leadership's decision that the emergency may be declared over."""
    incident, plan, row = _decide(session, incident_id, actor, "批准", "approve")
    note = (note or "").strip()[:2000] or None
    row.status = CLOSING_APPROVED
    row.decided_by_id = actor_id(actor)
    row.decided_at = now
    row.decision_note = note
    audit.record(session, actor=actor, action="closing.approved", entity="closing_report", entity_id=row.id,
                 incident_id=incident.id, at=now, data={"version": row.version, "note": note})
    announce.incident_changed(session, incident, plan, what="closing:approved", at=now)
    return row


def return_for_revision(session: Session, *, incident_id: int, reason: str, actor, now: datetime) -> ClosingReport:
    """Send the submitted closing report back with a reason; the submitter revises and resubmits it."""
    incident, plan, row = _decide(session, incident_id, actor, "退回", "return")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("missing_field", "缺少退回理由", "reason is required", field="reason")
    if len(reason) > 2000:
        raise InvalidInput("too_long", "退回理由过长（最多2000字）", "reason is longer than 2000 characters", field="reason")
    row.status = CLOSING_RETURNED
    row.decided_by_id = actor_id(actor)
    row.decided_at = now
    row.decision_note = reason
    audit.record(session, actor=actor, action="closing.returned", entity="closing_report", entity_id=row.id,
                 incident_id=incident.id, at=now, data={"version": row.version, "reason": reason})
    announce.incident_changed(session, incident, plan, what="closing:returned", at=now)
    return row


def as_dict(row: ClosingReport) -> dict:
    """Return the closing report as the API shows it."""
    iso = lambda m: m.isoformat() if m else None  # noqa: E731
    return {"id": row.id, "incident_id": row.incident_id, "status": row.status,
            "status_name": labels.CLOSING_STATUS.get(row.status, row.status), "version": row.version,
            **{k: getattr(row, k) for k, _ in SECTIONS}, "investigators": row.investigators,
            "report_id": row.report_id, "submitted_by": row.submitted_by_id, "submitted_at": iso(row.submitted_at),
            "decided_by": row.decided_by_id, "decided_at": iso(row.decided_at), "decision_note": row.decision_note}
