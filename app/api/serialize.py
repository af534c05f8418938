"""Incidents and their rows as the API shows them (times ISO 8601 with offset)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import object_session

from incidents.kernel import labels
from incidents.kernel.moments import iso
from app.extensions import db
from incidents.response import dispositions, inbox, report_record
from incidents.response import command_hq
from incidents.response.accountability import outcome
from incidents.models import Deadline, Incident, Report
from incidents.records import snapshots
from incidents.response.service import plan_of


def deadline(row: Deadline, now: datetime) -> dict:
    """Return a clock as the API names it."""
    return {
        "id": row.id, "kind": row.kind, "cycle": row.cycle, "name": row.name, "department": row.department,
        "station": row.station, "starts_at": iso(row.starts_at), "due_at": iso(row.due_at), "status": row.status,
        "outcome": outcome(row, now), "satisfied_at": iso(row.satisfied_at),
        "satisfied_by_report": row.satisfied_by_report_id, "late_seconds": row.late_seconds,
        "judged_by": row.judged_by,
        "cancelled_at": iso(row.cancelled_at), "cancel_reason": row.cancel_reason,
        "seconds_left": int((row.due_at - now).total_seconds()),
        "warn_before_seconds": list(row.warn_before),
    }


def report(row: Report, loaded: report_record.Loaded | None = None) -> dict:
    """Return a report as the API shows it (`loaded`: what report_record.preload fetched for a list of them)."""
    return {"id": row.id, "kind": row.kind, "measure": row.measure, "body": row.body,
            "submitted_at": iso(row.submitted_at), "entered_at": iso(row.entered_at),
            "submitted_by": row.submitted_by_id, **report_record.record(db(), row, loaded)}


def incident_summary(incident: Incident) -> dict:
    """Return the headline fields of an incident."""
    plan = plan_of(incident)
    return {
        "id": incident.id, "number": incident.number, "kind": incident.kind, "title": incident.title,
        "category": incident.category,
        "level": incident.level, "level_numeral": plan.level(incident.level).numeral if incident.level else None,
        "status": incident.status, "lead_department": incident.lead_department, "station": incident.station,
        "discovered_at": iso(incident.discovered_at), "created_at": iso(incident.created_at),
        "activated_at": iso(incident.activated_at), "ended_at": iso(incident.ended_at),
        "archived_at": iso(incident.archived_at), "registered_unit": incident.registered_unit,
        "withdrawn": {"at": iso(incident.withdrawn_at), "kind": incident.withdraw_kind, "reason": incident.withdraw_reason,
                      "by": incident.withdrawn_by_id, "duplicate_of": incident.duplicate_of_id}
        if incident.withdrawn_at else None,
        "closed": closed(incident),
    }


def closed(incident: Incident) -> dict | None:
    """Return how an event was closed without a response (不启动, 不属实, 重复), or None."""
    if dispositions.disposition(incident) is None:
        return None
    return {"kind": incident.withdraw_kind, "kind_name": labels.WITHDRAW_KIND[incident.withdraw_kind],
            "reason": incident.withdraw_reason, "by": incident.withdrawn_by_id, "at": iso(incident.withdrawn_at),
            "duplicate_of": incident.duplicate_of_id}


def incident(incident: Incident, now: datetime) -> dict:
    """Return an incident with its facts, level history, reports and clocks."""
    plan = plan_of(incident)
    loaded = report_record.preload(object_session(incident), incident.reports) if incident.reports else None
    return {
        **incident_summary(incident),
        "location": incident.location, "source": incident.source, "nature": incident.nature,
        "scope": incident.scope, "trend": incident.trend, "measures_taken": incident.measures_taken,
        "casualties": incident.casualties, "end_reason": incident.end_reason,
        "plan": {"id": plan.id, "version": plan.version, "sha256": plan.sha256},
        "level_changes": [{"from": c.from_level, "to": c.to_level, "reason": c.reason, "by": c.changed_by_id,
                           "at": iso(c.changed_at)} for c in incident.level_changes],
        "reports": [report(r, loaded) for r in incident.reports],
        "deadlines": [deadline(d, now) for d in incident.deadlines],
        "assignments": [snapshots.assignment(a, plan) for a in incident.assignments],
        "duplicates": dispositions.duplicates(object_session(incident), incident),
        **command_hq_fields(incident, plan),
        "linked_from": inbox.link_of(object_session(incident), incident.id),
        "inbound": [inbox.as_dict(r) for r in inbox.of_incident(object_session(incident), incident.id)],
    }


def hq(view: dict) -> dict:
    """Return one naming of the command HQ as the API shows it."""
    return {**view, "named_at": iso(view["named_at"])}


def command_hq_fields(incident: Incident, plan) -> dict:
    """Return the command HQ in charge (or null), whether the level calls for one, and every naming."""
    session = object_session(incident)
    rows = [hq(v) for v in command_hq.history_view(session, incident)]
    return {"command_hq": rows[-1] if rows else None, "command_hq_required": command_hq.required(plan, incident),
            "command_hq_history": rows}
