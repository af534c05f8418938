"""Assignments (任务): the command gives a department a task; its board must acknowledge it."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import announce, audit
from incidents.people import duty
from incidents import escalation
from incidents.response import service
from incidents.kernel.durations import as_utc
from incidents.kernel.text import checked_text
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from incidents.kernel.states import DeclineStatus
from incidents.models import (
    ACKNOWLEDGED,
    ASSIGNMENT_CANCELLED,
    ACTIVE,
    CANCELLED,
    DECLINE_REQUESTED,
    DECLINED,
    DONE,
    ESC_ACKNOWLEDGED,
    ESC_RESOLVED,
    ESC_STOPPED,
    IN_PROGRESS,
    OPEN_ASSIGNMENT,
    PUSHED,
    REGISTERED,
    WATCHING,
    Assignment,
    Deadline,
    Incident,
)
from incidents.plan import Plan
from incidents.kernel.roles import COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE
from incidents.kernel.actors import actor_id

ASSIGNING_ROLES = frozenset({OFFICE, COMMANDER, LEADER})
# Who decides a decline (否定报备) of a measure's task. The 否定报备制 has the one who cannot do a
# task report it "依职责权限逐级报请领导审批": up to the leaders. The office relays and keeps the
# record but is no leader, and it receives tasks of its own: it would approve its own declines.
DECIDING_ROLES = frozenset({COMMANDER, LEADER})
# The states a department may still decline from (a pending decline is not filed twice).
DECLINABLE = (PUSHED, ACKNOWLEDGED, IN_PROGRESS)
MAX_TASK = 2000
MAX_AHEAD = timedelta(days=366)  # a due time further ahead is a typo (a year typed wrong)


def _clock_due(incident: Incident, clock: str) -> datetime | None:
    live = [d for d in incident.deadlines if d.kind == clock and d.status != CANCELLED]
    return max(live, key=lambda d: d.cycle).due_at if live else None


def assign(session: Session, *, incident_id: int, department: str, task: str, actor, now: datetime,
           due_at: datetime | None = None, clock: str | None = None) -> Assignment:
    """Assign a task to a department and push it to the department's board."""
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = service.plan_of(incident)
    if actor.role not in ASSIGNING_ROLES:
        raise Forbidden("forbidden", "只有领导小组、指挥部和应急办公室可以派发任务",
                        "only the leadership, the command and the office assign tasks")
    if incident.status not in (REGISTERED, ACTIVE, WATCHING):
        raise Conflict("ended", "应急状态已结束，不能再派发任务", "the emergency has ended; no new assignments")
    plan.known_department(department)
    if clock is not None and clock not in plan.measure_kinds():
        raise InvalidInput("unknown_measure", f"预案中没有措施“{clock}”", f"unknown measure '{clock}'", field="clock")
    if due_at is not None:
        due_at = as_utc(due_at)
        if due_at <= now:
            raise InvalidInput("past_due", "完成时限须晚于当前时间", "due_at must be in the future", field="due_at")
        if due_at > now + MAX_AHEAD:
            raise InvalidInput("too_late", "完成时限不能超过一年之后，请核对", "due_at is more than a year ahead",
                               field="due_at")
    elif clock is not None:
        due_at = _clock_due(incident, clock)
    row = add(session, incident, plan, department=department, task=checked_text(task, field="task", label="任务内容", limit=MAX_TASK), clock=clock,
                  due_at=due_at, standard=False, actor=actor, now=now)
    return row


def add(session: Session, incident: Incident, plan: Plan, *, department: str, task: str, clock: str | None,
            due_at: datetime | None, standard: bool, actor, now: datetime, holiday_key: str | None = None) -> Assignment:
    """Create an assignment row and push it; the caller has checked who may."""
    [cover] = duty.cover(session, plan, [department], level=incident.level, now=now)
    row = Assignment(incident=incident, department=department, task=task, clock=clock, due_at=due_at, status=PUSHED,
                     standard=standard, created_by_id=actor_id(actor), created_at=now,
                     holiday_key=holiday_key, uncovered_note=cover.note)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="assignment.created", entity="assignment", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"department": department, "task": task, "clock": clock,
                       "due_at": due_at.isoformat() if due_at else None, "standard": standard,
                       "uncovered": row.uncovered_note})
    announce.assignment_changed(session, row, plan, what="created", at=now)
    escalation.start_for_assignment(session, row, plan, now=now)
    return row


def ensure_standard(session: Session, incident: Incident, plan: Plan, *, actor, now: datetime) -> list[Assignment]:
    """Create the plan's standard assignments for the incident's level that it does not have yet."""
    if incident.status != ACTIVE or incident.level is None:
        return []
    existing = {(a.department, a.task) for a in session.scalars(
        select(Assignment).where(Assignment.incident_id == incident.id, Assignment.standard.is_(True),
                                 Assignment.status != ASSIGNMENT_CANCELLED))}
    created = []
    for rule in plan.standard_assignments:
        if incident.level not in rule.levels or incident.category in rule.categories_except:
            continue
        department = incident.lead_department if rule.department == "lead" else rule.department
        if (department, rule.task) in existing:
            continue
        if rule.clock is not None:
            due_at = _clock_due(incident, rule.clock)
            if due_at is None:
                continue  # the clock does not run for this incident (e.g. its category)
        else:
            due_at = now + rule.due_after if rule.due_after else None
        created.append(add(session, incident, plan, department=department, task=rule.task, clock=rule.clock,
                               due_at=due_at, standard=True, actor=actor, now=now))
    return created


def get_assignment(session: Session, assignment_id: int, *, actor) -> Assignment:
    """Load an assignment the user may see, locked for the change that follows."""
    row = session.get(Assignment, assignment_id, with_for_update=True)
    if row is None:
        raise NotFound("not_found", f"任务 {assignment_id} 不存在", f"assignment {assignment_id} not found")
    service.get_incident(session, row.incident_id, user=actor)  # 404 for an incident the user may not see
    return row


def _may_handle(row: Assignment, actor) -> None:
    if (actor.role in DEPARTMENT_ROLES or actor.role == OFFICE) and actor.unit == row.department:
        return
    raise Forbidden("forbidden", "只有被派发科室的值班人员可以签收和办理该任务",
                    "only the assigned department's duty officer handles this assignment")


def _move(session: Session, row: Assignment, *, allowed_from: tuple[str, ...], to: str, actor, now: datetime,
          data: dict, action: str | None = None, what: str | None = None) -> Plan:
    if row.status not in allowed_from:
        raise Conflict("bad_state", f"任务当前为“{labels.ASSIGNMENT_STATUS[row.status]}”，不能改为“{labels.ASSIGNMENT_STATUS[to]}”",
                       f"the assignment is {row.status}; it cannot become {to}")
    before, unacknowledged = row.status, row.awaiting_ack
    row.status = to
    plan = service.plan_of(row.incident)
    audit.record(session, actor=actor, action=action or f"assignment.{to}", entity="assignment", entity_id=row.id,
                 incident_id=row.incident_id, at=now, data={"from": before, **data})
    announce.assignment_changed(session, row, plan, what=what or to, at=now)
    if unacknowledged and not row.awaiting_ack:
        status = ESC_ACKNOWLEDGED if to == ACKNOWLEDGED else ESC_RESOLVED
        escalation.settle_assignment(session, row, status=status, reason=f"看板{labels.ASSIGNMENT_STATUS[to]}", now=now,
                                     by=actor if getattr(actor, "id", 0) else None)
    return plan


def acknowledge(session: Session, *, assignment_id: int, actor, now: datetime) -> Assignment:
    """Acknowledge (签收) an assignment on the department's board."""
    row = get_assignment(session, assignment_id, actor=actor)
    _may_handle(row, actor)
    if row.status == ACKNOWLEDGED:
        return row  # a second click, or a second officer: already done, not an error
    row.acknowledged_at, row.acknowledged_by_id = now, actor_id(actor)
    _move(session, row, allowed_from=(PUSHED,), to=ACKNOWLEDGED, actor=actor, now=now, data={})
    return row


def progress(session: Session, *, assignment_id: int, note: str, actor, now: datetime) -> Assignment:
    """Report work under way on an acknowledged assignment."""
    row = get_assignment(session, assignment_id, actor=actor)
    _may_handle(row, actor)
    note = checked_text(note, field="note", label="办理情况", limit=MAX_TASK)
    if row.status == PUSHED:
        raise Conflict("not_acknowledged", "请先签收任务", "acknowledge the assignment first")
    row.started_at = row.started_at or now
    row.progress_note = note
    if row.status == IN_PROGRESS:
        audit.record(session, actor=actor, action="assignment.progress", entity="assignment", entity_id=row.id,
                     incident_id=row.incident_id, at=now, data={"note": note})
        announce.assignment_changed(session, row, service.plan_of(row.incident), what="progress", at=now)
        return row
    _move(session, row, allowed_from=(ACKNOWLEDGED,), to=IN_PROGRESS, actor=actor, now=now, data={"note": note})
    return row


def complete(session: Session, *, assignment_id: int, note: str, actor, now: datetime) -> Assignment:
    """Mark an assignment done with a note (flows.complete_assignment also files its measure report)."""
    row = get_assignment(session, assignment_id, actor=actor)
    _may_handle(row, actor)
    note = checked_text(note, field="note", label="完成情况", limit=MAX_TASK)
    if row.status == PUSHED:
        raise Conflict("not_acknowledged", "请先签收任务", "acknowledge the assignment first")
    row.done_at, row.done_note, row.closed_by_id = now, note, actor_id(actor)
    _move(session, row, allowed_from=(ACKNOWLEDGED, IN_PROGRESS), to=DONE, actor=actor, now=now, data={"note": note})
    return row


def decline(session: Session, *, assignment_id: int, reason: str, actor, now: datetime) -> Assignment:
    """Decline an assignment with a reason (否定报备); a measure's task waits for the command's approval."""
    row = get_assignment(session, assignment_id, actor=actor)
    _may_handle(row, actor)
    reason = checked_text(reason, field="reason", label="否定报备理由", limit=MAX_TASK)
    if row.status not in DECLINABLE:
        what = "已提交否定报备，正待指挥部审批" if row.status == DECLINE_REQUESTED else \
            f"任务当前为“{labels.ASSIGNMENT_STATUS[row.status]}”"
        raise Conflict("bad_state", f"{what}，不能再否定报备", f"the assignment is {row.status}; it cannot be declined")
    row.declined_at, row.decline_reason, row.decline_from = now, reason, row.status
    row.decline_decided_by_id = row.decline_decided_at = row.decline_note = None
    if row.clock is None:
        # Nothing the plan times hangs on it: the decline stands as filed (as before approval existed).
        row.decline_status, row.closed_by_id = DeclineStatus.NOT_REQUIRED, actor_id(actor)
        _move(session, row, allowed_from=DECLINABLE, to=DECLINED, actor=actor, now=now,
              data={"reason": reason, "approval": DeclineStatus.NOT_REQUIRED})
        return row
    # A measure is the plan's: the department keeps it (the task stays open on its board, the clock
    # stays its own) until a leader decides. An unacknowledged task's escalation keeps running too
    # (Assignment.awaiting_ack): filing a decline from the push is no proof that anyone will do the
    # measure, and the escalation's next steps (the department head, then the leadership) are the
    # very people who must now decide it.
    row.decline_status = DeclineStatus.PENDING
    _move(session, row, allowed_from=DECLINABLE, to=DECLINE_REQUESTED, actor=actor, now=now,
          data={"reason": reason, "measure": row.clock, "approval": DeclineStatus.PENDING})
    return row


def _may_decide(actor) -> None:
    if actor.role not in DECIDING_ROLES:
        raise Forbidden("forbidden", "否定报备须报领导审批：只有专项应急指挥部和应急领导小组可以审批",
                        "only the command and the leadership decide a decline")


def _pending_decline(session: Session, assignment_id: int, actor) -> Assignment:
    row = get_assignment(session, assignment_id, actor=actor)
    _may_decide(actor)
    if row.status != DECLINE_REQUESTED:
        raise Conflict("no_pending_decline",
                       f"该任务没有待审批的否定报备（当前为“{labels.ASSIGNMENT_STATUS[row.status]}”）",
                       f"the assignment has no decline waiting for approval (it is {row.status})")
    return row


def _measure_clock(incident: Incident, measure: str | None) -> Deadline | None:
    live = [d for d in incident.deadlines if d.kind == measure and d.status != CANCELLED]
    return max(live, key=lambda d: d.cycle) if live else None


def approve_decline(session: Session, *, assignment_id: int, note: str | None, actor, now: datetime) -> Assignment:
    """Approve a department's decline (同意否定报备): the task closes, the measure goes back to the command."""
    row = _pending_decline(session, assignment_id, actor)
    note = checked_text(note, field="note", label="审批意见", limit=MAX_TASK, required=False) or None
    plan = service.plan_of(row.incident)
    measure = labels.clock_name(plan, row.clock)
    clock = _measure_clock(row.incident, row.clock)
    # The clock is the plan's, not the task's: it keeps running on the unit the plan makes
    # responsible (the lead department, or the office for its own measures), and the command
    # has to give the measure to someone else. The audit says so, for the accountability record.
    owner = plan.unit_name(clock.department) if clock is not None and clock.department else "牵头科室"
    said = f"措施“{measure}”退回指挥部另行安排；其时限继续计时，责任单位为{owner}"
    row.decline_status, row.decline_decided_by_id, row.decline_decided_at = DeclineStatus.APPROVED, actor_id(actor), now
    row.decline_note, row.closed_by_id = note, actor_id(actor)
    _move(session, row, allowed_from=(DECLINE_REQUESTED,), to=DECLINED, actor=actor, now=now,
          action="assignment.decline_approved", what="decline_approved",
          data={"note": said, "decision_note": note, "decline_reason": row.decline_reason, "measure": row.clock,
                "clock_id": clock.id if clock is not None else None,
                "clock_department": clock.department if clock is not None else None,
                "clock_due_at": clock.due_at.isoformat() if clock is not None else None,
                "clock_status": clock.status if clock is not None else None,
                "approval": DeclineStatus.APPROVED})
    return row


def reject_decline(session: Session, *, assignment_id: int, reason: str, actor, now: datetime) -> Assignment:
    """Reject a department's decline with a reason: the task goes back to where it was, on its board."""
    row = _pending_decline(session, assignment_id, actor)
    reason = checked_text(reason, field="reason", label="不同意的理由", limit=MAX_TASK)
    back = row.decline_from if row.decline_from in DECLINABLE else ACKNOWLEDGED
    row.decline_status, row.decline_decided_by_id, row.decline_decided_at = DeclineStatus.REJECTED, actor_id(actor), now
    row.decline_note = reason
    # what="decline_rejected": the department's board tells its officer, with the reason.
    _move(session, row, allowed_from=(DECLINE_REQUESTED,), to=back, actor=actor, now=now,
          action="assignment.decline_rejected", what="decline_rejected",
          data={"reason": reason, "decline_reason": row.decline_reason, "measure": row.clock,
                "approval": DeclineStatus.REJECTED})
    return row


def close_for_measure(session: Session, incident: Incident, *, measure: str, note: str, actor,
                      now: datetime) -> list[Assignment]:
    """Mark done the open assignments of a measure that was reported done another way."""
    closed = []
    for row in incident.assignments:
        if row.clock == measure and row.status in OPEN_ASSIGNMENT:
            row.done_at, row.done_note, row.closed_by_id = now, note, actor_id(actor)
            if row.status == DECLINE_REQUESTED:
                # The measure is done: nothing is left for the leaders to decide.
                row.decline_status, row.decline_decided_at = DeclineStatus.NOT_REQUIRED, now
                row.decline_note = "措施已报告完成，否定报备无须审批"
            _move(session, row, allowed_from=(row.status,), to=DONE, actor=actor, now=now,
                  data={"note": note, "by_report": True})
            closed.append(row)
    return closed


def for_department(session: Session, department: str, *, open_only: bool = True) -> list[Assignment]:
    """Return a department's assignments, newest first."""
    stmt = select(Assignment).where(Assignment.department == department).order_by(Assignment.created_at.desc())
    if open_only:
        stmt = stmt.where(Assignment.status.in_(OPEN_ASSIGNMENT))
    return list(session.scalars(stmt))



def retire_void(session: Session, incident: Incident, plan: Plan, *, actor, now: datetime) -> list[Assignment]:
    """Cancel the open tasks a re-grade voids: a measure the new level does not ask for, a standard task it does not give."""
    numeral = plan.level(incident.level).numeral if incident.level else "未定"
    retired = []
    for row in incident.assignments:
        if row.status not in OPEN_ASSIGNMENT or row.holiday_key is not None:
            continue
        if row.clock is not None:
            void = not plan.clock(row.clock).applies_to(incident.level, incident.category)
        elif row.standard:
            void = not any(incident.level in r.levels and incident.category not in r.categories_except
                           and (incident.lead_department if r.department == "lead" else r.department) == row.department
                           and r.task == row.task for r in plan.standard_assignments)
        else:
            void = False
        if void:
            cancel(session, row, plan, reason=f"定级调整为{numeral}级，预案不再要求此项任务", actor=actor, now=now)
            retired.append(row)
    return retired


def cancel(session: Session, row: Assignment, plan: Plan, *, reason: str, actor, now: datetime) -> None:
    """Cancel an open task with the reason: off the board, its escalation stopped, its history kept."""
    before = row.status
    row.status, row.cancelled_at, row.cancel_reason = ASSIGNMENT_CANCELLED, now, reason
    audit.record(session, actor=actor, action="assignment.cancelled", entity="assignment", entity_id=row.id,
                 incident_id=row.incident_id, at=now, data={"from": before, "reason": reason})
    announce.assignment_changed(session, row, plan, what=ASSIGNMENT_CANCELLED, at=now)
    escalation.settle_assignment(session, row, status=ESC_STOPPED, reason=reason, now=now)
