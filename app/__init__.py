"""The web layer: the only place where the domain, the notifiers and the servers meet."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (audit_keys, auth, calendar_cli, cli, input_guards, notify_cli, peers_cli, pii_cli, pii_keys, push,
                 scheduler, security, two_factor)
from app import config as config_module
from app.api import bp as api_bp
from app.board import bp as board_bp
from app.board import socket as board_socket
from app.extensions import Yingji, close_db, db
from app.hooks import bp as hooks_bp
from app.intake import bp as intake_bp
from incidents.records import audit, board_events
from incidents.kernel import sealed
from incidents.kernel.db import make_engine, make_session_factory
from incidents.kernel.errors import DomainError
from incidents.plan import load_plan_file

log = logging.getLogger("yingji")

HTTP_ZH = {400: "请求有误", 401: "未登录", 403: "无权操作", 404: "未找到", 405: "不支持该请求方法",
           413: "请求内容过大", 429: "请求过于频繁", 500: "服务器内部错误"}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, plan (validated), database, blueprints, CLI."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE))
    app.config.update(config_module.from_environment())
    app.config.update(config or {})
    production = security.is_production(app)
    if not app.config.get("SECRET_KEY") and not production:
        app.config["SECRET_KEY"] = config_module.secret_key()  # the local demo's generated key
    keyring, pii, key_problems = _keys(app, production)
    # The cookie never outlives the login session it names (Flask's default is 31 days).
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["SESSION_LIFETIME_HOURS"])

    plan = load_plan_file(app.config["PLAN_FILE"])  # refuses to start on an invalid plan
    engine = make_engine(app.config["DATABASE_URL"])
    sealed.install(engine, pii)  # the complainants' name, phone, address and text are sealed with it
    sessions = make_session_factory(engine)
    if production:
        security.refuse_insecure(app, sessions, key_problems)  # before anything starts: no scheduler, no sockets
    audit.install(sessions, keyring, app.config["AUDIT_SEALING"])  # refuses an unknown AUDIT_SEALING
    wiring = Yingji(engine=engine, sessions=sessions, plan=plan, clock=app.config["CLOCK"], audit_keys=keyring)
    app.extensions["yingji_pii"] = pii
    board_events.install(sessions, lambda messages: wiring.emit(messages))
    app.extensions["yingji"] = wiring
    app.teardown_appcontext(close_db)

    input_guards.init_app(app)
    security.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(two_factor.bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(hooks_bp)
    app.register_blueprint(intake_bp)
    app.jinja_env.globals["csrf_token"] = auth.csrf_token
    cli.init_app(app)
    notify_cli.init_app(app)
    calendar_cli.init_app(app)
    pii_cli.init_app(app)
    peers_cli.init_app(app)
    scheduler.init_app(app)
    board_socket.register(push.init_app(app), app)  # the boards' Socket.IO server, which sets wiring.emit
    _trust_proxies(app)
    _errors(app)
    return app


def _keys(app: Flask, production: bool):
    """Return the audit and PII keyrings (the local demo generates its keys), and what is wrong with them.

    Outside production an unusable key refuses to start at once; in production it is named with every
    other insecure setting (security.refuse_insecure).
    """
    problems: list[tuple[str, str]] = []
    if not production:
        app.config["AUDIT_KEY"] = app.config.get("AUDIT_KEY") or config_module.audit_key()
        app.config["PII_KEY"] = app.config.get("PII_KEY") or config_module.pii_key()
    try:
        keyring = audit_keys.keyring_from(app.config)  # a short key or an unknown algorithm
    except audit_keys.AuditKeyError as error:
        if not production:
            raise
        keyring = None
        problems.append((error.message_zh, error.message_en))
    try:
        pii = pii_keys.keyring_from(app.config) if app.config.get("PII_KEY") else None  # short key, unknown cipher
    except pii_keys.PiiKeyError as error:
        if not production:
            raise
        pii = None
        problems.append((error.message_zh, error.message_en))
    return keyring, pii, problems


def _trust_proxies(app: Flask) -> None:
    """Believe the client address our own proxies put in X-Forwarded-For, as many hops as configured."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        # Outermost, so the boards' Socket.IO requests see the same address as the pages. Only the
        # address: the scheme and host stay what this server was called with, as before.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/hooks/") or request.is_json


def _errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db().rollback()  # nothing of a refused request is kept
        if exc.status == 403:
            auth.record_denial(exc.code)  # in its own transaction
        if _wants_json():
            return jsonify({"error": exc.as_dict()}), exc.status
        return render_template("error.html", message=exc.message_zh, status=exc.status), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 403:
            db().rollback()
            auth.record_denial("forbidden")
        if _wants_json():
            body = {"code": exc.name.lower().replace(" ", "_"), "message": HTTP_ZH.get(exc.code, exc.name),
                    "message_en": exc.description or exc.name}
            return jsonify({"error": body}), exc.code
        return render_template("error.html", message=HTTP_ZH.get(exc.code, exc.name), status=exc.code), exc.code
