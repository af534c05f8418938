"""Holiday notices the office enters, and the holiday watches."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.kernel.calendar import HOLIDAY_NAMES
from incidents.kernel.db import Base, UTCDateTime

if TYPE_CHECKING:  # relationships name each other; the registry resolves them at run time
    from incidents.models.incident import Incident


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
