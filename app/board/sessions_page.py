"""The security administrator's page (会话与锁定): live login sessions and lockouts; end a session, every
session of a user, or lift a lockout, each with a reason that goes into the audit trail.

Only `manage_sessions` (安全管理员) opens it; anyone else gets 403. The forms carry the session's CSRF
token like every other form; a refused one (no reason, a session already ended) shows the page again
with the reason why.
"""
from __future__ import annotations

from flask import render_template, request, session
from sqlalchemy import select

from app.api import parse
from app.auth import current_user, page_login_required, session_rules
from app.board import bp
from app.extensions import db, now
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.models import User
from incidents.people import login_sessions, logins, permissions
from incidents.people.users import by_id


def _page(done: str | None = None, error: str | None = None, status: int = 200):
    me = current_user()
    permissions.require(me, "manage_sessions")
    rules, moment = session_rules(), now()
    try:
        user_id = parse.arg_id(request.args, "user_id", "用户编号")
    except InvalidInput:
        user_id = None
    live = login_sessions.live(db(), rules, now=moment, user_id=user_id)
    everyone = list(db().scalars(select(User).order_by(User.id)))
    with_sessions = {user.id for _, user in login_sessions.live(db(), rules, now=moment)}
    return render_template("admin_sessions.html", sessions=[login_sessions.as_dict(r, u, rules) for r, u in live],
                           lockouts=logins.current(db(), now=moment), users=everyone, with_sessions=with_sessions,
                           user_id=user_id, mine=login_sessions.id_of_key(db(), session.get("sid")),
                           done=done, error=error, active="sessions"), status


def _act(action) -> tuple:
    """Run a change as the security administrator and show the page with its outcome or its refusal."""
    permissions.require(current_user(), "manage_sessions")
    try:
        done = action(current_user(), request.form.get("reason"))
    except (InvalidInput, Conflict) as exc:
        db().rollback()
        return _page(error=exc.message_zh, status=exc.status)
    db().commit()
    return _page(done=done)


@bp.get("/admin/sessions")
@page_login_required
def admin_sessions():
    """List the live login sessions (one user's with ?user_id=) and the lockouts in force."""
    return _page()


@bp.post("/admin/sessions/<int:session_id>/end")
@page_login_required
def admin_end_session(session_id: int):
    """End one login session now, with a reason (security administrator)."""
    def end(me, reason):
        _, user = login_sessions.end_one(db(), session_id, session_rules(), reason=reason, now=now(), actor=me)
        return f"已结束{user.name}（{user.login}）的登录会话 {session_id}"
    return _act(end)


@bp.post("/admin/users/<int:user_id>/sessions/end")
@page_login_required
def admin_end_user_sessions(user_id: int):
    """End every login session of a user now, with a reason (security administrator)."""
    def end(me, reason):
        user = by_id(db(), user_id)
        ended = login_sessions.end_of_user(db(), user, session_rules(), reason=reason, now=now(), actor=me)
        return f"已结束{user.name}（{user.login}）的全部登录会话，共{len(ended)}个"
    return _act(end)


@bp.post("/admin/lockouts/<int:lock_id>/clear")
@page_login_required
def admin_clear_lockout(lock_id: int):
    """Lift a lockout now, with a reason; its record stays, marked cleared (security administrator)."""
    def clear(me, reason):
        cleared = logins.clear(db(), lock_id, reason=reason, now=now(), actor=me)
        what = cleared["address"] or cleared["login"] or "未知登录名"
        return f"已解除{cleared['kind_name']}“{what}”的锁定"
    return _act(clear)

