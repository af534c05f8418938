"""Lists for the boards: open complaints per department, limits due, the centre's search."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from incidents.complaints.access import visible_filter
from incidents.complaints.checks import normalise_phone
from incidents.complaints.states import OPEN_STATUSES
from incidents.complaints.tracking import normalise_tracking_no
from incidents.kernel import labels
from incidents.kernel.errors import InvalidInput
from incidents.models import (
    PENDING,
    Complaint,
    ComplaintLimitRow,
)
from incidents.plan import Plan


def open_for(session: Session, plan: Plan, *, department: str | None, untriaged: bool = False,
             limit: int = 200) -> list[Complaint]:
    """Return the open complaints routed to a department (or all), or those still waiting for triage."""
    stmt = (select(Complaint).where(Complaint.status.in_(OPEN_STATUSES))
            .options(selectinload(Complaint.limits)).order_by(Complaint.received_at).limit(limit))
    if untriaged:
        stmt = stmt.where(Complaint.department.is_(None))
    elif department is not None:
        stmt = stmt.where(Complaint.department == department)
    return list(session.scalars(stmt))


def limits_due(session: Session, *, now: datetime, department: str | None = None, limit: int = 200
               ) -> list[ComplaintLimitRow]:
    """Return the pending limits that are about to run out or have, soonest first."""
    stmt = (select(ComplaintLimitRow).where(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.warn_at <= now)
            .options(selectinload(ComplaintLimitRow.complaint)).order_by(ComplaintLimitRow.due_at).limit(limit))
    if department is not None:
        stmt = stmt.where(ComplaintLimitRow.department == department)
    return list(session.scalars(stmt))


def search(session: Session, plan: Plan, user, *, status: str | None = None, kind: str | None = None,
           category: str | None = None, department: str | None = None, text: str | None = None,
           before_id: int | None = None, limit: int = 50) -> list[Complaint]:
    """Return complaints the user may see, newest first, filtered."""
    stmt = select(Complaint).options(selectinload(Complaint.limits)).order_by(Complaint.id.desc()).limit(limit)
    visible = visible_filter(user, plan)
    if visible is not None:
        stmt = stmt.where(visible)
    if status:
        if status == "open":
            stmt = stmt.where(Complaint.status.in_(OPEN_STATUSES))
        elif status == "untriaged":
            stmt = stmt.where(Complaint.department.is_(None), Complaint.status.in_(OPEN_STATUSES))
        elif status in labels.COMPLAINT_STATUS:
            stmt = stmt.where(Complaint.status == status)
        else:
            raise InvalidInput("unknown_status", f"未知状态“{status[:20]}”", f"unknown status '{status}'", field="status")
    if kind:
        if kind not in labels.COMPLAINT_KIND:
            raise InvalidInput("unknown_kind", "类型应为 complaint 或 tipoff", "kind is complaint or tipoff", field="kind")
        stmt = stmt.where(Complaint.kind == kind)
    if category:
        stmt = stmt.where(Complaint.category == category)
    if department:
        stmt = stmt.where(Complaint.department == department)
    if text:
        like = f"%{text.strip()[:50].replace('%', '').replace('_', '')}%"
        number = normalise_tracking_no(text)
        found = [Complaint.business_name.like(like), Complaint.tracking_no == (number or text.strip())]
        mobile = normalise_phone(text)
        if mobile:  # the phone is sealed: it is found by its keyed HMAC
            found.append(Complaint.phone_hmac == mobile)
        stmt = stmt.where(or_(*found))
    if before_id:
        stmt = stmt.where(Complaint.id < before_id)
    return list(session.scalars(stmt))
