"""The operator's commands: `flask --app wsgi db|users|plan|audit|scheduler|holidays|demo|serve`."""
from __future__ import annotations

import logging
import signal
import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.serving import run_simple

from app import audit_heads, db_roles, demo_bureaus, migrate
from app.auth import password_rules, session_rules
from app.demo import load
from app.extensions import yingji
from app.jobs.audit_head import export_head
from app.jobs.audit_seal import seal_pending
from app.jobs.holiday_watch import holiday_watch
from app.jobs import retention
from app.push import BoardRequestHandler, safe_url, use_external_emitter
from app.scheduler import build, ensure_started
from incidents.records import audit
from incidents.kernel.errors import DomainError
from incidents.plan import DEFAULT_PLAN_FILE, PlanError, load_plan_file
from incidents.kernel.roles import ROLES
from incidents.kernel.actors import SystemActor
from incidents.models import User
from incidents.kernel.moments import zone
from incidents.people import login_sessions, logins, two_factor
from incidents.people.passwords import set_password, strength_check
from incidents.people import tokens
from incidents.people.users import by_login, create_user, deactivate

db_cli = AppGroup("db", help="Database migrations (Alembic).")
users_cli = AppGroup("users", help="Manage users.")
plan_cli = AppGroup("plan", help="The emergency plan file.")
audit_cli = AppGroup("audit", help="The hash-chained audit trail.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")
security_cli = AppGroup("security", help="Security housekeeping: the retention purge.")
CLI_ACTOR = SystemActor(name="cli")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up (to the latest revision by default)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision, pii=current_app.extensions["yingji_pii"])
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Migrate the database down (one revision by default; `base` for empty)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision, pii=current_app.extensions["yingji_pii"])
    click.echo(f"database at {revision}")


@db_cli.command("grant-app-role")
@click.argument("role")
@click.option("--print", "print_only", is_flag=True, help="Print the SQL instead of running it.")
def db_grant_app_role(role: str, print_only: bool) -> None:
    """Grant a PostgreSQL role what the app needs: no UPDATE, DELETE or TRUNCATE on the audit trail.

    Run as the owner of the tables (the migrations' account), after every upgrade; the servers then
    connect as ROLE.
    """
    try:
        statements = db_roles.grant_statements(role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if print_only:
        click.echo(db_roles.script(role), nl=False)
        return
    engine = yingji().engine
    if engine.dialect.name != "postgresql":
        raise click.ClickException("roles exist on PostgreSQL only (the embedded SQLite file has none)")
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    click.echo(f"granted {role}: read and write, and on {db_roles.AUDIT_TABLE} SELECT and INSERT only")


@users_cli.command("create")
@click.option("--name", required=True, help="Full name, e.g. 张三.")
@click.option("--role", required=True, type=click.Choice(sorted(ROLES)), help="The user's role.")
@click.option("--department", "unit", default=None, help="Department code (duty officer) or station code.")
@click.option("--phone", default=None, help="Mobile phone in international format, e.g. +8613800000000.")
@click.option("--login", default=None, help="Login name for the browser (default: the name).")
@click.option("--with-password", "ask", is_flag=True,
              help="Prompt for a browser login password (not echoed); the user changes it at first login.")
@click.option("--password-stdin", "from_stdin", is_flag=True,
              help="Read the browser login password from the first line of standard input instead.")
@click.option("--no-token", "no_token", is_flag=True, help="Give the user no API token (a browser-only user).")
@click.option("--password", "refused", default=None, hidden=True)
def users_create(name: str, role: str, unit: str | None, phone: str | None, login: str | None,
                 ask: bool, from_stdin: bool, no_token: bool, refused: str | None) -> None:
    """Create a user (API-only unless a password is asked for); the API token is printed as the last line, once."""
    _no_password_argument(refused)
    password = _read_password(from_stdin) if (ask or from_stdin) else None
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            user, token = create_user(session, wiring.plan, name=name, role=role, unit=unit, phone=phone,
                                      login=login, password=password, now=wiring.clock.now(), actor=CLI_ACTOR,
                                      password_check=strength_check(password_rules()),
                                      must_change_password=True, token=not no_token)
        except DomainError as exc:
            raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
        session.commit()
        click.echo(f"created user {user.id} {user.login} ({role}{', ' + unit if unit else ''})")
        if token:
            click.echo(token)


@users_cli.command("reset-password")
@click.argument("login")
@click.option("--password-stdin", "from_stdin", is_flag=True,
              help="Read the new password from the first line of standard input instead of a prompt.")
@click.option("--password", "refused", default=None, hidden=True)
def users_reset_password(login: str, from_stdin: bool, refused: str | None) -> None:
    """Set a user's password (prompted, or from stdin); every session ends and the user changes it at next login."""
    _no_password_argument(refused)
    password = _read_password(from_stdin)
    wiring = yingji()
    with wiring.sessions() as session:
        user = session.scalar(select(User).where(User.login == login))
        if user is None:
            raise click.ClickException(f"没有登录名为“{login}”的用户 / no user with login '{login}'")
        try:
            set_password(session, user, password, rules=password_rules(), now=wiring.clock.now(), actor=CLI_ACTOR,
                         must_change=True)
        except DomainError as exc:
            raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
        session.commit()
    click.echo(f"password of {login} reset; every session of the user ended; it must be changed at next login")


@users_cli.command("reset-2fa")
@click.argument("login")
def users_reset_2fa(login: str) -> None:
    """Remove a user's second factor and recovery codes (lost phone); every session ends; audited.

    At the next login a user whose role requires a factor enrols a new one.
    """
    wiring = yingji()
    with wiring.sessions() as session:
        user = session.scalar(select(User).where(User.login == login))
        if user is None:
            raise click.ClickException(f"没有登录名为“{login}”的用户 / no user with login '{login}'")
        now = wiring.clock.now()
        had = two_factor.reset(session, user, now=now, actor=CLI_ACTOR)
        login_sessions.end_all(session, user.id, now=now, why=login_sessions.TWO_FACTOR_RESET, actor=CLI_ACTOR)
        session.commit()
    click.echo(f"second factor of {login} {'removed' if had else 'was not enrolled'}; every session of the user "
               "ended; a new one is enrolled at next login")


def _fail(exc: DomainError):
    return click.ClickException(f"{exc.message_zh} / {exc.message_en}")


@users_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deactivated users.")
def users_list(show_all: bool) -> None:
    """List users: id, login, role, unit, active, and their live tokens with last use."""
    wiring = yingji()
    now = wiring.clock.now()
    with wiring.sessions() as session:
        rows = session.scalars(select(User).order_by(User.id))
        for user in rows:
            if not user.active and not show_all:
                continue
            click.echo(f"{user.id}\t{user.login}\t{user.role}\t{user.unit or '-'}\t"
                       f"{'active' if user.active else 'deactivated'}")
            for row in tokens.of_user(session, user.id):
                t = tokens.as_dict(row, now)
                if t["status"] == "live" or show_all:
                    limited = f"\tactions {','.join(t['actions'])}" if t["actions"] is not None else ""
                    click.echo(f"\ttoken {t['id']}\t{t['name']}\t{t['scope']}\t{t['status']}\t"
                               f"expires {t['expires_at'] or 'never'}\tlast used {t['last_used_at'] or 'never'}"
                               f"{limited}")


@users_cli.command("deactivate")
@click.argument("login")
def users_deactivate(login: str) -> None:
    """Deactivate a user: every login session ends, every token is revoked, open boards close."""
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            user = by_login(session, login)
        except DomainError as exc:
            raise _fail(exc) from None
        deactivate(session, user, now=wiring.clock.now(), actor=CLI_ACTOR)
        session.commit()
    click.echo(f"{login} deactivated; every session ended and every token revoked")


@users_cli.command("create-token")
@click.argument("login")
@click.option("--name", required=True, help="What the token is for, e.g. 'weekly report script'.")
@click.option("--scope", type=click.Choice(tokens.SCOPES), default=None,
              help="read (GET only), write, or actions (GET and only the --action writes). "
                   "Default: actions with --action, else read.")
@click.option("--action", "actions", multiple=True, metavar="CODE",
              help="An action the token is limited to (repeat it), e.g. report:initial; one the user's role has.")
@click.option("--days", type=int, default=None, help="Days until it expires (default: never).")
def users_create_token(login: str, name: str, scope: str | None, actions: tuple[str, ...], days: int | None) -> None:
    """Give a user another API token; it is printed as the last line, once."""
    wiring = yingji()
    scope = scope or (tokens.ACTIONS if actions else tokens.READ)
    with wiring.sessions() as session:
        try:
            user = by_login(session, login)
            row, secret = tokens.issue(session, user, name=name, scope=scope, days=days, actions=list(actions),
                                       now=wiring.clock.now(), actor=CLI_ACTOR)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
        limited = f" limited to {', '.join(row.actions)}" if row.actions else ""
        click.echo(f"token {row.id} '{row.name}' ({row.scope}{limited}) for {login}, expires "
                   f"{row.expires_at.isoformat() if row.expires_at else 'never'}")
    click.echo(secret)


@users_cli.command("rotate-token")
@click.argument("token_id", type=int)
def users_rotate_token(token_id: int) -> None:
    """Revoke a token and print its successor (same user, name, scope, actions and lifetime) as the last line, once."""
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            row, secret = tokens.rotate(session, token_id, now=wiring.clock.now(), actor=CLI_ACTOR)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
        click.echo(f"token {token_id} revoked; its successor is token {row.id}")
    click.echo(secret)


@users_cli.command("revoke-token")
@click.argument("token_id", type=int)
def users_revoke_token(token_id: int) -> None:
    """Revoke a token at once (open boards on it close within seconds)."""
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            tokens.revoke(session, token_id, now=wiring.clock.now(), actor=CLI_ACTOR)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
    click.echo(f"token {token_id} revoked")


def _local(moment: str | None) -> str:
    """Show an ISO time from the domain in the plan's zone (Beijing time), to the second."""
    if not moment:
        return "-"
    return datetime.fromisoformat(moment).astimezone(zone(yingji().plan.timezone)).strftime("%Y-%m-%d %H:%M:%S")


@users_cli.command("sessions")
@click.argument("login", required=False)
def users_sessions(login: str | None) -> None:
    """List the live login sessions (of one user with LOGIN): id, login, role, address, started, last seen,
    idle and absolute expiry, in the plan's time zone. Never a session's key."""
    wiring = yingji()
    rules = session_rules()
    with wiring.sessions() as session:
        try:
            user_id = by_login(session, login).id if login else None
        except DomainError as exc:
            raise _fail(exc) from None
        rows = login_sessions.live(session, rules, now=wiring.clock.now(), user_id=user_id)
        click.echo(f"{len(rows)} live session(s); times in {wiring.plan.timezone}")
        for row, user in rows:
            s = login_sessions.as_dict(row, user, rules)
            click.echo(f"{s['id']}\t{s['login']}\t{s['role']}\t{s['address'] or '-'}\tstarted {_local(s['started_at'])}"
                       f"\tlast seen {_local(s['last_seen_at'])}\tidle until {_local(s['idle_expires_at'])}"
                       f"\tends {_local(s['expires_at'])}")


@users_cli.command("end-sessions")
@click.argument("login")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--session", "session_id", type=int, default=None,
              help="End only this session (an id from `flask users sessions`) instead of all of the user's.")
def users_end_sessions(login: str, reason: str, session_id: int | None) -> None:
    """End every live login session of a user now (or one with --session); open boards close within seconds."""
    wiring = yingji()
    rules = session_rules()
    with wiring.sessions() as session:
        try:
            user = by_login(session, login)
            if session_id is not None:
                if session_id not in {row.id for row, _ in login_sessions.live(session, rules, now=wiring.clock.now(),
                                                                               user_id=user.id)}:
                    raise click.ClickException(f"“{login}”没有在线的会话 {session_id} / {login} has no live session "
                                               f"{session_id}")
                row, _ = login_sessions.end_one(session, session_id, rules, reason=reason, now=wiring.clock.now(),
                                                actor=CLI_ACTOR)
                ended = [row.id]
            else:
                ended = login_sessions.end_of_user(session, user, rules, reason=reason, now=wiring.clock.now(),
                                                   actor=CLI_ACTOR)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
    click.echo(f"ended {len(ended)} session(s) of {login}: {', '.join(map(str, ended)) or 'none was live'}")


@users_cli.command("lockouts")
def users_lockouts() -> None:
    """List the login lockouts in force: the login (or `unknown name`) or the address, until when, failures."""
    wiring = yingji()
    with wiring.sessions() as session:
        rows = logins.current(session, now=wiring.clock.now())
    click.echo(f"{len(rows)} lockout(s) in force; times in {wiring.plan.timezone}")
    for lock in rows:
        what = lock["address"] if lock["kind"] == logins.ADDRESS else (lock["login"] or "(unknown name)")
        click.echo(f"{lock['id']}\t{lock['kind']}\t{what}\tuntil {_local(lock['until'])}\t"
                   f"failures {lock['failures']}")


@users_cli.command("unlock")
@click.argument("login", required=False)
@click.option("--address", default=None, help="Lift the lockout of this client address instead of a login name.")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def users_unlock(login: str | None, address: str | None, reason: str) -> None:
    """Lift the lockout of a login name (LOGIN) or of a client address (--address); the record stays, marked
    cleared, and the failure count restarts."""
    if bool(login) == bool(address):
        raise click.UsageError("请给出登录名或 --address 之一 / give either LOGIN or --address")
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            if address:
                cleared = logins.clear_address(session, address, reason=reason, now=wiring.clock.now(),
                                               actor=CLI_ACTOR)
            else:
                cleared = logins.clear_login(session, login, reason=reason, now=wiring.clock.now(), actor=CLI_ACTOR)
        except DomainError as exc:
            raise _fail(exc) from None
        session.commit()
    click.echo(f"lockout of {address or login} lifted (was until {_local(cleared['until'])}, "
               f"{cleared['failures']} failures)")


@security_cli.command("purge")
def security_purge() -> None:
    """Run the retention purge now: delete expired login attempts, sessions, codes, webhook ids, idempotency
    keys, challenges and rate counters in bounded batches; print what was removed (audited as one entry)."""
    wiring, config = yingji(), current_app.config
    counts = retention.purge(wiring, config)
    for kind in retention.kinds(wiring, config):
        click.echo(f"{kind.name}\t{counts[kind.name]} removed\t{kind.label}")
    click.echo(f"total\t{sum(counts.values())} removed")


def _no_password_argument(value: str | None) -> None:
    # A password on the command line stays in the shell history and in `ps` for every local user.
    if value is not None:
        raise click.UsageError("密码不能写在命令行上，请按提示输入或使用 --password-stdin / "
                               "a password is never taken on the command line: answer the prompt or use "
                               "--password-stdin")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("密码为空 / empty password")
    return password


@plan_cli.command("check")
@click.argument("file", required=False)
def plan_check(file: str | None) -> None:
    """Validate a plan file (the one in force by default); errors name their line."""
    path = file or current_app.config.get("PLAN_FILE") or str(DEFAULT_PLAN_FILE)
    try:
        plan = load_plan_file(path)
    except PlanError as exc:
        click.echo(f"{path}: the plan is not valid", err=True)
        for issue in exc.issues:
            click.echo(f"  {path}:{issue.line}: {issue.path}: {issue.message}", err=True)
        sys.exit(1)
    click.echo(f"{path}: valid — {plan.bureau} {plan.title}, version {plan.version}, "
               f"{len(plan.levels)} levels, {len(plan.clocks)} clocks, {len(plan.departments)} departments, "
               f"{len(plan.categories)} categories")


@audit_cli.command("verify")
@click.option("--full", "mode", flag_value="full", default=True,
              help="Check the whole chain against every exported head (the default).")
@click.option("--from-checkpoint", "mode", flag_value="checkpoint",
              help="Check only the entries after the last exported head (each export checked the ones before it).")
@click.option("--since", "since", metavar="YYYY-MM-DD",
              help="Check the entries after the last head exported before that day (the plan's time zone), "
                   "against every head exported since: a day costs a day.")
def audit_verify(mode: str, since: str | None) -> None:
    """Recompute the audit chain with the key and compare it with the exported heads; exit 1 if anything is off.

    Catches an edited, deleted or reordered entry, an edited entry still waiting to be sealed, a chain
    recomputed without the key, a tail deleted after the last exported head, and a wiped trail.
    """
    wiring = yingji()
    path = current_app.config["AUDIT_HEAD_FILE"]
    start = None
    if since is not None:
        try:
            day = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=wiring.plan.tz)
        except ValueError:
            raise click.BadParameter("日期格式应为 YYYY-MM-DD / the date must be YYYY-MM-DD", param_hint="--since")
        start, exported = audit_heads.read_since(path, wiring.audit_keys, day)
    elif mode == "checkpoint":
        start = audit_heads.last(path, wiring.audit_keys)
        exported = audit_heads.HeadFile((start,) if start else (), (), start is not None)
    else:
        exported = audit_heads.read(path, wiring.audit_keys)
    with wiring.sessions() as session:
        result = audit.verify(session, wiring.audit_keys, exported.heads, start=start)
    problems = exported.problems + result.problems
    if not problems:
        where = (f"entries {result.first.seq + 1}–{result.last.seq}, after the head exported at "
                 f"{result.first.at.isoformat()}" if start is not None else "the whole trail")
        click.echo(f"audit trail intact: {result.entries} entries ({where}; "
                   f"{result.entries - result.unkeyed} keyed with the audit key, {result.unkeyed} unkeyed v0)")
        click.echo(f"{result.pending} entries waiting to be sealed, each matching its HMAC")
        if exported.heads:
            newest = exported.heads[-1]
            click.echo(f"matches {len(exported.heads)} exported heads in {path}; the last: entry {newest.seq} "
                       f"at {newest.at.isoformat()}")
        elif start is None:
            click.echo(f"WARNING: no head exported to {path} yet: a deleted tail or a wiped trail would not show; "
                       "run `flask audit export-head` (the scheduler does it every AUDIT_EXPORT_EVERY seconds)",
                       err=True)
        return
    for problem in problems:
        click.echo(f"BROKEN: {problem}", err=True)
    sys.exit(1)


@audit_cli.command("seal")
def audit_seal_command() -> None:
    """Seal the audit entries waiting in the inbox into the chain now (the scheduler does it twice a second)."""
    wiring = yingji()
    sealed = seal_pending(wiring)
    with wiring.sessions() as session:
        left = audit.waiting(session)
    click.echo(f"sealed {sealed} waiting entries; {left} still waiting")


@audit_cli.command("export-head")
def audit_export_head() -> None:
    """Check the entries since the last exported head and append the new head, signed, to AUDIT_HEAD_FILE."""
    path = current_app.config["AUDIT_HEAD_FILE"]
    result = export_head(yingji(), path)
    if result.problems:
        for problem in result.problems:
            click.echo(f"BROKEN: {problem}", err=True)
        click.echo("head not exported", err=True)
        sys.exit(1)
    if result.head is None:
        click.echo(f"head unchanged since the last export: entry {result.previous.seq if result.previous else 0}")
        return
    click.echo(f"exported head: entry {result.head.seq} {result.head.hash} to {path}")


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the clock scheduler as its own process (any number may run at once)."""
    _logging()
    app = current_app._get_current_object()
    # This process serves no boards: what it fires reaches them through the message queue.
    click.echo(use_external_emitter(app))
    sched = build(app, blocking=True)
    signal.signal(signal.SIGTERM, lambda *_: sched.shutdown(wait=False))
    click.echo("scheduler running; Ctrl+C to stop")
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


@click.command("holidays")
def holidays_command() -> None:
    """Run the holiday market watch now and show upcoming holidays, duty gaps and missing data."""
    result = holiday_watch(yingji())
    for h in result.holidays:
        basis = "notice" if h.certain else "statutory dates only, no notice yet"
        click.echo(f"{h.label}: {h.first_day} – {h.last_day} ({basis})")
    click.echo(f"watches opened now: {len(result.opened)}; moved: {len(result.moved)}; closed: {len(result.closed)}")
    for gap in result.duty_gaps:
        click.echo(f"duty gap: {gap.message} {gap.starts_at.isoformat()} – {gap.ends_at.isoformat()}")
    for text in result.uncertain:
        click.echo(f"NO NOTICE YET: {text}")
    for text in result.not_covered:
        click.echo(f"NOT COVERED: {text}")


@demo_cli.command("load")
def demo_load() -> None:
    """Load demo users and incidents (once; a second run changes nothing)."""
    for line in load(current_app._get_current_object()):
        click.echo(line)


@demo_cli.command("city-users")
def demo_city_users() -> None:
    """Create the city bureau's demo users (run in the city's instance by `demo serve-bureaus`)."""
    for line in demo_bureaus.load_city_users(current_app._get_current_object()):
        click.echo(line)


@demo_cli.command("serve-bureaus")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--city-port", default=5001, type=int)
def demo_serve_bureaus(host: str, port: int, city_port: int) -> None:
    """Serve the county here and its city bureau beside it, each bureau registered with the other."""
    _logging()
    app = current_app._get_current_object()
    env = demo_bureaus.prepare(app, host=host, port=port, city_port=city_port)
    demo_bureaus.start_city(env, host=host, city_port=city_port)
    # Stopped by a signal, exit normally so that the city's process is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"城市局（郑州市市场监督管理局）: {demo_bureaus.city_url(host, city_port)}")
    _serve(app, host, port)


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(host: str, port: int) -> None:
    """Serve the boards (HTTP and WebSocket) and API with the in-process scheduler (the embedded set-up)."""
    _logging()
    _serve(current_app._get_current_object(), host, port)


def _serve(app: Flask, host: str, port: int) -> None:
    ensure_started(app)
    queue = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    click.echo(f"Yingji on http://{host}:{port}/ (board push: "
               f"{'through ' + safe_url(queue) if queue else 'in this process'})")
    # run_simple, not app.run or socketio.run (which calls app.run): Flask ignores app.run()
    # inside a CLI command. The app's wsgi_app already carries the Socket.IO middleware, and
    # Werkzeug's threaded server hands simple-websocket the socket, so boards get WebSocket.
    run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=BoardRequestHandler)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # APScheduler logs every run of the one-second job at INFO.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The twilio SDK logs every request at INFO with the full phone number; ours log it masked.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    """Register the commands."""
    for group in (db_cli, users_cli, plan_cli, audit_cli, demo_cli, security_cli):
        app.cli.add_command(group)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(holidays_command)
    app.cli.add_command(serve_command)
