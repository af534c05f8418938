"""The second factor of a login: a user's enrolled factor, and one-time codes (recovery and SMS)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from incidents.kernel.db import Base, UTCDateTime

TOTP = "totp"
SMS_FACTOR = "sms"
FACTOR_METHODS = (TOTP, SMS_FACTOR)
RECOVERY = "recovery"
SMS_LOGIN = "sms_login"  # an SMS code for the second step of a login
SMS_ENROL = "sms_enrol"  # an SMS code that confirms the phone at enrolment
CODE_KINDS = (RECOVERY, SMS_LOGIN, SMS_ENROL)


class SecondFactor(Base):
    """A user's second factor: a TOTP secret (authenticator app) or SMS codes to the user's phone.

    A row without `confirmed_at` is an enrolment under way: it does not count until the user has
    entered one code it produced.
    """

    __tablename__ = "second_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    method: Mapped[str] = mapped_column(String(10))  # totp | sms
    # The TOTP secret, sealed with a key outside the database (AES-GCM, app/two_factor.py): whoever
    # reads the table cannot compute a user's codes.
    secret: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))  # the phone SMS codes go to
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code is never accepted twice, nor an older one.
    last_step: Mapped[int | None] = mapped_column(Integer)


class OneTimeCode(Base):
    """A one-time code, stored hashed: a recovery code (no expiry) or an SMS code (expires)."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_user_kind", "user_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))  # recovery | sms_login | sms_enrol
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # for the retention purge
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
