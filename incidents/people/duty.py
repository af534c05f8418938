"""Duty rosters (值班): shifts, hand-over to a named substitute (同岗替代), swaps, coverage alerts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import announce, audit
from incidents.kernel.durations import as_utc
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from incidents.kernel.masking import mask_phone
from incidents.models import ACTIVE, Assignment, HolidayWatch, Incident, Shift, User
from incidents.plan import Plan
from incidents.kernel.roles import (
    COMMANDER,
    DEPARTMENT_HEAD,
    DEPARTMENT_ROLES,
    LEADER,
    OFFICE,
    STATION,
    SYSTEM,
)
from incidents.records.snapshots import iso
from incidents.kernel.actors import actor_id
from incidents.people.users import PHONE

# Not the system administrator: pointing a unit's on-duty phone elsewhere is business, not administration.
ROSTER_ROLES = frozenset({OFFICE, COMMANDER, LEADER})
MAX_SHIFT = timedelta(days=7)


# Who dispatches, and so sees on-duty phones in full: the office, the leadership, the command. A unit's
# own head (科室负责人, or the station's account) sees its own roster's. Everyone else sees them masked.
PHONE_ROLES = frozenset({OFFICE, LEADER, COMMANDER, SYSTEM})
UNIT_HEADS = frozenset({DEPARTMENT_HEAD, STATION})


def sees_duty_phones(actor, unit: str) -> bool:
    """Tell whether someone dispatches for a unit and so may see its on-duty phone numbers in full."""
    return actor.role in PHONE_ROLES or (actor.role in UNIT_HEADS and actor.unit == unit)


# The mark on a substitute's shift whose phone is not the substitute's alert phone on record.
OFF_RECORD = "替岗电话非登记号码"


def shift_dict(row: Shift, *, full_phone: bool = False) -> dict:
    """Return a shift as the API and the boards show it; the phone masked unless `full_phone`."""
    phone = row.phone if full_phone else (mask_phone(row.phone) or None)
    return {"id": row.id, "department": row.department, "starts_at": iso(row.starts_at), "ends_at": iso(row.ends_at),
            "officer_id": row.officer_id, "officer_name": row.officer_name, "phone": phone,
            "phone_masked": bool(row.phone) and not full_phone,
            "substitute_for": row.substitute_for_id, "handover_reason": row.handover_reason, "note": row.note,
            "phone_on_record": row.phone_on_record,
            "phone_warning": OFF_RECORD if row.phone_on_record is False else None}


def shift_view(row: Shift, actor) -> dict:
    """Return a shift as one person may see it: the phone in full only for those who dispatch to its unit."""
    return shift_dict(row, full_phone=sees_duty_phones(actor, row.department))


def _may_edit(actor, unit: str) -> None:
    if actor.role in ROSTER_ROLES or actor.role == SYSTEM:
        return
    if (actor.role in DEPARTMENT_ROLES or actor.role == STATION) and actor.unit == unit:
        return
    raise Forbidden("forbidden", "无权修改该单位的值班表", "you may not change this unit's roster")


def units(plan: Plan) -> tuple[str, ...]:
    """Return every unit that keeps a duty roster: the departments, then the stations."""
    return tuple(d.code for d in plan.departments) + tuple(s.code for s in plan.stations)


def _department(plan: Plan, code: str) -> str:
    # A station (市场监督管理所) keeps its own roster too: holiday duty is checked for every unit.
    if code in units(plan):
        return code
    raise InvalidInput("unknown_department", f"预案中没有科室或市场监督管理所“{code}”", f"unknown unit '{code}'",
                       field="department")


def _officer(session: Session, officer_id: int | None, department: str) -> User | None:
    if officer_id is None:
        return None
    user = session.get(User, officer_id)
    if user is None or not user.active:
        raise InvalidInput("unknown_user", f"用户 {officer_id} 不存在", f"user {officer_id} not found", field="officer_id")
    if user.unit != department:
        raise InvalidInput("wrong_department", f"{user.name} 不属于该科室", f"{user.name} is not of this department",
                           field="officer_id")
    return user


MAX_NAME = 80  # users.name and shifts.officer_name


def _name(value: str | None, field: str) -> str | None:
    value = (value or "").strip() or None
    if value and len(value) > MAX_NAME:
        raise InvalidInput("too_long", f"姓名过长（最多{MAX_NAME}字）", f"{field} is longer than {MAX_NAME}", field=field)
    return value


def _phone(phone: str | None) -> str | None:
    phone = (phone or "").strip() or None
    if phone and not PHONE.match(phone):
        raise InvalidInput("bad_phone", "电话号码须为国际格式，如 +8613800000000",
                           "phone must be in international format, e.g. +8613800000000", field="phone")
    return phone


def add_shift(session: Session, plan: Plan, *, department: str, starts_at: datetime, ends_at: datetime, actor,
              now: datetime, officer_id: int | None = None, officer_name: str | None = None,
              phone: str | None = None, note: str | None = None) -> Shift:
    """Put a shift on a department's roster; an officer without a phone is allowed but alerted."""
    department = _department(plan, department)
    _may_edit(actor, department)
    starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
    if ends_at <= starts_at:
        raise InvalidInput("bad_period", "值班结束时间须晚于开始时间", "a shift must end after it starts", field="ends_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise InvalidInput("bad_period", "单个班次不能超过7天", "a shift cannot be longer than 7 days", field="ends_at")
    if ends_at <= now:
        raise InvalidInput("past_shift", "不能添加已经结束的班次", "the shift has already ended", field="ends_at")
    if starts_at > now + timedelta(days=366):
        raise InvalidInput("too_late", "班次不能排在一年之后，请核对", "a shift more than a year ahead", field="starts_at")
    officer = _officer(session, officer_id, department)
    row = Shift(department=department, starts_at=starts_at, ends_at=ends_at, officer_id=officer.id if officer else None,
                officer_name=_name(officer_name, "officer_name") or (officer.name if officer else None),
                phone=_phone(phone) or (officer.phone if officer else None), note=(note or "").strip() or None,
                created_by_id=actor_id(actor), created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="shift.added", entity="shift", entity_id=row.id, at=now,
                 data={**shift_dict(row), "phone": bool(row.phone)})
    announce.duty_changed(session, department, what="added", shift=shift_dict(row), at=now)
    return row


def _live_shift(session: Session, shift_id: int) -> Shift:
    row = session.get(Shift, shift_id, with_for_update=True)
    if row is None or row.cancelled_at is not None:
        raise NotFound("not_found", f"班次 {shift_id} 不存在", f"shift {shift_id} not found")
    return row


def hand_over(session: Session, plan: Plan, *, shift_id: int, reason: str, actor, now: datetime,
              substitute_id: int | None = None, substitute_name: str | None = None, phone: str | None = None,
              at: datetime | None = None) -> Shift:
    """Hand the rest of a shift to a named substitute (同岗替代); the substitute's shift is returned.

    Any phone may be typed for the substitute (at night the number on record may be the wrong one),
    but a phone that is not the substitute's alert phone on record (or a substitute who is no
    registered user) is marked on the shift, audited as `phone_on_record: false` (numbers masked)
    and told to the office and the unit's board.
    """
    row = _live_shift(session, shift_id)
    _may_edit(actor, row.department)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("missing_field", "缺少交接原因", "reason is required", field="reason")
    at = max(as_utc(at) if at else now, row.starts_at)
    if at >= row.ends_at:
        raise Conflict("shift_over", "该班次已结束，无法交接", "the shift is already over")
    substitute = _officer(session, substitute_id, row.department)
    name = _name(substitute_name, "substitute_name") or (substitute.name if substitute else "")
    if not name:
        raise InvalidInput("missing_field", "须指定替岗人员", "name the substitute", field="substitute_name")
    recorded = substitute.phone if substitute else None
    used = _phone(phone) or recorded
    on_record = None if used is None else used == recorded
    new = Shift(department=row.department, starts_at=at, ends_at=row.ends_at,
                officer_id=substitute.id if substitute else None, officer_name=name,
                phone=used, phone_on_record=on_record, substitute_for_id=row.id,
                handover_reason=reason, created_by_id=actor_id(actor), created_at=now)
    if at <= row.starts_at:
        row.cancelled_at = now  # handed over before it began: the substitute holds all of it
    else:
        row.ends_at = at
    session.add(new)
    session.flush()
    data = {"to_shift": new.id, "substitute": name, "from": at.isoformat(), "reason": reason,
            "phone_on_record": on_record}
    if on_record is False:
        data.update(phone=mask_phone(used), phone_recorded=mask_phone(recorded) if recorded else None,
                    substitute_registered=substitute is not None)
    audit.record(session, actor=actor, action="shift.handed_over", entity="shift", entity_id=row.id, at=now,
                 data=data)
    announce.duty_changed(session, row.department, what="handed_over", shift=shift_dict(new), at=now)
    if on_record is False:
        unit = plan.unit_name(row.department)
        why = "未登记的人员" if substitute is None else "其登记告警电话以外的号码"
        announce.duty_notice(session, plan, row.department, what="handover_phone_off_record", title=OFF_RECORD,
                             message=f"{unit}同岗替代：替岗人员{name}（{why}）使用电话{mask_phone(used)}，"
                                     "非系统登记号码，请核实能否接通", shift=shift_dict(new), at=now)
    return new


def swap(session: Session, plan: Plan, *, first_id: int, second_id: int, reason: str, actor, now: datetime) -> None:
    """Swap the officers of two shifts of the same department (换班)."""
    first, second = _live_shift(session, first_id), _live_shift(session, second_id)
    if first.department != second.department:
        raise InvalidInput("wrong_department", "只能在同一科室内换班", "swap shifts of the same department only")
    _may_edit(actor, first.department)
    if min(first.ends_at, second.ends_at) <= now:
        raise Conflict("shift_over", "已结束的班次不能换班", "a shift that is over cannot be swapped")
    for attr in ("officer_id", "officer_name", "phone", "phone_on_record"):
        a, b = getattr(first, attr), getattr(second, attr)
        setattr(first, attr, b)
        setattr(second, attr, a)
    audit.record(session, actor=actor, action="shift.swapped", entity="shift", entity_id=first.id, at=now,
                 data={"with": second.id, "reason": (reason or "").strip()})
    for row in (first, second):
        announce.duty_changed(session, row.department, what="swapped", shift=shift_dict(row), at=now)


def on_duty(session: Session, department: str, at: datetime) -> list[Shift]:
    """Return the shifts of a department that cover a moment, latest start first."""
    return list(session.scalars(
        select(Shift).where(Shift.department == department, Shift.cancelled_at.is_(None), Shift.starts_at <= at,
                            Shift.ends_at > at).order_by(Shift.starts_at.desc(), Shift.id.desc())))


@dataclass(frozen=True)
class DutyAlert:
    """Something wrong with a roster that the office must see."""

    kind: str  # gap | no_officer | no_phone | phone_off_record
    department: str
    starts_at: datetime
    ends_at: datetime
    shift_id: int | None
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "department": self.department, "starts_at": iso(self.starts_at),
                "ends_at": iso(self.ends_at), "shift_id": self.shift_id, "message": self.message}


def departments_needing_cover(session: Session, plan: Plan) -> set[str]:
    """Return the departments that must have someone on duty every hour right now."""
    needed = set(plan.duty.always_covered)
    if plan.duty.round_the_clock_levels:
        active = session.scalars(select(Incident).where(Incident.status == ACTIVE,
                                                        Incident.level.in_(plan.duty.round_the_clock_levels)))
        for incident in active:
            needed.add(incident.lead_department)
            needed.update(plan.support_departments)
            needed.update(session.scalars(select(Assignment.department).where(Assignment.incident_id == incident.id)))
    return needed


def alerts(session: Session, plan: Plan, *, now: datetime) -> list[DutyAlert]:
    """Return the roster problems from now to the plan's look-ahead: gaps, empty shifts, no phone."""
    until = now + plan.duty.look_ahead
    shifts = list(session.scalars(select(Shift).where(Shift.cancelled_at.is_(None), Shift.ends_at > now,
                                                      Shift.starts_at < until).order_by(Shift.starts_at)))
    out: list[DutyAlert] = []
    for row in shifts:
        name = plan.unit_name(row.department)
        if not row.officer_name and row.officer_id is None:
            out.append(DutyAlert("no_officer", row.department, row.starts_at, row.ends_at, row.id,
                                 f"{name}班次无值班人员（空岗）"))
        elif not row.phone:
            out.append(DutyAlert("no_phone", row.department, row.starts_at, row.ends_at, row.id,
                                 f"{name}值班人员{row.officer_name or ''}未登记电话"))
        elif row.phone_on_record is False:
            out.append(DutyAlert("phone_off_record", row.department, row.starts_at, row.ends_at, row.id,
                                 f"{name}替岗人员{row.officer_name or ''}的电话{mask_phone(row.phone)}"
                                 "非登记号码，请核实"))
    for department in sorted(departments_needing_cover(session, plan)):
        cursor = now
        for row in (s for s in shifts if s.department == department):
            if row.starts_at > cursor:
                out.append(gap_alert(plan, department, cursor, row.starts_at))
            cursor = max(cursor, row.ends_at)
        if cursor < until:
            out.append(gap_alert(plan, department, cursor, until))
    for watch in session.scalars(select(HolidayWatch).where(HolidayWatch.closed_at.is_(None),
                                                            HolidayWatch.closes_at > now)):
        start = max(now, datetime.combine(watch.first_day, datetime.min.time(), plan.tz))
        out.extend(unit_gaps(session, plan, start, watch.closes_at, during=f"{watch.label}放假期间"))
    return out


def unit_gaps(session: Session, plan: Plan, start: datetime, end: datetime, *, during: str) -> list[DutyAlert]:
    """Return the hours from start to end that a unit's roster leaves empty, for every department and station."""
    rows = list(session.scalars(select(Shift).where(Shift.cancelled_at.is_(None), Shift.ends_at > start,
                                                    Shift.starts_at < end).order_by(Shift.starts_at)))
    out = []
    for unit in units(plan):
        cursor = start
        for row in (r for r in rows if r.department == unit):
            if row.starts_at > cursor:
                out.append(_holiday_gap(plan, unit, cursor, row.starts_at, during))
            cursor = max(cursor, row.ends_at)
        if cursor < end:
            out.append(_holiday_gap(plan, unit, cursor, end, during))
    return out


def _holiday_gap(plan: Plan, unit: str, start: datetime, end: datetime, during: str) -> DutyAlert:
    return DutyAlert("gap", unit, start, end, None, f"{plan.unit_name(unit)}{during}值班空档，无人值守")


def gap_alert(plan: Plan, department: str, start: datetime, end: datetime) -> DutyAlert:
    """Return the alert for hours of a department that nobody covers."""
    return DutyAlert("gap", department, start, end, None, f"{plan.unit_name(department)}值班空档，无人值守")


# --- who will hear of a task when nobody is on duty ----------------------------------------------



@dataclass(frozen=True)
class Cover:
    """A department's cover now: who is on duty, and who the escalation reaches when nobody signs."""

    department: str
    name: str
    on_duty: tuple[str, ...]
    instead: tuple[str, ...]  # names, when nobody is on duty
    instead_role: str  # 科室负责人 | 领导小组 | "" (nobody at all)

    @property
    def note(self) -> str | None:
        """Say it to the person dispatching: nobody on duty, who will be told instead."""
        if self.on_duty:
            return None
        if not self.instead:
            return f"{self.name}当前无人值班，升级链上也无人可通知"
        return f"{self.name}当前无人值班：任务仍推送到看板，无人签收时将通知{self.instead_role}{'、'.join(self.instead)}"

    def as_dict(self) -> dict:
        return {"department": self.department, "name": self.name, "on_duty": list(self.on_duty),
                "instead": list(self.instead), "instead_role": self.instead_role, "note": self.note}


def cover(session: Session, plan: Plan, departments: list[str], *, level: str | None, now: datetime) -> list[Cover]:
    """Return each department's cover now; for an empty one, the next people the level's chain reaches."""
    chains = dict(plan.escalation)
    chain = chains.get(level or "") or chains.get("ungraded")
    audiences = [s.to for s in (chain.steps if chain else ()) if s.to not in ("duty_officer",)]
    people = list(session.scalars(select(User).where(User.active.is_(True),
                                                     User.role.in_((DEPARTMENT_HEAD, LEADER))).order_by(User.id)))
    out = []
    for department in dict.fromkeys(departments):
        names = tuple(dict.fromkeys(s.officer_name or "值班人员" for s in on_duty(session, department, now)))
        instead, role = (), ""
        if not names:
            for audience in dict.fromkeys(audiences):
                found = tuple(u.name for u in people if (audience == "leadership" and u.role == LEADER) or (
                    audience == "department_head" and u.role == DEPARTMENT_HEAD and u.unit == department))
                if found:
                    instead, role = found, labels.AUDIENCE.get(audience, "")
                    break
        out.append(Cover(department, plan.unit_name(department), names, instead, role))
    return out
