"""Corrections of a registration and withdrawal: the record keeps old values, outcomes never get better.

Database tests run on SQLite and PostgreSQL with a fake clock.
"""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from incidents.response import accountability
from incidents.response.firing import fire_due
from incidents.models import AuditEntry, Deadline, Escalation
from tests.helpers import file_report, incident_payload, iso
from tests.test_api_errors import assert_error
from tests.test_complaints_pages import sign_in


def register(users, clock, *, minutes_ago: int, level: str = "II") -> int:
    body = incident_payload(discovered_at=iso(clock.now() - timedelta(minutes=minutes_ago)), level=level)
    r = users["office"].post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def station_clock(wiring, iid: int) -> Deadline:
    with wiring.sessions() as s:
        return s.scalar(select(Deadline).where(Deadline.incident_id == iid, Deadline.kind == "initial_report"))


def test_a_running_clock_follows_a_corrected_discovery_time_and_the_old_value_is_kept(wiring, users, clock):
    iid = register(users, clock, minutes_ago=20)
    before = station_clock(wiring, iid)
    assert before.due_at == clock.now() + timedelta(minutes=40)
    r = users["office"].post(f"/api/v1/incidents/{iid}/corrections", json={
        "changes": {"discovered_at": iso(clock.now() - timedelta(minutes=5)), "location": "城关镇第二中学食堂"},
        "reason": "医院记录显示发现时间为09:55，地点录错"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["location"] == "城关镇第二中学食堂"
    assert station_clock(wiring, iid).due_at == clock.now() + timedelta(minutes=55)
    with wiring.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "incident.corrected"))
        data = json.loads(entry.data)
    assert data["reason"].startswith("医院记录") and data["changes"]["location"] == {
        "from": "城关镇某中学食堂", "to": "城关镇第二中学食堂"}
    assert data["changes"]["discovered_at"]["from"] == (clock.now() - timedelta(minutes=20)).isoformat()


def test_a_correction_never_turns_a_missed_or_late_report_into_a_met_one(wiring, users, clock):
    # Missed: the station's hour ran out before anyone noticed the typo.
    missed = register(users, clock, minutes_ago=90)
    fire_due(wiring.sessions, now=clock.now())
    assert station_clock(wiring, missed).status == "overdue"
    r = users["office"].post(f"/api/v1/incidents/{missed}/corrections", json={
        "changes": {"discovered_at": iso(clock.now() - timedelta(minutes=10))}, "reason": "发现时间录错"})
    assert r.status_code == 200
    row = station_clock(wiring, missed)
    assert row.status == "overdue" and row.due_at == clock.now() - timedelta(minutes=30)
    # Met: a correction to an earlier discovery would make it late, and it stays met; nothing is re-judged.
    met = register(users, clock, minutes_ago=10)
    clock.advance(minutes=30)
    file_report(users["station"], met, "initial", "初报")
    assert station_clock(wiring, met).status == "met"
    r = users["office"].post(f"/api/v1/incidents/{met}/corrections", json={
        "changes": {"discovered_at": iso(clock.now() - timedelta(hours=3))}, "reason": "据核实，三小时前已发现"})
    assert r.status_code == 200 and station_clock(wiring, met).status == "met"
    with wiring.sessions() as s:
        sheet = accountability.report(s, now=clock.now())
    # The station's clocks on the sheet: one missed, one met, as before the corrections.
    station = sorted((d["incident_id"], d["outcome"]) for i in sheet["by_incident"] for d in i["deadlines"]
                     if d["kind"] == "initial_report")
    assert station == [(missed, "missed"), (met, "met")]


def test_who_may_correct_what(wiring, users, clock, make_user):
    r = users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    iid = r.get_json()["id"]
    station = users["station"]
    ok = station.post(f"/api/v1/incidents/{iid}/corrections", json={"scope": "在校师生约25人", "reason": "补充人数"})
    assert ok.status_code == 200, ok.get_json()
    for user, body, status, code in (
            (users["viewer"], {"scope": "x", "reason": "r"}, 403, "forbidden"),
            (users["food"], {"scope": "x", "reason": "r"}, 403, "forbidden"),
            (station, {"scope": "在校师生约25人", "reason": "重复"}, 400, "no_change"),
            (station, {"level": "I", "reason": "r"}, 400, "not_correctable"),
            (station, {"scope": "x"}, 400, "missing_field"),
            (station, {"discovered_at": "1900-01-01T00:00:00+08:00", "reason": "r"}, 400, "time_out_of_range"),
            (station, {"station": "guandu", "reason": "r"}, 400, "wrong_station")):
        error = assert_error(user.post(f"/api/v1/incidents/{iid}/corrections", json=body), status, code)
        assert "(" not in error["message"]  # fields are named in Chinese only
    assert users["office"].post(f"/api/v1/incidents/{iid}/level",
                                json={"level": "III", "reason": "定级"}).status_code == 200
    assert_error(station.post(f"/api/v1/incidents/{iid}/corrections", json={"scope": "y", "reason": "r"}), 409, "graded")
    assert users["office"].post(f"/api/v1/incidents/{iid}/corrections",
                                json={"scope": "在校师生约30人", "reason": "医院通报"}).status_code == 200


def test_a_duplicate_withdrawn_by_an_old_client_is_closed_leaves_the_boards_and_keeps_its_history(
        app, wiring, users, clock, make_user):
    original = register(users, clock, minutes_ago=5)
    duplicate = register(users, clock, minutes_ago=4)
    users["office"].post(f"/api/v1/incidents/{duplicate}/assignments", json={"department": "prices", "task": "排查"})
    assert_error(users["office"].post(f"/api/v1/incidents/{duplicate}/withdraw",
                                      json={"kind": "duplicate", "reason": "同一事件"}), 400, "missing_field")
    assert_error(users["viewer"].post(f"/api/v1/incidents/{duplicate}/withdraw",
                                      json={"kind": "test", "reason": "r"}), 403, "forbidden")
    r = users["leader"].post(f"/api/v1/incidents/{duplicate}/withdraw",
                             json={"kind": "duplicate", "reason": "与城关所报告为同一事件", "duplicate_of": original})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # A duplicate is no longer withdrawn but closed without a response (dispositions.py); old clients keep working.
    assert body["status"] == "closed" and body["withdrawn"]["duplicate_of"] == original
    assert body["closed"]["kind"] == "duplicate" and body["closed"]["duplicate_of"] == original
    assert all(d["status"] == "cancelled" and "未启动响应即关闭（重复登记）" in d["cancel_reason"] for d in body["deadlines"])
    assert [a["status"] for a in body["assignments"]] == ["cancelled"]
    assert_error(users["office"].post(f"/api/v1/incidents/{duplicate}/withdraw",
                                      json={"kind": "test", "reason": "r"}), 409, "finished")
    assert users["office"].get(f"/api/v1/incidents/{original}").get_json()["duplicates"] == [
        {"id": duplicate, "number": body["number"]}]
    with wiring.sessions() as s:
        assert all(e.status not in ("running", "exhausted")
                   for e in s.scalars(select(Escalation).where(Escalation.incident_id == duplicate)))
        sheet = accountability.report(s, now=clock.now() + timedelta(hours=5))
    assert {i["incident_id"] for i in sheet["by_incident"]} == {original}
    office = sign_in(app, wiring, make_user, "office", "office")
    overview = office.get("/").get_data(as_text=True)
    assert f'data-incident="{original}"' in overview and f'data-incident="{duplicate}"' not in overview
    assert "排查" not in office.get("/duty?department=prices").get_data(as_text=True)
    page = office.get(f"/incidents/{duplicate}").get_data(as_text=True)
    assert "已关闭（未启动响应）：重复登记，已关闭" in page and "与城关所报告为同一事件" in page
    assert 'id="form-withdraw"' not in page and 'id="form-close"' not in page
    listed = users["office"].get("/api/v1/incidents").get_json()["incidents"]
    assert {i["id"]: i["status"] for i in listed}[duplicate] == "closed"
