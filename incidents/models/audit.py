"""The append-only, hash-chained audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime


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
    # Which key and algorithm chained the entry ("hmac-sha256:<key id>", "hmac-sm3:<key id>"); "v0" for
    # the entries written before the trail had a key (plain SHA-256). The app always sets it.
    key_version: Mapped[str] = mapped_column(String(40), server_default="v0")


class AuditPending(Base):
    """An audit entry committed with its change but not yet sealed into the chain (the audit inbox).

    A writer that finds the chain's head busy leaves its entries here instead of waiting; the
    sealer (incidents/records/audit.py `seal`) moves them into `audit_entries` in id order and
    deletes them, in one transaction. `mac` is an HMAC of the entry's fields under the audit key,
    so an entry edited while it waits is refused by the sealer and reported by `audit verify`.
    """

    __tablename__ = "audit_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # random: a copied row collides
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[str] = mapped_column(Text)
    key_version: Mapped[str] = mapped_column(String(40))
    mac: Mapped[str] = mapped_column(String(64))

    @property
    def seq(self) -> None:
        """An entry waiting to be sealed has no place in the chain yet."""
        return None

    @property
    def hash(self) -> None:
        """An entry waiting to be sealed has no chain hash yet."""
        return None


class AuditHead(Base):
    """The last link of the audit chain; whoever holds its row lock seals (writers never wait on it)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


# Assignment states (任务): pushed to the board, then acknowledged (签收), in progress, done,
# or declined with a reason (否定报备) that goes back to the command.
