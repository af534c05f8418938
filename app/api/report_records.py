"""A report's record after filing: its recipients' deliveries and returns, and the judgement of a 补录."""
from __future__ import annotations

from flask import jsonify

from app.api import bp, parse, serialize
from app.auth import api_login_required, current_user, token_actions
from app.extensions import db, now
from app import documents as document_pdf
from app.api.files import pdf_response
from incidents.kernel.errors import NotFound
from incidents.response import claims, documents, recipients, service, sign_off


def _answer(report_id: int, status: int = 200):
    session = db()
    report = recipients.get_report(session, report_id, actor=current_user(), for_update=False)
    incident = service.get_incident(session, report.incident_id)
    return jsonify({"report": serialize.report(report), "incident": serialize.incident(incident, now())}), status


@bp.post("/reports/<int:report_id>/recipients/<code>/delivery")
@api_login_required
@token_actions("deliver")
def record_delivery(report_id: int, code: str):
    """Record that a recipient has the report: when (claimed), through what, with which reference."""
    data = parse.body()
    session = db()
    recipients.record_delivery(session, report_id=report_id, code=code,
                               delivered_at=parse.timestamp(data, "delivered_at", "送达时间"),
                               channel=parse.text(data, "channel", "报送方式", required_=True),
                               reference=parse.text(data, "reference", "送达凭证", required_=True),
                               actor=current_user(), now=now())
    session.commit()
    return _answer(report_id)


@bp.post("/reports/<int:report_id>/sign-off")
@api_login_required
def sign_off_report(report_id: int):
    """Sign a report off (签发): it gets its document number and goes to every recipient at once."""
    parse.body()
    session = db()
    sign_off.sign_off(session, report_id=report_id, actor=current_user(), now=now())
    session.commit()
    return _answer(report_id)


@bp.get("/reports/<int:report_id>/document.pdf")
@api_login_required
def report_document_pdf(report_id: int):
    """The official document (公文) a report went out as: the very PDF that was sent."""
    session = db()
    report = recipients.get_report(session, report_id, actor=current_user(), for_update=False)
    doc = documents.document_of(session, report.id)
    if doc is None:
        raise NotFound("no_document", "该报告尚未发出，没有公文", "the report has not gone out: it has no document")
    data = documents.pdf_of(session, doc, document_pdf.render, now=now())
    session.commit()
    return pdf_response(data, f"{doc.number}.pdf")


@bp.post("/reports/<int:report_id>/recipients/<code>/return")
@api_login_required
@token_actions("deliver")
def record_return(report_id: int, code: str):
    """Record that a recipient returned the report for revision: its clock is owed again."""
    data = parse.body()
    session = db()
    recipients.record_return(session, report_id=report_id, code=code,
                             reason=parse.text(data, "reason", "退回理由", required_=True),
                             actor=current_user(), now=now())
    session.commit()
    return _answer(report_id)


def _review(report_id: int, recipient: str | None):
    data = parse.body()
    session = db()
    claims.review(session, report_id=report_id, recipient=recipient,
                  decision=parse.text(data, "decision", "确认结果", required_=True),
                  evidence_kind=parse.text(data, "evidence_kind", "凭证类别", required_=True),
                  evidence_ref=parse.text(data, "evidence_ref", "凭证"),
                  note=parse.text(data, "note", "说明"), actor=current_user(), now=now())
    session.commit()
    return _answer(report_id)


@bp.post("/reports/<int:report_id>/claim-review")
@api_login_required
@token_actions("review_claim")
def review_report_claim(report_id: int):
    """Confirm or reject a backdated report time (补录) with the evidence named."""
    return _review(report_id, None)


@bp.post("/reports/<int:report_id>/recipients/<code>/claim-review")
@api_login_required
@token_actions("review_claim")
def review_delivery_claim(report_id: int, code: str):
    """Confirm or reject a backdated delivery time with the evidence named."""
    return _review(report_id, code)
