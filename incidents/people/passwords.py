"""The password policy: length and character classes, no reuse of recent passwords, expiry, forced change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.errors import InvalidInput
from incidents.models import PasswordHistory, User
from incidents.people import login_sessions
from incidents.people.users import check_password, hash_password
from incidents.records import audit

FIRST_LOGIN = "first_login"
EXPIRED = "expired"


@dataclass(frozen=True)
class PasswordRules:
    """What a password must be (GB/T 22239-2019 身份鉴别: complexity and periodic change)."""

    min_length: int = 12
    min_classes: int = 3  # of lower case, upper case, digits, other characters
    history: int = 5  # the last N passwords may not be chosen again
    max_age_days: int = 90  # 0: never expires


def classes_of(password: str) -> int:
    """Count the character classes a password uses: lower case, upper case, digits, other."""
    return sum((
        any(c.islower() and c.isascii() for c in password),
        any(c.isupper() and c.isascii() for c in password),
        any(c.isdigit() and c.isascii() for c in password),
        any(not (c.isascii() and c.isalnum()) for c in password),
    ))


def check_strength(password: str, rules: PasswordRules, *, login: str | None = None,
                   name: str | None = None) -> None:
    """Refuse a password that is too short, too plain, or contains the login name."""
    if len(password) < rules.min_length:
        raise InvalidInput("weak_password", f"密码至少需要{rules.min_length}个字符",
                           f"the password needs at least {rules.min_length} characters", field="password")
    if classes_of(password) < rules.min_classes:
        raise InvalidInput("weak_password",
                           f"密码须包含小写字母、大写字母、数字、其他字符中的至少{rules.min_classes}类",
                           f"the password needs at least {rules.min_classes} of: lower case, upper case, "
                           "digits, other characters", field="password")
    lowered = password.lower()
    for word in (login, name):
        if word and len(word) >= 3 and word.lower() in lowered:
            raise InvalidInput("weak_password", "密码不能包含登录名或姓名",
                               "the password may not contain the login name or the name", field="password")


def strength_check(rules: PasswordRules):
    """Return the policy as a check that create_user can call."""
    return lambda password, *, login=None, name=None: check_strength(password, rules, login=login, name=name)


def _recent_hashes(session: Session, user: User, count: int) -> list[str]:
    rows = session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
                           .order_by(PasswordHistory.set_at.desc(), PasswordHistory.id.desc()).limit(count))
    hashes = list(rows)
    if user.password_hash and user.password_hash not in hashes:
        hashes.insert(0, user.password_hash)  # a user older than the history table
    return hashes[:max(count, 1)]


def set_password(session: Session, user: User, password: str, *, rules: PasswordRules, now: datetime, actor,
                 must_change: bool = False) -> None:
    """Set a user's password under the policy, end every session of the user, and audit it.

    `must_change`: an administrator chose it (reset), so the user picks their own at the next login.
    """
    check_strength(password, rules, login=user.login, name=user.name)
    if any(check_password(old, password) for old in _recent_hashes(session, user, rules.history)):
        raise InvalidInput("password_reused", f"不能使用最近{rules.history}次用过的密码",
                           f"the password may not be one of the last {rules.history}", field="password")
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.must_change_password = must_change
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=now))
    ended = login_sessions.end_all(session, user.id, now=now, why=login_sessions.PASSWORD_CHANGED, actor=actor)
    by_self = getattr(actor, "id", None) == user.id
    audit.record(session, actor=actor, action="user.password_changed" if by_self else "user.password_reset",
                 entity="user", entity_id=user.id, at=now,
                 data={"must_change": must_change, "sessions_ended": ended})


def change_own_password(session: Session, user: User, *, current: str, new: str, rules: PasswordRules,
                        now: datetime) -> None:
    """Change one's own password after proving the current one."""
    if not check_password(user.password_hash, current):
        raise InvalidInput("wrong_password", "当前密码不正确", "the current password is wrong", field="current")
    set_password(session, user, new, rules=rules, now=now, actor=user)


def change_due(user: User, rules: PasswordRules, now: datetime) -> str | None:
    """Tell why the user must change their password before going on: first login, expired, or None."""
    if not user.password_hash:
        return None
    if user.must_change_password:
        return FIRST_LOGIN
    changed = user.password_changed_at or user.created_at
    if rules.max_age_days > 0 and changed is not None and now >= changed + timedelta(days=rules.max_age_days):
        return EXPIRED
    return None
