"""Fixtures: every database test runs on SQLite and on PostgreSQL, with a fake clock.

PostgreSQL comes from TEST_PG_URL (default: the local server, database `test`). A run
with CI=true fails, never skips, when PostgreSQL is missing.
"""
from __future__ import annotations

import gc
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from app import create_app
from app.migrate import upgrade
from incidents.kernel.db import Base
import incidents.models  # noqa: F401 - every table on Base.metadata
from incidents.kernel.clock import FakeClock
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.openapi_check import ContractClient

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
TEST_PII_KEY = "test-pii-key-0123456789abcdef0123456789abcdef"
START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing time
# The stories move the fake clock by hours and days with a browser left signed in: their login
# sessions and passwords do not time out. tests/test_login_security.py puts the real limits back.
TIME_TRAVEL = {"SESSION_IDLE_MINUTES": 10**7, "SESSION_LIFETIME_HOURS": 10**6, "PASSWORD_MAX_AGE_DAYS": 0}
# Nor are the fixture users forced to enrol a second factor (one who enrolled is still asked for it):
# tests/test_two_factor.py puts the default roles back.
NO_FORCED_SECOND_FACTOR = {"TWO_FACTOR_ROLES": ""}
# Every table of the schema: a new one is emptied between tests without being listed.
TABLES = tuple(t.name for t in Base.metadata.sorted_tables)


def service_missing(what: str, exc: BaseException) -> None:
    """Fail under CI, skip on a developer's machine, when a service is not reachable."""
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def api_contract():
    """Check every /api/v1 response of every app's test client against the OpenAPI document."""
    # Set on Flask itself, not only in the `app` fixture, because several tests build their own app.
    Flask.test_client_class = ContractClient
    yield
    Flask.test_client_class = None


@contextmanager
def scratch_pg_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        service_missing("PostgreSQL", exc)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this run, migrated to head."""
    with scratch_pg_database("yingji_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def pg_city_database():
    """A second PostgreSQL database for this run, for a second bureau's Yingji (tests/bureaus.py)."""
    with scratch_pg_database("yingji_city") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """Migrate one SQLite file to head; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "yingji.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def clock():
    """A fake clock starting at 2026-11-20 09:00 Beijing time."""
    return FakeClock(START)


@pytest.fixture
def app(db_url, clock, tmp_path):
    """The app on a test database, with the fake clock and no background scheduler."""
    application = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                              "SCHEDULER": "off", "AUDIT_KEY": TEST_AUDIT_KEY, "PII_KEY": TEST_PII_KEY,
                              # A PDF asked for waits for its briefing: on a loaded CI machine longer than 10 s.
                              "REPORTS_WAIT": 120,
                              "AUDIT_HEAD_FILE": str(tmp_path / "audit_heads.log"), **TIME_TRAVEL,
                              **NO_FORCED_SECOND_FACTOR})
    yield application
    application.extensions["yingji"].engine.dispose()


@pytest.fixture
def wiring(app):
    """The app's database, plan and clock."""
    return app.extensions["yingji"]


@dataclass
class ApiUser:
    """A user with a token and a client that sends it."""

    id: int
    role: str
    unit: str | None
    token: str
    client: object

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw):
        return self.client.get(url, headers=self._headers(), **kw)

    def post(self, url: str, json=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(), **kw)


@pytest.fixture
def make_user(app, wiring):
    """Create users of any role and get API clients for them."""
    counter = iter(range(1, 10_000))

    def make(role: str, unit: str | None = None, phone: str | None = None, password: str | None = None) -> ApiUser:
        with wiring.sessions() as session:
            user, token = create_user(session, wiring.plan, name=f"{role}{next(counter)}", role=role, unit=unit,
                                      phone=phone, password=password, now=wiring.clock.now(),
                                      actor=SystemActor(name="tests"))
            session.commit()
            return ApiUser(user.id, role, unit, token, app.test_client())

    return make


@pytest.fixture
def users(make_user):
    """One user of each role the scenarios need."""
    return {
        "leader": make_user("leader"),
        "commander": make_user("commander"),
        "office": make_user("office", "office"),
        "station": make_user("station", "chengguan"),
        "food": make_user("duty_officer", "food_coord", "+8613800000001"),
        "prices": make_user("duty_officer", "prices", "+8613800000002"),
        "viewer": make_user("viewer"),
        "admin": make_user("admin"),
    }


def repo_root() -> Path:
    """Return the repository's top folder."""
    return Path(__file__).resolve().parent.parent


def pytest_unconfigure(config) -> None:
    """Spare the interpreter's last full garbage collection over what two thousand tests left in memory.

    After the summary, the run's few gigabytes of objects (apps, engines, pages parsed) are going anyway;
    collecting them one last time at exit took minutes of a CI run that had already finished.
    """
    gc.freeze()
