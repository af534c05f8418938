"""Who received a report, when, through what and as which reference (plan §三(二)2, §五(一)).

The plan names the recipients of a report (the written report after the end goes to the county
government and the city bureau). Each recipient's delivery is recorded once, with its channel and
reference (fax number, 政务内网 receipt, document number); a delivery time claimed well before its
entry is a 补录 as for reports. The report counts for its clock when every required recipient has
it; a recipient returning it (退回) reopens the clock until a new report reaches everyone.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.actors import actor_id
from incidents.kernel.errors import Conflict, InvalidInput, NotFound
from incidents.kernel.text import checked_text
from incidents.models import ARCHIVED, ENDED, LATE, MET, Report, ReportRecipient
from incidents.people import permissions
from incidents.plan.model import RECORDED_CHANNELS
from incidents.records import announce, audit
from incidents.response import clock_rows, documents, sending, service
from incidents.response.claimed_times import is_backdated


def get_report(session: Session, report_id: int, *, actor, for_update: bool = True) -> Report:
    """Load a report of an incident the user may see (404 otherwise), its incident locked."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound("not_found", f"报告 {report_id} 不存在", f"report {report_id} not found")
    service.get_incident(session, report.incident_id, user=actor, for_update=for_update)
    return report


def recipient_of(report: Report, code: str) -> ReportRecipient:
    row = next((r for r in report.recipients if r.code == code), None)
    if row is None:
        raise NotFound("no_recipient", f"该报告没有报送对象“{str(code)[:40]}”", f"the report has no recipient '{code}'")
    return row


def record_delivery(session: Session, *, report_id: int, code: str, delivered_at: datetime | None, channel: str,
                    reference: str, actor, now: datetime) -> ReportRecipient:
    """Record that a recipient has the report; when all required ones have it, its clock is met (and archives)."""
    report = get_report(session, report_id, actor=actor)
    incident = report.incident
    plan = service.plan_of(incident)
    if report.submitted_by_id is None or report.submitted_by_id != actor_id(actor):
        permissions.require(actor, "deliver", incident, plan)  # whoever filed it says whom they told, and how
    if documents.awaits_sign_off(report, plan):
        raise Conflict("not_signed_off", "该报告尚未签发，不能登记送达", "the report is not signed off yet")
    row = recipient_of(report, code)
    if row.returned_at is not None:
        raise Conflict("returned", f"{row.name}已退回该报告，请重新上报", f"recipient {row.code} returned this report; file a new one")
    if row.delivered_at is not None:
        raise Conflict("already_delivered", f"已登记{row.name}收到该报告，不能修改（如有误请登记退回并重新上报）",
                       f"the delivery to {row.code} is already recorded")
    if channel not in RECORDED_CHANNELS:
        raise InvalidInput("unknown_channel", "报送方式须为：" + "、".join(RECORDED_CHANNELS.values()),
                           "channel: " + ", ".join(RECORDED_CHANNELS), field="channel")
    reference = checked_text(reference, field="reference", label="送达凭证（传真号、政务内网回执、文号等）", limit=200)
    delivered_at = service.not_future(delivered_at, now, "delivered_at", plan) if delivered_at else now
    if delivered_at < report.submitted_at:
        raise InvalidInput("before_report", "送达时间不能早于报告的报送时间", "delivered_at is before the report was sent",
                           field="delivered_at")
    if report.signed_at is not None and delivered_at < report.signed_at and not report.backdated:
        # A report entered as it happened took its number at the sign-off: no recipient had it before. One entered
        # later (补录) was signed on paper before it was entered, so its deliveries may precede the entry's sign-off.
        raise InvalidInput("before_sign_off", "送达时间不能早于报告的签发时间", "delivered_at is before the sign-off",
                           field="delivered_at")
    row.channel, row.reference, row.delivered_at = channel, reference, delivered_at
    row.recorded_at, row.recorded_by_id = now, actor_id(actor)
    row.backdated = is_backdated(delivered_at, now, plan)
    sending.cancel_for(session, row, now=now)
    session.flush()
    audit.record(session, actor=actor, action="report.delivered", entity="report_recipient", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"report_id": report.id, "recipient": row.code, "channel": channel, "reference": reference,
                       "delivered_at": delivered_at.isoformat(), "recorded_at": now.isoformat(),
                       "backdated": row.backdated})
    clock_rows.satisfy_with(session, incident, plan, report, actor=actor, now=now)
    _archive_when_done(session, incident, actor=actor, now=now)
    announce.incident_changed(session, incident, plan, what="report:delivered", at=now)
    return row


def _archive_when_done(session: Session, incident, *, actor, now: datetime) -> None:
    if incident.status == ENDED and any(d.kind == "closing_report" and d.status in (MET, LATE)
                                        for d in incident.deadlines):
        service.archive(session, incident_id=incident.id, actor=actor, now=now)


def record_return(session: Session, *, report_id: int, code: str, reason: str, actor, now: datetime) -> ReportRecipient:
    """Record that a recipient returned the report for revision: its clock is owed again."""
    report = get_report(session, report_id, actor=actor)
    incident = report.incident
    plan = service.plan_of(incident)
    permissions.require(actor, "deliver", incident, plan)
    row = recipient_of(report, code)
    if row.delivered_at is None or row.returned_at is not None:
        raise Conflict("not_delivered", f"{row.name}尚未收到该报告或已退回", f"recipient {row.code} does not hold this report")
    reason = checked_text(reason, field="reason", label="退回理由", limit=2000)
    row.returned_at, row.return_reason, row.returned_by_id = now, reason, actor_id(actor)
    audit.record(session, actor=actor, action="report.returned", entity="report_recipient", entity_id=row.id,
                 incident_id=incident.id, at=now, data={"report_id": report.id, "recipient": row.code, "reason": reason})
    why = f"{row.name}退回书面报告：{reason}"
    clock_rows.reopen(session, incident, report, reason=why, actor=actor, now=now)
    if incident.status == ARCHIVED:
        # Archived because everyone had it; a return makes the report owed again, so the incident is open again.
        incident.status = ENDED
        audit.record(session, actor=actor, action="incident.reopened", entity="incident", entity_id=incident.id,
                     incident_id=incident.id, at=now,
                     data={"archived_at": incident.archived_at.isoformat() if incident.archived_at else None,
                           "reason": why})
        incident.archived_at = None
    announce.incident_changed(session, incident, plan, what="report:returned", at=now)
    return row


def reports_with_recipients(session: Session, incident_id: int) -> list[Report]:
    """Return an incident's reports that have recipients, oldest first."""
    return [r for r in session.scalars(select(Report).where(Report.incident_id == incident_id)
                                       .order_by(Report.submitted_at, Report.id)) if r.recipients]
