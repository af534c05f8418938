"""The tables of the domain: incidents, their level changes, reports and clocks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.calendar import HOLIDAY_NAMES
from incidents.kernel.db import Base, UTCDateTime

# Incident lifecycle.
REGISTERED = "registered"  # 已登记
ACTIVE = "active"  # 应急响应中
ENDED = "ended"  # 应急状态结束, closing report pending
ARCHIVED = "archived"  # 已归档 (a holiday watch: closed after the holiday)
WATCHING = "watching"  # a holiday watch (节日市场预警) before and during its holiday: tasks, no response
WITHDRAWN = "withdrawn"  # 已作废: a duplicate, test or false registration; kept, off every board and count
INCIDENT_STATUSES = (REGISTERED, ACTIVE, ENDED, ARCHIVED, WATCHING, WITHDRAWN)
# No longer on the boards: archived (or a watch closed), or withdrawn.
FINISHED = (ARCHIVED, WITHDRAWN)
# Why a registration is withdrawn.
WITHDRAW_KINDS = ("duplicate", "test", "false_report")

# What a registry entry is: an event (突发事件) that may get a response, or a holiday watch that
# the plan opens by itself before a holiday: a warning with tasks that owes no report.
EVENT = "event"
HOLIDAY_WATCH = "holiday_watch"
INCIDENT_KINDS = (EVENT, HOLIDAY_WATCH)

# Deadline states; `cancelled` keeps the row and the reason when a clock no longer applies.
PENDING = "pending"
MET = "met"
LATE = "late"
OVERDUE = "overdue"
CANCELLED = "cancelled"
DEADLINE_STATUSES = (PENDING, MET, LATE, OVERDUE, CANCELLED)


class PlanVersion(Base):
    """A plan file as it was when incidents were graded under it, kept verbatim."""

    __tablename__ = "plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """A person (or system) who uses Yingji, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    login: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(40))  # department or station code
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdraw_kind: Mapped[str | None] = mapped_column(String(20))  # duplicate | test | false_report
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

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    measure: Mapped[str | None] = mapped_column(String(40))  # clock kind, for kind == "measure"
    body: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was really sent
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was typed in here
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    incident: Mapped[Incident] = relationship(back_populates="reports")


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


class AuditEntry(Base):
    """One line of the append-only, hash-chained audit trail."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The last link of the audit chain; its row lock orders concurrent writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


# Assignment states (任务): pushed to the board, then acknowledged (签收), in progress, done,
# or declined with a reason (否定报备) that goes back to the command.
PUSHED = "pushed"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
DONE = "done"
DECLINED = "declined"
ASSIGNMENT_STATUSES = (PUSHED, ACKNOWLEDGED, IN_PROGRESS, DONE, DECLINED)


class Shift(Base):
    """One duty shift of a department: who is on duty, from when to when, on which phone."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_department_time", "department", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    officer_name: Mapped[str | None] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(20))
    # 同岗替代: a shift handed over mid-way ends, and the substitute's shift points back to it.
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id"))
    handover_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Assignment(Base):
    """A task the command gives a department, pushed to its board until acknowledged."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    department: Mapped[str] = mapped_column(String(40), index=True)
    task: Mapped[str] = mapped_column(Text)
    clock: Mapped[str | None] = mapped_column(String(40))  # the measure clock it satisfies
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=PUSHED, index=True)
    standard: Mapped[bool] = mapped_column(Boolean, default=False)  # created by the plan at activation
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_note: Mapped[str | None] = mapped_column(Text)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    holiday_key: Mapped[str | None] = mapped_column(String(80), unique=True)  # e.g. 2027-02-06:spring_festival:office
    # Set when it was pushed to a department with nobody on duty: who the escalation reaches instead.
    uncovered_note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="assignments")


# Escalation states: running until someone acknowledges, the item is resolved (done, reported,
# ended), the chain runs out, or a newer escalation of the same item supersedes it.
ESC_RUNNING = "running"
ESC_ACKNOWLEDGED = "acknowledged"
ESC_RESOLVED = "resolved"
ESC_STOPPED = "stopped"
ESC_EXHAUSTED = "exhausted"
ESCALATION_STATUSES = (ESC_RUNNING, ESC_ACKNOWLEDGED, ESC_RESOLVED, ESC_STOPPED, ESC_EXHAUSTED)


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

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="escalation", order_by="Delivery.id", foreign_keys="Delivery.escalation_id")


# Delivery states. `pending` waits to be sent, `held` waits for a throttle window, `sending`
# is in the provider's hands right now; then the provider's word: queued, sent, delivered,
# undelivered, failed. `bundled` went out inside another delivery's message; `skipped` had
# nobody (or no phone) to go to; `cancelled` was not sent because the item was settled first;
# `unknown` was being sent when the process died, and is never sent again.
DELIVERY_STATUSES = ("pending", "held", "sending", "queued", "sent", "delivered", "undelivered", "failed",
                     "bundled", "skipped", "cancelled", "unknown")


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


class BoardRoom(Base):
    """The last sequence number given out in a board room; its row lock orders writers."""

    __tablename__ = "board_rooms"

    room: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class BoardEvent(Base):
    """An event pushed to a board room, kept so that a board that reconnects gets what it missed."""

    __tablename__ = "board_events"
    __table_args__ = (UniqueConstraint("room", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[str] = mapped_column(String(60))
    seq: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40), index=True)  # the same event in several rooms shares it
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- closing reports and stored briefings (issue 5) ---------------------------------------------
from sqlalchemy import LargeBinary  # noqa: E402  (appended section; keeps the imports above untouched)

# Closing report (应急处置总结报告) states: submitted to the approver, returned for revision, approved.
CLOSING_SUBMITTED = "submitted"
CLOSING_RETURNED = "returned"
CLOSING_APPROVED = "approved"
CLOSING_STATUSES = (CLOSING_SUBMITTED, CLOSING_RETURNED, CLOSING_APPROVED)


class ClosingReport(Base):
    """The closing report of an ended emergency: the cause-investigation summary and its approval.

    One row per incident holds the latest version; every version is also filed as a `closing`
    Report (its full text), so nothing submitted is lost when a returned report is revised.
    """

    __tablename__ = "closing_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    cause: Mapped[str] = mapped_column(Text)  # 事件发生的原因
    handling: Mapped[str] = mapped_column(Text)  # 处置经过
    aftermath: Mapped[str] = mapped_column(Text)  # 善后处置
    lessons: Mapped[str] = mapped_column(Text)  # 经验教训
    improvements: Mapped[str] = mapped_column(Text)  # 改进工作的要求和建议
    investigators: Mapped[str] = mapped_column(Text)  # 事故原因调查小组
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))  # the Report of the latest version
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship()


# Stored briefing states: waiting for a worker, being generated, stored, or failed.
BRIEFING_PENDING = "pending"
BRIEFING_RUNNING = "running"
BRIEFING_READY = "ready"
BRIEFING_FAILED = "failed"
BRIEFING_STATUSES = (BRIEFING_PENDING, BRIEFING_RUNNING, BRIEFING_READY, BRIEFING_FAILED)


class Briefing(Base):
    """A generated PDF briefing, stored with the SHA-256 of its bytes so a reader can prove which version they read."""

    __tablename__ = "briefings"
    __table_args__ = (Index("ix_briefings_lookup", "kind", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # incident | daily | closing | accountability
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # e.g. {"day": "2026-11-20"}
    job_key: Mapped[str | None] = mapped_column(String(80), unique=True)  # a scheduled run, e.g. daily:2026-11-20
    status: Mapped[str] = mapped_column(String(20), default=BRIEFING_PENDING, index=True)
    source_seq: Mapped[int] = mapped_column(Integer, default=0)  # the audit chain's length when requested
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the scheduler
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the moment the content is as of
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the daily report's notice and SMS went out


# --- 12315 complaints, their time limits, rate limits, surges and consumer warnings (issue 6) ---
from datetime import date  # noqa: E402  (appended section; keeps the imports above untouched)

from sqlalchemy import Date, Float, Numeric  # noqa: E402


class Complaint(Base):
    """A complaint or tip-off from the public (12315), from intake to the answer to the complainant.

    The complainant's name, phone, address, order number and free text are personal data: staff
    see the phone masked unless they handle the complaint, and all of it is erased when the
    plan's retention period after the complaint finished has passed (`erased_at`).
    """

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_received_at", "received_at"),
        Index("ix_complaints_business_received", "business_key", "received_at"),
        Index("ix_complaints_category_received", "category", "received_at"),
        Index("ix_complaints_area_received", "area", "received_at"),
        Index("ix_complaints_department_status", "department", "status"),
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
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    business_name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str] = mapped_column(String(200))  # normalised: the credit code, else the name
    business_address: Mapped[str] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    area: Mapped[str | None] = mapped_column(String(40))  # the station whose area the business is in
    purchased_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    order_no: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
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


class RateBucket(Base):
    """A counter of requests by one client key in one fixed window; two windows make a sliding one."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # scope:HMAC of the address or phone
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# Surge states: open while its counts stay over the threshold, then ended.
SURGE_OPEN = "open"
SURGE_ENDED = "ended"


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
WARNING_DRAFT = "draft"
WARNING_SUBMITTED = "submitted"
WARNING_PUBLISHED = "published"
WARNING_WITHDRAWN = "withdrawn"
WARNING_STATUSES = (WARNING_DRAFT, WARNING_SUBMITTED, WARNING_PUBLISHED, WARNING_WITHDRAWN)


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


# --- the calendar and the holiday watch (issue 11) -----------------------------------------------


class CalendarNotice(Base):
    """A year's holiday notice as the office entered it; a later entry for the year supersedes it."""

    __tablename__ = "calendar_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    document_no: Mapped[str | None] = mapped_column(String(100))  # 文号, e.g. 国办发明电〔2026〕7号
    breaks: Mapped[list] = mapped_column(JSON)  # [{holidays, from, to, workdays}], dates as ISO text
    sha256: Mapped[str] = mapped_column(String(64))  # of the canonical content
    reason: Mapped[str | None] = mapped_column(Text)  # why it replaces what the year had
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_notices.id"))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HolidayWatch(Base):
    """A holiday market watch (节日市场预警): its holiday break, when it opened and closes, duty checked."""

    __tablename__ = "holiday_watches"
    __table_args__ = (UniqueConstraint("holiday", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty only inside the transaction that opens it: the claim on (holiday, year) is written first.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), unique=True)
    holiday: Mapped[str] = mapped_column(String(20))  # the plan's holiday it is for
    year: Mapped[int] = mapped_column(Integer)
    holidays: Mapped[list] = mapped_column(JSON)  # every holiday of the break (国庆 may carry 中秋)
    first_day: Mapped[date] = mapped_column(Date)  # the break's first and last day off
    last_day: Mapped[date] = mapped_column(Date)
    certain: Mapped[bool] = mapped_column(Boolean)  # from a notice; False: statutory dates only
    source: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # midnight after the last day off
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gaps_digest: Mapped[str | None] = mapped_column(String(64))  # the duty gaps last announced
    gaps_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship()

    @property
    def label(self) -> str:
        """Return what the watch is for, as people say it: 2027年春节, 2028年国庆节、中秋节."""
        return f"{self.year}年{'、'.join(HOLIDAY_NAMES[h] for h in self.holidays)}"


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
