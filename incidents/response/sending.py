"""How a released report reaches each recipient: here at once, other bureaus' Yingji and e-mail by a queue.

Each yingji or e-mail recipient gets a `Dispatch` row holding exactly what goes (frozen at release). A
sender process claims the rows that are due (a lease, so two processes never send one row at once and a
process that dies mid-send leaves it due again: the receiving inbox is idempotent by the report's id),
sends, and records the answer here: delivered (the recipient has it: its clock may now be met), a
transient failure (retried with back-off, without end: a bureau that is down for a day still gets the
report when it is back), or a permanent refusal (the office is told, and records another channel).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.batches import claim
from incidents.kernel.moments import iso
from incidents.models import (
    CLOSED,
    DISPATCH_RECEIPT,
    DISPATCH_REPORT,
    FAILED,
    QUEUED,
    SENT,
    Dispatch,
    InboundReport,
    Report,
    ReportDocument,
    ReportRecipient,
    WITHDRAWN,
)
from incidents.people.users import name_of
from incidents.plan import Plan
from incidents.plan.model import EMAIL, INTERNAL, YINGJI, Recipient
from incidents.plan.versions import plan_of
from incidents.records import announce, audit, board_events
from incidents.records.board_events import department_room
from incidents.response import clock_rows

SENDER = SystemActor("局际报送")
# Back-off between attempts: doubling from the first, never longer than the last.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=10)
# A claimed row not answered within this is due again (the process died, or the peer hung).
LEASE = timedelta(minutes=2)


def plan_recipient(plan: Plan, kind: str, code: str) -> Recipient | None:
    """Return the plan's recipient of this code for a report kind (a 越级上报 one included)."""
    return next((r for r in plan.reports.recipients_of(kind) + plan.reports.skip_level_of(kind) if r.code == code),
                None)


def report_uid(plan: Plan, report: Report) -> str:
    """Return the report's id among bureaus (this bureau's code and the report's number here)."""
    return f"{plan.bureau_code or plan.id}:{report.id}"


def deliver_and_queue(session: Session, report: Report, doc: ReportDocument | None, plan: Plan, *, actor,
                      now: datetime, reference: str | None = None) -> None:
    """Deliver a released report to this bureau itself, and queue it for every yingji and e-mail recipient.

    Without a document (another bureau's report filed here on arrival) it is only delivered here.
    """
    incident = report.incident
    reference = doc.number if doc is not None else (reference or "")
    for row in report.recipients:
        rule = plan_recipient(plan, report.kind, row.code)
        channel = rule.channel if rule else None
        if channel == INTERNAL:
            # Released as filed, it reached this bureau when its filer sent it: the claimed time, a 补录 judged with
            # the report's own claim; released at a later sign-off, then.
            as_filed = now == report.entered_at
            delivered_at = report.submitted_at if as_filed else now
            row.channel, row.reference, row.delivered_at = INTERNAL, reference, delivered_at
            row.recorded_at, row.recorded_by_id, row.receipt_at = now, actor_id(actor), now
            row.backdated = report.backdated and as_filed
            audit.record(session, actor=actor, action="report.delivered", entity="report_recipient", entity_id=row.id,
                         incident_id=incident.id, at=now,
                         data={"report_id": report.id, "recipient": row.code, "channel": INTERNAL,
                               "reference": reference, "delivered_at": delivered_at.isoformat(),
                               "recorded_at": now.isoformat(), "backdated": row.backdated})
        elif doc is None:
            continue
        elif channel == YINGJI and rule.peer:
            session.add(Dispatch(kind=DISPATCH_REPORT, channel=YINGJI, target=rule.peer, recipient_id=row.id,
                                 payload=_report_payload(report, doc, plan, row), status=QUEUED, attempts=0,
                                 next_attempt_at=now, created_at=now))
        elif channel == EMAIL and rule.email:
            session.add(Dispatch(kind=DISPATCH_REPORT, channel=EMAIL, target=rule.email, recipient_id=row.id,
                                 payload=_mail_payload(report, doc, plan, row), status=QUEUED, attempts=0,
                                 next_attempt_at=now, created_at=now))
    session.flush()
    clock_rows.satisfy_with(session, incident, plan, report, actor=actor, now=now)


def _report_payload(report: Report, doc: ReportDocument, plan: Plan, row: ReportRecipient) -> dict:
    incident = report.incident
    return {"report_uid": report_uid(plan, report), "sender": plan.bureau_code, "sender_name": plan.bureau,
            "recipient_code": row.code, "kind": report.kind, "skip_level": row.skip_level,
            "skip_level_reason": report.skip_level_reason, "sent_at": iso(doc.signed_at),
            "document": {"number": doc.number, "title": doc.title, "signer": doc.signer_name,
                         "content": doc.content},
            "incident": {"id": incident.id, "number": incident.number, "title": incident.title,
                         "category": incident.category, "level": incident.level,
                         "discovered_at": iso(incident.discovered_at), "location": incident.location,
                         "source": incident.source, "nature": incident.nature, "scope": incident.scope,
                         "trend": incident.trend, "measures_taken": incident.measures_taken,
                         "casualties": incident.casualties, "status": incident.status}}


def _mail_payload(report: Report, doc: ReportDocument, plan: Plan, row: ReportRecipient) -> dict:
    return {"report_uid": report_uid(plan, report), "subject": f"{doc.number} {doc.title}",
            "body": f"{row.name}：\n\n{plan.bureau}报送《{doc.title}》（{doc.number}），正文见附件 PDF。\n\n"
                    f"{plan.bureau}\n", "filename": f"{doc.number}.pdf", "document_id": doc.id}


def queue_receipt(session: Session, inbound: InboundReport, *, now: datetime) -> Dispatch:
    """Queue this office's 签收 of an inbound report back to the bureau that sent it."""
    row = Dispatch(kind=DISPATCH_RECEIPT, channel=YINGJI, target=inbound.sender, inbound_id=inbound.id,
                   payload={"report_uid": inbound.report_uid, "recipient_code": inbound.recipient_code,
                            "receipt_at": iso(inbound.receipt_at), "receipt_by": name_of(session, inbound.receipt_by_id),
                            "inbound_id": inbound.id},
                   status=QUEUED, attempts=0, next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Outgoing:
    """One dispatch handed to a sender: where it goes and what it carries."""

    id: int
    kind: str
    channel: str
    target: str
    payload: dict
    attempt: int
    document_id: int | None


def claim_due(session: Session, *, now: datetime, batch: int = 50) -> list[Outgoing]:
    """Claim the dispatches that are due (leased for LEASE); the caller commits, sends, then records."""
    stmt = (select(Dispatch).where(Dispatch.status == QUEUED, Dispatch.next_attempt_at <= now)
            .order_by(Dispatch.next_attempt_at, Dispatch.id).limit(batch))
    rows = claim(session, stmt, of=Dispatch)
    # Each report's document, for every claimed row at once (a receipt has none).
    recipients = {r.recipient_id for r in rows if r.recipient_id is not None}
    documents = dict(session.execute(
        select(ReportRecipient.id, ReportDocument.id)
        .join(ReportDocument, ReportDocument.report_id == ReportRecipient.report_id)
        .where(ReportRecipient.id.in_(recipients))).all()) if recipients else {}
    out = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        out.append(Outgoing(row.id, row.kind, row.channel, row.target, row.payload, row.attempts,
                            documents.get(row.recipient_id)))
    return out


def backoff(attempt: int, *, first: timedelta = FIRST_RETRY, longest: timedelta = LONGEST_RETRY) -> timedelta:
    """Return the wait before the next attempt after `attempt` failed ones (`first` doubling, at most `longest`)."""
    return min(longest, first * (2 ** min(max(attempt - 1, 0), 16)))


def record_sent(session: Session, dispatch_id: int, *, result: dict, now: datetime) -> None:
    """Keep what the receiver answered; a report's recipient has it now (its clock may be met)."""
    row = session.get(Dispatch, dispatch_id, with_for_update=True)
    if row is None or row.status != QUEUED:
        return  # already recorded by another process
    row.status, row.done_at, row.result, row.next_attempt_at, row.last_error = SENT, now, result, None, None
    if row.kind != DISPATCH_REPORT or row.recipient_id is None:
        return
    recipient = session.get(ReportRecipient, row.recipient_id)
    report = recipient.report
    incident = report.incident
    plan = plan_of(incident)
    reference = str(result.get("reference") or result.get("inbound_id") or result.get("message_id") or "")[:200]
    audit.record(session, actor=SENDER, action="report.dispatched", entity="report_recipient", entity_id=recipient.id,
                 incident_id=incident.id, at=now,
                 data={"report_id": report.id, "recipient": recipient.code, "channel": row.channel,
                       "target": row.target, "attempts": row.attempts, "result": result})
    if recipient.delivered_at is not None or recipient.returned_at is not None:
        recipient.remote_ref = recipient.remote_ref or reference
        return  # the office recorded it through another channel first: that delivery stands
    recipient.channel, recipient.reference, recipient.remote_ref = row.channel, reference or row.target, reference
    recipient.delivered_at = recipient.recorded_at = now
    audit.record(session, actor=SENDER, action="report.delivered", entity="report_recipient", entity_id=recipient.id,
                 incident_id=incident.id, at=now,
                 data={"report_id": report.id, "recipient": recipient.code, "channel": row.channel,
                       "reference": recipient.reference, "delivered_at": now.isoformat(),
                       "recorded_at": now.isoformat(), "backdated": False})
    clock_rows.satisfy_with(session, incident, plan, report, actor=SENDER, now=now)
    announce.incident_changed(session, incident, plan, what="report:delivered", at=now)


def record_failure(session: Session, dispatch_id: int, *, error: str, permanent: bool, now: datetime,
                   first_retry: timedelta = FIRST_RETRY, longest_retry: timedelta = LONGEST_RETRY) -> None:
    """Retry a transient failure after the back-off; stop at a permanent refusal and tell the office."""
    row = session.get(Dispatch, dispatch_id, with_for_update=True)
    if row is None or row.status != QUEUED:
        return
    row.last_error = error[:2000]
    if not permanent:
        row.next_attempt_at = now + backoff(row.attempts, first=first_retry, longest=longest_retry)
        return
    row.status, row.done_at, row.next_attempt_at = FAILED, now, None
    incident_id = None
    what = {"dispatch_id": row.id, "channel": row.channel, "target": row.target, "error": row.last_error}
    if row.recipient_id is not None:
        recipient = session.get(ReportRecipient, row.recipient_id)
        incident_id = recipient.report.incident_id
        what.update(report_id=recipient.report_id, recipient=recipient.code, recipient_name=recipient.name,
                    incident_id=incident_id)
        plan = plan_of(recipient.report.incident)
        board_events.publish(session, rooms={department_room(plan.office_department)}, event_name="dispatch",
                             payload={"what": "failed", **what}, at=now)
    audit.record(session, actor=SENDER, action="dispatch.failed", entity="dispatch", entity_id=row.id,
                 incident_id=incident_id, at=now, data=what)


def cancel_for(session: Session, recipient: ReportRecipient, *, now: datetime) -> None:
    """Stop sending to a recipient the office recorded through another channel."""
    for row in session.scalars(select(Dispatch).where(Dispatch.recipient_id == recipient.id,
                                                      Dispatch.status == QUEUED)):
        row.status, row.done_at, row.next_attempt_at = FAILED, now, None
        row.last_error = "已登记以其他方式送达，停止自动发送"


def of_recipient(session: Session, recipient_id: int) -> Dispatch | None:
    """Return the latest dispatch to a recipient (None: it goes by a channel a person records)."""
    return session.scalar(select(Dispatch).where(Dispatch.recipient_id == recipient_id)
                          .order_by(Dispatch.id.desc()).limit(1))


def as_dict(row: Dispatch | None) -> dict | None:
    """Return a dispatch as the report's page shows it."""
    if row is None:
        return None
    return {"id": row.id, "channel": row.channel, "target": row.target, "status": row.status,
            "attempts": row.attempts, "next_attempt_at": iso(row.next_attempt_at), "last_error": row.last_error,
            "done_at": iso(row.done_at)}


def failed_undelivered(session: Session, *, limit: int = 50) -> list[dict]:
    """Return the reports' dispatches refused for good whose recipient still lacks the report, newest first.

    What the office must still send another way and record (the board's alerts after a reload).
    """
    rows = session.execute(
        select(Dispatch, ReportRecipient).join(ReportRecipient, ReportRecipient.id == Dispatch.recipient_id)
        .where(Dispatch.kind == DISPATCH_REPORT, Dispatch.status == FAILED, ReportRecipient.delivered_at.is_(None),
               ReportRecipient.returned_at.is_(None))
        .order_by(Dispatch.done_at.desc(), Dispatch.id.desc()).limit(limit))
    out = []
    for dispatch, recipient in rows:
        if of_recipient(session, recipient.id).id != dispatch.id:
            continue  # a later dispatch to the same recipient speaks for it
        if recipient.report.incident.status in (WITHDRAWN, CLOSED):
            continue  # nothing is owed for an incident withdrawn or closed
        out.append({"dispatch_id": dispatch.id, "channel": dispatch.channel, "target": dispatch.target,
                    "error": dispatch.last_error, "failed_at": iso(dispatch.done_at), "report_id": recipient.report_id,
                    "recipient": recipient.code, "recipient_name": recipient.name,
                    "incident_id": recipient.report.incident_id})
    return out
