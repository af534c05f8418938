"""Assignments (任务) and their states."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.states import AssignmentStatus
from incidents.kernel.db import Base, UTCDateTime

if TYPE_CHECKING:  # relationships name each other; the registry resolves them at run time
    from incidents.models.incident import Incident


PUSHED = AssignmentStatus.PUSHED
ACKNOWLEDGED = AssignmentStatus.ACKNOWLEDGED
IN_PROGRESS = AssignmentStatus.IN_PROGRESS
DONE = AssignmentStatus.DONE
DECLINED = AssignmentStatus.DECLINED
DECLINE_REQUESTED = AssignmentStatus.DECLINE_REQUESTED
ASSIGNMENT_CANCELLED = AssignmentStatus.CANCELLED
# Still the department's to do (a decline waiting for approval leaves the measure with it).
OPEN_ASSIGNMENT = (PUSHED, ACKNOWLEDGED, IN_PROGRESS, DECLINE_REQUESTED)
ASSIGNMENT_STATUSES = tuple(AssignmentStatus)


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
    decline_status: Mapped[str | None] = mapped_column(String(20))  # DeclineStatus
    decline_from: Mapped[str | None] = mapped_column(String(20))  # the status a rejected decline returns to
    decline_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decline_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_note: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    holiday_key: Mapped[str | None] = mapped_column(String(80), unique=True)  # e.g. 2027-02-06:spring_festival:office
    # Set when it was pushed to a department with nobody on duty: who the escalation reaches instead.
    uncovered_note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="assignments")

    @property
    def awaiting_ack(self) -> bool:
        """Tell whether nobody has acknowledged it yet (a decline filed straight from the push included)."""
        # A decline waiting for approval does not count as seeing the task through: until the
        # command decides, the measure is still the department's and its escalation keeps running.
        return self.status == PUSHED or (self.status == DECLINE_REQUESTED and self.decline_from == PUSHED)
