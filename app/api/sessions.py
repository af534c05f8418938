"""Login sessions and lockouts, for the security administrator (安全管理员, `manage_sessions`) only.

List the live sessions and end one or every one of a user; list the lockouts in force and clear one.
Every change needs a reason and is audited; an ended session's open boards close at their next re-check.
"""
from __future__ import annotations

from flask import jsonify, request

from app.api import bp, parse
from app.auth import api_login_required, current_user, session_rules
from app.extensions import db, now
from incidents.people import login_sessions, logins, permissions
from incidents.people.users import by_id


def _reason() -> str | None:
    return parse.text(parse.body(), "reason", "操作原因")


@bp.get("/sessions")
@api_login_required
def list_sessions():
    """List the live login sessions, newest first; `user_id` for one user's (security administrator)."""
    permissions.require(current_user(), "manage_sessions")
    user_id = parse.arg_id(request.args, "user_id", "用户编号")
    rules = session_rules()
    rows = login_sessions.live(db(), rules, now=now(), user_id=user_id)
    return jsonify({"sessions": [login_sessions.as_dict(row, user, rules) for row, user in rows]})


@bp.post("/sessions/<int:session_id>/end")
@api_login_required
def end_session(session_id: int):
    """End one live login session now, with a reason (security administrator)."""
    me = current_user()
    permissions.require(me, "manage_sessions")
    rules = session_rules()
    row, user = login_sessions.end_one(db(), session_id, rules, reason=_reason(), now=now(), actor=me)
    db().commit()
    return jsonify({"session": login_sessions.as_dict(row, user, rules)})


@bp.post("/users/<int:user_id>/sessions/end")
@api_login_required
def end_user_sessions(user_id: int):
    """End every live login session of a user now, with a reason (security administrator)."""
    me = current_user()
    permissions.require(me, "manage_sessions")
    reason = _reason()
    user = by_id(db(), user_id)
    ended = login_sessions.end_of_user(db(), user, session_rules(), reason=reason, now=now(), actor=me)
    db().commit()
    return jsonify({"user_id": user.id, "ended": len(ended), "session_ids": ended})


@bp.get("/lockouts")
@api_login_required
def list_lockouts():
    """List the lockouts in force, per login name and per client address (security administrator)."""
    permissions.require(current_user(), "manage_sessions")
    return jsonify({"lockouts": logins.current(db(), now=now())})


@bp.post("/lockouts/<int:lock_id>/clear")
@api_login_required
def clear_lockout(lock_id: int):
    """Lift a lockout now, with a reason; its record stays, marked cleared (security administrator)."""
    me = current_user()
    permissions.require(me, "manage_sessions")
    cleared = logins.clear(db(), lock_id, reason=_reason(), now=now(), actor=me)
    db().commit()
    return jsonify({"lockout": cleared})
