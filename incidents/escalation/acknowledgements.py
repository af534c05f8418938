"""Acknowledgement (签收) on the board, by SMS reply or by a keypress on the call; it stops the chain."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import audit
from incidents.kernel.errors import Conflict, Forbidden, NotFound
from incidents.models import (
    ESC_ACKNOWLEDGED,
    PUSHED,
    Assignment,
    Delivery,
    Escalation,
    User,
)
from incidents.kernel.roles import COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, STATION
from incidents.kernel.actors import SystemActor
from incidents.escalation.channels import ALERT, BOARD, SMS, VOICE
from incidents.escalation.lifecycle import OPEN, open_escalations, stop
from incidents.escalation.notices import item_code
from incidents.escalation.reply_codes import codes_in
from incidents.models import ACKNOWLEDGED
from incidents.plan.versions import plan_of
from incidents.records import announce


def acknowledge(session: Session, escalation_id: int, *, by: User, now: datetime) -> Escalation:
    """Acknowledge a running escalation on the board (a clock's reminder; assignments are signed as such)."""
    row = session.get(Escalation, escalation_id, with_for_update=True)
    if row is None:
        raise NotFound("not_found", f"升级通知 {escalation_id} 不存在", f"escalation {escalation_id} not found")
    if not _may_acknowledge(row, by):
        raise Forbidden("forbidden", "只有被通知单位的值班人员、应急办公室或领导小组可以签收",
                        "only the notified unit, the office or the leadership may acknowledge")
    if row.status not in OPEN:
        raise Conflict("not_running", f"该升级通知{labels.ESCALATION_STATUS[row.status]}", f"the escalation is {row.status}")
    if row.assignment_id is not None:
        if not ((by.role in DEPARTMENT_ROLES or by.role == OFFICE) and by.unit == row.department):
            raise Forbidden("forbidden", "任务须由被派发科室的值班人员签收", "only the assigned department signs a task")
        assignment = session.get(Assignment, row.assignment_id, with_for_update=True)
        sign(session, assignment, by=by, by_name=by.name, channel=BOARD, now=now)
    stop(session, row, status=ESC_ACKNOWLEDGED, reason="看板签收", now=now, by=by, channel=BOARD)
    return row


def _may_acknowledge(row: Escalation, user: User) -> bool:
    if user.role in (OFFICE, COMMANDER, LEADER):
        return True
    if user.role in DEPARTMENT_ROLES:
        return row.department is not None and user.unit == row.department
    return user.role == STATION and row.station is not None and user.unit == row.station


def sign(session: Session, assignment: Assignment, *, by: User | None, by_name: str, channel: str,
          now: datetime) -> None:
    """Acknowledge (签收) an assignment for someone who was alerted about it (by SMS, call or board)."""
    if not assignment.awaiting_ack:
        return
    pending_decline = assignment.status != PUSHED
    if pending_decline:
        # A decline filed from the push waits for the leaders: someone has now seen the task, so
        # a rejected decline returns it acknowledged, not pushed again.
        assignment.decline_from = ACKNOWLEDGED
    else:
        assignment.status = ACKNOWLEDGED
    assignment.acknowledged_at = now
    assignment.acknowledged_by_id = by.id if by is not None else None
    actor = SystemActor(name=f"{by_name}（{labels.CHANNEL[channel]}）", id=by.id if by is not None else 0,
                        role=by.role if by is not None else "system")
    audit.record(session, actor=actor, action="assignment.acknowledged", entity="assignment",
                 entity_id=assignment.id, incident_id=assignment.incident_id, at=now,
                 data={"from": PUSHED, "channel": channel, "decline_pending": pending_decline})
    announce.assignment_changed(session, assignment, plan_of(assignment.incident), what=ACKNOWLEDGED,
                                at=now)


@dataclass(frozen=True)
class AckOutcome:
    """What an SMS reply or a keypress acknowledged, and what to answer the person."""

    acknowledged: tuple[str, ...]  # item codes
    answer: str


def acknowledge_by_reply(session: Session, phone: str, body: str, *, now: datetime) -> AckOutcome:
    """Acknowledge by SMS reply: only the items whose random reply codes it names and that were sent to this phone.

    A bare "1" or an item's number (A12) acknowledges nothing any more: either could sign an item
    the officer never saw (a captured reply resent later, a guessed number).
    """
    codes = codes_in(body)
    if not codes:
        return AckOutcome((), "请回复短信中的签收码（如“回复K7QX签收”中的K7QX）签收，可一次回复多个。")
    sent = (select(Delivery).join(Escalation, Delivery.escalation_id == Escalation.id)
            .where(Delivery.phone == phone, Delivery.purpose == ALERT, Delivery.channel.in_((SMS, VOICE)),
                   Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at.desc(), Delivery.id.desc()))
    targets = []
    for code in codes:
        found = session.scalars(sent.where(Escalation.reply_code == code)).first()
        if found is not None:
            targets.append(found)
    if not targets:
        return AckOutcome((), f"未找到发给本机号码的签收码 {'、'.join(codes)}，请核对。")
    # A code signs that item only (a bundle lists each item's code).
    return _acknowledge_deliveries(session, targets, phone=phone, channel=SMS, now=now, whole_bundle=False)


def acknowledge_by_keypress(session: Session, delivery_id: int, digits: str, *, now: datetime,
                            call_sid: str | None = None) -> AckOutcome:
    """Acknowledge by pressing 1 on an alert call: every item the call was about."""
    d = session.get(Delivery, delivery_id)
    if d is None or d.channel != VOICE or (call_sid and d.provider_id and d.provider_id != call_sid):
        return AckOutcome((), "未找到本次通知。")
    if (digits or "").strip() != "1":
        return AckOutcome((), "未签收。如需签收请按1。")
    return _acknowledge_deliveries(session, [d], phone=d.phone, channel=VOICE, now=now)


def _acknowledge_deliveries(session: Session, deliveries: list[Delivery], *, phone: str | None, channel: str,
                            now: datetime, whole_bundle: bool = True) -> AckOutcome:
    covered: list[Delivery] = []
    for d in deliveries:
        if not whole_bundle:
            covered.append(d)
            continue
        carrier = session.get(Delivery, d.bundle_id) if d.bundle_id else d
        covered.append(carrier)
        covered.extend(session.scalars(select(Delivery).where(Delivery.bundle_id == carrier.id)))
    codes, seen = [], set()
    for d in covered:
        row = d.escalation
        if row is None or d.purpose != ALERT or row.id in seen:
            continue
        seen.add(row.id)
        user = session.get(User, d.user_id) if d.user_id else None
        name = user.name if user is not None else d.name
        if row.assignment_id is not None:
            assignment = session.get(Assignment, row.assignment_id, with_for_update=True)
            sign(session, assignment, by=user, by_name=name, channel=channel, now=now)
            for other in open_escalations(session, Escalation.assignment_id == row.assignment_id):
                stop(session, other, status=ESC_ACKNOWLEDGED, reason=f"{labels.CHANNEL[channel]}签收", now=now,
                     by=user, by_name=name, channel=channel, except_phone=phone)
        else:
            same = (Escalation.deadline_id == row.deadline_id if row.deadline_id is not None
                    else Escalation.complaint_limit_id == row.complaint_limit_id)
            for other in open_escalations(session, same):
                stop(session, other, status=ESC_ACKNOWLEDGED, reason=f"{labels.CHANNEL[channel]}签收", now=now,
                     by=user, by_name=name, channel=channel, except_phone=phone)
        codes.append(item_code(row))
    if not codes:
        return AckOutcome((), "该事项已处理，无需签收。")
    return AckOutcome(tuple(codes), f"已签收：{'、'.join(codes)}。谢谢！")
