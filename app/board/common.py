"""What the board's page modules share: the live pages' socket set-up and page data, the duty board's department."""
from __future__ import annotations

from datetime import datetime

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.board import presenters
from app.board.socket import rooms_for
from app.extensions import db, yingji
from incidents.kernel.errors import Forbidden, NotFound
from incidents.records import board_events
from incidents.kernel.roles import DEPARTMENT_ROLES, OFFICE, STATION
from incidents.models import FINISHED, Incident, Report


def live(user) -> dict:
    """Return the page's socket set-up: its rooms' last numbers, read before the page's data."""
    rooms = rooms_for(user)
    return {"seqs": board_events.last_seqs(db(), rooms) if rooms else {}}


def page_data(user, moment: datetime, **extra) -> dict:
    """Return what a live page's script reads from the page (JSON in a script element)."""
    return {"server_now": presenters.js_time(moment), "plan": presenters.plan_js(yingji().plan),
            "user": {"id": user.id, "role": user.role, "unit": user.unit}, **live(user), **extra}


def open_incidents():
    """Return the incidents not yet archived or withdrawn, newest first, with their clocks, assignments and reports."""
    return db().scalars(select(Incident).where(Incident.status.not_in(FINISHED)).order_by(Incident.id.desc())
                        .options(selectinload(Incident.deadlines), selectinload(Incident.assignments),
                                 selectinload(Incident.plan_version),
                                 selectinload(Incident.reports).selectinload(Report.recipients)))


def duty_department(user) -> str | None:
    """Return the department whose duty board the user asks for, or None to choose one."""
    asked = (request.args.get("department") or "").strip() or None
    if user.role == STATION:
        raise Forbidden("forbidden", "市场监督管理所没有科室值班看板", "stations have no department duty board")
    if user.role in DEPARTMENT_ROLES:
        if asked and asked != user.unit:
            raise Forbidden("forbidden", "只能查看本科室的值班看板", "you may see only your department's board")
        return user.unit
    code = asked or (user.unit if user.role == OFFICE else None)
    if code is not None:
        try:
            yingji().plan.department(code)
        except KeyError:
            raise NotFound("not_found", f"预案中没有科室“{code}”", f"no department '{code}'") from None
    return code
