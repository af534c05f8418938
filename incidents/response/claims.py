"""Judging a backdated claim (补录): the office head or the leadership confirms or rejects it on named evidence.

Until it is judged the entry time judges the clock; a confirmation lets the claimed time judge it (the
clock is judged again and the audit trail says who, when, on what evidence); a rejection keeps the
entry time for good. Nobody judges their own claim, and a judgement is never changed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.kernel.actors import actor_id
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput
from incidents.kernel.roles import DEPARTMENT_HEAD, LEADER
from incidents.kernel.states import ClaimDecision
from incidents.kernel.text import checked_text
from incidents.models import ClaimReview, Report, ReportRecipient
from incidents.people import permissions
from incidents.plan import Plan
from incidents.records import announce, audit
from incidents.response import clock_rows, recipients, service


def may_judge(actor, plan: Plan) -> bool:
    """Tell whether the plan lets this user judge backdated claims (the leadership, the office's head)."""
    allowed = plan.reports.claims_confirmed_by
    if actor.role == LEADER and "leader" in allowed:
        return True
    return actor.role == DEPARTMENT_HEAD and "office_head" in allowed and actor.unit == plan.office_department


def _may_judge(actor, plan: Plan) -> None:
    if may_judge(actor, plan):
        return
    raise Forbidden("forbidden", "补录时间须由办公室负责人或领导小组确认", "only the office head or the leadership "
                    "judges a backdated claim")


def review(session: Session, *, report_id: int, decision: str, evidence_kind: str, evidence_ref: str | None,
           note: str | None, actor, now: datetime, recipient: str | None = None) -> ClaimReview:
    """Confirm or reject a backdated report time (or a recipient's delivery time) with the evidence named."""
    report = recipients.get_report(session, report_id, actor=actor)
    incident = report.incident
    plan = service.plan_of(incident)
    permissions.require(actor, "review_claim", incident, plan)
    _may_judge(actor, plan)
    target: Report | ReportRecipient = report if recipient is None else recipients.recipient_of(report, recipient)
    filed_by = target.submitted_by_id if recipient is None else target.recorded_by_id
    if not target.backdated:
        raise Conflict("not_backdated", "该时间不是补录，无须确认", "the time was not backdated")
    if target.review is not None:
        raise Conflict("already_reviewed", f"该补录已{labels.CLAIM_DECISION[target.review.decision]}，不能再改",
                       "the claim has already been judged")
    if filed_by is not None and filed_by == actor_id(actor):
        raise Forbidden("own_claim", "不能确认本人补录的时间", "nobody judges their own claim")
    if decision not in tuple(ClaimDecision):
        raise InvalidInput("bad_decision", "确认结果须为 confirmed（确认）或 rejected（不予确认）",
                           "decision: confirmed or rejected", field="decision")
    if evidence_kind not in labels.EVIDENCE_KIND:
        raise InvalidInput("bad_evidence", "凭证类别须为：" + "、".join(labels.EVIDENCE_KIND.values()),
                           "evidence_kind: " + ", ".join(labels.EVIDENCE_KIND), field="evidence_kind")
    evidence_ref = checked_text(evidence_ref, field="evidence_ref", label="凭证（电话记录、传真号、政务内网回执等）",
                                limit=200)
    note = checked_text(note, field="note", label="说明", limit=2000,
                        required=decision == ClaimDecision.REJECTED) or None
    row = ClaimReview(report_id=report.id if recipient is None else None,
                      recipient_id=target.id if recipient is not None else None, decision=decision,
                      evidence_kind=evidence_kind, evidence_ref=evidence_ref, note=note, decided_by_id=actor_id(actor),
                      decided_at=now)
    session.add(row)
    session.flush()
    session.refresh(target, ["review"])
    audit.record(session, actor=actor, action=f"report.claim_{decision}", entity="claim_review", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"report_id": report.id, "recipient": recipient, "evidence_kind": evidence_kind,
                       "evidence_ref": evidence_ref, "note": note,
                       "claimed": (target.submitted_at if recipient is None else target.delivered_at).isoformat(),
                       "entered": (target.entered_at if recipient is None else target.recorded_at).isoformat()})
    if decision == ClaimDecision.CONFIRMED:
        why = f"补录时间经确认（{labels.EVIDENCE_KIND[evidence_kind]}：{evidence_ref}）"
        clock_rows.rejudge(session, incident, plan, report, reason=why, actor=actor, now=now)
        clock_rows.reconcile(session, incident, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="report:claim", at=now)
    return row
