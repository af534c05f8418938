"""Walking the chains: the scheduler claims the escalations whose step is due and writes its deliveries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from incidents.kernel.batches import claim, drain
from incidents.kernel import labels
from incidents.records import audit
from incidents.people import duty
from incidents.escalation import messages
from incidents.models import (
    CANCELLED,
    ESC_EXHAUSTED,
    ESC_RESOLVED,
    ESC_RUNNING,
    ESC_STOPPED,
    FINISHED,
    OVERDUE,
    PENDING,
    Assignment,
    ComplaintLimitRow,
    Deadline,
    Delivery,
    Escalation,
    Incident,
    Shift,
    User,
)
from incidents.kernel.roles import DEPARTMENT_HEAD, LEADER, STATION
from incidents.escalation.frozen import step_at, step_count, step_of
from incidents.escalation.channels import ALERT, BOARD, VOICE
from incidents.escalation.lifecycle import LIVE_INCIDENT, stop
from incidents.escalation.notices import ESCALATOR, add_delivery, alert_text, announce, incident_plan


def advance(session_factory: sessionmaker, *, now: datetime | Callable[[], datetime], batch: int = 500) -> int:
    """Fire every escalation step due now, recording one delivery per person told; return how many steps."""
    return drain(session_factory, _advance_batch, now=now, batch=batch)


def _advance_batch(session: Session, *, now: datetime, batch: int) -> tuple[int, int]:
    stmt = (select(Escalation).where(Escalation.status == ESC_RUNNING, Escalation.next_at.is_not(None),
                                     Escalation.next_at <= now)
            .order_by(Escalation.next_at, Escalation.id).limit(batch))
    rows = claim(session, stmt, of=Escalation)
    if not rows:
        return 0, 0
    ctx = Context.load(session, rows, now)
    # What a step needs is loaded with the batch; flushing row by row would cost a round trip
    # per delivery, and the batch's dedupe keys are known in ctx.
    with session.no_autoflush:
        fired = _walk(session, ctx, rows, now)
    session.flush()
    return len(rows), fired


def _walk(session: Session, ctx: "Context", rows: list[Escalation], now: datetime) -> int:
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
                announce(session, row, what=ESC_EXHAUSTED, at=now)
            else:
                row.next_step = n + 1
                row.next_at = step_at(row.chain, row.started_at, n + 1) if reached else now
    return fired


@dataclass
class Context:
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
    def load(cls, session: Session, rows: list[Escalation], now: datetime) -> "Context":
        ids = {r.incident_id for r in rows}
        incidents = {i.id: i for i in session.scalars(
            select(Incident).where(Incident.id.in_(ids))
            .options(selectinload(Incident.plan_version), selectinload(Incident.deadlines)))}
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
            # A decline filed from the push still awaits a decision: the walk goes on (assignments.decline).
            return None if a.awaiting_ack else (ESC_RESOLVED, "任务已签收或办结")
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
        add_delivery(session, row, seen=self.dedupe, **fields)


@dataclass(frozen=True)
class _Person:
    audience: str
    user_id: int | None
    name: str
    phone: str | None


def _recipients(session: Session, ctx: Context, row: Escalation, to: str, now: datetime) -> list[_Person]:
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


def _fire_step(session: Session, ctx: Context, row: Escalation, n: int, now: datetime) -> bool:
    """Record the deliveries of step n; return whether anyone can be reached by it."""
    step = step_of(row.chain, n)
    incident = ctx.incidents.get(row.incident_id)
    plan = incident_plan(incident) if incident is not None else None
    if step["channel"] == BOARD:
        unit = row.department or row.station
        ctx.add(session, row, step=n, purpose=ALERT, channel=BOARD, audience=step["to"], user_id=None,
                name=(plan.unit_name(unit) if plan else unit) if unit else "看板", phone=None, now=now,
                content=alert_text(ctx, row, plan), status="delivered")
        announce(session, row, what="step", at=now, step=n)
        return True
    people = _recipients(session, ctx, row, step["to"], now)
    reached = False
    text = alert_text(ctx, row, plan)
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
        who = labels.AUDIENCE[step["to"]]
        ctx.add(session, row, step=n, purpose=ALERT, channel=step["channel"], audience=step["to"],
                user_id=None, name=f"（无{who}）", phone=None, now=now, content=text, status="skipped",
                error=f"没有可通知的{who}" + ("（当前无人值班）" if step["to"] == "duty_officer" else ""))
    if not reached:
        announce(session, row, what="step", at=now, step=n)  # else the boards hear it when it is sent
    return reached
