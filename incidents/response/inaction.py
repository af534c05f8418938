"""Inaction (不作为, plan §五(三)2: 不积极配合、推诿扯皮): tasks overdue, declined or never acknowledged.

The accountability sheet (accountability.report) lists, per department, the tasks created in its
period that went wrong, each with what went wrong in Chinese:

- overdue (超时未完成): still open past its due time (已超 …), or done after it (逾期 …). A decline
  waiting for approval is still open: the measure stays with the department until a leader decides.
- declined (否定报备): every decline filed, with its approval (待审批, 已同意, 不同意, 无须审批) and
  who decided it. A rejected decline stays listed: the department tried to hand the task back.
- unacknowledged (未签收): still pushed once the plan would escalate it beyond the board (the first
  step of the incident's level's chain that is not the board: by then the officer has been
  texted or called, so not acknowledging is no oversight), or closed (done by a report, or
  cancelled) that long after the push without anyone ever acknowledging it. A task declined
  straight from the push is counted as declined, not also here: the department did answer.

Holiday watches count like any incident (a watch task past due is inaction too); withdrawn
(test) registrations do not count at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from incidents.kernel import labels
from incidents.kernel.durations import chinese_duration
from incidents.kernel.states import DeclineStatus
from incidents.models import (
    ASSIGNMENT_CANCELLED,
    DONE,
    OPEN_ASSIGNMENT,
    PUSHED,
    WITHDRAWN,
    Assignment,
    Incident,
    User,
)
from incidents.plan import Plan
from incidents.response.service import plan_of

PROBLEMS = ("overdue", "declined", "unacknowledged")
# When the plan's chain for a level has no step beyond the board (it always has one today).
DEFAULT_GRACE = timedelta(minutes=30)
UNGRADED = "ungraded"  # the plan's chain for an incident not yet graded


class Period(Protocol):
    """Which tasks to count (accountability.Filter): created_at in [due_from, due_to), unit, incidents."""

    due_from: datetime | None
    due_to: datetime | None
    unit: str | None
    incident_id: int | None
    incident_ids: frozenset[int] | None


@dataclass
class _Department:
    head: dict
    counts: dict = field(default_factory=lambda: {"overdue": 0, "declined": 0, "declined_pending": 0,
                                                  "unacknowledged": 0})
    items: list[dict] = field(default_factory=list)


def grace(plan: Plan, level: str | None) -> timedelta:
    """Return how long a task may wait on the board before not acknowledging it counts: the first non-board step."""
    chains = dict(plan.escalation)
    chain = chains.get(level or UNGRADED) or chains.get(UNGRADED)
    waits = [s.after for s in chain.steps if s.channel != "board"] if chain is not None else []
    return min(waits, default=DEFAULT_GRACE)


def section(session: Session, *, now: datetime, flt: Period) -> dict:
    """Return the sheet's "inaction" (per department: counts and items) and "inaction_totals"."""
    stmt = (select(Assignment).join(Incident).options(joinedload(Assignment.incident).joinedload(Incident.plan_version))
            .where(Incident.status != WITHDRAWN).order_by(Assignment.created_at, Assignment.id))
    if flt.due_from is not None:
        stmt = stmt.where(Assignment.created_at >= flt.due_from)
    if flt.due_to is not None:
        stmt = stmt.where(Assignment.created_at < flt.due_to)
    if flt.unit:
        stmt = stmt.where(Assignment.department == flt.unit)
    if flt.incident_id is not None:
        stmt = stmt.where(Assignment.incident_id == flt.incident_id)
    if flt.incident_ids is not None:
        stmt = stmt.where(Assignment.incident_id.in_(flt.incident_ids or {-1}))
    rows = list(session.scalars(stmt).unique())
    # Not incident_view.user_names: incident_view reads the accountability sheet, which reads this module.
    deciders = {r.decline_decided_by_id for r in rows if r.decline_decided_by_id}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(deciders))).all()) if deciders else {}
    departments: dict[str, _Department] = {}
    for row in rows:
        plan = plan_of(row.incident)
        found = problems(row, plan, now, names)
        if not found:
            continue
        dept = departments.setdefault(row.department, _Department(head={
            "department": row.department,
            "name": plan.unit_name(row.department) if plan.has_unit(row.department) else row.department}))
        for item in found:
            dept.counts[item["problem"]] += 1
            if item["problem"] == "declined" and item["decline_status"] == DeclineStatus.PENDING:
                dept.counts["declined_pending"] += 1
            dept.items.append(item)
    out = sorted(departments.values(), key=lambda d: (-sum(d.counts[p] for p in PROBLEMS), d.head["name"]))
    totals = {k: sum(d.counts[k] for d in out) for k in ("overdue", "declined", "declined_pending", "unacknowledged")}
    return {"inaction": [{**d.head, "counts": d.counts, "items": d.items} for d in out],
            "inaction_totals": {**totals, "departments": len(out)}}


def problems(row: Assignment, plan: Plan, now: datetime, names: dict[int, str]) -> list[dict]:
    """Return what went wrong with one task (overdue, declined, unacknowledged), each as a sheet item."""
    out = []
    if row.due_at is not None:
        if row.status in OPEN_ASSIGNMENT and row.due_at <= now:
            late = int((now - row.due_at).total_seconds())
            out.append(_item(row, plan, "overdue", f"超过完成时限仍未完成，已超 {chinese_duration(late)}", late))
        elif row.status == DONE and row.done_at is not None and row.done_at > row.due_at:
            late = int((row.done_at - row.due_at).total_seconds())
            out.append(_item(row, plan, "overdue", f"逾期完成，超过完成时限 {chinese_duration(late)}", late))
    if row.declined_at is not None:
        status = row.decline_status or DeclineStatus.NOT_REQUIRED  # declined before approval existed
        said = f"否定报备（{labels.DECLINE_STATUS.get(status, status)}）：{row.decline_reason or ''}"
        decided_by = names.get(row.decline_decided_by_id) if row.decline_decided_by_id else None
        if status in (DeclineStatus.APPROVED, DeclineStatus.REJECTED) and decided_by:
            said += f"；{decided_by}审批"
        if status == DeclineStatus.REJECTED and row.decline_note:
            said += f"，不同意理由：{row.decline_note}"
        out.append(_item(row, plan, "declined", said, None, decline_status=status, decided_by=decided_by))
    if row.acknowledged_at is None:
        wait = grace(plan, row.incident.level)
        if row.status == PUSHED and now - row.created_at >= wait:
            waited = int((now - row.created_at).total_seconds())
            out.append(_item(row, plan, "unacknowledged", f"推送后 {chinese_duration(waited)} 仍未签收", waited))
        else:
            closed_at = row.cancelled_at if row.status == ASSIGNMENT_CANCELLED else \
                row.done_at if row.status == DONE else None
            if closed_at is not None and closed_at - row.created_at >= wait:
                waited = int((closed_at - row.created_at).total_seconds())
                how = f"撤销（{row.cancel_reason}）" if row.status == ASSIGNMENT_CANCELLED and row.cancel_reason else \
                    labels.ASSIGNMENT_STATUS.get(row.status, row.status)
                out.append(_item(row, plan, "unacknowledged",
                                 f"始终未签收，推送 {chinese_duration(waited)} 后{how}", waited))
    return out


def _item(row: Assignment, plan: Plan, problem: str, what: str, seconds: int | None, *,
          decline_status: str | None = None, decided_by: str | None = None) -> dict:
    incident = row.incident
    return {
        "assignment_id": row.id, "incident_id": incident.id, "incident_number": incident.number,
        "incident_title": incident.title, "department": row.department, "task": row.task,
        "measure": labels.clock_name(plan, row.clock) if row.clock else None,
        "created_at": row.created_at.isoformat(), "due_at": row.due_at.isoformat() if row.due_at else None,
        "status": row.status, "status_name": labels.ASSIGNMENT_STATUS.get(row.status, row.status),
        "problem": problem, "problem_name": labels.INACTION[problem], "what": what,
        "seconds": seconds, "duration": chinese_duration(seconds) if seconds is not None else None,
        "decline_status": decline_status,
        "decline_status_name": labels.DECLINE_STATUS.get(decline_status) if decline_status else None,
        "decline_reason": row.decline_reason if problem == "declined" else None,
        "decided_by": decided_by,
        "decided_at": row.decline_decided_at.isoformat() if problem == "declined" and row.decline_decided_at else None,
    }
