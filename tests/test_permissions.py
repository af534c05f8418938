"""Who may do what: roles per action, the plan's enders per level, units for officers and stations."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from incidents.models import AuditEntry, Incident
from tests.helpers import approve_summary, incident_payload, iso


def register(user, clock, **overrides) -> int:
    r = user.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), **overrides))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def grade(users, iid, level):
    r = users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": level, "reason": "定级"})
    assert r.status_code == 200, r.get_json()


def activate(users, iid, hq: dict | None = None):
    r = users["leader"].post(f"/api/v1/incidents/{iid}/activate", json=hq)
    assert r.status_code == 200, r.get_json()
    # The leadership approves the summary, so only the ender's role is left to decide the end.
    approve_summary(users["office"], users["leader"], iid)


def listed(user) -> set[int]:
    r = user.get("/api/v1/incidents")
    assert r.status_code == 200, r.get_json()
    return {i["id"] for i in r.get_json()["incidents"]}


def status_of(users, iid) -> str:
    return users["office"].get(f"/api/v1/incidents/{iid}").get_json()["status"]


def audit_count(wiring) -> int:
    # A refusal is itself audited (user.forbidden); nothing else of a refused request is kept.
    with wiring.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action != "user.forbidden"))


@pytest.fixture
def two_incidents(users, clock):
    """A food-poisoning event (lead food_coord, station chengguan) and a price anomaly (lead prices, station hansi)."""
    food = register(users["office"], clock)
    prices = register(users["office"], clock, title="某超市哄抬物价", category="price_anomaly", station="hansi",
                      nature="哄抬物价")
    return food, prices


# --- duty officers ---------------------------------------------------------------------


def test_duty_officer_sees_only_their_departments_incidents(users, two_incidents):
    food, prices = two_incidents
    assert listed(users["food"]) == {food}
    assert listed(users["prices"]) == {prices}
    assert users["food"].get(f"/api/v1/incidents/{food}").status_code == 200
    for path in (f"/api/v1/incidents/{prices}", f"/api/v1/incidents/{prices}/audit"):
        r = users["food"].get(path)
        assert r.status_code == 404, r.get_json()
        assert r.get_json()["error"]["code"] == "not_found"
    assert users["prices"].get(f"/api/v1/incidents/{food}").status_code == 404
    # The other roles of the bureau see both.
    for role in ("leader", "commander", "office", "viewer"):
        assert listed(users[role]) >= {food, prices}, role


def test_duty_officer_cannot_act_on_another_departments_incident(users, clock, two_incidents):
    food, prices = two_incidents
    grade(users, prices, "III")
    activate(users, prices)
    r = users["food"].post(f"/api/v1/incidents/{prices}/reports", json={"kind": "progress", "body": "续报"})
    assert r.status_code == 404  # as if it did not exist
    r = users["prices"].post(f"/api/v1/incidents/{prices}/reports", json={"kind": "progress", "body": "续报"})
    assert r.status_code == 201, r.get_json()


def test_support_department_officer_joins_an_activated_response(users, make_user, two_incidents):
    food, _ = two_incidents
    publicity = make_user("duty_officer", "publicity")
    assert food not in listed(publicity)
    grade(users, food, "II")
    activate(users, food)
    assert food in listed(publicity)  # plan §二(二): support departments join every activated response


def test_duty_officer_cannot_grade_or_activate(users, two_incidents):
    food, _ = two_incidents
    r = users["food"].post(f"/api/v1/incidents/{food}/level", json={"level": "II", "reason": "x"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    grade(users, food, "II")
    assert users["food"].post(f"/api/v1/incidents/{food}/activate").status_code == 403
    assert status_of(users, food) == "registered"


# --- stations ------------------------------------------------------------------------------


def test_station_registers_for_its_own_station(users, clock):
    station = users["station"]  # chengguan
    r = station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), station="hansi"))
    assert r.status_code in (400, 403), r.get_json()
    assert "所" in r.get_json()["error"]["message"]
    # Without a station the station's own is taken.
    body = incident_payload(discovered_at=iso(clock.now()))
    del body["station"]
    r = station.post("/api/v1/incidents", json=body)
    assert r.status_code == 201 and r.get_json()["station"] == "chengguan"


def test_station_sees_only_its_own_incidents(users, make_user, two_incidents):
    food, prices = two_incidents
    hansi = make_user("station", "hansi")
    assert listed(users["station"]) == {food}
    assert listed(hansi) == {prices}
    assert hansi.get(f"/api/v1/incidents/{food}").status_code == 404


def test_station_files_initial_report_only_for_its_own(users, make_user, two_incidents):
    food, _ = two_incidents
    hansi = make_user("station", "hansi")
    r = hansi.post(f"/api/v1/incidents/{food}/reports", json={"kind": "initial", "body": "初报"})
    assert r.status_code in (403, 404)
    r = users["station"].post(f"/api/v1/incidents/{food}/reports", json={"kind": "initial", "body": "初报"})
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("level", ["I", "II", "III", "IV"])
def test_station_cannot_end_an_emergency(users, clock, level):
    iid = register(users["station"], clock)
    grade(users, iid, level)
    activate(users, iid)
    r = users["station"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 403, r.get_json()
    assert status_of(users, iid) == "active"


# --- viewers ----------------------------------------------------------------------------------


def test_viewer_cannot_change_anything(wiring, users, clock):
    viewer = users["viewer"]
    iid = register(users["office"], clock)
    grade(users, iid, "II")
    activate(users, iid)
    before = (users["office"].get(f"/api/v1/incidents/{iid}").get_json(), audit_count(wiring))
    attempts = [
        ("/api/v1/incidents", incident_payload(discovered_at=iso(clock.now()))),
        (f"/api/v1/incidents/{iid}/level", {"level": "I", "reason": "x"}),
        (f"/api/v1/incidents/{iid}/activate", None),
        (f"/api/v1/incidents/{iid}/reports", {"kind": "progress", "body": "x"}),
        (f"/api/v1/incidents/{iid}/reports", {"kind": "initial", "body": "x"}),
        (f"/api/v1/incidents/{iid}/measures", {"measure": "measures_issued", "body": "x"}),
        (f"/api/v1/incidents/{iid}/end", {"reason": "x"}),
        (f"/api/v1/incidents/{iid}/archive", None),
    ]
    for url, body in attempts:
        r = viewer.post(url, json=body)
        assert r.status_code in (403, 409), (url, r.get_json())
        if r.status_code == 409:  # a state check that came first must still not let the viewer through
            continue
        assert r.get_json()["error"]["code"] == "forbidden", url
    assert (users["office"].get(f"/api/v1/incidents/{iid}").get_json(), audit_count(wiring)) == before
    # But the viewer reads everything.
    assert viewer.get(f"/api/v1/incidents/{iid}").status_code == 200
    assert iid in listed(viewer)
    assert viewer.get("/api/v1/accountability").status_code == 200


# --- the end of the emergency (plan §五(一)) -----------------------------------------------------


@pytest.mark.parametrize("level", ["I", "II"])
def test_leader_ends_levels_one_and_two(users, clock, level):
    iid = register(users["office"], clock)
    grade(users, iid, level)
    activate(users, iid)
    r = users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 403, r.get_json()
    r = users["leader"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "ended"


@pytest.mark.parametrize("level", ["III", "IV"])
def test_commander_ends_levels_three_and_four(users, clock, level):
    iid = register(users["office"], clock)
    grade(users, iid, level)
    # Ⅲ: as the 总指挥 of the command HQ the leadership named (plan §三(三)); Ⅳ needs no HQ.
    hq = {"commander": users["commander"].id} if level == "III" else None
    activate(users, iid, hq)
    r = users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "ended"


def test_a_commander_ends_a_level_three_only_once_named_its_commander(users, clock):
    iid = register(users["office"], clock)
    grade(users, iid, "III")
    activate(users, iid)
    r = users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "no_command_hq", r.get_json()
    assert status_of(users, iid) == "active"
    r = users["leader"].post(f"/api/v1/incidents/{iid}/command-hq", json={"commander": users["commander"].id})
    assert r.status_code == 200, r.get_json()
    r = users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 200, r.get_json()


def test_the_ender_follows_a_regrade(users, clock):
    iid = register(users["office"], clock)
    grade(users, iid, "III")
    activate(users, iid, {"commander": users["commander"].id})
    grade(users, iid, "II")  # escalated during the response: now the leadership group ends it
    assert users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"}).status_code == 403
    assert users["leader"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"}).status_code == 200


@pytest.mark.parametrize("role", ["office", "food", "viewer", "admin"])
def test_other_roles_cannot_end(users, clock, role):
    iid = register(users["office"], clock)
    grade(users, iid, "IV")
    activate(users, iid)
    r = users[role].post(f"/api/v1/incidents/{iid}/end", json={"reason": "结束"})
    assert r.status_code == 403, r.get_json()
    assert status_of(users, iid) == "active"


# --- activation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["commander", "office", "station", "food", "viewer", "admin"])
def test_only_the_leader_activates(users, clock, role):
    iid = register(users["station"], clock)
    grade(users, iid, "II")
    r = users[role].post(f"/api/v1/incidents/{iid}/activate")
    assert r.status_code == 403, r.get_json()
    assert status_of(users, iid) == "registered"
    activate(users, iid)
    assert status_of(users, iid) == "active"


# --- accountability ------------------------------------------------------------------------------


def test_accountability_for_a_duty_officer_is_their_unit_only(users, clock, two_incidents):
    food, prices = two_incidents
    for iid in (food, prices):
        grade(users, iid, "II")
        activate(users, iid)
    clock.advance(days=5)  # everything overdue

    r = users["food"].get("/api/v1/accountability")
    assert r.status_code == 200, r.get_json()
    acc = r.get_json()
    assert {d["department"] for d in acc["by_department"]} == {"food_coord"}
    assert {i["incident_id"] for i in acc["by_incident"]} == {food}
    assert acc["totals"]["missed"] >= 1

    assert users["food"].get("/api/v1/accountability?department=prices").status_code == 403
    assert users["food"].get("/api/v1/accountability?department=food_coord").status_code == 200
    assert users["food"].get(f"/api/v1/accountability?incident={prices}").status_code in (403, 404)

    # The office sees every unit, and may narrow to one.
    everything = users["office"].get("/api/v1/accountability").get_json()
    assert {"food_coord", "prices", "chengguan", "hansi"} <= {d["department"] for d in everything["by_department"]}
    narrowed = users["office"].get("/api/v1/accountability?department=prices").get_json()
    assert {d["department"] for d in narrowed["by_department"]} == {"prices"}


def test_accountability_for_a_station_is_its_own_only(users, clock, two_incidents):
    clock.advance(hours=2)  # both initial reports missed
    acc = users["station"].get("/api/v1/accountability").get_json()
    assert {d["department"] for d in acc["by_department"]} == {"chengguan"}
    assert users["station"].get("/api/v1/accountability?department=hansi").status_code == 403


def test_admin_manages_users_but_does_not_run_incidents(wiring, users, clock):
    with wiring.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Incident))
    r = users["admin"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    assert r.status_code == 403
    with wiring.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == before


@pytest.mark.parametrize("role", ["station", "food"])
def test_a_role_that_may_not_grade_cannot_grade_through_registration(wiring, users, clock, role):
    """Grading is for the office, the command HQ and the leadership group; registering must not bypass it."""
    user = users[role]
    with wiring.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Incident))
    assert user.post("/api/v1/incidents", json={"level": "II", "reason": "x"}).status_code in (400, 403)
    r = user.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level="I",
                                                             level_reason="所里认为特别重大"))
    if r.status_code == 201:
        assert r.get_json()["level"] is None, "a role without the grade permission set the level"
    else:
        assert r.status_code == 403, r.get_json()
        with wiring.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == before
