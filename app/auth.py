"""Who is calling: a Bearer token for the API, a server-side login session for browsers.

The signed cookie holds the user's id and the random key of a login session row; every request
checks that row (logout, a password change, deactivation, idle and absolute timeouts end it).
"""
from __future__ import annotations

import hmac
import logging
import math
import secrets
from datetime import timedelta
from functools import wraps
from typing import Callable, Mapping
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from app import security
from app.demo import DEMO_USERS
from app.extensions import db, yingji
from incidents.kernel.actors import SystemActor
from incidents.kernel.errors import DomainError, Forbidden, InvalidInput
from incidents.models import User
from incidents.people import login_sessions, logins, passwords, permissions, tokens, two_factor
from incidents.records import audit

bp = Blueprint("auth", __name__)
log = logging.getLogger("yingji.auth")
ANONYMOUS = SystemActor(name="anonymous")
WRONG = "登录名或密码错误"
DEMO_NAMES = {login: name for login, name, *_ in DEMO_USERS}


class Unauthorised(DomainError):
    """No valid token or login."""

    status = 401


def lockout_rules(config: Mapping | None = None) -> logins.LockoutRules:
    """Return the lockout settings of the app (app/config.py), or of the settings given."""
    c = current_app.config if config is None else config
    window = timedelta(minutes=c["LOGIN_FAILURE_WINDOW_MINUTES"])
    return logins.LockoutRules(max_failures=c["LOGIN_MAX_FAILURES"], window=window,
                               lockout=timedelta(minutes=c["LOGIN_LOCKOUT_MINUTES"]),
                               address_max_failures=c["LOGIN_MAX_FAILURES_PER_ADDRESS"])


def session_rules(config: Mapping | None = None) -> login_sessions.SessionRules:
    """Return the login session settings of the app, or of the settings given."""
    c = current_app.config if config is None else config
    return login_sessions.SessionRules(idle=timedelta(minutes=c["SESSION_IDLE_MINUTES"]),
                                       lifetime=timedelta(hours=c["SESSION_LIFETIME_HOURS"]))


def password_rules() -> passwords.PasswordRules:
    """Return the password policy settings of the app."""
    c = current_app.config
    return passwords.PasswordRules(min_length=c["PASSWORD_MIN_LENGTH"], min_classes=c["PASSWORD_MIN_CLASSES"],
                                   history=c["PASSWORD_HISTORY"], max_age_days=c["PASSWORD_MAX_AGE_DAYS"])


def session_user_id(cookie: Mapping, db_session: Session | None = None) -> int | None:
    """Tell whether a browser's login session is still valid: its user's id, or None.

    For every request, and for the boards' Socket.IO code (pass it flask.session). A timed-out
    session is ended and audited, and last-seen is touched at most once a minute, committed at once
    in a short transaction of its own, or of `db_session` when that has none open yet. (When it has
    one, the writes ride along with it: SQLite allows one writer, and a second transaction would wait.)
    """
    key, user_id = cookie.get("sid"), cookie.get("user_id")
    if not isinstance(key, str) or not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    wiring = yingji()
    s = db_session if db_session is not None else wiring.sessions()
    may_commit = db_session is None or not s.in_transaction()
    try:
        row = login_sessions.check(s, key, session_rules(), now=wiring.clock.now())
        found = row.user_id if row is not None and row.user_id == user_id else None
        if s.dirty and may_commit:
            s.commit()
        return found
    finally:
        if db_session is None:
            s.close()


def current_user() -> User | None:
    """Return the calling user from the Bearer token or the browser session, once per request."""
    if "user" in g:
        return g.user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        presented = tokens.authenticate(db(), header[7:].strip(), now=yingji().clock.now())
        user = presented.user
        g.auth_via = "token"
        g.token = presented.token if user is not None else None
        g.token_id = g.token.id if g.token is not None else None  # for the denial's entry, after a rollback
        g.token_refused = presented.refused
        if user is not None and db().dirty:
            db().commit()  # last use, at most once a minute; before the view, whatever it then does
    elif session.get("sid") or session.get("user_id"):
        user_id = session_user_id(session, db())
        user = db().get(User, user_id) if user_id is not None else None
        if user is not None and not user.active:
            user = None
        g.auth_via = "session"
    g.user = user
    # Who called, kept apart from the row: a refused request's rollback expires the row's attributes.
    g.actor = SystemActor(name=user.name, id=user.id, role=user.role) if user is not None else None
    return user


def password_change_due(user: User) -> str | None:
    """Tell why a browser user must change their password first (first login, expired), or None."""
    if g.get("auth_via") != "session":
        return None
    return passwords.change_due(user, password_rules(), yingji().clock.now())


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


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TOKEN_REFUSALS = {
    tokens.EXPIRED: ("API令牌已过期，请联系安全管理员更换", "the API token has expired"),
    tokens.REVOKED: ("API令牌已被吊销", "the API token has been revoked"),
}


def token_actions(*actions: str) -> Callable[[Callable], Callable]:
    """Declare the permission actions a write route checks; an `actions` API token may call it if it names one.

    A write route without this mark refuses every `actions` token before it runs: one that never
    reaches permissions.require (an alert phone, a roster, a password) cannot be a way round the
    token's limit. Mark only a route whose every write passes permissions.require; the limit itself
    (which of the named actions) is then enforced there.
    """
    unknown = sorted(set(actions) - set(permissions.ACTION_ROLES))
    if not actions or unknown:
        raise ValueError(f"token_actions needs action codes of permissions.ACTION_ROLES, not {unknown or 'none'}")

    def mark(view: Callable) -> Callable:
        view.token_actions = frozenset(actions)
        return view

    return mark


def check_token_scope(user: User) -> None:
    """Refuse a write through a read token, or through an `actions` token on a route that checks none of its actions.

    An `actions` token's write that may go on carries its actions on the request's user
    (permissions.limit_to), so that permissions.require refuses any other action on the way.
    Reads (GET) are the role's, for every scope.
    """
    if g.get("auth_via") != "token" or request.method in SAFE_METHODS:
        return
    token = g.token
    if token.scope == tokens.WRITE:
        return
    if token.scope == tokens.ACTIONS:
        named = frozenset(token.actions or ())
        view = current_app.view_functions.get(request.endpoint or "")
        if named & getattr(view, "token_actions", frozenset()):
            permissions.limit_to(user, named)
            return
        shown = "、".join(permissions.ACTION_NAMES[a][0] for a in permissions.ACTION_ROLES if a in named) or "—"
        raise Forbidden("token_action", f"该API令牌只限于以下操作：{shown}，不能用于此请求",
                        f"this API token is limited to {', '.join(sorted(named)) or 'nothing'}: "
                        "this request is none of them")
    raise Forbidden("token_read_only", "该API令牌为只读令牌，不能修改数据，请使用读写令牌",
                    "this API token is read-only: use a write-scoped token to change anything")


def api_login_required(view: Callable) -> Callable:
    """Answer 401 to an API call without a valid token or session; check CSRF for sessions and the token's scope."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None:
            refused = g.get("token_refused")
            if refused in TOKEN_REFUSALS:
                raise Unauthorised(f"token_{refused}", *TOKEN_REFUSALS[refused])
            raise Unauthorised("unauthorised", "未登录或令牌无效", "missing or invalid bearer token")
        check_token_scope(user)
        if password_change_due(user):
            raise Unauthorised("password_change_required", "请先修改密码", "the password must be changed first")
        if g.auth_via == "session" and request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf()
        return view(*args, **kwargs)

    return wrapped


def page_login_required(view: Callable) -> Callable:
    """Send a browser without a login session to the login page, and one whose password is due to its change.

    A page's POST made with a bearer token is held to the token's scope as on the API.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path))
        check_token_scope(user)
        if password_change_due(user):
            return redirect(url_for("auth.change_password", next=request.full_path))
        if g.auth_via == "session" and must_enrol(user):
            return redirect(url_for("two_factor.enrol"))
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str:
    """Return `next` if it is a path of this site, else the board: an open redirect would help phishing."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target and not any(ord(c) < 32 or ord(c) == 127 for c in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("board.index")


def record_denial(code: str) -> None:
    """Write a refused permission (403) to the audit trail in its own transaction.

    The request's own transaction is rolled back, which would lose an entry queued there.
    """
    try:
        actor = g.get("actor")
        wiring = yingji()
        with wiring.sessions() as s:
            data = {"method": request.method, "path": request.path[:200], "code": code}
            if g.get("token_id") is not None and g.get("auth_via") == "token":
                data["token_id"] = g.token_id  # which of the user's tokens was refused
            audit.record(s, actor=actor or ANONYMOUS, action="user.forbidden", entity="user",
                         entity_id=actor.id if actor is not None else "-", at=wiring.clock.now(), data=data)
            s.commit()
    except Exception:  # noqa: BLE001 - the refusal itself must still be answered
        log.exception("could not audit a permission denial")


def client_address() -> str:
    """Return the caller's address (as ProxyFix derived it), cut to what the login tables keep."""
    return (request.remote_addr or "unknown")[:64]


def _open_session(user: User, target: str):
    """Start the browser's login session (a new cookie: no fixation) and go on."""
    now = yingji().clock.now()
    key = login_sessions.start(db(), user, now=now, address=client_address())
    db().commit()
    session.clear()
    session["user_id"] = user.id
    session["sid"] = key
    csrf_token()
    if passwords.change_due(user, password_rules(), now):
        return redirect(url_for("auth.change_password", next=target))
    return redirect(target)


def two_factor_roles() -> frozenset[str]:
    """Return the roles that must enrol a second factor (setting TWO_FACTOR_ROLES, comma-separated)."""
    value = current_app.config.get("TWO_FACTOR_ROLES") or ""
    names = value.split(",") if isinstance(value, str) else value
    return frozenset(n.strip() for n in names if n and n.strip())


def must_enrol(user: User) -> bool:
    """Tell whether a user must enrol a second factor before a session opens.

    The users of `flask demo load` are not forced outside production (production refuses to start
    while they exist, app/security.py): `make run` stays a one-command demo.
    """
    if not two_factor.requires_factor(user.role, two_factor_roles()):
        return False
    if not security.is_production(current_app) and DEMO_NAMES.get(user.login) == user.name:
        return False
    return two_factor.factor_of(db(), user.id) is None


def _password_accepted(user: User, target: str):
    # A user with a second factor gives it next; a role that needs one and has none enrols it next.
    # Until then the cookie only names the user as pending (for TWO_FACTOR_STEP_MINUTES), no session.
    enrolled = two_factor.factor_of(db(), user.id) is not None
    if not enrolled and not must_enrol(user):
        return _open_session(user, target)
    session.clear()
    session["tf_user"] = user.id
    session["tf_since"] = yingji().clock.now().timestamp()
    session["tf_next"] = target
    csrf_token()
    return redirect(url_for("two_factor.verify" if enrolled else "two_factor.enrol"))


def pending_user() -> User | None:
    """Return the user who gave the right password and still owes the second step, or None."""
    user_id, since = session.get("tf_user"), session.get("tf_since")
    if not isinstance(user_id, int) or not isinstance(since, (int, float)):
        return None
    limit = timedelta(minutes=current_app.config["TWO_FACTOR_STEP_MINUTES"]).total_seconds()
    if not 0 <= yingji().clock.now().timestamp() - since < limit:
        return None
    user = db().get(User, user_id)
    return user if user is not None and user.active else None


def finish_login(user: User):
    """Open the session of a user who passed the second step, going where the login was headed."""
    return _open_session(user, safe_next(session.get("tf_next")))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and sign a user in with login name and password (with lockout)."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        check_csrf()
        now = yingji().clock.now()
        result = logins.attempt(db(), lockout_rules(), login=request.form.get("login", "").strip(),
                                password=request.form.get("password", ""), address=client_address(), now=now)
        db().commit()  # failures are kept whatever happens next: they are what is counted
        if result.user is not None:
            return _password_accepted(result.user, safe_next(request.args.get("next")))
        error, status = WRONG, 401
        if result.locked:
            # The same answer for a locked name, a wrong password and an unknown name, plus when to retry.
            seconds = max(1, math.ceil((result.retry_at - now).total_seconds()))
            minutes = max(1, math.ceil(seconds / 60))
            error = f"{WRONG}次数过多，请{minutes}分钟后再试"
            status, headers = 429, {"Retry-After": str(seconds)}
    return render_template("login.html", error=error, login=request.form.get("login", "")), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign the browser out: the login session ends, and its cookie no longer works anywhere."""
    check_csrf()
    login_sessions.end(db(), session.get("sid"), now=yingji().clock.now(), why=login_sessions.LOGOUT)
    db().commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password (required at first login and when it has expired)."""
    user = current_user()
    target = safe_next(request.args.get("next"))
    if user is None or g.auth_via != "session":
        return redirect(url_for("auth.login", next=request.full_path))
    due = password_change_due(user)
    error = None
    if request.method == "POST":
        check_csrf()
        new = request.form.get("new_password", "")
        try:
            if new != request.form.get("confirm_password", ""):
                raise InvalidInput("mismatch", "两次输入的新密码不一致", "the new passwords differ")
            passwords.change_own_password(db(), user, current=request.form.get("current_password", ""), new=new,
                                          rules=password_rules(), now=yingji().clock.now())
        except InvalidInput as exc:
            db().rollback()
            error = exc.message_zh
        else:
            # Every session of the user has ended, this one too: this browser gets a new one.
            db().commit()
            return _open_session(user, target)
    return render_template("password.html", error=error, due=due, rules=password_rules()), (400 if error else 200)
