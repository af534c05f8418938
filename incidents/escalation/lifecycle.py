"""Escalation (SPEC §7): what nobody acknowledges walks its frozen chain until someone does.

Rows are the truth, as for clocks. An `Escalation` holds the plan's chain as it was when the
escalation started, and its next step with that step's time. `advance` (the scheduler, every
second) claims the escalations whose step is due, atomically, and writes one `Delivery` row
per person the step tells; `claim_outgoing` hands the deliveries to the senders, throttled and
bundled per phone, and `record_results` keeps what the provider answered. The webhooks feed
back delivery statuses (`apply_status`) and acknowledgements (`acknowledge_by_reply`,
`acknowledge_by_keypress`); the board acknowledges through `settle_assignment` and
`acknowledge`. A step's deliveries are unique per (escalation, step, person), so a step fired
twice tells nobody twice; a delivery being sent when its process dies is marked `unknown`,
never sent again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.records import audit
from incidents.models import (
    ACTIVE,
    ESC_ACKNOWLEDGED,
    ESC_EXHAUSTED,
    ESC_RUNNING,
    ESC_STOPPED,
    REGISTERED,
    WATCHING,
    Assignment,
    ComplaintLimitRow,
    Deadline,
    Delivery,
    Escalation,
    Incident,
    User,
)
from incidents.plan import COMPLAINT_CHAIN, Plan
from incidents.escalation.frozen import chain_for, step_at, step_count
from incidents.escalation.channels import ALERT, BOARD, HANDLED, SMS, VOICE
from incidents.escalation.notices import ESCALATOR, OUT, add_delivery, announce, handled_text
from incidents.escalation.reply_codes import new_code, new_codes


LIVE_INCIDENT = (REGISTERED, ACTIVE, WATCHING)


# An exhausted escalation has no step left, but its item still waits: a late acknowledgement
# still stops it and tells those alerted, and its last step's messages still go out.
OPEN = (ESC_RUNNING, ESC_EXHAUSTED)  # escalation stops once the emergency has ended


def _start(session: Session, *, key: str, incident: Incident, plan: Plan, trigger: str, now: datetime,
           assignment: Assignment | None = None, deadline: Deadline | None = None) -> Escalation | None:
    chain = chain_for(plan, incident.level)
    if chain is None:
        return None
    existing = session.scalar(select(Escalation).where(Escalation.key == key))
    if existing is not None:
        return existing
    if deadline is not None:
        chain["timing_version"] = deadline.timing_version
    row = Escalation(key=key, incident_id=incident.id, assignment_id=assignment.id if assignment else None,
                     deadline_id=deadline.id if deadline else None, trigger=trigger,
                     department=(assignment.department if assignment else deadline.department),
                     station=None if assignment else deadline.station, chain=chain, started_at=now,
                     status=ESC_RUNNING, next_step=0, next_at=step_at(chain, now, 0), reply_code=new_code(session))
    session.add(row)
    session.flush()
    return row


def start_for_assignment(session: Session, assignment: Assignment, plan: Plan, *, now: datetime) -> Escalation | None:
    """Start the escalation of an assignment just pushed: it runs until someone acknowledges it."""
    return _start(session, key=f"A{assignment.id}", incident=assignment.incident, plan=plan,
                  trigger="unacknowledged", now=now, assignment=assignment)


def start_for_clock(session: Session, deadline: Deadline, incident: Incident, plan: Plan, *, overdue: bool,
                    now: datetime) -> Escalation | None:
    """Start the escalation of a clock about to run out, or run out (which supersedes the warning's)."""
    started = start_for_clocks(session, [ClockFiring(deadline, incident, plan, overdue)], now=now)
    return started[0] if started else None


@dataclass(frozen=True)
class ClockFiring:
    """A clock stage that has just fired, as the escalation of it needs it."""

    deadline: Deadline
    incident: Incident
    plan: Plan
    overdue: bool


def start_for_clocks(session: Session, firings: Sequence[ClockFiring], *, now: datetime) -> list[Escalation]:
    """Start the escalations of many clocks fired at once, in a few queries for all of them (not a few each).

    An overdue clock's warning escalation is stopped first; a clock whose escalation exists already
    (a stage fired twice) keeps it; a clock with no unit to tell, or a level with no chain, starts none.
    """
    wanted: dict[str, tuple[ClockFiring, dict, str]] = {}
    for f in firings:
        if f.deadline.department is None and f.deadline.station is None:
            continue
        chain = chain_for(f.plan, f.incident.level)
        if chain is None:
            continue
        trigger = "overdue" if f.overdue else "warning"
        wanted[f"D{f.deadline.id}:{f.deadline.timing_version}:{trigger}"] = (f, chain, trigger)
    if not wanted:
        return []
    overdue_ids = [f.deadline.id for f, _chain, trigger in wanted.values() if trigger == "overdue"]
    if overdue_ids:
        for row in open_escalations(session, Escalation.deadline_id.in_(overdue_ids)):
            stop(session, row, status=ESC_STOPPED, reason="时限已超时，改按超时升级", now=now, tell=False)
    existing = {row.key: row for row in session.scalars(select(Escalation).where(Escalation.key.in_(list(wanted))))}
    fresh = [key for key in wanted if key not in existing]
    codes = new_codes(session, len(fresh))
    started = []
    for key in wanted:
        if key in existing:
            started.append(existing[key])
            continue
        f, chain, trigger = wanted[key]
        chain["timing_version"] = f.deadline.timing_version
        row = Escalation(key=key, incident_id=f.incident.id, assignment_id=None, deadline_id=f.deadline.id,
                         trigger=trigger, department=f.deadline.department, station=f.deadline.station, chain=chain,
                         started_at=now, status=ESC_RUNNING, next_step=0, next_at=step_at(chain, now, 0),
                         reply_code=codes.pop())
        session.add(row)
        started.append(row)
    session.flush()
    return started


def start_for_complaint_limit(session: Session, limit: ComplaintLimitRow, plan: Plan, *, overdue: bool,
                              now: datetime) -> Escalation | None:
    """Start the escalation of a 12315 time limit about to run out, or run out (superseding the warning's)."""
    chain = chain_for(plan, COMPLAINT_CHAIN)
    if chain is None or chain["level"] != COMPLAINT_CHAIN:
        return None  # a plan without a complaint chain shows the limits on the boards only
    trigger = "overdue" if overdue else "warning"
    if overdue:
        for row in open_escalations(session, Escalation.complaint_limit_id == limit.id):
            stop(session, row, status=ESC_STOPPED, reason="时限已超时，改按超时升级", now=now, tell=False)
    key = f"C{limit.id}:{trigger}:{limit.due_on.isoformat()}"  # a recounted limit may run out again
    existing = session.scalar(select(Escalation).where(Escalation.key == key))
    if existing is not None:
        return existing
    row = Escalation(key=key, incident_id=None, complaint_limit_id=limit.id, trigger=trigger,
                     department=limit.department, station=None, chain=chain, started_at=now, status=ESC_RUNNING,
                     next_step=0, next_at=step_at(chain, now, 0), reply_code=new_code(session))
    session.add(row)
    session.flush()
    return row


def settle_complaint_limit(session: Session, limit: ComplaintLimitRow, *, status: str, reason: str,
                           now: datetime) -> None:
    """Stop a 12315 limit's escalations when the limit is met, late or no longer applies."""
    for row in open_escalations(session, Escalation.complaint_limit_id == limit.id):
        stop(session, row, status=status, reason=reason, now=now)


def reroute_complaint_limit(session: Session, limit: ComplaintLimitRow, *, now: datetime) -> None:
    """Move a 12315 limit's running escalations to the department the complaint was re-routed to."""
    for row in open_escalations(session, Escalation.complaint_limit_id == limit.id):
        if row.department != limit.department:
            before, row.department = row.department, limit.department
            announce(session, row, what="rerouted", at=now, also=before)


def open_escalations(session: Session, *where) -> list[Escalation]:
    # Locked: a board acknowledgement waits for a scheduler walking the same escalation.
    return list(session.scalars(select(Escalation).where(Escalation.status.in_(OPEN), *where)
                                .order_by(Escalation.id).with_for_update()))


def stop(session: Session, row: Escalation, *, status: str, reason: str, now: datetime, by: User | None = None,
         by_name: str | None = None, channel: str | None = None, tell: bool = True,
         except_phone: str | None = None) -> bool:
    """Stop an escalation: nothing more goes out, and those already alerted by phone hear it is handled."""
    if row.status not in OPEN:
        return False
    row.status, row.stopped_at, row.stop_reason, row.next_at = status, now, reason, None
    if status == ESC_ACKNOWLEDGED:
        row.ack_by_id = by.id if by is not None and by.id else None
        row.ack_by_name = by_name or (by.name if by is not None else None)
        row.ack_channel = channel
    except_phone = except_phone or getattr(by, "phone", None)  # whoever acknowledged knows already
    told: dict[str, Delivery] = {}
    for d in row.deliveries:
        if d.status in ("pending", "held"):
            d.status, d.updated_at, d.next_attempt_at = "cancelled", now, None
        elif d.purpose == ALERT and d.channel in (SMS, VOICE) and d.phone and d.status in OUT + ("bundled",):
            told.setdefault(d.phone, d)
    if tell:
        for phone, d in told.items():
            if phone == except_phone:
                continue
            add_delivery(session, row, step=None, purpose=HANDLED, channel=SMS, audience=d.audience,
                          user_id=d.user_id, name=d.name, phone=phone, now=now,
                          content=handled_text(session, row, status=status, reason=reason), status="pending")
    action = "escalation.acknowledged" if status == ESC_ACKNOWLEDGED else f"escalation.{status}"
    audit.record(session, actor=ESCALATOR, action=action, entity="escalation", entity_id=row.id,
                 incident_id=row.incident_id, at=now,
                 data={"key": row.key, "reason": reason, "by": row.ack_by_name, "channel": channel})
    announce(session, row, what=status, at=now)
    return True


def settle_assignment(session: Session, assignment: Assignment, *, status: str, reason: str, now: datetime,
                      by: User | None = None, channel: str = BOARD) -> None:
    """Stop an assignment's escalation when it leaves "pushed" (acknowledged, done, declined)."""
    for row in open_escalations(session, Escalation.assignment_id == assignment.id):
        stop(session, row, status=status, reason=reason, now=now, by=by, channel=channel)


def settle_clock(session: Session, deadline: Deadline, *, status: str, reason: str, now: datetime,
                 tell: bool = True) -> None:
    """Stop a clock's escalations when it is satisfied, cancelled or re-timed."""
    for row in open_escalations(session, Escalation.deadline_id == deadline.id):
        stop(session, row, status=status, reason=reason, now=now, tell=tell)


def settle_incident(session: Session, incident: Incident, *, reason: str, now: datetime,
                    clocks_too: bool = False) -> None:
    """Stop the assignments' escalations of an incident whose emergency has ended (all, when archived).

    At the end its clocks' escalations stop with their clocks: the clocks the end cancels stop
    theirs, and the closing report's clock, which the end starts, escalates like any other.
    """
    where = [Escalation.incident_id == incident.id]
    if not clocks_too:
        where.append(Escalation.assignment_id.is_not(None))
    for row in open_escalations(session, *where):
        stop(session, row, status=ESC_STOPPED, reason=reason, now=now)


def rechain_incident(session: Session, incident: Incident, plan: Plan, *, now: datetime) -> list[int]:
    """Make the running escalations of a re-graded incident follow the new level's chain from their next step.

    The steps already taken stay as they were; the next one is the new chain's step of the same
    number, due when the new chain says (counted from the escalation's start) but never in the
    past. An escalation whose next step the new chain does not have is exhausted.
    """
    chain = chain_for(plan, incident.level)
    moved = []
    for row in open_escalations(session, Escalation.incident_id == incident.id, Escalation.status == ESC_RUNNING):
        if chain is None or row.chain.get("level") == chain.get("level"):
            continue
        new = {**chain, **({"timing_version": row.chain["timing_version"]} if "timing_version" in row.chain else {})}
        row.chain = new
        if row.next_step >= step_count(new):
            row.status, row.next_at = ESC_EXHAUSTED, None
        else:
            row.next_at = max(now, step_at(new, row.started_at, row.next_step))
        moved.append(row.id)
    if moved:
        audit.record(session, actor=ESCALATOR, action="escalation.rechained", entity="incident", entity_id=incident.id,
                     incident_id=incident.id, at=now, data={"level": incident.level, "escalations": moved})
    return moved
