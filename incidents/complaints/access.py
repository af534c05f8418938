"""Who may see, triage and handle a complaint, and the public's lookup by number and phone."""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.complaints.checks import normalise_phone
from incidents.complaints.tracking import normalise_tracking_no
from incidents.kernel.errors import Forbidden, NotFound
from incidents.kernel.roles import ADMIN, COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, STATION, VIEWER
from incidents.models import (
    Complaint,
)
from incidents.plan import Plan

ALL_SEEING = frozenset({LEADER, COMMANDER, OFFICE, VIEWER, ADMIN})


def is_centre(user, plan: Plan) -> bool:
    """Tell whether the user works at the complaint centre (its duty officer or head)."""
    return user.role in DEPARTMENT_ROLES and user.unit == plan.complaints.centre


def can_view(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether a member of staff may see a complaint (masked)."""
    if user.role in ALL_SEEING or is_centre(user, plan):
        return True
    if user.role in DEPARTMENT_ROLES:
        return complaint.department == user.unit
    if user.role == STATION:
        return complaint.area == user.unit
    return user.role == "system"


def can_triage(user, plan: Plan) -> bool:
    """Tell whether the user may route complaints: the centre, and the office."""
    return is_centre(user, plan) or user.role == OFFICE or user.role == "system"


def can_handle(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether the user may move a complaint on: the centre, the office, the department it is routed to."""
    if can_triage(user, plan):
        return True
    return user.role in DEPARTMENT_ROLES and complaint.department is not None and user.unit == complaint.department


def can_see_contact(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether the user's work needs the full phone number: the centre and the handling department."""
    return is_centre(user, plan) or (user.role in DEPARTMENT_ROLES and complaint.department is not None
                                     and user.unit == complaint.department)


def forbid(zh: str, en: str) -> Forbidden:
    return Forbidden("forbidden", zh, en)


def visible_filter(user, plan: Plan):
    """Return the SQL condition for the complaints a user may see (None: all)."""
    if user.role in ALL_SEEING or is_centre(user, plan) or user.role == "system":
        return None
    if user.role in DEPARTMENT_ROLES:
        return Complaint.department == user.unit
    if user.role == STATION:
        return Complaint.area == user.unit
    return Complaint.id < 0


def get_complaint(session: Session, plan: Plan, tracking_no: str, *, user=None, for_update: bool = False) -> Complaint:
    """Load a complaint by tracking number, refusing one the user may not see as if it did not exist."""
    number = normalise_tracking_no(tracking_no) or tracking_no
    stmt = select(Complaint).where(Complaint.tracking_no == number)
    if for_update:
        stmt = stmt.with_for_update()
    complaint = session.scalar(stmt)
    if complaint is None or (user is not None and not can_view(user, plan, complaint)):
        raise NotFound("not_found", f"投诉举报 {tracking_no[:24]} 不存在", f"complaint {tracking_no[:24]} not found")
    return complaint


def public_lookup(session: Session, tracking_no: str, phone: str) -> Complaint:
    """Find a complaint by its tracking number and the phone it was filed with; the same 404 for either wrong."""
    number = normalise_tracking_no(tracking_no)
    mobile = normalise_phone(phone)
    complaint = None
    if number and mobile:
        complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == number))
    if complaint is None or complaint.erased_at is not None or not secrets.compare_digest(complaint.phone, mobile or ""):
        raise NotFound("not_found", "没有找到这件投诉举报，请核对查询码和手机号码",
                       "no complaint with this tracking number and phone")
    return complaint
