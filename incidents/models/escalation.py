"""Escalations walking their frozen chains, and the deliveries they make."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.states import DeliveryStatus, EscalationStatus
from incidents.kernel.db import Base, UTCDateTime


# Escalation states: running until someone acknowledges, the item is resolved (done, reported,
# ended), the chain runs out, or a newer escalation of the same item supersedes it.
ESC_RUNNING = EscalationStatus.RUNNING
ESC_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED
ESC_RESOLVED = EscalationStatus.RESOLVED
ESC_STOPPED = EscalationStatus.STOPPED
ESC_EXHAUSTED = EscalationStatus.EXHAUSTED
ESCALATION_STATUSES = tuple(EscalationStatus)


class Escalation(Base):
    """An item (an unacknowledged assignment, a clock about to run out) walking its frozen chain."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_due", "status", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # One escalation per item and cause, e.g. A12 or D7:1:overdue; starting twice finds the first.
    key: Mapped[str] = mapped_column(String(60), unique=True)
    # The item: an assignment or a clock of an incident, or a 12315 complaint's time limit.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"), index=True)
    complaint_limit_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_limits.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(20))  # unacknowledged | warning | overdue
    department: Mapped[str | None] = mapped_column(String(40))
    station: Mapped[str | None] = mapped_column(String(40))
    # The plan's chain as it was when the escalation started: {level, repeat, repeat_after, steps}.
    chain: Mapped[dict] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=ESC_RUNNING)
    next_step: Mapped[int] = mapped_column(Integer, default=0)  # over all rounds
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    ack_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ack_by_name: Mapped[str | None] = mapped_column(String(80))
    ack_channel: Mapped[str | None] = mapped_column(String(10))  # board | sms | voice
    # The random code (签收码) an SMS reply must name to acknowledge this item: sent only to the
    # phones alerted about it, not guessable from the item's number (A12), unique among open items.
    reply_code: Mapped[str | None] = mapped_column(String(8), index=True)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="escalation", order_by="Delivery.id", foreign_keys="Delivery.escalation_id")


# Delivery states and what each means: incidents/kernel/states.py DeliveryStatus.
DELIVERY_STATUSES = tuple(DeliveryStatus)


class Delivery(Base):
    """One attempt to tell one person something on one channel, and what became of it."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_sendable", "status", "next_attempt_at"),
        Index("ix_deliveries_phone_sent", "phone", "channel", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Escalation, step, kind and person: the same step never tells the same person twice.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    step: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(10))  # alert | handled | test
    channel: Mapped[str] = mapped_column(String(10))  # board | sms | voice
    audience: Mapped[str | None] = mapped_column(String(20))  # duty_officer | department_head | leadership
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    provider: Mapped[str | None] = mapped_column(String(40))
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))  # the message it went out in
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    escalation: Mapped[Escalation | None] = relationship(back_populates="deliveries", foreign_keys=[escalation_id])


class ProviderReceipt(Base):
    """A provider's webhook already acted on (a Twilio MessageSid or CallSid): a repeat changes nothing."""

    __tablename__ = "provider_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # sms | voice
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # for the retention purge
