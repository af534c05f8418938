"""The local demo's second bureau: the city bureau's Yingji beside the county's, wired to each other.

`flask demo serve-bureaus` (what `make run` runs) prepares the city's own instance folder, database
and plan (incidents/plan/plans/zhengzhou-city-2021.yaml), gives it its demo users, registers each
bureau's key and address with the other (as `flask peers key` / `flask peers add` would), starts the
city on CITY_PORT as a child process and serves the county in the foreground. The county's reports to
郑州市市场监督管理局 then arrive on the city's office board; the city's 签收 comes back.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from app import config as config_module
from app import peering
from app.demo import DEMO_PASSWORD, LOADER
from incidents.models import User
from incidents.plan.model import DEFAULT_PLAN_FILE
from incidents.people.users import create_user
from incidents.response import peers

CITY_PLAN = DEFAULT_PLAN_FILE.parent / "zhengzhou-city-2021.yaml"
CITY_DIR = config_module.INSTANCE / "city"
CITY_USERS = (
    # login, name, role, unit, phone
    ("leader", "郑州市局领导", "leader", None, "+8613800000030"),
    ("office", "郑州市局应急值班", "office", "office", "+8613800000031"),
    ("viewer", "市局观察员", "viewer", None, None),
)


def city_environment(port: int) -> dict[str, str]:
    """Return the environment of the city's process: its own instance folder, database, plan and cookie."""
    env = dict(os.environ)
    env.update(YINGJI_INSTANCE=str(CITY_DIR), PLAN_FILE=str(CITY_PLAN),
               DATABASE_URL=f"sqlite:///{CITY_DIR / 'yingji.db'}", SESSION_COOKIE_NAME="yingji_city",
               YINGJI_DEMO_PORT=str(port))
    for name in ("SECRET_KEY", "AUDIT_KEY", "PII_KEY", "PEER_PRIVATE_KEY", "PEER_PRIVATE_KEY_FILE", "AUDIT_HEAD_FILE"):
        env.pop(name, None)  # the city keeps its own, generated in its own instance folder
    return env


def _flask(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], env=env, input=stdin,
                          capture_output=True, text=True, check=False, cwd=config_module.ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} (city) failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def load_city_users(app: Flask) -> list[str]:
    """Create the city's demo users once (run inside the city's app); return what was done."""
    wiring = app.extensions["yingji"]
    with wiring.sessions() as session:
        if session.scalar(select(User.id).where(User.login == "leader")) is not None:
            return ["city demo users already there"]
        for login, name, role, unit, phone in CITY_USERS:
            create_user(session, wiring.plan, name=name, role=role, unit=unit, phone=phone, login=login,
                        password=DEMO_PASSWORD, now=wiring.clock.now() - timedelta(days=30), actor=LOADER)
        session.commit()
    return [f"city demo users: {', '.join(u[0] for u in CITY_USERS)} (password {DEMO_PASSWORD})"]


def prepare(app: Flask, *, host: str, port: int, city_port: int) -> dict[str, str]:
    """Migrate the city, load its users, register each bureau with the other; return the city's environment."""
    env = city_environment(city_port)
    CITY_DIR.mkdir(parents=True, exist_ok=True)
    CITY_DIR.chmod(0o700)
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "city-users")
    fields = dict(line.split("\t", 1) for line in _flask(env, "peers", "key").splitlines() if "\t" in line)
    wiring = app.extensions["yingji"]
    with wiring.sessions() as session:
        peers.add(session, code=fields["code"], name=fields["name"], url=f"http://{host}:{city_port}",
                  key_id=fields["key-id"], public_key=fields["public-key"], actor=LOADER, now=wiring.clock.now())
        session.commit()
    me = peering.identity(app)
    _flask(env, "peers", "add", me.code, "--name", me.name, "--url", f"http://{host}:{port}",
           "--key-id", me.key_id, "--public-key", me.public_key())
    return env


def start_city(env: dict, *, host: str, city_port: int) -> subprocess.Popen:
    """Start the city's server as a child process, stopped when this process exits."""
    child = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--host", host,
                              "--port", str(city_port)], env=env, cwd=config_module.ROOT)

    def stop() -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop)
    return child


def city_url(host: str, city_port: int) -> str:
    """Return where the city's boards are."""
    return f"http://{host}:{city_port}/"

