"""Closing an event that was never activated (未启动响应即关闭): 不启动, 不属实, 重复登记.

The plan has the leadership decide whether to activate (§二(三)3: 研究决定是否启动相应级别的应急预案),
and holds 迟报、漏报、谎报、瞒报 to account (§五(三)1). So an event the leadership decides not to
activate, that the office finds false, or that duplicates another, is closed with who, when, which
kind and why; it leaves the boards but stays on the accountability sheet as what it is. Its clocks
still ahead are cancelled with that reason; a clock already past due when the decision is taken
was missed before anyone decided anything, and stays missed: a closing never erases a 漏报.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents import escalation
from incidents.kernel import labels
from incidents.kernel.actors import actor_id
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.kernel.states import WithdrawKind
from incidents.models import (
    ASSIGNMENT_CANCELLED,
    CANCELLED,
    CLOSED,
    ESC_STOPPED,
    FINISHED,
    HOLIDAY_WATCH,
    OPEN_ASSIGNMENT,
    OVERDUE,
    PENDING,
    REGISTERED,
    WITHDRAWN,
    Deadline,
    Incident,
)
from incidents.people import permissions
from incidents.records import announce, audit
from incidents.records.board_events import department_room
from incidents.response import service

NOT_ACTIVATED, FALSE_REPORT, DUPLICATE = WithdrawKind.NOT_ACTIVATED, WithdrawKind.FALSE_REPORT, WithdrawKind.DUPLICATE
# The ways an event closes without a response, in the order the sheet lists them.
CLOSE_KINDS = (NOT_ACTIVATED, FALSE_REPORT, DUPLICATE)
# What the sheet and the incident page say next to the number: “不属实，已关闭”.
SHORT = {NOT_ACTIVATED: "决定不启动，已关闭", FALSE_REPORT: "不属实，已关闭", DUPLICATE: "重复登记，已关闭"}


def close_without_response(session: Session, *, incident_id: int, kind: str, reason: str, actor, now: datetime,
                           duplicate_of: int | None = None) -> Incident:
    """Close an event never activated (不启动 by the leadership; 不属实 or 重复 by the office or the leadership)."""
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = service.plan_of(incident)
    if kind not in CLOSE_KINDS:
        raise InvalidInput("unknown_kind", "关闭类别须为：决定不启动响应（not_activated）、不属实（false_report）或重复登记（duplicate）",
                           "kind: not_activated, false_report or duplicate", field="kind")
    permissions.require(actor, f"close:{kind}", incident, plan)
    _closable(incident)
    reason = service.text_field(reason, "reason", limit=2000)
    if kind == DUPLICATE:
        incident.duplicate_of_id = _original(session, incident, duplicate_of, actor=actor).id
    elif duplicate_of is not None:
        raise InvalidInput("not_duplicate", "只有重复登记才注明原事件", "duplicate_of goes only with kind duplicate",
                           field="duplicate_of")
    why = f"未启动响应即关闭（{labels.WITHDRAW_KIND[kind]}）：{reason}"
    before = incident.status
    incident.status, incident.withdrawn_at, incident.withdrawn_by_id = CLOSED, now, actor_id(actor)
    incident.withdraw_kind, incident.withdraw_reason = kind, reason
    kept = settle_clocks(session, incident, reason=why, actor=actor, now=now)
    holders = cancel_tasks(session, incident, reason=why, actor=actor, now=now)
    # Whatever still walks for the incident stops: the missed clocks stay missed, nobody is paged for them.
    escalation.settle_incident(session, incident, reason=why, now=now, clocks_too=True)
    audit.record(session, actor=actor, action="incident.closed", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now,
                 data={"kind": kind, "reason": reason, "duplicate_of": incident.duplicate_of_id,
                       "status_before": before, "number": incident.number, "missed_kept": kept})
    # Departments that only hold tasks of it are told too: their boards drop those tasks.
    announce.incident_changed(session, incident, plan, what="closed", at=now,
                              also={department_room(d) for d in holders})
    return incident


def _closable(incident: Incident) -> None:
    if incident.kind == HOLIDAY_WATCH:
        raise Conflict("holiday_watch", "节日市场预警由系统按预案发布和关闭，不能按未启动响应关闭",
                       "a holiday watch closes itself after the holiday")
    if incident.status in FINISHED:
        raise Conflict("finished", "事件已归档、已作废或已关闭", "the incident is archived, withdrawn or closed already")
    if incident.status != REGISTERED or incident.activated_at is not None:
        raise Conflict("activated", "已启动应急响应的事件不能按未启动响应关闭，请由有权人员宣布应急状态结束",
                       "the response is on: declare its end instead")


def _original(session: Session, incident: Incident, duplicate_of: int | None, *, actor) -> Incident:
    if duplicate_of is None:
        raise InvalidInput("missing_field", "重复登记须注明原事件编号", "name the original incident", field="duplicate_of")
    original = service.get_incident(session, duplicate_of, user=actor)
    if original.id == incident.id or original.status in (WITHDRAWN, CLOSED) or original.kind == HOLIDAY_WATCH:
        raise InvalidInput("bad_original", "原事件须是另一起未作废、未关闭的事件",
                           "the original must be another incident, neither withdrawn nor closed", field="duplicate_of")
    return original


def settle_clocks(session: Session, incident: Incident, *, reason: str, actor, now: datetime) -> list[int]:
    """Cancel the incident's clocks still ahead with the reason; keep those already past due as missed (漏报).

    Return the ids of the clocks kept as missed. A pending clock past due that the scheduler has
    not fired yet is recorded overdue here, with its audit entry, so the record does not depend on
    which came first, the scheduler or the decision.
    """
    # Locked: a scheduler firing one of these clocks right now must not race the decision.
    rows = list(session.scalars(select(Deadline).where(Deadline.incident_id == incident.id)
                                .order_by(Deadline.due_at, Deadline.id).with_for_update()
                                .execution_options(populate_existing=True)))
    kept = []
    for row in rows:
        if row.status == PENDING and row.due_at > now:
            row.status, row.cancelled_at, row.cancel_reason, row.next_fire_at = CANCELLED, now, reason, None
            escalation.settle_clock(session, row, status=ESC_STOPPED, reason=reason, now=now)
            audit.record(session, actor=actor, action="deadline.cancelled", entity="deadline", entity_id=row.id,
                         incident_id=incident.id, at=now, data={"kind": row.kind, "cycle": row.cycle, "reason": reason})
        elif row.status in (PENDING, OVERDUE):
            if row.status == PENDING:
                row.status = OVERDUE
                audit.record(session, actor=actor, action="deadline.overdue", entity="deadline", entity_id=row.id,
                             incident_id=incident.id, at=now,
                             data={"kind": row.kind, "cycle": row.cycle, "due_at": row.due_at.isoformat()})
            row.next_fire_at = None
            kept.append(row.id)
    return kept


def cancel_tasks(session: Session, incident: Incident, *, reason: str, actor, now: datetime) -> set[str]:
    """Cancel the incident's open tasks with the reason and stop their escalations; return their departments."""
    plan = service.plan_of(incident)
    departments = set()
    for row in incident.assignments:
        departments.add(row.department)
        if row.status not in OPEN_ASSIGNMENT:
            continue
        before = row.status
        row.status, row.cancelled_at, row.cancel_reason, row.closed_by_id = (ASSIGNMENT_CANCELLED, now, reason,
                                                                             actor_id(actor))
        escalation.settle_assignment(session, row, status=ESC_STOPPED, reason=reason, now=now)
        audit.record(session, actor=actor, action="assignment.cancelled", entity="assignment", entity_id=row.id,
                     incident_id=incident.id, at=now,
                     data={"from": before, "department": row.department, "reason": reason})
        announce.assignment_changed(session, row, plan, what="cancelled", at=now)
    return departments


# --- how the record shows it --------------------------------------------------------------------


def disposition(incident: Incident) -> dict | None:
    """Return how an event closed without a response ({kind, name, reason, at}), None if it did not."""
    if incident.status != CLOSED or incident.withdraw_kind not in CLOSE_KINDS:
        return None
    return {"kind": incident.withdraw_kind, "name": SHORT[incident.withdraw_kind], "reason": incident.withdraw_reason,
            "at": incident.withdrawn_at.isoformat() if incident.withdrawn_at else None}


class _Period(Protocol):
    due_from: datetime | None
    due_to: datetime | None
    unit: str | None
    incident_id: int | None
    incident_ids: frozenset[int] | None


def closed_counts(session: Session, flt: _Period) -> dict:
    """Count the events closed without a response in the sheet's period (by closing time), per kind, with numbers."""
    stmt = select(Incident).where(Incident.status == CLOSED).order_by(Incident.withdrawn_at, Incident.id)
    if flt.due_from is not None:
        stmt = stmt.where(Incident.withdrawn_at >= flt.due_from)
    if flt.due_to is not None:
        stmt = stmt.where(Incident.withdrawn_at < flt.due_to)
    if flt.incident_id is not None:
        stmt = stmt.where(Incident.id == flt.incident_id)
    if flt.incident_ids is not None:
        stmt = stmt.where(Incident.id.in_(flt.incident_ids or {-1}))
    if flt.unit:
        # A unit's sheet names the closings of its own events: those it leads, its station's, its clocks'.
        clocks = select(Deadline.incident_id).where((Deadline.department == flt.unit) | (Deadline.station == flt.unit))
        stmt = stmt.where((Incident.lead_department == flt.unit) | (Incident.station == flt.unit)
                          | Incident.id.in_(clocks))
    out = {k.value: {"name": labels.WITHDRAW_KIND[k], "count": 0, "numbers": []} for k in CLOSE_KINDS}
    for incident in session.scalars(stmt):
        if incident.withdraw_kind in out:
            out[incident.withdraw_kind]["count"] += 1
            out[incident.withdraw_kind]["numbers"].append(incident.number)
    return out


def duplicates(session: Session, incident: Incident) -> list[dict]:
    """Return the registrations closed as duplicates of this incident, oldest first, as {id, number}."""
    rows = session.scalars(select(Incident).where(Incident.duplicate_of_id == incident.id).order_by(Incident.id))
    return [{"id": i.id, "number": i.number} for i in rows]
