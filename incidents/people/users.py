"""Users: creation, API tokens and passwords (scrypt, from the standard library)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.records import audit
from incidents.kernel.errors import InvalidInput
from incidents.models import PasswordHistory, User
from incidents.plan import Plan
from incidents.kernel.roles import DEPARTMENT_ROLES, ROLES, STATION

PHONE = re.compile(r"^\+\d{8,15}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
                must_change_password: bool = False) -> tuple[User, str]:
    """Create a user and return it with its API token (shown once, stored hashed).

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
    token = "yj_" + secrets.token_urlsafe(32)
    user = User(name=name, login=login, role=role, unit=unit, phone=phone,
                password_hash=hash_password(password) if password else None,
                token_hash=hash_token(token), active=True, created_at=now,
                password_changed_at=now if password else None,
                must_change_password=bool(password) and must_change_password)
    session.add(user)
    session.flush()
    if user.password_hash:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=now))
    audit.record(session, actor=actor, action="user.created", entity="user", entity_id=user.id, at=now,
                 data={"login": login, "role": role, "unit": unit, "phone": bool(phone),
                       "must_change_password": user.must_change_password})
    return user, token


def user_by_token(session: Session, token: str) -> User | None:
    """Return the active user holding this API token."""
    if not token:
        return None
    return session.scalar(select(User).where(User.token_hash == hash_token(token), User.active.is_(True)))


def user_by_password(session: Session, login: str, password: str) -> User | None:
    """Return the active user if the login and password match; an unknown name costs one scrypt too."""
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    ok = check_password_or_dummy(user.password_hash if user is not None else None, password)
    return user if ok else None
