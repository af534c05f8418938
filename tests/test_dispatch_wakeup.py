"""DISPATCH_WAKE: the commit that queues a dispatch wakes the sender at once (no wait for the scheduler's look).

The county is the test's app, the city a second app served on 127.0.0.1 (tests/bureaus.py). Nothing calls
the sender here: the wake-up's thread sends, and the test waits for it with a bound (a wait for a thread,
not for a deadline).
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from app.jobs import sending as sending_job
from incidents.models import Dispatch, InboundReport
from tests.bureaus import CITY_PLAN, Server, introduce, make_app, second_database, user
from tests.helpers import incident_payload, iso

BOUND = 20.0  # seconds: a limit on waiting for the wake-up's thread


@pytest.fixture
def city(request, db_url, clock, tmp_path):
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    with second_database(kind, request, tmp_path) as url:
        application = make_app(url, clock, tmp_path, plan_file=CITY_PLAN)
        server = Server(application).start()
        yield application, server
        server.stop()
        application.extensions["yingji"].engine.dispose()


def count(application, model, *where) -> int:
    with application.extensions["yingji"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def eventually(probe) -> bool:
    end = time.monotonic() + BOUND
    while not probe():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_a_signed_off_report_and_a_receipt_leave_at_once(app, city, users, clock):
    city_app, server = city
    introduce(app, city_app, b_url=server.url)
    county_server = Server(app).start()
    introduce(city_app, app, b_url=county_server.url)
    try:
        wake = sending_job.send_at_once(app)
        city_wake = sending_job.send_at_once(city_app)
        r = users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level="II"))
        assert r.status_code == 201
        assert wake.thread is None  # nothing queued: nothing woken
        r = users["leader"].post(f"/api/v1/incidents/{r.get_json()['id']}/reports",
                                 json={"kind": "bureau", "body": "已初步核实"})
        assert r.status_code == 201
        assert eventually(lambda: count(city_app, InboundReport) == 1)
        assert eventually(lambda: count(app, Dispatch, Dispatch.status == "sent") == 1)
        # The city's 签收 goes back the same way.
        office = user(city_app, "office", "office")
        inbound = office.get("/api/v1/inbox").get_json()["inbound"][0]
        assert office.post(f"/api/v1/inbox/{inbound['id']}/sign-for", json={}).status_code == 200
        assert eventually(lambda: count(city_app, Dispatch, Dispatch.status == "sent") == 1)
        assert city_wake.thread is not None and wake.thread.is_alive()
    finally:
        county_server.stop()
