"""Reports as official documents, and bureaus that run Yingji reporting to each other (plan §三(二)2).

A report the plan has signed off (签发) gets a document number and its PDF frozen (`ReportDocument`); what
goes to another bureau's Yingji or by e-mail waits in `Dispatch` rows until it is delivered; what another
bureau sends here arrives as an `InboundReport` and opens or joins a local incident (`IncidentLink`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime

# What a dispatch carries, and where it stands.
DISPATCH_REPORT, DISPATCH_RECEIPT = "report", "receipt"
QUEUED, SENT, FAILED = "queued", "sent", "failed"


class DocumentCounter(Base):
    """The last document number a bureau gave in a year (机关代字〔年份〕序号号): numbers never skip."""

    __tablename__ = "document_counters"

    issuer: Mapped[str] = mapped_column(String(20), primary_key=True)  # 机关代字, e.g. 中市监
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ReportDocument(Base):
    """A report as signed off and sent: its number, signer, title and the PDF exactly as it went. Never edited."""

    __tablename__ = "report_documents"
    __table_args__ = (UniqueConstraint("issuer", "year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), unique=True)
    issuer: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))  # 中市监〔2026〕12号
    title: Mapped[str] = mapped_column(Text)
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str | None] = mapped_column(String(80))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[dict] = mapped_column(JSON)  # what the PDF says, as data
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))


class Peer(Base):
    """Another bureau that runs Yingji: where to send to it, and the public key its requests are signed with."""

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # its plan's bureau_code
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str | None] = mapped_column(String(300))  # its base URL; None: it only sends here
    key_id: Mapped[str | None] = mapped_column(String(80))
    public_key: Mapped[str | None] = mapped_column(String(200))  # base64 raw Ed25519
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Dispatch(Base):
    """One thing to deliver to another bureau's Yingji or by e-mail, retried with back-off until delivered.

    The payload is frozen when the row is made, so a retry sends exactly what was signed off.
    """

    __tablename__ = "dispatches"
    __table_args__ = (Index("ix_dispatches_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # report | receipt
    channel: Mapped[str] = mapped_column(String(10))  # yingji | email
    target: Mapped[str] = mapped_column(String(200))  # peer code or e-mail address
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("report_recipients.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_reports.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict | None] = mapped_column(JSON)


class InboundReport(Base):
    """A report another bureau's Yingji delivered here: kept as received, and the 签收 of this office."""

    __tablename__ = "inbound_reports"
    __table_args__ = (UniqueConstraint("sender", "report_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(40))  # peer code
    report_uid: Mapped[str] = mapped_column(String(80))  # the sender's id of the report
    recipient_code: Mapped[str] = mapped_column(String(40))  # what the sender's plan calls this bureau
    sender_incident_id: Mapped[int] = mapped_column(Integer)
    sender_incident_number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    document_number: Mapped[str | None] = mapped_column(String(40))
    skip_level: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as the sender says
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 签收
    receipt_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IncidentLink(Base):
    """A local incident opened for another bureau's incident: its number there, to link back."""

    __tablename__ = "incident_links"
    __table_args__ = (UniqueConstraint("peer", "remote_incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    peer: Mapped[str] = mapped_column(String(40))
    remote_incident_id: Mapped[int] = mapped_column(Integer)
    remote_number: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PeerNonce(Base):
    """A signed request's nonce, kept for the replay window so the same request is refused twice."""

    __tablename__ = "peer_nonces"
    __table_args__ = (UniqueConstraint("sender", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
