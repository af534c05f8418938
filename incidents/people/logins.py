"""Password login with lockout and back-off per login name and per client address, counted in the database.

A login name is counted whether or not it exists, so that a locked name, a wrong password and an
unknown name all look the same from outside; an unknown name also costs one scrypt. For a user with a
second factor the password alone is not a success: `second_step` counts the code like a password.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor
from incidents.kernel.masking import mask_login
from incidents.models import LoginAttempt, LoginLock, SecondFactor, User
from incidents.people.users import check_password_or_dummy
from incidents.records import audit

ACCOUNT = "account"
ADDRESS = "address"
LOGIN_ACTOR = SystemActor(name="login")


@dataclass(frozen=True)
class LockoutRules:
    """How many failures lock what, and for how long (GB/T 22239-2019 登录失败处理)."""

    max_failures: int = 5  # per login name within the window
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)  # doubled for each earlier lockout within `memory`
    max_lockout: timedelta = timedelta(hours=24)
    memory: timedelta = timedelta(hours=24)
    address_max_failures: int = 20  # per client address within the window


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the user, or None and (when locked) until when."""

    user: User | None
    retry_at: datetime | None = None

    @property
    def locked(self) -> bool:
        return self.retry_at is not None


def login_key(login: str) -> str:
    """Return the key a login name is counted under (stored instead of the name as typed)."""
    return hashlib.sha256(login.encode("utf-8")).hexdigest()


def _lock_until(session: Session, kind: str, key: str, now: datetime) -> datetime | None:
    return session.scalar(select(func.max(LoginLock.until)).where(LoginLock.kind == kind, LoginLock.key == key,
                                                                 LoginLock.until > now))


def _failures_since(session: Session, column, value: str, since: datetime, after_id: int = 0) -> int:
    return session.scalar(select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since,
        LoginAttempt.id > after_id)) or 0


def _account_failures(session: Session, key: str, rules: LockoutRules, now: datetime) -> int:
    since = now - rules.window
    # Counting restarts after a lockout, and after a success (by id: both may share one instant).
    last_lock = session.scalar(select(func.max(LoginLock.starts_at)).where(LoginLock.kind == ACCOUNT,
                                                                          LoginLock.key == key))
    if last_lock is not None and last_lock > since:
        since = last_lock
    last_ok = session.scalar(select(func.max(LoginAttempt.id)).where(LoginAttempt.login_key == key,
                                                                    LoginAttempt.succeeded.is_(True)))
    return _failures_since(session, LoginAttempt.login_key, key, since, last_ok or 0)


def _who(user: User | None, login: str) -> tuple[str, dict]:
    if user is not None:
        return str(user.id), {"login": user.login}
    return "-", {"login": mask_login(login), "known": False}


def attempt(session: Session, rules: LockoutRules, *, login: str, password: str, address: str,
            now: datetime) -> LoginResult:
    """Check a login name and password unless the name or the address is locked; count and audit it.

    The caller commits, whatever the outcome: failures must be kept to be counted.
    """
    login = login[:200]
    address = (address or "unknown")[:64]
    key = login_key(login)
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    entity_id, who = _who(user, login)
    retry = max((t for t in (_lock_until(session, ACCOUNT, key, now), _lock_until(session, ADDRESS, address, now))
                 if t is not None), default=None)
    if retry is not None:
        # The right password during a lockout does not log in; it is not even checked.
        audit.record(session, actor=LOGIN_ACTOR, action="user.login_failed", entity="user", entity_id=entity_id,
                     at=now, data={**who, "address": address, "why": "locked", "retry_at": retry.isoformat()})
        return LoginResult(None, retry)
    ok = check_password_or_dummy(user.password_hash if user is not None else None, password)
    if ok and _has_second_factor(session, user.id):
        # Only the second step completes this login: the failure count is not reset by a password
        # alone, or whoever knows it could guess codes for ever.
        audit.record(session, actor=user, action="user.password_accepted", entity="user", entity_id=user.id,
                     at=now, data={"address": address})
        return LoginResult(user)
    session.add(LoginAttempt(at=now, login_key=key, address=address, user_id=user.id if user else None,
                             succeeded=ok))
    session.flush()
    if ok:
        audit.record(session, actor=user, action="user.login", entity="user", entity_id=user.id, at=now,
                     data={"address": address})
        return LoginResult(user)
    audit.record(session, actor=LOGIN_ACTOR, action="user.login_failed", entity="user", entity_id=entity_id,
                 at=now, data={**who, "address": address, "why": "wrong_password"})
    return _count_failure(session, rules, key=key, address=address, entity_id=entity_id, who=who, now=now)


def _has_second_factor(session: Session, user_id: int) -> bool:
    return session.scalar(select(SecondFactor.id).where(SecondFactor.user_id == user_id,
                                                        SecondFactor.confirmed_at.is_not(None))) is not None


def _count_failure(session: Session, rules: LockoutRules, *, key: str, address: str, entity_id, who: dict,
                   now: datetime) -> LoginResult:
    """Lock the login name or the address when this failure (already added) reaches the limits."""
    locks = []
    failures = _account_failures(session, key, rules, now)
    if failures >= rules.max_failures:
        earlier = session.scalar(select(func.count()).select_from(LoginLock).where(
            LoginLock.kind == ACCOUNT, LoginLock.key == key, LoginLock.starts_at > now - rules.memory)) or 0
        length = min(rules.lockout * (2 ** min(earlier, 16)), rules.max_lockout)
        locks.append(LoginLock(kind=ACCOUNT, key=key, starts_at=now, until=now + length, failures=failures))
    from_address = _failures_since(session, LoginAttempt.address, address, now - rules.window)
    if from_address >= rules.address_max_failures:
        locks.append(LoginLock(kind=ADDRESS, key=address, starts_at=now, until=now + rules.window,
                               failures=from_address))
    for lock in locks:
        session.add(lock)
        audit.record(session, actor=LOGIN_ACTOR, action="user.locked", entity="user", entity_id=entity_id, at=now,
                     data={**who, "address": address, "kind": lock.kind, "failures": lock.failures,
                           "until": lock.until.isoformat()})
    if locks:
        return LoginResult(None, max(lock.until for lock in locks))
    return LoginResult(None)


def locked_until(session: Session, user: User, address: str, now: datetime) -> datetime | None:
    """Return until when this user's login name or this address is locked, or None."""
    address = (address or "unknown")[:64]
    return max((t for t in (_lock_until(session, ACCOUNT, login_key(user.login), now),
                            _lock_until(session, ADDRESS, address, now)) if t is not None), default=None)


def second_step(session: Session, rules: LockoutRules, user: User, *, ok: bool, address: str, now: datetime,
                why: str = "wrong_code") -> LoginResult:
    """Count the outcome of a second-factor step like a password attempt: a failure toward the lockout,
    a success as the login's success. The caller has checked `locked_until` first, and commits."""
    address = (address or "unknown")[:64]
    key = login_key(user.login)
    session.add(LoginAttempt(at=now, login_key=key, address=address, user_id=user.id, succeeded=ok))
    session.flush()
    if ok:
        audit.record(session, actor=user, action="user.login", entity="user", entity_id=user.id, at=now,
                     data={"address": address, "second_factor": True})
        return LoginResult(user)
    entity_id, who = _who(user, user.login)
    audit.record(session, actor=LOGIN_ACTOR, action="user.2fa_failed", entity="user", entity_id=entity_id,
                 at=now, data={**who, "address": address, "why": why})
    return _count_failure(session, rules, key=key, address=address, entity_id=entity_id, who=who, now=now)
