"""Closing reports and stored briefings (PDFs)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.states import BriefingStatus, ClosingStatus
from incidents.kernel.db import Base, UTCDateTime

if TYPE_CHECKING:  # relationships name each other; the registry resolves them at run time
    from incidents.models.incident import Incident


# Closing report (应急处置工作总结) states: submitted to the approver, returned for revision, approved.
CLOSING_SUBMITTED = ClosingStatus.SUBMITTED
CLOSING_RETURNED = ClosingStatus.RETURNED
CLOSING_APPROVED = ClosingStatus.APPROVED
CLOSING_STATUSES = tuple(ClosingStatus)


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
BRIEFING_PENDING = BriefingStatus.PENDING
BRIEFING_RUNNING = BriefingStatus.RUNNING
BRIEFING_READY = BriefingStatus.READY
BRIEFING_FAILED = BriefingStatus.FAILED
BRIEFING_PRUNED = BriefingStatus.PRUNED
BRIEFING_STATUSES = tuple(BriefingStatus)


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
