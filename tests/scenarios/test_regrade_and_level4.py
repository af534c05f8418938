"""Re-grading Ⅲ → Ⅰ, a Ⅳ-level case, and an ungraded event later graded Ⅳ."""
from __future__ import annotations

from datetime import timedelta

from app.jobs.clocks import tick
from tests.helpers import Recorder, approve_summary, by_kind, deliveries, file_report, incident_payload, iso


def test_regrade_three_to_one_changes_cadence_and_adds_command_meeting(wiring, clock, users):
    office, leader = users["office"], users["leader"]
    body = incident_payload(title="某市场哄抬物价", category="price_anomaly", discovered_at=iso(clock.now()),
                            level="III", level_reason="县域影响较大")
    iid = office.post("/api/v1/incidents", json=body).get_json()["id"]
    r = leader.post(f"/api/v1/incidents/{iid}/activate")
    t_act = clock.now()
    clocks = by_kind(r.get_json()["deadlines"])
    assert clocks["progress_report"]["due_at"] == iso(t_act + timedelta(days=7))
    assert clocks["work_team_dispatched"]["due_at"] == iso(t_act + timedelta(hours=24))
    assert "command_meeting" not in clocks

    # Two hours later an epidemic makes it Ⅰ: daily progress and the 12 h meeting from the re-grade.
    clock.advance(hours=2)
    t_regrade = clock.now()
    r = office.post(f"/api/v1/incidents/{iid}/level", json={"level": "I", "reason": "疫情扩散，全县抢购"})
    assert r.status_code == 200, r.get_json()
    inc = r.get_json()
    clocks = by_kind(inc["deadlines"])
    assert clocks["progress_report"]["due_at"] == iso(t_regrade + timedelta(days=1))
    assert clocks["progress_report"]["starts_at"] == iso(t_regrade)
    assert clocks["progress_report"]["status"] == "pending"
    assert clocks["command_meeting"]["due_at"] == iso(t_regrade + timedelta(hours=12))
    assert clocks["staff_assembly"]["due_at"] == iso(t_regrade + timedelta(hours=1))
    # Ⅰ asks for no work team: the Ⅲ clock is cancelled with its reason kept.
    cancelled = [d for d in inc["deadlines"] if d["status"] == "cancelled"]
    assert [d["kind"] for d in cancelled] == ["work_team_dispatched"]
    assert "Ⅰ" in cancelled[0]["cancel_reason"]
    assert [(c["from"], c["to"], c["reason"]) for c in inc["level_changes"]] == [
        (None, "III", "县域影响较大"), ("III", "I", "疫情扩散，全县抢购")]

    # The command meeting comes due at exactly 12 hours, with its warnings at 1 h and 15 min before.
    recorder = Recorder()
    clock.set(t_regrade + timedelta(hours=11))
    tick(wiring, recorder)
    clock.set(t_regrade + timedelta(hours=12))
    tick(wiring, recorder)
    meeting = [(f.kind, f.payload["seconds_left"]) for f in recorder.fired if f.payload["clock"] == "command_meeting"]
    assert meeting == [("warning", 3600), ("overdue", 0)]

    # The daily progress report (signed off and delivered at once) is late by 3 hours.
    clock.set(t_regrade + timedelta(days=1, hours=3))
    r = file_report(office, iid, "progress", "续报", signer=leader)
    progress = [d for d in r["incident"]["deadlines"] if d["kind"] == "progress_report"]
    assert progress[0]["status"] == "late" and progress[0]["late_seconds"] == 3 * 3600
    assert progress[1]["due_at"] == iso(clock.now() + timedelta(days=1))


def test_level_four_case_has_no_short_clocks_and_eight_day_closing(wiring, clock, users):
    office, commander, leader = users["office"], users["commander"], users["leader"]
    body = incident_payload(title="传销窝点", category="pyramid_selling", discovered_at=iso(clock.now()), level="IV")
    r = office.post("/api/v1/incidents", json=body)
    assert r.status_code == 201
    inc = r.get_json()
    assert inc["deadlines"] == []  # no 1-hour or 30-minute clocks at Ⅳ
    iid = inc["id"]
    leader.post(f"/api/v1/incidents/{iid}/activate")
    t_act = clock.now()
    clocks = by_kind(office.get(f"/api/v1/incidents/{iid}").get_json()["deadlines"])
    assert set(clocks) == {"progress_report"}
    assert clocks["progress_report"]["due_at"] == iso(t_act + timedelta(days=7))

    # Even an initial report filed at Ⅳ starts no 30-minute bureau clock.
    office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "body": "所报告"})
    assert "bureau_report" not in by_kind(office.get(f"/api/v1/incidents/{iid}").get_json()["deadlines"])

    clock.advance(days=5)
    approve_summary(commander, leader, iid)
    r = commander.post(f"/api/v1/incidents/{iid}/end", json={"reason": "窝点已取缔"})
    assert r.status_code == 200, r.get_json()
    closing = by_kind(r.get_json()["deadlines"])["closing_report"]
    assert closing["due_at"] == iso(clock.now() + timedelta(days=8))

    # The written report is filed on day 7 but the city bureau has it only on day 9: late by one day,
    # judged by the last recipient's delivery.
    t_end = clock.now()
    clock.set(t_end + timedelta(days=7))
    rid = file_report(office, iid, "closing", "书面报告", signer=leader, deliver=False)["report"]["id"]
    county = {k: v for k, v in deliveries()[0].items() if k != "code"}
    r = office.post(f"/api/v1/reports/{rid}/recipients/county_government/delivery", json=county)
    assert r.status_code == 200, r.get_json()
    assert by_kind(r.get_json()["incident"]["deadlines"])["closing_report"]["status"] == "pending"
    clock.set(t_end + timedelta(days=9))
    r = office.post(f"/api/v1/reports/{rid}/recipients/city_bureau/delivery",
                    json={"channel": "fax", "reference": "传真 0371-62100000"})
    assert r.status_code == 200, r.get_json()
    closing = by_kind(r.get_json()["incident"]["deadlines"])["closing_report"]
    assert closing["status"] == "late" and closing["late_seconds"] == 86400 and closing["judged_by"] == "delivery"
    assert r.get_json()["incident"]["status"] == "archived"


def test_ungraded_event_runs_the_hour_clock_and_grading_four_cancels_it(wiring, clock, users):
    station, office = users["station"], users["office"]
    body = incident_payload(title="疑似假冒白酒", category="counterfeit", discovered_at=iso(clock.now()))
    inc = station.post("/api/v1/incidents", json=body).get_json()
    assert inc["level"] is None
    assert by_kind(inc["deadlines"])["initial_report"]["due_at"] == iso(clock.now() + timedelta(hours=1))

    clock.advance(minutes=20)
    r = office.post(f"/api/v1/incidents/{inc['id']}/level", json={"level": "IV", "reason": "个别商超，数量不大"})
    deadlines = r.get_json()["deadlines"]
    assert [(d["kind"], d["status"]) for d in deadlines] == [("initial_report", "cancelled")]
    assert "Ⅳ" in deadlines[0]["cancel_reason"]

    # A cancelled clock never fires.
    recorder = Recorder()
    clock.advance(hours=2)
    tick(wiring, recorder)
    assert recorder.fired == []

    # Re-graded up to Ⅱ two hours later: the station's hour clock is owed again from the re-grade (the
    # time Ⅱ became known), never born overdue; the bureau's 30 minutes likewise.
    t_regrade = clock.now()
    r = office.post(f"/api/v1/incidents/{inc['id']}/level", json={"level": "II", "reason": "发现批量流入多家商超"})
    live = by_kind(r.get_json()["deadlines"])
    assert live["initial_report"]["status"] == "pending"
    assert live["initial_report"]["starts_at"] == iso(t_regrade)
    assert live["initial_report"]["due_at"] == iso(t_regrade + timedelta(hours=1))
    assert live["initial_report"]["outcome"] == "running"
    tick(wiring, recorder)
    assert recorder.fired == []
    clock.advance(hours=1)
    tick(wiring, recorder)
    assert recorder.kinds() == [("initial_report", "overdue")]


def test_ending_cancels_measures_not_yet_due_and_keeps_missed_ones(wiring, clock, users):
    office, leader = users["office"], users["leader"]
    body = incident_payload(title="禽流感引发抢购", category="epidemic", discovered_at=iso(clock.now()), level="I")
    iid = office.post("/api/v1/incidents", json=body).get_json()["id"]
    leader.post(f"/api/v1/incidents/{iid}/activate")
    # Staff assembly (1 h) is missed; the leadership ends the emergency 3 hours in,
    # before the 12-hour command meeting is due.
    clock.advance(hours=3)
    approve_summary(office, leader, iid)
    r = leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "误报,市场平稳"})
    rows = {d["kind"]: d for d in r.get_json()["deadlines"]}
    assert rows["staff_assembly"]["status"] == "pending" and rows["staff_assembly"]["outcome"] == "missed"
    assert rows["command_meeting"]["status"] == "cancelled"
    assert "专项应急指挥部" in rows["command_meeting"]["cancel_reason"]
    assert rows["closing_report"]["due_at"] == iso(clock.now() + timedelta(days=4))
