"""The reporting record as an accountability review reads it (plan §三(二), §五(一), §五(三)), on SQLite and PostgreSQL.

Obligations arise when they become owed (re-grades both ways), every clock has an owner, a backdated
claim (补录) is judged by its entry time until the office head or the leadership confirms it, and the
closing deadline is the written report reaching the county government and the city bureau.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.jobs.clocks import tick
from incidents.models import AuditEntry
from tests.helpers import (Recorder, approve_summary, by_kind, deliveries, file_report, incident_payload, iso,
                           report_up)
from tests.test_api_errors import assert_error
from tests.test_reports_api import ok

LEVELS = (None, "I", "II", "III", "IV")
# Every pair of levels, both directions, before and after activation (an ungraded event is never active).
PAIRS = [(a, b, on) for a in LEVELS for b in LEVELS for on in (False, True)
         if a != b and b is not None and not (on and a is None)]


def audit_actions(wiring, iid: int) -> list[tuple[str, dict]]:
    with wiring.sessions() as s:
        return [(e.action, json.loads(e.data)) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.incident_id == iid).order_by(AuditEntry.seq))]


@pytest.mark.parametrize("before,after,activated", PAIRS,
                         ids=[f"{a or 'ungraded'}->{b}{'-active' if on else ''}" for a, b, on in PAIRS])
def test_a_regrade_creates_no_clock_already_overdue_and_keeps_what_is_recorded(wiring, users, clock, before, after,
                                                                              activated):
    station, office, leader = users["station"], users["office"], users["leader"]
    t0 = clock.now()
    body = incident_payload(discovered_at=iso(t0), category="food_poisoning")
    if before:
        body.update(level=before, level_reason="登记时定级")
    # The station registers (grading at registration is the office's), reports at 20 min, the bureau at 25 (signed
    # off and delivered at once).
    iid = ok((office if before else station).post("/api/v1/incidents", json=body), 201).get_json()["id"]
    clock.advance(minutes=20)
    file_report(station, iid, "initial", "初报")
    clock.advance(minutes=5)
    file_report(office, iid, "bureau", "局报告", signer=leader)
    if activated:
        clock.advance(minutes=35)
        ok(leader.post(f"/api/v1/incidents/{iid}/activate"))
    # Thirty hours after discovery: every short clock of the old level has long come due.
    clock.set(t0 + timedelta(hours=30))
    recorded = {d["id"]: d for d in ok(office.get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"]
                if d["status"] in ("met", "late", "overdue") or d["outcome"] == "missed"}
    regraded = ok(office.post(f"/api/v1/incidents/{iid}/level", json={"level": after, "reason": "调整等级"})).get_json()
    now = clock.now()
    for d in regraded["deadlines"]:
        if d["id"] in recorded:
            # What was met, late or missed before the re-grade keeps its record.
            was = recorded[d["id"]]
            assert (d["outcome"], d["satisfied_at"], d["late_seconds"], d["due_at"]) == \
                   (was["outcome"], was["satisfied_at"], was["late_seconds"], was["due_at"]), d["kind"]
            # A missed clock the scheduler had not fired yet is recorded missed (overdue), never cancelled.
            assert d["status"] == was["status"] or (was["status"], d["status"]) == ("pending", "overdue"), d["kind"]
        elif d["status"] == "pending":
            # Nothing the re-grade makes owed is owed before it: never born overdue.
            assert d["due_at"] > iso(now) and d["outcome"] == "running", (d["kind"], d["starts_at"], d["due_at"])
    # And nothing fires overdue at the re-grade but what was already missed before it.
    recorder = Recorder()
    tick(wiring, recorder)
    assert [f.payload["clock"] for f in recorder.fired
            if f.kind == "overdue" and f.deadline_id not in recorded] == []


def test_upgrade_four_to_three_five_hours_in_owes_the_bureau_report_from_the_regrade(users, clock):
    office, station = users["office"], users["station"]
    iid = ok(station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()),
                                                                     category="counterfeit")), 201).get_json()["id"]
    clock.advance(minutes=10)
    ok(office.post(f"/api/v1/incidents/{iid}/level", json={"level": "IV", "reason": "个别商超"}))
    file_report(station, iid, "initial", "初报")
    clock.advance(hours=5)
    t_regrade = clock.now()
    r = ok(office.post(f"/api/v1/incidents/{iid}/level", json={"level": "III", "reason": "全县范围流通"})).get_json()
    clocks = by_kind(r["deadlines"])
    # The station's report was filed (at Ⅳ, owed nothing): it meets the hour clock that now applies.
    assert clocks["initial_report"]["status"] == "met"
    assert clocks["bureau_report"]["starts_at"] == iso(t_regrade)
    assert clocks["bureau_report"]["due_at"] == iso(t_regrade + timedelta(minutes=30))
    assert clocks["bureau_report"]["outcome"] == "running"


def test_three_to_one_a_day_after_activation_owes_the_daily_report_from_the_regrade(users, clock):
    office, leader = users["office"], users["leader"]
    iid = ok(office.post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), category="price_anomaly", level="III", level_reason="县域")), 201).get_json()["id"]
    ok(leader.post(f"/api/v1/incidents/{iid}/activate"))
    clock.advance(days=2)
    t_regrade = clock.now()
    r = ok(office.post(f"/api/v1/incidents/{iid}/level", json={"level": "I", "reason": "疫情扩散"})).get_json()
    progress = by_kind(r["deadlines"])["progress_report"]
    assert (progress["starts_at"], progress["due_at"]) == (iso(t_regrade), iso(t_regrade + timedelta(days=1)))
    assert progress["outcome"] == "running"


def test_a_downgrade_cancels_void_clocks_and_tasks_keeps_the_missed_and_rechains_escalations(
        wiring, users, clock, make_user):
    office, leader = users["office"], users["leader"]
    make_user("department_head", "office", "+8613800000031")
    iid = ok(office.post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), category="epidemic", level="I", level_reason="疫情")), 201).get_json()["id"]
    file_report(office, iid, "initial", "初报")
    file_report(office, iid, "bureau", "局报告", signer=leader)
    ok(leader.post(f"/api/v1/incidents/{iid}/activate"))
    t_act = clock.now()
    tasks = ok(office.get(f"/api/v1/incidents/{iid}")).get_json()["assignments"]
    meeting_task = next(a for a in tasks if a["clock"] == "command_meeting")
    assembly_task = next(a for a in tasks if a["clock"] == "staff_assembly")
    office_task = next(a for a in tasks if a["department"] == "office" and a["clock"] is None)
    # Staff assembly (1 h) is missed; at 1 h 30 min the leadership downgrades to Ⅲ.
    clock.set(t_act + timedelta(minutes=90))
    tick(wiring, Recorder())
    r = ok(office.post(f"/api/v1/incidents/{iid}/level", json={"level": "III", "reason": "疫情得到控制"})).get_json()
    rows = {d["kind"]: d for d in r["deadlines"] if d["cycle"] == 0}
    # The meeting (12 h) was not yet due: cancelled with its reason; its task cancelled too.
    assert rows["command_meeting"]["status"] == "cancelled" and "Ⅲ" in rows["command_meeting"]["cancel_reason"]
    # The assembly had come due: it stays missed on the record, with why it is no longer asked for.
    assert rows["staff_assembly"]["status"] == "overdue" and rows["staff_assembly"]["outcome"] == "missed"
    assert "仍记为漏报" in rows["staff_assembly"]["cancel_reason"]
    status = {a["id"]: a["status"] for a in r["assignments"]}
    assert status[meeting_task["id"]] == "cancelled" and status[assembly_task["id"]] == "cancelled"
    assert status[office_task["id"]] == "pushed"  # the office's task stands at Ⅲ
    # Ⅲ's own measure starts from the re-grade.
    assert rows["handling_opinion" if "handling_opinion" in rows else "work_team_dispatched"]["starts_at"] == iso(
        clock.now())
    history = ok(office.get(f"/api/v1/incidents/{iid}/escalations")).get_json()["escalations"]
    by_task = {e["assignment_id"]: e for e in history if e["assignment_id"]}
    assert by_task[meeting_task["id"]]["status"] == "stopped" and by_task[assembly_task["id"]]["status"] == "stopped"
    # The office task's escalation still runs, now on Ⅲ's chain: its next step is Ⅲ's, not Ⅰ's 15-minute call.
    office_esc = by_task[office_task["id"]]
    assert office_esc["status"] in ("running", "exhausted") and office_esc["level"] == "III"
    actions = [a for a, _ in audit_actions(wiring, iid)]
    assert "escalation.rechained" in actions and "deadline.kept_missed" in actions
    assert actions.count("assignment.cancelled") >= 2


def test_every_clock_has_an_owner_and_the_bureau_clock_starts_when_the_bureau_learned(users, clock, make_user):
    office, station, food = users["office"], users["station"], users["food"]
    t0 = clock.now()
    # The office registers a hospital's call without a station: it owns the hour report, and its own 30 minutes
    # run from the registration, before anyone files anything.
    r = ok(office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(t0), station=None, level="II",
                                                                  level_reason="医院报告")), 201).get_json()
    clocks = by_kind(r["deadlines"])
    assert (clocks["initial_report"]["department"], clocks["initial_report"]["station"]) == ("office", None)
    assert clocks["bureau_report"]["starts_at"] == iso(t0)
    assert r["registered_unit"] == "office"
    # A department's duty officer registers one: the department owns the hour report and may file it.
    r = ok(food.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(t0), station=None)), 201).get_json()
    assert by_kind(r["deadlines"])["initial_report"]["department"] == "food_coord"
    assert by_kind(r["deadlines"])["bureau_report"]["starts_at"] == iso(t0)
    ok(food.post(f"/api/v1/incidents/{r['id']}/reports", json={"kind": "initial", "body": "科室初报"}), 201)
    # A station registers its own: the bureau learns with the station's report, and its clock starts then.
    r = ok(station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(t0))), 201).get_json()
    assert "bureau_report" not in by_kind(r["deadlines"])
    clock.advance(minutes=40)
    r = ok(station.post(f"/api/v1/incidents/{r['id']}/reports", json={"kind": "initial", "body": "初报"}), 201)
    assert by_kind(r.get_json()["incident"]["deadlines"])["bureau_report"]["starts_at"] == iso(clock.now())
    # No clock on the sheet belongs to nobody.
    sheet = ok(office.get("/api/v1/accountability")).get_json()
    assert all(d["unit_name"] for d in sheet["deadlines"])
    assert all(u["name"] != "事发地市场监督管理所（未指定）" for u in sheet["by_department"])


@pytest.fixture
def late_initial(users, clock):
    """A station report filed three hours after discovery, claiming it was phoned to the township government and
    the bureau at 50 minutes: the report's time and the township's delivery are both claimed (补录)."""
    station = users["station"]
    t0 = clock.now()
    iid = ok(station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(t0))), 201).get_json()["id"]
    clock.advance(hours=3)
    r = file_report(station, iid, "initial", "已电话报告镇政府和局", at=iso(t0 + timedelta(minutes=50)))
    return iid, r["report"]["id"], t0


def test_a_backdated_report_is_judged_by_its_entry_until_confirmed(users, clock, wiring, late_initial, make_user):
    iid, rid, t0 = late_initial
    office = users["office"]
    r = ok(office.get(f"/api/v1/incidents/{iid}")).get_json()
    report = next(x for x in r["reports"] if x["id"] == rid)
    assert report["backdated"] is True and report["claim"]["status"] == "pending"
    assert report["claimed_at"] == iso(t0 + timedelta(minutes=50)) and report["entered_at"] == iso(t0 + timedelta(hours=3))
    # Its recipients' claimed deliveries too: the township's and the bureau's own copy (judged with the report).
    assert [(x["code"], x["delivered_at"], x["claim"]["status"]) for x in report["recipients"]] == [
        ("local_government", iso(t0 + timedelta(minutes=50)), "pending"),
        ("bureau", iso(t0 + timedelta(minutes=50)), "pending")]
    hour = by_kind(r["deadlines"])["initial_report"]
    assert hour["status"] == "late" and hour["late_seconds"] == 2 * 3600 and hour["judged_by"] == "delivery"
    assert hour["satisfied_at"] == iso(t0 + timedelta(hours=3))  # the entry judges every claimed time
    # The bureau learned of it with the station's report, as entered.
    assert by_kind(r["deadlines"])["bureau_report"]["starts_at"] == iso(t0 + timedelta(hours=3))
    # The sheet says 补录, waiting for confirmation.
    sheet = ok(office.get(f"/api/v1/accountability?incident={iid}")).get_json()
    item = next(d for d in sheet["deadlines"] if d["kind"] == "initial_report")
    assert item["report"]["backdated_mark"] == "补录·待确认" and sheet["backdated"]["pending"] == 1

    # Only the office head or the leadership judges it; a duty officer or the office's staff may not.
    body = {"decision": "confirmed", "evidence_kind": "fax", "evidence_ref": "传真 0371-62100001 09:50"}
    assert_error(users["prices"].post(f"/api/v1/reports/{rid}/claim-review", json=body), 404)  # not its incident
    assert_error(users["food"].post(f"/api/v1/reports/{rid}/claim-review", json=body), 403)
    assert_error(office.post(f"/api/v1/reports/{rid}/claim-review", json=body), 403)
    other_head = make_user("department_head", "food_coord")
    assert_error(other_head.post(f"/api/v1/reports/{rid}/claim-review", json=body), 403)
    head = make_user("department_head", "office")
    assert_error(head.post(f"/api/v1/reports/{rid}/claim-review", json={**body, "evidence_ref": ""}), 400)
    assert_error(head.post(f"/api/v1/reports/{rid}/claim-review", json={**body, "evidence_kind": "rumour"}), 400)
    clock.advance(minutes=10)
    r = ok(head.post(f"/api/v1/reports/{rid}/claim-review", json=body)).get_json()
    assert r["report"]["claim"]["status"] == "confirmed" and r["report"]["claim"]["evidence_ref"] == body["evidence_ref"]
    # The bureau's own copy is confirmed with it; the township's delivery is a claim of its own, still judged by
    # its entry: the hour stays late until that is confirmed too.
    claims = {x["code"]: x["claim"]["status"] for x in r["report"]["recipients"]}
    assert claims == {"local_government": "pending", "bureau": "confirmed"}
    hour = by_kind(r["incident"]["deadlines"])["initial_report"]
    assert hour["status"] == "late" and hour["late_seconds"] == 2 * 3600
    township = {**body, "evidence_kind": "phone_log", "evidence_ref": "镇党政办值班电话记录 09:50"}
    r = ok(head.post(f"/api/v1/reports/{rid}/recipients/local_government/claim-review", json=township)).get_json()
    hour = by_kind(r["incident"]["deadlines"])["initial_report"]
    assert hour["status"] == "met" and hour["late_seconds"] == 0 and hour["judged_by"] == "delivery"
    assert hour["satisfied_at"] == iso(t0 + timedelta(minutes=50))
    # The bureau knew from the confirmed call: its 30 minutes ran from 50 minutes and were missed.
    bureau = by_kind(r["incident"]["deadlines"])["bureau_report"]
    assert bureau["due_at"] == iso(t0 + timedelta(minutes=80)) and bureau["outcome"] == "missed"
    # A judgement is never changed.
    assert_error(users["leader"].post(f"/api/v1/reports/{rid}/claim-review",
                                      json={**body, "decision": "rejected", "note": "x"}), 409, "already_reviewed")
    entries = audit_actions(wiring, iid)
    confirmed = next(d for a, d in entries if a == "report.claim_confirmed")
    assert confirmed["evidence_ref"] == body["evidence_ref"] and confirmed["claimed"] == iso(t0 + timedelta(minutes=50))
    rejudged = [d for a, d in entries if a == "deadline.rejudged"]
    assert [(d["before"]["status"], d["status"]) for d in rejudged] == [("late", "late"), ("late", "met")]
    assert rejudged[-1]["judged_by"] == "delivery" and rejudged[-1]["satisfied_at"] == iso(t0 + timedelta(minutes=50))
    sheet = ok(office.get(f"/api/v1/accountability?incident={iid}")).get_json()
    item = next(d for d in sheet["deadlines"] if d["kind"] == "initial_report")
    assert item["outcome"] == "met" and item["report"]["backdated_mark"].startswith("补录·已确认（传真记录：传真 0371")


def test_a_rejected_claim_stays_judged_by_the_entry_for_good(users, clock, wiring, late_initial):
    iid, rid, t0 = late_initial
    leader = users["leader"]
    assert_error(leader.post(f"/api/v1/reports/{rid}/claim-review",
                             json={"decision": "rejected", "evidence_kind": "phone_log", "evidence_ref": "值班电话记录"}),
                 400, "missing_field")  # a rejection says why
    r = ok(leader.post(f"/api/v1/reports/{rid}/claim-review", json={
        "decision": "rejected", "evidence_kind": "phone_log", "evidence_ref": "县局值班电话记录无该时段来电",
        "note": "电话记录中无09:50来电"})).get_json()
    hour = by_kind(r["incident"]["deadlines"])["initial_report"]
    assert hour["status"] == "late" and hour["late_seconds"] == 2 * 3600 and hour["judged_by"] == "delivery"
    assert hour["satisfied_at"] == iso(t0 + timedelta(hours=3))
    assert r["report"]["claim"]["status"] == "rejected"
    # Whatever the township's delivery claim comes to, the bureau's copy stays judged by the entry: the hour too.
    r = ok(leader.post(f"/api/v1/reports/{rid}/recipients/local_government/claim-review", json={
        "decision": "confirmed", "evidence_kind": "phone_log", "evidence_ref": "镇党政办值班电话记录 09:50"})).get_json()
    hour = by_kind(r["incident"]["deadlines"])["initial_report"]
    assert hour["status"] == "late" and hour["late_seconds"] == 2 * 3600
    assert_error(leader.post(f"/api/v1/reports/{rid}/claim-review", json={
        "decision": "confirmed", "evidence_kind": "fax", "evidence_ref": "x"}), 409, "already_reviewed")
    sheet = ok(leader.get(f"/api/v1/accountability?incident={iid}")).get_json()
    assert sheet["backdated"]["rejected"] == 1
    item = next(d for d in sheet["deadlines"] if d["kind"] == "initial_report")
    assert item["outcome"] == "late" and "不予确认" in item["report"]["backdated_mark"]


def test_nobody_judges_their_own_claim_and_a_small_lag_is_no_backdating(users, clock, make_user):
    head = make_user("department_head", "office")
    iid = ok(users["office"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), level="II", level_reason="重大")), 201).get_json()["id"]
    clock.advance(minutes=40)
    # Typed in 5 minutes after it went out: within the plan's 10 minutes, not a 补录.
    r = ok(users["office"].post(f"/api/v1/incidents/{iid}/reports", json={
        "kind": "bureau", "body": "局报告", "submitted_at": iso(clock.now() - timedelta(minutes=5))}), 201).get_json()
    assert r["report"]["backdated"] is False and r["report"]["claim"] is None
    assert_error(head.post(f"/api/v1/reports/{r['report']['id']}/claim-review", json={
        "decision": "confirmed", "evidence_kind": "fax", "evidence_ref": "x"}), 409, "not_backdated")
    # The office head's own backdated report waits for the leadership.
    clock.advance(minutes=30)
    head_report = ok(users["office"].post(f"/api/v1/incidents/{iid}/reports", json={
        "kind": "initial", "body": "补报", "submitted_at": iso(clock.now() - timedelta(minutes=60))}), 201)
    rid = head_report.get_json()["report"]["id"]
    assert head_report.get_json()["report"]["backdated"] is True
    assert_error(users["office"].post(f"/api/v1/reports/{rid}/claim-review", json={
        "decision": "confirmed", "evidence_kind": "fax", "evidence_ref": "x"}), 403)


def active_with_summary(users, clock, level: str = "III") -> int:
    office, leader = users["office"], users["leader"]
    iid = ok(office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level=level,
                                                                    level_reason="定级")), 201).get_json()["id"]
    ok(leader.post(f"/api/v1/incidents/{iid}/activate"))
    clock.advance(hours=3)
    return iid


def test_the_summary_comes_before_the_end_and_the_written_report_goes_up_after_it(users, clock, wiring):
    office, leader = users["office"], users["leader"]
    iid = active_with_summary(users, clock)
    # The end needs the leadership's approval of the command's summary (plan §五(一)).
    assert_error(leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "平息"}), 409, "summary_not_approved")
    # The written report goes up only after the end.
    assert_error(office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "closing", "body": "书面报告"}), 409,
                 "not_ended")
    approve_summary(office, leader, iid)
    ok(leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "平息"}))
    t_end = clock.now()
    closing = by_kind(ok(office.get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"])["closing_report"]
    assert closing["due_at"] == iso(t_end + timedelta(days=4)) and closing["status"] == "pending"
    # Filed on day 2, signed off by the leadership, with the county government's 政务内网 receipt: the city bureau
    # has not got it: still owed.
    clock.advance(days=2)
    rid = file_report(office, iid, "closing", "书面报告", signer=leader, deliver=False)["report"]["id"]
    county = {k: v for k, v in deliveries()[0].items() if k != "code"}
    r = ok(office.post(f"/api/v1/reports/{rid}/recipients/county_government/delivery", json=county)).get_json()
    assert by_kind(r["incident"]["deadlines"])["closing_report"]["status"] == "pending"
    assert [x["delivered_at"] is not None for x in r["report"]["recipients"]] == [True, False]
    # Day 3: the city bureau's receipt; met, judged by the last delivery; the incident is archived.
    clock.advance(days=1)
    r = ok(office.post(f"/api/v1/reports/{rid}/recipients/city_bureau/delivery",
                       json={"channel": "fax", "reference": "传真 0371-67188000"})).get_json()
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "met" and closing["satisfied_at"] == iso(clock.now()) and closing["judged_by"] == "delivery"
    assert r["incident"]["status"] == "archived"
    # The city bureau returns it on day 5: the clock is owed again (now overdue), the incident open again.
    clock.advance(days=2)
    r = ok(office.post(f"/api/v1/reports/{rid}/recipients/city_bureau/return",
                       json={"reason": "请补充善后处置情况"})).get_json()
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "overdue" and closing["outcome"] == "missed" and closing["satisfied_at"] is None
    assert r["incident"]["status"] == "ended"
    assert_error(office.post(f"/api/v1/reports/{rid}/recipients/city_bureau/delivery",
                             json={"channel": "fax", "reference": "x"}), 409, "returned")
    # Day 10: a revised report reaches both: late by six days.
    clock.set(t_end + timedelta(days=10))
    r = report_up(office, iid, signer=leader)
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "late" and closing["late_seconds"] == 6 * 86400
    assert r["incident"]["status"] == "archived"
    actions = [a for a, _ in audit_actions(wiring, iid)]
    assert actions.count("report.delivered") == 4 and "report.returned" in actions
    assert "deadline.reopened" in actions and "incident.reopened" in actions
    # The sheet shows the written report, its recipients and when each got it.
    sheet = ok(office.get(f"/api/v1/accountability?incident={iid}")).get_json()
    item = next(d for d in sheet["deadlines"] if d["kind"] == "closing_report")
    assert item["outcome"] == "late" and item["judged_by"] == "delivery"
    assert [(x["code"], x["delivered_at"]) for x in item["report"]["recipients"]] == [
        ("county_government", iso(clock.now())), ("city_bureau", iso(clock.now()))]


def test_a_backdated_delivery_is_judged_by_its_entry_until_confirmed(users, clock, make_user):
    office, leader = users["office"], users["leader"]
    iid = active_with_summary(users, clock, "IV")
    approve_summary(office, leader, iid)
    ok(leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "已查处"}))
    t_end = clock.now()
    clock.advance(days=9)
    # Entered on day 9 (and signed off), claimed sent on day 7.
    r = file_report(office, iid, "closing", "书面报告", at=iso(t_end + timedelta(days=7)), signer=leader)
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "late" and closing["late_seconds"] == 86400
    assert all(x["claim"]["status"] == "pending" for x in r["report"]["recipients"])
    rid = r["report"]["id"]
    for code in ("county_government", "city_bureau"):
        r = ok(leader.post(f"/api/v1/reports/{rid}/recipients/{code}/claim-review", json={
            "decision": "confirmed", "evidence_kind": "gov_intranet", "evidence_ref": f"政务内网回执 {code}"})).get_json()
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "met" and closing["judged_by"] == "delivery"


def test_recipient_input_is_checked_and_nothing_is_lost(users, clock):
    office, leader = users["office"], users["leader"]
    iid = active_with_summary(users, clock)
    approve_summary(office, leader, iid)
    ok(leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "平息"}))
    clock.advance(hours=2)
    rid = file_report(office, iid, "closing", "书面报告", signer=leader, deliver=False)["report"]["id"]
    url = f"/api/v1/reports/{rid}/recipients"
    assert_error(office.post(f"{url}/nobody/delivery", json={"channel": "fax", "reference": "x"}), 404)
    assert_error(office.post(f"{url}/city_bureau/delivery", json={"channel": "pigeon", "reference": "x"}), 400)
    assert_error(office.post(f"{url}/city_bureau/delivery", json={"channel": "fax"}), 400)
    assert_error(office.post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "x",
                                                                  "delivered_at": "9999-01-01T00:00:00+08:00"}), 400)
    assert_error(office.post(f"{url}/city_bureau/return", json={"reason": "x"}), 409, "not_delivered")
    assert_error(users["prices"].post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "x"}), 404)
    assert_error(users["food"].post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "x"}), 403)
    assert_error(users["viewer"].post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "x"}), 403)
    assert_error(office.post(f"/api/v1/reports/{2 ** 70}/recipients/city_bureau/delivery",
                             json={"channel": "fax", "reference": "x"}), 404)
    r = ok(office.get(f"/api/v1/incidents/{iid}")).get_json()
    written = next(x for x in r["reports"] if x["id"] == rid)
    assert all(x["delivered_at"] is None for x in written["recipients"])
    ok(office.post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "传真"}))
    assert_error(office.post(f"{url}/city_bureau/delivery", json={"channel": "fax", "reference": "again"}), 409,
                 "already_delivered")
