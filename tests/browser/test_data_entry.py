"""Data entry a duty officer can trust, in headless Chromium: every error at once, grading asks first,
corrections keep the record, a closed duplicate leaves the boards, a returned closing report keeps its draft.

Every wait is bounded (expect(...) with a timeout); nothing sleeps for a deadline.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from playwright.sync_api import expect

from tests.browser.test_boards import connected, no_page_errors
from tests.helpers import incident_payload

LIVE = 8_000


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def in_view(page, selector: str) -> bool:
    return page.evaluate(f"""() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();
                                      return r.top >= 0 && r.top < window.innerHeight; }}""")


def test_an_empty_registration_shows_every_mistake_at_once_at_the_top(sqlite_server, open_as):
    page = open_as(sqlite_server, "office")
    page.goto(sqlite_server.url + "/incidents/new")
    page.fill('input[name="discovered_at"]', "2020-06-01T08:00")  # a year typed wrong
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # where the submit button is
    page.click('#form-register button[type="submit"]')
    summary = page.locator("#form-register .form-summary")
    expect(summary).to_be_visible(timeout=LIVE)
    expect(summary).to_contain_text("请修改以下 6 项后再提交")
    for words in ("缺少事件名称", "缺少事件类别", "缺少地点", "缺少信息来源", "缺少事件性质",
                  "发现时间不能早于2021年（预案施行之年）"):
        expect(summary).to_contain_text(words)
    assert in_view(page, "#form-register .form-summary")
    expect(page.locator('#form-register input[name="title"] + .field-error')).to_have_text("缺少事件名称")
    expect(page.locator('#form-register [aria-invalid="true"]')).to_have_count(6)
    page.fill('input[name="discovered_at"]', page.locator('input[name="discovered_at"]').get_attribute("max"))
    assert "(" not in summary.inner_text()  # no English keys
    page.fill('input[name="title"]', "某超市销售过期食品")
    page.select_option("#category", "food_circulation_safety")
    page.fill('input[name="location"]', "城关镇某超市")
    page.fill('input[name="source"]', "消费者举报")
    page.fill('input[name="nature"]', "销售过期食品")
    with page.expect_navigation():
        page.click('#form-register button[type="submit"]')
    assert "/incidents/" in page.url and not page.url.endswith("/new")
    no_page_errors(page)


def test_grading_asks_before_a_severe_level_and_a_no_keeps_it_ungraded(sqlite_server, open_as):
    status, body = sqlite_server.api("office", "POST", "/api/v1/incidents",
                                     incident_payload(title="待定级事件", discovered_at=now_iso()))
    iid = body["id"]
    page = open_as(sqlite_server, "office")
    page.goto(f"{sqlite_server.url}/incidents/{iid}")
    connected(page)
    expect(page.locator('#form-grade select[name="level"]')).to_have_value("")
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.select_option('#form-grade select[name="level"]', "I")
    page.fill('#form-grade textarea[name="reason"]', "误选")
    page.click('#form-grade button[type="submit"]')
    expect(page.locator("#form-grade .form-ok")).to_be_hidden()
    assert asked and "确认定为Ⅰ级" in asked[0]
    assert sqlite_server.api("office", "GET", f"/api/v1/incidents/{iid}")[1]["level"] is None
    no_page_errors(page)


def test_the_office_corrects_a_registration_and_closes_a_duplicate(sqlite_server, open_as):
    _, original = sqlite_server.api("office", "POST", "/api/v1/incidents",
                                    incident_payload(title="原事件", discovered_at=now_iso()))
    _, duplicate = sqlite_server.api("office", "POST", "/api/v1/incidents",
                                     incident_payload(title="重复登记的事件", discovered_at=now_iso()))
    overview = open_as(sqlite_server, "leader")
    connected(overview)
    expect(overview.locator(f'.card[data-incident="{duplicate["id"]}"]')).to_be_visible(timeout=LIVE)
    page = open_as(sqlite_server, "office")
    page.goto(f"{sqlite_server.url}/incidents/{original['id']}")
    page.on("dialog", lambda d: d.accept())
    page.click("#action-correct summary")
    page.fill('#form-correct input[name="location"]', "城关镇第二中学食堂")
    page.fill('#form-correct textarea[name="reason"]', "地点录错")
    with page.expect_navigation():
        page.click('#form-correct button[type="submit"]')
    expect(page.locator("#h-facts + .facts")).to_contain_text("城关镇第二中学食堂", timeout=LIVE)
    page.goto(f"{sqlite_server.url}/incidents/{duplicate['id']}")
    page.click("#action-close summary")
    page.select_option('#form-close select[name="kind"]', "duplicate")
    page.select_option('#form-close select[name="duplicate_of"]', str(original["id"]))
    page.fill('#form-close textarea[name="reason"]', "与原事件为同一事件")
    with page.expect_navigation():
        page.click('#form-close button[type="submit"]')
    expect(page.locator("#closed")).to_contain_text("已关闭（未启动响应）：重复登记，已关闭", timeout=LIVE)
    page.goto(f"{sqlite_server.url}/incidents/{original['id']}")
    expect(page.locator("#duplicates")).to_contain_text(duplicate["number"], timeout=LIVE)
    expect(overview.locator(f'.card[data-incident="{duplicate["id"]}"]')).to_have_count(0, timeout=LIVE)
    no_page_errors(page, overview)


def test_a_returned_closing_report_comes_back_into_the_open_form(sqlite_server, open_as):
    _, body = sqlite_server.api("office", "POST", "/api/v1/incidents", incident_payload(
        title="某市场价格波动", category="price_anomaly", level="III", level_reason="演练", discovered_at=now_iso()))
    iid = body["id"]
    assert sqlite_server.api("leader", "POST", f"/api/v1/incidents/{iid}/activate")[0] == 200
    # The handling summary is written while the response runs (plan §五(一)).
    office = open_as(sqlite_server, "office")
    office.goto(f"{sqlite_server.url}/incidents/{iid}")
    connected(office)
    office.on("dialog", lambda d: d.accept())
    office.click("#closing-submit summary")
    office.fill("#form-closing textarea[name=cause]", "个别商户哄抬价格。")
    office.fill("#form-closing textarea[name=handling]", "约谈商户。")
    office.click("#form-closing button[type=submit]")
    expect(office.locator('[data-live="closing-status"]')).to_contain_text("已提交，待审批", timeout=LIVE)
    status, _ = sqlite_server.api("leader", "POST", f"/api/v1/incidents/{iid}/closing-report/return",
                                  {"reason": "请补充经验教训"})
    assert status == 200
    expect(office.locator("#closing-submit")).to_be_visible(timeout=LIVE)
    expect(office.locator("#form-closing textarea[name=cause]")).to_have_value("个别商户哄抬价格。", timeout=LIVE)
    expect(office.locator("#form-closing textarea[name=handling]")).to_have_value("约谈商户。")
    no_page_errors(office)


def test_dispatching_says_who_is_on_duty_or_who_hears_instead(sqlite_server, open_as):
    _, body = sqlite_server.api("office", "POST", "/api/v1/incidents", incident_payload(
        title="需派发任务的事件", level="II", level_reason="演练", discovered_at=now_iso()))
    iid = body["id"]
    leader = open_as(sqlite_server, "leader")
    leader.goto(f"{sqlite_server.url}/incidents/{iid}")
    # Before activating, the leader sees which departments the plan's tasks would find unmanned.
    expect(leader.locator("#activate-uncovered")).to_contain_text("当前无人值班")
    asked = []
    leader.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    leader.click('#form-activate button[type="submit"]')
    expect(leader.locator("#form-activate .form-ok")).to_be_hidden()
    assert asked and "以下科室当前无人值班" in asked[0]
    office = open_as(sqlite_server, "office")
    office.goto(f"{sqlite_server.url}/incidents/{iid}")
    office.click("#action-assign summary")
    office.select_option('#form-assign select[name="department"]', "prices")
    expect(office.locator("#assign-cover")).to_contain_text("价格监督检查当前无人值班", timeout=LIVE)
    expect(office.locator("#assign-cover")).to_contain_text("领导小组")
    office.fill('#form-assign textarea[name="task"]', "排查周边超市价格")
    office.click('#form-assign button[type="submit"]')
    expect(office.locator("#form-assign .form-ok")).to_be_visible(timeout=LIVE)
    board = open_as(sqlite_server, "prices")
    board.goto(sqlite_server.url + "/duty")
    card = board.locator(".assignment", has_text="排查周边超市价格")
    expect(card.locator(".a-uncovered")).to_contain_text("无人签收时将通知领导小组", timeout=LIVE)
    no_page_errors(leader, office, board)


def test_on_a_phone_the_first_task_to_sign_is_above_the_fold_and_one_skip_away(sqlite_server, open_as):
    _, body = sqlite_server.api("office", "POST", "/api/v1/incidents", incident_payload(
        title="某小学食堂疑似集体食物中毒事件（手机看板）", level="II", level_reason="演练", discovered_at=now_iso()))
    for n in range(3):
        status, _ = sqlite_server.api("office", "POST", f"/api/v1/incidents/{body['id']}/assignments", {
            "department": "food_coord", "task": f"第{n}项：排查涉事学校周边餐饮单位，封存可疑食品并送检，报告结果"})
        assert status == 201
    page = open_as(sqlite_server, "food", viewport={"width": 375, "height": 812})
    page.goto(sqlite_server.url + "/duty")
    first = page.locator("#assignments .assignment .btn-ack").first
    expect(first).to_be_visible(timeout=LIVE)
    box = first.bounding_box()
    assert box["y"] + box["height"] <= 812, box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # The skip link is the first Tab stop; from the tasks' heading the first 签收 is a Tab or two away.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    for presses in range(1, 6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('btn-ack')"):
            break
    assert presses <= 3, presses
    no_page_errors(page)


def test_a_free_form_task_turns_amber_before_it_is_due(sqlite_server, open_as):
    from datetime import timedelta

    _, body = sqlite_server.api("office", "POST", "/api/v1/incidents", incident_payload(
        title="自由任务预警", level="III", level_reason="演练", discovered_at=now_iso()))
    due = (datetime.now(timezone.utc) + timedelta(minutes=8)).isoformat()  # 10 minutes' warning: amber at once
    status, task = sqlite_server.api("office", "POST", f"/api/v1/incidents/{body['id']}/assignments",
                                     {"department": "food_coord", "task": "八分钟内上报现场照片", "due_at": due})
    assert status == 201, task
    page = open_as(sqlite_server, "food")
    page.goto(sqlite_server.url + "/duty")
    card = page.locator(f'#assignment-{task["id"]}')
    expect(card.locator(".countdown")).to_be_visible(timeout=LIVE)
    assert int(card.locator(".countdown").get_attribute("data-warn")) == 600
    expect(card).to_have_class(re.compile(r"\bstate-warn\b"), timeout=LIVE)
    no_page_errors(page)


def test_a_briefing_of_the_longest_texts_opens_as_a_pdf(sqlite_server, open_as):
    from tests.browser.test_briefing_board import open_pdf
    from tests.test_reports_long_text import long_text
    from tests.test_reports_pdf import flat, pdf_text

    fields = {f: long_text(label) for f, label in (("scope", "影响范围"), ("measures_taken", "已采取的措施"))}
    status, body = sqlite_server.api("office", "POST", "/api/v1/incidents", incident_payload(
        title="长文本简报", discovered_at=now_iso(), **fields))
    assert status == 201, body
    page = open_as(sqlite_server, "leader")
    page.goto(f"{sqlite_server.url}/incidents/{body['id']}")
    data, _ = open_pdf(page, "#briefing-pdf")
    text = flat(pdf_text(data))
    assert flat("【影响范围结束】") in text and flat("【已采取的措施结束】") in text
    expect(page.locator(".banner", has_text="未能生成")).to_have_count(0)
    no_page_errors(page)
