"""Duty rosters: who is on duty, hand-over to a substitute, swaps, and coverage alerts."""
from __future__ import annotations

from datetime import timedelta

from tests.helpers import iso


def _shift(user, dept, start, hours, **extra):
    body = {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=hours)), **extra}
    return user.post(f"/api/v1/departments/{dept}/shifts", json=body)


def test_on_duty_now_and_hand_over_to_a_named_substitute(users, clock, make_user):
    office = users["office"]
    officer = users["food"]
    r = _shift(office, "food_coord", clock.now() - timedelta(hours=1), 8, officer_id=officer.id)
    assert r.status_code == 201, r.get_json()
    shift = r.get_json()
    assert shift["phone"] == "+8613800000001" and shift["officer_name"]
    now_duty = office.get("/api/v1/departments/food_coord/on-duty").get_json()
    assert now_duty["covered"] is True and [s["id"] for s in now_duty["on_duty"]] == [shift["id"]]

    # Two hours in, the officer hands over to a named substitute (同岗替代).
    clock.advance(hours=2)
    r = officer.post(f"/api/v1/shifts/{shift['id']}/handover",
                     json={"substitute_name": "李替岗", "phone": "+8613900000009", "reason": "家中急事"})
    assert r.status_code == 201, r.get_json()
    sub = r.get_json()
    assert sub["substitute_for"] == shift["id"] and sub["starts_at"] == iso(clock.now())
    on = office.get("/api/v1/departments/food_coord/on-duty").get_json()["on_duty"]
    assert [s["officer_name"] for s in on] == ["李替岗"]
    before = office.get("/api/v1/departments/food_coord/on-duty",
                        query_string={"at": iso(clock.now() - timedelta(minutes=30))})
    assert [s["id"] for s in before.get_json()["on_duty"]] == [shift["id"]]


def test_swap_exchanges_officers(users, clock, make_user):
    office = users["office"]
    other = make_user("duty_officer", "food_coord", "+8613800000099")
    a = _shift(office, "food_coord", clock.now() + timedelta(hours=1), 8, officer_id=users["food"].id).get_json()
    b = _shift(office, "food_coord", clock.now() + timedelta(hours=9), 8, officer_id=other.id).get_json()
    r = office.post("/api/v1/shifts/swap", json={"first": a["id"], "second": b["id"], "reason": "调休"})
    assert r.status_code == 200
    shifts = office.get("/api/v1/departments/food_coord/shifts").get_json()["shifts"]
    assert [(s["id"], s["officer_id"]) for s in shifts] == [(a["id"], other.id), (b["id"], users["food"].id)]


def test_alerts_for_gaps_empty_shifts_and_missing_phones(users, clock, wiring):
    office = users["office"]
    look = wiring.plan.duty.look_ahead
    # The office must be covered round the clock: cover all but 2 hours; one shift has no phone.
    _shift(office, "office", clock.now(), 10, officer_name="张值班", phone="+8613800000100")
    _shift(office, "office", clock.now() + timedelta(hours=12), look.total_seconds() / 3600 - 12,
           officer_name="王值班")
    _shift(office, "complaints", clock.now(), look.total_seconds() / 3600)
    alerts = office.get("/api/v1/duty/alerts").get_json()["alerts"]
    gaps = [(a["department"], a["starts_at"], a["ends_at"]) for a in alerts if a["kind"] == "gap"]
    assert gaps == [("office", iso(clock.now() + timedelta(hours=10)), iso(clock.now() + timedelta(hours=12)))]
    assert {(a["department"], a["kind"]) for a in alerts if a["kind"] != "gap"} == {
        ("office", "no_phone"), ("complaints", "no_officer")}
    assert all(a["message"] for a in alerts)
    assert users["food"].get("/api/v1/duty/alerts").status_code == 403


def test_level_one_response_requires_round_the_clock_cover_of_its_departments(users, clock):
    office, leader = users["office"], users["leader"]
    body = {"title": "禽流感", "category": "epidemic", "discovered_at": iso(clock.now()), "location": "全县",
            "source": "市局通报", "nature": "重大疫情", "level": "I"}
    iid = office.post("/api/v1/incidents", json=body).get_json()["id"]
    before = {a["department"] for a in office.get("/api/v1/duty/alerts").get_json()["alerts"] if a["kind"] == "gap"}
    assert "prices" not in before
    leader.post(f"/api/v1/incidents/{iid}/activate")
    after = {a["department"] for a in office.get("/api/v1/duty/alerts").get_json()["alerts"] if a["kind"] == "gap"}
    assert {"prices", "office", "publicity", "finance", "personnel", "legal"} <= after


def test_roster_bad_input_is_refused(users, clock):
    office = users["office"]
    start = clock.now() + timedelta(hours=1)
    for body in ({"starts_at": iso(start), "ends_at": iso(start - timedelta(hours=1))},
                 {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)), "phone": "13800000000"},
                 {"starts_at": iso(start)},
                 {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)), "officer_id": users["prices"].id}):
        r = office.post("/api/v1/departments/food_coord/shifts", json=body)
        assert r.status_code == 400, body
        assert r.get_json()["error"]["message"]
    assert office.get("/api/v1/departments/food_coord/shifts").get_json()["shifts"] == []
    assert office.get("/api/v1/departments/nowhere/on-duty").status_code == 404
    assert users["prices"].post("/api/v1/departments/food_coord/shifts",
                                json={"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1))}
                                ).status_code == 403


def test_names_longer_than_their_column_are_refused_not_crashed(users, clock):
    office = users["office"]
    r = _shift(office, "food_coord", clock.now(), 8, officer_name="张" * 81)
    assert r.status_code == 400 and r.get_json()["error"]["message"] == "姓名过长（最多80字）"
    shift = _shift(office, "food_coord", clock.now(), 8, officer_name="张" * 80).get_json()
    r = office.post(f"/api/v1/shifts/{shift['id']}/handover", json={"substitute_name": "李" * 81, "reason": "急事"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "substitute_name"


def test_who_hears_of_a_task_when_nobody_is_on_duty(users, clock, make_user, wiring):
    from tests.helpers import incident_payload

    office = users["office"]
    head = make_user("department_head", "prices", "+8613800000555")
    with wiring.sessions() as s:
        from incidents.models import User

        head_name = s.get(User, head.id).name
    assert _shift(office, "food_coord", clock.now() - timedelta(hours=1), 8, officer_name="张值班").status_code == 201
    cover = office.get("/api/v1/duty/cover?departments=prices,food_coord,catering&level=II").get_json()["cover"]
    by = {c["department"]: c for c in cover}
    assert by["food_coord"]["on_duty"] == ["张值班"] and by["food_coord"]["note"] is None
    assert by["prices"]["note"] == f"价格监督检查当前无人值班：任务仍推送到看板，无人签收时将通知科室负责人{head_name}"
    assert by["catering"]["instead_role"] == "领导小组"  # no head: the chain goes on to the leadership
    assert office.get("/api/v1/duty/cover?departments=nowhere").status_code == 404
    iid = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()),
                                                                  level="II")).get_json()["id"]
    task = office.post(f"/api/v1/incidents/{iid}/assignments", json={"department": "prices", "task": "排查"}).get_json()
    assert task["uncovered_note"] == by["prices"]["note"]
    covered = office.post(f"/api/v1/incidents/{iid}/assignments",
                          json={"department": "food_coord", "task": "排查"}).get_json()
    assert covered["uncovered_note"] is None


# --- 同岗替代 with a phone that is not the substitute's on record --------------------------------


def _handover_entries(wiring) -> list[dict]:
    import json

    from sqlalchemy import select

    from incidents.models import AuditEntry

    with wiring.sessions() as s:
        return [json.loads(e.data) for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "shift.handed_over")
                                                     .order_by(AuditEntry.seq))]


def _alerts_pushed(wiring) -> list[tuple[str, dict]]:
    from sqlalchemy import select

    from incidents.models import BoardEvent

    with wiring.sessions() as s:
        return [(e.room, e.payload) for e in s.scalars(select(BoardEvent).where(BoardEvent.event == "alert")
                                                        .order_by(BoardEvent.id))]


def test_a_hand_over_phone_not_on_record_is_kept_marked_audited_and_told(users, clock, make_user, wiring):
    office, officer = users["office"], users["food"]
    substitute = make_user("duty_officer", "food_coord", "+8613800000777")
    shift = _shift(office, "food_coord", clock.now() - timedelta(hours=1), 8, officer_id=officer.id).get_json()
    clock.advance(hours=1)
    # At night the substitute's number on record is wrong: the officer types the one that answers.
    r = officer.post(f"/api/v1/shifts/{shift['id']}/handover",
                     json={"substitute_id": substitute.id, "phone": "+8613900000888", "reason": "发烧"})
    assert r.status_code == 201, r.get_json()
    sub = r.get_json()
    assert sub["phone_on_record"] is False and sub["phone_warning"] == "替岗电话非登记号码"
    on = office.get("/api/v1/departments/food_coord/on-duty").get_json()["on_duty"]
    assert [(s["phone"], s["phone_on_record"]) for s in on] == [("+8613900000888", False)]  # it is the one used

    entry = _handover_entries(wiring)[-1]
    assert entry["phone_on_record"] is False and entry["substitute_registered"] is True
    assert (entry["phone"], entry["phone_recorded"]) == ("+86139****0888", "+86138****0777")
    assert "+8613900000888" not in str(entry) and "+8613800000777" not in str(entry)

    pushed = _alerts_pushed(wiring)
    assert {room for room, _ in pushed} == {"overview", "dept:food_coord"}
    payload = pushed[0][1]
    assert payload["what"] == "handover_phone_off_record" and payload["title"] == "替岗电话非登记号码"
    assert "+86139****0888" in payload["message"] and "+8613900000888" not in str(payload)
    assert payload["shift"]["phone_masked"] is True

    alerts = office.get("/api/v1/duty/alerts").get_json()["alerts"]
    marked = [a for a in alerts if a["kind"] == "phone_off_record"]
    assert [a["shift_id"] for a in marked] == [sub["id"]] and "非登记号码" in marked[0]["message"]


def test_a_hand_over_on_the_substitutes_phone_raises_nothing(users, clock, make_user, wiring):
    office, officer = users["office"], users["food"]
    substitute = make_user("duty_officer", "food_coord", "+8613800000777")
    first = _shift(office, "food_coord", clock.now() - timedelta(hours=1), 4, officer_id=officer.id).get_json()
    second = _shift(office, "food_coord", clock.now() + timedelta(hours=3), 4, officer_id=officer.id).get_json()
    # No phone typed: the substitute's own; the same number typed: on record too.
    r = officer.post(f"/api/v1/shifts/{first['id']}/handover", json={"substitute_id": substitute.id, "reason": "病假"})
    assert r.status_code == 201 and r.get_json()["phone_on_record"] is True and r.get_json()["phone_warning"] is None
    r = office.post(f"/api/v1/shifts/{second['id']}/handover",
                    json={"substitute_id": substitute.id, "phone": "+8613800000777", "reason": "病假"})
    assert r.status_code == 201 and r.get_json()["phone_on_record"] is True
    assert [e["phone_on_record"] for e in _handover_entries(wiring)] == [True, True]
    assert "phone" not in _handover_entries(wiring)[0]
    assert _alerts_pushed(wiring) == []
    assert not [a for a in office.get("/api/v1/duty/alerts").get_json()["alerts"] if a["kind"] == "phone_off_record"]
    # A shift that was no hand-over says nothing either way.
    assert first["phone_on_record"] is None and first["phone_warning"] is None


def test_an_unregistered_substitute_is_off_record_and_a_station_hears_it_on_its_board(users, clock, make_user,
                                                                                      wiring):
    office, station = users["office"], users["station"]
    shift = _shift(office, "chengguan", clock.now() - timedelta(hours=1), 8, officer_name="所值班",
                   phone="+8613800000300").get_json()
    r = station.post(f"/api/v1/shifts/{shift['id']}/handover",
                     json={"substitute_name": "临时替岗", "phone": "+8613900000301", "reason": "外出执法"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["phone_on_record"] is False
    entry = _handover_entries(wiring)[-1]
    assert entry["phone_on_record"] is False and entry["substitute_registered"] is False
    assert entry["phone_recorded"] is None
    assert {room for room, _ in _alerts_pushed(wiring)} == {"overview", "station:chengguan"}
    assert "未登记的人员" in _alerts_pushed(wiring)[0][1]["message"]
    # Swapped, the mark goes with the phone it is about.
    other = _shift(office, "chengguan", clock.now() + timedelta(hours=8), 8, officer_name="下一班",
                   phone="+8613800000302").get_json()
    assert office.post("/api/v1/shifts/swap", json={"first": r.get_json()["id"], "second": other["id"],
                                                    "reason": "调班"}).status_code == 200
    shifts = {s["id"]: s for s in office.get("/api/v1/departments/chengguan/shifts").get_json()["shifts"]}
    assert shifts[other["id"]]["phone_on_record"] is False and shifts[r.get_json()["id"]]["phone_on_record"] is None
