"""Firing clocks: exactly once with concurrent schedulers, catch-up after downtime, dispatch."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.jobs.clocks import tick
from incidents.response.firing import dispatch_pending, fire_due
from incidents.models import DeadlineEvent
from tests.helpers import Recorder, incident_payload, iso


def test_a_scheduler_down_for_hours_fires_only_what_is_due_now_once(wiring, clock, users):
    users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    recorder = Recorder()
    tick(wiring, recorder)
    assert recorder.fired == []
    # Down for three hours: both warnings and the due time passed; only the overdue is news now.
    clock.advance(hours=3)
    tick(wiring, recorder)
    tick(wiring, recorder)
    assert recorder.kinds() == [("initial_report", "overdue")]
    assert recorder.fired[0].payload["seconds_left"] == -2 * 3600


def test_down_between_warnings_fires_the_latest_warning_only(wiring, clock, users):
    users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    recorder = Recorder()
    clock.advance(minutes=57)  # past the 15- and 5-minute warnings, before the due time
    tick(wiring, recorder)
    assert [(k, f.payload["seconds_left"]) for (_, k), f in zip(recorder.kinds(), recorder.fired)] == [
        ("warning", 180)]
    clock.advance(minutes=3)
    tick(wiring, recorder)
    assert recorder.kinds()[-1] == ("initial_report", "overdue")
    assert len(recorder.fired) == 2


def test_concurrent_schedulers_fire_each_stage_once(wiring, clock, make_user):
    office = make_user("office", "office")
    for i in range(30):
        office.post("/api/v1/incidents", json=incident_payload(title=f"事件{i}", discovered_at=iso(clock.now())))
    clock.advance(hours=2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                fire_due(wiring.sessions, now=clock.now(), batch=4)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with wiring.sessions() as session:
        counts = session.execute(select(DeadlineEvent.deadline_id, func.count()).group_by(DeadlineEvent.deadline_id)).all()
    # Each event has two clocks past due: the station's hour and the office's own 30 minutes.
    assert len(counts) == 60
    assert {c for _, c in counts} == {1}


def test_dispatch_delivers_each_firing_and_redelivers_after_a_crash(wiring, clock, users):
    users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    clock.advance(hours=2)
    assert fire_due(wiring.sessions, now=clock.now()) == 1

    def crash(_fired) -> None:
        raise RuntimeError("process died while sending")

    try:
        dispatch_pending(wiring.sessions, crash, now=clock.now())
    except RuntimeError:
        pass
    recorder = Recorder()
    dispatch_pending(wiring.sessions, recorder, now=clock.now())
    assert recorder.fired == []  # claimed by the crashed process, lease not yet expired
    clock.advance(minutes=2)
    dispatch_pending(wiring.sessions, recorder, now=clock.now())
    dispatch_pending(wiring.sessions, recorder, now=clock.now())
    assert recorder.kinds() == [("initial_report", "overdue")]
