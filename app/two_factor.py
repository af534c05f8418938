"""The second step of a login and the enrolment page of a second factor (TOTP or SMS), with recovery codes.

After the right password (app/auth.py `_password_accepted`), a user with a factor is sent to
/login/verify; one whose role requires a factor and has none to /account/two-factor, which also
serves signed-in users. Codes are checked by incidents/people/two_factor.py; a wrong one counts
toward the login lockout like a wrong password.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
from datetime import timedelta

import segno
from Cryptodome.Cipher import AES
from Cryptodome.Random import get_random_bytes
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from app.auth import (
    WRONG,
    client_address,
    check_csrf,
    current_user,
    finish_login,
    lockout_rules,
    must_enrol,
    pending_user,
    two_factor_roles,
)
from app.extensions import db, yingji
from incidents.kernel.errors import DomainError
from incidents.kernel.labels import SECOND_FACTOR, SMS_CODE_TEXT
from incidents.models import SMS_FACTOR, SMS_LOGIN, TOTP, User
from incidents.people import logins, two_factor
from notifiers.base import SENT, Message
from notifiers.registry import settings_from, sms_sender

bp = Blueprint("two_factor", __name__)
log = logging.getLogger("yingji.two_factor")
WRONG_CODE = "验证码错误或已过期"


class AesGcmBox:
    """Seal TOTP secrets with AES-256-GCM, bound to their user (a secret moved to another row does not open)."""

    PREFIX = "v1:"

    def __init__(self, key: bytes) -> None:
        self.key = key

    def seal(self, secret: str, user_id: int) -> str:
        """Return `v1:` and the nonce, ciphertext and tag in URL-safe base64."""
        nonce = get_random_bytes(12)
        cipher = AES.new(self.key, AES.MODE_GCM, nonce=nonce)
        cipher.update(f"yingji-2fa:{user_id}".encode())
        body, tag = cipher.encrypt_and_digest(secret.encode("ascii"))
        return self.PREFIX + base64.urlsafe_b64encode(nonce + body + tag).decode("ascii")

    def unseal(self, stored: str, user_id: int) -> str:
        """Return the secret; ValueError when the key, the user or the bytes are not those it was sealed with."""
        if not stored.startswith(self.PREFIX):
            raise ValueError("not a sealed secret")
        raw = base64.urlsafe_b64decode(stored[len(self.PREFIX):])
        cipher = AES.new(self.key, AES.MODE_GCM, nonce=raw[:12])
        cipher.update(f"yingji-2fa:{user_id}".encode())
        return cipher.decrypt_and_verify(raw[12:-16], raw[-16:]).decode("ascii")


def secret_box() -> AesGcmBox:
    """Return the box of TOTP secrets: TWO_FACTOR_KEY, else a key derived from SECRET_KEY (both outside the database)."""
    configured = current_app.config.get("TWO_FACTOR_KEY")
    if configured:
        key = hashlib.sha256(str(configured).encode("utf-8")).digest()
    else:
        key = hmac.new(str(current_app.config["SECRET_KEY"]).encode("utf-8"), b"yingji two-factor secrets",
                       hashlib.sha256).digest()
    return AesGcmBox(key)


def sms_rules() -> two_factor.SmsRules:
    """Return the SMS code settings of the app."""
    return two_factor.SmsRules(lifetime=timedelta(minutes=current_app.config["TWO_FACTOR_SMS_MINUTES"]))


def _send_code(user: User, phone: str, code: str) -> None:
    """Send an SMS code through the configured sender; refuse (Chinese message) when it fails."""
    minutes = current_app.config["TWO_FACTOR_SMS_MINUTES"]
    try:
        result = sms_sender(settings_from(current_app.config)).send(
            Message(to=phone, text=SMS_CODE_TEXT.format(code=code, minutes=minutes), reference=f"2fa-{user.id}"))
    except Exception:  # noqa: BLE001 - a provider failure is told to the user, never a 500
        log.exception("could not send a second-factor SMS")
        result = None
    if result is None or result.status == "failed":
        raise DomainError("sms_failed", "短信发送失败，请稍后再试或使用恢复码", "the SMS could not be sent")
    if result.status != SENT:
        log.info("second-factor SMS %s for user %s", result.status, user.id)


def _locked_answer(user: User, retry_at):
    """Forget the pending login and say when to retry, as the login form does."""
    now = yingji().clock.now()
    session.clear()
    seconds = max(1, math.ceil((retry_at - now).total_seconds()))
    error = f"{WRONG}次数过多，请{max(1, math.ceil(seconds / 60))}分钟后再试"
    return render_template("login.html", error=error, login=user.login), 429, {"Retry-After": str(seconds)}


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    """Ask a user who gave the right password for the code of their second factor (or a recovery code)."""
    user = pending_user()
    if user is None:
        session.clear()
        return redirect(url_for("auth.login"))
    factor = two_factor.factor_of(db(), user.id)
    if factor is None:  # reset by an administrator meanwhile
        return redirect(url_for("two_factor.enrol") if must_enrol(user) else url_for("auth.login"))
    error, status, sent = None, 200, False
    if request.method == "POST":
        check_csrf()
        now = yingji().clock.now()
        retry = logins.locked_until(db(), user, client_address(), now)
        if retry is not None:
            return _locked_answer(user, retry)
        if request.form.get("action") == "sms":
            try:
                if factor.method != SMS_FACTOR:
                    raise DomainError("not_sms", "您绑定的是身份验证器，请输入其动态口令或恢复码",
                                      "the enrolled factor is not SMS")
                code = two_factor.issue_sms_code(db(), user, SMS_LOGIN, sms_rules(), now=now)
                _send_code(user, factor.phone, code)
                db().commit()
                sent = True
            except DomainError as exc:
                db().rollback()
                error, status = exc.message_zh, 429 if exc.code.startswith("sms_too") else 400
        else:
            used = two_factor.verify(db(), user, request.form.get("code", ""), secret_box(), now=now)
            result = logins.second_step(db(), lockout_rules(), user, ok=used is not None, address=client_address(),
                                        now=now)
            db().commit()  # a failure is kept whatever happens next: it is counted
            if used is not None:
                return finish_login(user)
            if result.locked:
                return _locked_answer(user, result.retry_at)
            error, status = WRONG_CODE, 401
    return render_template("two_factor_verify.html", user=user, factor=factor, labels=SECOND_FACTOR,
                           error=error, sent=sent), status


def _enrolling_user() -> tuple[User | None, bool]:
    """Return who is enrolling and whether they are only pending (forced enrolment before a session)."""
    user = current_user()
    if user is not None and g.get("auth_via") == "session":
        return user, False
    user = pending_user()
    if user is not None and must_enrol(user):
        return user, True
    return None, False


def _qr(uri: str) -> str:
    """Render the otpauth URI as an SVG data URI (no outside service sees the secret)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


@bp.route("/account/two-factor", methods=["GET", "POST"])
def enrol():
    """Enrol an authenticator app (QR code and a confirmation code) or SMS codes; show the recovery codes once."""
    user, pending = _enrolling_user()
    if user is None:
        if session.get("tf_user"):
            session.clear()  # a pending login that timed out
        return redirect(url_for("auth.login", next=request.full_path))
    s, now = db(), yingji().clock.now()
    error, status, codes, continue_to = None, 200, None, None
    if request.method == "POST":
        check_csrf()
        action = request.form.get("action")
        try:
            if action == "totp":
                two_factor.start_totp(s, user, secret_box(), now=now)
            elif action == "sms":
                factor, code = two_factor.start_sms(s, user, sms_rules(), now=now)
                _send_code(user, factor.phone, code)
            elif action == "confirm":
                retry = logins.locked_until(s, user, client_address(), now)
                if retry is not None and pending:
                    return _locked_answer(user, retry)
                if retry is not None:
                    raise DomainError("locked", "尝试次数过多，请稍后再试", "too many wrong codes")
                try:
                    codes = two_factor.confirm(s, user, request.form.get("code", ""), secret_box(), now=now)
                except DomainError as exc:
                    if exc.code != "wrong_code":
                        raise
                    s.rollback()
                    result = logins.second_step(s, lockout_rules(), user, ok=False, address=client_address(), now=now,
                                                why="wrong_enrolment_code")
                    s.commit()
                    if result.locked and pending:
                        return _locked_answer(user, result.retry_at)
                    raise
            elif action == "recovery" and not pending:
                if two_factor.verify(s, user, request.form.get("code", ""), secret_box(), now=now) is None:
                    s.rollback()
                    logins.second_step(s, lockout_rules(), user, ok=False, address=client_address(), now=now)
                    s.commit()
                    raise DomainError("wrong_code", WRONG_CODE, "wrong or expired code")
                codes = two_factor.new_recovery_codes(s, user, now=now)
            else:
                raise DomainError("bad_action", "无效的操作", "unknown action")
            s.commit()
        except DomainError as exc:
            s.rollback()
            error = exc.message_zh
            status = 429 if exc.code.startswith("sms_too") or exc.code == "locked" else (
                409 if exc.code == "already_enrolled" else 400)
        if codes is not None:
            if pending:
                # The session opens now; the codes are shown once, then the user goes on.
                continue_to = finish_login(user).location
            else:
                continue_to = url_for("two_factor.enrol")
            return render_template("two_factor_codes.html", codes=codes, continue_to=continue_to)
    factor = two_factor.factor_of(s, user.id)
    under_way = None if factor is not None else s.scalar(two_factor.pending_query(user.id))
    box = secret_box()
    uri = two_factor.totp_uri(under_way, user, current_app.config["TWO_FACTOR_ISSUER"], box) \
        if under_way is not None and under_way.method == TOTP else None
    return render_template("two_factor_enrol.html", user=user, pending=pending, factor=factor, under_way=under_way,
                           uri=uri, qr=_qr(uri) if uri else None, secret=two_factor.totp_secret(under_way, box) if uri else None,
                           labels=SECOND_FACTOR, required=user.role in two_factor_roles(),
                           left=two_factor.recovery_codes_left(s, user.id) if factor else 0,
                           error=error), status
