"""Verification of the public before a complaint counts toward surges: an SMS code to the phone, or a captcha.

A complaint may always be filed (a citizen without signal is not turned away), but only one whose
complainant proved to hold the phone (a 6-digit code sent to it: 5 minutes, 3 tries, stored as a
keyed hash) or, where no SMS is configured, answered the form's captcha, counts toward surge
rules; surges count distinct verified phones (incidents/complaints/surge.py). The key (`secret`)
comes from the web layer and never lives in the database, so a copy of the table tells neither
the codes nor the phones.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.complaints.errors import InvalidComplaint
from incidents.kernel.batches import delete_batch
from incidents.models import IntakeChallenge

SMS, CAPTCHA = "sms", "captcha"
METHODS = (SMS, CAPTCHA)
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_TRIES = 3
CAPTCHA_DIGITS = 5
CAPTCHA_LIFETIME = timedelta(minutes=10)
CODE_FIELD = "verification_code"
CAPTCHA_FIELD = "captcha"


@dataclass(frozen=True)
class Verified:
    """How a submission was verified, as stored on the complaint."""

    method: str  # sms | captcha
    phone_key: str  # keyed hash of the phone


def keyed(secret: bytes, scope: str, value: str) -> str:
    """Return the hex HMAC-SHA256 of a value under a scope (phone, code, captcha)."""
    return hmac.new(secret, f"{scope}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def phone_key(secret: bytes, phone: str) -> str:
    """Return the keyed hash of a normalised phone number: what surges count and codes are bound to."""
    return keyed(secret, "phone", phone)


def start_sms(session: Session, *, secret: bytes, phone: str, now: datetime) -> str:
    """Store a new 6-digit code for a phone (hashed; earlier open codes of the phone die) and return it to send."""
    subject = phone_key(secret, phone)
    for row in session.scalars(select(IntakeChallenge).where(
            IntakeChallenge.kind == SMS, IntakeChallenge.subject == subject, IntakeChallenge.used_at.is_(None),
            IntakeChallenge.expires_at > now)):
        row.used_at = now  # only the newest code works: an old SMS read later is no use
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    token = secrets.token_urlsafe(24)
    session.add(IntakeChallenge(kind=SMS, token=token, subject=subject, code_hash=keyed(secret, "code:" + token, code),
                                created_at=now, expires_at=now + CODE_LIFETIME, attempts=0))
    session.flush()
    return code


def redeem_sms(session: Session, *, secret: bytes, phone: str, code: str, now: datetime) -> Verified:
    """Check and use up the phone's code; raise InvalidComplaint on the code field (a try counts) otherwise.

    The caller commits in both cases: a wrong try must count even though the submission is refused.
    """
    code = "".join(ch for ch in str(code) if not ch.isspace())
    subject = phone_key(secret, phone)
    row = session.scalar(select(IntakeChallenge).where(
        IntakeChallenge.kind == SMS, IntakeChallenge.subject == subject, IntakeChallenge.used_at.is_(None))
        .order_by(IntakeChallenge.id.desc()).limit(1).with_for_update())
    if row is None or row.expires_at <= now:
        raise InvalidComplaint({CODE_FIELD: "验证码已失效或未获取，请重新获取；也可清空验证码直接提交（提交不受影响）"})
    row.attempts += 1
    good = len(code) == CODE_DIGITS and code.isdigit() and hmac.compare_digest(
        row.code_hash or "", keyed(secret, "code:" + row.token, code))
    if not good:
        left = MAX_TRIES - row.attempts
        if left <= 0:
            row.used_at = now
            raise InvalidComplaint({CODE_FIELD: "验证码错误次数过多，已失效，请重新获取；也可清空验证码直接提交"})
        raise InvalidComplaint({CODE_FIELD: f"验证码不正确，还可以再试{left}次"})
    row.used_at = now
    return Verified(SMS, subject)


def captcha_code(secret: bytes, token: str) -> str:
    """Return the digits a captcha token shows (derived from the key: the token alone does not tell them)."""
    digest = hmac.new(secret, f"captcha:{token}".encode("utf-8"), hashlib.sha256).digest()
    return "".join(str(b % 10) for b in digest[:CAPTCHA_DIGITS])


def redeem_captcha(session: Session, *, secret: bytes, token: str, issued_at: datetime, answer: str, phone: str,
                   now: datetime) -> Verified:
    """Check a captcha answer once (right or wrong, the captcha is used up); raise InvalidComplaint when wrong."""
    answer = "".join(ch for ch in str(answer) if not ch.isspace())
    expired = now - issued_at > CAPTCHA_LIFETIME or issued_at > now + timedelta(minutes=1)
    if not answer:
        raise InvalidComplaint({CAPTCHA_FIELD: "请输入图中的数字（看不清可点“听语音”或换一张）"})
    if expired:
        raise InvalidComplaint({CAPTCHA_FIELD: "验证码已过期，请输入新的验证码"})
    try:
        with session.begin_nested():
            session.add(IntakeChallenge(kind=CAPTCHA, token=keyed(secret, "captcha-used", token), created_at=issued_at,
                                        expires_at=issued_at + CAPTCHA_LIFETIME, attempts=1, used_at=now))
            session.flush()
    except IntegrityError:
        raise InvalidComplaint({CAPTCHA_FIELD: "验证码已使用过，请输入新的验证码"}) from None
    if not hmac.compare_digest(answer.encode("utf-8"), captcha_code(secret, token).encode("utf-8")):
        raise InvalidComplaint({CAPTCHA_FIELD: "验证码不正确，请输入新的验证码"})
    return Verified(CAPTCHA, phone_key(secret, phone))


def purge_challenges(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """Delete at most `batch` codes and used captchas that expired more than a day ago; return how many."""
    return delete_batch(session, IntakeChallenge, IntakeChallenge.expires_at < now - timedelta(days=1), batch=batch)
