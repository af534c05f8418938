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

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from incidents.records import audit, board_events
from incidents.people import duty
from incidents import messages
from incidents.kernel.durations import as_utc
from incidents.kernel.errors import Conflict, Forbidden, NotFound
from incidents.records.board_events import OVERVIEW, department_room, station_room
from incidents.models import (
    ACTIVE,
    ARCHIVED,
    CANCELLED,
    ESC_ACKNOWLEDGED,
    ESC_EXHAUSTED,
    ESC_RESOLVED,
    ESC_RUNNING,
    ESC_STOPPED,
    FINISHED,
    OVERDUE,
    PENDING,
    PUSHED,
    REGISTERED,
    WATCHING,
    Assignment,
    ComplaintLimitRow,
    Deadline,
    Delivery,
    Escalation,
    Incident,
    Shift,
    User,
)
from incidents.plan import COMPLAINT_CHAIN, UNGRADED, DeliveryRules, Plan
from incidents.kernel.roles import COMMANDER, DEPARTMENT_HEAD, DEPARTMENT_ROLES, LEADER, OFFICE, STATION
from incidents.messages import mask_phone
from incidents.records.snapshots import iso
from incidents.kernel.actors import SystemActor

ESCALATOR = SystemActor(name="escalation")
SEND_LEASE = timedelta(minutes=2)  # a delivery still `sending` after this was cut off mid-send

BOARD, SMS, VOICE = "board", "sms", "voice"
ALERT, HANDLED, TEST = "alert", "handled", "test"
# Provider statuses in the order they can happen; a callback that goes backwards is ignored.
RANK = {"accepted": 1, "queued": 2, "sending": 3, "initiated": 3, "sent": 4, "ringing": 4, "in-progress": 5,
        "delivered": 9, "undelivered": 9, "failed": 9, "completed": 9, "busy": 9,
        "no-answer": 9, "canceled": 9, "read": 10}
GOOD_FINAL = {"delivered": "delivered", "completed": "delivered", "read": "delivered"}
BAD_FINAL = {"undelivered": "undelivered", "failed": "failed", "busy": "undelivered", "no-answer": "undelivered",
             "canceled": "undelivered"}
ALIVE = ("pending", "held", "sending", "queued", "sent", "delivered", "unknown")
BAD = ("undelivered", "failed", "skipped", "cancelled")
OUT = ("sending", "queued", "sent", "delivered", "undelivered", "unknown")  # handed to the provider

STATUS_NAMES = {ESC_RUNNING: "升级中", ESC_ACKNOWLEDGED: "已签收", ESC_RESOLVED: "已办结", ESC_STOPPED: "已停止",
                ESC_EXHAUSTED: "已升级至最后一步，仍无人签收"}
TRIGGER_NAMES = {"unacknowledged": "任务未签收", "warning": "时限即将届满", "overdue": "时限已超时"}
CHANNEL_NAMES = {BOARD: "看板", SMS: "短信", VOICE: "电话"}
AUDIENCE_NAMES = {"duty_officer": "值班人员", "department_head": "科室负责人", "leadership": "领导小组"}
DELIVERY_NAMES = {"pending": "待发送", "held": "限流暂缓", "sending": "发送中", "queued": "已提交", "sent": "已发出",
                  "delivered": "已送达", "undelivered": "未送达", "failed": "发送失败", "bundled": "已合并发送",
                  "skipped": "无人可通知", "cancelled": "已取消（已签收）", "unknown": "发送中断，未知"}
LIVE_INCIDENT = (REGISTERED, ACTIVE, WATCHING)
# An exhausted escalation has no step left, but its item still waits: a late acknowledgement
# still stops it and tells those alerted, and its last step's messages still go out.
OPEN = (ESC_RUNNING, ESC_EXHAUSTED)  # escalation stops once the emergency has ended
ACK_WORDS = ("1", "１", "收到", "签收", "确认", "好的", "ok")
# Not \b: Python counts Chinese characters as word characters, and "收到A12" must find A12.
CODE = re.compile(r"(?<![A-Za-z0-9])([AaDdCc])\s*(\d{1,9})(?![0-9])")
CODE_COLUMNS = {"A": "assignment_id", "D": "deadline_id", "C": "complaint_limit_id"}


# --- the chain, frozen -----------------------------------------------------------------------

def chain_for(plan: Plan, level: str | None) -> dict | None:
    """Return the plan's chain for a level as the plain data an escalation keeps, or None."""
    chains = dict(plan.escalation)
    key = level if level in chains else UNGRADED
    chain = chains.get(key)
    return chain.as_dict(key) if chain is not None and chain.steps else None


def step_count(chain: dict) -> int:
    """Return how many steps the chain takes over all its rounds."""
    return len(chain["steps"]) * chain["repeat"]


def step_at(chain: dict, started_at: datetime, n: int) -> datetime:
    """Return when step n (counted over all rounds) is due."""
    rnd, k = divmod(n, len(chain["steps"]))
    return started_at + timedelta(seconds=rnd * chain["repeat_after"] + chain["steps"][k]["after"])


def step_of(chain: dict, n: int) -> dict:
    """Return step n (counted over all rounds), with its round."""
    rnd, k = divmod(n, len(chain["steps"]))
    return {**chain["steps"][k], "round": rnd + 1, "index": k}


# --- starting and stopping -------------------------------------------------------------------

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
                     status=ESC_RUNNING, next_step=0, next_at=step_at(chain, now, 0))
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
    if deadline.department is None and deadline.station is None:
        return None
    trigger = "overdue" if overdue else "warning"
    if overdue:
        for row in _open(session, Escalation.deadline_id == deadline.id):
            stop(session, row, status=ESC_STOPPED, reason="时限已超时，改按超时升级", now=now, tell=False)
    return _start(session, key=f"D{deadline.id}:{deadline.timing_version}:{trigger}", incident=incident,
                  plan=plan, trigger=trigger, now=now, deadline=deadline)


def start_for_complaint_limit(session: Session, limit: ComplaintLimitRow, plan: Plan, *, overdue: bool,
                              now: datetime) -> Escalation | None:
    """Start the escalation of a 12315 time limit about to run out, or run out (superseding the warning's)."""
    chain = chain_for(plan, COMPLAINT_CHAIN)
    if chain is None or chain["level"] != COMPLAINT_CHAIN:
        return None  # a plan without a complaint chain shows the limits on the boards only
    trigger = "overdue" if overdue else "warning"
    if overdue:
        for row in _open(session, Escalation.complaint_limit_id == limit.id):
            stop(session, row, status=ESC_STOPPED, reason="时限已超时，改按超时升级", now=now, tell=False)
    key = f"C{limit.id}:{trigger}:{limit.due_on.isoformat()}"  # a recounted limit may run out again
    existing = session.scalar(select(Escalation).where(Escalation.key == key))
    if existing is not None:
        return existing
    row = Escalation(key=key, incident_id=None, complaint_limit_id=limit.id, trigger=trigger,
                     department=limit.department, station=None, chain=chain, started_at=now, status=ESC_RUNNING,
                     next_step=0, next_at=step_at(chain, now, 0))
    session.add(row)
    session.flush()
    return row


def settle_complaint_limit(session: Session, limit: ComplaintLimitRow, *, status: str, reason: str,
                           now: datetime) -> None:
    """Stop a 12315 limit's escalations when the limit is met, late or no longer applies."""
    for row in _open(session, Escalation.complaint_limit_id == limit.id):
        stop(session, row, status=status, reason=reason, now=now)


def reroute_complaint_limit(session: Session, limit: ComplaintLimitRow, *, now: datetime) -> None:
    """Move a 12315 limit's running escalations to the department the complaint was re-routed to."""
    for row in _open(session, Escalation.complaint_limit_id == limit.id):
        if row.department != limit.department:
            before, row.department = row.department, limit.department
            _announce(session, row, what="rerouted", at=now, also=before)


def _open(session: Session, *where) -> list[Escalation]:
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
            _add_delivery(session, row, step=None, purpose=HANDLED, channel=SMS, audience=d.audience,
                          user_id=d.user_id, name=d.name, phone=phone, now=now,
                          content=_handled_text(session, row, status=status, reason=reason), status="pending")
    action = "escalation.acknowledged" if status == ESC_ACKNOWLEDGED else f"escalation.{status}"
    audit.record(session, actor=ESCALATOR, action=action, entity="escalation", entity_id=row.id,
                 incident_id=row.incident_id, at=now,
                 data={"key": row.key, "reason": reason, "by": row.ack_by_name, "channel": channel})
    _announce(session, row, what=status, at=now)
    return True


def settle_assignment(session: Session, assignment: Assignment, *, status: str, reason: str, now: datetime,
                      by: User | None = None, channel: str = BOARD) -> None:
    """Stop an assignment's escalation when it leaves "pushed" (acknowledged, done, declined)."""
    for row in _open(session, Escalation.assignment_id == assignment.id):
        stop(session, row, status=status, reason=reason, now=now, by=by, channel=channel)


def settle_clock(session: Session, deadline: Deadline, *, status: str, reason: str, now: datetime,
                 tell: bool = True) -> None:
    """Stop a clock's escalations when it is satisfied, cancelled or re-timed."""
    for row in _open(session, Escalation.deadline_id == deadline.id):
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
    for row in _open(session, *where):
        stop(session, row, status=ESC_STOPPED, reason=reason, now=now)


def acknowledge(session: Session, escalation_id: int, *, by: User, now: datetime) -> Escalation:
    """Acknowledge a running escalation on the board (a clock's reminder; assignments are signed as such)."""
    row = session.get(Escalation, escalation_id, with_for_update=True)
    if row is None:
        raise NotFound("not_found", f"升级通知 {escalation_id} 不存在", f"escalation {escalation_id} not found")
    if not _may_acknowledge(row, by):
        raise Forbidden("forbidden", "只有被通知单位的值班人员、应急办公室或领导小组可以签收",
                        "only the notified unit, the office or the leadership may acknowledge")
    if row.status not in OPEN:
        raise Conflict("not_running", f"该升级通知{STATUS_NAMES[row.status]}", f"the escalation is {row.status}")
    if row.assignment_id is not None:
        if not ((by.role in DEPARTMENT_ROLES or by.role == OFFICE) and by.unit == row.department):
            raise Forbidden("forbidden", "任务须由被派发科室的值班人员签收", "only the assigned department signs a task")
        assignment = session.get(Assignment, row.assignment_id, with_for_update=True)
        _sign(session, assignment, by=by, by_name=by.name, channel=BOARD, now=now)
    stop(session, row, status=ESC_ACKNOWLEDGED, reason="看板签收", now=now, by=by, channel=BOARD)
    return row


def _may_acknowledge(row: Escalation, user: User) -> bool:
    if user.role in (OFFICE, COMMANDER, LEADER):
        return True
    if user.role in DEPARTMENT_ROLES:
        return row.department is not None and user.unit == row.department
    return user.role == STATION and row.station is not None and user.unit == row.station


def _sign(session: Session, assignment: Assignment, *, by: User | None, by_name: str, channel: str,
          now: datetime) -> None:
    """Acknowledge (签收) an assignment for someone who was alerted about it (by SMS, call or board)."""
    from incidents.records import announce
    from incidents import service
    from incidents.models import ACKNOWLEDGED

    if assignment.status != PUSHED:
        return
    assignment.status = ACKNOWLEDGED
    assignment.acknowledged_at = now
    assignment.acknowledged_by_id = by.id if by is not None else None
    actor = SystemActor(name=f"{by_name}（{CHANNEL_NAMES[channel]}）", id=by.id if by is not None else 0,
                        role=by.role if by is not None else "system")
    audit.record(session, actor=actor, action="assignment.acknowledged", entity="assignment",
                 entity_id=assignment.id, incident_id=assignment.incident_id, at=now,
                 data={"from": PUSHED, "channel": channel})
    announce.assignment_changed(session, assignment, service.plan_of(assignment.incident), what=ACKNOWLEDGED,
                                at=now)


# --- walking the chain -----------------------------------------------------------------------

def advance(session_factory: sessionmaker, *, now: datetime | Callable[[], datetime], batch: int = 500) -> int:
    """Fire every escalation step due now, recording one delivery per person told; return how many steps."""
    read = now if callable(now) else (lambda: now)
    total = 0
    while True:
        with session_factory() as session:
            seen, fired = _advance_batch(session, now=read(), batch=batch)
            session.commit()
        total += fired
        if seen < batch:
            return total


def _advance_batch(session: Session, *, now: datetime, batch: int) -> tuple[int, int]:
    stmt = (select(Escalation).where(Escalation.status == ESC_RUNNING, Escalation.next_at.is_not(None),
                                     Escalation.next_at <= now)
            .order_by(Escalation.next_at, Escalation.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Escalation)
    rows = session.scalars(stmt).all()
    if not rows:
        return 0, 0
    ctx = _Context.load(session, rows, now)
    # What a step needs is loaded with the batch; flushing row by row would cost a round trip
    # per delivery, and the batch's dedupe keys are known in ctx.
    with session.no_autoflush:
        fired = _walk(session, ctx, rows, now)
    session.flush()
    return len(rows), fired


def _walk(session: Session, ctx: "_Context", rows: list[Escalation], now: datetime) -> int:
    fired = 0
    for row in rows:
        settled = ctx.settled(row)
        if settled is not None:
            stop(session, row, status=settled[0], reason=settled[1], now=now)
            continue
        # Fire every step that has come due, in order: a scheduler that was down sends each
        # missed step once; a step that could reach nobody pulls the next one forward.
        while row.status == ESC_RUNNING and row.next_at is not None and row.next_at <= now:
            n = row.next_step
            reached = _fire_step(session, ctx, row, n, now)
            fired += 1
            if n + 1 >= step_count(row.chain):
                row.status, row.next_at, row.stopped_at = ESC_EXHAUSTED, None, now
                row.stop_reason = "已升级至最后一步"
                audit.record(session, actor=ESCALATOR, action="escalation.exhausted", entity="escalation",
                             entity_id=row.id, incident_id=row.incident_id, at=now, data={"key": row.key})
                _announce(session, row, what=ESC_EXHAUSTED, at=now)
            else:
                row.next_step = n + 1
                row.next_at = step_at(row.chain, row.started_at, n + 1) if reached else now
    return fired


@dataclass
class _Context:
    """What a batch of due escalations needs, loaded once."""

    incidents: dict[int, Incident]
    assignments: dict[int, Assignment]
    deadlines: dict[int, Deadline]
    limits: dict[int, ComplaintLimitRow]
    leaders: list[User]
    heads: dict[str, list[User]]
    station_users: dict[str, list[User]]
    duty_cache: dict[str, list] = field(default_factory=dict)
    dedupe: set[str] = field(default_factory=set)  # the deliveries these escalations already have

    @classmethod
    def load(cls, session: Session, rows: list[Escalation], now: datetime) -> "_Context":
        ids = {r.incident_id for r in rows}
        incidents = {i.id: i for i in session.scalars(
            select(Incident).where(Incident.id.in_(ids)).options(selectinload(Incident.plan_version)))}
        a_ids = {r.assignment_id for r in rows if r.assignment_id}
        d_ids = {r.deadline_id for r in rows if r.deadline_id}
        assignments = {a.id: a for a in session.scalars(select(Assignment).where(Assignment.id.in_(a_ids)))} \
            if a_ids else {}
        deadlines = {d.id: d for d in session.scalars(select(Deadline).where(Deadline.id.in_(d_ids)))} \
            if d_ids else {}
        c_ids = {r.complaint_limit_id for r in rows if r.complaint_limit_id}
        limits = {c.id: c for c in session.scalars(
            select(ComplaintLimitRow).where(ComplaintLimitRow.id.in_(c_ids))
            .options(selectinload(ComplaintLimitRow.complaint)))} if c_ids else {}
        people = list(session.scalars(select(User).where(User.active.is_(True),
                                                         User.role.in_((LEADER, DEPARTMENT_HEAD, STATION)))
                                      .order_by(User.id)))
        heads: dict[str, list[User]] = {}
        stations: dict[str, list[User]] = {}
        for u in people:
            if u.role == DEPARTMENT_HEAD and u.unit:
                heads.setdefault(u.unit, []).append(u)
            elif u.role == STATION and u.unit:
                stations.setdefault(u.unit, []).append(u)
        departments = {r.department for r in rows if r.department}
        on_duty: dict[str, list] = {d: [] for d in departments}
        for shift in session.scalars(select(Shift).where(Shift.department.in_(departments),
                                                         Shift.cancelled_at.is_(None), Shift.starts_at <= now,
                                                         Shift.ends_at > now)
                                     .order_by(Shift.starts_at.desc(), Shift.id.desc())):
            on_duty[shift.department].append(shift)  # as duty.on_duty orders them: the latest start first
        dedupe = set(session.scalars(select(Delivery.dedupe_key)
                                     .where(Delivery.escalation_id.in_([r.id for r in rows]))))
        return cls(incidents, assignments, deadlines, limits, [u for u in people if u.role == LEADER], heads,
                   stations, on_duty, dedupe)

    def settled(self, row: Escalation) -> tuple[str, str] | None:
        """Return (status, reason) when the item no longer needs escalating, else None."""
        if row.complaint_limit_id is not None:
            limit = self.limits[row.complaint_limit_id]
            if limit.status == CANCELLED:
                return ESC_STOPPED, limit.cancel_reason or "时限已取消"
            return None if limit.status == PENDING else (ESC_RESOLVED, "时限已满足")
        incident = self.incidents[row.incident_id]
        if incident.status in FINISHED:
            return ESC_STOPPED, "事件已归档或已作废"
        if row.assignment_id is not None:
            if incident.status not in LIVE_INCIDENT:
                return ESC_STOPPED, "应急状态已结束"
            a = self.assignments[row.assignment_id]
            return None if a.status == PUSHED else (ESC_RESOLVED, "任务已签收或办结")
        d = self.deadlines[row.deadline_id]
        if d.status == CANCELLED:
            return ESC_STOPPED, d.cancel_reason or "时限已取消"
        if d.status not in (PENDING, OVERDUE):
            return ESC_RESOLVED, "时限已满足"
        if d.timing_version != row.chain.get("timing_version", d.timing_version):
            return ESC_STOPPED, "时限已调整"
        return None

    def on_duty(self, session: Session, department: str, now: datetime) -> list:
        if department not in self.duty_cache:
            self.duty_cache[department] = duty.on_duty(session, department, now)
        return self.duty_cache[department]

    def add(self, session: Session, row: Escalation, **fields) -> None:
        """Record a delivery of this batch unless the same step already told the same person."""
        _add_delivery(session, row, seen=self.dedupe, **fields)


@dataclass(frozen=True)
class _Person:
    audience: str
    user_id: int | None
    name: str
    phone: str | None


def _recipients(session: Session, ctx: _Context, row: Escalation, to: str, now: datetime) -> list[_Person]:
    if to == "leadership":
        return [_Person(to, u.id, u.name, u.phone) for u in ctx.leaders]
    incident = ctx.incidents.get(row.incident_id)
    department = row.department or (incident.lead_department if row.station and incident else None)
    if to == "department_head":
        return [_Person(to, u.id, u.name, u.phone) for u in ctx.heads.get(department or "", [])]
    if row.department is None and row.station is not None:
        return [_Person(to, u.id, u.name, u.phone) for u in ctx.station_users.get(row.station, [])]
    shifts = ctx.on_duty(session, row.department, now)
    # The latest shift covering now holds the duty (a hand-over starts a later one).
    return [_Person(to, s.officer_id, s.officer_name or "值班人员", s.phone) for s in shifts[:1]]


def _fire_step(session: Session, ctx: _Context, row: Escalation, n: int, now: datetime) -> bool:
    """Record the deliveries of step n; return whether anyone can be reached by it."""
    step = step_of(row.chain, n)
    incident = ctx.incidents.get(row.incident_id)
    plan = _plan(incident) if incident is not None else None
    if step["channel"] == BOARD:
        unit = row.department or row.station
        ctx.add(session, row, step=n, purpose=ALERT, channel=BOARD, audience=step["to"], user_id=None,
                name=(plan.unit_name(unit) if plan else unit) if unit else "看板", phone=None, now=now,
                content=_alert_text(ctx, row, plan), status="delivered")
        _announce(session, row, what="step", at=now, step=n)
        return True
    people = _recipients(session, ctx, row, step["to"], now)
    reached = False
    text = _alert_text(ctx, row, plan)
    if step["channel"] == VOICE:
        text = messages.spoken(text)
    for person in people:
        if person.phone:
            reached = True
            ctx.add(session, row, step=n, purpose=ALERT, channel=step["channel"], audience=step["to"],
                    user_id=person.user_id, name=person.name, phone=person.phone, now=now, content=text,
                    status="pending")
        else:
            ctx.add(session, row, step=n, purpose=ALERT, channel=step["channel"], audience=step["to"],
                    user_id=person.user_id, name=person.name, phone=None, now=now, content=text,
                    status="skipped", error="未登记电话")
    if not people:
        who = AUDIENCE_NAMES[step["to"]]
        ctx.add(session, row, step=n, purpose=ALERT, channel=step["channel"], audience=step["to"],
                user_id=None, name=f"（无{who}）", phone=None, now=now, content=text, status="skipped",
                error=f"没有可通知的{who}" + ("（当前无人值班）" if step["to"] == "duty_officer" else ""))
    if not reached:
        _announce(session, row, what="step", at=now, step=n)  # else the boards hear it when it is sent
    return reached


def _add_delivery(session: Session, row: Escalation | None, *, step: int | None, purpose: str, channel: str,
                  audience: str | None, user_id: int | None, name: str, phone: str | None, now: datetime,
                  content: str, status: str, error: str | None = None, seen: set[str] | None = None) -> Delivery | None:
    person = user_id if user_id is not None else (phone or name)
    key = f"{row.id if row else 0}:{step if step is not None else purpose}:{channel}:{person}"
    # A step already told this person (a repeated firing): tell nobody twice.
    if seen is not None:
        if key in seen:
            return None
        seen.add(key)
    elif session.scalar(select(Delivery.id).where(Delivery.dedupe_key == key)) is not None:
        return None
    d = Delivery(dedupe_key=key, escalation=row, incident_id=row.incident_id if row else None, step=step,
                 purpose=purpose, channel=channel, audience=audience, user_id=user_id, name=name[:80], phone=phone,
                 content=content, status=status, attempts=0, error_message=error,
                 next_attempt_at=now if status == "pending" else None,
                 sent_at=now if status == "delivered" else None, created_at=now, updated_at=now)
    session.add(d)
    return d


def _plan(incident: Incident) -> Plan:
    from incidents.service import plan_of

    return plan_of(incident)


def _item_code(row: Escalation) -> str:
    if row.complaint_limit_id is not None:
        return f"C{row.complaint_limit_id}"
    return messages.item_code("assignment", row.assignment_id) if row.assignment_id else \
        messages.item_code("clock", row.deadline_id)


def _title(session: Session, row: Escalation) -> str:
    """Return what the item is about: the incident's title, or the complained-about business."""
    if row.complaint_limit_id is not None:
        return session.get(ComplaintLimitRow, row.complaint_limit_id).complaint.business_name
    return session.get(Incident, row.incident_id).title


def _alert_text(ctx: _Context, row: Escalation, plan: Plan | None) -> str:
    from incidents.records import snapshots

    if row.complaint_limit_id is not None:
        limit = ctx.limits[row.complaint_limit_id]
        return messages.complaint_limit_text(
            code=_item_code(row), tracking_no=limit.complaint.tracking_no, business=limit.complaint.business_name,
            limit_name=limit.name, due_at=limit.due_at, overdue=row.trigger == "overdue")
    incident = ctx.incidents[row.incident_id]
    if row.assignment_id is not None:
        return messages.assignment_text(snapshots.assignment(ctx.assignments[row.assignment_id], plan))
    deadline = ctx.deadlines[row.deadline_id]
    return messages.clock_text(snapshots.deadline(deadline), snapshots.incident(incident, plan),
                               overdue=row.trigger == "overdue")


def _handled_text(session: Session, row: Escalation, *, status: str, reason: str) -> str:
    by = f"{row.ack_by_name}（{CHANNEL_NAMES.get(row.ack_channel or '', '')}）" if row.ack_by_name else None
    outcome = {ESC_ACKNOWLEDGED: "acknowledged", ESC_RESOLVED: "resolved"}.get(status, "stopped")
    return messages.handled_text(_item_code(row), _title(session, row), outcome=outcome, by=by, reason=reason)


# --- handing deliveries to the senders ---------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """One SMS or call to one phone, carrying one delivery or a bundle of them."""

    delivery_id: int
    covers: tuple[int, ...]  # every delivery this message carries, the first included
    channel: str
    phone: str
    text: str


def claim_outgoing(session_factory: sessionmaker, *, now: datetime, rules: DeliveryRules,
                   batch: int = 500) -> list[Outgoing]:
    """Claim the deliveries due to go out: throttle per phone, bundle what waits together, mark them sending."""
    with session_factory() as session:
        _expire_stale(session, now)
        stmt = (select(Delivery).where(Delivery.status.in_(("pending", "held")), Delivery.next_attempt_at <= now,
                                       Delivery.channel.in_((SMS, VOICE)))
                .order_by(Delivery.id).limit(batch))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
        due = session.scalars(stmt.options(selectinload(Delivery.escalation))).all()
        # The throttle windows of every phone in the batch, in one query.
        windows: dict[tuple[str, str], list[datetime]] = {}
        phones = {d.phone for d in due if d.phone}
        if phones:
            for phone, channel, sent_at in session.execute(
                    select(Delivery.phone, Delivery.channel, func.coalesce(Delivery.sent_at, Delivery.claimed_at))
                    .where(Delivery.phone.in_(phones), Delivery.bundle_id.is_(None), Delivery.status.in_(OUT),
                           func.coalesce(Delivery.sent_at, Delivery.claimed_at) > now - rules.window)
                    .order_by(func.coalesce(Delivery.sent_at, Delivery.claimed_at))):
                # A message in the provider's hands right now (`sending`) counts from its claim.
                windows.setdefault((phone, channel), []).append(as_utc(sent_at))
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for d in due:
            if d.purpose == ALERT and d.escalation is not None and d.escalation.status not in OPEN:
                d.status, d.updated_at = "cancelled", now
                continue
            groups.setdefault((d.phone, d.channel), []).append(d)
        out = []
        for (phone, channel), rows in groups.items():
            limit = rules.max_sms if channel == SMS else rules.max_calls
            recent = windows.get((phone, channel), [])
            if len(recent) >= limit:
                # Hold them all until the oldest message in the window ages out; then one bundle goes.
                free_at = recent[0] + rules.window
                for d in rows:
                    d.status, d.next_attempt_at, d.updated_at = "held", free_at, now
                continue
            out.append(_claim(session, rows, channel=channel, phone=phone, now=now))
        session.commit()
        return out


def _claim(session: Session, rows: list[Delivery], *, channel: str, phone: str, now: datetime) -> Outgoing:
    carrier, rest = rows[0], rows[1:]
    if rest:
        alerts = [d for d in rows if d.purpose == ALERT]
        items = []
        for d in alerts:
            code = _item_code(d.escalation)
            if code not in (c for c, _ in items):
                items.append((code, messages.short_title(_title(session, d.escalation))))
        text = messages.bundle_text(items, handled=len(rows) - len(alerts))
        if channel == VOICE:
            text = messages.spoken(text).replace("回复1全部签收，或回复编号签收", "")
        for d in rest:
            d.status, d.bundle_id, d.next_attempt_at, d.updated_at = "bundled", carrier.id, None, now
        carrier.content = text
    carrier.status, carrier.claimed_at, carrier.updated_at = "sending", now, now
    carrier.attempts += 1
    carrier.next_attempt_at = None
    return Outgoing(carrier.id, tuple(d.id for d in rows), channel, phone, carrier.content)


def _expire_stale(session: Session, now: datetime) -> None:
    for d in session.scalars(select(Delivery).where(Delivery.status == "sending",
                                                    Delivery.claimed_at < now - SEND_LEASE)):
        # The process died between claiming and recording: the message may have gone out,
        # so it is never sent again; the chain's next step follows at its time regardless.
        d.status, d.updated_at = "unknown", now
        d.error_message = "发送过程中进程中断，未知是否已发出（不重发）"
        d.sent_at = d.sent_at or d.claimed_at
        if d.escalation is not None:
            _announce(session, d.escalation, what="status", at=now)


@dataclass(frozen=True)
class Result:
    """What a sender answered for one outgoing message (mirrors notifiers.base.SendResult)."""

    ok: bool
    status: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    permanent: bool = False


def record_results(session_factory: sessionmaker, results: Iterable[tuple[Outgoing, Result]], *, now: datetime,
                   rules: DeliveryRules) -> None:
    """Keep what the provider answered; retry a transient failure later; move the chain past a permanent one."""
    results = list(results)
    if not results:
        return
    with session_factory() as session:
        ids = sorted({i for out, _ in results for i in out.covers})
        loaded = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids))
                                                   .options(selectinload(Delivery.escalation)))}
        for out, res in results:
            carrier = loaded[out.delivery_id]
            members = [loaded[i] for i in out.covers if i != out.delivery_id]
            carrier.provider, carrier.updated_at = res.provider, now
            if res.ok:
                carrier.provider_id = res.provider_id
                carrier.sent_at = carrier.sent_at or now
                # Else a status callback came first and said more. `cancelled`: the item was
                # settled while this message was already in the provider's hands; it went.
                if carrier.status in ("sending", "cancelled"):
                    carrier.status, carrier.provider_status = res.status or "queued", res.status
                carrier.error_code = carrier.error_message = None
                for m in members:
                    m.sent_at, m.updated_at = now, now
                for esc in {d.escalation for d in [carrier, *members] if d.escalation is not None}:
                    _announce(session, esc, what="sent", at=now)
                continue
            carrier.error_code, carrier.error_message = res.error_code, res.error_message
            retries = rules.retry_after
            if not res.permanent and carrier.attempts <= len(retries):
                wait = retries[carrier.attempts - 1]
                carrier.status, carrier.next_attempt_at = "pending", now + wait
                for m in members:  # unbundle: they go again with the next try, bundled afresh
                    m.status, m.bundle_id, m.next_attempt_at, m.updated_at = "pending", None, now + wait, now
                continue
            for d in [carrier, *members]:
                d.status, d.updated_at = "failed", now
                d.error_code, d.error_message = res.error_code, res.error_message
                _pull_forward(session, d, now)
            for esc in {d.escalation for d in [carrier, *members] if d.escalation is not None}:
                _announce(session, esc, what="status", at=now)
        session.commit()


def _pull_forward(session: Session, d: Delivery, now: datetime) -> None:
    """When no one of a step can be reached any more, bring the chain's next step forward to now."""
    row = d.escalation
    if d.purpose != ALERT or row is None or row.status != ESC_RUNNING or d.step is None:
        return
    if row.next_step != d.step + 1:
        return  # a later step has already gone out
    siblings = session.scalars(select(Delivery).where(Delivery.escalation_id == row.id, Delivery.step == d.step))
    if all(s.status in BAD for s in siblings):
        row.next_at = min(row.next_at or now, now)


# --- what the provider and the people answer ---------------------------------------------------

def apply_status(session: Session, provider_id: str, status: str, *, now: datetime, error_code: str | None = None,
                 error_message: str | None = None, ref: int | None = None) -> bool:
    """Apply a delivery-status callback; idempotent, and a status that goes backwards changes nothing.

    `ref` is the delivery the callback URL names: a status can arrive before the sender has
    recorded the provider's SID, and then the delivery is found by it and keeps the SID.
    """
    status = (status or "").strip().lower()
    if not provider_id or status not in RANK:
        return False
    d = session.scalar(select(Delivery).where(Delivery.provider_id == provider_id).with_for_update())
    if d is None and ref:
        d = session.get(Delivery, ref, with_for_update=True)
        if d is None or d.provider_id is not None or d.status != "sending":
            return False
        d.provider_id = provider_id
    if d is None:
        return False
    if RANK[status] <= RANK.get(d.provider_status or "", 0):
        return False
    if d.status in ("undelivered", "failed") and status not in BAD_FINAL:
        return False  # a late "sent" after a failure changes nothing
    d.provider_status, d.updated_at = status, now
    members = list(session.scalars(select(Delivery).where(Delivery.bundle_id == d.id)))
    if status in GOOD_FINAL:
        d.status = GOOD_FINAL[status]
    elif status in BAD_FINAL:
        d.status = BAD_FINAL[status]
        d.error_code = error_code or d.error_code
        d.error_message = error_message or f"运营商回执：{status}"
        for m in members:
            m.status, m.updated_at, m.error_code, m.error_message = d.status, now, d.error_code, d.error_message
        for x in [d, *members]:
            _pull_forward(session, x, now)
    elif status == "sent":
        d.status = "sent"
    for esc in {x.escalation for x in [d, *members] if x.escalation is not None}:
        _announce(session, esc, what="status", at=now)
    return True


@dataclass(frozen=True)
class AckOutcome:
    """What an SMS reply or a keypress acknowledged, and what to answer the person."""

    acknowledged: tuple[str, ...]  # item codes
    answer: str


def acknowledge_by_reply(session: Session, phone: str, body: str, *, now: datetime) -> AckOutcome:
    """Acknowledge by SMS reply: the items its codes name, or those of the latest alert to this phone."""
    text = (body or "").strip()
    codes = [f"{k.upper()}{n}" for k, n in CODE.findall(text)]
    sent = (select(Delivery).where(Delivery.phone == phone, Delivery.purpose == ALERT,
                                   Delivery.channel.in_((SMS, VOICE)), Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at.desc(), Delivery.id.desc()))
    if codes:
        targets = []
        for code in codes:
            column = getattr(Escalation, CODE_COLUMNS[code[0]])
            found = session.scalars(sent.join(Escalation, Delivery.escalation_id == Escalation.id)
                                    .where(column == int(code[1:]))).first()
            if found is not None:
                targets.append(found)
        if not targets:
            return AckOutcome((), f"未找到发给本机号码的事项 {'、'.join(codes)}，请核对编号。")
    elif re.sub(r"[\s\W_]+", "", text.lower()) in ACK_WORDS or text.startswith(("1", "１")):
        latest = next((d for d in session.scalars(sent.limit(20)) if d.escalation.status in OPEN), None)
        if latest is None:
            return AckOutcome((), "您目前没有待签收的事项。")
        targets = [latest]
    else:
        return AckOutcome((), "回复1签收最近一条通知，或回复事项编号（如A12）签收。")
    # A code signs that item only; "1" signs everything the latest message carried.
    return _acknowledge_deliveries(session, targets, phone=phone, channel=SMS, now=now, whole_bundle=not codes)


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
            _sign(session, assignment, by=user, by_name=name, channel=channel, now=now)
            for other in _open(session, Escalation.assignment_id == row.assignment_id):
                stop(session, other, status=ESC_ACKNOWLEDGED, reason=f"{CHANNEL_NAMES[channel]}签收", now=now,
                     by=user, by_name=name, channel=channel, except_phone=phone)
        else:
            same = (Escalation.deadline_id == row.deadline_id if row.deadline_id is not None
                    else Escalation.complaint_limit_id == row.complaint_limit_id)
            for other in _open(session, same):
                stop(session, other, status=ESC_ACKNOWLEDGED, reason=f"{CHANNEL_NAMES[channel]}签收", now=now,
                     by=user, by_name=name, channel=channel, except_phone=phone)
        codes.append(_item_code(row))
    if not codes:
        return AckOutcome((), "该事项已处理，无需签收。")
    return AckOutcome(tuple(codes), f"已签收：{'、'.join(codes)}。谢谢！")


# --- what the boards and the briefing show -----------------------------------------------------

def _announce(session: Session, row: Escalation, *, what: str, at: datetime, step: int | None = None,
              also: str | None = None) -> None:
    unit_room = department_room(row.department) if row.department else station_room(row.station)
    rooms = {OVERVIEW, unit_room} | ({department_room(also)} if also else set())
    board_events.publish(session, rooms=rooms, event_name="escalation",
                         payload={"what": what, "escalation": summary(row, step=step)}, at=at)


def summary(row: Escalation, *, step: int | None = None) -> dict:
    """Return an escalation's headline for a board: the item, the state, the step just taken."""
    out = {"id": row.id, "incident_id": row.incident_id, "complaint_limit_id": row.complaint_limit_id,
           "code": _item_code(row), "trigger": row.trigger,
           "trigger_name": TRIGGER_NAMES.get(row.trigger, row.trigger), "assignment_id": row.assignment_id,
           "deadline_id": row.deadline_id, "department": row.department, "station": row.station,
           "status": row.status, "status_name": STATUS_NAMES[row.status], "started_at": iso(row.started_at),
           "next_at": iso(row.next_at), "stopped_at": iso(row.stopped_at), "stop_reason": row.stop_reason,
           "ack_by": row.ack_by_name, "ack_channel": row.ack_channel, "level": row.chain.get("level")}
    if step is not None:
        s = step_of(row.chain, step)
        out["step"] = {"n": step, "round": s["round"], "channel": s["channel"],
                       "channel_name": CHANNEL_NAMES[s["channel"]], "to": s["to"],
                       "to_name": AUDIENCE_NAMES[s["to"]]}
    return out


def delivery_dict(d: Delivery) -> dict:
    """Return a delivery as staff see it, the phone masked."""
    return {"id": d.id, "at": iso(d.sent_at or d.created_at), "created_at": iso(d.created_at), "step": d.step,
            "purpose": d.purpose, "channel": d.channel, "channel_name": CHANNEL_NAMES.get(d.channel, d.channel),
            "audience": d.audience, "to_name": d.name, "phone_masked": mask_phone(d.phone) if d.phone else None, "status": d.status,
            "status_name": DELIVERY_NAMES.get(d.status, d.status), "provider": d.provider,
            "provider_status": d.provider_status, "attempts": d.attempts, "bundle_id": d.bundle_id,
            "error": " ".join(x for x in (d.error_code, d.error_message) if x) or None, "content": d.content}


def history(session: Session, incident_id: int | None = None, *, complaint_limit_ids: Iterable[int] = ()) -> list[dict]:
    """Return every escalation of an incident (or of these complaint limits) with its deliveries, phones masked."""
    where = (Escalation.incident_id == incident_id) if incident_id is not None else \
        Escalation.complaint_limit_id.in_(list(complaint_limit_ids))
    rows = session.scalars(select(Escalation).where(where)
                           .options(selectinload(Escalation.deliveries)).order_by(Escalation.id))
    out = []
    for row in rows:
        item = _describe(session, row)
        out.append({**summary(row), "item": item,
                    "deliveries": [delivery_dict(d) for d in row.deliveries]})
    return out


def _describe(session: Session, row: Escalation) -> str:
    if row.complaint_limit_id is not None:
        limit = session.get(ComplaintLimitRow, row.complaint_limit_id)
        return (f"投诉时限{_item_code(row)}：{limit.complaint.tracking_no}“{limit.name}”"
                f"（{TRIGGER_NAMES.get(row.trigger, row.trigger)}）")
    if row.assignment_id is not None:
        a = session.get(Assignment, row.assignment_id)
        return f"任务{_item_code(row)}：{messages.short_title(a.task, 40)}"
    d = session.get(Deadline, row.deadline_id)
    return f"时限{_item_code(row)}：{d.name}（{TRIGGER_NAMES.get(row.trigger, row.trigger)}）"


def running_count(session: Session) -> int:
    """Return how many escalations are running."""
    return session.scalar(select(func.count()).select_from(Escalation).where(Escalation.status == ESC_RUNNING))


def record_test(session: Session, *, phone: str, channel: str, content: str, result: Result, now: datetime) -> Delivery:
    """Record a test message sent by an operator (`flask notify test`) like any other delivery."""
    import uuid

    d = Delivery(dedupe_key=f"test:{uuid.uuid4().hex}", purpose=TEST, channel=channel, name="测试", phone=phone,
                 content=content, status=(result.status or "queued") if result.ok else "failed",
                 provider=result.provider, provider_id=result.provider_id,
                 provider_status=result.status if result.ok else None, error_code=result.error_code,
                 error_message=result.error_message, attempts=1, sent_at=now if result.ok else None,
                 created_at=now, updated_at=now)
    session.add(d)
    return d
