"""Assignments: standard ones at activation, the board's acknowledge → progress → done, decline."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from incidents.models import BoardEvent
from tests.helpers import by_kind, incident_payload, iso


def _activated_level_two(users, clock) -> dict:
    office, leader = users["office"], users["leader"]
    body = incident_payload(discovered_at=iso(clock.now()), level="II", level_reason="重大食物中毒")
    iid = office.post("/api/v1/incidents", json=body).get_json()["id"]
    r = leader.post(f"/api/v1/incidents/{iid}/activate")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_activation_creates_the_plans_standard_assignments(users, clock):
    inc = _activated_level_two(users, clock)
    got = {(a["department"], a["clock"]) for a in inc["assignments"]}
    assert got == {("food_coord", "measures_issued"), ("food_coord", "work_team_dispatched"), ("office", None),
                   ("publicity", None), ("finance", None), ("personnel", None), ("legal", None)}
    clocks = by_kind(inc["deadlines"])
    work_team = [a for a in inc["assignments"] if a["clock"] == "work_team_dispatched"][0]
    assert work_team["due_at"] == clocks["work_team_dispatched"]["due_at"]
    assert work_team["status"] == "pushed" and work_team["standard"] is True


def test_regrade_to_one_adds_the_command_meeting_assignment(users, clock):
    office, leader = users["office"], users["leader"]
    body = incident_payload(discovered_at=iso(clock.now()), category="price_anomaly", level="III")
    iid = office.post("/api/v1/incidents", json=body).get_json()["id"]
    leader.post(f"/api/v1/incidents/{iid}/activate")
    clock.advance(hours=1)
    inc = office.post(f"/api/v1/incidents/{iid}/level", json={"level": "I", "reason": "全县抢购"}).get_json()
    meeting = [a for a in inc["assignments"] if a["clock"] == "command_meeting"]
    assert len(meeting) == 1 and meeting[0]["department"] == "prices"
    assert meeting[0]["due_at"] == iso(clock.now() + timedelta(hours=12))


def test_duty_officer_acknowledges_progresses_and_completes_which_meets_the_clock(users, clock, wiring):
    inc = _activated_level_two(users, clock)
    food = users["food"]
    task = [a for a in inc["assignments"] if a["clock"] == "work_team_dispatched"][0]
    aid = task["id"]
    # Not acknowledged yet: work cannot be reported.
    r = food.post(f"/api/v1/assignments/{aid}/done", json={"note": "已完成"})
    assert r.status_code == 409 and "签收" in r.get_json()["error"]["message"]
    clock.advance(minutes=3)
    r = food.post(f"/api/v1/assignments/{aid}/ack")
    assert r.status_code == 200 and r.get_json()["status"] == "acknowledged"
    assert r.get_json()["acknowledged_at"] == iso(clock.now())
    assert food.post(f"/api/v1/assignments/{aid}/ack").get_json()["status"] == "acknowledged"  # idempotent
    r = food.post(f"/api/v1/assignments/{aid}/progress", json={"note": "工作组已出发"})
    assert r.get_json()["status"] == "in_progress"
    clock.advance(hours=5)
    r = food.post(f"/api/v1/assignments/{aid}/done", json={"note": "工作组已到现场调查取证"})
    assert r.get_json()["status"] == "done"
    detail = users["office"].get(f"/api/v1/incidents/{inc['id']}").get_json()
    assert by_kind(detail["deadlines"])["work_team_dispatched"]["status"] == "met"
    assert [r["measure"] for r in detail["reports"] if r["kind"] == "measure"] == ["work_team_dispatched"]
    # Every step was pushed to the department's room and the overview, numbered without gaps.
    with wiring.sessions() as session:
        rows = session.scalars(select(BoardEvent).where(BoardEvent.room == "dept:food_coord")
                               .order_by(BoardEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    whats = [r.payload["what"] for r in rows if r.event == "assignment" and r.payload["assignment"]["id"] == aid]
    assert whats == ["created", "acknowledged", "in_progress", "done"]


def test_decline_goes_to_the_command_with_its_reason(users, clock):
    inc = _activated_level_two(users, clock)
    office_task = [a for a in inc["assignments"] if a["department"] == "office"][0]
    r = users["office"].post(f"/api/v1/assignments/{office_task['id']}/decline", json={"reason": ""})
    assert r.status_code == 400 and "理由" in r.get_json()["error"]["message"]
    r = users["office"].post(f"/api/v1/assignments/{office_task['id']}/decline", json={"reason": "车辆已全部调出"})
    assert r.status_code == 200
    assert r.get_json()["status"] == "declined" and r.get_json()["decline_reason"] == "车辆已全部调出"
    assert r.get_json()["decline_status"] == "not_required"  # no measure hangs on it: nothing to approve
    r = users["office"].post(f"/api/v1/assignments/{office_task['id']}/ack")
    assert r.status_code == 409


def test_a_measures_decline_goes_to_the_command_for_approval(users, clock):
    inc = _activated_level_two(users, clock)
    task = [a for a in inc["assignments"] if a["clock"] == "measures_issued"][0]
    r = users["food"].post(f"/api/v1/assignments/{task['id']}/decline", json={"reason": "需指挥部统一制定"})
    assert r.status_code == 200
    assert r.get_json()["status"] == "decline_requested" and r.get_json()["decline_status"] == "pending"
    # Still the department's until decided: acknowledging it now is refused, approving it closes it.
    assert users["food"].post(f"/api/v1/assignments/{task['id']}/ack").status_code == 409
    r = users["leader"].post(f"/api/v1/assignments/{task['id']}/decline/approve", json={})
    assert r.status_code == 200 and r.get_json()["status"] == "declined"
    assert r.get_json()["decline_status"] == "approved"


def test_only_the_assigned_department_handles_it(users, clock):
    inc = _activated_level_two(users, clock)
    task = [a for a in inc["assignments"] if a["department"] == "food_coord"][0]
    assert users["prices"].post(f"/api/v1/assignments/{task['id']}/ack").status_code == 404
    assert users["commander"].post(f"/api/v1/assignments/{task['id']}/ack").status_code == 403
    assert users["prices"].get("/api/v1/assignments?department=food_coord").status_code == 403
    listed = users["food"].get("/api/v1/assignments").get_json()["assignments"]
    assert {a["department"] for a in listed} == {"food_coord"} and len(listed) == 2


def test_command_assigns_a_task_with_a_due_time_and_bad_input_changes_nothing(users, clock):
    inc = _activated_level_two(users, clock)
    iid, commander = inc["id"], users["commander"]
    before = len(users["office"].get(f"/api/v1/incidents/{iid}").get_json()["assignments"])
    for body, status in [({"department": "nowhere", "task": "x"}, 400), ({"department": "prices"}, 400),
                         ({"department": "prices", "task": "核查", "due_at": iso(clock.now() - timedelta(hours=1))}, 400),
                         ({"department": "prices", "task": "核查", "due_at": "明天"}, 400)]:
        r = commander.post(f"/api/v1/incidents/{iid}/assignments", json=body)
        assert r.status_code == status and r.get_json()["error"]["message"]
    assert users["station"].post(f"/api/v1/incidents/{iid}/assignments",
                                 json={"department": "prices", "task": "核查"}).status_code in (403, 404)
    assert len(users["office"].get(f"/api/v1/incidents/{iid}").get_json()["assignments"]) == before
    due = clock.now() + timedelta(hours=6)
    r = commander.post(f"/api/v1/incidents/{iid}/assignments",
                       json={"department": "prices", "task": "核查周边市场价格", "due_at": iso(due)})
    assert r.status_code == 201
    assert r.get_json()["status"] == "pushed" and r.get_json()["due_at"] == iso(due)
    assert r.get_json()["id"] > 0


def test_a_measure_reported_directly_closes_its_assignment(users, clock):
    inc = _activated_level_two(users, clock)
    r = users["office"].post(f"/api/v1/incidents/{inc['id']}/measures",
                             json={"measure": "measures_issued", "body": "应对措施已下发"})
    assert r.status_code == 201
    tasks = {a["clock"]: a for a in r.get_json()["incident"]["assignments"] if a["clock"]}
    assert tasks["measures_issued"]["status"] == "done"
    assert tasks["measures_issued"]["done_note"] == "应对措施已下发"
    assert tasks["work_team_dispatched"]["status"] == "pushed"


def test_a_duty_officer_sees_the_incident_they_registered_for_another_department(users, clock):
    body = incident_payload(title="价格异常", category="price_anomaly", discovered_at=iso(clock.now()))
    r = users["food"].post("/api/v1/incidents", json=body)
    assert r.status_code == 201 and r.get_json()["lead_department"] == "prices"
    assert users["food"].get(f"/api/v1/incidents/{r.get_json()['id']}").status_code == 200
    assert users["food"].post(f"/api/v1/incidents/{r.get_json()['id']}/reports",
                              json={"kind": "progress", "body": "x"}).status_code == 403
