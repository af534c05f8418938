"""A 12315 time limit about to run out escalates like a clock: board, then SMS, then the head."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.jobs.clocks import tick, walker_for
from incidents import complaints, escalation
from incidents.models import ComplaintLimitRow
from tests.helpers import Recorder, iso
from tests.test_complaints import submit
from tests.twilio_stub import twilio_stub  # noqa: F401 - fixture

CATERING = "+8613900000002"
HEAD = "+8613900000009"
WARN = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)  # Mon 30 Nov 01:00 Beijing: 2 working days left


def test_a_limit_about_to_run_out_escalates_and_handling_it_tells_those_alerted(
        app, wiring, clock, make_user, twilio_stub):  # noqa: F811
    app.config.update(twilio_stub.settings())
    centre = make_user("duty_officer", "complaints", "+8613900000001")
    catering = make_user("duty_officer", "catering", CATERING)
    make_user("department_head", "catering", HEAD)
    office = make_user("office", "office")
    r = office.post("/api/v1/departments/catering/shifts",
                    json={"starts_at": iso(WARN - timedelta(hours=1)), "ends_at": iso(WARN + timedelta(days=2)),
                          "officer_id": catering.id})
    assert r.status_code == 201, r.get_json()
    client = app.test_client()
    number = submit(client).get_json()["tracking_no"]
    assert centre.post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"}).status_code == 200
    with wiring.sessions() as s:
        limit_id = s.scalar(select(ComplaintLimitRow.id).where(ComplaintLimitRow.kind == "acceptance"))
    walker = walker_for(app, workers=1)

    def at(moment: datetime) -> None:
        clock.set(moment)
        with wiring.sessions() as s:
            complaints.notify_limits(s, wiring.plan, now=clock.now())
            s.commit()
        tick(wiring, Recorder(), walker=walker)

    try:
        at(WARN)
        at(WARN + timedelta(hours=1, minutes=59))
        assert twilio_stub.problems() == []  # the board only, so far
        twilio_stub.expect_sms(CATERING, f"[C{limit_id}]")
        at(WARN + timedelta(hours=2))
        assert twilio_stub.problems() == []
        sms = [r for r in twilio_stub.received if r.kind == "sms"][0].content
        assert sms.startswith(f"【12315】{number}") and "张记烧烤" in sms and "北京时间12月2日00:00前" in sms
        # The department accepts the complaint: the limit is met, the escalation resolved, the officer told.
        twilio_stub.expect_sms(CATERING, "无需再处理")
        r = catering.post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"})
        assert r.status_code == 200, r.get_json()
        at(WARN + timedelta(hours=2, minutes=1))
        at(WARN + timedelta(hours=9))  # the head's SMS would have come at 8 hours
        assert twilio_stub.problems() == []
        with wiring.sessions() as s:
            (esc,) = escalation.history(s, complaint_limit_ids=[limit_id])
        assert esc["status"] == "resolved" and esc["code"] == f"C{limit_id}" and esc["item"].startswith("投诉时限")
    finally:
        walker.close()


def test_a_rerouted_complaint_takes_its_running_escalation_along(app, wiring, clock, make_user,
                                                                 twilio_stub):  # noqa: F811
    app.config.update(twilio_stub.settings())
    centre = make_user("duty_officer", "complaints", "+8613900000001")
    catering = make_user("duty_officer", "catering", CATERING)
    office = make_user("office", "office")
    for department, who in (("catering", catering), ("complaints", centre)):
        r = office.post(f"/api/v1/departments/{department}/shifts",
                        json={"starts_at": iso(WARN - timedelta(hours=1)), "ends_at": iso(WARN + timedelta(days=2)),
                              "officer_id": who.id})
        assert r.status_code == 201, r.get_json()
    number = submit(app.test_client()).get_json()["tracking_no"]
    walker = walker_for(app, workers=1)
    try:
        clock.set(WARN)  # not triaged yet: the acceptance limit, and its escalation, are the centre's
        with wiring.sessions() as s:
            complaints.notify_limits(s, wiring.plan, now=clock.now())
            s.commit()
        tick(wiring, Recorder(), walker=walker)
        r = centre.post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
        assert r.status_code == 200, r.get_json()
        twilio_stub.expect_sms(CATERING, "【12315】")
        clock.set(WARN + timedelta(hours=2))
        tick(wiring, Recorder(), walker=walker)
        assert twilio_stub.problems() == []
        with wiring.sessions() as s:
            (esc,) = escalation.history(s, complaint_limit_ids=[
                s.scalar(select(ComplaintLimitRow.id).where(ComplaintLimitRow.kind == "acceptance"))])
        assert esc["department"] == "catering"
        r = catering.post(f"/api/v1/escalations/{esc['id']}/ack")
        assert r.status_code == 200, r.get_json()
    finally:
        walker.close()
