"""Use cases that touch an incident and its assignments together (Dispatch's flows.py role).

`service` changes one incident and its clocks, `assignments` one task; what crosses the
two lives here, so neither has to import the other behind a function.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents.models import ACTIVE, Assignment, Incident, Report
from incidents.plan.versions import plan_of
from incidents.records import announce
from incidents.response import assignments, command_hq, service


def grade(session: Session, *, incident_id: int, level: str, reason: str, actor, now: datetime) -> Incident:
    """Grade or re-grade an incident; an active response gets the new level's standard assignments."""
    incident = service.grade(session, incident_id=incident_id, level=level, reason=reason, actor=actor, now=now)
    plan = plan_of(incident)
    # A downgrade takes back what the new level no longer asks for; an upgrade adds what it does.
    assignments.retire_void(session, incident, plan, actor=actor, now=now)
    assignments.ensure_standard(session, incident, plan, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="graded", at=now)
    return incident


def activate(session: Session, *, incident_id: int, actor, now: datetime, hq: dict | None = None) -> Incident:
    """Activate the emergency response (启动应急响应): clocks start, standard assignments go out.

    With `hq` ({"commander", "members", "reason"}) the command HQ is named in the same transaction.
    """
    incident = service.activate(session, incident_id=incident_id, actor=actor, now=now)
    if hq is not None:
        command_hq.name_hq(session, incident_id=incident.id, commander_id=hq["commander"],
                           member_ids=hq.get("members") or (), reason=hq.get("reason"), actor=actor, now=now)
    plan = plan_of(incident)
    assignments.ensure_standard(session, incident, plan, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="activated", at=now)
    return incident


def submit_report(session: Session, *, incident_id: int, kind: str, body: str, actor, now: datetime,
                  submitted_at: datetime | None = None, measure: str | None = None,
                  skip_level_reason: str | None = None) -> Report:
    """File a report; a measure report closes the open assignments of that measure."""
    report = service.submit_report(session, incident_id=incident_id, kind=kind, body=body, actor=actor, now=now,
                                   submitted_at=submitted_at, measure=measure, skip_level_reason=skip_level_reason)
    incident = report.incident
    if kind == "measure":
        assignments.close_for_measure(session, incident, measure=report.measure, note=report.body, actor=actor,
                                      now=now)
    announce.incident_changed(session, incident, plan_of(incident), what=f"report:{kind}", at=now)
    return report


def complete_assignment(session: Session, *, assignment_id: int, note: str, actor, now: datetime) -> Assignment:
    """Mark an assignment done; a measure's assignment files the measure's report, which meets its clock."""
    row = assignments.complete(session, assignment_id=assignment_id, note=note, actor=actor, now=now)
    if row.clock is not None and row.incident.status == ACTIVE:
        submit_report(session, incident_id=row.incident_id, kind="measure", measure=row.clock, body=row.done_note,
                      actor=actor, now=now)
    return row
