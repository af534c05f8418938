"""Users: creation, API tokens and passwords (scrypt, from the standard library)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.people import tokens
from incidents.people.login_sessions import deactivate as end_sessions_and_deactivate
from incidents.people.tokens import hash_token  # noqa: F401 - kept where callers found it
from incidents.records import audit
from incidents.kernel.errors import Forbidden, InvalidInput, NotFound
from incidents.kernel.masking import mask_phone
from incidents.models import PasswordHistory, User
from incidents.plan import Plan
from incidents.kernel.roles import DEPARTMENT_HEAD, DEPARTMENT_ROLES, OFFICE, ROLES, STATION

PHONE = re.compile(r"^\+\d{8,15}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    """Tell whether a password matches its stored hash."""
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# Checked when a login name is unknown or has no password, so that it costs one scrypt like a known one
# and the answer's timing does not tell which names exist. Same cost parameters as real hashes.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_or_dummy(stored: str | None, password: str) -> bool:
    """Check a password against its hash, or against a dummy hash of the same cost when there is none."""
    if stored:
        return check_password(stored, password)
    check_password(_DUMMY_HASH, password)
    return False


def create_user(session: Session, plan: Plan, *, name: str, role: str, now: datetime, actor,
                login: str | None = None, unit: str | None = None, phone: str | None = None,
                password: str | None = None, password_check=None,
                must_change_password: bool = False, token: bool = True) -> tuple[User, str | None]:
    """Create a user and return it with its API token (shown once, stored hashed), or None with `token=False`.

    The first token is named "default", write-scoped and without expiry; browser-only users need none.

    `password_check(password, login=, name=)` refuses a weak password (the policy of
    incidents.people.passwords); the demo loader and test fixtures create users without it.
    `must_change_password`: an administrator chose it, so the user picks their own at first login.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("missing_field", "缺少姓名", "name is required", field="name")
    if role not in ROLES:
        raise InvalidInput("unknown_role", f"未知角色“{role}”，可选：{'、'.join(ROLES)}",
                           f"unknown role '{role}'; one of {', '.join(ROLES)}", field="role")
    if role in DEPARTMENT_ROLES and (not unit or unit not in {d.code for d in plan.departments}):
        raise InvalidInput("unknown_department", "值班员须指定预案中的科室代码(--department)",
                           "a duty officer needs a department code of the plan (--department)", field="department")
    if role == STATION and (not unit or unit not in {s.code for s in plan.stations}):
        raise InvalidInput("unknown_station", "市场监督管理所用户须指定预案中的所代码(--department)",
                           "a station user needs a station code of the plan (--department)", field="department")
    if unit and not plan.has_unit(unit):
        raise InvalidInput("unknown_department", f"预案中没有科室或所“{unit}”", f"no unit '{unit}' in the plan",
                           field="department")
    if phone and not PHONE.match(phone):
        raise InvalidInput("bad_phone", "电话号码须为国际格式，如 +8613800000000",
                           "phone must be in international format, e.g. +8613800000000", field="phone")
    login = (login or name).strip()
    if password and password_check is not None:
        password_check(password, login=login, name=name)
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise InvalidInput("duplicate_login", f"登录名“{login}”已存在", f"login '{login}' already exists",
                           field="login")
    user = User(name=name, login=login, role=role, unit=unit, phone=phone,
                password_hash=hash_password(password) if password else None,
                active=True, created_at=now,
                password_changed_at=now if password else None,
                must_change_password=bool(password) and must_change_password)
    session.add(user)
    session.flush()
    if user.password_hash:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=now))
    secret, token_id = None, None
    if token:
        row, secret = tokens.issue(session, user, name="default", scope=tokens.WRITE, now=now, actor=actor,
                                   audited=False)
        token_id = row.id
    audit.record(session, actor=actor, action="user.created", entity="user", entity_id=user.id, at=now,
                 data={"login": login, "role": role, "unit": unit, "phone": bool(phone),
                       "must_change_password": user.must_change_password, "token_id": token_id})
    return user, secret


def user_by_password(session: Session, login: str, password: str) -> User | None:
    """Return the active user if the login and password match; an unknown name costs one scrypt too."""
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    ok = check_password_or_dummy(user.password_hash if user is not None else None, password)
    return user if ok else None


def by_id(session: Session, user_id: int) -> User:
    """Return the user of an id, or raise NotFound."""
    user = session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound("not_found", f"用户 {user_id} 不存在", f"user {user_id} not found")
    return user


_NAMED = "yingji_named_users"


def name_of(session: Session, user_id: int | None) -> str | None:
    """Return a user's name by id (None for no user, the system)."""
    user = session.get(User, user_id) if user_id else None
    if user is not None:
        # The session's identity map holds rows weakly: keep each user for the session, so that a list
        # naming the same people on every row asks the database once per person, not once per row.
        session.info.setdefault(_NAMED, {})[user_id] = user
    return user.name if user else None


def by_login(session: Session, login: str) -> User:
    """Return the user of a login name, or raise NotFound."""
    user = session.scalar(select(User).where(User.login == (login or "").strip()))
    if user is None:
        raise NotFound("not_found", f"没有登录名为“{login}”的用户", f"no user with login '{login}'")
    return user


def deactivate(session: Session, user: User, *, now: datetime, actor) -> None:
    """Deactivate a user: every login session ends and every API token is revoked (open boards then close)."""
    if getattr(actor, "id", None) == user.id and isinstance(actor, User):
        raise InvalidInput("self", "不能停用自己的账号", "you may not deactivate yourself")
    if not user.active:
        return
    tokens.revoke_all(session, user.id, now=now, actor=actor)
    end_sessions_and_deactivate(session, user, now=now, actor=actor)


def may_change_phone(actor, user: User) -> bool:
    """Tell whether someone may change this user's alert phone: the office, or the head of the user's own unit."""
    role, unit = getattr(actor, "role", None), getattr(actor, "unit", None)
    return role == OFFICE or (role == DEPARTMENT_HEAD and bool(unit) and unit == user.unit)


def phone_people(session: Session, actor) -> list[User]:
    """Return the active users whose alert phone someone may change: everyone for the office, the unit's for its head."""
    role, unit = getattr(actor, "role", None), getattr(actor, "unit", None)
    stmt = select(User).where(User.active.is_(True)).order_by(User.id)
    if role == DEPARTMENT_HEAD and unit:
        stmt = stmt.where(User.unit == unit)
    elif role != OFFICE:
        return []
    return list(session.scalars(stmt))


def change_phone(session: Session, user: User, phone: str | None, *, now: datetime, actor) -> str | None:
    """Set a user's alert phone and return the old one, which the caller tells by SMS.

    Only the office, or the head (科室负责人) of the user's own unit, may: alerts go to this number,
    and pointing it elsewhere would silence the person. The change is audited with both numbers masked.
    """
    if not may_change_phone(actor, user):
        raise Forbidden("forbidden", "只有应急办公室或本单位科室负责人可以修改告警电话",
                        "only the office or the head of the user's own unit may change an alert phone")
    phone = (phone or "").strip() or None
    if phone and not PHONE.match(phone):
        raise InvalidInput("bad_phone", "电话号码须为国际格式，如 +8613800000000",
                           "phone must be in international format, e.g. +8613800000000", field="phone")
    old = user.phone
    if old == phone:
        return None
    user.phone = phone
    audit.record(session, actor=actor, action="user.phone_changed", entity="user", entity_id=user.id, at=now,
                 data={"old": mask_phone(old) if old else None, "new": mask_phone(phone) if phone else None})
    return old
