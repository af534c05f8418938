"""Fire the clocks that have come due: claim rows atomically, record each firing once.

A scheduler calls `fire_due` about once a second. Any number of schedulers may run:
on PostgreSQL the claim skips rows another one holds (FOR UPDATE SKIP LOCKED), on
SQLite writers are serialised at BEGIN, and everywhere the stage is advanced with a
compare-and-set and the firing row is unique per (deadline, timing, stage). A process
that was down fires what came due meanwhile, once, and only the latest stage of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from incidents.kernel.batches import claim, drain
from incidents.records import announce, audit
from incidents import escalation
from incidents.response.deadlines import fire_points, stage_to_fire
from incidents.kernel.durations import chinese_duration
from incidents.models import OVERDUE, PENDING, Deadline, DeadlineEvent, Incident
from incidents.response.service import plan_of
from incidents.kernel.actors import SystemActor

SCHEDULER = SystemActor(name="scheduler")
DISPATCH_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Fired:
    """A firing handed to the notifiers."""

    event_id: int
    deadline_id: int
    incident_id: int
    kind: str  # warning | overdue
    payload: dict


def fire_due(session_factory: sessionmaker, *, now: datetime | Callable[[], datetime], batch: int = 500) -> int:
    """Fire every clock stage due now; return how many firings were recorded.

    `now` may be a clock function, read afresh for each batch so that a long backlog
    records when each batch really fired.
    """
    return drain(session_factory, _fire_batch, now=now, batch=batch)


class _Raced(RuntimeError):
    """Another scheduler moved a claimed clock; the batch is rolled back and retried."""


def _fire_batch(session: Session, *, now: datetime, batch: int) -> tuple[int, int]:
    stmt = (select(Deadline)
            .where(Deadline.status == PENDING, Deadline.next_fire_at.is_not(None), Deadline.next_fire_at <= now)
            .order_by(Deadline.next_fire_at, Deadline.id).limit(batch))
    rows = claim(session, stmt, of=Deadline)
    if not rows:
        return 0, 0
    # One query for the incidents (with what announcing needs), not one per clock.
    incidents = {i.id: i for i in session.scalars(
        select(Incident).where(Incident.id.in_({r.incident_id for r in rows}))
        .options(selectinload(Incident.deadlines), selectinload(Incident.plan_version)))}
    moves, firings = [], []
    for row in rows:
        points = fire_points(row.starts_at, row.due_at, row.warn_before)
        stage = stage_to_fire(points, row.fire_stage, now)
        if stage is None:
            continue
        overdue = stage == len(points) - 1
        moves.append({"b_id": row.id, "b_stage": row.fire_stage, "b_timing": row.timing_version,
                      "new_stage": stage + 1, "new_next": None if overdue else points[stage + 1],
                      "new_status": OVERDUE if overdue else PENDING})
        firings.append((row, stage, points[stage], overdue))
    if not moves:
        return len(rows), 0
    # Compare-and-set, all at once: the rows are locked (PostgreSQL) or the writer is alone
    # (SQLite), so every move must land; if one does not, nothing of this batch is kept.
    done = session.execute(
        update(Deadline.__table__)
        .where(Deadline.id == bindparam("b_id"), Deadline.status == PENDING,
               Deadline.fire_stage == bindparam("b_stage"), Deadline.timing_version == bindparam("b_timing"))
        .values(fire_stage=bindparam("new_stage"), next_fire_at=bindparam("new_next"),
                status=bindparam("new_status")),
        moves).rowcount
    if done not in (len(moves), -1):
        raise _Raced(f"{len(moves) - done} of {len(moves)} clocks were moved by another scheduler")
    started = []
    with session.no_autoflush:
        for (row, stage, fire_at, overdue), move in zip(firings, moves):
            # Keep the loaded row in step with the UPDATE above without writing it again.
            set_committed_value(row, "fire_stage", move["new_stage"])
            set_committed_value(row, "next_fire_at", move["new_next"])
            set_committed_value(row, "status", move["new_status"])
            incident = incidents[row.incident_id]
            kind = "overdue" if overdue else "warning"
            payload = _payload(row, incident, overdue=overdue, now=now)
            session.add(DeadlineEvent(deadline_id=row.id, incident_id=row.incident_id,
                                      timing_version=row.timing_version, stage=stage, kind=kind, due_at=row.due_at,
                                      fire_at=fire_at, fired_at=now, payload=payload))
            plan = plan_of(incident)
            announce.clock_fired(session, row, incident, plan, kind=kind, payload=payload, at=now)
            started.append(escalation.ClockFiring(row, incident, plan, overdue))
            if overdue:
                audit.record(session, actor=SCHEDULER, action="deadline.overdue", entity="deadline",
                             entity_id=row.id, incident_id=row.incident_id, at=now,
                             data={"kind": row.kind, "cycle": row.cycle, "due_at": row.due_at.isoformat()})
    # The batch's escalations start together: a few queries for all of them, not four per clock.
    escalation.start_for_clocks(session, started, now=now)
    session.flush()
    return len(rows), len(moves)


def _payload(row: Deadline, incident: Incident, *, overdue: bool, now: datetime) -> dict:
    left = (row.due_at - now).total_seconds()
    if overdue:
        text = f"【超时】{incident.number} {incident.title}：“{row.name}”已于截止时间未完成"
    else:
        text = f"【预警】{incident.number} {incident.title}：“{row.name}”剩余{chinese_duration(left)}"
    return {
        "incident_id": incident.id, "incident_number": incident.number, "incident_title": incident.title,
        "level": incident.level, "deadline_id": row.id, "clock": row.kind, "cycle": row.cycle, "name": row.name,
        "department": row.department, "station": row.station, "due_at": row.due_at.isoformat(),
        "seconds_left": int(left), "text": text,
    }


def dispatch_pending(session_factory: sessionmaker, deliver: Callable[[Iterable[Fired]], None], *,
                     now: datetime, batch: int = 500) -> int:
    """Hand recorded firings to the notifiers, at least once, then mark them dispatched; drain the backlog."""
    total = 0
    while True:
        handed = _dispatch_batch(session_factory, deliver, now=now, batch=batch)
        total += handed
        if handed < batch:
            return total


def _dispatch_batch(session_factory: sessionmaker, deliver: Callable[[Iterable[Fired]], None], *,
                    now: datetime, batch: int) -> int:
    with session_factory() as session:
        stmt = (select(DeadlineEvent)
                .where(DeadlineEvent.dispatched_at.is_(None),
                       or_(DeadlineEvent.claimed_at.is_(None), DeadlineEvent.claimed_at < now - DISPATCH_LEASE))
                .order_by(DeadlineEvent.id).limit(batch))
        events = claim(session, stmt)
        for event in events:
            event.claimed_at = now
        session.commit()
    if not events:
        return 0
    deliver([Fired(e.id, e.deadline_id, e.incident_id, e.kind, e.payload) for e in events])
    with session_factory() as session:
        session.execute(update(DeadlineEvent).where(DeadlineEvent.id.in_([e.id for e in events]))
                        .values(dispatched_at=now).execution_options(synchronize_session=False))
        session.commit()
    return len(events)
