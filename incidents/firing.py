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

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from incidents import announce, audit
from incidents.deadlines import fire_points, stage_to_fire
from incidents.durations import chinese_duration
from incidents.models import OVERDUE, PENDING, Deadline, DeadlineEvent, Incident
from incidents.service import plan_of
from incidents.users import SystemActor

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


def fire_due(session_factory: sessionmaker, *, now: datetime, batch: int = 500) -> int:
    """Fire every clock stage due at `now`; return how many firings were recorded."""
    total = 0
    while True:
        with session_factory() as session:
            seen, fired = _fire_batch(session, now=now, batch=batch)
            session.commit()
        total += fired
        if seen < batch:
            return total


def _fire_batch(session: Session, *, now: datetime, batch: int) -> tuple[int, int]:
    stmt = (select(Deadline)
            .where(Deadline.status == PENDING, Deadline.next_fire_at.is_not(None), Deadline.next_fire_at <= now)
            .order_by(Deadline.next_fire_at, Deadline.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Deadline)
    rows = session.scalars(stmt).all()
    fired = 0
    for row in rows:
        points = fire_points(row.starts_at, row.due_at, row.warn_before)
        stage = stage_to_fire(points, row.fire_stage, now)
        if stage is None:
            continue
        overdue = stage == len(points) - 1
        next_fire = None if overdue else points[stage + 1]
        # Compare-and-set: only the scheduler that moves the stage from what it read fires it.
        done = session.execute(
            update(Deadline)
            .where(Deadline.id == row.id, Deadline.status == PENDING, Deadline.fire_stage == row.fire_stage,
                   Deadline.timing_version == row.timing_version)
            .values(fire_stage=stage + 1, next_fire_at=next_fire, status=OVERDUE if overdue else PENDING)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done != 1:
            continue
        # Keep the loaded row in step with the UPDATE above without writing it again.
        set_committed_value(row, "fire_stage", stage + 1)
        set_committed_value(row, "next_fire_at", next_fire)
        set_committed_value(row, "status", OVERDUE if overdue else PENDING)
        incident = session.get(Incident, row.incident_id)
        payload = _payload(row, incident, overdue=overdue, now=now)
        session.add(DeadlineEvent(deadline_id=row.id, incident_id=row.incident_id, timing_version=row.timing_version,
                                  stage=stage, kind="overdue" if overdue else "warning", due_at=row.due_at,
                                  fire_at=points[stage], fired_at=now, payload=payload))
        announce.clock_fired(session, row, incident, plan_of(incident), kind="overdue" if overdue else "warning",
                             payload=payload, at=now)
        if overdue:
            audit.record(session, actor=SCHEDULER, action="deadline.overdue", entity="deadline", entity_id=row.id,
                         incident_id=row.incident_id, at=now, data={"kind": row.kind, "cycle": row.cycle,
                                                                    "due_at": row.due_at.isoformat()})
        fired += 1
    session.flush()
    return len(rows), fired


def _payload(row: Deadline, incident: Incident, *, overdue: bool, now: datetime) -> dict:
    left = (row.due_at - now).total_seconds()
    if overdue:
        text = f"【超时】{incident.number} {incident.title}:“{row.name}”已于截止时间未完成"
    else:
        text = f"【预警】{incident.number} {incident.title}:“{row.name}”剩余{chinese_duration(left)}"
    return {
        "incident_id": incident.id, "incident_number": incident.number, "incident_title": incident.title,
        "level": incident.level, "deadline_id": row.id, "clock": row.kind, "cycle": row.cycle, "name": row.name,
        "department": row.department, "station": row.station, "due_at": row.due_at.isoformat(),
        "seconds_left": int(left), "text": text,
    }


def dispatch_pending(session_factory: sessionmaker, deliver: Callable[[Iterable[Fired]], None], *,
                     now: datetime, batch: int = 500) -> int:
    """Hand recorded firings to the notifiers, at least once, then mark them dispatched."""
    with session_factory() as session:
        stmt = (select(DeadlineEvent)
                .where(DeadlineEvent.dispatched_at.is_(None),
                       or_(DeadlineEvent.claimed_at.is_(None), DeadlineEvent.claimed_at < now - DISPATCH_LEASE))
                .order_by(DeadlineEvent.id).limit(batch))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        events = session.scalars(stmt).all()
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
