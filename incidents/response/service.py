"""The use cases: register, grade, activate, report, end and archive an incident.

Each function takes the session, the acting user and `now`, changes rows, writes the
audit trail and lets the caller commit. Clocks are reconciled after every change: the
plan's rules say which clocks the incident's facts call for, and the rows follow.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.records import announce, audit
from incidents import escalation
from incidents.people import permissions
from incidents.kernel.durations import as_utc
from incidents.kernel.text import checked_text
from incidents.kernel.errors import Collect, Conflict, InvalidInput, NotFound
from incidents.models import (
    ACTIVE,
    ARCHIVED,
    CLOSED,
    CLOSING_APPROVED,
    ENDED,
    EVENT,
    HOLIDAY_WATCH,
    REGISTERED,
    WATCHING,
    WITHDRAWN,
    ClosingReport,
    CommandHQ,
    Incident,
    LevelChange,
    LATE,
    MET,
    PlanVersion,
    Report,
    ReportRecipient,
)
from incidents.plan import LEVEL_CODES, REPORT_KINDS, Plan
from incidents.plan.versions import plan_of
from incidents.kernel.actors import actor_id
from incidents.response.claimed_times import is_backdated
from incidents.response import documents
from incidents.response.clock_rows import reconcile, satisfy_with

TEXT_FIELDS = ("location", "source", "nature", "scope", "trend", "measures_taken", "casualties")
FIELD_NAMES = {
    "title": "事件名称", "category": "事件类别", "discovered_at": "发现时间", "location": "地点",
    "station": "事发地市场监督管理所", "source": "信息来源", "nature": "事件性质", "scope": "影响范围",
    "trend": "发展趋势", "measures_taken": "已采取的措施", "casualties": "人员伤亡及财产损失",
    "level": "事件等级", "reason": "理由", "body": "报告内容", "kind": "报告类别",
    "submitted_at": "报送时间", "ended_at": "结束时间", "measure": "措施", "delivered_at": "送达时间",
}
MAX_TEXT = 20000
SHORT_FIELDS = {"location": 300}  # the columns' own lengths


@dataclass(frozen=True)
class NewIncident:
    """The facts of an event as the plan's report contents ask for them."""

    title: str
    category: str
    discovered_at: datetime
    location: str
    station: str | None
    source: str
    nature: str
    scope: str
    trend: str
    measures_taken: str
    casualties: str
    level: str | None = None
    level_reason: str | None = None


def stored_plan_version(session: Session, plan: Plan, now: datetime) -> PlanVersion:
    """Return the stored copy of this plan, keeping it verbatim the first time it is used."""
    query = select(PlanVersion).where(PlanVersion.sha256 == plan.sha256)
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        # A savepoint: when another transaction stores the same plan first, take its row.
        with session.begin_nested():
            row = PlanVersion(plan_id=plan.id, version=plan.version, sha256=plan.sha256,
                              content=plan.source_text, loaded_at=now)
            session.add(row)
    except IntegrityError:
        row = session.scalar(query)
    return row


def get_incident(session: Session, incident_id: int, *, user=None, for_update: bool = False) -> Incident:
    """Load an incident, refusing one the user may not see as if it did not exist."""
    stmt = select(Incident).where(Incident.id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    incident = session.scalar(stmt)
    if incident is None or (user is not None and not permissions.can_view(user, incident, plan_of(incident))):
        raise NotFound("not_found", f"事件 {incident_id} 不存在", f"incident {incident_id} not found")
    return incident


def not_future(value: datetime, now: datetime, field: str, plan: Plan) -> datetime:
    """Return a time the user typed, if it lies between the plan's year and now (Beijing time on screen)."""
    value = as_utc(value)
    if value > now:
        raise InvalidInput("future_time", f"{FIELD_NAMES[field]}不能晚于当前时间", f"{field} is in the future",
                           field=field)
    earliest = plan.in_force_from()
    if value < earliest:
        raise InvalidInput("too_early", f"{FIELD_NAMES[field]}不能早于{earliest.year}年（预案施行之年），请核对",
                           f"{field} is before {earliest.year}, the year the plan came into force", field=field)
    return value


def text_field(value: str | None, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """Check an incident's text field: present (unless optional) and within its limit."""
    return checked_text(value, field=field, label=FIELD_NAMES[field], limit=limit, required=required)


def _category(plan: Plan, code: str | None):
    if not code or not code.strip():
        raise InvalidInput("missing_field", f"缺少{FIELD_NAMES['category']}", "category is required", field="category")
    try:
        return plan.category(code)
    except KeyError:
        raise InvalidInput("unknown_category", f"预案中没有事件类别“{str(code)[:40]}”",
                           f"unknown category '{str(code)[:40]}'", field="category") from None


def _station(plan: Plan, station: str | None, actor) -> None:
    if station is not None:
        try:
            plan.station(station)
        except KeyError:
            raise InvalidInput("unknown_station", f"预案中没有市场监督管理所“{str(station)[:40]}”",
                               f"unknown station '{str(station)[:40]}'", field="station") from None
    if actor.role == "station" and station != actor.unit:
        raise InvalidInput("wrong_station", "市场监督管理所只能登记本所辖区的事件",
                           "a station registers only its own events", field="station")


def _missing(field: str) -> None:
    raise InvalidInput("missing_field", f"缺少{FIELD_NAMES[field]}", f"{field} is required", field=field)


def _check_level(level: str) -> str:
    if level not in LEVEL_CODES:
        raise InvalidInput("unknown_level", f"未知事件等级“{level}”，应为 I、II、III、IV 之一",
                           f"unknown level '{level}'; one of I, II, III, IV", field="level")
    return level


def register_incident(session: Session, plan: Plan, *, facts: NewIncident, actor, now: datetime,
                      kind: str = EVENT, prior: tuple[InvalidInput, ...] = ()) -> Incident:
    """Register an event (or open a holiday watch), grade it if a level is given, and start the plan's clocks.

    Every field is checked before anything is refused, so that a form learns all its mistakes at once;
    `prior` carries what the caller already found wrong (a time that did not parse).
    """
    permissions.require(actor, "register")
    if facts.level:
        # Grading at registration is grading: a station reports, the office grades.
        permissions.require(actor, "grade")
    found = Collect(prior)
    title = found.check(text_field, facts.title, "title", limit=200) if not found.failed("title") else None
    category = found.check(_category, plan, facts.category) if not found.failed("category") else None
    station = facts.station or (actor.unit if actor.role == "station" else None)
    if not found.failed("station"):
        found.check(_station, plan, station, actor)
    discovered_at = None
    if facts.discovered_at is None:
        if not found.failed("discovered_at"):
            found.check(_missing, "discovered_at")
    else:
        discovered_at = found.check(not_future, facts.discovered_at, now, "discovered_at", plan)
    texts = {f: found.check(text_field, getattr(facts, f), f, required=f in ("location", "source", "nature"),
                            limit=SHORT_FIELDS.get(f, MAX_TEXT)) for f in TEXT_FIELDS if not found.failed(f)}
    level = found.check(_check_level, facts.level) if facts.level else None
    found.done()

    # Who registered it owns the 1-hour report when no station is named (the office for the leadership
    # and the system).
    registered_unit = getattr(actor, "unit", None) or plan.office_department
    incident = Incident(
        # A unique placeholder: a shared one would make concurrent registrations wait on its index.
        number=f"new-{uuid.uuid4().hex[:24]}", kind=kind, title=title, category=category.code, level=level,
        status=WATCHING if kind == HOLIDAY_WATCH else REGISTERED,
        lead_department=category.lead_department, station=station, discovered_at=discovered_at,
        registered_unit=registered_unit,
        plan_version=stored_plan_version(session, plan, now), created_by_id=actor_id(actor), created_at=now, **texts,
    )
    session.add(incident)
    session.flush()
    # The number carries the bureau's local year: 31 Dec 17:00 UTC is already New Year in Beijing.
    incident.number = f"YJ{now.astimezone(plan.tz).year}-{incident.id:05d}"
    reason = text_field(facts.level_reason, "reason", required=False) or ("登记时定级" if level else "登记时未定级")
    session.add(LevelChange(incident=incident, from_level=None, to_level=level, reason=reason,
                            changed_by_id=actor_id(actor), changed_at=now))
    audit.record(session, actor=actor, action="incident.registered", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now,
                 data={"number": incident.number, "kind": kind, "title": title, "category": category.code,
                       "level": level, "lead_department": incident.lead_department, "station": station,
                       "registered_unit": registered_unit,
                       "discovered_at": discovered_at.isoformat(), "plan_version": plan.version,
                       "plan_sha256": plan.sha256, **texts})
    reconcile(session, incident, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="registered", at=now)
    return incident


def grade(session: Session, *, incident_id: int, level: str, reason: str, actor, now: datetime) -> Incident:
    """Change an incident's level and its clocks (flows.grade adds the assignments and the boards)."""
    incident = get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    permissions.require(actor, "grade", incident, plan)
    _not_watch(incident)
    _check_open(incident, "grade")
    level = _check_level(level)
    reason = text_field(reason, "reason", limit=2000)
    if level == incident.level:
        raise Conflict("same_level", f"事件已是{plan.level(level).numeral}级", f"the incident is already level {level}")
    before = incident.level
    incident.level = level
    session.add(LevelChange(incident=incident, from_level=before, to_level=level, reason=reason,
                            changed_by_id=actor_id(actor), changed_at=now))
    audit.record(session, actor=actor, action="incident.graded", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now, data={"from": before, "to": level, "reason": reason})
    reconcile(session, incident, actor=actor, now=now)
    escalation.rechain_incident(session, incident, plan, now=now)
    return incident


def activate(session: Session, *, incident_id: int, actor, now: datetime) -> Incident:
    """Activate the response and start its clocks (flows.activate adds the assignments and the boards)."""
    incident = get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    permissions.require(actor, "activate", incident, plan)
    _not_watch(incident)
    if incident.status != REGISTERED:
        raise Conflict("bad_state", "只有已登记、尚未启动响应的事件才能启动应急响应",
                       "only a registered incident can be activated")
    if incident.level is None:
        raise Conflict("ungraded", "事件尚未定级，不能启动应急响应", "grade the incident before activating the response")
    incident.status = ACTIVE
    incident.activated_at = now
    audit.record(session, actor=actor, action="incident.activated", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now, data={"level": incident.level})
    reconcile(session, incident, actor=actor, now=now)
    return incident


def submit_report(session: Session, *, incident_id: int, kind: str, body: str, actor, now: datetime,
                  submitted_at: datetime | None = None, measure: str | None = None,
                  skip_level_reason: str | None = None, received_as: str | None = None) -> Report:
    """File a report and satisfy the clock waiting for it, on time or late (flows.submit_report tells the boards).

    `received_as`: another bureau's document (its number) that arrived here, filed as this bureau's report.
    """
    if kind not in REPORT_KINDS + ("measure", "summary"):
        raise InvalidInput("unknown_kind", f"未知报告类别“{kind}”，应为 initial、bureau、progress、closing 之一",
                           f"unknown report kind '{kind}'; one of initial, bureau, progress, closing", field="kind")
    incident = get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    permissions.require(actor, f"report:{kind}", incident, plan)
    _not_watch(incident)
    # The summary's body is its six sections together, each already held to MAX_TEXT (closing.py).
    body = text_field(body, "body", limit=MAX_TEXT * 7 if kind in ("closing", "summary") else MAX_TEXT)
    submitted_at = not_future(submitted_at, now, "submitted_at", plan) if submitted_at else now
    if submitted_at < incident.discovered_at:
        raise InvalidInput("before_discovery", "报送时间不能早于事件发现时间",
                           "submitted_at is before the event was discovered", field="submitted_at")
    if incident.status == ARCHIVED:
        raise Conflict("archived", "事件已归档，不能再报送", "the incident is archived")
    _check_not_closed(incident, "报送", "file a report")
    if kind == "closing":
        # Plan §五(一): the summary is approved and the end decided before the written report goes up.
        if incident.status != ENDED:
            raise Conflict("not_ended", "应急状态结束后才能上报书面报告",
                           "the written report goes up after the end of the emergency")
        if not summary_approved(session, incident):
            raise Conflict("summary_not_approved", "应急处置工作总结尚未经领导小组批准，不能上报书面报告",
                           "the leadership has not approved the handling summary")
        if submitted_at < incident.ended_at:
            raise InvalidInput("before_end", "书面报告的报送时间不能早于应急状态结束时间",
                               "submitted_at is before the end of the emergency", field="submitted_at")
    elif kind == "summary":
        if incident.status not in (ACTIVE, ENDED):
            raise Conflict("not_active", "启动应急响应后才能报送应急处置工作总结",
                           "the handling summary follows the activation")
    elif incident.status == ENDED:
        raise Conflict("ended", "应急状态已结束，只能上报书面报告",
                       "the emergency has ended; only the written report can be filed")
    if kind == "progress" and incident.status != ACTIVE:
        raise Conflict("not_active", "启动应急响应后才能报送续报", "progress reports follow the activation")
    if kind == "measure":
        if measure not in plan.measure_kinds():
            raise InvalidInput("unknown_measure", f"预案中没有措施“{measure}”", f"unknown measure '{measure}'",
                               field="measure")
        if incident.status != ACTIVE:
            raise Conflict("not_active", "启动应急响应后才能报告措施完成", "measures follow the activation")

    backdated = is_backdated(submitted_at, now, plan)
    report = Report(incident=incident, kind=kind, measure=measure if kind == "measure" else None, body=body,
                    submitted_at=submitted_at, entered_at=now, submitted_by_id=actor_id(actor), backdated=backdated)
    session.add(report)
    _add_recipients(report, incident, plan, skip_level_reason)
    session.flush()
    audit.record(session, actor=actor, action="report.submitted", entity="report", entity_id=report.id,
                 incident_id=incident.id, at=now,
                 data={"kind": kind, "measure": report.measure, "submitted_at": submitted_at.isoformat(),
                       "entered_at": now.isoformat(), "backdated": backdated, "body_sha256": _sha(body),
                       "recipients": [r.code for r in report.recipients],
                       "skip_level_reason": report.skip_level_reason})
    if report.recipients:
        if received_as is not None:
            documents.release(session, report, plan, actor=actor, now=now, received_as=received_as)
        elif not documents.signers_of(plan, kind):
            documents.release(session, report, plan, actor=actor, now=now)
        elif documents.may_sign(actor, plan, kind):
            documents.sign(session, report, plan, actor=actor, now=now)  # filed by whoever signs it: signed
    satisfy_with(session, incident, plan, report, actor=actor, now=now)
    reconcile(session, incident, actor=actor, now=now)
    return report


def _add_recipients(report: Report, incident: Incident, plan: Plan, skip_level_reason: str | None) -> None:
    """Give a report the recipients the plan names; 越级上报 adds the level above, the others get it too."""
    for recipient in plan.reports.recipients_of(report.kind):
        report.recipients.append(ReportRecipient(
            code=recipient.code, name=documents.recipient_name(plan, incident, recipient.code, recipient.name),
            required=recipient.required))
    if skip_level_reason is None:
        return
    extra = plan.reports.skip_level_of(report.kind)
    if not extra:
        raise InvalidInput("no_skip_level", "预案未规定该类报告的越级上报对象", "the plan names no level to skip to for this kind",
                           field="skip_level_reason")
    report.skip_level_reason = checked_text(skip_level_reason, field="skip_level_reason", label="越级上报理由",
                                            limit=2000)
    for recipient in extra:
        report.recipients.append(ReportRecipient(code=recipient.code, name=recipient.name,
                                                 required=recipient.required, skip_level=True))


def end_emergency(session: Session, *, incident_id: int, reason: str, actor, now: datetime,
                  ended_at: datetime | None = None) -> Incident:
    """Declare the emergency over (only the role the plan names); the closing clock starts."""
    incident = get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    _not_watch(incident)
    if incident.status in (ENDED, ARCHIVED):
        raise Conflict("ended", "应急状态已结束", "the emergency has already ended")
    if incident.status != ACTIVE:
        raise Conflict("not_active", "尚未启动应急响应，无需宣布结束", "the response was never activated")
    # The latest naming of the command HQ is the one in charge (command_hq.current_hq).
    hq_commander = session.scalar(select(CommandHQ.commander_id).where(CommandHQ.incident_id == incident.id)
                                  .order_by(CommandHQ.id.desc()).limit(1))
    permissions.require_end(actor, incident, plan, hq_commander_id=hq_commander)
    reason = text_field(reason, "reason", limit=2000)
    ended_at = not_future(ended_at, now, "ended_at", plan) if ended_at else now
    if ended_at < incident.activated_at:
        raise InvalidInput("before_activation", "结束时间不能早于启动应急响应的时间",
                           "ended_at is before the activation", field="ended_at")
    # Plan §五(一): the command's summary goes to the leadership, whose approval is the decision to end.
    if not summary_approved(session, incident):
        raise Conflict("summary_not_approved", "应急处置工作总结尚未经领导小组批准，不能宣布应急状态结束",
                       "the leadership has not approved the handling summary; it decides the end")
    incident.status = ENDED
    incident.ended_at = ended_at
    incident.end_reason = reason
    incident.ended_by_id = actor_id(actor)
    audit.record(session, actor=actor, action="incident.ended", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now, data={"ended_at": ended_at.isoformat(), "reason": reason})
    reconcile(session, incident, actor=actor, now=now)
    escalation.settle_incident(session, incident, reason="应急状态已结束", now=now)
    announce.incident_changed(session, incident, plan, what="ended", at=now)
    return incident


def archive(session: Session, *, incident_id: int, actor, now: datetime) -> Incident:
    """Archive an ended incident once its closing report is filed."""
    incident = get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    permissions.require(actor, "archive", incident, plan)
    _not_watch(incident)
    if incident.status != ENDED:
        raise Conflict("not_ended", "只有应急状态已结束的事件才能归档", "only an ended incident can be archived")
    # The written report reaching every recipient meets the closing clock and archives the incident.
    if not any(d.kind == "closing_report" and d.status in (MET, LATE) for d in incident.deadlines):
        raise Conflict("closing_not_delivered", "书面报告尚未送达全部报送对象，不能归档",
                       "the written report has not reached every recipient; that archives the incident")
    incident.status = ARCHIVED
    incident.archived_at = now
    escalation.settle_incident(session, incident, reason="事件已归档", now=now, clocks_too=True)
    audit.record(session, actor=actor, action="incident.archived", entity="incident", entity_id=incident.id,
                 incident_id=incident.id, at=now, data={})
    announce.incident_changed(session, incident, plan, what="archived", at=now)
    return incident


def summary_approved(session: Session, incident: Incident) -> bool:
    """Tell whether the leadership approved the command's handling summary (plan §五(一))."""
    status = session.scalar(select(ClosingReport.status).where(ClosingReport.incident_id == incident.id))
    return status == CLOSING_APPROVED


def _not_watch(incident: Incident) -> None:
    if incident.kind == HOLIDAY_WATCH:
        raise Conflict("holiday_watch", "节日市场预警不是应急响应：不定级、不启动响应、不报送报告，放假结束后自动关闭；"
                       "如需启动应急响应，请另行登记事件", "a holiday watch is a warning, not a response: register an "
                       "incident to respond")


def _check_not_closed(incident: Incident, what_zh: str, what_en: str) -> None:
    # A withdrawn or closed event has its clocks settled for good: a new fact would start them again.
    if incident.status in (WITHDRAWN, CLOSED):
        raise Conflict("finished", f"事件已作废或已关闭（未启动响应），不能再{what_zh}",
                       f"the incident is withdrawn or closed; cannot {what_en}")


def _check_open(incident: Incident, what: str) -> None:
    _check_not_closed(incident, "定级", what)
    if incident.status in (ENDED, ARCHIVED):
        raise Conflict("ended", "应急状态已结束，不能再定级", f"the emergency has ended; cannot {what}")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
