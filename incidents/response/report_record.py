"""A report as the record shows it everywhere (API, pages, PDFs): claimed and entered time, 补录, recipients."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents.kernel import labels
from incidents.kernel.batches import chunks
from incidents.kernel.moments import iso
from incidents.models import ClaimReview, Dispatch, Report, ReportDocument, ReportRecipient
from incidents.people.users import name_of
from incidents.plan.model import DELIVERY_CHANNELS
from incidents.plan import Plan
from incidents.plan.versions import plan_of
from incidents.response import documents, sending
from incidents.response.claimed_times import delivery_review, delivery_time, report_time


@dataclass(frozen=True)
class Loaded:
    """The documents and latest dispatches of some reports, loaded together (`preload`) rather than one query each."""

    reports: frozenset[int] = frozenset()
    documents: dict[int, ReportDocument] = field(default_factory=dict)
    recipients: frozenset[int] = frozenset()
    dispatches: dict[int, Dispatch] = field(default_factory=dict)


def preload(session: Session, reports: Iterable[Report], *, relations: bool = True) -> Loaded:
    """Load in a few queries what `record` shows of many reports: recipients and claims (unless the caller
    loaded them with the reports: `relations=False`), documents, dispatches."""
    reports = list(reports)
    ids = sorted({r.id for r in reports if r.id})
    for chunk in chunks(ids) if relations else ():  # fills the relationships of the reports already in the session
        list(session.scalars(select(Report).where(Report.id.in_(chunk)).options(
            selectinload(Report.review), selectinload(Report.recipients).selectinload(ReportRecipient.review))))
    docs: dict[int, ReportDocument] = {}
    for chunk in chunks(ids):
        docs.update((d.report_id, d) for d in session.scalars(
            select(ReportDocument).where(ReportDocument.report_id.in_(chunk))))
    recipient_ids = sorted({x.id for r in reports if r.id for x in r.recipients})
    dispatches: dict[int, Dispatch] = {}
    for chunk in chunks(recipient_ids):
        for row in session.scalars(select(Dispatch).where(Dispatch.recipient_id.in_(chunk)).order_by(Dispatch.id)):
            dispatches[row.recipient_id] = row  # the latest one, as sending.of_recipient answers
    return Loaded(frozenset(ids), docs, frozenset(recipient_ids), dispatches)


def claim(session: Session, backdated: bool, review: ClaimReview | None) -> dict | None:
    """Return a backdated claim's state (None when the time was not backdated)."""
    if not backdated:
        return None
    if review is None:
        return {"status": "pending", "status_name": labels.CLAIM_PENDING, "decided_by": None, "decided_at": None,
                "evidence_kind": None, "evidence_kind_name": None, "evidence_ref": None, "note": None}
    return {"status": review.decision, "status_name": labels.CLAIM_DECISION[review.decision],
            "decided_by": name_of(session, review.decided_by_id), "decided_at": iso(review.decided_at),
            "evidence_kind": review.evidence_kind, "evidence_kind_name": labels.EVIDENCE_KIND.get(review.evidence_kind),
            "evidence_ref": review.evidence_ref, "note": review.note}


def recipient(session: Session, row: ReportRecipient, plan: Plan | None = None, loaded: Loaded | None = None) -> dict:
    """Return one recipient of a report: who, how it goes, when it got it, its 签收, a return."""
    judged = delivery_time(row)
    rule = sending.plan_recipient(plan, row.report.kind, row.code) if plan is not None else None
    return {"code": row.code, "name": row.name, "required": row.required, "channel": row.channel,
            "channel_name": DELIVERY_CHANNELS.get(row.channel or ""), "reference": row.reference,
            "delivered_at": iso(row.delivered_at), "recorded_at": iso(row.recorded_at),
            "recorded_by": name_of(session, row.recorded_by_id), "backdated": row.backdated,
            "claim": claim(session, row.backdated, delivery_review(row)), "judged_at": iso(judged),
            "returned_at": iso(row.returned_at), "return_reason": row.return_reason,
            "skip_level": row.skip_level, "planned_channel": rule.channel if rule else None,
            "planned_channel_name": DELIVERY_CHANNELS.get(rule.channel) if rule else None,
            "receipt_at": iso(row.receipt_at), "receipt_by": row.receipt_by, "remote_ref": row.remote_ref,
            "dispatch": sending.as_dict(_dispatch(session, row.id, loaded)) if row.id else None}


def _dispatch(session: Session, recipient_id: int, loaded: Loaded | None) -> Dispatch | None:
    if loaded is not None and recipient_id in loaded.recipients:
        return loaded.dispatches.get(recipient_id)
    return sending.of_recipient(session, recipient_id)


def _document(session: Session, report_id: int, loaded: Loaded | None) -> ReportDocument | None:
    if loaded is not None and report_id in loaded.reports:
        return loaded.documents.get(report_id)
    return documents.document_of(session, report_id)


def record(session: Session, report: Report, loaded: Loaded | None = None) -> dict:
    """Return the record of a report: claimed and entered time, who entered it, 补录 and its judgement, recipients,
    its sign-off and the document it went out as (`loaded`: what `preload` fetched for a list of reports)."""
    judged_at, judged_by = report_time(report)
    plan = plan_of(report.incident)
    signers = documents.signers_of(plan, report.kind) if report.recipients else ()
    return {"claimed_at": iso(report.submitted_at), "entered_at": iso(report.entered_at),
            "entered_by": name_of(session, report.submitted_by_id), "backdated": report.backdated,
            "claim": claim(session, report.backdated, report.review), "judged_at": iso(judged_at),
            "judged_by": judged_by, "recipients": [recipient(session, r, plan, loaded) for r in report.recipients],
            "skip_level_reason": report.skip_level_reason,
            "sign_off": {"roles": list(signers), "signed_at": iso(report.signed_at),
                         "signed_by": name_of(session, report.signed_by_id),
                         "waiting": bool(signers) and report.signed_at is None} if signers else None,
            "document": documents.as_dict(_document(session, report.id, loaded)) if report.id else None}


def backdated_label(entry: dict) -> str | None:
    """Return the short Chinese mark of a report record's 补录 (e.g. “补录·已确认（传真记录 0371-…）”), or None."""
    c = entry.get("claim")
    if not c:
        return None
    if c["status"] == "pending":
        return f"{labels.BACKDATED}·{labels.CLAIM_PENDING}"
    tail = f"（{c['evidence_kind_name']}：{c['evidence_ref']}，{c['decided_by'] or '—'}）"
    return f"{labels.BACKDATED}·{c['status_name']}{tail}"
