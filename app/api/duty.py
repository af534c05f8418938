"""Departments, duty rosters and who is on duty now."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request
from sqlalchemy import select

from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.extensions import db, now, yingji
from incidents.people import duty
from incidents.kernel.errors import Forbidden, InvalidInput, NotFound
from incidents.models import Shift
from incidents.kernel.roles import ADMIN, COMMANDER, LEADER, OFFICE, VIEWER

OVERSIGHT = frozenset({ADMIN, LEADER, COMMANDER, OFFICE, VIEWER})


def _department(code: str) -> str:
    # A station (市场监督管理所) keeps its own roster too: holiday duty is checked for every unit.
    if code in duty.units(yingji().plan):
        return code
    raise NotFound("not_found", f"预案中没有科室或市场监督管理所“{code}”", f"no department or station '{code}'")


def _may_see(code: str) -> None:
    user = current_user()
    if user.role in OVERSIGHT or user.unit == code:
        return
    raise Forbidden("forbidden", "只能查看本科室的值班信息", "you may see only your own department's duty")


@bp.get("/departments")
@api_login_required
def list_departments():
    """List the plan's departments with who is on duty now."""
    at, user = now(), current_user()
    out = []
    for d in yingji().plan.departments:
        shifts = duty.on_duty(db(), d.code, at)
        out.append({"code": d.code, "name": d.name, "domain": d.domain,
                    "on_duty": [duty.shift_view(s, user) for s in shifts]})
    stations = [{"code": s.code, "name": s.name, "on_duty": [duty.shift_view(r, user) for r in duty.on_duty(db(), s.code, at)]}
                for s in yingji().plan.stations]
    return jsonify({"departments": out, "stations": stations, "at": at.isoformat()})


@bp.get("/departments/<code>/on-duty")
@api_login_required
def on_duty(code: str):
    """Answer who is on duty in a department now (or at ?at=); phones in full only to those who dispatch to it."""
    code = _department(code)
    at = parse.timestamp(request.args, "at", "时间") or now()
    shifts = duty.on_duty(db(), code, at)
    return jsonify({"department": code, "name": yingji().plan.unit_name(code), "at": at.isoformat(),
                    "on_duty": [duty.shift_view(s, current_user()) for s in shifts], "covered": bool(shifts)})


@bp.get("/departments/<code>/shifts")
@api_login_required
def list_shifts(code: str):
    """List a department's shifts in a window (default: from 1 day ago to 7 days ahead)."""
    code = _department(code)
    _may_see(code)
    start = parse.timestamp(request.args, "from", "起始时间") or now() - timedelta(days=1)
    end = parse.timestamp(request.args, "to", "截止时间") or now() + timedelta(days=7)
    if end <= start:
        raise InvalidInput("bad_period", "截止时间须晚于起始时间", "to must be after from", field="to")
    rows = db().scalars(select(Shift).where(Shift.department == code, Shift.cancelled_at.is_(None),
                                            Shift.ends_at > start, Shift.starts_at < end).order_by(Shift.starts_at))
    return jsonify({"department": code, "shifts": [duty.shift_view(s, current_user()) for s in rows]})


@bp.post("/departments/<code>/shifts")
@api_login_required
def add_shift(code: str):
    """Add a shift to a department's or a station's roster."""
    code = _department(code)
    data = parse.body()
    officer_id = parse.id_value(data.get("officer_id"), "officer_id", "值班人员编号")
    session = db()
    row = duty.add_shift(session, yingji().plan, department=code,
                         starts_at=parse.timestamp(data, "starts_at", "开始时间", required_=True),
                         ends_at=parse.timestamp(data, "ends_at", "结束时间", required_=True),
                         officer_id=officer_id, officer_name=parse.text(data, "officer_name", "值班人员"),
                         phone=parse.text(data, "phone", "电话"), note=parse.text(data, "note", "备注"),
                         actor=current_user(), now=now())
    session.commit()
    return jsonify(duty.shift_view(row, current_user())), 201


@bp.post("/shifts/<int:shift_id>/handover")
@api_login_required
def handover_shift(shift_id: int):
    """Hand the rest of a shift to a named substitute (同岗替代)."""
    data = parse.body()
    substitute_id = parse.id_value(data.get("substitute_id"), "substitute_id", "替岗人员编号")
    session = db()
    row = duty.hand_over(session, yingji().plan, shift_id=shift_id, substitute_id=substitute_id,
                         substitute_name=parse.text(data, "substitute_name", "替岗人员"),
                         phone=parse.text(data, "phone", "电话"),
                         reason=parse.text(data, "reason", "交接原因", required_=True),
                         at=parse.timestamp(data, "at", "交接时间"), actor=current_user(), now=now())
    session.commit()
    return jsonify(duty.shift_view(row, current_user())), 201


@bp.post("/shifts/swap")
@api_login_required
def swap_shifts():
    """Swap the officers of two shifts of one department (换班)."""
    data = parse.body()
    first = parse.id_value(data.get("first"), "first", "第一个班次编号")
    second = parse.id_value(data.get("second"), "second", "第二个班次编号")
    if first is None or second is None:
        raise InvalidInput("bad_type", "须给出两个班次编号", "first and second must be shift ids", field="first")
    session = db()
    duty.swap(session, yingji().plan, first_id=first, second_id=second,
              reason=parse.text(data, "reason", "换班原因") or "", actor=current_user(), now=now())
    session.commit()
    return jsonify({"swapped": [first, second]})


@bp.get("/duty/cover")
@api_login_required
def duty_cover():
    """Say, before a task goes out, which departments have nobody on duty and who the escalation reaches instead."""
    plan = yingji().plan
    asked = [c.strip() for c in (request.args.get("departments") or "").split(",") if c.strip()][:50]
    for code in asked:
        _department(code)
    level = request.args.get("level") or None
    if level is not None and level not in dict(plan.escalation):
        raise InvalidInput("unknown_level", f"未知事件等级“{level[:10]}”", f"unknown level '{level[:10]}'", field="level")
    found = duty.cover(db(), plan, asked, level=level, now=now())
    return jsonify({"cover": [c.as_dict() for c in found], "at": now().isoformat()})


@bp.get("/duty/alerts")
@api_login_required
def duty_alerts():
    """Roster problems ahead: uncovered hours, shifts without an officer or a phone."""
    user = current_user()
    if user.role not in OVERSIGHT:
        raise Forbidden("forbidden", "只有应急办公室和领导可以查看值班告警", "only the office and leaders see duty alerts")
    found = duty.alerts(db(), yingji().plan, now=now())
    return jsonify({"alerts": [a.as_dict() for a in found], "at": now().isoformat()})
