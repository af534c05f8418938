"""A Ⅱ-level food-poisoning event end to end, with a fake clock."""
from __future__ import annotations

from datetime import timedelta

from app.jobs.clocks import tick
from tests.helpers import Recorder, approve_summary, by_kind, file_report, incident_payload, iso, report_up


def test_level_two_food_poisoning_end_to_end(app, wiring, clock, users):
    station, office, leader = users["station"], users["office"], users["leader"]
    recorder = Recorder()
    t0 = clock.now()

    # 09:00 the station learns of a poisoning at a canteen and registers it without a level.
    r = station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(t0)))
    assert r.status_code == 201, r.get_json()
    inc = r.get_json()
    assert inc["level"] is None and inc["status"] == "registered"
    assert inc["lead_department"] == "food_coord"
    clocks = by_kind(inc["deadlines"])
    assert list(clocks) == ["initial_report"]
    assert clocks["initial_report"]["due_at"] == iso(t0 + timedelta(hours=1))
    iid = inc["id"]

    # The warnings 15 and 5 minutes before the 1-hour report fire at those minutes, once each.
    clock.advance(minutes=44)
    tick(wiring, recorder)
    assert recorder.kinds() == []
    clock.advance(minutes=1)
    tick(wiring, recorder)
    tick(wiring, recorder)
    assert recorder.kinds() == [("initial_report", "warning")]
    assert recorder.fired[0].payload["seconds_left"] == 15 * 60
    clock.advance(minutes=10)
    tick(wiring, recorder)
    assert recorder.kinds()[-1] == ("initial_report", "warning")
    assert recorder.fired[-1].payload["seconds_left"] == 5 * 60

    # 09:58 the station files its initial report, which reaches the bureau here at once, and says it phoned the
    # township government at the same time: met, and the bureau's 30-minute clock starts.
    clock.advance(minutes=3)
    r = station.post(f"/api/v1/incidents/{iid}/reports", json={
        "kind": "initial", "body": "初报：食堂疑似食物中毒",
        "recipients": [{"code": "local_government", "channel": "phone", "reference": "电话报告镇党政办"}]})
    assert r.status_code == 201, r.get_json()
    assert {x["code"]: x["delivered_at"] for x in r.get_json()["report"]["recipients"]} == {
        "local_government": iso(clock.now()), "bureau": iso(clock.now())}
    clocks = by_kind(r.get_json()["incident"]["deadlines"])
    assert clocks["initial_report"]["status"] == "met"
    assert clocks["initial_report"]["late_seconds"] == 0
    t_initial = t0 + timedelta(minutes=58)
    assert clocks["bureau_report"]["due_at"] == iso(t_initial + timedelta(minutes=30))

    # The office grades it Ⅱ: no change to the reporting clocks, which Ⅱ keeps.
    r = office.post(f"/api/v1/incidents/{iid}/level", json={"level": "II", "reason": "20人就医，属重大食物中毒"})
    assert r.status_code == 200, r.get_json()
    assert [c["from"] for c in r.get_json()["level_changes"]] == [None, None]

    # The bureau report goes out 10 minutes late: drafted by the office, signed off by the leadership, sent to
    # the county government and the city bureau through 政务内网; the clock is late by 600 seconds.
    clock.set(t_initial + timedelta(minutes=37))
    tick(wiring, recorder)
    assert recorder.kinds()[-1] == ("bureau_report", "overdue")
    r = office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "bureau", "body": "已报县政府和市局"})
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["report"]["id"]
    assert r.get_json()["report"]["sign_off"]["waiting"] is True
    clock.set(t_initial + timedelta(minutes=39))
    r = leader.post(f"/api/v1/reports/{rid}/sign-off", json={})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["report"]["document"]["number"].startswith("中市监〔2026〕")
    assert by_kind(r.get_json()["incident"]["deadlines"])["bureau_report"]["status"] == "overdue"
    clock.set(t_initial + timedelta(minutes=40))
    for code in ("county_government", "city_bureau"):
        r = office.post(f"/api/v1/reports/{rid}/recipients/{code}/delivery",
                        json={"channel": "gov_intranet", "reference": f"政务内网回执 {code}"})
        assert r.status_code == 200, r.get_json()
    bureau = by_kind(r.get_json()["incident"]["deadlines"])["bureau_report"]
    assert bureau["status"] == "late" and bureau["late_seconds"] == 600

    # The leadership group activates the Ⅱ response: 3-day progress clock, 24 h measures and work team.
    r = leader.post(f"/api/v1/incidents/{iid}/activate")
    assert r.status_code == 200, r.get_json()
    t_act = clock.now()
    clocks = by_kind(r.get_json()["deadlines"])
    assert clocks["progress_report"]["due_at"] == iso(t_act + timedelta(days=3))
    assert clocks["measures_issued"]["due_at"] == iso(t_act + timedelta(hours=24))
    assert clocks["work_team_dispatched"]["due_at"] == iso(t_act + timedelta(hours=24))
    assert "command_meeting" not in clocks

    # Work team on site after 20 hours; measures never reported: overdue at 24 h exactly.
    clock.advance(hours=20)
    r = office.post(f"/api/v1/incidents/{iid}/measures", json={"measure": "work_team_dispatched", "body": "工作组已到现场"})
    assert by_kind(r.get_json()["incident"]["deadlines"])["work_team_dispatched"]["status"] == "met"
    clock.set(t_act + timedelta(hours=24) - timedelta(seconds=1))
    tick(wiring, recorder)
    assert ("measures_issued", "overdue") not in recorder.kinds()
    clock.advance(seconds=1)
    tick(wiring, recorder)
    assert recorder.kinds()[-1] == ("measures_issued", "overdue")

    # Progress report on day 2, signed off and delivered: the next progress clock starts from it, 3 days on.
    clock.set(t_act + timedelta(days=2))
    r = file_report(office, iid, "progress", "续报一", signer=leader)
    deadlines = r["incident"]["deadlines"]
    progress = [d for d in deadlines if d["kind"] == "progress_report"]
    assert [(p["cycle"], p["status"]) for p in progress] == [(0, "met"), (1, "pending")]
    assert progress[1]["due_at"] == iso(clock.now() + timedelta(days=3))

    # Day 4: the leadership group ends the emergency; the closing clock runs 4 days.
    clock.set(t_act + timedelta(days=4))
    approve_summary(office, leader, iid)
    r = leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "患者全部出院，涉事单位已整改"})
    assert r.status_code == 200, r.get_json()
    t_end = clock.now()
    deadlines = r.get_json()["deadlines"]
    closing = by_kind(deadlines)["closing_report"]
    assert closing["due_at"] == iso(t_end + timedelta(days=4))
    open_progress = [d for d in deadlines if d["kind"] == "progress_report" and d["cycle"] == 1][0]
    assert open_progress["status"] == "cancelled" and "结束" in open_progress["cancel_reason"]

    # A progress report after the end is refused and changes nothing.
    before = office.get(f"/api/v1/incidents/{iid}").get_json()
    r = office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "progress", "body": "迟到的续报"})
    assert r.status_code == 409
    assert "结束" in r.get_json()["error"]["message"]
    assert office.get(f"/api/v1/incidents/{iid}").get_json() == before

    # The written report reaches the county government and the city bureau on day 3 after the end: met,
    # judged by the deliveries, and the incident is archived.
    clock.set(t_end + timedelta(days=3))
    r = report_up(office, iid, signer=leader)
    closing = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "met" and closing["judged_by"] == "delivery"
    assert r["incident"]["status"] == "archived"

    # Accountability: the late bureau report by 10 minutes and the missed measures.
    acc = office.get(f"/api/v1/accountability?incident={iid}").get_json()
    assert acc["totals"] == {"met": 4, "late": 1, "missed": 1, "running": 0, "late_seconds_total": 600}
    office_row = [d for d in acc["by_department"] if d["department"] == "office"][0]
    office_clocks = [d for d in acc["deadlines"] if d["department"] == "office"]
    assert office_row["late"] == 1 and office_clocks[0]["late_by"] == "10分钟"
    assert [d["outcome"] for d in office_clocks].count("late") == 1
    lead_row = [d for d in acc["by_department"] if d["department"] == "food_coord"][0]
    assert lead_row["missed"] == 1

    # Every warning and overdue fired exactly once over the whole story.
    assert len(recorder.kinds()) == len(set((f.deadline_id, f.payload["seconds_left"]) for f in recorder.fired))
