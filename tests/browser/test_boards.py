"""The live boards in a browser: the drill of the issue, and a board that reconnects.

Every wait is bounded (expect(...) with a timeout, wait_for_function with a timeout); no
test sleeps for a deadline. "Without reload" is checked with a marker set on the page's
window object, which a reload would wipe.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, new_tab
from tests.helpers import incident_payload

# An AudioContext that stays suspended until resume() is called from a click (the autoplay policy).
AUTOPLAY_POLICY = """
(() => {
  const Real = window.AudioContext;
  if (!Real) return;
  window.AudioContext = class extends Real {
    constructor(options) { super(options); this.allowed = false; }
    get state() { return this.allowed ? super.state : "suspended"; }
    resume() { this.allowed = true; return super.resume(); }
  };
})();
"""
CONNECTED = 10_000  # ms for a board to connect (or reconnect)
LIVE = 5_000        # ms for a pushed change to show (the drill's 1 second is checked on its own)


def connected(page) -> None:
    """Wait until the page's push connection is up (its indicator says so)."""
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=CONNECTED)
    expect(page.locator("#conn")).to_have_text("已连接")


def mark(page) -> None:
    """Mark the page's window; a reload would lose the mark."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page) -> None:
    """The page is the one that was marked: it was never reloaded."""
    assert page.evaluate("window.__notReloaded === true"), f"{page.url} was reloaded"


def assert_counting_down(page, selector: str) -> None:
    """Every countdown matched changes its text within a few seconds."""
    before = page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")
    assert before, f"no countdown {selector} on {page.url}"
    page.wait_for_function(
        """([selector, before]) => {
             const now = [...document.querySelectorAll(selector)].map(e => e.textContent);
             return now.length === before.length && now.every((text, i) => text !== before[i]);
           }""", arg=[selector, before], timeout=3_500)


def no_page_errors(*pages) -> None:
    """No script error happened on any of the pages."""
    for page in pages:
        assert not page.errors, f"{page.url}: {page.errors}"


def _activate(server, body: dict) -> int:
    iid = body["id"]
    status, body = server.api("leader", "POST", f"/api/v1/incidents/{iid}/activate")
    assert status == 200, body
    return iid


def new_incident(server, title: str) -> int:
    """Register (now) and activate a Ⅱ food poisoning through the API; return its id."""
    payload = incident_payload(title=title, level="II", level_reason="演练",
                               discovered_at=datetime.now(timezone.utc).isoformat())
    status, body = server.api("office", "POST", "/api/v1/incidents", payload)
    assert status == 201, body
    return _activate(server, body)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_drill_register_grade_activate_acknowledge(database, request, open_as):
    """The command registers and grades a Ⅱ incident, the leader activates it, the lead department's
    board gets its assignments within a second and acknowledges one; the overview shows it, live."""
    server = request.getfixturevalue(f"{'pg' if database == 'postgresql' else 'sqlite'}_server")

    officer = open_as(server, "food")  # a duty officer's home is the duty board
    assert officer.url.endswith("/duty"), officer.url
    # A browser plays no sound before a click on the page; headless Chromium does not enforce that,
    # so the page gets an AudioContext that behaves as a desktop browser's.
    officer = new_tab(officer.context)
    officer.add_init_script(AUTOPLAY_POLICY)
    officer.goto(server.url + "/")
    assert officer.url.endswith("/duty"), officer.url
    connected(officer)
    expect(officer.locator("#sound-on")).to_have_text("启用提示音")
    officer.click("#sound-on")
    expect(officer.locator("#sound-state")).to_be_visible()
    expect(officer.locator("#sound-on")).to_be_hidden()

    overview = open_as(server, "office")  # the command's overview, open before anything happens
    connected(overview)
    expect(overview.locator("#duty-alerts")).to_be_visible(timeout=LIVE)  # the office sees roster gaps
    mark(officer)
    mark(overview)

    # The command registers the event from the form (a second tab of the same login).
    form = new_tab(overview.context)
    form.goto(server.url + "/incidents/new")
    form.fill('input[name="title"]', "演练：某小学食堂疑似食物中毒")
    form.select_option("#category", "food_poisoning")
    expect(form.locator("#suggest-level")).to_have_text("Ⅱ级 重大", timeout=LIVE)
    expect(form.locator("#suggest-lead")).to_have_text("食品安全协调督查科")
    form.fill('input[name="location"]', "城关镇第一小学食堂")
    form.select_option('select[name="station"]', "chengguan")
    form.fill('input[name="source"]', "学校电话报告")
    form.fill('input[name="nature"]', "疑似集体食物中毒")
    form.fill('textarea[name="scope"]', "学生20余人腹痛")
    with form.expect_navigation():
        form.click('#form-register button[type="submit"]')
    assert "/incidents/" in form.url and not form.url.endswith("/new"), form.url
    iid = int(form.url.rstrip("/").rsplit("/", 1)[1])
    connected(form)

    # The new incident appears on the overview, ungraded, without a reload.
    expect(overview.locator(f'.level-group[data-level=""] .card[data-incident="{iid}"]')).to_be_visible(timeout=LIVE)

    # The command grades it Ⅱ from the incident page's form: nothing is chosen at first, the plan's
    # suggestion is shown, and Ⅱ级 is asked about once more.
    expect(form.locator('#form-grade select[name="level"]')).to_have_value("")
    expect(form.locator("#grade-suggestion")).to_contain_text("Ⅱ级 重大")
    asked = []
    form.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    form.select_option('#form-grade select[name="level"]', "II")
    form.fill('#form-grade textarea[name="reason"]', "20余名学生就医，属重大食物中毒")
    form.click('#form-grade button[type="submit"]')
    expect(form.locator('[data-live="head"] .lv')).to_contain_text("Ⅱ级", timeout=LIVE)
    assert asked and "确认定为Ⅱ级" in asked[0]
    expect(form.locator('[data-live="head"] .lv')).to_contain_text("Ⅱ级", timeout=LIVE)
    expect(overview.locator(f'.level-group[data-level="II"] .card[data-incident="{iid}"]')).to_be_visible(timeout=LIVE)
    expect(overview.locator(f'.level-group[data-level=""] .card[data-incident="{iid}"]')).to_have_count(0)
    expect(form.locator("#action-activate")).to_be_hidden()  # the office may not activate

    # The leader activates the response.
    leader = open_as(server, "leader")
    leader.goto(f"{server.url}/incidents/{iid}")
    connected(leader)
    leader.on("dialog", lambda dialog: dialog.accept())
    with leader.expect_response(lambda r: r.url.endswith(f"/api/v1/incidents/{iid}/activate")) as answer:
        leader.click('#form-activate button[type="submit"]')
    assert answer.value.status == 200

    # Within a second the lead department's board shows the new assignments, with the banner.
    expect(officer.locator("#new-banner")).to_be_visible(timeout=1_000)
    cards = officer.locator(f'#assignments .assignment[data-incident="{iid}"]')
    expect(cards).to_have_count(2, timeout=1_000)  # Ⅱ: measures issued, work team sent
    expect(officer.locator("#new-banner-count")).to_have_text("2")
    assert int(officer.evaluate("document.body.dataset.beeps || '0'")) >= 1
    expect(leader.locator("#action-activate")).to_be_hidden(timeout=LIVE)

    # The officer acknowledges one (签收).
    first = cards.first
    aid = first.get_attribute("data-assignment-id")
    expect(first.locator(".countdown")).to_be_visible()
    first.locator("button", has_text="签收").click()
    expect(officer.locator(f"#assignment-{aid}")).to_have_attribute("data-status", "acknowledged", timeout=LIVE)
    expect(officer.locator("#new-banner-count")).to_have_text("1")

    # The overview shows it acknowledged, without a reload; the other one still waits.
    card = overview.locator(f'.card[data-incident="{iid}"]')
    expect(card.locator(f'.tasks-pending [data-assignment-id="{aid}"]')).to_have_count(0, timeout=LIVE)
    expect(card.locator(f'.tasks-all [data-assignment-id="{aid}"]')).to_have_attribute("data-status", "acknowledged")
    expect(card.locator(".tasks-pending .task-dept", has_text="食品安全协调督查科")).to_have_count(1)
    expect(card.locator(".tcount-acknowledged")).to_contain_text("已签收 1")
    # The incident page shows it too.
    expect(form.locator(f'#assignments [data-assignment-id="{aid}"]')).to_have_attribute(
        "data-status", "acknowledged", timeout=LIVE)

    # Acknowledging the other one clears the banner.
    other = officer.locator(f'#assignments .assignment[data-incident="{iid}"][data-status="pushed"]')
    other.locator("button", has_text="签收").click()
    expect(officer.locator("#new-banner")).to_be_hidden(timeout=LIVE)

    # Every clock counts down, on the overview, the duty board and the incident page.
    assert_counting_down(overview, f'.card[data-incident="{iid}"] .countdown')
    assert_counting_down(officer, f'#duty-clocks .dclock[data-incident="{iid}"] .countdown')
    assert_counting_down(officer, f'#assignments .assignment[data-incident="{iid}"] .countdown')
    assert_counting_down(form, '[data-live="clocks"] .countdown')

    for page in (officer, overview):
        assert_not_reloaded(page)
    no_page_errors(officer, overview, form, leader)


def test_a_reconnecting_board_gets_what_it_missed_once(sqlite_server, open_as):
    """The officer's board loses its connection; what happened meanwhile arrives on reconnect, once."""
    server = sqlite_server
    officer = open_as(server, "food")
    sockets = []
    officer.on("websocket", lambda ws: sockets.append(ws))
    officer.goto(server.url + "/duty")
    connected(officer)
    mark(officer)
    assert officer.evaluate("YJ.socket.io.engine.transport.name") == "websocket"
    live_socket = sockets[-1]

    iid = new_incident(server, "断线演练：某幼儿园食堂疑似食物中毒")
    cards = officer.locator(f'#assignments .assignment[data-incident="{iid}"]')
    expect(cards).to_have_count(2)
    first_id = cards.first.get_attribute("data-assignment-id")

    officer.context.set_offline(True)
    expect(officer.locator("#conn")).to_have_attribute("data-state", "down")
    expect(officer.locator("#conn")).to_have_text("连接中断，正在重连…")
    officer.wait_for_function("() => !YJ.socket.connected", timeout=LIVE)
    if not live_socket.is_closed():  # under load the close event may trail the client's own state
        live_socket.wait_for_event("close", timeout=LIVE)
    assert live_socket.is_closed(), "the WebSocket is still open"

    # Meanwhile: a new assignment, and one acknowledged elsewhere (the API, as another officer would).
    status, created = server.api("office", "POST", f"/api/v1/incidents/{iid}/assignments",
                                 {"department": "food_coord", "task": "断线期间派发：核查供货单位进货台账"})
    assert status == 201, created
    status, body = server.api("food", "POST", f"/api/v1/assignments/{first_id}/ack")
    assert status == 200, body
    expect(officer.locator(f"#assignment-{created['id']}")).to_have_count(0)  # not while offline

    officer.context.set_offline(False)
    connected(officer)
    expect(officer.locator(f"#assignment-{created['id']}")).to_be_visible(timeout=CONNECTED)
    expect(officer.locator(f"#assignment-{first_id}")).to_have_attribute("data-status", "acknowledged")
    expect(officer.locator(f'[data-assignment-id="{created["id"]}"].assignment')).to_have_count(1)
    expect(cards).to_have_count(3)
    assert len(sockets) >= 2 and not sockets[-1].is_closed(), "no new WebSocket after the reconnect"
    assert officer.evaluate("YJ.liveState.resumes") >= 1
    # Later pushes still arrive, once.
    status, later = server.api("office", "POST", f"/api/v1/incidents/{iid}/assignments",
                               {"department": "food_coord", "task": "重连之后派发：统计就医人数"})
    assert status == 201, later
    expect(officer.locator(f'[data-assignment-id="{later["id"]}"].assignment')).to_have_count(1)
    expect(cards).to_have_count(4)
    assert_not_reloaded(officer)
    no_page_errors(officer)


def test_forms_show_the_api_error_and_keep_what_was_typed(sqlite_server, open_as):
    """A refused form says why in Chinese next to itself and keeps the text; a refused action on a card too."""
    server = sqlite_server
    iid = new_incident(server, "表单演练：某餐馆疑似食物中毒")
    office = open_as(server, "office")
    office.goto(f"{server.url}/incidents/{iid}")
    connected(office)
    office.click("#action-assign summary")
    office.fill('#form-assign textarea[name="task"]', "核查就餐人员名单")
    office.fill('#form-assign input[name="due_at"]', "2020-01-01T08:00")  # in the past: refused
    office.click('#form-assign button[type="submit"]')
    error = office.locator("#form-assign .form-error")
    expect(error).to_be_visible(timeout=LIVE)
    expect(error).to_have_text("完成时限须晚于当前时间")
    expect(office.locator('#form-assign textarea[name="task"]')).to_have_value("核查就餐人员名单")
    # Fixed, it goes through and the incident page lists the new assignment.
    office.fill('#form-assign input[name="due_at"]', "")
    office.click('#form-assign button[type="submit"]')
    expect(office.locator("#form-assign .form-ok")).to_be_visible(timeout=LIVE)
    expect(office.locator("#assignments .assignment-row", has_text="核查就餐人员名单")).to_have_count(1, timeout=LIVE)

    # The duty officer declines without a reason: refused, in Chinese, on the card.
    officer = open_as(server, "food", PHONE)
    connected(officer)
    aid = officer.locator(f'#assignments .assignment[data-incident="{iid}"]').first.get_attribute("data-assignment-id")
    card = officer.locator(f"#assignment-{aid}")
    card.locator("button", has_text="否定报备").click()
    card.locator("form.a-form button[type=submit]").click()
    expect(card.locator("form.a-form .form-error")).to_contain_text("缺少否定报备理由", timeout=LIVE)
    card.locator("form.a-form textarea").fill("本科室不负责餐馆，建议转餐饮科")
    card.locator("form.a-form button[type=submit]").click()
    declined = officer.locator(f"#closed #assignment-{aid}")
    expect(declined).to_have_attribute("data-status", "declined", timeout=LIVE)
    expect(declined).to_contain_text("本科室不负责餐馆，建议转餐饮科")
    # The overview highlights the 否定报备 with its reason.
    overview = open_as(server, "commander")
    expect(overview.locator(f'.card[data-incident="{iid}"] .tasks-declined')).to_contain_text(
        "本科室不负责餐馆，建议转餐饮科")
    no_page_errors(office, officer, overview)


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1600, "height": 900}], ids=["phone", "wall"])
def test_pages_fit_the_screen(sqlite_server, open_as, viewport):
    """No page is wider than the screen, on a phone or on a wall screen."""
    server = sqlite_server
    iid = new_incident(server, "版面检查：" + "很长的事件名称" * 8)
    for login, paths in (("office", ["/", "/duty", f"/incidents/{iid}", "/incidents/new", "/accountability"]),
                         ("food", ["/duty", f"/incidents/{iid}"])):
        page = open_as(server, login, viewport)
        for path in paths:
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{login} {path}: {width}px wide on a {viewport['width']}px screen"
        no_page_errors(page)


def test_clock_warnings_and_overdue_reach_the_board_as_banners(sqlite_server, open_as):
    """The in-process scheduler fires a clock's warning and its overdue; the department's board says so."""
    server = sqlite_server
    officer = open_as(server, "food")
    connected(officer)
    mark(officer)
    now = datetime.now(timezone.utc)
    ids = {}
    # The station's 1-hour report: 10 minutes left (inside its 15-minute warning), and 1 minute late.
    for key, minutes in (("warn", 50), ("overdue", 61)):
        payload = incident_payload(title=f"时限演练 {key}", discovered_at=(now - timedelta(minutes=minutes)).isoformat())
        status, body = server.api("office", "POST", "/api/v1/incidents", payload)
        assert status == 201, body
        ids[key] = body["id"]
    warn = officer.locator(".banner-warn", has_text="时限演练 warn")
    expect(warn).to_be_visible(timeout=CONNECTED)
    expect(warn).to_contain_text("【预警】")
    overdue = officer.locator(".banner-overdue", has_text="时限演练 overdue")
    expect(overdue).to_be_visible(timeout=CONNECTED)
    expect(overdue).to_contain_text("【超时】")
    # The clocks panel shows them amber and red.
    expect(officer.locator(f'.dclock[data-incident="{ids["warn"]}"] .clock.state-warn')).to_have_count(1)
    expect(officer.locator(f'.dclock[data-incident="{ids["overdue"]}"] .clock.state-overdue')).to_have_count(1)
    # A banner stays until it is dismissed.
    overdue.locator("button", has_text="知道了").click()
    expect(overdue).to_have_count(0)
    expect(warn).to_be_visible()
    assert_not_reloaded(officer)
    no_page_errors(officer)


def test_a_hand_over_phone_not_on_record_is_marked_and_told_on_both_boards(sqlite_server, open_as):
    """同岗替代 on a typed phone: the unit's board shows the mark on the roster and a banner; the office's too."""
    server = sqlite_server
    officer, office = open_as(server, "food"), open_as(server, "office")
    officer.goto(server.url + "/duty")
    for page in (officer, office):
        connected(page)
        mark(page)
    now = datetime.now(timezone.utc)
    status, shift = server.api("office", "POST", "/api/v1/departments/food_coord/shifts",
                               {"starts_at": (now - timedelta(hours=1)).isoformat(),
                                "ends_at": (now + timedelta(hours=7)).isoformat(),
                                "officer_name": "食品科值班赵六", "phone": "+8613800000001"})
    assert status == 201, shift
    status, sub = server.api("food", "POST", f"/api/v1/shifts/{shift['id']}/handover",
                             {"substitute_name": "夜班替岗", "phone": "+8613900000888", "reason": "突发疾病"})
    assert status == 201, sub
    for page in (officer, office):
        banner = page.locator(".banner-warn", has_text="替岗电话非登记号码")
        expect(banner).to_be_visible(timeout=CONNECTED)
        expect(banner).to_contain_text("夜班替岗")
        expect(banner).not_to_contain_text("+8613900000888")
    expect(officer.locator("#on-duty .shift-warn")).to_have_text("⚠ 替岗电话非登记号码", timeout=LIVE)
    assert_not_reloaded(officer)
    assert_not_reloaded(office)
    no_page_errors(officer, office)
