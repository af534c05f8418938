"""Deadlines as rows: the clocks an incident's facts call for are started, re-timed, cancelled and met here."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents import escalation
from incidents.kernel.durations import chinese_duration
from incidents.models import (
    CANCELLED,
    ESC_RESOLVED,
    ESC_STOPPED,
    HOLIDAY_WATCH,
    LATE,
    MET,
    OVERDUE,
    PENDING,
    Deadline,
    Incident,
    Report,
)
from incidents.plan import Plan
from incidents.plan.versions import plan_of
from incidents.records import audit
from incidents.response.claimed_times import counts_at, report_time
from incidents.response.deadlines import ClockSpec, IncidentFacts, desired_clocks, fire_points, first_stage

LIVE = (PENDING, OVERDUE)


def registered_by_station(incident: Incident, plan: Plan) -> bool:
    """Tell whether a station registered the event (else the bureau itself learned of it by registering it)."""
    return incident.registered_unit is not None and incident.registered_unit in plan.station_codes()


def facts_of(incident: Incident, plan: Plan) -> IncidentFacts:
    """Read the facts the clocks depend on off an incident and its rows."""
    initial = [report_time(r)[0] for r in incident.reports if r.kind == "initial"]
    initial_at = min(initial) if initial else None
    informed = [t for t in (initial_at, None if registered_by_station(incident, plan) else incident.created_at) if t]
    cycles: dict[str, list[tuple[int, datetime]]] = {}
    repeating = {c.kind for c in plan.clocks if c.repeats}
    for d in incident.deadlines:
        if d.kind in repeating and d.status in (MET, LATE) and d.satisfied_at is not None:
            cycles.setdefault(d.kind, []).append((d.cycle, d.satisfied_at))
    return IncidentFacts(
        category=incident.category,
        level=incident.level,
        level_history=tuple((c.to_level, c.changed_at) for c in incident.level_changes),
        discovered_at=incident.discovered_at,
        initial_report_at=initial_at,
        bureau_informed_at=min(informed) if informed else None,
        activated_at=incident.activated_at,
        ended_at=incident.ended_at,
        owes_reports=incident.kind != HOLIDAY_WATCH,
        satisfied_cycles=tuple((k, tuple(t for _, t in sorted(v))) for k, v in cycles.items()),
    )


def reconcile(session: Session, incident: Incident, *, actor, now: datetime) -> None:
    """Make the incident's clock rows what the plan calls for: start, re-time, cancel."""
    plan = plan_of(incident)
    session.flush()
    session.refresh(incident, ["deadlines", "reports", "level_changes"])
    wanted = {(s.kind, s.cycle): s for s in desired_clocks(plan, facts_of(incident, plan))}
    live = {(d.kind, d.cycle): d for d in incident.deadlines if d.status != CANCELLED}
    for key, row in live.items():
        if key not in wanted and row.status in LIVE:
            # A holiday watch never owed a report: its clocks were the old code's error, not anyone's miss.
            if (row.status == OVERDUE or row.due_at <= now) and incident.kind != HOLIDAY_WATCH:
                _keep_missed(session, incident, plan, row, actor=actor, now=now)
            else:
                _cancel(session, incident, plan, row, actor=actor, now=now)
    for key, spec in wanted.items():
        row = live.get(key)
        if row is None:
            _start(session, incident, plan, spec, actor=actor, now=now)
        elif row.status == PENDING and (row.due_at != spec.due_at or row.starts_at != spec.starts_at):
            if row.due_at <= now:
                continue  # already missed (the scheduler records it): no later change may erase that
            _retime(session, incident, row, spec, actor=actor, now=now)
    for key, row in live.items():
        if row.status == PENDING and key in wanted:
            _reassign(session, incident, plan, row, actor=actor, now=now)
    session.flush()
    _satisfy_waiting(session, incident, plan, actor=actor, now=now)


def _responsible(incident: Incident, plan: Plan, responsible: str) -> tuple[str | None, str | None]:
    if responsible == "station":
        # Without a station the unit that registered it owns the report: never a clock of nobody's.
        unit = incident.station or incident.registered_unit or plan.office_department
        return (None, unit) if unit in plan.station_codes() else (unit, None)
    if responsible == "office":
        return plan.office_department, None
    return incident.lead_department, None


def _time(row: Deadline, now: datetime) -> None:
    points = fire_points(row.starts_at, row.due_at, row.warn_before)
    row.fire_stage = first_stage(points, now)
    row.next_fire_at = points[row.fire_stage]


def _start(session: Session, incident: Incident, plan: Plan, spec: ClockSpec, *, actor, now: datetime) -> None:
    department, station = _responsible(incident, plan, spec.responsible)
    row = Deadline(incident=incident, kind=spec.kind, cycle=spec.cycle, name=spec.name, department=department,
                   station=station, starts_at=spec.starts_at, due_at=spec.due_at, status=PENDING,
                   warn_before=list(spec.warn_before), timing_version=1, created_at=now)
    _time(row, now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="deadline.started", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": spec.kind, "cycle": spec.cycle, "starts_at": spec.starts_at.isoformat(),
                       "due_at": spec.due_at.isoformat(), "department": department, "station": station})


def _retime(session: Session, incident: Incident, row: Deadline, spec: ClockSpec, *, actor, now: datetime) -> None:
    before = row.due_at
    row.starts_at, row.due_at = spec.starts_at, spec.due_at
    row.timing_version += 1
    _time(row, now)
    escalation.settle_clock(session, row, status=ESC_STOPPED, reason="时限已调整", now=now, tell=False)
    audit.record(session, actor=actor, action="deadline.retimed", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": row.kind, "cycle": row.cycle, "due_before": before.isoformat(),
                       "due_at": row.due_at.isoformat(), "level": incident.level})


def _reassign(session: Session, incident: Incident, plan: Plan, row: Deadline, *, actor, now: datetime) -> None:
    """Let a running clock follow its owner (a station named or corrected after registration)."""
    department, station = _responsible(incident, plan, plan.clock(row.kind).responsible)
    if (row.department, row.station) == (department, station):
        return
    before = {"department": row.department, "station": row.station}
    row.department, row.station = department, station
    audit.record(session, actor=actor, action="deadline.reassigned", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": row.kind, "cycle": row.cycle, "from": before,
                       "to": {"department": department, "station": station}})


def _keep_missed(session: Session, incident: Incident, plan: Plan, row: Deadline, *, actor, now: datetime) -> None:
    """A clock the change voids after it came due stays missed on the record; only its alarms stop."""
    if row.cancel_reason is not None:
        return  # already kept once
    reason = _void_reason(incident, plan, row)
    was = row.status
    row.status, row.next_fire_at = OVERDUE, None
    row.cancel_reason = f"{reason}；截止时间已过，仍记为漏报"
    escalation.settle_clock(session, row, status=ESC_STOPPED, reason=reason, now=now)
    audit.record(session, actor=actor, action="deadline.kept_missed", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": row.kind, "cycle": row.cycle, "status_before": was, "due_at": row.due_at.isoformat(),
                       "reason": reason})


def _void_reason(incident: Incident, plan: Plan, row: Deadline) -> str:
    rule = plan.clock(row.kind)
    if incident.kind == HOLIDAY_WATCH:
        reason = f"节日市场预警不是应急响应，不须“{rule.name}”"
    elif not rule.applies_to(incident.level, incident.category):
        numeral = plan.level(incident.level).numeral if incident.level else "未定"
        reason = f"定级为{numeral}级，预案不要求“{rule.name}”"
    elif incident.ended_at is not None:
        reason = f"应急状态已结束，不再需要“{rule.name}”"
    else:
        reason = "预案条件变化，此时限不再适用"
    return reason


def _cancel(session: Session, incident: Incident, plan: Plan, row: Deadline, *, actor, now: datetime) -> None:
    reason = _void_reason(incident, plan, row)
    row.status = CANCELLED
    row.cancelled_at = now
    row.cancel_reason = reason
    row.next_fire_at = None
    escalation.settle_clock(session, row, status=ESC_STOPPED, reason=reason, now=now)
    audit.record(session, actor=actor, action="deadline.cancelled", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now, data={"kind": row.kind, "cycle": row.cycle, "reason": reason})


def _satisfies(plan: Plan, row: Deadline, report: Report) -> bool:
    rule = plan.clock(row.kind)
    if rule.satisfied_by == "measure":
        return report.kind == "measure" and report.measure == row.kind
    return rule.satisfied_by == report.kind


def _satisfy(session: Session, incident: Incident, row: Deadline, report: Report, at: datetime, judged_by: str, *,
             actor, now: datetime) -> None:
    late = (at - row.due_at).total_seconds()
    row.status = LATE if late > 0 else MET
    row.late_seconds = int(late) if late > 0 else 0
    row.satisfied_at = at
    row.satisfied_by_report_id = report.id
    row.judged_by = judged_by
    row.next_fire_at = None
    escalation.settle_clock(session, row, status=ESC_RESOLVED, reason=f"已报送，时限{'迟报' if late > 0 else '已满足'}",
                            now=now)
    data = {"kind": row.kind, "cycle": row.cycle, "report_id": report.id, "status": row.status,
            "late_seconds": row.late_seconds, "satisfied_at": at.isoformat(), "judged_by": judged_by}
    if late > 0:
        data["late_by"] = chinese_duration(late)
    audit.record(session, actor=actor, action=f"deadline.{row.status}", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now, data=data)


def satisfy_with(session: Session, incident: Incident, plan: Plan, report: Report, *, actor, now: datetime) -> None:
    """Let a report that now counts satisfy the earliest live clock waiting for it that had started; what follows
    from that (a repeating report's next cycle) starts at once, whether it counts at filing or at its last delivery."""
    counted = counts_at(report, plan)
    if counted is None:
        return  # a report the plan sends up counts once every recipient has it
    at, judged_by = counted
    waiting = [d for d in incident.deadlines
               if d.status in LIVE and _satisfies(plan, d, report) and d.starts_at <= at
               and not any(x.satisfied_by_report_id == report.id for x in incident.deadlines)]
    if waiting:
        row = min(waiting, key=lambda d: (d.cycle, d.due_at))
        _satisfy(session, incident, row, report, at, judged_by, actor=actor, now=now)
        reconcile(session, incident, actor=actor, now=now)


def rejudge(session: Session, incident: Incident, plan: Plan, report: Report, *, reason: str, actor,
            now: datetime) -> Deadline | None:
    """Judge again the clock a report satisfied, after its claim was confirmed (a new entry says who and why)."""
    row = next((d for d in incident.deadlines if d.satisfied_by_report_id == report.id), None)
    counted = counts_at(report, plan)
    if row is None or counted is None:
        return row
    at, judged_by = counted
    before = {"status": row.status, "late_seconds": row.late_seconds, "satisfied_at": row.satisfied_at.isoformat(),
              "judged_by": row.judged_by}
    late = (at - row.due_at).total_seconds()
    row.status = LATE if late > 0 else MET
    row.late_seconds = int(late) if late > 0 else 0
    row.satisfied_at, row.judged_by = at, judged_by
    audit.record(session, actor=actor, action="deadline.rejudged", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": row.kind, "cycle": row.cycle, "report_id": report.id, "before": before,
                       "status": row.status, "late_seconds": row.late_seconds, "satisfied_at": at.isoformat(),
                       "judged_by": judged_by, "reason": reason})
    return row


def reopen(session: Session, incident: Incident, report: Report, *, reason: str, actor, now: datetime) -> Deadline | None:
    """Reopen the clock a report satisfied when a recipient returned it: owed again until it is sent again."""
    row = next((d for d in incident.deadlines if d.satisfied_by_report_id == report.id), None)
    if row is None:
        return None
    before = {"status": row.status, "late_seconds": row.late_seconds,
              "satisfied_at": row.satisfied_at.isoformat() if row.satisfied_at else None, "report_id": report.id}
    row.satisfied_at = row.satisfied_by_report_id = row.late_seconds = row.judged_by = None
    if row.due_at <= now:
        row.status, row.next_fire_at = OVERDUE, None
    else:
        row.status = PENDING
        row.timing_version += 1
        _time(row, now)
    audit.record(session, actor=actor, action="deadline.reopened", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"kind": row.kind, "cycle": row.cycle, "before": before, "status": row.status, "reason": reason})
    return row


def _satisfy_waiting(session: Session, incident: Incident, plan: Plan, *, actor, now: datetime) -> None:
    """Let a report filed before its clock existed satisfy it (e.g. a bureau report sent ahead)."""
    used = {d.satisfied_by_report_id for d in incident.deadlines if d.satisfied_by_report_id}
    for row in incident.deadlines:
        if row.status not in LIVE or plan.clock(row.kind).repeats:
            continue
        spare = [(counted, r) for r in incident.reports if r.id not in used and _satisfies(plan, row, r)
                 and (counted := counts_at(r, plan)) is not None]
        if spare:
            (at, judged_by), report = min(spare, key=lambda x: x[0][0])
            used.add(report.id)
            _satisfy(session, incident, row, report, at, judged_by, actor=actor, now=now)
