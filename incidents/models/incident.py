"""Incidents: their statuses and kinds, the plan version they run under, level changes, reports, clocks."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.states import ClockStatus, IncidentKind, IncidentStatus, WithdrawKind
from incidents.kernel.db import Base, UTCDateTime

if TYPE_CHECKING:  # relationships name each other; the registry resolves them at run time
    from incidents.models.assignment import Assignment


# Incident lifecycle.
REGISTERED = IncidentStatus.REGISTERED  # 已登记
ACTIVE = IncidentStatus.ACTIVE  # 应急响应中
ENDED = IncidentStatus.ENDED  # 应急状态结束, closing report pending
ARCHIVED = IncidentStatus.ARCHIVED  # 已归档 (a holiday watch: closed after the holiday)
WATCHING = IncidentStatus.WATCHING  # a holiday watch (节日市场预警) before and during its holiday: tasks, no response
WITHDRAWN = IncidentStatus.WITHDRAWN  # 已作废: a test registration; kept, off every board and count
CLOSED = IncidentStatus.CLOSED  # 已关闭: never activated (不启动, 不属实, 重复); counted on the sheet as what it is
INCIDENT_STATUSES = tuple(IncidentStatus)
# No longer on the boards: archived (or a watch closed), withdrawn, or closed without a response.
FINISHED = (ARCHIVED, WITHDRAWN, CLOSED)
# Why a registration is withdrawn.
WITHDRAW_KINDS = tuple(WithdrawKind)

# What a registry entry is: an event (突发事件) that may get a response, or a holiday watch that
# the plan opens by itself before a holiday: a warning with tasks that owes no report.
EVENT = IncidentKind.EVENT
HOLIDAY_WATCH = IncidentKind.HOLIDAY_WATCH
INCIDENT_KINDS = tuple(IncidentKind)

# Deadline states; `cancelled` keeps the row and the reason when a clock no longer applies.
PENDING = ClockStatus.PENDING
MET = ClockStatus.MET
LATE = ClockStatus.LATE
OVERDUE = ClockStatus.OVERDUE
CANCELLED = ClockStatus.CANCELLED
DEADLINE_STATUSES = tuple(ClockStatus)


class PlanVersion(Base):
    """A plan file as it was when incidents were graded under it, kept verbatim."""

    __tablename__ = "plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Incident(Base):
    """An event registered with the bureau, graded and handled under one plan version."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=EVENT, server_default=EVENT)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(20), index=True)
    lead_department: Mapped[str] = mapped_column(String(40), index=True)
    station: Mapped[str | None] = mapped_column(String(40), index=True)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    nature: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    trend: Mapped[str] = mapped_column(Text)
    measures_taken: Mapped[str] = mapped_column(Text)
    casualties: Mapped[str] = mapped_column(Text)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The unit that registered it (a department, a station; the office for the leadership and the
    # system): it owns the 1-hour report when no station is named.
    registered_unit: Mapped[str | None] = mapped_column(String(40))
    # Withdrawn (test) or closed without a response (not activated, false, duplicate): when, who, why.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdraw_kind: Mapped[str | None] = mapped_column(String(20))  # WithdrawKind
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # Set when the system itself opened the incident (a holiday watch, a complaint surge),
    # so that doing it twice finds the first one.
    source_key: Mapped[str | None] = mapped_column(String(80), unique=True)

    plan_version: Mapped[PlanVersion] = relationship()
    level_changes: Mapped[list[LevelChange]] = relationship(
        back_populates="incident", order_by="LevelChange.id", cascade="all, delete-orphan"
    )
    reports: Mapped[list[Report]] = relationship(
        back_populates="incident", order_by="Report.submitted_at, Report.id", cascade="all, delete-orphan"
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="incident", order_by="Deadline.due_at, Deadline.id", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="incident", order_by="Assignment.id", cascade="all, delete-orphan"
    )


class LevelChange(Base):
    """One grading or re-grading of an incident, with its reason; never edited."""

    __tablename__ = "level_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    from_level: Mapped[str | None] = mapped_column(String(4))
    to_level: Mapped[str | None] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="level_changes")


class Report(Base):
    """A report filed for an incident: initial, bureau, progress, closing, or a measure done."""

    __tablename__ = "reports"
    __table_args__ = (
        # The accountability sheet finds the few backdated reports (补录) among all of them.
        Index("ix_reports_backdated", "incident_id", sqlite_where=text("backdated"), postgresql_where=text("backdated")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str | None] = mapped_column(String(40))  # clock kind, for kind == "measure"
    body: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was sent, as the filer claims
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was typed in here
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Claimed earlier than entered by more than the plan's tolerance (补录): judged by the entry
    # time until the office head or the leadership confirms the claim (ClaimReview).
    backdated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 越级上报: why this report skips a level (it then goes to the skipped level's superior as well).
    skip_level_reason: Mapped[str | None] = mapped_column(Text)
    # The sign-off (签发) the plan asks of this kind: until then nothing goes out (documents.py).
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    incident: Mapped[Incident] = relationship(back_populates="reports")
    recipients: Mapped[list[ReportRecipient]] = relationship(
        back_populates="report", order_by="ReportRecipient.id", cascade="all, delete-orphan")
    review: Mapped[ClaimReview | None] = relationship(
        primaryjoin="ClaimReview.report_id == Report.id", viewonly=True, uselist=False)


class ReportRecipient(Base):
    """One recipient the plan names for a report (县政府, 市市场监督管理局 …) and when and how it got it.

    Filled once when the delivery is recorded; a return by the recipient is a new fact on the row,
    never an edit of the delivery. The next delivery is a new report with its own recipients.
    """

    __tablename__ = "report_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    channel: Mapped[str | None] = mapped_column(String(20))  # gov_intranet | fax | phone | courier | email | yingji
    reference: Mapped[str | None] = mapped_column(String(200))  # fax number, 政务内网 receipt, document number
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as the recorder claims
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it was typed in here
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    backdated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Added because the report skips a level (越级上报).
    skip_level: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The recipient's own 签收 (sent back by its Yingji, or recorded), and its id of what it received.
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_by: Mapped[str | None] = mapped_column(String(80))
    remote_ref: Mapped[str | None] = mapped_column(String(200))

    report: Mapped[Report] = relationship(back_populates="recipients")
    review: Mapped[ClaimReview | None] = relationship(
        primaryjoin="ClaimReview.recipient_id == ReportRecipient.id", viewonly=True, uselist=False)


class ClaimReview(Base):
    """The office head's or the leadership's judgement of a backdated claim (补录), with its evidence; never edited."""

    __tablename__ = "claim_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), unique=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("report_recipients.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(10))  # ClaimDecision
    evidence_kind: Mapped[str] = mapped_column(String(20))  # phone_log | fax | gov_intranet | document | sms | other
    evidence_ref: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommandHQ(Base):
    """The command HQ (专项应急指挥部) the leadership names for an event: its 总指挥 and members.

    Each naming is a new row; the latest is the one in charge.
    """

    __tablename__ = "command_hqs"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    commander_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    members: Mapped[list[int]] = mapped_column(JSON, default=list)  # user ids
    named_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    named_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class Deadline(Base):
    """One running clock of the plan: the row is the truth, the scheduler only wakes it."""

    __tablename__ = "deadlines"
    __table_args__ = (
        # At most one live row per clock and cycle; cancelled rows stay as history.
        Index(
            "uq_deadlines_live_clock",
            "incident_id",
            "kind",
            "cycle",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_deadlines_firing", "status", "next_fire_at"),
        # The accountability sheet counts and lists the clocks due in a period.
        Index("ix_deadlines_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    cycle: Mapped[int] = mapped_column(Integer, default=0)  # repeat number of progress clocks
    name: Mapped[str] = mapped_column(String(120))
    department: Mapped[str | None] = mapped_column(String(40), index=True)
    station: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    satisfied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfied_by_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    late_seconds: Mapped[int | None] = mapped_column(Integer)
    # Which time judged it: the report's claim, its entry (a backdated claim not confirmed), or the
    # last required recipient's delivery (a report the plan sends up).
    judged_by: Mapped[str | None] = mapped_column(String(10))  # claim | entry | delivery
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    warn_before: Mapped[list[int]] = mapped_column(JSON, default=list)  # seconds before due
    fire_stage: Mapped[int] = mapped_column(Integer, default=0)  # fire points handled
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timing_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="deadlines")


class DeadlineEvent(Base):
    """A warning or overdue firing of a clock; unique, so a stage fires exactly once."""

    __tablename__ = "deadline_events"
    __table_args__ = (UniqueConstraint("deadline_id", "timing_version", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    timing_version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # warning | overdue
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it should have fired
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it did
    payload: Mapped[dict] = mapped_column(JSON)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
