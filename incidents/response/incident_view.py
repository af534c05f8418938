"""One incident as people read it: the presenter the incident page and the briefing PDF share.

The board adds countdowns and forms, the briefing ISO times and follow-up lines; the names of
clocks, reports, levels and audit entries come from here, so the two cannot drift apart.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from incidents.kernel import labels
from incidents.kernel.roles import ROLES
from incidents.models import CANCELLED, LATE, Deadline, Incident, User
from incidents.plan import Plan
from incidents.records import audit, wording
from incidents.response import accountability, report_record


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Return the names of the users with these ids (None and unknown ids left out)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


def people_of(session: Session, incident: Incident) -> dict[int, str]:
    """Return the names of everyone who graded, reported, registered or ended the incident."""
    return user_names(session, [c.changed_by_id for c in incident.level_changes]
                      + [r.submitted_by_id for r in incident.reports]
                      + [incident.created_by_id, incident.ended_by_id])


def clock_entry(row: Deadline, plan: Plan, now: datetime) -> dict:
    """Return a clock's name, unit, times, status and accountability outcome (met, late, missed, running)."""
    return {
        "id": row.id, "kind": row.kind, "cycle": row.cycle, "name": labels.clock_name(plan, row.kind, row.cycle, row.name),
        "unit": wording.unit(plan, row.department or row.station), "department": row.department, "station": row.station,
        "starts_at": row.starts_at, "due_at": row.due_at, "status": row.status,
        "status_name": labels.CLOCK_STATUS.get(row.status, row.status),
        "outcome": accountability.outcome(row, now) if row.status != CANCELLED else "cancelled",
        "satisfied_at": row.satisfied_at, "satisfied_by_report_id": row.satisfied_by_report_id,
        "late_seconds": row.late_seconds if row.status == LATE else None,
        "cancelled_at": row.cancelled_at, "cancel_reason": row.cancel_reason, "judged_by": row.judged_by,
        "mark": _clock_mark(row),
    }


def _clock_mark(row: Deadline) -> str | None:
    """Say how a satisfied clock was judged when it is not plainly by its report's time: 补录 or the deliveries."""
    if row.satisfied_by_report_id is None:
        return None
    report = next((r for r in row.incident.reports if r.id == row.satisfied_by_report_id), None)
    if report is None:
        return None
    # Only the claim makes the mark, and only a backdated report has one: its review, recipients, document
    # and dispatches are not loaded for every clock of a list (the daily report lists hundreds).
    review = report.review if report.backdated else None
    mark = report_record.backdated_label({"claim": report_record.claim(object_session(row), report.backdated, review)})
    if row.judged_by == "delivery":
        return "以各报送对象收到时间计" + (f"；{mark}" if mark else "")
    return mark


def report_entries(incident: Incident, plan: Plan, people: dict[int, str]) -> list[dict]:
    """Return the incident's reports: kind, measure, body, claimed and entered time, who filed it, 补录, recipients,
    its sign-off (签发), the document it went out as and its 越级上报 reason."""
    out = []
    loaded = report_record.preload(object_session(incident), incident.reports) if incident.reports else None
    for r in incident.reports:
        record = report_record.record(object_session(r), r, loaded)
        out.append({
            "id": r.id, "kind": r.kind, "kind_name": labels.REPORT_KIND.get(r.kind, r.kind),
            "measure": labels.clock_name(plan, r.measure) if r.measure else None, "body": r.body,
            "submitted_at": r.submitted_at, "entered_at": r.entered_at,
            # No person: the system filed it (another bureau's report, filed here as it arrived).
            "by": people.get(r.submitted_by_id, f"用户{r.submitted_by_id}") if r.submitted_by_id else "系统自动登记",
            "backdated": r.backdated, "claim": record["claim"], "mark": report_record.backdated_label(record),
            "recipients": record["recipients"], "submitted_by_id": r.submitted_by_id,
            "sign_off": _sign_off(record["sign_off"]), "document": record["document"],
            "skip_level_reason": record["skip_level_reason"],
        })
    return out


def _sign_off(entry: dict | None) -> dict | None:
    """Return a report's sign-off with the names of the roles that give it (None: the report goes as filed)."""
    if entry is None:
        return None
    return {**entry, "role_names": "、".join(ROLES.get(r, r) for r in entry["roles"])}


def level_entries(incident: Incident, plan: Plan, people: dict[int, str]) -> list[dict]:
    """Return the incident's gradings, oldest first, with the reason and who graded."""
    return [{
        "from": wording.level(plan, c.from_level), "to": wording.level(plan, c.to_level), "reason": c.reason,
        "at": c.changed_at, "by": people.get(c.changed_by_id, f"用户{c.changed_by_id}"), "first": n == 0,
    } for n, c in enumerate(incident.level_changes)]


def timeline(session: Session, incident: Incident, plan: Plan, fmt) -> list[dict]:
    """Return the incident's audit trail, oldest first, in Chinese; `fmt` formats an ISO time."""
    departments = {str(a.id): a.department for a in incident.assignments}
    rows = audit.history(session, incident_id=incident.id)  # with the entries still waiting to be sealed
    return [wording.audit_entry(row, plan, fmt, departments) for row in rows]
