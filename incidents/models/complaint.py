"""12315 complaints, their working-day limits and recounts, rate counters, surges, consumer warnings."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.states import SurgeStatus, WarningStatus
from incidents.kernel.db import Base, UTCDateTime
from incidents.kernel.sealed import Blinded, Sealed
from incidents.models.incident import PENDING


class Complaint(Base):
    """A complaint or tip-off from the public (12315), from intake to the answer to the complainant.

    The complainant's name, phone, address, order number and free text are personal data: staff
    see the phone masked unless they handle the complaint, and all of it is erased when the
    plan's retention period after the complaint finished has passed (`erased_at`). The name, phone,
    address and free text (where ID and bank card numbers turn up) are stored encrypted.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_received_at", "received_at"),
        Index("ix_complaints_business_received", "business_key", "received_at"),
        Index("ix_complaints_category_received", "category", "received_at"),
        Index("ix_complaints_area_received", "area", "received_at"),
        Index("ix_complaints_department_status", "department", "status"),
        # Staff search a business by any part of its name (LIKE '%…%'): on PostgreSQL a trigram index
        # (pg_trgm) answers that without reading every complaint; on SQLite it is a plain index.
        Index("ix_complaints_business_name_trgm", "business_name", postgresql_using="gin",
              postgresql_ops={"business_name": "gin_trgm_ops"}),
        # The hourly erasure looks for finished complaints past retention not yet erased: without it the
        # planner walks every complaint in id order to find the few.
        Index("ix_complaints_unerased_finished", "finished_at", sqlite_where=text("erased_at IS NULL"),
              postgresql_where=text("erased_at IS NULL")),
        # The intake digest of the audit trail picks up what it has not chained yet.
        Index("ix_complaints_unchained", "id", sqlite_where=text("chained_at IS NULL"),
              postgresql_where=text("chained_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # complaint | tipoff
    status: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(String(40))
    suggested_department: Mapped[str] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(40))  # set when the centre triages it
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triage_note: Mapped[str | None] = mapped_column(Text)
    # Personal data, sealed at rest (incidents/kernel/sealed.py): the database holds only ciphertext.
    name: Mapped[str] = mapped_column(Sealed("complaints.name"))
    phone: Mapped[str] = mapped_column(Sealed("complaints.phone"))
    address: Mapped[str] = mapped_column(Sealed("complaints.address"))
    # The phone's keyed HMAC, for searches by phone; written with the plain phone, reads as the HMAC.
    phone_hmac: Mapped[str | None] = mapped_column(Blinded("complaints.phone"), index=True)
    business_name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str] = mapped_column(String(200))  # normalised: the credit code, else the name
    business_address: Mapped[str] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    area: Mapped[str | None] = mapped_column(String(40))  # the station whose area the business is in
    purchased_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    order_no: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Sealed("complaints.description"))  # may carry ID and card numbers
    demand: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))  # web | api
    content_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mediation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # refused, filed or not filed
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # reached a final status
    reason: Mapped[str | None] = mapped_column(Text)  # why refused, or why (not) filed
    answer: Mapped[str | None] = mapped_column(Text)  # 反馈: what the complainant is told at the end
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    chained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How the complainant proved to be a person with this phone before it was stored: "sms" (a code
    # sent to the phone), "captcha" (the form's image or audio captcha), or None (unverified: stored
    # and handled, but not counted toward surges). `verified_phone` is a keyed hash of the phone of a
    # verified complaint: surges count distinct ones, whatever happens to the phone column itself.
    verified_by: Mapped[str | None] = mapped_column(String(10))
    verified_phone: Mapped[str | None] = mapped_column(String(64))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    limits: Mapped[list[ComplaintLimitRow]] = relationship(
        back_populates="complaint", order_by="ComplaintLimitRow.id", cascade="all, delete-orphan")


class ComplaintLimitRow(Base):
    """One statutory time limit of a complaint, counted in working days; the row is the truth."""

    __tablename__ = "complaint_limits"
    __table_args__ = (
        UniqueConstraint("complaint_id", "kind"),
        Index("ix_complaint_limits_running", "status", "due_at"),
        Index("ix_complaint_limits_department", "department", "status"),
        # The weekly summary counts the limits met in a week: without it, it reads every limit ever.
        Index("ix_complaint_limits_satisfied_at", "satisfied_at"),
        # The minute's limit notices look for running limits not yet announced; without these the planner
        # walks every limit ever kept in id order (1,700,000 for a city's five years) to find none.
        Index("ix_complaint_limits_unwarned", "warn_at",
              sqlite_where=text("status = 'pending' AND warned_at IS NULL"),
              postgresql_where=text("status = 'pending' AND warned_at IS NULL")),
        Index("ix_complaint_limits_unannounced", "due_at",
              sqlite_where=text("status = 'pending' AND overdue_at IS NULL"),
              postgresql_where=text("status = 'pending' AND overdue_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    department: Mapped[str] = mapped_column(String(40))  # who answers for it: the routed department, else the centre
    starts_on: Mapped[date] = mapped_column(Date)  # the day it started on (not counted)
    working_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)  # its last working day
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the end of that day (the next midnight, Beijing)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)  # from here it shows as about to run out
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)  # counted Mon–Fri: no holiday data
    estimate_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)  # pending | met | late | cancelled
    satisfied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_seconds: Mapped[int | None] = mapped_column(Integer)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # When the boards were told it is about to run out, and that it has (each once; see notify_limits).
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship(back_populates="limits")
    # Counted again when a holiday notice arrived: before and after, oldest first.
    changes: Mapped[list[ComplaintLimitChange]] = relationship(order_by="ComplaintLimitChange.id", lazy="selectin",
                                                               viewonly=True)


class IntakeChallenge(Base):
    """A check the public must pass before a complaint counts: an SMS code sent to a phone, or a captcha used.

    SMS: the code is stored only as a keyed hash, lives 5 minutes and takes 3 tries; `subject` is a
    keyed hash of the phone. Captcha: the challenge is issued without a row (signed, stateless); the
    row is written when it is answered, so that one captcha is never answered twice (`token` unique).
    """

    __tablename__ = "intake_challenges"
    __table_args__ = (Index("ix_intake_challenges_subject", "kind", "subject", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # sms | captcha
    token: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateBucket(Base):
    """A counter of requests by one client key in one fixed window; two windows make a sliding one."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # scope:HMAC of the address or phone
    # Indexed on its own too: the purge of old windows reads it without a key.
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# Surge states: open while its counts stay over the threshold, then ended.
SURGE_OPEN = SurgeStatus.OPEN
SURGE_ENDED = SurgeStatus.ENDED


class Surge(Base):
    """A complaint surge (投诉高峰) of one business, category or area, from its alert to its end."""

    __tablename__ = "surges"
    __table_args__ = (
        # One open surge per business, category or area: a second watch process finds the first.
        Index("uq_surges_open", "dimension", "value", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_surges_key_ended", "dimension", "value", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20))  # business | category | area
    value: Mapped[str] = mapped_column(String(200))  # business key, category code or station code
    label: Mapped[str] = mapped_column(String(200))  # what people read
    status: Mapped[str] = mapped_column(String(20), default=SURGE_OPEN)
    window_seconds: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)  # in the window when it opened
    peak: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)  # the baseline's count for a window that long
    min_count: Mapped[int] = mapped_column(Integer)
    ratio: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    action: Mapped[str | None] = mapped_column(String(20))  # proposed | linked
    details: Mapped[dict] = mapped_column(JSON, default=dict)


# Consumer warning (消费预警) states: drafted, submitted for approval, published, or withdrawn.
WARNING_DRAFT = WarningStatus.DRAFT
WARNING_SUBMITTED = WarningStatus.SUBMITTED
WARNING_PUBLISHED = WarningStatus.PUBLISHED
WARNING_WITHDRAWN = WarningStatus.WITHDRAWN
WARNING_STATUSES = tuple(WarningStatus)


class ConsumerWarning(Base):
    """A consumer warning drafted from a surge; the public sees it only once leadership approved it."""

    __tablename__ = "consumer_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    surge_id: Mapped[int | None] = mapped_column(ForeignKey("surges.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=WARNING_DRAFT, index=True)
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)




class ComplaintLimitChange(Base):
    """A complaint limit counted again (a notice entered, the calendar data updated): before and after."""

    __tablename__ = "complaint_limit_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    limit_id: Mapped[int] = mapped_column(ForeignKey("complaint_limits.id"), index=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_notices.id"), index=True)
    cause: Mapped[str] = mapped_column(Text)
    due_on_before: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    due_at_before: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    estimated_before: Mapped[bool] = mapped_column(Boolean)
    estimated: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
