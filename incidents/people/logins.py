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

from incidents.kernel import labels
from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.batches import delete_batch
from incidents.kernel.errors import Conflict, NotFound
from incidents.kernel.masking import mask_login
from incidents.models import LoginAttempt, LoginLock, SecondFactor, User
from incidents.people.login_sessions import reason_text
from incidents.people.users import check_password_or_dummy
from incidents.records import audit
from incidents.records.snapshots import iso

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
                                                                 LoginLock.until > now,
                                                                 LoginLock.cleared_at.is_(None)))


def _failures_since(session: Session, column, value: str, since: datetime, after_id: int = 0) -> int:
    return session.scalar(select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since,
        LoginAttempt.id > after_id)) or 0


def _account_failures(session: Session, key: str, rules: LockoutRules, now: datetime) -> int:
    since = now - rules.window
    # Counting restarts after a lockout, when a lockout is cleared, and after a success (by id: both
    # may share one instant).
    last_lock, last_clear = session.execute(select(func.max(LoginLock.starts_at), func.max(LoginLock.cleared_at))
                                            .where(LoginLock.kind == ACCOUNT, LoginLock.key == key)).one()
    since = max((t for t in (since, last_lock, last_clear) if t is not None))
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
    # An address's count restarts when a security administrator clears its lockout, not otherwise.
    cleared = session.scalar(select(func.max(LoginLock.cleared_at)).where(LoginLock.kind == ADDRESS,
                                                                         LoginLock.key == address))
    since = max(now - rules.window, cleared) if cleared is not None else now - rules.window
    from_address = _failures_since(session, LoginAttempt.address, address, since)
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


# --- the security administrator's view (manage_sessions) ----------------------------------------------


def _users_by_key(session: Session, keys: set[str]) -> dict[str, User]:
    # The stored key is a hash of the name as typed: a locked name is shown only when it is a user's login.
    if not keys:
        return {}
    return {k: u for u in session.scalars(select(User)) if (k := login_key(u.login)) in keys}


def _lock_dict(row: LoginLock, user: User | None) -> dict:
    account = row.kind == ACCOUNT
    return {"id": row.id, "kind": row.kind, "kind_name": labels.LOCK_KIND[row.kind],
            "known": user is not None, "user_id": user.id if user else None, "login": user.login if user else None,
            "name": user.name if user else None, "address": None if account else row.key,
            "starts_at": iso(row.starts_at), "until": iso(row.until), "failures": row.failures,
            "cleared_at": iso(row.cleared_at), "cleared_by": row.cleared_by, "cleared_reason": row.cleared_reason}


def _live(kind: str | None = None, key: str | None = None, *, now: datetime):
    query = select(LoginLock).where(LoginLock.until > now, LoginLock.cleared_at.is_(None))
    if kind is not None:
        query = query.where(LoginLock.kind == kind, LoginLock.key == key)
    return query


def current(session: Session, *, now: datetime) -> list[dict]:
    """Return the lockouts in force, one per login name or address (the one that lasts longest), latest end first.

    A locked name that is a user's login shows that login; any other shows only that an unknown name
    is locked (`known` false): the stored key is never shown, nor the name as typed.
    """
    found: dict[tuple[str, str], LoginLock] = {}
    for row in session.scalars(_live(now=now).order_by(LoginLock.until.desc(), LoginLock.id.desc())):
        found.setdefault((row.kind, row.key), row)
    users = _users_by_key(session, {key for kind, key in found if kind == ACCOUNT})
    return [_lock_dict(row, users.get(row.key) if row.kind == ACCOUNT else None) for row in found.values()]


def _clear(session: Session, kind: str, key: str, *, reason: str | None, now: datetime, actor,
           missing: NotFound) -> dict:
    why = reason_text(reason)
    rows = list(session.scalars(_live(kind, key, now=now).order_by(LoginLock.until.desc(), LoginLock.id.desc())
                                .with_for_update()))
    if not rows:
        raise missing
    user = _users_by_key(session, {key}).get(key) if kind == ACCOUNT else None
    for row in rows:
        row.cleared_at, row.cleared_by_id, row.cleared_reason = now, actor_id(actor), why
        row.cleared_by = f"{actor.role}:{actor.name}"[:120]
    if kind == ADDRESS:
        who = {"address": key}
    else:
        who = {"login": user.login} if user is not None else {"known": False}
    audit.record(session, actor=actor, action="user.unlocked", entity="user", entity_id=user.id if user else "-",
                 at=now, data={"kind": kind, **who, "lock_ids": sorted(r.id for r in rows),
                               "until": iso(rows[0].until), "failures": rows[0].failures, "reason": why})
    return _lock_dict(rows[0], user)


def clear(session: Session, lock_id: int, *, reason: str | None, now: datetime, actor) -> dict:
    """Lift a lockout now, with every other lockout in force of the same name or address; return it as cleared.

    The rows stay, marked with who cleared them, when and why (the lockout history is evidence), and
    the failure count of that name or address restarts. A cleared lockout still counts toward the
    doubling of the next one. The caller has checked `manage_sessions` and commits.
    """
    row = session.get(LoginLock, lock_id) if isinstance(lock_id, int) and 0 < lock_id < 2**31 else None
    if row is None:
        raise NotFound("not_found", f"锁定记录 {lock_id} 不存在", f"lockout {lock_id} not found")
    return _clear(session, row.kind, row.key, reason=reason, now=now, actor=actor,
                  missing=Conflict("lock_not_live", "该锁定已到期或已解除，无需再解除",
                                   "this lockout has already ended or been cleared"))


def clear_login(session: Session, login: str, *, reason: str | None, now: datetime, actor) -> dict:
    """Lift the lockout of a login name (as typed; it need not be a user's), like `clear`."""
    return _clear(session, ACCOUNT, login_key(login[:200]), reason=reason, now=now, actor=actor,
                  missing=NotFound("not_locked", f"登录名“{login}”当前未被锁定", f"login '{login}' is not locked"))


def clear_address(session: Session, address: str, *, reason: str | None, now: datetime, actor) -> dict:
    """Lift the lockout of a client address, like `clear`."""
    address = (address or "").strip()[:64]
    return _clear(session, ADDRESS, address, reason=reason, now=now, actor=actor,
                  missing=NotFound("not_locked", f"地址“{address}”当前未被锁定", f"address '{address}' is not locked"))


def attempts_cutoff(rules: LockoutRules, keep: timedelta, now: datetime) -> datetime:
    """Return before when login attempts may go: `keep` ago, never within what the lockout still reads.

    The lockout counts failures within `rules.window` and lockouts within `rules.memory`; the latest
    success it reads only matters within the window too.
    """
    return now - max(keep, rules.window, rules.memory)


def purge_attempts(session: Session, rules: LockoutRules, *, keep: timedelta, now: datetime, batch: int) -> int:
    """Delete at most `batch` login attempts older than `attempts_cutoff`; return how many (the caller commits).

    Lockouts (login_locks) are never purged: they are the history of who was locked and who cleared it.
    """
    return delete_batch(session, LoginAttempt, LoginAttempt.at < attempts_cutoff(rules, keep, now), batch=batch)
