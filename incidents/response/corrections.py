"""Correcting a registration (更正) and withdrawing one (作废): the record keeps who, when, why and the old value.

A correction changes registration fields; the audit trail keeps every old and new value with the
reason. Clocks follow a corrected 发现时间 only where nothing is recorded yet: a clock already met,
late or missed stays as it is, and a running clock whose due time has already passed stays missed
(a correction can reveal lateness, never erase it). A running clock still ahead is re-timed from
the corrected time, earlier or later.

A withdrawal takes a test registration off every board and out of every count; the incident
keeps its history, its clocks still ahead are cancelled with the reason, one already past due
stays missed, its escalations stop. A duplicate or a false report is not withdrawn but closed
without a response (dispositions.py): it stays on the accountability sheet as what it is.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import announce, audit
from incidents import escalation
from incidents.response import clock_rows, dispositions, service
from incidents.people import permissions
from incidents.records.board_events import department_room
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.kernel.states import WithdrawKind
from incidents.models import (
    FINISHED,
    HOLIDAY_WATCH,
    REGISTERED,
    WITHDRAWN,
    Incident,
)
from incidents.kernel.actors import actor_id

TEST = WithdrawKind.TEST
CORRECTABLE = ("title", "category", "discovered_at", "station", *service.TEXT_FIELDS)


def _editable(incident: Incident, what_zh: str, what_en: str) -> None:
    if incident.kind == HOLIDAY_WATCH:
        raise Conflict("holiday_watch", f"节日市场预警由系统按预案发布，不能{what_zh}", f"a holiday watch cannot be {what_en}")
    if incident.status in FINISHED:
        raise Conflict("finished", f"事件已归档、已作废或已关闭，不能{what_zh}",
                       f"the incident is archived, withdrawn or closed; cannot {what_en}")


def correct(session: Session, *, incident_id: int, changes: Mapping[str, Any], reason: str, actor,
            now: datetime) -> Incident:
    """Correct registration fields with a reason; the audit trail keeps each old and new value."""
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = service.plan_of(incident)
    permissions.require(actor, "correct", incident, plan)
    _editable(incident, "更正", "corrected")
    if actor.role == "station" and (incident.level is not None or incident.status != REGISTERED):
        raise Conflict("graded", "事件已定级，市场监督管理所不能再更正，请联系应急办公室",
                       "a station corrects its registration only before grading")
    reason = service.text_field(reason, "reason", limit=2000)
    unknown = sorted(k for k in changes if k not in CORRECTABLE)
    if unknown:
        raise InvalidInput("not_correctable", "不能更正的内容：" + "、".join(unknown[:5]),
                           f"fields that cannot be corrected: {', '.join(unknown[:5])}", field=unknown[0])
    wanted = _checked(plan, incident, changes, actor=actor, now=now)
    diffs = {}
    for field, value in wanted.items():
        old = getattr(incident, field)
        if old != value:
            diffs[field] = {"from": old.isoformat() if isinstance(old, datetime) else old,
                            "to": value.isoformat() if isinstance(value, datetime) else value}
            setattr(incident, field, value)
    if not diffs:
        raise InvalidInput("no_change", "没有需要更正的内容（与现登记相同）", "nothing differs from the registration")
    if "category" in diffs:
        incident.lead_department = plan.category(incident.category).lead_department
        diffs["lead_department"] = {"from": None, "to": incident.lead_department}
    audit.record(session, actor=actor, action="incident.corrected", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now, data={"changes": diffs, "reason": reason})
    clock_rows.reconcile(session, incident, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="corrected", at=now)
    return incident


def _checked(plan, incident: Incident, changes: Mapping[str, Any], *, actor, now: datetime) -> dict:
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "discovered_at":
            if not isinstance(value, datetime):
                raise InvalidInput("bad_time", "发现时间须为带时区的时间", "discovered_at must be a time", field=field)
            out[field] = service.not_future(value, now, field, plan)
        elif field == "category":
            if incident.activated_at is not None:
                raise Conflict("activated", "已启动应急响应，事件类别不能再更正", "the category is fixed once the response is on")
            try:
                out[field] = plan.category(str(value)).code
            except KeyError:
                raise InvalidInput("unknown_category", f"预案中没有事件类别“{str(value)[:40]}”", "unknown category",
                                   field=field) from None
        elif field == "station":
            code = value or None
            if code is not None:
                try:
                    plan.station(str(code))
                except KeyError:
                    raise InvalidInput("unknown_station", f"预案中没有市场监督管理所“{str(code)[:40]}”",
                                       "unknown station", field=field) from None
            if actor.role == "station" and code != actor.unit:
                raise InvalidInput("wrong_station", "市场监督管理所只能登记本所辖区的事件", "a station keeps its own events",
                                   field=field)
            out[field] = code
        else:
            if value is not None and not isinstance(value, str):
                raise InvalidInput("bad_type", f"{service.FIELD_NAMES[field]}须为文本", f"{field} must be text",
                                   field=field)
            required = field in ("title", "location", "source", "nature")
            limit = 200 if field == "title" else service.SHORT_FIELDS.get(field, service.MAX_TEXT)
            out[field] = service.text_field(value, field, required=required, limit=limit)
    return out


def withdraw(session: Session, *, incident_id: int, kind: str, reason: str, actor, now: datetime,
             duplicate_of: int | None = None) -> Incident:
    """Withdraw a test registration (作废); a duplicate or a false report is closed instead (dispositions.py).

    A test registration leaves every board and every count, the sheet included. Its clocks still
    ahead are cancelled with the reason; one already past due stays overdue on the record, as on
    any incident: the sheet leaves a withdrawn incident out anyway, but the row must not claim the
    clock was cancelled before it ran out, and a withdrawal found to be wrong must not have erased it.
    Old clients still withdraw duplicates and false reports here; those now close (status closed).
    """
    if kind in (dispositions.DUPLICATE, dispositions.FALSE_REPORT):
        return dispositions.close_without_response(session, incident_id=incident_id, kind=kind, reason=reason,
                                                   actor=actor, now=now, duplicate_of=duplicate_of)
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = service.plan_of(incident)
    permissions.require(actor, "withdraw", incident, plan)
    _editable(incident, "作废", "withdrawn")
    if kind != TEST:
        raise InvalidInput("unknown_kind", "作废只用于测试登记；重复登记、不属实或决定不启动响应请使用“关闭”",
                           "withdraw takes kind test; close a duplicate, false or not-activated event instead",
                           field="kind")
    reason = service.text_field(reason, "reason", limit=2000)
    why = f"登记已作废（{labels.WITHDRAW_KIND[kind]}）：{reason}"
    before = incident.status
    incident.status, incident.withdrawn_at, incident.withdrawn_by_id = WITHDRAWN, now, actor_id(actor)
    incident.withdraw_kind, incident.withdraw_reason = kind, reason
    dispositions.settle_clocks(session, incident, reason=why, actor=actor, now=now)
    holders = dispositions.cancel_tasks(session, incident, reason=why, actor=actor, now=now)
    escalation.settle_incident(session, incident, reason=why, now=now, clocks_too=True)
    audit.record(session, actor=actor, action="incident.withdrawn", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now,
                 data={"kind": kind, "reason": reason, "duplicate_of": None,
                       "status_before": before, "number": incident.number})
    # Departments that only hold tasks of it are told too: their boards drop those tasks.
    announce.incident_changed(session, incident, plan, what="withdrawn", at=now,
                              also={department_room(d) for d in holders})
    return incident
