"""The scheduler's work: one audit digest per batch of received complaints, retention erasure, limit warnings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents import escalation
from incidents.complaints.states import ERASED_TEXT, INTAKE
from incidents.complaints.views import snapshot
from incidents.kernel import labels
from incidents.kernel.moments import iso
from incidents.models import (
    PENDING,
    Complaint,
    ComplaintLimitRow,
)
from incidents.plan import Plan
from incidents.records import audit, board_events
from incidents.records.board_events import department_room


def chain_received(session: Session, plan: Plan, *, now: datetime, batch: int = 1000) -> int:
    """Write one audit entry for the complaints received since the last one, and tell the centre's board.

    Each submission is not chained on its own: that would make every member of the public wait on
    the audit chain's head row. The digest names each tracking number with the SHA-256 of its content.
    """
    stmt = (select(Complaint).where(Complaint.chained_at.is_(None)).order_by(Complaint.id).limit(batch)
            .with_for_update(skip_locked=True))
    rows = list(session.scalars(stmt))
    if not rows:
        return 0
    for row in rows:
        row.chained_at = now
    audit.record(session, actor=INTAKE, action="complaints.received", entity="complaint_batch",
                 entity_id=f"{rows[0].tracking_no}..{rows[-1].tracking_no}", at=now,
                 data={"count": len(rows), "complaints": [[r.tracking_no, r.received_at.isoformat(), r.content_sha256]
                                                          for r in rows]})
    latest = [snapshot(plan, r) for r in rows[-20:]]
    board_events.publish(session, rooms={department_room(plan.complaints.centre)}, event_name="complaint",
                         payload={"what": "received", "count": len(rows), "complaints": latest}, at=now)
    return len(rows)


def erase_expired(session: Session, plan: Plan, *, now: datetime, batch: int = 500) -> int:
    """Erase the personal data of complaints finished longer ago than the plan's retention period."""
    cutoff = now - plan.complaints.retention
    # Oldest finished first, in the order of the partial index ix_complaints_unerased_finished: ordered by id,
    # the planner walks every complaint ever kept to find the few past retention (0.7 s at a city's size).
    rows = list(session.scalars(select(Complaint).where(Complaint.finished_at < cutoff, Complaint.erased_at.is_(None))
                                .order_by(Complaint.finished_at, Complaint.id).limit(batch)
                                .with_for_update(skip_locked=True)))
    for row in rows:
        row.name, row.phone, row.address, row.phone_hmac = "", "", "", None
        row.description = ERASED_TEXT
        row.order_no = None
        row.reason = ERASED_TEXT if row.reason else None
        row.answer = ERASED_TEXT if row.answer else None
        row.triage_note = None
        row.erased_at = now
        row.updated_at = now
    if rows:
        audit.record(session, actor=INTAKE, action="complaints.erased", entity="complaint_batch",
                     entity_id=f"{rows[0].tracking_no}..{rows[-1].tracking_no}", at=now,
                     data={"count": len(rows), "retention": str(plan.complaints.retention),
                           "tracking_nos": [r.tracking_no for r in rows]})
    return len(rows)


def notify_limits(session: Session, plan: Plan, *, now: datetime, batch: int = 500) -> list[tuple[str, int]]:
    """Tell the handling department's board and the centre's when a limit is about to run out, and when it has.

    Each limit is announced once per stage: the rows are claimed (locked and skipped by a second
    scheduler) and marked, and each stage starts the limit's escalation, as clocks' firings do.
    """
    fired: list[tuple[str, int]] = []
    for stage, due_col, mark_col in (("limit_warning", ComplaintLimitRow.warn_at, ComplaintLimitRow.warned_at),
                                     ("limit_overdue", ComplaintLimitRow.due_at, ComplaintLimitRow.overdue_at)):
        rows = list(session.scalars(
            select(ComplaintLimitRow).where(ComplaintLimitRow.status == PENDING, due_col <= now, mark_col.is_(None))
            .options(selectinload(ComplaintLimitRow.complaint)).order_by(ComplaintLimitRow.id).limit(batch)
            .with_for_update(skip_locked=True, of=ComplaintLimitRow)))
        for row in rows:
            setattr(row, mark_col.key, now)
            if stage == "limit_warning" and row.overdue_at is None and now >= row.due_at:
                continue  # found only after it ran out: the overdue notice says it all
            complaint = row.complaint
            rooms = {department_room(plan.complaints.centre), department_room(row.department)}
            text_ = (f"{labels.COMPLAINT_KIND[complaint.kind]}{complaint.tracking_no}（{complaint.business_name}）"
                     f"“{row.name}”{'已超过时限' if stage == 'limit_overdue' else '即将到期'}，"
                     f"时限至{row.due_on.month}月{row.due_on.day}日")
            board_events.publish(session, rooms=rooms, event_name="complaint",
                                 payload={"what": stage, "message": text_, "complaint": snapshot(plan, complaint),
                                          "limit": {"id": row.id, "kind": row.kind, "name": row.name,
                                                    "department": row.department, "due_on": row.due_on.isoformat(),
                                                    "due_at": iso(row.due_at)}}, at=now)
            escalation.start_for_complaint_limit(session, row, plan, overdue=stage == "limit_overdue", now=now)
            fired.append((stage, row.id))
    return fired
