"""12315 verification at the edge: which method this deployment uses, SMS codes sent, captchas drawn.

The rules (code length, lifetime, tries, what counts toward surges) are the domain's
(incidents/complaints/verification.py); here are the key, the sender and the images.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
from datetime import datetime, timedelta, timezone

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha
from flask import current_app, request

from app.extensions import db, now
from app.intake.guard import counter_key
from incidents import complaints
from incidents.complaints import InvalidComplaint, RateLimited, verification
from incidents.kernel.errors import Conflict, DomainError
from incidents.plan import RateLimit
from notifiers import registry
from notifiers.base import Message

log = logging.getLogger("yingji.intake")

SMS_TEXT = "【12315】您的投诉举报验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。"
_IMAGES = ImageCaptcha(width=180, height=64)
_AUDIO: AudioCaptcha | None = None


class SmsUnavailable(DomainError):
    """The SMS provider did not take the code; the complaint can still be filed unverified."""

    status = 503


def secret() -> bytes:
    """Return the key of codes, captchas and verified phones (derived from SECRET_KEY, never stored)."""
    base = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(base, b"yingji-12315-verification", hashlib.sha256).digest()


def method() -> str:
    """Return this deployment's verification: "sms" or "captcha".

    INTAKE_VERIFICATION when set; else captcha in production without an SMS provider (SMS_BACKEND
    console sends nothing), and SMS otherwise (the local demo's console sender logs the code).
    """
    chosen = current_app.config.get("INTAKE_VERIFICATION") or ""
    if chosen in verification.METHODS:
        return chosen
    backend = (current_app.config.get("SMS_BACKEND") or "console").strip()
    production = current_app.config.get("YINGJI_ENV") == "production"
    return verification.CAPTCHA if production and backend in ("", "console") else verification.SMS


def send_code(raw_phone: str) -> str:
    """Send a code to the phone typed; return the phone masked. Raise InvalidComplaint, RateLimited, Conflict or
    SmsUnavailable."""
    if method() != verification.SMS:
        raise Conflict("sms_verification_off", "本系统未开通短信验证，请在网页表单上填写图形验证码",
                       "this deployment verifies by captcha, not SMS")
    phone = complaints.normalise_phone(raw_phone if isinstance(raw_phone, str) else "")
    if phone is None:
        raise InvalidComplaint({"phone": "手机号码格式不正确，请填写11位手机号码，如 13812345678"})
    session, moment, config = db(), now(), current_app.config
    hour = timedelta(hours=1)
    wait_ip, wait_phone = complaints.rate_hits(session, [
        (counter_key("code-ip", request.remote_addr or "unknown"), RateLimit(config["INTAKE_SMS_PER_ADDRESS"], hour)),
        (counter_key("code-phone", phone), RateLimit(config["INTAKE_SMS_PER_PHONE"], hour))], now=moment)
    if wait_ip or wait_phone:
        session.commit()
        raise RateLimited(wait_ip or wait_phone, "您所在网络获取验证码" if wait_ip else "该手机号码获取验证码")
    code = verification.start_sms(session, secret=secret(), phone=phone, now=moment)
    session.commit()
    try:
        result = registry.sms_sender(registry.settings_from(config)).send(
            Message(to="+86" + phone, text=SMS_TEXT.format(code=code), reference="12315-code"))
    except Exception:  # any provider failure: the citizen may still file, unverified
        log.exception("12315 verification SMS not sent")
        result = None
    if result is None or not result.ok:
        raise SmsUnavailable("sms_unavailable", "验证码短信暂时无法发送，您可以不填验证码直接提交（办理不受影响）",
                             "the SMS provider did not take the code; file without it")
    return complaints.mask_phone(phone)


def new_captcha() -> str:
    """Return a new captcha token (signed, stateless: nothing is stored until it is answered)."""
    nonce = secrets.token_urlsafe(12)
    issued = str(int(now().timestamp()))
    return f"{nonce}.{issued}.{_sign(nonce, issued)}"


def _sign(nonce: str, issued: str) -> str:
    return hmac.new(secret(), f"captcha-token:{nonce}.{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def captcha_issued(token: str) -> datetime | None:
    """Return when a captcha token was issued, or None when it is not one of ours."""
    parts = (token or "").split(".") if isinstance(token, str) and len(token) <= 80 else []
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
        return None
    if not hmac.compare_digest(parts[2].encode(), _sign(parts[0], parts[1]).encode()):
        return None
    return datetime.fromtimestamp(int(parts[1]), timezone.utc)


def captcha_png(token: str) -> bytes | None:
    """Return the captcha's image, or None for a token that is not ours."""
    if captcha_issued(token) is None:
        return None
    out = io.BytesIO()
    _IMAGES.write(verification.captcha_code(secret(), token), out, format="png")
    return out.getvalue()


def captcha_wav(token: str) -> bytes | None:
    """Return the captcha read aloud (WAV), or None for a token that is not ours."""
    global _AUDIO
    if captcha_issued(token) is None:
        return None
    if _AUDIO is None:
        _AUDIO = AudioCaptcha()
    return bytes(_AUDIO.generate(verification.captcha_code(secret(), token)))


def redeem_captcha(token: str, answer: str, phone: str) -> verification.Verified:
    """Check the form's captcha answer (once); raise InvalidComplaint on the captcha field."""
    issued = captcha_issued(token)
    if issued is None:
        raise InvalidComplaint({verification.CAPTCHA_FIELD: "验证码已失效，请输入新的验证码"})
    return verification.redeem_captcha(db(), secret=secret(), token=token, issued_at=issued, answer=answer,
                                       phone=phone, now=now())


def redeem_code(phone: str, code: str) -> verification.Verified:
    """Check the SMS code given with a submission (a try counts); raise InvalidComplaint on its field."""
    return verification.redeem_sms(db(), secret=secret(), phone=phone, code=code, now=now())
