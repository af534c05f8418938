"""Escalation on the boards, in a browser, against a real `flask serve` with its real clock.

The server runs a plan derived from the default one by text replacement: its Ⅱ chain moves in
seconds (board at once, SMS after 2 s, call after 4 s; the department head stays 20 minutes
away, so nothing runs out during those tests), its Ⅳ chain is the board and an SMS 3 s later,
then nothing (it runs out at once), and the bureau report's first warning comes 5 s after the
station's report. The console senders log the SMS and calls with the phones masked. Every
wait is bounded; no test sleeps for a deadline.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_tab, start_server, stop_server
from tests.browser.test_boards import assert_not_reloaded, connected, mark, no_page_errors
from tests.conftest import repo_root, scratch_pg_database, service_missing
from tests.helpers import incident_payload

STEP = 15_000  # ms for a step of the chain (seconds away) to show on a board, with the scheduler's 0.5 s
FOOD_PHONE, FOOD_MASKED = "+8613800000021", "+86138****0021"
OFFICE_PHONE, OFFICE_MASKED = "+8613800000022", "+86138****0022"

FAST_CHAIN = (
    ("  II:\n    repeat: 3\n    repeat_after: PT40M\n    steps:\n"
     "      - {after: PT0M, channel: board, to: duty_officer}\n"
     "      - {after: PT5M, channel: sms, to: duty_officer}\n"
     "      - {after: PT10M, channel: voice, to: duty_officer}\n",
     "  II:\n    repeat: 1\n    steps:\n"
     "      - {after: PT0S, channel: board, to: duty_officer}\n"
     "      - {after: PT2S, channel: sms, to: duty_officer}\n"
     "      - {after: PT4S, channel: voice, to: duty_officer}\n"),
    ("  IV:\n    repeat: 2\n    repeat_after: PT3H\n    steps:\n"
     "      - {after: PT0M, channel: board, to: duty_officer}\n"
     "      - {after: PT30M, channel: sms, to: duty_officer}\n"
     "      - {after: PT2H, channel: sms, to: department_head}\n",
     "  IV:\n    repeat: 1\n    steps:\n"
     "      - {after: PT0S, channel: board, to: duty_officer}\n"
     "      - {after: PT3S, channel: sms, to: duty_officer}\n"),
    ("    due_after: PT30M\n    responsible: office\n    satisfied_by: bureau\n    warn_before: [PT15M, PT5M]\n",
     "    due_after: PT30M\n    responsible: office\n    satisfied_by: bureau\n    warn_before: [PT29M55S, PT5M]\n"),
)


def fast_plan(folder: Path) -> Path:
    """Write the default plan with the fast Ⅱ chain and the early bureau-report warning; return its path."""
    text = (repo_root() / "incidents" / "plan" / "plans" / "zhongmou-2021.yaml").read_text(encoding="utf-8")
    for old, new in FAST_CHAIN:
        assert text.count(old) == 1, f"the default plan changed; update FAST_CHAIN:\n{old}"
        text = text.replace(old, new)
    path = folder / "fast-plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _serve_fast(database_url: str, folder: Path):
    saved = {k: os.environ.get(k) for k in ("PLAN_FILE", "SMS_BACKEND", "VOICE_BACKEND")}
    os.environ["PLAN_FILE"] = str(fast_plan(folder))  # start_server hands its environment on
    os.environ.pop("SMS_BACKEND", None)
    os.environ.pop("VOICE_BACKEND", None)
    try:
        return start_server(database_url, folder)
    except Exception as exc:  # noqa: BLE001
        service_missing("the Yingji server", exc)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fast_server(request, tmp_path_factory):
    """`flask serve` with the fast plan (PLAN_FILE) and the console senders, on SQLite and on PostgreSQL."""
    folder = tmp_path_factory.mktemp(f"server-escalation-{request.param}")
    if request.param == "sqlite":
        server = _serve_fast(f"sqlite:///{folder / 'yingji.db'}", folder)
        yield server
        stop_server(server)
        return
    with scratch_pg_database("yingji_escalation") as url:
        server = _serve_fast(url, folder)
        yield server
        stop_server(server)


def on_duty(server, page, department: str, phone: str) -> None:
    """Put the page's signed-in user on duty for the department now, with a phone."""
    user_id = page.evaluate("YJ.data().user.id")
    now = datetime.now(timezone.utc)
    status, body = server.api("office", "POST", f"/api/v1/departments/{department}/shifts", {
        "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=12)).isoformat(),
        "officer_id": user_id, "phone": phone})
    assert status == 201, body


def register_ii(server, title: str, **overrides) -> int:
    """Register a Ⅱ food poisoning now (not activated: no standard assignments); return its id."""
    payload = incident_payload(title=title, level="II", level_reason="演练",
                               discovered_at=datetime.now(timezone.utc).isoformat(), **overrides)
    status, body = server.api("office", "POST", "/api/v1/incidents", payload)
    assert status == 201, body
    return body["id"]


def bureau_reports_filed(server) -> None:
    """File the office's 30-minute report of every incident still registered on the shared server: an earlier
    test's incident must not keep a reminder of the office's own clock running into the next test."""
    status, body = server.api("office", "GET", "/api/v1/incidents")
    assert status == 200, body
    for incident in body["incidents"]:
        if incident["status"] == "registered" and incident.get("level") in ("I", "II", "III"):
            status, filed = server.api("office", "POST", f"/api/v1/incidents/{incident['id']}/reports",
                                       {"kind": "bureau", "body": "已报县政府和市局。"})
            assert status == 201, filed
            # Signed off by the leadership, then delivered to the county government and the city bureau: met.
            rid = filed["report"]["id"]
            status, signed = server.api("leader", "POST", f"/api/v1/reports/{rid}/sign-off", {})
            assert status == 200, signed
            for code in ("county_government", "city_bureau"):
                status, got = server.api("office", "POST", f"/api/v1/reports/{rid}/recipients/{code}/delivery",
                                         {"channel": "gov_intranet", "reference": f"政务内网回执 {code}"})
                assert status == 200, got


def test_an_unacknowledged_assignment_escalates_live_and_is_signed_on_the_board(fast_server, open_as):
    server = fast_server
    officer = open_as(server, "food")
    assert officer.url.endswith("/duty"), officer.url
    connected(officer)
    on_duty(server, officer, "food_coord", FOOD_PHONE)
    iid = register_ii(server, "演练：某幼儿园疑似食物中毒")
    record = new_tab(officer.context)  # the incident page, open before anything escalates
    record.goto(f"{server.url}/incidents/{iid}")
    connected(record)
    expect(record.locator("#escalations")).to_contain_text("本事件没有升级通知")
    mark(officer)
    mark(record)

    status, body = server.api("office", "POST", f"/api/v1/incidents/{iid}/assignments",
                              {"department": "food_coord", "task": "演练：立即派员赶赴现场核查"})
    assert status == 201, body
    aid = body["id"]
    card = officer.locator(f"#assignment-{aid}")
    expect(card).to_be_visible(timeout=STEP)

    # The chain goes on by itself: the SMS to the officer on duty shows on the card, then the call.
    badge = card.locator(".esc-badge")
    expect(badge).to_contain_text("已短信通知", timeout=STEP)
    expect(badge).to_contain_text("食品科值班赵六")
    expect(badge).to_have_text(re.compile(r"· \d{2}:\d{2}"))
    expect(badge).to_contain_text("已电话通知", timeout=STEP)

    # The incident page lists the escalation and its deliveries, live.
    row = record.locator(f'#escalations .esc[data-code="A{aid}"]')
    expect(row).to_be_visible(timeout=STEP)
    sms = row.locator('tr.delivery[data-channel="sms"]')
    expect(sms).to_have_count(1, timeout=STEP)
    expect(sms).to_contain_text(FOOD_MASKED)
    expect(sms).to_contain_text("短信")
    expect(sms).to_contain_text("已发出")
    expect(sms.locator(".time")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"))
    expect(row.locator('tr.delivery[data-channel="board"]')).to_contain_text("看板")
    expect(row.locator(".esc-state")).to_have_text("升级中")
    assert FOOD_PHONE not in record.content()

    # The officer signs on the board: the escalation stops and says who signed, on both pages.
    card.locator(".btn-ack").click()
    expect(card).to_have_attribute("data-status", "acknowledged", timeout=STEP)
    expect(card.locator(".esc-badge")).to_contain_text("已签收", timeout=STEP)
    expect(card.locator(".esc-badge")).to_contain_text("看板签收")
    expect(row).to_have_attribute("data-status", "acknowledged", timeout=STEP)
    expect(row.locator(".esc-state")).to_have_text("已签收")
    expect(row.locator(".esc-ack")).to_contain_text("食品科值班赵六")

    # The console sender logged the SMS and the call, phones masked; nothing after the signature.
    log = server.log.read_text(errors="replace")
    assert f"[sms → {FOOD_MASKED}]" in log and f"[voice → {FOOD_MASKED}]" in log, server.log_tail()
    assert FOOD_PHONE not in log
    assert_not_reloaded(officer)
    assert_not_reloaded(record)
    no_page_errors(officer, record)


def test_a_clock_reminder_is_signed_on_the_duty_board_and_shows_on_the_overview(fast_server, open_as):
    server = fast_server
    bureau_reports_filed(server)
    office = open_as(server, "office")
    connected(office)
    on_duty(server, office, "office", OFFICE_PHONE)
    board = new_tab(office.context)
    board.goto(f"{server.url}/duty")  # the office's own department board
    connected(board)
    mark(board)
    mark(office)

    iid = register_ii(server, "演练：某超市冷链食品疑似污染")
    status, body = server.api("office", "POST", f"/api/v1/incidents/{iid}/reports",
                              {"kind": "initial", "body": "城关所初报：演练。", "recipients": [
                                  {"code": "local_government", "channel": "phone", "reference": "电话报告镇党政办"}]})
    assert status == 201, body
    # The bureau report's first warning comes 5 s later: its reminder walks the fast Ⅱ chain.
    reminder = board.locator("#esc-rows .esc-row")
    expect(reminder).to_have_count(1, timeout=STEP)
    expect(board.locator("#esc-panel")).to_be_visible()
    expect(reminder).to_contain_text("局向县政府和市局报告")
    expect(reminder).to_contain_text("时限即将届满")
    expect(reminder.locator(".esc-badge")).to_contain_text("已短信通知", timeout=STEP)
    assert f"[sms → {OFFICE_MASKED}]" in server.log.read_text(errors="replace"), server.log_tail()

    # The overview lists what has gone beyond the board.
    panel = office.locator("#esc-alerts")
    expect(panel).to_be_visible(timeout=STEP)
    expect(panel.locator(f'.esc-alert a[href="/incidents/{iid}"]')).to_be_visible()
    expect(office.locator(f'.card[data-incident="{iid}"] .card-escalations')).to_contain_text("已", timeout=STEP)

    reminder.locator(".btn-esc-ack").click()
    expect(reminder).to_have_attribute("data-status", "acknowledged", timeout=STEP)
    expect(reminder.locator(".esc-badge")).to_contain_text("已签收")
    expect(reminder.locator(".btn-esc-ack")).to_have_count(0)
    expect(board.locator("#esc-count")).to_have_text("0")
    expect(panel).to_be_hidden(timeout=STEP)  # acknowledged: nothing running any more

    status, body = server.api("office", "GET", f"/api/v1/incidents/{iid}/escalations")
    assert status == 200, body
    (esc,) = body["escalations"]
    assert esc["status"] == "acknowledged" and esc["ack_channel"] == "board" and esc["trigger"] == "warning"
    assert_not_reloaded(board)
    assert_not_reloaded(office)
    no_page_errors(board, office)


def test_an_exhausted_escalation_shows_in_red_on_the_overview_until_its_item_is_handled(fast_server, open_as):
    server = fast_server
    bureau_reports_filed(server)
    office = open_as(server, "office")
    connected(office)
    mark(office)
    payload = incident_payload(title="演练：某小区疑似传销聚集", category="pyramid_selling", level="IV",
                               level_reason="演练", discovered_at=datetime.now(timezone.utc).isoformat())
    status, body = server.api("office", "POST", "/api/v1/incidents", payload)
    assert status == 201, body
    iid = body["id"]
    # The prices department has nobody on duty: its SMS step reaches nobody, and the Ⅳ chain ends there.
    status, body = server.api("office", "POST", f"/api/v1/incidents/{iid}/assignments",
                              {"department": "prices", "task": "演练：核查涉事商户价格行为"})
    assert status == 201, body
    aid = body["id"]

    panel = office.locator("#esc-alerts")
    expect(panel).to_have_class(re.compile(r"\besc-alerts-alarm\b"), timeout=STEP)
    alarm = panel.locator(".esc-alert.esc-alarm")
    expect(alarm).to_have_count(1)
    expect(alarm).to_contain_text("已升级至最后一步，仍无人签收")
    expect(alarm).to_contain_text(f"任务A{aid}")
    expect(office.locator(f'.card[data-incident="{iid}"]')).to_have_class(re.compile(r"\bcard-esc-alarm\b"))
    task = office.locator(f'.card[data-incident="{iid}"] .task[data-assignment-id="{aid}"]')
    expect(task.locator(".esc-badge.esc-exhausted")).to_be_visible()
    expect(office.locator("#alerts .banner-overdue")).to_contain_text("升级通知已到最后一步")

    # The department signs at last: the alarm goes, the record keeps what happened.
    status, body = server.api("prices", "POST", f"/api/v1/assignments/{aid}/ack")
    assert status == 200, body
    expect(panel).to_be_hidden(timeout=STEP)
    expect(office.locator(f'.card[data-incident="{iid}"]')).not_to_have_class(re.compile(r"\bcard-esc-alarm\b"))
    record = new_tab(office.context)
    record.goto(f"{server.url}/incidents/{iid}")
    row = record.locator(f'#escalations .esc[data-code="A{aid}"]')
    expect(row).to_have_attribute("data-status", "acknowledged")  # a late signature still stops it
    expect(row.locator(".esc-state")).to_contain_text("已签收")
    expect(row.locator('tr.delivery[data-channel="sms"]')).to_contain_text("无人可通知")
    assert_not_reloaded(office)
    no_page_errors(office, record)
