"""Escalations on the pages: the incident page's 升级通知记录, the boards' data and their JSON.

The console senders (the default) stand in for the provider; a fake clock moves the chain.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.jobs.clocks import tick, walker_for
from tests.helpers import Recorder, iso
from tests.test_board_pages import activated, browser, page, page_data, register  # noqa: F401 - browser is a fixture

OFFICER_MASKED = "+86138****0001"  # users["food"]
HEAD = "+8613800000003"


@pytest.fixture
def chain(app, wiring, clock, users, make_user):
    """A Ⅰ incident with one assignment to the food department, whose officer is on duty; `at(minutes)` runs it."""
    make_user("department_head", "food_coord", HEAD)
    t0 = clock.now()
    r = users["office"].post("/api/v1/departments/food_coord/shifts",
                             json={"starts_at": iso(t0 - timedelta(hours=1)), "ends_at": iso(t0 + timedelta(days=1)),
                                   "officer_id": users["food"].id})
    assert r.status_code == 201, r.get_json()
    inc = register(users["office"], discovered_at=iso(t0), station=None, level="I", level_reason="测试")
    r = users["office"].post(f"/api/v1/incidents/{inc['id']}/assignments",
                             json={"department": "food_coord", "task": "立即派员赶赴现场核查"})
    assert r.status_code == 201, r.get_json()
    walker = walker_for(app, workers=1)
    recorder = Recorder()

    class Chain:
        incident = inc
        assignment = r.get_json()

        @staticmethod
        def at(minutes: float) -> None:
            clock.set(t0 + timedelta(minutes=minutes))
            tick(wiring, recorder, walker=walker)

    yield Chain
    walker.close()


def test_the_incident_page_lists_each_escalation_with_its_deliveries(browser, chain):
    chain.at(0)
    chain.at(2)  # the SMS to the officer on duty
    chain.at(5)  # the call
    chain.at(10)  # the department head's call
    html = page(browser("office", "office"), f"/incidents/{chain.incident['id']}")
    section = html[html.index('id="escalations"'):]
    section = section[:section.index("</section>")]
    assert "升级通知记录" in section and 'data-live="escalations"' in section
    aid = chain.assignment["id"]
    assert f"A{aid}" in section and "任务A" in section and "立即派员赶赴现场核查" in section
    assert "任务未签收" in section and "升级中" in section
    # Every delivery: time in Beijing time, channel, who, the phone masked, the state in Chinese.
    rows = re.findall(r'<tr class="delivery delivery-(\w+) purpose-(\w+)".*?</tr>', section, re.S)
    assert [r[0] for r in rows] == ["delivered", "sent", "sent", "sent"]
    assert "看板" in section and "短信" in section and "电话" in section
    assert OFFICER_MASKED in section and "+86138****0003" in section
    assert "+8613800000001" not in html and "+8613800000003" not in html
    assert "已送达" in section and "已发出" in section and "科室负责人" in section and "值班人员" in section
    assert "09:02:00" in section and "09:10:00" in section  # the fake clock starts at 09:00 Beijing time
    assert "Ⅰ级：立即 看板→值班人员；2分钟 短信→值班人员" in section and "共3轮，每20分钟一轮" in section


def test_an_acknowledgement_shows_who_signed_and_how(browser, chain, users):
    chain.at(0)
    chain.at(2)
    r = users["food"].post(f"/api/v1/assignments/{chain.assignment['id']}/ack")
    assert r.status_code == 200, r.get_json()
    chain.at(2.5)
    html = page(browser("office", "office"), f"/incidents/{chain.incident['id']}")
    section = html[html.index('id="escalations"'):]
    assert 'data-status="acknowledged"' in section and "已签收" in section and "（看板签收）" in section
    # The officer who signed knows already; nobody else was told by phone, so no "handled" SMS.
    assert "已处理通知" not in section[:section.index("</section>")]


def test_an_incident_without_escalations_says_so(browser, users, clock):
    inc = register(users["office"], discovered_at=clock.now().isoformat())
    html = page(browser("office", "office"), f"/incidents/{inc['id']}")
    assert "升级通知记录" in html and "本事件没有升级通知" in html


def test_the_duty_board_gets_the_departments_escalations_and_who_may_acknowledge(browser, chain, users):
    chain.at(0)
    chain.at(2)
    officer = browser("duty_officer", "food_coord")
    html = page(officer, "/duty")
    assert "/static/board/escalation.js" in html and 'id="esc-panel"' in html and "时限升级提醒" in html
    data = page_data(html)
    assert data["may_ack"] is True
    (esc,) = [e for e in data["escalations"] if e["assignment_id"] == chain.assignment["id"]]
    assert esc["status"] == "running" and esc["open"] is True and esc["department"] == "food_coord"
    sms = [d for d in esc["deliveries"] if d["channel"] == "sms"]
    assert sms and sms[0]["notified"] and sms[0]["phone_masked"] == OFFICER_MASKED and sms[0]["to_name"]
    assert all("content" not in d for d in esc["deliveries"])  # the boards get no message texts
    # Another department's officer sees the food board's escalations nowhere, and may not acknowledge them.
    prices = browser("duty_officer", "prices")
    assert page_data(page(prices, "/duty"))["escalations"] == []
    assert prices.get(f"/board/escalations?incident={chain.incident['id']}").status_code == 404
    viewer_board = page_data(page(browser("viewer"), "/duty?department=food_coord"))
    assert viewer_board["may_ack"] is False and viewer_board["escalations"]


def test_the_overview_gets_running_escalations_only(browser, chain, users):
    chain.at(0)
    leader = browser("leader")
    data = page_data(page(leader, "/"))
    assert [e["assignment_id"] for e in data["escalations"]] == [chain.assignment["id"]]
    assert "/static/board/escalation.js" in page(leader, "/") and 'id="esc-alerts"' in page(leader, "/")
    users["food"].post(f"/api/v1/assignments/{chain.assignment['id']}/ack")
    assert page_data(page(leader, "/"))["escalations"] == []


def test_the_boards_read_an_incidents_escalations_as_json(browser, chain, users):
    chain.at(0)
    chain.at(2)
    client = browser("office", "office")
    r = client.get(f"/board/escalations?incident={chain.incident['id']}")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    (esc,) = body["escalations"]
    assert esc["code"] == f"A{chain.assignment['id']}" and esc["open"] is True
    assert esc["incident_number"] == chain.incident["number"] and esc["unit_name"] == "食品安全协调督查科"
    assert esc["incident_level"] == "I"
    assert client.get(f"/board/escalations?incident={chain.incident['id']}&department=prices").get_json()[
        "escalations"] == []
    assert client.get("/board/escalations").status_code == 400
    assert client.get("/board/escalations?incident=999999").status_code == 404


def test_an_exhausted_escalation_is_no_alarm_once_its_item_is_handled(browser, chain, users):
    for minute in (0, 2, 5, 10, 15, 20, 22, 25, 30, 35, 40, 42, 45, 50, 55, 56):
        chain.at(minute)
    code = f"A{chain.assignment['id']}"
    client = browser("office", "office")

    def assignment_escalation(listing: list[dict]) -> list[dict]:
        # The office's own 30-minute clock escalates alongside; this test follows the assignment's chain.
        return [e for e in listing if e["code"] == code]

    (esc,) = assignment_escalation(client.get(f"/board/escalations?incident={chain.incident['id']}")
                                   .get_json()["escalations"])
    assert esc["status"] == "exhausted" and esc["open"] is True
    (shown,) = assignment_escalation(page_data(page(browser("leader"), "/"))["escalations"])
    assert shown["status"] == "exhausted"
    r = users["food"].post(f"/api/v1/assignments/{chain.assignment['id']}/ack")
    assert r.status_code == 200, r.get_json()
    (esc,) = assignment_escalation(client.get(f"/board/escalations?incident={chain.incident['id']}")
                                   .get_json()["escalations"])
    assert esc["status"] == "acknowledged" and esc["open"] is False  # a late signature still stops it
    assert assignment_escalation(page_data(page(browser("leader"), "/"))["escalations"]) == []


def test_the_escalation_script_is_served(app):
    r = app.test_client().get("/static/board/escalation.js")
    assert r.status_code == 200 and b"YJ.esc" in r.data
    for name in ("duty.js", "overview.js", "incident.js"):
        assert b"escalation" in app.test_client().get(f"/static/board/{name}").data


def test_clock_escalations_are_listed_for_the_departments_board(browser, users, clock, wiring, app):
    """A Ⅱ response's measure clock for the food department runs out: its escalation is on the food board."""
    inc = activated(users, clock)
    walker = walker_for(app, workers=1)
    try:
        clock.set(clock.now() + timedelta(hours=25))
        tick(wiring, Recorder(), walker=walker)
    finally:
        walker.close()
    data = page_data(page(browser("duty_officer", "food_coord"), "/duty"))
    clocks = [e for e in data["escalations"] if e["deadline_id"] and e["incident_id"] == inc["id"]]
    assert clocks and all(e["trigger"] == "overdue" and e["status"] == "running" for e in clocks)
    assert all(e["item"].startswith("时限D") for e in clocks)
