"""What production refuses to start with, and the security headers every response carries.

Production is `YINGJI_ENV=production` (deploy/yingji.env.example). Anything else is the embedded
local demo of `make run`: bound to 127.0.0.1, a generated key, and a banner on every staff page.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import config as config_module
from app.demo import DEMO_PASSWORD, DEMO_USERS
from incidents.kernel.labels import DEMO_BANNER
from incidents.models import User
from incidents.people.users import check_password
from notifiers import peer_keys

log = logging.getLogger("yingji.security")

MIN_SECRET_BYTES = 32

# Fits the pages as they are: every script and style sheet is a file of ours, the boards' Socket.IO
# connects back to the same origin, the one data block (<script type="application/json">) is not run.
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"


class InsecureSettings(RuntimeError):
    """Production settings that must not start: each problem in Chinese and in English."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = ["生产环境（YINGJI_ENV=production）配置不安全，拒绝启动 / "
                 "refusing to start: insecure production settings"]
        lines += [f"  - {zh} / {en}" for zh, en in problems]
        super().__init__("\n".join(lines))


def is_production(app: Flask) -> bool:
    """Tell whether the app runs as production (`YINGJI_ENV=production`)."""
    return app.config.get("YINGJI_ENV") == config_module.PRODUCTION


def setting_problems(config: dict, *, debug: bool) -> list[tuple[str, str]]:
    """Return what is insecure in production settings, each as (Chinese, English)."""
    problems = []
    key = config.get("SECRET_KEY")
    if not key:
        problems.append(("未设置 SECRET_KEY", "SECRET_KEY is not set"))
    elif str(key).strip() == config_module.PLACEHOLDER_SECRET_KEY:
        problems.append(("SECRET_KEY 仍是示例文件中的占位值，请生成随机密钥（如 openssl rand -hex 32）",
                         "SECRET_KEY is the placeholder of deploy/yingji.env.example; generate a random key "
                         "(e.g. openssl rand -hex 32)"))
    elif len(str(key).encode("utf-8")) < MIN_SECRET_BYTES:
        problems.append((f"SECRET_KEY 过短（少于 {MIN_SECRET_BYTES} 字节）",
                         f"SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes"))
    if not config.get("PII_KEY"):
        problems.append(("未设置 PII_KEY（加密投诉人个人信息的密钥，须存放在数据库之外），请生成随机密钥（openssl rand -hex 32）",
                         "PII_KEY (the key that encrypts complainants' personal data, kept outside the database) "
                         "is not set; generate one (openssl rand -hex 32)"))
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append(("会话 Cookie 未设置 Secure（SESSION_COOKIE_SECURE=1），须仅经 HTTPS 传送",
                         "session cookies are not Secure (set SESSION_COOKIE_SECURE=1)"))
    if debug:
        problems.append(("调试模式已开启（FLASK_DEBUG），生产环境须关闭", "debug mode is on (FLASK_DEBUG)"))
    problem = peer_key_problem(config)
    if problem:
        problems.append(problem)
    elif not (config.get("PEER_PRIVATE_KEY") or config.get("PEER_PRIVATE_KEY_FILE")):
        problems.append(("未设置 PEER_PRIVATE_KEY 或 PEER_PRIVATE_KEY_FILE（本局向其他局报送时签名用的密钥），"
                         "请用 flask peers new-key 生成并妥善保存",
                         "PEER_PRIVATE_KEY or PEER_PRIVATE_KEY_FILE (the key this bureau signs its reports to other "
                         "bureaus with) is not set; make one with `flask peers new-key`"))
    if config.get("SMTP_HOST") and config.get("SMTP_SECURITY") == "none":
        problems.append(("邮件服务器未加密（SMTP_SECURITY=none），公文须经 STARTTLS 或 SSL 发送",
                         "SMTP_SECURITY=none sends documents in clear; use starttls or ssl"))
    twilio = [name for name in ("SMS_BACKEND", "VOICE_BACKEND") if config.get(name) == "twilio"]
    token = (config.get("TWILIO_AUTH_TOKEN") or "").strip()
    if twilio and (not token or set(token) <= {"."}):
        problems.append((f"已选用 Twilio（{'、'.join(twilio)}）但未设置 TWILIO_AUTH_TOKEN",
                         f"Twilio is selected ({', '.join(twilio)}) without TWILIO_AUTH_TOKEN"))
    return problems


def peer_key_problem(config: dict) -> tuple[str, str] | None:
    """Return why the bureau's signing key cannot be used, or None (absent is judged by the caller)."""
    text = config.get("PEER_PRIVATE_KEY")
    path = config.get("PEER_PRIVATE_KEY_FILE")
    try:
        if path and not text:
            text = Path(path).read_text()
        if text:
            peer_keys.load_private_key(text)
    except (OSError, ValueError) as error:
        return (f"PEER_PRIVATE_KEY(_FILE) 不是可用的 Ed25519 私钥：{error}",
                f"PEER_PRIVATE_KEY(_FILE) is not a usable Ed25519 private key: {error}")
    return None


def demo_users(session: Session) -> list[str]:
    """Return the logins of active demo users (`flask demo load`): their passwords are public."""
    names = {login: name for login, name, *_ in DEMO_USERS}
    try:
        rows = session.scalars(select(User).where(User.login.in_(names), User.active.is_(True))).all()
    except SQLAlchemyError:  # not migrated yet (`flask db upgrade` builds the app too): no users at all
        session.rollback()
        return []
    return sorted(u.login for u in rows if u.name == names[u.login] or check_password(u.password_hash, DEMO_PASSWORD))


def refuse_insecure(app: Flask, sessions: sessionmaker, also: list[tuple[str, str]] = ()) -> None:
    """Raise InsecureSettings, naming every problem (and `also`: the audit key's), when production is not safe."""
    problems = setting_problems(app.config, debug=app.debug) + list(also)
    with sessions() as session:
        found = demo_users(session)
    if found:
        problems.append((f"数据库中存在演示用户（{'、'.join(found)}），其密码是公开的，请停用或删除",
                         f"demo users are in the database ({', '.join(found)}); their password is public"))
    if problems:
        error = InsecureSettings(problems)
        log.critical("%s", error)
        raise error


def _set_headers(response, *, secure: bool):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Put the security headers on every response and tell the templates whether this is the local demo."""
    secure = bool(app.config.get("SESSION_COOKIE_SECURE"))
    demo = not is_production(app)

    @app.after_request
    def _security_headers(response):
        return _set_headers(response, secure=secure)

    @app.context_processor
    def _environment() -> dict:
        return {"demo_banner": DEMO_BANNER if demo else None}

