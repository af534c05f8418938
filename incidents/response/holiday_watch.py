"""Holiday market watches (节日市场应急预警, plan §三(三)4(2)): a warning with tasks, not a response.

The plan's lead time before the first day off of each holiday it names, a watch opens: it is
kept in the registry (kind `holiday_watch`, status `watching`) so that its tasks reach the
departments' boards and escalate like any task, but it is never graded as a response, never
activated, and owes no progress or closing report: it has no clocks at all. Only a task not
done by its due time counts against anyone. Holiday duty is checked for every unit of the
bureau, stations included. The watch closes itself after the last day off.

The holiday's dates come from the calendar: the year's notice when there is one, else the
statutory days and the weekends around them (and the watch says it rests on those). A notice
entered later moves an open watch, its closing time and its tasks' due times.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.records import announce, audit, board_events
from incidents import escalation
from incidents.response import clock_rows, service
from incidents.response.assignments import add as create_assignment
from incidents.kernel.calendar import HOLIDAY_NAMES, Break, Calendar, CalendarGap
from incidents.people.duty import DutyAlert, unit_gaps
from incidents.models import (
    ARCHIVED,
    DONE,
    HOLIDAY_WATCH,
    OPEN_ASSIGNMENT,
    HolidayWatch,
    Incident,
)
from incidents.plan import Plan

# Missing calendar data is reported this far ahead, so that it can be mended in time.
DATA_HORIZON = timedelta(days=60)
OPEN_TASK = OPEN_ASSIGNMENT


@dataclass(frozen=True)
class WatchReport:
    """What one holiday-watch run found and did."""

    holidays: tuple[Break, ...]  # the plan's holiday breaks from yesterday to the data horizon
    opened: tuple[int, ...]  # incident ids of watches opened now
    closed: tuple[int, ...]
    moved: tuple[int, ...]  # watches whose dates a notice changed
    duty_gaps: tuple[DutyAlert, ...]  # of the open watches
    uncertain: tuple[str, ...]  # holidays ahead known only from the statutory rules
    not_covered: tuple[str, ...]  # years the calendar knows nothing of


def upcoming(calendar: Calendar, names: tuple[str, ...], today: date, *,
             horizon: timedelta) -> tuple[list[Break], list[str]]:
    """Return the breaks of these holidays that are not over and begin within the horizon, and the gaps."""
    found: list[Break] = []
    missing: list[str] = []
    for year in range(today.year, (today + horizon).year + 2):
        try:
            breaks = calendar.breaks(year)
        except CalendarGap as gap:
            missing.append(f"日历未覆盖{gap.year}年（{gap.source}），无法确定{gap.year}年"
                           f"{'、'.join(HOLIDAY_NAMES[n] for n in names)}的放假安排，节日市场预警须人工安排")
            continue
        found.extend(b for b in breaks if set(b.holidays) & set(names) and b.last_day >= today
                     and b.first_day <= today + horizon)
    return sorted(found, key=lambda b: b.first_day), missing


def _primary(rules_holidays: tuple[str, ...], holidays: tuple[str, ...]) -> str | None:
    return next((h for h in rules_holidays if h in holidays), None)


def _midnight(plan: Plan, day: date) -> datetime:
    return datetime.combine(day, time(0), plan.tz)


def opening(plan: Plan, first_day_off: date) -> datetime:
    """Return when the watch of a break opens: `open_at` on the day `lead_time` before its first day off."""
    rules = plan.holiday_warnings
    day = (_midnight(plan, first_day_off) - rules.lead_time).date()
    return datetime.combine(day, time.fromisoformat(rules.open_at), plan.tz)


def run_watch(session: Session, plan: Plan, calendar: Calendar, *, actor, now: datetime) -> WatchReport:
    """Open the watches that are due, move or close the open ones, and check their holiday duty."""
    rules = plan.holiday_warnings
    today = now.astimezone(plan.tz).date()
    breaks, missing = upcoming(calendar, rules.holidays, today, horizon=max(rules.lead_time, DATA_HORIZON))
    moved, closed = _keep_open_watches(session, plan, calendar, actor=actor, now=now)
    opened = []
    for brk in breaks:
        holiday = _primary(rules.holidays, brk.holidays)
        opens_at = opening(plan, brk.first_day)
        if holiday is None or not opens_at <= now < _midnight(plan, brk.last_day + timedelta(days=1)):
            continue
        watch = _open_watch(session, plan, brk, holiday, actor=actor, now=now)
        if watch is not None:
            opened.append(watch.incident_id)
    gaps: list[DutyAlert] = []
    for watch in session.scalars(select(HolidayWatch).where(HolidayWatch.closed_at.is_(None))
                                 .order_by(HolidayWatch.first_day)):
        gaps.extend(_check_duty(session, plan, watch, now=now))
    uncertain = tuple(f"{b.label}（{b.first_day.isoformat()} 至 {b.last_day.isoformat()}）按法定节假日推算，"
                      f"{b.year}年放假通知尚未录入" for b in breaks if not b.certain)
    return WatchReport(tuple(breaks), tuple(opened), tuple(closed), tuple(moved), tuple(gaps), uncertain,
                       tuple(missing))


def _open_watch(session: Session, plan: Plan, brk: Break, holiday: str, *, actor,
                now: datetime) -> HolidayWatch | None:
    rules = plan.holiday_warnings
    first, after = _midnight(plan, brk.first_day), _midnight(plan, brk.last_day + timedelta(days=1))
    try:
        # The claim comes first and alone: a second scheduler opening the same watch fails here,
        # before anything of the watch is written or announced.
        with session.begin_nested():
            watch = HolidayWatch(holiday=holiday, year=brk.year, holidays=list(brk.holidays), first_day=brk.first_day,
                                 last_day=brk.last_day, certain=brk.certain, source=brk.source, opened_at=now,
                                 closes_at=after)
            session.add(watch)
    except IntegrityError:
        return None
    period = f"{brk.first_day.isoformat()} 至 {brk.last_day.isoformat()}，共{brk.days}天"
    basis = "放假通知" if brk.certain else f"法定节假日推算（{brk.year}年放假通知尚未录入，以通知为准）"
    facts = service.NewIncident(
        title=f"{brk.label}节日市场应急预警", category=rules.category, discovered_at=now, location="辖区各市场",
        station=None, source="系统按预案自动发布（节日市场应急预警，预案§三(三)4(2)）", nature="节日市场预警（不启动应急响应）",
        scope=f"{brk.label}放假期间（{period}；依据：{basis}）辖区市场",
        trend="节日期间可能出现市场抢购、违法促销、制假售假、消费投诉高峰及火灾、爆炸、市场拥挤等问题",
        measures_taken="", casualties="无", level=rules.level,
        level_reason="预案§三(三)4(2)：节日市场应急预警（预警，不启动应急响应，不须续报和书面报告）")
    incident = service.register_incident(session, plan, facts=facts, actor=actor, now=now, kind=HOLIDAY_WATCH)
    incident.source_key = f"holiday:{brk.year}:{holiday}"
    watch.incident_id = incident.id
    session.flush()
    for task in rules.tasks:
        for department in task.departments:
            create_assignment(session, incident, plan, department=department, task=f"{brk.label}：{task.task}",
                              clock=None, due_at=_task_due(first, task.due_before, now), standard=True, actor=actor,
                              now=now, holiday_key=f"{brk.year}:{holiday}:{task.code}:{department}")
    audit.record(session, actor=actor, action="holiday_watch.opened", entity="holiday_watch", entity_id=watch.id,
                 incident_id=incident.id, at=now,
                 data={"holiday": holiday, "year": brk.year, "holidays": list(brk.holidays),
                       "first_day": brk.first_day.isoformat(), "last_day": brk.last_day.isoformat(),
                       "certain": brk.certain, "source": brk.source, "closes_at": after.isoformat()})
    announce.incident_changed(session, incident, plan, what="holiday_watch", at=now)
    return watch


def _task_due(first_day_off: datetime, before: timedelta, now: datetime) -> datetime | None:
    # Nothing is born overdue: a watch opened late (the scheduler was down) gives what time is left.
    due = first_day_off - before
    if due > now:
        return due
    return first_day_off if first_day_off > now else None


def _keep_open_watches(session: Session, plan: Plan, calendar: Calendar, *, actor,
                       now: datetime) -> tuple[list[int], list[int]]:
    moved, closed = [], []
    rows = session.scalars(select(HolidayWatch).where(HolidayWatch.closed_at.is_(None))
                           .order_by(HolidayWatch.id).with_for_update(skip_locked=True))
    for watch in rows:
        incident = session.get(Incident, watch.incident_id)
        if any(d.status in clock_rows.LIVE for d in incident.deadlines):
            clock_rows.reconcile(session, incident, actor=actor, now=now)  # a watch owes no report: cancel its clocks
        if _follow_calendar(session, plan, calendar, watch, incident, actor=actor, now=now):
            moved.append(incident.id)
        if now >= watch.closes_at:
            _close(session, plan, watch, incident, actor=actor, now=now)
            closed.append(incident.id)
    return moved, closed


def _follow_calendar(session: Session, plan: Plan, calendar: Calendar, watch: HolidayWatch, incident: Incident, *,
                     actor, now: datetime) -> bool:
    try:
        brk = next((b for b in calendar.breaks(watch.year) if watch.holiday in b.holidays), None)
    except CalendarGap:
        return False
    if brk is None or (brk.first_day, brk.last_day, brk.certain) == (watch.first_day, watch.last_day, watch.certain):
        return False
    before = {"first_day": watch.first_day.isoformat(), "last_day": watch.last_day.isoformat(),
              "certain": watch.certain}
    watch.first_day, watch.last_day, watch.certain, watch.source = brk.first_day, brk.last_day, brk.certain, brk.source
    watch.holidays = list(brk.holidays)
    watch.closes_at = _midnight(plan, brk.last_day + timedelta(days=1))
    first = _midnight(plan, brk.first_day)
    rules = {t.code: t for t in plan.holiday_warnings.tasks}
    for task in incident.assignments:
        code = (task.holiday_key or "").split(":")
        rule = rules.get(code[2]) if len(code) == 4 else None
        if rule is None or task.status not in OPEN_TASK:
            continue
        due = _task_due(first, rule.due_before, now)
        if due != task.due_at and (task.due_at is None or task.due_at > now):
            task.due_at = due
            announce.assignment_changed(session, task, plan, what="retimed", at=now)
    audit.record(session, actor=actor, action="holiday_watch.moved", entity="holiday_watch", entity_id=watch.id,
                 incident_id=incident.id, at=now,
                 data={"before": before, "first_day": brk.first_day.isoformat(), "last_day": brk.last_day.isoformat(),
                       "certain": brk.certain, "source": brk.source})
    announce.incident_changed(session, incident, plan, what="holiday_watch", at=now)
    return True


def task_outcomes(incident: Incident, now: datetime) -> dict[str, list[int]]:
    """Sort a watch's tasks by outcome: done on time or late, declined, not done by their due time, still open."""
    out: dict[str, list[int]] = {"on_time": [], "late": [], "declined": [], "missed": [], "open": []}
    for a in incident.assignments:
        if a.status == DONE:
            out["late" if a.due_at and a.done_at and a.done_at > a.due_at else "on_time"].append(a.id)
        elif a.declined_at is not None:
            out["declined"].append(a.id)
        else:
            out["missed" if a.due_at is not None and a.due_at <= now else "open"].append(a.id)
    return out


def _close(session: Session, plan: Plan, watch: HolidayWatch, incident: Incident, *, actor, now: datetime) -> None:
    watch.closed_at = now
    incident.status = ARCHIVED
    incident.archived_at = now
    incident.end_reason = f"{watch.label}放假已结束，节日市场预警自动关闭"
    escalation.settle_incident(session, incident, reason="节日市场预警已结束", now=now, clocks_too=True)
    outcomes = task_outcomes(incident, now)
    audit.record(session, actor=actor, action="holiday_watch.closed", entity="holiday_watch", entity_id=watch.id,
                 incident_id=incident.id, at=now,
                 data={"reason": incident.end_reason, "tasks": outcomes})
    announce.incident_changed(session, incident, plan, what="archived", at=now)


def _check_duty(session: Session, plan: Plan, watch: HolidayWatch, *, now: datetime) -> list[DutyAlert]:
    start = max(_midnight(plan, watch.first_day), now)
    label = watch.label
    gaps = unit_gaps(session, plan, start, watch.closes_at, during=f"{label}放假期间")
    digest = hashlib.sha256(repr([(g.department, g.starts_at.timestamp(), g.ends_at.timestamp())
                                  for g in gaps]).encode()).hexdigest()
    if digest != watch.gaps_digest:
        watch.gaps_digest, watch.gaps_announced_at = digest, now
        rooms = {board_events.OVERVIEW, board_events.department_room(plan.office_department)}
        board_events.publish(session, rooms=rooms, event_name="alert", at=now,
                             payload={"what": "holiday_duty_gap", "incident_id": watch.incident_id, "count": len(gaps),
                                      "message": (f"{label}放假期间{len(gaps)}处值班空档：" + "、".join(
                                          dict.fromkeys(plan.unit_name(g.department) for g in gaps)))
                                      if gaps else f"{label}放假期间各单位值班已排满",
                                      "gaps": [g.as_dict() for g in gaps[:100]]})
        for department in {g.department for g in gaps if g.department in {d.code for d in plan.departments}}:
            board_events.publish(session, rooms={board_events.department_room(department)}, event_name="alert",
                                 at=now, payload={"what": "holiday_duty_gap", "incident_id": watch.incident_id,
                                                  "message": f"{plan.unit_name(department)}：{label}放假期间有值班空档"})
    return gaps


def watch_view(session: Session, plan: Plan, incident: Incident, now: datetime) -> dict | None:
    """Return what the page shows of a watch: its break, basis, task outcomes and duty gaps now."""
    if incident.kind != HOLIDAY_WATCH:
        return None
    watch = session.scalar(select(HolidayWatch).where(HolidayWatch.incident_id == incident.id))
    if watch is None:
        return None
    gaps = [] if watch.closed_at else unit_gaps(session, plan, max(_midnight(plan, watch.first_day), now),
                                                watch.closes_at, during=f"{watch.label}放假期间")
    return {"holiday": watch.holiday, "year": watch.year, "label": watch.label,
            "first_day": watch.first_day.isoformat(),
            "last_day": watch.last_day.isoformat(), "days": (watch.last_day - watch.first_day).days + 1,
            "certain": watch.certain, "source": watch.source, "opened_at": watch.opened_at.isoformat(),
            "closes_at": watch.closes_at.isoformat(),
            "closed_at": watch.closed_at.isoformat() if watch.closed_at else None,
            "tasks": task_outcomes(incident, min(now, watch.closed_at or now)),
            "duty_gaps": [g.as_dict() for g in gaps]}
