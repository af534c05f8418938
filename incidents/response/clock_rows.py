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
from incidents.response.deadlines import ClockSpec, IncidentFacts, desired_clocks, fire_points, first_stage

LIVE = (PENDING, OVERDUE)


def facts_of(incident: Incident, plan: Plan) -> IncidentFacts:
    """Read the facts the clocks depend on off an incident and its rows."""
    initial = [r.submitted_at for r in incident.reports if r.kind == "initial"]
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
        initial_report_at=min(initial) if initial else None,
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
            _cancel(session, incident, plan, row, actor=actor, now=now)
    for key, spec in wanted.items():
        row = live.get(key)
        if row is None:
            _start(session, incident, plan, spec, actor=actor, now=now)
        elif row.status == PENDING and (row.due_at != spec.due_at or row.starts_at != spec.starts_at):
            if row.due_at <= now:
                continue  # already missed (the scheduler records it): no later change may erase that
            _retime(session, incident, row, spec, actor=actor, now=now)
    session.flush()
    _satisfy_waiting(session, incident, plan, actor=actor, now=now)


def _responsible(incident: Incident, plan: Plan, responsible: str) -> tuple[str | None, str | None]:
    if responsible == "station":
        return None, incident.station
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


def _cancel(session: Session, incident: Incident, plan: Plan, row: Deadline, *, actor, now: datetime) -> None:
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


def _satisfy(session: Session, incident: Incident, row: Deadline, report: Report, *, actor, now: datetime) -> None:
    late = (report.submitted_at - row.due_at).total_seconds()
    row.status = LATE if late > 0 else MET
    row.late_seconds = int(late) if late > 0 else 0
    row.satisfied_at = report.submitted_at
    row.satisfied_by_report_id = report.id
    row.next_fire_at = None
    escalation.settle_clock(session, row, status=ESC_RESOLVED, reason=f"已报送，时限{'迟报' if late > 0 else '已满足'}",
                            now=now)
    data = {"kind": row.kind, "cycle": row.cycle, "report_id": report.id, "status": row.status,
            "late_seconds": row.late_seconds}
    if late > 0:
        data["late_by"] = chinese_duration(late)
    audit.record(session, actor=actor, action=f"deadline.{row.status}", entity="deadline", entity_id=row.id,
                 incident_id=incident.id, at=now, data=data)


def satisfy_with(session: Session, incident: Incident, plan: Plan, report: Report, *, actor, now: datetime) -> None:
    """Let a new report satisfy the earliest live clock waiting for it that had started."""
    waiting = [d for d in incident.deadlines
               if d.status in LIVE and _satisfies(plan, d, report) and d.starts_at <= report.submitted_at]
    if waiting:
        _satisfy(session, incident, min(waiting, key=lambda d: (d.cycle, d.due_at)), report, actor=actor, now=now)


def _satisfy_waiting(session: Session, incident: Incident, plan: Plan, *, actor, now: datetime) -> None:
    """Let a report filed before its clock existed satisfy it (e.g. a bureau report sent ahead)."""
    used = {d.satisfied_by_report_id for d in incident.deadlines if d.satisfied_by_report_id}
    for row in incident.deadlines:
        if row.status not in LIVE or plan.clock(row.kind).repeats:
            continue
        spare = [r for r in incident.reports if r.id not in used and _satisfies(plan, row, r)]
        if spare:
            report = min(spare, key=lambda r: r.submitted_at)
            used.add(report.id)
            _satisfy(session, incident, row, report, actor=actor, now=now)

