"""Closing an event that was never activated (未启动响应即关闭): 不启动, 不属实, 重复登记.

Plan §二(三)3: the leadership decides whether to activate. §五(三)1: 迟报、漏报 are held to
account, so a clock already missed when the event is closed stays missed on the sheet; only the
clocks still ahead are cancelled. Through the API, on SQLite and PostgreSQL, with a fake clock.
"""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from incidents.kernel.moments import local_day
from incidents.models import AuditEntry, Deadline, DeadlineEvent, Escalation, Incident, Surge
from incidents.response.firing import fire_due
from reports import snapshots
from tests.helpers import file_report, incident_payload, iso
from tests.test_api_errors import assert_error
from tests.test_complaints_pages import sign_in
from tests.test_reports_pdf import flat, pdf_text
from tests.test_surge import file, run_watch


def register(users, clock, *, minutes_ago: int, level: str | None = "II", who: str = "office", **fields) -> dict:
    body = incident_payload(discovered_at=iso(clock.now() - timedelta(minutes=minutes_ago)), level=level, **fields)
    if level is None:
        body.pop("level")
    r = users[who].post("/api/v1/incidents", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def close(user, iid: int, kind: str, reason: str = "经核实", **extra):
    return user.post(f"/api/v1/incidents/{iid}/close", json={"kind": kind, "reason": reason, **extra})


def clocks(wiring, iid: int) -> dict[str, Deadline]:
    with wiring.sessions() as s:
        return {d.kind: d for d in s.scalars(select(Deadline).where(Deadline.incident_id == iid))}


def audit_actions(wiring, iid: int) -> list[str]:
    with wiring.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.incident_id == iid).order_by(AuditEntry.seq)))


def audit_actions_of(users, iid: int) -> list[str]:
    return [e["action"] for e in users["office"].get(f"/api/v1/incidents/{iid}/audit").get_json()["entries"]]


def test_each_kind_by_its_roles_and_refused_to_the_others(users, clock):
    one, two, three = (register(users, clock, minutes_ago=5)["id"] for _ in range(3))
    # Only the leadership decides not to activate (plan §二(三)3); the office may not, nor anyone else.
    for who in ("office", "commander", "station", "food", "viewer"):
        assert_error(close(users[who], one, "not_activated"), 403, "forbidden")
    for who in ("commander", "station", "viewer"):
        assert_error(close(users[who], two, "false_report"), 403, "forbidden")
        assert_error(close(users[who], three, "duplicate", duplicate_of=one), 403, "forbidden")
    r = close(users["leader"], one, "not_activated", "领导小组研究决定：事态轻微，由城关所按日常监管处理")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "closed" and body["closed"]["kind"] == "not_activated"
    assert body["closed"]["kind_name"] == "决定不启动响应" and body["closed"]["reason"].startswith("领导小组研究决定")
    assert body["closed"]["by"] == users["leader"].id and body["closed"]["at"] == clock.now().isoformat()
    assert close(users["office"], two, "false_report", "现场核实无人就医").get_json()["closed"]["kind"] == "false_report"
    original = register(users, clock, minutes_ago=3)["id"]
    dup = close(users["leader"], three, "duplicate", "同一食堂", duplicate_of=original).get_json()
    assert dup["status"] == "closed" and dup["closed"]["kind_name"] == "重复登记"
    # Closed once is closed: a second decision, a grading, a report or an activation is refused.
    assert_error(close(users["leader"], one, "false_report"), 409, "finished")
    assert_error(users["office"].post(f"/api/v1/incidents/{one}/level", json={"level": "I", "reason": "r"}), 409,
                 "finished")
    assert_error(users["station"].post(f"/api/v1/incidents/{two}/reports", json={"kind": "initial", "body": "初报"}),
                 409, "finished")
    assert_error(users["leader"].post(f"/api/v1/incidents/{one}/activate"), 409)
    assert "incident.closed" in audit_actions_of(users, one)


def test_an_activated_event_cannot_be_closed_without_response(users, clock):
    iid = register(users, clock, minutes_ago=5)["id"]
    assert users["leader"].post(f"/api/v1/incidents/{iid}/activate").status_code == 200
    error = assert_error(close(users["leader"], iid, "not_activated"), 409, "activated")
    assert "宣布应急状态结束" in error["message"]
    assert users["office"].get(f"/api/v1/incidents/{iid}").get_json()["status"] == "active"


def test_junk_is_refused_with_a_chinese_message_never_a_500(users, clock):
    iid = register(users, clock, minutes_ago=5)["id"]
    leader = users["leader"]
    for body, status, code in (
            ({"kind": "later", "reason": "r"}, 400, "unknown_kind"),
            ({"kind": "test", "reason": "r"}, 400, "unknown_kind"),
            ({"kind": ["not_activated"], "reason": "r"}, 400, "bad_type"),
            ({"kind": {"a": {"b": 1}}, "reason": "r"}, 400, "bad_type"),
            ({"kind": "not_activated"}, 400, "missing_field"),
            ({"kind": "not_activated", "reason": 12}, 400, "bad_type"),
            ({"kind": "not_activated", "reason": "   "}, 400, "missing_field"),
            ({"kind": "not_activated", "reason": "r" * 2001}, 400, None),
            ({"kind": "duplicate", "reason": "r"}, 400, "missing_field"),
            ({"kind": "duplicate", "reason": "r", "duplicate_of": 2**63}, 400, "bad_id"),
            ({"kind": "duplicate", "reason": "r", "duplicate_of": "1"}, 400, "bad_id"),
            ({"kind": "duplicate", "reason": "r", "duplicate_of": True}, 400, "bad_id"),
            ({"kind": "duplicate", "reason": "r", "duplicate_of": 2**31 - 1}, 404, "not_found"),
            ({"kind": "duplicate", "reason": "r", "duplicate_of": iid}, 400, "bad_original"),
            ({"kind": "false_report", "reason": "r", "duplicate_of": iid}, 400, "not_duplicate")):
        assert_error(leader.post(f"/api/v1/incidents/{iid}/close", json=body), status, code)
    assert_error(leader.post(f"/api/v1/incidents/{iid}/close", json=[1, 2]), 400, "bad_json")
    assert_error(leader.post(f"/api/v1/incidents/{2**31 - 1}/close", json={"kind": "not_activated", "reason": "r"}),
                 404, "not_found")
    assert leader.post(f"/api/v1/incidents/{2**70}/close", json={"kind": "not_activated", "reason": "r"}).status_code \
        == 404
    assert users["office"].get(f"/api/v1/incidents/{iid}").get_json()["status"] == "registered"


def test_a_missed_clock_stays_missed_and_one_not_yet_due_is_cancelled_with_the_reason(wiring, users, clock):
    # A: the station's hour ran out and the scheduler recorded it (overdue, escalating).
    fired = register(users, clock, minutes_ago=90)["id"]
    fire_due(wiring.sessions, now=clock.now())
    assert clocks(wiring, fired)["initial_report"].status == "overdue"
    # B: past due ten minutes ago, but the scheduler has not run yet (still pending).
    unfired = register(users, clock, minutes_ago=70)["id"]
    # C: the station's hour has 40 minutes left.
    running = register(users, clock, minutes_ago=20)["id"]
    # D: the station reported on time before the decision: met stays met.
    met = register(users, clock, minutes_ago=30)["id"]
    file_report(users["office"], met, "initial", "已核实")
    with wiring.sessions() as s:
        assert s.scalars(select(Escalation).where(Escalation.incident_id == fired,
                                                  Escalation.status == "running")).first() is not None

    for iid, user, kind in ((fired, "office", "false_report"), (unfired, "leader", "not_activated"),
                            (running, "leader", "not_activated"), (met, "office", "false_report")):
        r = close(users[user], iid, kind, "经核实不须启动")
        assert r.status_code == 200, r.get_json()

    a, b, c = clocks(wiring, fired), clocks(wiring, unfired), clocks(wiring, running)
    for row in (a["initial_report"], b["initial_report"]):
        assert (row.status, row.cancelled_at, row.cancel_reason, row.next_fire_at) == ("overdue", None, None, None)
    assert clocks(wiring, met)["initial_report"].status == "met"
    ahead = c["initial_report"]
    assert ahead.status == "cancelled" and ahead.cancelled_at == clock.now() and ahead.next_fire_at is None
    assert ahead.cancel_reason == "未启动响应即关闭（决定不启动响应）：经核实不须启动"
    # The clock the scheduler never fired is recorded overdue by the decision itself, in the audit trail.
    with wiring.sessions() as s:
        station_clock = s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "deadline", AuditEntry.entity_id == str(b["initial_report"].id)).order_by(AuditEntry.seq))
        assert list(station_clock)[-1] == "deadline.overdue"
    assert audit_actions(wiring, unfired)[-1] == "incident.closed"
    # The office registered these itself a moment ago: its own 30 minutes had not run out, so they go.
    assert {clocks(wiring, i)["bureau_report"].status for i in (fired, unfired, running)} == {"cancelled"}
    with wiring.sessions() as s:
        assert not s.scalars(select(Escalation).where(Escalation.incident_id.in_([fired, unfired, running, met]),
                                                      Escalation.status.in_(("running", "exhausted")))).all()
        entry = s.scalar(select(AuditEntry).where(AuditEntry.incident_id == fired,
                                                  AuditEntry.action == "incident.closed"))
        assert json.loads(entry.data)["missed_kept"] == [a["initial_report"].id]
    # Nothing fires for them again, however long the scheduler runs.
    with wiring.sessions() as s:
        before = s.query(DeadlineEvent).count()
    clock.advance(hours=6)
    fire_due(wiring.sessions, now=clock.now())
    with wiring.sessions() as s:
        assert s.query(DeadlineEvent).count() == before

    sheet = users["office"].get("/api/v1/accountability").get_json()
    rows = {row["incident_id"]: row for row in sheet["by_incident"]}
    listed = {}
    for d in sheet["deadlines"]:
        listed.setdefault(d["incident_id"], []).append(d["outcome"])
    assert set(listed[fired]) == {"missed"} and rows[fired]["missed"] == len(listed[fired])
    assert set(listed[unfired]) == {"missed"} and rows[unfired]["missed"] == len(listed[unfired])
    assert running not in rows and running not in listed  # its only clock was cancelled before it ran out
    assert listed[met] == ["met"] and (rows[met]["met"], rows[met]["missed"]) == (1, 0)
    assert rows[fired]["disposition"]["name"] == "不属实，已关闭"
    assert rows[unfired]["disposition"]["kind"] == "not_activated"
    assert sheet["totals"]["missed"] == 2 and sheet["totals"]["running"] == 0


def test_an_open_task_is_cancelled_and_its_escalation_stops(wiring, users, clock):
    iid = register(users, clock, minutes_ago=5)["id"]
    task = users["office"].post(f"/api/v1/incidents/{iid}/assignments",
                                json={"department": "prices", "task": "排查周边餐饮价格"}).get_json()
    with wiring.sessions() as s:
        assert s.scalar(select(Escalation.status).where(Escalation.assignment_id == task["id"])) == "running"
    body = close(users["office"], iid, "false_report", "医院回复无此类病人").get_json()
    (row,) = body["assignments"]
    assert row["status"] == "cancelled" and row["cancelled_at"] == clock.now().isoformat()
    assert row["cancel_reason"] == "未启动响应即关闭（不属实）：医院回复无此类病人"
    with wiring.sessions() as s:
        escalation = s.scalar(select(Escalation).where(Escalation.assignment_id == task["id"]))
        assert escalation.status == "stopped" and "不属实" in escalation.stop_reason
    assert users["prices"].get(f"/api/v1/assignments/{task['id']}").get_json()["status"] == "cancelled"
    assert_error(users["prices"].post(f"/api/v1/assignments/{task['id']}/ack"), 409)
    assert "assignment.cancelled" in audit_actions(wiring, iid)


def test_a_closed_event_leaves_the_boards_and_is_found_by_status(app, wiring, users, clock, make_user):
    kept = register(users, clock, minutes_ago=5)["id"]
    closed = register(users, clock, minutes_ago=5, title="某超市疑似过期食品")["id"]
    users["office"].post(f"/api/v1/incidents/{closed}/assignments", json={"department": "prices", "task": "核查价格"})
    office = sign_in(app, wiring, make_user, "office", "office")
    assert f'data-incident="{closed}"' in office.get("/").get_data(as_text=True)
    page = office.get(f"/incidents/{closed}").get_data(as_text=True)
    assert 'id="form-close"' in page and 'value="false_report"' in page and 'value="not_activated"' not in page
    leader = sign_in(app, wiring, make_user, "leader")
    assert 'value="not_activated"' in leader.get(f"/incidents/{closed}").get_data(as_text=True)

    assert close(users["leader"], closed, "not_activated", "事态轻微，不启动").status_code == 200
    overview = office.get("/").get_data(as_text=True)
    assert f'data-incident="{kept}"' in overview and f'data-incident="{closed}"' not in overview
    assert office.get(f"/board/cards/{closed}").status_code == 404
    assert "核查价格" not in office.get("/duty?department=prices").get_data(as_text=True)
    page = office.get(f"/incidents/{closed}").get_data(as_text=True)
    assert "已关闭（未启动响应）：决定不启动，已关闭" in page and "事态轻微，不启动" in page
    assert 'id="form-close"' not in page and 'id="form-withdraw"' not in page
    found = users["office"].get("/api/v1/incidents?status=closed").get_json()["incidents"]
    assert [(i["id"], i["closed"]["kind"]) for i in found] == [(closed, "not_activated")]
    registered = users["office"].get("/api/v1/incidents?status=registered").get_json()["incidents"]
    assert closed not in {i["id"] for i in registered}


def test_the_sheet_lists_the_disposition_and_counts_the_closings(app, wiring, users, clock, make_user):
    false = register(users, clock, minutes_ago=90)
    fire_due(wiring.sessions, now=clock.now())
    quiet = register(users, clock, minutes_ago=5)
    original = register(users, clock, minutes_ago=5)
    dup = register(users, clock, minutes_ago=4)
    assert close(users["office"], false["id"], "false_report", "现场核实不属实").status_code == 200
    assert close(users["leader"], quiet["id"], "not_activated", "不启动").status_code == 200
    assert close(users["office"], dup["id"], "duplicate", "同一事件", duplicate_of=original["id"]).status_code == 200
    sheet = users["office"].get("/api/v1/accountability").get_json()
    assert sheet["closed_without_response"] == {
        "not_activated": {"name": "决定不启动响应", "count": 1, "numbers": [quiet["number"]]},
        "false_report": {"name": "不属实", "count": 1, "numbers": [false["number"]]},
        "duplicate": {"name": "重复登记", "count": 1, "numbers": [dup["number"]]}}
    heads = {row["number"]: row for row in sheet["by_incident"]}
    assert heads[false["number"]]["disposition"]["reason"] == "现场核实不属实"
    assert heads[original["number"]]["disposition"] is None
    # The period is the closing time: closings before it are not counted in it.
    later = (clock.now() + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert users["office"].get(f"/api/v1/accountability?from={later}").get_json()["closed_without_response"][
        "false_report"]["count"] == 0
    # A unit's sheet counts its own events' closings only.
    station_sheet = users["station"].get("/api/v1/accountability").get_json()["closed_without_response"]
    assert station_sheet["false_report"]["numbers"] == [false["number"]]
    prices_sheet = users["prices"].get("/api/v1/accountability").get_json()["closed_without_response"]
    assert prices_sheet["duplicate"]["count"] == 0

    office = sign_in(app, wiring, make_user, "office", "office")
    html = office.get("/accountability").get_data(as_text=True)
    assert "不属实，已关闭" in html and "未启动响应即关闭的事件" in html
    section = html[html.index('id="closed-without-response"'):]
    assert quiet["number"] in section and dup["number"] in section and "决定不启动响应</b> 1 起" in section
    pdf = users["office"].get("/api/v1/accountability.pdf?from=2026-11-01&to=2026-11-30")
    assert pdf.status_code == 200
    text = flat(pdf_text(pdf.data))
    assert "不属实，已关闭" in text and "未启动响应即关闭的事件" in text and dup["number"] in text


def test_a_duplicate_links_to_its_original_which_lists_it(users, clock):
    original = register(users, clock, minutes_ago=10)
    dup = register(users, clock, minutes_ago=8)
    again = register(users, clock, minutes_ago=7)
    r = close(users["office"], dup["id"], "duplicate", "与城关所报告为同一事件", duplicate_of=original["id"])
    assert r.get_json()["closed"]["duplicate_of"] == original["id"] and r.get_json()["duplicates"] == []
    # A closed registration cannot be the original of another.
    assert_error(close(users["office"], again["id"], "duplicate", "r", duplicate_of=dup["id"]), 400, "bad_original")
    assert close(users["leader"], again["id"], "duplicate", "r", duplicate_of=original["id"]).status_code == 200
    body = users["office"].get(f"/api/v1/incidents/{original['id']}").get_json()
    assert body["duplicates"] == [{"id": dup["id"], "number": dup["number"]},
                                  {"id": again["id"], "number": again["number"]}]
    # The original itself is untouched: still registered, its clocks (the station's, the office's) still running.
    assert body["status"] == "registered" and body["closed"] is None
    assert sorted((d["kind"], d["status"]) for d in body["deadlines"]) == [
        ("bureau_report", "pending"), ("initial_report", "pending")]


def test_withdraw_as_an_old_client_sends_it_closes_a_false_report(users, clock):
    iid = register(users, clock, minutes_ago=5)["id"]
    r = users["office"].post(f"/api/v1/incidents/{iid}/withdraw", json={"kind": "false_report", "reason": "不实"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "closed" and r.get_json()["closed"]["kind"] == "false_report"
    assert_error(users["office"].post(f"/api/v1/incidents/{register(users, clock, minutes_ago=1)['id']}/withdraw",
                                      json={"kind": "not_activated", "reason": "r"}), 400, "unknown_kind")


def test_a_test_withdrawal_keeps_out_of_the_sheet_but_keeps_its_missed_clock(wiring, users, clock):
    iid = register(users, clock, minutes_ago=90)["id"]
    fire_due(wiring.sessions, now=clock.now())
    r = users["office"].post(f"/api/v1/incidents/{iid}/withdraw", json={"kind": "test", "reason": "演练用测试数据"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "withdrawn" and r.get_json()["closed"] is None
    # The row does not pretend the clock was cancelled before it ran out ...
    assert clocks(wiring, iid)["initial_report"].status == "overdue"
    # ... but a test is in no count: not in the clocks, not among the closings.
    sheet = users["office"].get("/api/v1/accountability").get_json()
    assert iid not in {row["incident_id"] for row in sheet["by_incident"]} and sheet["totals"]["missed"] == 0
    assert all(v["count"] == 0 for v in sheet["closed_without_response"].values())
    assert [i["id"] for i in users["office"].get("/api/v1/incidents?status=withdrawn").get_json()["incidents"]] == [iid]


def test_an_incident_the_surge_watch_proposed_can_be_closed(wiring, users, clock):
    file(wiring, 30)
    result = run_watch(wiring)
    (proposed,) = result.proposed
    body = users["office"].get(f"/api/v1/incidents/{proposed}").get_json()
    assert (body["level"], body["status"]) == ("IV", "registered")
    assert_error(close(users["office"], proposed, "not_activated"), 403, "forbidden")
    r = close(users["leader"], proposed, "not_activated", "投诉集中但均为个案退款纠纷，由12315按投诉办理")
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    # The surge keeps its link, and listing surges still works.
    surges = users["office"].get("/api/v1/surges").get_json()["surges"]
    assert {s["incident_id"] for s in surges} == {proposed}
    # The watch runs on: the surge is still open, and nothing is proposed again while it lasts.
    again = run_watch(wiring)
    assert again.proposed == [] and again.linked == []
    with wiring.sessions() as s:
        assert {r.incident_id for r in s.scalars(select(Surge))} == {proposed}
        assert s.get(Incident, proposed).source_key.startswith("surge:")


def test_the_office_closes_a_surge_proposal_as_false(wiring, users, clock):
    file(wiring, 30)
    (proposed,) = run_watch(wiring).proposed
    r = close(users["office"], proposed, "false_report", "同一人用多个号码重复投诉，经核实不属实")
    assert r.status_code == 200 and r.get_json()["closed"]["kind_name"] == "不属实"
    assert users["office"].get("/api/v1/accountability").get_json()["closed_without_response"]["false_report"][
        "count"] == 1


def test_the_daily_report_does_not_count_a_closed_event_as_open(wiring, users, clock):
    kept = register(users, clock, minutes_ago=5)
    closed = register(users, clock, minutes_ago=5)
    assert close(users["office"], closed["id"], "false_report", "不属实").status_code == 200
    with wiring.sessions() as s:
        day = local_day(wiring.plan.tz, clock.now())
        today = snapshots.daily_snapshot(s, wiring.plan, day=day, now=clock.now())
        tomorrow = snapshots.daily_snapshot(s, wiring.plan, day=day + timedelta(days=1),
                                            now=clock.now() + timedelta(days=1))
    assert today["totals"]["open"] == 1 and today["totals"]["registered"] == 1
    # Shown on the day it closed, as closed; gone the day after.
    assert {i["number"]: i["status"] for i in today["incidents"]} == {kept["number"]: "registered",
                                                                      closed["number"]: "closed"}
    assert [i["number"] for i in tomorrow["incidents"]] == [kept["number"]]
