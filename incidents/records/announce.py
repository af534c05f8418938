"""What the boards are told when something changes, and which rooms hear it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents.records import board_events, snapshots
from incidents.records.board_events import OVERVIEW, department_room, station_room
from incidents.models import Assignment, Deadline, Incident
from incidents.plan import Plan


def incident_rooms(incident: Incident, plan: Plan) -> set[str]:
    """Return the rooms that follow an incident: overview, lead, support, clock owners, station."""
    rooms = {OVERVIEW, department_room(incident.lead_department)}
    if incident.activated_at is not None:
        rooms.update(department_room(d) for d in plan.support_departments)
    rooms.update(department_room(d.department) for d in incident.deadlines if d.department)
    if incident.station:
        rooms.add(station_room(incident.station))
    return rooms


def incident_changed(session: Session, incident: Incident, plan: Plan, *, what: str, at: datetime,
                     also: set[str] = frozenset()) -> None:
    """Tell the boards that follow an incident (and the rooms in `also`) what happened to it."""
    board_events.publish(session, rooms=incident_rooms(incident, plan) | set(also), event_name="incident",
                         payload={"what": what, "incident": snapshots.incident(incident, plan)}, at=at)


def assignment_changed(session: Session, assignment: Assignment, plan: Plan, *, what: str, at: datetime) -> None:
    """Tell the department's board and the overview about an assignment."""
    board_events.publish(session, rooms={OVERVIEW, department_room(assignment.department)},
                         event_name="assignment",
                         payload={"what": what, "assignment": snapshots.assignment(assignment, plan)}, at=at)


def clock_fired(session: Session, deadline: Deadline, incident: Incident, plan: Plan, *, kind: str,
                payload: dict, at: datetime) -> None:
    """Tell the boards that a clock is about to run out, or has."""
    rooms = incident_rooms(incident, plan)
    if deadline.department:
        rooms.add(department_room(deadline.department))
    board_events.publish(session, rooms=rooms, event_name="clock",
                         payload={"what": kind, "firing": payload, "deadline": snapshots.deadline(deadline)}, at=at)


def unit_room(plan: Plan, code: str) -> str:
    """Return the board room of a unit that keeps a roster: a department's, or a station's."""
    return department_room(code) if code in {d.code for d in plan.departments} else station_room(code)


def duty_notice(session: Session, plan: Plan, unit: str, *, what: str, title: str, message: str, shift: dict,
                at: datetime) -> None:
    """Tell the office (the overview) and the unit's own board about something on its roster to check."""
    board_events.publish(session, rooms={OVERVIEW, unit_room(plan, unit)}, event_name="alert",
                         payload={"what": what, "title": title, "message": message, "department": unit,
                                  "shift": shift}, at=at)


def duty_changed(session: Session, department: str, *, what: str, shift: dict, at: datetime) -> None:
    """Tell the department's board and the overview that its roster changed."""
    board_events.publish(session, rooms={OVERVIEW, department_room(department)}, event_name="duty",
                         payload={"what": what, "shift": shift}, at=at)
