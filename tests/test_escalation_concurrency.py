"""Two walkers at once over the same due steps: every message goes out once, bundled per phone."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from app.jobs.clocks import walker_for
from incidents.response import assignments, service
from incidents.people import duty
from incidents.models import Delivery, Escalation, User
from incidents.kernel.actors import SystemActor
from tests.helpers import incident_payload
from tests.twilio_stub import twilio_stub  # noqa: F401 - fixture

DEPARTMENTS = ["catering", "food_circulation", "food_production", "drugs", "special_equipment", "prices",
               "metrology", "enforcement", "anti_unfair", "online", "advertising", "product_quality"]
LOADER = SystemActor(name="tests")


def _phone(i: int) -> str:
    return f"+86139000000{i:02d}"


def test_two_walkers_send_each_message_once(app, wiring, clock, users, twilio_stub):  # noqa: F811
    app.config.update(twilio_stub.settings())
    t0 = clock.now()
    with wiring.sessions() as session:
        office = session.get(User, users["office"].id)
        body = incident_payload(station=None)
        facts = service.NewIncident(**{k: body[k] for k in ("title", "category", "location", "station", "source",
                                                           "nature", "scope", "trend", "measures_taken",
                                                           "casualties")},
                                    discovered_at=t0, level="I", level_reason="测试")
        incident = service.register_incident(session, wiring.plan, facts=facts, actor=office, now=t0)
        for i, code in enumerate(DEPARTMENTS):
            duty.add_shift(session, wiring.plan, department=code, starts_at=t0 - timedelta(hours=1),
                           ends_at=t0 + timedelta(hours=2), officer_name=f"值班{i}", phone=_phone(i), actor=LOADER,
                           now=t0)
            for n in range(2):
                assignments.assign(session, incident_id=incident.id, department=code, task=f"任务{n}", actor=office,
                                   now=t0)
        session.commit()
    for i in range(len(DEPARTMENTS)):
        twilio_stub.expect_sms(_phone(i), "您有2项待签收")

    clock.set(t0 + timedelta(minutes=2))
    walkers = [walker_for(app, workers=4) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(walker) -> None:
        try:
            start.wait()
            for _ in range(5):
                walker.cycle()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in walkers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for w in walkers:
        w.close()
    assert not errors, errors
    assert twilio_stub.problems() == []
    with wiring.sessions() as session:
        sms = session.scalars(select(Delivery).where(Delivery.channel == "sms")).all()
        assert len(sms) == 2 * len(DEPARTMENTS)
        assert sorted({d.status for d in sms}) == ["bundled", "queued"]
        steps = session.scalars(select(Escalation.next_step)).all()
        assert steps == [2] * len(steps) == [2] * 2 * len(DEPARTMENTS)
        assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.channel == "board")) == \
            2 * len(DEPARTMENTS)
