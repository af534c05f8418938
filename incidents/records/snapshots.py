"""Plain dictionaries of domain rows, for pushed events and anything else that needs JSON."""
from __future__ import annotations


from incidents.kernel.moments import iso
from incidents.models import Assignment, Deadline, Incident
from incidents.plan import Plan


def deadline(row: Deadline) -> dict:
    """Return a clock's state (not depending on the current time)."""
    return {"id": row.id, "kind": row.kind, "cycle": row.cycle, "name": row.name, "department": row.department,
            "station": row.station, "starts_at": iso(row.starts_at), "due_at": iso(row.due_at),
            "status": row.status, "satisfied_at": iso(row.satisfied_at), "late_seconds": row.late_seconds,
            "cancel_reason": row.cancel_reason, "warn_before_seconds": list(row.warn_before)}


def incident(row: Incident, plan: Plan) -> dict:
    """Return an incident's headline and live clocks."""
    level = plan.level(row.level) if row.level else None
    return {"id": row.id, "number": row.number, "kind": row.kind, "title": row.title, "category": row.category,
            "category_name": plan.category(row.category).name, "level": row.level,
            "level_numeral": level.numeral if level else None, "status": row.status,
            "lead_department": row.lead_department, "lead_department_name": plan.department(row.lead_department).name,
            "station": row.station, "discovered_at": iso(row.discovered_at), "activated_at": iso(row.activated_at),
            "ended_at": iso(row.ended_at), "deadlines": [deadline(d) for d in row.deadlines if d.status != "cancelled"]}


def assignment(row: Assignment, plan: Plan) -> dict:
    """Return an assignment with what a board needs to show it."""
    inc = row.incident
    return {"id": row.id, "incident_id": row.incident_id, "incident_number": inc.number,
            "incident_title": inc.title, "level": inc.level,
            "level_numeral": plan.level(inc.level).numeral if inc.level else None,
            "department": row.department, "department_name": plan.department(row.department).name,
            "task": row.task, "clock": row.clock, "due_at": iso(row.due_at), "status": row.status,
            "standard": row.standard, "created_at": iso(row.created_at),
            "acknowledged_at": iso(row.acknowledged_at), "started_at": iso(row.started_at),
            "progress_note": row.progress_note, "done_at": iso(row.done_at), "done_note": row.done_note,
            "declined_at": iso(row.declined_at), "decline_reason": row.decline_reason,
            "decline_status": row.decline_status, "decline_decided_by_id": row.decline_decided_by_id,
            "decline_decided_at": iso(row.decline_decided_at), "decline_note": row.decline_note,
            "uncovered_note": row.uncovered_note, "cancelled_at": iso(row.cancelled_at),
            "cancel_reason": row.cancel_reason}
