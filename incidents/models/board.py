"""The board-event outbox: numbered events per room."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime


class BoardRoom(Base):
    """The last sequence number given out in a board room; whoever holds its row lock numbers the room's events."""

    __tablename__ = "board_rooms"

    room: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class BoardEvent(Base):
    """An event pushed to a board room, kept so that a board that reconnects gets what it missed."""

    __tablename__ = "board_events"
    __table_args__ = (UniqueConstraint("room", "seq"),
                      # The events still waiting for a number (seq NULL), found without reading the others.
                      Index("ix_board_events_waiting", "id", postgresql_where=text("seq IS NULL"),
                            sqlite_where=text("seq IS NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[str] = mapped_column(String(60))
    # NULL while the event waits for its number: its writer found the room busy and did not wait
    # (incidents/records/board_events.py); numbered by the room's next writer or the scheduler.
    seq: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40), index=True)  # the same event in several rooms shares it
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
