"""The sender: reports (and 签收 receipts) to other bureaus' Yingji, and documents by e-mail.

Claims the due dispatch rows (leased, so several processes share the work and a dead one's rows come
due again), renders a document's PDF once, sends outside any transaction, and records the answer:
delivered, retried later with back-off, or refused for good (the office is told).
"""
from __future__ import annotations

import base64
import logging
import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import event

from app import documents as document_pdf
from app import peering
from app.extensions import Yingji
from incidents.models import Dispatch, ReportDocument
from incidents.response import documents, peers, sending
from notifiers import mail, peer_client, peer_signing

log = logging.getLogger("yingji.sending")
NONCE_KEEP = timedelta(seconds=2 * peer_signing.MAX_SKEW)
PATHS = {"report": "/api/v1/inbox/reports", "receipt": "/api/v1/inbox/receipts"}


class Failure(Exception):
    """A dispatch not delivered: why, and whether a retry may succeed."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.message, self.permanent = message, permanent


def send_due(app: Flask, *, batch: int = 50) -> int:
    """Send what is due; return how many were delivered."""
    wiring: Yingji = app.extensions["yingji"]
    retry = {"first_retry": timedelta(seconds=app.config.get("DISPATCH_RETRY_FIRST", 5.0)),
             "longest_retry": timedelta(seconds=app.config.get("DISPATCH_RETRY_MAX", 600.0))}
    delivered = 0
    while True:
        with wiring.sessions() as session:
            due = sending.claim_due(session, now=wiring.clock.now(), batch=batch)
            session.commit()
        for out in due:
            try:
                result = _send(app, wiring, out)
            except Failure as failure:
                log.warning("dispatch %s to %s failed (%s): %s", out.id, out.target,
                            "permanent" if failure.permanent else "will retry", failure.message)
                with wiring.sessions() as session:
                    sending.record_failure(session, out.id, error=failure.message, permanent=failure.permanent,
                                           now=wiring.clock.now(), **retry)
                    session.commit()
                continue
            with wiring.sessions() as session:
                sending.record_sent(session, out.id, result=result, now=wiring.clock.now())
                session.commit()
            delivered += 1
        if len(due) < batch:
            return delivered


class Wakeup:
    """Run the sender in a background thread as soon as it is woken, instead of at the scheduler's next look.

    One thread per app, started by the first wake-up. A wake-up while it sends makes it look again after.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.event = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def __call__(self) -> None:
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="yingji-send-now", daemon=True)
                    self.thread.start()
        self.event.set()

    def _run(self) -> None:
        while True:
            self.event.wait()
            self.event.clear()
            try:
                send_due(self.app)
            except Exception:  # noqa: BLE001 - the rows stay due: the scheduler's next run sends them
                log.exception("sending at once failed")


QUEUED_HERE = "yingji_dispatch_queued"


def send_at_once(app: Flask) -> Wakeup:
    """Wake the sender after every commit of this app's sessions that queued a dispatch (a report signed off,
    a 签收): the report leaves at once instead of up to DISPATCH_EVERY later.

    For the process that runs the sender (the in-process scheduler); a separate `flask scheduler` process
    is not woken and sends at its next look. Retries still wait for the scheduler's runs.
    """
    wake = Wakeup(app)
    sessions = app.extensions["yingji"].sessions

    @event.listens_for(sessions, "after_flush")
    def _queued(session, _context) -> None:
        if any(isinstance(row, Dispatch) for row in session.new):
            session.info[QUEUED_HERE] = True

    @event.listens_for(sessions, "after_commit")
    def _committed(session) -> None:
        if session.info.pop(QUEUED_HERE, False):
            wake()

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session) -> None:
        session.info.pop(QUEUED_HERE, None)

    return wake


def _pdf(wiring: Yingji, document_id: int | None) -> bytes | None:
    if document_id is None:
        return None
    with wiring.sessions() as session:
        doc = session.get(ReportDocument, document_id)
        data = documents.pdf_of(session, doc, document_pdf.render, now=wiring.clock.now())
        session.commit()
        return data


def _send(app: Flask, wiring: Yingji, out: sending.Outgoing) -> dict:
    if out.channel == "email":
        return _mail(app, wiring, out)
    with wiring.sessions() as session:
        peer = peers.get(session, out.target)
        url = peer.url if peer is not None and peer.revoked_at is None else None
    if not url:
        raise Failure(f"单位“{out.target}”未登记地址或已停用（flask peers add），请以其他方式报送并登记", True)
    me = peering.identity(app)
    body = {"payload": out.payload}
    if out.kind == "report":
        pdf = _pdf(wiring, out.document_id)
        body["pdf"] = base64.b64encode(pdf).decode("ascii") if pdf else None
    try:
        status, answer = peer_client.post(url, PATHS[out.kind], body, sender=me.code, recipient=out.target,
                                          key_id=me.key_id, private_key=me.private_key, now=wiring.clock.now(),
                                          timeout=app.config.get("PEER_TIMEOUT", 10.0))
    except peer_client.PeerDeliveryError as error:
        raise Failure(f"{error.message_zh}（{error.code}）", not error.transient) from None
    answer = answer if isinstance(answer, dict) else {}
    return {"status": status, "inbound_id": answer.get("inbound_id"), "received_at": answer.get("received_at"),
            "incident_number": answer.get("incident_number"), "reference": answer.get("inbound_id")}


def _mail(app: Flask, wiring: Yingji, out: sending.Outgoing) -> dict:
    settings = mail.settings_from(app.config)
    if settings is None:
        raise Failure("未配置邮件服务器（SMTP_HOST），请以其他方式报送并登记", True)
    pdf = _pdf(wiring, out.payload.get("document_id") or out.document_id)
    try:
        receipt = mail.send_pdf(settings, to=[out.target], subject=out.payload["subject"], body=out.payload["body"],
                                pdf=pdf or b"", filename=out.payload["filename"])
    except mail.MailError as error:
        raise Failure(f"{error.message_zh}（{error.code}）", not error.transient) from None
    return {"message_id": receipt.message_id, "accepted_at": receipt.accepted_at.isoformat(),
            "reference": receipt.message_id}


def forget_nonces(app: Flask) -> int:
    """Forget the nonces of signed requests older than twice the allowed clock skew (they are refused anyway)."""
    wiring: Yingji = app.extensions["yingji"]
    with wiring.sessions() as session:
        dropped = peers.purge_nonces(session, now=wiring.clock.now(), keep=NONCE_KEEP)
        session.commit()
    return dropped
