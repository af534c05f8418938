"""The administrators' page (用户与令牌): users and their API tokens; deactivate, reset, issue, rotate, revoke.

A token limited to actions (限定操作) is issued with the actions ticked among those of the user's role.

The system administrator deactivates users and resets their password or second factor; the security
administrator issues, rotates and revokes tokens (三权分立). A new secret (a token, a temporary
password) is shown once, on the page that answers the POST, never in a URL.
"""
from __future__ import annotations

import secrets

from flask import redirect, render_template, request, url_for
from sqlalchemy import select

from app.api.users import get_user, user_dict
from app.auth import current_user, page_login_required, password_rules
from app.board import bp
from app.extensions import db, now
from incidents.kernel import labels
from incidents.kernel.errors import InvalidInput
from incidents.models import User
from incidents.people import login_sessions, permissions, tokens, two_factor
from incidents.people.passwords import set_password
from incidents.people.users import deactivate


def _page(shown: dict | None = None, status: int = 200):
    user = current_user()
    permissions.require(user, "list_users")
    moment = now()
    rows = [user_dict(u, moment) for u in db().scalars(select(User).order_by(User.id))]
    may = {action: user.role in permissions.ACTION_ROLES[action]
           for action in ("manage_users", "manage_tokens", "manage_sessions")}
    # The actions each listed user's role has: the checkboxes of a token limited to actions (限定操作).
    role_actions = {u["role"]: [(a, permissions.ACTION_NAMES[a][0]) for a in permissions.role_actions(u["role"])]
                    for u in rows}
    return render_template("admin_users.html", users=rows, shown=shown, may=may, scopes=labels.TOKEN_SCOPE,
                           role_actions=role_actions, me_id=user.id, active="admin"), status


@bp.get("/admin/users")
@page_login_required
def admin_users():
    """List every user and every token with its scope, expiry and last use."""
    return _page()


@bp.post("/admin/users/<int:user_id>/deactivate")
@page_login_required
def admin_deactivate(user_id: int):
    """Deactivate a user (system administrator)."""
    me = current_user()
    permissions.require(me, "manage_users")
    user = get_user(user_id)
    deactivate(db(), user, now=now(), actor=me)
    db().commit()
    return redirect(url_for("board.admin_users"))


def _days(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5):
        raise InvalidInput("bad_days", f"有效天数须为1至{tokens.MAX_DAYS}的整数", "days must be an integer",
                           field="days")
    return int(raw)


@bp.post("/admin/users/<int:user_id>/tokens")
@page_login_required
def admin_create_token(user_id: int):
    """Issue a token to a user (read, write, or limited to the actions ticked) and show its secret once."""
    me = current_user()
    permissions.require(me, "manage_tokens")
    user = get_user(user_id)
    row, secret = tokens.issue(db(), user, name=request.form.get("name", ""), scope=request.form.get("scope", ""),
                               days=_days(request.form.get("days", "")), actions=request.form.getlist("actions"),
                               now=now(), actor=me)
    db().commit()
    return _page({"user": user.name, "name": row.name, "secret": secret, "what": "issued"}, 201)


@bp.post("/admin/tokens/<int:token_id>/rotate")
@page_login_required
def admin_rotate_token(token_id: int):
    """Rotate a token and show its successor's secret once (security administrator)."""
    me = current_user()
    permissions.require(me, "manage_tokens")
    row, secret = tokens.rotate(db(), token_id, now=now(), actor=me)
    db().commit()
    return _page({"user": get_user(row.user_id).name, "name": row.name, "secret": secret, "what": "rotated"})


@bp.post("/admin/tokens/<int:token_id>/revoke")
@page_login_required
def admin_revoke_token(token_id: int):
    """Revoke a token (security administrator)."""
    me = current_user()
    permissions.require(me, "manage_tokens")
    tokens.revoke(db(), token_id, now=now(), actor=me)
    db().commit()
    return redirect(url_for("board.admin_users"))


def temporary_password() -> str:
    """Return a random one-time password that meets the policy (it must be changed at the next login)."""
    return f"Yj-{secrets.token_urlsafe(12)}-{secrets.randbelow(900) + 100}a"


@bp.post("/admin/users/<int:user_id>/reset-password")
@page_login_required
def admin_reset_password(user_id: int):
    """Give a user a temporary password, shown once; every session ends; it is changed at the next login."""
    me = current_user()
    permissions.require(me, "manage_users")
    user = get_user(user_id)
    password = temporary_password()
    set_password(db(), user, password, rules=password_rules(), now=now(), actor=me, must_change=True)
    db().commit()
    return _page({"user": user.name, "name": user.login, "secret": password, "what": "password"})


@bp.post("/admin/users/<int:user_id>/reset-2fa")
@page_login_required
def admin_reset_second_factor(user_id: int):
    """Remove a user's second factor and recovery codes (a lost phone); every session ends."""
    me = current_user()
    permissions.require(me, "manage_users")
    user = get_user(user_id)
    moment = now()
    two_factor.reset(db(), user, now=moment, actor=me)
    login_sessions.end_all(db(), user.id, now=moment, why=login_sessions.TWO_FACTOR_RESET, actor=me)
    db().commit()
    return redirect(url_for("board.admin_users"))
