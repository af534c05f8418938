"""The board-event outbox: numbered events per room."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime


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
