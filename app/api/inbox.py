"""The inbox of reports from other bureaus' Yingji (signed requests), and the office's 签收."""
from __future__ import annotations

import base64
import binascii

from flask import current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from app import peering
from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.extensions import db, now, yingji
from app.api.files import pdf_response
from incidents.kernel.errors import InvalidInput, NotFound
from incidents.people import permissions
from incidents.response import inbox


def _signed_body() -> tuple:
    """Verify the request's signature before reading anything it says; return (session, sender, body)."""
    request.max_content_length = peering.INBOX_MAX_BODY
    session = db()
    sender = peering.verify_request(session, current_app, now())
    session.commit()  # the nonce stays used even if the payload is refused below
    return session, sender, parse.body()


def _pdf(data: dict) -> bytes | None:
    raw = data.get("pdf")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw if isinstance(raw, str) else "", validate=True) or None
    except (binascii.Error, ValueError):
        raise InvalidInput("bad_pdf", "公文 PDF 须为 base64", "pdf must be base64", field="pdf") from None


@bp.post("/inbox/reports")
def inbox_report():
    """Receive a report another bureau's Yingji sends (signed); a repeat of the same report changes nothing."""
    session, sender, data = _signed_body()
    payload, pdf = data.get("payload"), _pdf(data)
    try:
        row, created = inbox.accept(session, yingji().plan, sender=sender, payload=payload, pdf=pdf, now=now())
        session.commit()
    except IntegrityError:
        # The same report, or another report of the same event, arrived at the same moment and won the insert:
        # this one then joins what that one wrote (a repeat changes nothing, a sibling joins its incident).
        session.rollback()
        row, created = inbox.accept(session, yingji().plan, sender=sender, payload=payload, pdf=pdf, now=now())
        session.commit()
    incident_number = row.incident_id and session.get(inbox.Incident, row.incident_id).number
    return jsonify({"inbound_id": row.id, "received_at": row.received_at.isoformat(),
                    "incident_number": incident_number, "duplicate": not created}), 201 if created else 200


@bp.post("/inbox/receipts")
def inbox_receipt():
    """Receive a recipient bureau's 签收 of a report sent from here (signed)."""
    session, sender, data = _signed_body()
    row = inbox.record_receipt(session, yingji().plan, sender=sender, payload=data.get("payload"), now=now())
    session.commit()
    return jsonify({"report_id": row.report_id, "recipient": row.code,
                    "receipt_at": row.receipt_at.isoformat() if row.receipt_at else None})


@bp.get("/inbox")
@api_login_required
def inbox_list():
    """List the reports other bureaus sent here; `pending=1` only those not yet signed for."""
    permissions.require(current_user(), "receive")
    session = db()
    rows = inbox.pending(session) if request.args.get("pending") in ("1", "true") else inbox.recent(session)
    return jsonify({"inbound": [inbox.as_dict(r) for r in rows]})


@bp.get("/inbox/<int:inbound_id>/document.pdf")
@api_login_required
def inbox_document_pdf(inbound_id: int):
    """The PDF of a report another bureau sent, exactly as it arrived."""
    permissions.require(current_user(), "receive")
    row = inbox.get(db(), inbound_id)
    if not row.pdf:
        raise NotFound("no_document", "该来文没有附带公文 PDF", "this report came without a PDF")
    return pdf_response(row.pdf, f"{row.document_number or row.report_uid}.pdf")


@bp.post("/inbox/<int:inbound_id>/sign-for")
@api_login_required
def inbox_sign_for(inbound_id: int):
    """Sign for a report from another bureau (签收): the receipt travels back to its sender."""
    parse.body()
    session = db()
    row = inbox.sign_for(session, inbound_id=inbound_id, actor=current_user(), now=now())
    session.commit()
    return jsonify({"inbound": inbox.as_dict(row)})
