"""Who is calling: a Bearer token for the API, a login session for browsers."""
from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Callable

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from app.extensions import db
from incidents.kernel.errors import DomainError
from incidents.models import User
from incidents.people.users import user_by_password, user_by_token

bp = Blueprint("auth", __name__)


class Unauthorised(DomainError):
    """No valid token or login."""

    status = 401


def current_user() -> User | None:
    """Return the calling user from the Bearer token or the browser session, once per request."""
    if "user" in g:
        return g.user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_by_token(db(), header[7:].strip())
        g.auth_via = "token"
    elif session.get("user_id"):
        user = db().get(User, session["user_id"])
        if user is not None and not user.active:
            user = None
        g.auth_via = "session"
    g.user = user
    return user


def csrf_token() -> str:
    """Return the browser session's CSRF token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing browser request that does not carry the session's CSRF token."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    # Bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters.
    expected = str(session.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise DomainError("csrf", "页面已过期或请求来源无效，请刷新后重试", "missing or invalid CSRF token")


def api_login_required(view: Callable) -> Callable:
    """Answer 401 to an API call without a valid token or session; check CSRF for sessions."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            raise Unauthorised("unauthorised", "未登录或令牌无效", "missing or invalid bearer token")
        if g.auth_via == "session" and request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf()
        return view(*args, **kwargs)

    return wrapped


def page_login_required(view: Callable) -> Callable:
    """Send a browser without a login session to the login page."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login would help phishing.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("board.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and sign a user in with login name and password."""
    error = None
    if request.method == "POST":
        check_csrf()
        user = user_by_password(db(), request.form.get("login", "").strip(), request.form.get("password", ""))
        if user is None:
            error = "登录名或密码错误"
        else:
            session.clear()
            session["user_id"] = user.id
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, login=request.form.get("login", "")), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign the browser out."""
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"))
