"""Server-side login sessions: the signed cookie only names one; every request checks it here."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor
from incidents.models import LoginSession, User
from incidents.records import audit

LOGOUT = "logout"
IDLE = "idle"
EXPIRED = "expired"
PASSWORD_CHANGED = "password_changed"
DEACTIVATED = "deactivated"
TWO_FACTOR_RESET = "2fa_reset"
SESSIONS_ACTOR = SystemActor(name="sessions")


@dataclass(frozen=True)
class SessionRules:
    """How long a login session lives (GB/T 22239-2019 登录连接超时自动退出)."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)  # last-seen is written at most this often


def key_hash(key: str) -> str:
    """Return the stored form of a session key (the cookie's value is never stored)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def start(session: Session, user: User, *, now: datetime, address: str | None) -> str:
    """Open a login session for a user and return its random key for the cookie."""
    key = secrets.token_urlsafe(32)
    row = LoginSession(key_hash=key_hash(key), user_id=user.id, address=(address or "")[:64] or None,
                       created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=user, action="session.started", entity="session", entity_id=row.id, at=now,
                 data={"user_id": user.id, "address": row.address})
    return key


def _end(session: Session, row: LoginSession, *, now: datetime, why: str, actor) -> None:
    row.ended_at, row.ended_why = now, why
    audit.record(session, actor=actor, action="session.ended", entity="session", entity_id=row.id, at=now,
                 data={"user_id": row.user_id, "why": why})


def check(session: Session, key: str | None, rules: SessionRules, *, now: datetime) -> LoginSession | None:
    """Return the live session of this key (touching its last-seen time), or None; end it if it timed out.

    The caller commits: a timed-out session is ended and audited, and last-seen is written at most
    once per `rules.touch_every`, so that reading pages does not write on every request.
    """
    if not key or not isinstance(key, str):
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.key_hash == key_hash(key)))
    if row is None or row.ended_at is not None:
        return None
    user = session.get(User, row.user_id)
    why = None
    if user is None or not user.active:
        why = DEACTIVATED
    elif now - row.created_at >= rules.lifetime:
        why = EXPIRED
    elif now - row.last_seen_at >= rules.idle:
        why = IDLE
    if why:
        _end(session, row, now=now, why=why, actor=SESSIONS_ACTOR)
        return None
    if now - row.last_seen_at >= rules.touch_every:
        row.last_seen_at = now
    return row


def end(session: Session, key: str | None, *, now: datetime, why: str = LOGOUT, actor=None) -> bool:
    """End the session of this key (logout); tell whether one was live."""
    if not key or not isinstance(key, str):
        return False
    row = session.scalar(select(LoginSession).where(LoginSession.key_hash == key_hash(key),
                                                    LoginSession.ended_at.is_(None)))
    if row is None:
        return False
    _end(session, row, now=now, why=why, actor=actor or session.get(User, row.user_id) or SESSIONS_ACTOR)
    return True


def end_all(session: Session, user_id: int, *, now: datetime, why: str, actor) -> int:
    """End every live session of a user (password change, deactivation); return how many."""
    rows = session.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                      LoginSession.ended_at.is_(None))).all()
    for row in rows:
        _end(session, row, now=now, why=why, actor=actor)
    return len(rows)


def deactivate(session: Session, user: User, *, now: datetime, actor) -> None:
    """Deactivate a user and end every session of theirs at once."""
    user.active = False
    end_all(session, user.id, now=now, why=DEACTIVATED, actor=actor)
    audit.record(session, actor=actor, action="user.deactivated", entity="user", entity_id=user.id, at=now)


def live_keys(session: Session, keys: dict[str, int], rules: SessionRules, *, now: datetime) -> set[str]:
    """Return which of these session keys (key -> the user the cookie names) are still live; nothing is written.

    For the open boards, re-checked every few seconds in one query: a board's socket is not activity
    (it would keep an unattended page signed in for ever), so the idle rule applies to it as well.
    """
    if not keys:
        return set()
    by_hash = {key_hash(k): k for k in keys}
    rows = session.execute(select(LoginSession.key_hash, LoginSession.user_id, LoginSession.created_at,
                                  LoginSession.last_seen_at, User.active)
                           .join(User, User.id == LoginSession.user_id)
                           .where(LoginSession.key_hash.in_(list(by_hash)), LoginSession.ended_at.is_(None)))
    live = set()
    for digest, user_id, created_at, last_seen_at, active in rows:
        key = by_hash[digest]
        if (active and user_id == keys[key] and now - created_at < rules.lifetime
                and now - last_seen_at < rules.idle):
            live.add(key)
    return live
