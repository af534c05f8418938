"""The demo data (`flask demo load`): what a newcomer sees after `make run`.

The demo's stories run with `now` in the past; only one fresh assignment is left unsigned,
so the scheduler's first runs escalate exactly that one: SMS to the food department's
officer on duty, then a call, then the department head, each logged by the console sender
with the phone masked.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.demo import DEMO_PASSWORD, DEMO_USERS, FRESH_TASK, load
from app.jobs.clocks import tick, walker_for
from incidents.response import accountability
from incidents.models import ESC_RUNNING, Assignment, Escalation, Incident, Report, ReportRecipient, User
from tests.helpers import Recorder
from tests.test_board_pages import page, page_data

OFFICER = "+86138****0013"  # food, on duty for food_coord
HEAD = "+86138****0019"  # food_head
LEADER = "+86138****0010"


@pytest.fixture
def demo(app, wiring):
    """The demo loaded at the fake clock's now."""
    lines = list(load(app))
    assert any("demo users" in line for line in lines), lines
    return lines


def sent(caplog) -> list[str]:
    """Return the console senders' lines: [sms → +86138****0013] ..."""
    return [r.getMessage() for r in caplog.records if r.name == "yingji.notify" and r.getMessage().startswith("[")]


def test_the_demo_loads_once_with_department_heads(app, wiring, demo):
    with wiring.sessions() as session:
        heads = {u.login: (u.unit, u.phone)
                 for u in session.scalars(select(User).where(User.role == "department_head"))}
        assert heads == {"food_head": ("food_coord", "+8613800000019"),
                         "sepe_head": ("special_equipment", "+8613800000020")}
        incidents = session.scalar(select(func.count()).select_from(Incident))
    assert {u[0] for u in DEMO_USERS} >= {"food_head", "sepe_head"}
    assert list(load(app)) == ["demo data already loaded; nothing changed"]
    with wiring.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == incidents


def test_only_the_fresh_assignment_escalates_at_start(wiring, clock, demo):
    with wiring.sessions() as session:
        running = session.scalars(select(Escalation).where(Escalation.status == ESC_RUNNING)).all()
        assert len(running) == 1, [(e.key, e.trigger) for e in running]
        (esc,) = running
        fresh = session.get(Assignment, esc.assignment_id)
        assert fresh.task == FRESH_TASK and fresh.status == "pushed" and fresh.department == "food_coord"
        assert esc.started_at == clock.now() - timedelta(minutes=3)
        assert esc.chain["level"] == "II"
        # Every other assignment of an open incident was signed in the story.
        pushed = session.scalars(select(Assignment).join(Incident).where(
            Assignment.status == "pushed", Incident.status.in_(("registered", "active")))).all()
        assert [a.id for a in pushed] == [fresh.id]
        # The clocks that ran out before the demo was loaded fired at load; the office signed their reminders.
        acknowledged = session.scalars(select(Escalation).where(Escalation.deadline_id.is_not(None))).all()
        assert acknowledged and {e.status for e in acknowledged} == {"acknowledged"}
        assert {e.trigger for e in acknowledged} == {"overdue"}


def test_the_fresh_assignment_walks_its_chain_in_the_log(app, wiring, clock, demo, caplog):
    caplog.set_level(logging.INFO)
    walker = walker_for(app, workers=1)
    start = clock.now()
    try:
        def at(minutes: float) -> list[str]:
            before = len(sent(caplog))
            clock.set(start + timedelta(minutes=minutes))
            tick(wiring, Recorder(), walker=walker)
            return sent(caplog)[before:]

        assert at(0) == []  # the board step only: it was pushed three minutes ago
        assert at(1.9) == []
        (sms,) = at(2)  # five minutes after it was pushed (Ⅱ)
        assert sms.startswith(f"[sms → {OFFICER}]") and re.search(r"回复[A-Z0-9]{4}签收\[A\d+\]", sms) and "排查涉事学校周边餐饮单位" in sms
        assert "+8613800000013" not in sms
        assert at(6.9) == []
        (call,) = at(7)
        assert call.startswith(f"[voice → {OFFICER}]")
        (head,) = at(17)
        assert head.startswith(f"[voice → {HEAD}]")
        (leader,) = at(27)
        assert leader.startswith(f"[sms → {LEADER}]")
    finally:
        walker.close()


def test_the_boards_show_the_fresh_escalation(app, wiring, clock, demo):
    walker = walker_for(app, workers=1)
    try:
        clock.set(clock.now() + timedelta(minutes=2))
        tick(wiring, Recorder(), walker=walker)
    finally:
        walker.close()
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"login": "food", "password": DEMO_PASSWORD, "csrf_token": "t"})
    assert r.status_code == 302
    data = page_data(page(client, "/duty"))
    (esc,) = [e for e in data["escalations"] if e["status"] == "running"]
    assert FRESH_TASK[:10] in esc["item"] and esc["open"] is True
    sms = [d for d in esc["deliveries"] if d["channel"] == "sms"]
    assert sms and sms[0]["phone_masked"] == OFFICER and sms[0]["to_name"].startswith("王值班")
    html = page(client, f"/incidents/{esc['incident_id']}")
    assert "升级通知记录" in html and OFFICER in html and "已发出" in html


def test_the_demo_shows_a_confirmed_backdating_a_false_report_and_a_written_report_half_delivered(wiring, clock, demo):
    with wiring.sessions() as session:
        sheet = accountability.report(session, now=clock.now())
    by_title = {i["title"]: i for i in sheet["by_incident"]}
    # The station's report phoned in to the bureau and the township, typed in 20 minutes later and confirmed on
    # the duty phone logs: met at the phoned time, when both had it.
    poisoning = {d["kind"]: d for d in by_title["城关镇某中学食堂疑似集体食物中毒"]["deadlines"]}
    assert (poisoning["initial_report"]["outcome"], poisoning["initial_report"]["judged_by"]) == ("met", "delivery")
    assert poisoning["initial_report"]["satisfied_at"] == (clock.now() - timedelta(hours=5, minutes=20)).isoformat()
    assert {r["code"]: r["claim"]["status"] for r in poisoning["initial_report"]["report"]["recipients"]} == {
        "local_government": "confirmed", "bureau": "confirmed"}
    # The bureau's report, signed off by the leadership and sent through 政务内网 to both, 10 minutes late.
    assert poisoning["bureau_report"]["outcome"] == "late" and poisoning["bureau_report"]["late_by"] == "10分钟"
    bureau = poisoning["bureau_report"]["report"]
    assert bureau["sign_off"]["signed_by"] == "申局长" and bureau["document"]["number"].startswith("中市监〔")
    assert {r["code"]: r["channel"] for r in bureau["recipients"]} == {"county_government": "gov_intranet",
                                                                       "city_bureau": "gov_intranet"}
    (confirmed,) = sheet["backdated"]["items"]
    assert confirmed["claim"]["status"] == "confirmed" and "值班电话记录" in confirmed["claim"]["evidence_ref"]
    assert confirmed["backdated_mark"].startswith("补录·已确认")
    # The false tip-off closed without a response; the station's hour that ran out before stays missed.
    closed = sheet["closed_without_response"]
    assert closed["false_report"]["count"] == 1
    assert (closed["not_activated"]["count"], closed["duplicate"]["count"]) == (0, 0)
    false = {d["kind"]: d for d in by_title["官渡镇某批发部疑似销售过期食品"]["deadlines"]}
    assert false["initial_report"]["outcome"] == "missed"
    assert closed["false_report"]["numbers"] == [by_title["官渡镇某批发部疑似销售过期食品"]["number"]]
    # The strike's written report, signed off: the county government has it, the city bureau not yet, the clock runs.
    strike = {d["kind"]: d for d in by_title["某市场商户集体罢市"]["deadlines"]}
    assert strike["closing_report"]["outcome"] == "running"
    written = strike["closing_report"]["report"]
    assert written["sign_off"]["waiting"] is False
    assert [(r["code"], r["delivered_at"] is not None) for r in written["recipients"]] == [
        ("county_government", True), ("city_bureau", False)]
    # Every other report went out and reached everyone, but the price anomaly's bureau report: drafted by the
    # office, it waits for the leadership's sign-off (签发) and has gone nowhere yet.
    with wiring.sessions() as session:
        waiting = session.scalars(select(Report).where(Report.kind.in_(("bureau", "progress", "closing")),
                                                       Report.signed_at.is_(None))).all()
        assert [(r.kind, r.incident.title) for r in waiting] == [("bureau", "官渡镇农贸市场蔬菜价格异常上涨")]
        assert all(r.delivered_at is None for r in waiting[0].recipients)
        undelivered = session.scalars(select(ReportRecipient).where(ReportRecipient.delivered_at.is_(None))).all()
        assert sorted((r.report.incident.title, r.code) for r in undelivered) == [
            ("官渡镇农贸市场蔬菜价格异常上涨", "city_bureau"), ("官渡镇农贸市场蔬菜价格异常上涨", "county_government"),
            ("某市场商户集体罢市", "city_bureau")]
