"""Server-side login sessions: the signed cookie only names one; every request checks it here."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.kernel.actors import SystemActor
from incidents.kernel.batches import delete_batch
from incidents.kernel.errors import Conflict, NotFound
from incidents.kernel.roles import ROLES
from incidents.kernel.text import checked_text
from incidents.models import LoginSession, User
from incidents.records import audit
from incidents.records.snapshots import iso

LOGOUT = "logout"
IDLE = "idle"
EXPIRED = "expired"
PASSWORD_CHANGED = "password_changed"
DEACTIVATED = "deactivated"
TWO_FACTOR_RESET = "2fa_reset"
ADMIN_ENDED = "admin_ended"  # the security administrator ended it (manage_sessions), with a reason
MAX_REASON = 500
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


def _end(session: Session, row: LoginSession, *, now: datetime, why: str, actor, reason: str | None = None) -> None:
    row.ended_at, row.ended_why = now, why
    data = {"user_id": row.user_id, "why": why}
    if reason is not None:
        data["reason"] = reason
    audit.record(session, actor=actor, action="session.ended", entity="session", entity_id=row.id, at=now,
                 data=data)


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


# --- the security administrator's view (manage_sessions) ----------------------------------------------


def reason_text(reason: str | None) -> str:
    """Return the reason an administrator gave, cleaned; refuse a missing or overlong one."""
    return checked_text(reason, field="reason", label="操作原因", limit=MAX_REASON, clean=True, ask="请填写")


def _shifted(moment: datetime, delta: timedelta) -> datetime | None:
    # Settings may be huge (the tests' time travel): past the calendar's end there is no such moment.
    try:
        return moment + delta
    except OverflowError:
        return None


def _live_query(rules: SessionRules, now: datetime):
    # Not ended, within both timeouts, of an active user: what `check` would still let in.
    query = (select(LoginSession, User).join(User, User.id == LoginSession.user_id)
             .where(LoginSession.ended_at.is_(None), User.active.is_(True)))
    for column, limit in ((LoginSession.created_at, rules.lifetime), (LoginSession.last_seen_at, rules.idle)):
        since = _shifted(now, -limit)
        if since is not None:
            query = query.where(column > since)
    return query


def live(session: Session, rules: SessionRules, *, now: datetime, user_id: int | None = None
         ) -> list[tuple[LoginSession, User]]:
    """Return the live login sessions with their users, newest first; only one user's when `user_id` is given.

    A session past a timeout but not ended yet (nobody has used its cookie since) is not live.
    """
    query = _live_query(rules, now)
    if user_id is not None:
        query = query.where(LoginSession.user_id == user_id)
    return [(row, user) for row, user in session.execute(query.order_by(LoginSession.created_at.desc(),
                                                                         LoginSession.id.desc()))]


def as_dict(row: LoginSession, user: User, rules: SessionRules) -> dict:
    """Return a login session as the security administrator sees it (never its key or the key's hash).

    `idle_expires_at` is when it ends unless used again (late by up to `rules.touch_every`: last-seen is
    written at most that often), `expires_at` when it ends however busy.
    """
    ended = row.ended_at is not None
    return {"id": row.id, "user_id": user.id, "name": user.name, "login": user.login, "role": user.role,
            "role_name": ROLES.get(user.role, user.role), "address": row.address,
            "started_at": iso(row.created_at), "last_seen_at": iso(row.last_seen_at),
            "idle_expires_at": None if ended else iso(_shifted(row.last_seen_at, rules.idle)),
            "expires_at": None if ended else iso(_shifted(row.created_at, rules.lifetime)),
            "ended_at": iso(row.ended_at), "ended_why": row.ended_why,
            "ended_why_name": labels.SESSION_END.get(row.ended_why, row.ended_why) if ended else None}


def id_of_key(session: Session, key: str | None) -> int | None:
    """Return the id of the session a cookie's key names, or None (to mark the administrator's own)."""
    if not key or not isinstance(key, str):
        return None
    return session.scalar(select(LoginSession.id).where(LoginSession.key_hash == key_hash(key)))


def end_one(session: Session, session_id: int, rules: SessionRules, *, reason: str | None, now: datetime,
            actor) -> tuple[LoginSession, User]:
    """End one live login session at once, with the administrator's reason; its open boards close at the next re-check.

    The caller has checked `manage_sessions` and commits.
    """
    why = reason_text(reason)
    found = session.execute(_live_query(rules, now).where(LoginSession.id == session_id)
                            .with_for_update(of=LoginSession)).first() \
        if isinstance(session_id, int) and 0 < session_id < 2**31 else None
    if found is None:
        row = session.get(LoginSession, session_id) if isinstance(session_id, int) and 0 < session_id < 2**31 else None
        if row is None:
            raise NotFound("not_found", f"登录会话 {session_id} 不存在", f"login session {session_id} not found")
        raise Conflict("session_not_live", "该登录会话已结束或已超时，无需再结束",
                       "this login session has already ended or timed out")
    row, user = found
    _end(session, row, now=now, why=ADMIN_ENDED, actor=actor, reason=why)
    return row, user


def end_of_user(session: Session, user: User, rules: SessionRules, *, reason: str | None, now: datetime,
                actor) -> list[int]:
    """End every live login session of a user, with the administrator's reason; return their ids.

    One `user.sessions_ended` entry says who did it and why, even when there was none to end; each
    session ended gets its own `session.ended`. The caller has checked `manage_sessions` and commits.
    """
    why = reason_text(reason)
    rows = [row for row, _ in live(session, rules, now=now, user_id=user.id)]
    for row in rows:
        _end(session, row, now=now, why=ADMIN_ENDED, actor=actor, reason=why)
    ids = sorted(row.id for row in rows)
    audit.record(session, actor=actor, action="user.sessions_ended", entity="user", entity_id=user.id, at=now,
                 data={"login": user.login, "session_ids": ids, "count": len(ids), "reason": why})
    return ids


def purge(session: Session, rules: SessionRules, *, keep: timedelta, now: datetime, batch: int) -> int:
    """Delete at most `batch` login sessions ended more than `keep` ago, or never ended and past their lifetime
    by more than `keep` (a browser closed without logout); return how many (the caller commits).

    Nothing reads them any more: a cookie naming a deleted session is refused like an ended one.
    Their start and end stay in the audit trail.
    """
    abandoned = _shifted(now, -(rules.lifetime + keep))
    stale = LoginSession.ended_at < now - keep
    if abandoned is not None:
        stale = or_(stale, and_(LoginSession.ended_at.is_(None), LoginSession.created_at < abandoned))
    return delete_batch(session, LoginSession, stale, batch=batch)
