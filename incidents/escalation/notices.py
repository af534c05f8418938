"""What an escalation tells: the board event, the delivery rows, and the texts of its messages."""
from __future__ import annotations

from typing import TYPE_CHECKING

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import board_events
from incidents.escalation import messages
from incidents.records.board_events import OVERVIEW, department_room, station_room
from incidents.models import (
    ESC_ACKNOWLEDGED,
    ESC_RESOLVED,
    ComplaintLimitRow,
    Delivery,
    Escalation,
    Incident,
)
from incidents.plan import Plan
from incidents.records.snapshots import iso
from incidents.kernel.actors import SystemActor
from incidents.escalation.frozen import step_of
from incidents.plan.versions import plan_of
from incidents.records import snapshots

if TYPE_CHECKING:  # the walk's context, which itself writes these notices
    from incidents.escalation.walk import Context


ESCALATOR = SystemActor(name="escalation")


ALIVE = ("pending", "held", "sending", "queued", "sent", "delivered", "unknown")


BAD = ("undelivered", "failed", "skipped", "cancelled")


OUT = ("sending", "queued", "sent", "delivered", "undelivered", "unknown")  # handed to the provider


def add_delivery(session: Session, row: Escalation | None, *, step: int | None, purpose: str, channel: str,
                  audience: str | None, user_id: int | None, name: str, phone: str | None, now: datetime,
                  content: str, status: str, error: str | None = None, seen: set[str] | None = None) -> Delivery | None:
    person = user_id if user_id is not None else (phone or name)
    key = f"{row.id if row else 0}:{step if step is not None else purpose}:{channel}:{person}"
    # A step already told this person (a repeated firing): tell nobody twice.
    if seen is not None:
        if key in seen:
            return None
        seen.add(key)
    elif session.scalar(select(Delivery.id).where(Delivery.dedupe_key == key)) is not None:
        return None
    d = Delivery(dedupe_key=key, escalation=row, incident_id=row.incident_id if row else None, step=step,
                 purpose=purpose, channel=channel, audience=audience, user_id=user_id, name=name[:80], phone=phone,
                 content=content, status=status, attempts=0, error_message=error,
                 next_attempt_at=now if status == "pending" else None,
                 sent_at=now if status == "delivered" else None, created_at=now, updated_at=now)
    session.add(d)
    return d


def incident_plan(incident: Incident) -> Plan:
    """Return the plan an incident runs under (the escalation's texts name its clocks as that plan does)."""
    return plan_of(incident)


def item_code(row: Escalation) -> str:
    if row.complaint_limit_id is not None:
        return f"C{row.complaint_limit_id}"
    return messages.item_code("assignment", row.assignment_id) if row.assignment_id else \
        messages.item_code("clock", row.deadline_id)


def item_title(session: Session, row: Escalation) -> str:
    """Return what the item is about: the incident's title, or the complained-about business."""
    if row.complaint_limit_id is not None:
        return session.get(ComplaintLimitRow, row.complaint_limit_id).complaint.business_name
    return session.get(Incident, row.incident_id).title


def alert_text(ctx: Context, row: Escalation, plan: Plan | None) -> str:
    if row.complaint_limit_id is not None:
        limit = ctx.limits[row.complaint_limit_id]
        return messages.complaint_limit_text(
            code=item_code(row), tracking_no=limit.complaint.tracking_no, business=limit.complaint.business_name,
            limit_name=limit.name, due_at=limit.due_at, overdue=row.trigger == "overdue", reply_code=row.reply_code)
    incident = ctx.incidents[row.incident_id]
    if row.assignment_id is not None:
        return messages.assignment_text(snapshots.assignment(ctx.assignments[row.assignment_id], plan),
                                        reply_code=row.reply_code)
    deadline = ctx.deadlines[row.deadline_id]
    return messages.clock_text(snapshots.deadline(deadline), snapshots.incident(incident, plan),
                               overdue=row.trigger == "overdue", reply_code=row.reply_code)


def handled_text(session: Session, row: Escalation, *, status: str, reason: str) -> str:
    by = f"{row.ack_by_name}（{labels.CHANNEL.get(row.ack_channel or '', '')}）" if row.ack_by_name else None
    outcome = {ESC_ACKNOWLEDGED: "acknowledged", ESC_RESOLVED: "resolved"}.get(status, "stopped")
    return messages.handled_text(item_code(row), item_title(session, row), outcome=outcome, by=by, reason=reason)


def announce(session: Session, row: Escalation, *, what: str, at: datetime, step: int | None = None,
              also: str | None = None) -> None:
    unit_room = department_room(row.department) if row.department else station_room(row.station)
    rooms = {OVERVIEW, unit_room} | ({department_room(also)} if also else set())
    board_events.publish(session, rooms=rooms, event_name="escalation",
                         payload={"what": what, "escalation": summary(row, step=step)}, at=at)


def summary(row: Escalation, *, step: int | None = None) -> dict:
    """Return an escalation's headline for a board: the item, the state, the step just taken."""
    out = {"id": row.id, "incident_id": row.incident_id, "complaint_limit_id": row.complaint_limit_id,
           "code": item_code(row), "trigger": row.trigger,
           "trigger_name": labels.ESCALATION_TRIGGER.get(row.trigger, row.trigger), "assignment_id": row.assignment_id,
           "deadline_id": row.deadline_id, "department": row.department, "station": row.station,
           "status": row.status, "status_name": labels.ESCALATION_STATUS[row.status], "started_at": iso(row.started_at),
           "next_at": iso(row.next_at), "stopped_at": iso(row.stopped_at), "stop_reason": row.stop_reason,
           "ack_by": row.ack_by_name, "ack_channel": row.ack_channel, "level": row.chain.get("level")}
    if step is not None:
        s = step_of(row.chain, step)
        out["step"] = {"n": step, "round": s["round"], "channel": s["channel"],
                       "channel_name": labels.CHANNEL[s["channel"]], "to": s["to"],
                       "to_name": labels.AUDIENCE[s["to"]]}
    return out
