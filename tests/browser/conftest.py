"""Browser tests: the boards in headless Chromium against a real server with the socket layer.

The server is `python -m flask --app wsgi serve` as a subprocess, on a scratch database
(an SQLite file in a temporary folder, or a fresh PostgreSQL database), with users made by
`flask users create`. Playwright (from PyPI) drives Debian's /usr/bin/chromium; there is no
`playwright install`. With CI=true a missing Chromium, PostgreSQL or a server that does not
come up fails the tests; on a developer's machine they are skipped.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app import create_app
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.conftest import repo_root, scratch_pg_database, service_missing

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 # As a desktop browser does: sound only after a click (headless would allow it at once).
                 "--autoplay-policy=user-gesture-required"]
PASSWORD = "drill-Password-1"
START_WAIT = 40.0  # seconds for the server to answer /login
SOCKET_IO_CLIENT = repo_root() / "app" / "board" / "static" / "vendor" / "socket.io.min.js"
WIDE = {"width": 1600, "height": 900}
PHONE = {"width": 390, "height": 844}

# login, name, role, unit
USERS = (
    ("office", "应急办张三", "office", "office"),
    ("commander", "指挥部李四", "commander", None),
    ("leader", "领导王五", "leader", None),
    ("food", "食品科值班赵六", "duty_officer", "food_coord"),
    ("prices", "价格科值班孙七", "duty_officer", "prices"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running `flask serve` with its users (login -> API token)."""

    url: str
    database_url: str
    process: subprocess.Popen
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, login: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """Call the JSON API as a user (Bearer token); return (status, JSON)."""
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.tokens[login]}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=15) as res:
                return res.status, json.loads(res.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the server's log, for a failure message."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _flask(env: dict, *args: str, timeout: float = 60) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done.stdout


def _create_users(database_url: str, users=USERS, plan_file: str | None = None) -> dict[str, str]:
    """Create the users as the test fixtures do (fixed password, no forced change); return their tokens.

    `flask users create` takes no password on the command line, and a password it sets must be
    changed at the first login.
    """
    application = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-tests", "SCHEDULER": "off",
                              **({"PLAN_FILE": plan_file} if plan_file else {})})
    tokens = {}
    try:
        wiring = application.extensions["yingji"]
        with wiring.sessions() as session:
            for login, name, role, unit in users:
                _, tokens[login] = create_user(session, wiring.plan, name=name, role=role, login=login, unit=unit,
                                               password=PASSWORD, now=wiring.clock.now(),
                                               actor=SystemActor(name="browser-tests"))
            session.commit()
    finally:
        application.extensions["yingji"].engine.dispose()
    return tokens


def start_server(database_url: str, folder: Path, extra_env: dict | None = None) -> Server:
    """Migrate the database, create the users, start `flask serve` and wait until it answers.

    `extra_env` adds to the server's environment (a message queue, a plan file: PLAN_FILE is used for
    the users too).
    """
    if not SOCKET_IO_CLIENT.exists():
        raise RuntimeError(f"{SOCKET_IO_CLIENT} is missing: `make install` copies it from node_modules (npm ci)")
    env = {**os.environ, "DATABASE_URL": database_url, "YINGJI_INSTANCE": str(folder), "SECRET_KEY": "browser-tests",
           "SCHEDULER": "inprocess", "PYTHONUNBUFFERED": "1",
           "TWO_FACTOR_ROLES": ""}  # the fixture users are not forced to enrol a second factor
    env.pop("SOCKETIO_MESSAGE_QUEUE", None)
    env.update(extra_env or {})
    _flask(env, "db", "upgrade")
    tokens = _create_users(database_url, plan_file=(extra_env or {}).get("PLAN_FILE"))
    port = _free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
                                   cwd=repo_root(), env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", database_url, process, log, tokens)
    deadline = time.monotonic() + START_WAIT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/login", timeout=2) as res:
                if res.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"the server did not answer within {START_WAIT:.0f} s:\n{server.log_tail()}")
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    """Stop the server process (this one only) and wait for it."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)


@pytest.fixture(scope="session")
def playwright_browser():
    """Headless Debian Chromium driven by playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_missing("playwright", exc)
    if not os.path.exists(CHROMIUM):
        service_missing("Chromium", FileNotFoundError(CHROMIUM))
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001
        manager.stop()
        service_missing("Chromium", exc)
    yield browser
    browser.close()
    manager.stop()


def _serve(database_url: str, folder: Path) -> Server:
    try:
        return start_server(database_url, folder)
    except Exception as exc:  # noqa: BLE001
        service_missing("the Yingji server", exc)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    """The app served from a subprocess on a scratch SQLite file."""
    folder = tmp_path_factory.mktemp("server-sqlite")
    server = _serve(f"sqlite:///{folder / 'yingji.db'}", folder)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory):
    """The app served from a subprocess on a fresh PostgreSQL database, dropped afterwards."""
    folder = tmp_path_factory.mktemp("server-pg")
    with scratch_pg_database("yingji_browser") as url:
        server = _serve(url, folder)
        yield server
        stop_server(server)


def new_tab(context):
    """Open a page in a browser context that records its script errors in `page.errors`."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # A script or style the Content-Security-Policy blocks is an error of the page too.
    page.on("console", lambda msg: page.errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return page


@pytest.fixture
def open_as(playwright_browser, request):
    """Open a browser context logged in as a user; yield a function (server, login, viewport) -> page."""
    contexts = []

    def open_page(server: Server, login: str, viewport: dict = WIDE):
        context = playwright_browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        page = new_tab(context)
        page.goto(server.url + "/login")
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/login" not in page.url, f"{login} could not log in"
        return page

    yield open_page
    for context in contexts:
        context.close()
