"""API tokens: several per user, stored hashed, scoped, expiring, revocable, last use kept.

Three scopes: `read` (GET only), `write` (everything the user's role may do), and `actions`
(限定操作: GET, and writes only through the permission checks of the action codes named on the
token, each one the user's role has; permissions.require enforces them). The secret is shown
once, when a token is issued or rotated; only its SHA-256 is stored.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.kernel.errors import InvalidInput, NotFound
from incidents.models import ApiToken, User
from incidents.people.permissions import ACTION_NAMES, ACTION_ROLES, role_actions
from incidents.records import audit
from incidents.records.snapshots import iso

READ = "read"
WRITE = "write"
ACTIONS = "actions"
SCOPES = (READ, WRITE, ACTIONS)
PREFIX = "yj_"
MAX_NAME = 80
MAX_DAYS = 3660
# Last use is written at most this often: a busy client does not write on every call.
TOUCH_EVERY = timedelta(minutes=1)
# Why a presented token was refused, for the 401 message.
UNKNOWN, EXPIRED, REVOKED, INACTIVE = "unknown", "expired", "revoked", "inactive"


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    """Return a fresh random token (yj_ and 43 URL-safe characters)."""
    return PREFIX + secrets.token_urlsafe(32)


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput("bad_scope", f"令牌权限须为：{'、'.join(labels.TOKEN_SCOPE[s] for s in SCOPES)}",
                           f"scope must be one of {', '.join(SCOPES)}", field="scope")
    return scope


def _actions(user: User, scope: str, actions) -> list[str] | None:
    """Check the actions of a token: a non-empty list of codes the user's role has, for `actions` only."""
    if scope != ACTIONS:
        if actions:
            raise InvalidInput("actions_need_scope", "只有“限定操作”令牌可以指定操作",
                               "actions are given only with scope actions", field="actions")
        return None
    if not isinstance(actions, (list, tuple)) or not actions:
        raise InvalidInput("missing_actions", "限定操作令牌须至少指定一项操作",
                           "an actions-scoped token needs a non-empty list of action codes", field="actions")
    if len(actions) > len(ACTION_ROLES) or not all(isinstance(a, str) for a in actions):
        raise InvalidInput("bad_actions", "操作须为操作代码的列表", "actions must be a list of action codes",
                           field="actions")
    unknown = [a for a in actions if a not in ACTION_ROLES]
    if unknown:
        shown = "、".join(a[:40] for a in unknown[:5])
        raise InvalidInput("unknown_action", f"未知操作：{shown}", f"unknown action codes: {', '.join(a[:40] for a in unknown[:5])}",
                           field="actions")
    mine = role_actions(user.role)
    foreign = [a for a in actions if a not in mine]
    if foreign:
        raise InvalidInput("action_not_in_role",
                           f"{user.name}的角色不能执行：{'、'.join(ACTION_NAMES[a][0] for a in foreign)}",
                           f"{user.name}'s role ({user.role}) may not: {', '.join(foreign)}", field="actions")
    return [a for a in mine if a in actions]  # once each, in the order of ACTION_ROLES


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("missing_field", "缺少令牌名称", "name is required", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput("too_long", f"令牌名称过长（最多{MAX_NAME}字）", f"name is longer than {MAX_NAME}",
                           field="name")
    return name


def _expiry(now: datetime, days: int | None) -> datetime | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("bad_days", f"有效天数须为1至{MAX_DAYS}的整数", f"days must be an integer 1..{MAX_DAYS}",
                           field="days")
    return now + timedelta(days=days)


def issue(session: Session, user: User, *, name: str, scope: str, now: datetime, actor,
          days: int | None = None, actions: list[str] | None = None, audited: bool = True) -> tuple[ApiToken, str]:
    """Give a user a new token and return it with its secret (shown once); `days` None: it never expires.

    Scope `actions` needs `actions`: action codes of permissions.ACTION_ROLES that the user's role has.
    `audited=False`: the caller's own entry names the token (a user's first token, in `user.created`).
    """
    name, scope = _name(name), _scope(scope)
    row = ApiToken(user_id=user.id, name=name, scope=scope, actions=_actions(user, scope, actions), token_hash="",
                   created_at=now, expires_at=_expiry(now, days))
    secret = new_secret()
    row.token_hash = hash_token(secret)
    session.add(row)
    session.flush()
    if audited:
        audit.record(session, actor=actor, action="token.issued", entity="user", entity_id=user.id, at=now,
                     data={"token_id": row.id, "name": row.name, "scope": row.scope,
                           "expires_at": iso(row.expires_at),
                           **({"actions": list(row.actions)} if row.actions is not None else {})})
    return row, secret


def get(session: Session, token_id: int) -> ApiToken:
    """Return a token by its id, or raise NotFound."""
    row = session.get(ApiToken, token_id) if isinstance(token_id, int) and 0 < token_id < 2**31 else None
    if row is None:
        raise NotFound("not_found", f"令牌 {token_id} 不存在", f"token {token_id} not found")
    return row


def revoke(session: Session, token_id: int, *, now: datetime, actor) -> ApiToken:
    """Revoke a token at once (a second revocation changes nothing)."""
    row = get(session, token_id)
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor=actor, action="token.revoked", entity="user", entity_id=row.user_id, at=now,
                     data={"token_id": row.id, "name": row.name})
    return row


def rotate(session: Session, token_id: int, *, now: datetime, actor) -> tuple[ApiToken, str]:
    """Revoke a token and issue its successor: same user, name, scope and actions, and as long a lifetime."""
    old = get(session, token_id)
    user = session.get(User, old.user_id)
    if old.revoked_at is None:
        old.revoked_at = now
    days = None
    if old.expires_at is not None:
        days = max(1, min(MAX_DAYS, round((old.expires_at - old.created_at) / timedelta(days=1))))
    row, secret = issue(session, user, name=old.name, scope=old.scope, now=now, actor=actor, days=days,
                        actions=list(old.actions) if old.actions is not None else None)
    audit.record(session, actor=actor, action="token.rotated", entity="user", entity_id=user.id, at=now,
                 data={"token_id": old.id, "new_token_id": row.id})
    return row, secret


def revoke_all(session: Session, user_id: int, *, now: datetime, actor) -> int:
    """Revoke every live token of a user (deactivation); return how many."""
    rows = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))))
    for row in rows:
        row.revoked_at = now
    if rows:
        audit.record(session, actor=actor, action="token.revoked", entity="user", entity_id=user_id, at=now,
                     data={"token_ids": [r.id for r in rows]})
    return len(rows)


def of_user(session: Session, user_id: int) -> list[ApiToken]:
    """Return every token of a user, newest first (revoked and expired ones too)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def state(row: ApiToken, now: datetime) -> str:
    """Tell whether a token is live, expired or revoked."""
    if row.revoked_at is not None:
        return REVOKED
    if row.expires_at is not None and row.expires_at <= now:
        return EXPIRED
    return "live"


def as_dict(row: ApiToken, now: datetime) -> dict:
    """Return a token as the API and the admin page list it (never its secret or hash)."""
    status = state(row, now)
    actions = list(row.actions) if row.actions is not None else None
    return {"id": row.id, "user_id": row.user_id, "name": row.name, "scope": row.scope,
            "scope_name": labels.TOKEN_SCOPE[row.scope], "actions": actions,
            "action_names": [ACTION_NAMES[a][0] if a in ACTION_NAMES else a for a in actions]
            if actions is not None else None, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "last_used_at": iso(row.last_used_at),
            "revoked_at": iso(row.revoked_at), "status": status, "status_name": labels.TOKEN_STATUS[status]}


@dataclass(frozen=True)
class Presented:
    """What a presented bearer token turned out to be: the user and token, or why it was refused."""

    user: User | None
    token: ApiToken | None
    refused: str | None = None


def authenticate(session: Session, secret: str, *, now: datetime, touch: bool = True) -> Presented:
    """Find the token and its active user; refuse an unknown, expired or revoked one, or an inactive user.

    Last use is set on the row at most once per TOUCH_EVERY (the caller commits it with its request).
    """
    if not secret or len(secret) > 200:
        return Presented(None, None, UNKNOWN)
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == hash_token(secret))).first()
    if found is None:
        return Presented(None, None, UNKNOWN)
    row, user = found
    status = state(row, now)
    if status != "live":
        return Presented(None, row, status)
    if not user.active:
        return Presented(None, row, INACTIVE)
    if touch and (row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY):
        row.last_used_at = now
    return Presented(user, row)


def live_users(session: Session, secrets_: set[str], *, now: datetime) -> set[str]:
    """Return which of these secrets are still live tokens of active users; nothing is written (open boards)."""
    if not secrets_:
        return set()
    by_hash = {hash_token(s): s for s in secrets_}
    rows = session.execute(select(ApiToken.token_hash, ApiToken.expires_at, User.active)
                           .join(User, User.id == ApiToken.user_id)
                           .where(ApiToken.token_hash.in_(list(by_hash)), ApiToken.revoked_at.is_(None)))
    return {by_hash[h] for h, expires_at, active in rows if active and (expires_at is None or expires_at > now)}
