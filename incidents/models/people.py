"""People: users and their duty shifts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    JSON,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime


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
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the password was last set (None: at creation, for rows older than revision 0010).
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when an administrator chose the password: the user must pick their own at the next login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # A substitute's shift: whether its phone is the substitute's alert phone on record (False: typed by
    # hand, or the substitute is no registered user); None for a shift not made by a hand-over, or no phone.
    phone_on_record: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordHistory(Base):
    """A password a user has had (hashed), so that the last few are not chosen again."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """One login attempt: the keyed login name (whether or not it exists), the client address, the outcome."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "login_key", "at"),
                      Index("ix_login_attempts_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # indexed for the retention purge
    login_key: Mapped[str] = mapped_column(String(64))  # sha256 of the login name as typed
    address: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    succeeded: Mapped[bool] = mapped_column(Boolean)


class LoginLock(Base):
    """A lockout of a login name (kind `account`) or of a client address (kind `address`) until a time.

    A security administrator may lift it early: the row stays, with who cleared it, when and why.
    """

    __tablename__ = "login_locks"
    __table_args__ = (Index("ix_login_locks_kind_key", "kind", "key", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(64))  # the login key, or the address
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cleared_by: Mapped[str | None] = mapped_column(String(120))  # the actor as the audit trail names it
    cleared_reason: Mapped[str | None] = mapped_column(Text)


class LoginSession(Base):
    """A browser login session, referenced from the signed cookie by a random key stored hashed."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # live ones, and the purge
    ended_why: Mapped[str | None] = mapped_column(String(20))


class ApiToken(Base):
    """An API bearer token of a user: stored hashed, scoped read, write or to named actions, expiring, revocable.

    A user has none, one or several. `last_used_at` is written at most once a minute.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))  # read | write | actions
    # An `actions` token: the action codes (permissions.ACTION_ROLES) its writes are limited to; else None.
    actions: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
