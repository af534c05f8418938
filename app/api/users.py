"""Users and their API tokens (the administrators' API), and a user's alert phone (the office, the unit's head)."""
from __future__ import annotations

import logging

from flask import current_app, jsonify
from sqlalchemy import select

from app.api import bp, parse
from app.auth import api_login_required, current_user, token_actions
from app.extensions import db, now
from incidents.kernel.errors import InvalidInput, NotFound
from incidents.kernel.masking import mask_phone
from incidents.kernel.roles import ROLES
from incidents.models import User
from incidents.people import permissions, tokens
from incidents.people.users import change_phone, deactivate
from incidents.records import audit
from notifiers.base import Message
from notifiers.registry import settings_from, sms_sender

log = logging.getLogger("yingji.admin")


def user_dict(user: User, moment) -> dict:
    """Return a user as the administrators see it, with every token (never a secret or hash)."""
    return {"id": user.id, "name": user.name, "login": user.login, "role": user.role,
            "role_name": ROLES.get(user.role, user.role), "unit": user.unit, "active": user.active,
            "phone_masked": mask_phone(user.phone) if user.phone else None,
            "tokens": [tokens.as_dict(t, moment) for t in tokens.of_user(db(), user.id)]}


def get_user(user_id: int) -> User:
    """Return a user by id, or raise NotFound."""
    user = db().get(User, user_id)
    if user is None:
        raise NotFound("not_found", f"用户 {user_id} 不存在", f"user {user_id} not found")
    return user


def tell_old_phone(old: str, user: User) -> bool:
    """Text the old alert phone that alerts now go elsewhere (through the configured sender); True if sent.

    A person whose number was pointed elsewhere learns it at once, from the number that loses the alerts.
    """
    text = (f"【应急指挥】{user.name}的告警电话已改为其他号码，"
            "本号码不再接收告警。如非本人知悉，请立即联系应急办公室。")
    try:
        result = sms_sender(settings_from(current_app.config)).send(
            Message(to=old, text=text, reference=f"phone-change:{user.id}"))
        return bool(result.ok)
    except Exception:  # noqa: BLE001 - the change stands; the failure is audited with it
        log.exception("could not text the old alert phone %s", mask_phone(old))
        return False


def set_phone(user: User, phone: str | None) -> dict:
    """Change a user's alert phone as the caller, commit, then text the old number; return what happened."""
    actor = current_user()
    before = user.phone
    old = change_phone(db(), user, phone, now=now(), actor=actor)
    changed = user.phone != before
    db().commit()  # the change is stored before any SMS leaves
    told = False
    if old:
        told = tell_old_phone(old, user)
        audit.record(db(), actor=actor, action="user.phone_change_notified", entity="user", entity_id=user.id,
                     at=now(), data={"to": mask_phone(old), "sent": told})
        db().commit()
    return {"id": user.id, "phone_masked": mask_phone(user.phone) if user.phone else None,
            "changed": changed, "old_phone_told": told}


@bp.get("/users")
@api_login_required
def list_users():
    """List every user with their tokens (system and security administrators)."""
    permissions.require(current_user(), "list_users")
    moment = now()
    return jsonify({"users": [user_dict(u, moment) for u in db().scalars(select(User).order_by(User.id))]})


@bp.post("/users/<int:user_id>/deactivate")
@api_login_required
@token_actions("manage_users")
def deactivate_user(user_id: int):
    """Deactivate a user: sessions end, tokens are revoked, open boards close (system administrator)."""
    me = current_user()
    permissions.require(me, "manage_users")
    user = get_user(user_id)
    deactivate(db(), user, now=now(), actor=me)
    db().commit()
    return jsonify(user_dict(user, now()))


@bp.post("/users/<int:user_id>/tokens")
@api_login_required
@token_actions("manage_tokens")
def create_token(user_id: int):
    """Give a user a new API token (read, write, or limited to actions); the secret is in this answer only."""
    permissions.require(current_user(), "manage_tokens")
    data = parse.body()
    user = get_user(user_id)
    days = data.get("days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
        raise InvalidInput("bad_days", "有效天数须为整数", "days must be an integer", field="days")
    actions = data.get("actions")
    if actions is not None and not isinstance(actions, list):
        raise InvalidInput("bad_actions", "操作须为操作代码的列表", "actions must be a list of action codes",
                           field="actions")
    # Actions given without a scope make an `actions` token; nothing given, a read token.
    scope = parse.text(data, "scope", "令牌权限") or (tokens.ACTIONS if actions else tokens.READ)
    row, secret = tokens.issue(db(), user, name=parse.text(data, "name", "令牌名称", required_=True) or "",
                               scope=scope, days=days, actions=actions, now=now(), actor=current_user())
    db().commit()
    return jsonify({"token": tokens.as_dict(row, now()), "secret": secret}), 201


@bp.post("/tokens/<int:token_id>/rotate")
@api_login_required
@token_actions("manage_tokens")
def rotate_token(token_id: int):
    """Revoke a token and issue its successor; the new secret is in this answer only (security administrator)."""
    permissions.require(current_user(), "manage_tokens")
    row, secret = tokens.rotate(db(), token_id, now=now(), actor=current_user())
    db().commit()
    return jsonify({"token": tokens.as_dict(row, now()), "secret": secret, "replaces": token_id})


@bp.post("/tokens/<int:token_id>/revoke")
@api_login_required
@token_actions("manage_tokens")
def revoke_token(token_id: int):
    """Revoke a token at once (security administrator)."""
    permissions.require(current_user(), "manage_tokens")
    row = tokens.revoke(db(), token_id, now=now(), actor=current_user())
    db().commit()
    return jsonify({"token": tokens.as_dict(row, now())})


@bp.post("/users/<int:user_id>/phone")
@api_login_required
@token_actions("change_phone")
def change_user_phone(user_id: int):
    """Change a user's alert phone (the office, or the head of the user's unit); the old number is texted."""
    me = current_user()
    permissions.require(me, "change_phone")
    data = parse.body()
    if "phone" not in data:
        raise InvalidInput("missing_field", "缺少告警电话", "phone is required", field="phone")
    user = get_user(user_id)
    if not user.active:
        raise NotFound("not_found", f"用户 {user_id} 不存在", f"user {user_id} not found")
    return jsonify(set_phone(user, parse.text(data, "phone", "告警电话")))
