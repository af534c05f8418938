"""The second factor of a login (GB/T 22239-2019 8.1.4.1 c: two or more authentication techniques).

A user enrols one factor: TOTP (RFC 6238, 6 digits every 30 s, any authenticator app) or SMS
codes sent to a phone. Enrolment is confirmed by one code the factor produced and yields ten
recovery codes, shown once and stored hashed, each usable once. A TOTP code is accepted at most
once (and never one older than the last accepted); SMS codes expire after five minutes and are
rate-limited. The caller sends the SMS and commits; every step is audited.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from incidents.kernel.batches import delete_batch
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.models import (
    RECOVERY,
    SMS_ENROL,
    SMS_FACTOR,
    SMS_LOGIN,
    TOTP,
    OneTimeCode,
    SecondFactor,
    User,
)
from incidents.records import audit

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
TOTP_WINDOW = 1  # one 30-second step either side, for phones whose clock drifts


class SecretBox(Protocol):
    """Encrypts a TOTP secret for storage with a key outside the database (app/two_factor.py: AES-GCM)."""

    def seal(self, secret: str, user_id: int) -> str:
        """Return the stored form of a user's secret."""

    def unseal(self, stored: str, user_id: int) -> str:
        """Return the secret of its stored form; raise ValueError when it does not open."""


@dataclass(frozen=True)
class SmsRules:
    """How long an SMS code lives and how often one may be sent."""

    lifetime: timedelta = timedelta(minutes=5)
    resend_after: timedelta = timedelta(seconds=60)
    max_per_hour: int = 5


def requires_factor(role: str, roles: tuple[str, ...] | frozenset[str]) -> bool:
    """Tell whether a role must enrol a second factor before signing in."""
    return role in roles


def factor_of(session: Session, user_id: int) -> SecondFactor | None:
    """Return the user's confirmed second factor, or None."""
    return session.scalar(select(SecondFactor).where(SecondFactor.user_id == user_id,
                                                     SecondFactor.confirmed_at.is_not(None)))


def pending_query(user_id: int):
    """Return the query of the user's enrolment under way (not yet confirmed)."""
    return select(SecondFactor).where(SecondFactor.user_id == user_id, SecondFactor.confirmed_at.is_(None))


def _pending(session: Session, user_id: int) -> SecondFactor | None:
    return session.scalar(pending_query(user_id))


def code_hash(user_id: int, code: str) -> str:
    """Return the stored form of a one-time code (bound to its user)."""
    return hashlib.sha256(f"{user_id}:{normalise(code)}".encode("utf-8")).hexdigest()


def normalise(code: str) -> str:
    """Return a typed code without spaces or dashes, lower case (recovery codes are printed in groups)."""
    return "".join(c for c in str(code) if c not in " -\t").lower()[:32]


def totp_secret(factor: SecondFactor, box: SecretBox) -> str | None:
    """Return the factor's TOTP secret in the clear (base32), or None when it does not open."""
    if not factor.secret:
        return None
    try:
        return box.unseal(factor.secret, factor.user_id)
    except ValueError:
        return None


def totp_uri(factor: SecondFactor, user: User, issuer: str, box: SecretBox) -> str:
    """Return the otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(totp_secret(factor, box)).provisioning_uri(name=user.login, issuer_name=issuer)


def _refuse_if_enrolled(session: Session, user: User) -> None:
    if factor_of(session, user.id) is not None:
        raise Conflict("already_enrolled", "已启用双因素认证；如需更换，请联系系统管理员重置",
                       "a second factor is already enrolled; an administrator resets it")


def start_totp(session: Session, user: User, box: SecretBox, *, now: datetime) -> SecondFactor:
    """Begin enrolling an authenticator app: a new random secret (stored sealed), not counted until confirmed."""
    _refuse_if_enrolled(session, user)
    session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    factor = SecondFactor(user_id=user.id, method=TOTP, secret=box.seal(pyotp.random_base32(), user.id),
                          created_at=now)
    session.add(factor)
    session.flush()
    return factor


def start_sms(session: Session, user: User, rules: SmsRules, *, now: datetime) -> tuple[SecondFactor, str]:
    """Begin enrolling SMS codes to the user's phone on file; return the factor and the code to send."""
    _refuse_if_enrolled(session, user)
    if not user.phone:
        raise InvalidInput("no_phone", "您的账号未登记手机号码，无法使用短信验证码，请联系管理员登记或改用身份验证器",
                           "the user has no phone on file")
    pending = _pending(session, user.id)
    if pending is None or pending.method != SMS_FACTOR or pending.phone != user.phone:
        session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
        pending = SecondFactor(user_id=user.id, method=SMS_FACTOR, phone=user.phone, created_at=now)
        session.add(pending)
        session.flush()
    return pending, issue_sms_code(session, user, SMS_ENROL, rules, now=now)


def issue_sms_code(session: Session, user: User, kind: str, rules: SmsRules, *, now: datetime) -> str:
    """Create a six-digit SMS code (earlier unused ones of the kind stop working); rate-limited."""
    recent = session.scalars(select(OneTimeCode.created_at).where(
        OneTimeCode.user_id == user.id, OneTimeCode.kind.in_((SMS_LOGIN, SMS_ENROL)),
        OneTimeCode.created_at > now - timedelta(hours=1))).all()
    if any(at > now - rules.resend_after for at in recent):
        raise InvalidInput("sms_too_soon", "验证码已发送，请稍后再试", "a code was sent less than a minute ago")
    if len(recent) >= rules.max_per_hour:
        raise InvalidInput("sms_too_many", "一小时内发送验证码次数过多，请稍后再试或使用恢复码",
                           "too many codes sent within an hour")
    session.execute(update(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.kind == kind,
                                              OneTimeCode.used_at.is_(None)).values(used_at=now))
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(OneTimeCode(user_id=user.id, kind=kind, code_hash=code_hash(user.id, code), created_at=now,
                            expires_at=now + rules.lifetime))
    audit.record(session, actor=user, action="user.2fa_sms_sent", entity="user", entity_id=user.id, at=now,
                 data={"kind": kind})
    return code


def _totp_step(factor: SecondFactor, code: str, box: SecretBox, now: datetime) -> int | None:
    """Return the time step a TOTP code belongs to (within the window), or None."""
    code = normalise(code)
    secret = totp_secret(factor, box)
    if not secret or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step + offset), code):
            return step + offset
    return None


def _use_code(session: Session, user_id: int, kind: str, code: str, now: datetime) -> bool:
    row = session.scalar(select(OneTimeCode).where(
        OneTimeCode.user_id == user_id, OneTimeCode.kind == kind, OneTimeCode.code_hash == code_hash(user_id, code),
        OneTimeCode.used_at.is_(None)).with_for_update())
    if row is None or (row.expires_at is not None and now >= row.expires_at):
        return False
    row.used_at = now
    return True


def _check(session: Session, factor: SecondFactor, code: str, sms_kind: str, box: SecretBox, now: datetime) -> bool:
    if factor.method == TOTP:
        step = _totp_step(factor, code, box, now)
        if step is None or (factor.last_step is not None and step <= factor.last_step):
            return False  # a code seen once, or an older one, is not accepted again
        factor.last_step = step
        return True
    return _use_code(session, factor.user_id, sms_kind, code, now)


def confirm(session: Session, user: User, code: str, box: SecretBox, *, now: datetime) -> list[str]:
    """Confirm the enrolment under way with one code of the factor; return the new recovery codes."""
    factor = _pending(session, user.id)
    if factor is None:
        raise InvalidInput("no_enrolment", "请先开始绑定", "no enrolment under way")
    if not _check(session, factor, code, SMS_ENROL, box, now):
        raise InvalidInput("wrong_code", "验证码错误或已过期", "wrong or expired code")
    factor.confirmed_at = now
    codes = new_recovery_codes(session, user, now=now)
    audit.record(session, actor=user, action="user.2fa_enrolled", entity="user", entity_id=user.id, at=now,
                 data={"method": factor.method})
    return codes


def new_recovery_codes(session: Session, user: User, *, now: datetime) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them (they are shown once, stored hashed)."""
    session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.kind == RECOVERY))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))  # about 49 bits each
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(OneTimeCode(user_id=user.id, kind=RECOVERY, code_hash=code_hash(user.id, raw), created_at=now))
    session.flush()
    return codes


def recovery_codes_left(session: Session, user_id: int) -> int:
    """Return how many unused recovery codes the user has."""
    return session.scalar(select(func.count()).select_from(OneTimeCode).where(
        OneTimeCode.user_id == user_id, OneTimeCode.kind == RECOVERY, OneTimeCode.used_at.is_(None))) or 0


def verify(session: Session, user: User, code: str, box: SecretBox, *, now: datetime) -> str | None:
    """Check a code at the second step of a login; return what it was ("totp", "sms", "recovery") or None.

    Audits a success; the caller counts a failure toward the lockout (logins.second_step).
    """
    factor = factor_of(session, user.id)
    if factor is None or not isinstance(code, str) or not code.strip():
        return None
    used = None
    if _check(session, factor, code, SMS_LOGIN, box, now):
        used = factor.method
    elif len(normalise(code)) == 10 and _use_code(session, user.id, RECOVERY, code, now):
        used = RECOVERY
        audit.record(session, actor=user, action="user.2fa_recovery_used", entity="user", entity_id=user.id,
                     at=now, data={"left": recovery_codes_left(session, user.id)})
    if used is not None:
        audit.record(session, actor=user, action="user.2fa_verified", entity="user", entity_id=user.id, at=now,
                     data={"method": used})
    return used


def reset(session: Session, user: User, *, now: datetime, actor) -> bool:
    """Remove a user's second factor and recovery codes (lost phone); tell whether there was one."""
    had = session.scalar(select(SecondFactor.id).where(SecondFactor.user_id == user.id)) is not None
    session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user.id))
    audit.record(session, actor=actor, action="user.2fa_reset", entity="user", entity_id=user.id, at=now,
                 data={"login": user.login, "had_factor": had})
    return had


# SMS codes are counted for an hour (`SmsRules.max_per_hour`): a day past expiry or use, nothing reads them.
CODES_KEEP = timedelta(days=1)


def purge_codes(session: Session, *, now: datetime, batch: int) -> int:
    """Delete at most `batch` one-time codes expired or used more than a day ago; return how many.

    A deleted code matches nothing, so a used one still cannot be used again; unused recovery
    codes (which never expire) stay. The caller commits.
    """
    cutoff = now - CODES_KEEP
    return delete_batch(session, OneTimeCode, or_(OneTimeCode.expires_at < cutoff, OneTimeCode.used_at < cutoff),
                        batch=batch)
