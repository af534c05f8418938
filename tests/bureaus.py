"""Two bureaus' Yingji in one test: the county (this app) and the city on a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app import create_app, peering
from app.jobs import sending as sending_job
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from incidents.plan.model import DEFAULT_PLAN_FILE
from incidents.response import peers
from tests.conftest import NO_FORCED_SECOND_FACTOR, TABLES, TEST_AUDIT_KEY, TEST_PII_KEY, TIME_TRAVEL, ApiUser

CITY_PLAN = DEFAULT_PLAN_FILE.parent / "zhengzhou-city-2021.yaml"
TESTS = SystemActor(name="tests")


class Server:
    """A WSGI app served on 127.0.0.1 in a thread; stop and start it again on the same port."""

    def __init__(self, application) -> None:
        self.application = application
        self.port = 0
        self.server = None
        self.thread = None

    def start(self) -> "Server":
        self.server = make_server("127.0.0.1", self.port, self.application, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_app(db_url: str, clock, tmp_path, plan_file=None, **extra):
    """An app like the `app` fixture's, on its own database and plan."""
    config = {"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test", "SCHEDULER": "off",
              "AUDIT_KEY": TEST_AUDIT_KEY, "PII_KEY": TEST_PII_KEY, "AUDIT_HEAD_FILE": str(tmp_path / "heads.log"),
              "PEER_PRIVATE_KEY_FILE": None, **TIME_TRAVEL, **NO_FORCED_SECOND_FACTOR, **extra}
    if plan_file is not None:
        config["PLAN_FILE"] = str(plan_file)
    return create_app(config)


def user(application, role: str, unit: str | None = None) -> ApiUser:
    """A user of an app, with an API client."""
    wiring = application.extensions["yingji"]
    with wiring.sessions() as session:
        row, token = create_user(session, wiring.plan, name=f"{role}-{unit or ''}", role=role, unit=unit,
                                 now=wiring.clock.now(), actor=TESTS)
        session.commit()
        return ApiUser(row.id, role, unit, token, application.test_client())


def introduce(a, b, *, b_url: str | None) -> None:
    """Register bureau b (its key, and its address if given) in bureau a."""
    me = peering.identity(b)
    wiring = a.extensions["yingji"]
    with wiring.sessions() as session:
        peers.add(session, code=me.code, name=me.name, url=b_url, key_id=me.key_id, public_key=me.public_key(),
                  actor=TESTS, now=wiring.clock.now())
        session.commit()


def send(application) -> int:
    """Run the sender of an app once (what the scheduler does every DISPATCH_EVERY)."""
    return sending_job.send_due(application)


@dataclass
class Pair:
    """A county and its city bureau, each with its users."""

    county: object
    city: object
    server: Server
    users: dict = field(default_factory=dict)


@contextmanager
def second_database(kind: str, request, tmp_path):
    """A second migrated, empty database of the same kind as the test's."""
    if kind == "sqlite":
        path = tmp_path / "city.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_city_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def city(request, db_url, clock, tmp_path):
    """The city bureau's Yingji on its own database (of the test's kind) and plan, served on 127.0.0.1."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    with second_database(kind, request, tmp_path) as url:
        application = make_app(url, clock, tmp_path, plan_file=CITY_PLAN)
        server = Server(application).start()
        yield application, server
        server.stop()
        application.extensions["yingji"].engine.dispose()


@pytest.fixture
def bureaus(app, city, users):
    """The county (the test's app) and the city, each registered with the other: (county, city, city's server)."""
    city_app, server = city
    introduce(app, city_app, b_url=server.url)
    county_server = Server(app).start()
    introduce(city_app, app, b_url=county_server.url)
    yield app, city_app, server
    county_server.stop()
