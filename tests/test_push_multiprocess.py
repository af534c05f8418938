"""The production layout: two server processes on one PostgreSQL database, joined by Redis.

Server 1 is gunicorn with deploy/gunicorn.conf.py, server 2 is `flask --app wsgi serve`,
both with SCHEDULER=off; a board on server 1 hears a change made through server 2's API,
and a clock fired by a separate `flask --app wsgi scheduler` process (the external
emitter). Redis pub/sub ignores the database number, so the run gets its own channel.
Every process is started in its own session and killed by its id at the end.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import socketio
from sqlalchemy import text

from incidents.kernel.db import make_engine
from incidents.plan import load_plan_file
from incidents.plan import DEFAULT_PLAN_FILE
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.conftest import TABLES, repo_root, service_missing
from tests.helpers import incident_payload

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NS = "/board"
WAIT = 10.0  # seconds: the most a test waits for a pushed message
START_WAIT = 60.0  # seconds: the most a process gets to start answering
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def redis_url():
    """A reachable Redis (fails under CI=true, skips elsewhere, when there is none)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        service_missing("Redis", exc)
    return REDIS_URL


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Child processes, each in its own session; `close` kills each one by its id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, args: list[str], env: dict) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, cwd=repo_root(), env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((proc, log))
        return proc, log

    def close(self) -> None:
        for proc, _log in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _log in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this process leads (gunicorn's worker)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=15)


def wait_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    end = time.monotonic() + START_WAIT
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {START_WAIT} s:\n{log.read_text(errors='replace')}")


def wait_line(log: Path, needle: str, proc: subprocess.Popen) -> None:
    end = time.monotonic() + START_WAIT
    while time.monotonic() < end:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no '{needle}' from {proc.args}:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def layout(pg_database, redis_url, tmp_path_factory):
    """Two servers (gunicorn, flask serve) on a fresh PostgreSQL database joined by Redis; users."""
    folder = tmp_path_factory.mktemp("layout")
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    tokens = {}
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        now = datetime.now(timezone.utc)
        for key, role, unit in (("office", "office", "office"), ("food", "duty_officer", "food_coord"),
                                ("leader", "leader", None)):
            _user, tokens[key] = create_user(session, plan, name=f"多进程{key}", role=role, unit=unit, phone=None,
                                             password=None, now=now, actor=SystemActor(name="tests"))
        session.commit()
    engine.dispose()

    env = dict(os.environ)
    env.update({"DATABASE_URL": pg_database, "SCHEDULER": "off", "SOCKETIO_MESSAGE_QUEUE": redis_url,
                "SOCKETIO_CHANNEL": f"yingji-test-{uuid.uuid4().hex[:12]}", "SECRET_KEY": "multiprocess-test",
                "YINGJI_INSTANCE": str(folder), "PYTHONUNBUFFERED": "1", "SCHEDULER_INTERVAL": "0.2"})
    procs = Processes(folder)
    try:
        p1, p2 = free_port(), free_port()
        gunicorn_env = dict(env, YINGJI_BIND=f"127.0.0.1:{p1}", YINGJI_THREADS="32",
                            YINGJI_CONTROL_SOCKET=str(folder / "gunicorn-1.ctl"))
        s1 = procs.start("server1-gunicorn", [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"], gunicorn_env)
        s2 = procs.start("server2-serve", [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port",
                                           str(p2)], env)
        wait_http(f"http://127.0.0.1:{p1}/login", *s1)
        wait_http(f"http://127.0.0.1:{p2}/login", *s2)
        yield {"server1": f"http://127.0.0.1:{p1}", "server2": f"http://127.0.0.1:{p2}", "tokens": tokens,
               "env": env, "procs": procs}
    finally:
        procs.close()


class Board:
    """A python-socketio client on /board keeping what it is sent."""

    def __init__(self, url: str, token: str) -> None:
        self.received: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("hello", lambda d: self.received.put(("hello", d)), namespace=NS)
        self.client.on("board", lambda d: self.received.put(("board", d)), namespace=NS)
        self.client.connect(url, namespaces=[NS], transports=["websocket"], auth={"token": token},
                            headers={"Authorization": f"Bearer {token}"}, wait_timeout=WAIT)
        self.hello = self.next("hello")

    def next(self, kind: str = "board", timeout: float = WAIT) -> dict:
        try:
            got, data = self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} message within {timeout} s") from None
        assert got == kind, (got, data)
        return data

    def until(self, predicate, timeout: float) -> dict:
        """Return the first board message that matches, within `timeout` seconds."""
        end = time.monotonic() + timeout
        while True:
            message = self.next("board", timeout=max(0.01, end - time.monotonic()))
            if predicate(message):
                return message

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def post(base: str, path: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 201
        return json.loads(r.read())


def test_a_change_made_on_one_server_reaches_a_board_on_the_other(layout):
    food = Board(layout["server1"], layout["tokens"]["food"])  # on gunicorn
    leader = Board(layout["server2"], layout["tokens"]["leader"])  # on flask serve, where the change is made
    try:
        start = food.hello["rooms"]["dept:food_coord"]
        incident = post(layout["server2"], "/api/v1/incidents", layout["tokens"]["office"],
                        incident_payload(title="另一进程登记的事件",
                                         discovered_at=datetime.now(timezone.utc).isoformat()))
        message = food.next()
        assert (message["room"], message["seq"], message["event"]) == ("dept:food_coord", start + 1, "incident")
        assert message["data"]["incident"]["id"] == incident["id"]
        local = leader.next()
        assert (local["room"], local["key"]) == ("overview", message["key"])
    finally:
        food.close()
        leader.close()


def test_a_clock_fired_by_the_scheduler_process_reaches_the_boards(layout):
    food = Board(layout["server1"], layout["tokens"]["food"])
    try:
        # Discovered two hours ago: the one-hour initial report is overdue at once.
        discovered = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
        incident = post(layout["server2"], "/api/v1/incidents", layout["tokens"]["office"],
                        incident_payload(title="已超时的事件", discovered_at=discovered))
        registered = food.next()
        assert registered["event"] == "incident"

        procs: Processes = layout["procs"]
        sched, log = procs.start("scheduler", [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                                 layout["env"])
        wait_line(log, "scheduler running", sched)
        assert "board push: through redis://" in log.read_text()

        clock = food.until(lambda m: m["event"] == "clock", timeout=START_WAIT)
        assert clock["room"] == "dept:food_coord"
        assert clock["seq"] == registered["seq"] + 1
        assert clock["data"]["what"] == "overdue"
        assert clock["data"]["deadline"]["kind"] == "initial_report"
        assert clock["data"]["deadline"]["id"] in [d["id"] for d in incident["deadlines"]]
    finally:
        food.close()
