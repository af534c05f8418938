"""The public 12315 form on a phone, and a complaint followed through triage on the boards, in headless Chromium.

Every wait is bounded (expect(...) with a timeout); nothing sleeps for a deadline.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, WIDE, _create_users, new_tab
from tests.browser.test_boards import assert_not_reloaded, connected, mark, no_page_errors

LIVE = 5_000
EXTRA_USERS = (("centre", "投诉中心值班周八", "duty_officer", "complaints"),
               ("catering", "餐饮科值班吴九", "duty_officer", "catering"))


@pytest.fixture(scope="module")
def server(sqlite_server):
    """The module's server, with a complaint-centre officer and a catering officer added."""
    missing = tuple(u for u in EXTRA_USERS if u[0] not in sqlite_server.tokens)
    if missing:
        sqlite_server.tokens.update(_create_users(sqlite_server.database_url, missing))
    return sqlite_server


@pytest.fixture
def public(playwright_browser):
    """A phone-sized browser with no login, as a member of the public has."""
    context = playwright_browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                                             is_mobile=True, has_touch=True)
    page = new_tab(context)
    yield page
    context.close()


def fill_form(page, *, phone: str, business: str | None, description: str) -> None:
    """Fill the public form as a person on a phone would."""
    page.check('input[name="kind"][value="complaint"]')
    page.fill("#f-name", "李四")
    page.fill("#f-phone", phone)
    page.fill("#f-address", "中牟县青年路街道")
    if business is not None:
        page.fill("#f-business_name", business)
    page.fill("#f-business_address", "中牟县城关镇人民路1号")
    page.select_option("#f-category", "catering")
    page.fill("#f-amount", "86")
    page.fill("#f-description", description)
    page.check('input[name="demand"][value="refund"]')


def fits_the_screen(page) -> None:
    """Nothing on the page is wider than the phone's screen."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_a_phone_files_a_complaint_fixes_mistakes_and_sees_its_status(server, public):
    page = public
    page.goto(server.url + "/12315")
    expect(page.locator("h1")).to_have_text("12315 投诉举报")
    fits_the_screen(page)

    # A wrong phone number and no business name: the server says what to fix, next to the fields.
    story = "11月21日晚在该店就餐后腹泻，<b>要求退款</b>"
    fill_form(page, phone="1381234", business=None, description=story)
    with page.expect_navigation():
        page.click("#submit")
    expect(page.locator("#form-message")).to_contain_text("有2处需要修改")
    expect(page.locator("#err-phone")).to_contain_text("手机号码格式不正确")
    expect(page.locator("#err-business_name")).to_contain_text("请填写被投诉（举报）的经营者名称")
    expect(page.locator("#f-phone")).to_have_attribute("aria-invalid", "true")
    # What was typed is still there, as text.
    expect(page.locator("#f-description")).to_have_value(story)
    expect(page.locator("#f-name")).to_have_value("李四")
    expect(page.locator("#f-category")).to_have_value("catering")
    expect(page.locator('input[name="demand"][value="refund"]')).to_be_checked()
    fits_the_screen(page)

    page.fill("#f-phone", "138 1234 5601")
    page.fill("#f-business_name", "王记羊肉汤")
    with page.expect_navigation():
        page.click("#submit")
    expect(page.locator("#tracking-no")).to_be_visible()
    number = page.locator("#tracking-no").text_content().strip()
    assert number.startswith("TS")
    expect(page.locator(".notice-ok")).to_contain_text("138****5601")
    fits_the_screen(page)

    # The status page: a wrong phone shows nothing of the complaint; the right one shows its status.
    with page.expect_navigation():
        page.get_by_role("link", name="查询办理进度").click()
    expect(page.locator("#f-tracking_no")).to_have_value(number)
    page.fill("#f-phone", "13812345602")
    with page.expect_navigation():
        page.click("#status-submit")
    expect(page.locator("#status-message")).to_have_text("没有找到这件投诉举报，请核对查询码和手机号码")
    expect(page.locator("#status-result")).to_have_count(0)
    assert "王记羊肉汤" not in page.content()
    page.fill("#f-phone", "13812345601")
    with page.expect_navigation():
        page.click("#status-submit")
    expect(page.locator("#status-name")).to_have_text("已收到，待受理")
    expect(page.locator("#status-result")).to_contain_text("138****5601")
    expect(page.locator("#status-result")).to_contain_text("王记羊肉汤")
    fits_the_screen(page)
    no_page_errors(page)


def test_a_complaint_followed_through_triage_on_the_boards(server, public, open_as):
    # The catering department's duty board is open before anything happens.
    officer = open_as(server, "catering")
    assert officer.url.endswith("/duty"), officer.url
    connected(officer)
    expect(officer.locator("#duty-complaints")).to_contain_text("本科室目前没有待办的投诉举报")
    mark(officer)

    # Someone on a phone files a complaint about a restaurant.
    public.goto(server.url + "/12315")
    fill_form(public, phone="13812345611", business="张记烧烤", description="在该店吃烧烤后全家腹泻，要求退款")
    with public.expect_navigation():
        public.click("#submit")
    number = public.locator("#tracking-no").text_content().strip()

    # The complaint centre sees it waiting for triage, the suggested department preselected.
    centre = open_as(server, "centre", WIDE)
    centre.goto(server.url + "/complaints")
    connected(centre)
    item = centre.locator(f'#triage [data-tracking="{number}"]')
    expect(item).to_be_visible()
    expect(item.locator('select[name="department"]')).to_have_value("catering")
    expect(item.locator(".climit .clock-name")).to_have_text("作出受理或不予受理决定")
    mark(centre)
    item.locator("button", has_text="确认分流").click()
    expect(centre.locator(f'#triage [data-tracking="{number}"]')).to_have_count(0, timeout=LIVE)
    # The panel is drawn again without it; the confirmation stays on the page.
    expect(centre.locator(".banner", has_text="已分流")).to_contain_text(f"{number} 已分流至餐饮食品安全监督管理",
                                                                       timeout=LIVE)
    expect(centre.locator(f'#working [data-tracking="{number}"]')).to_contain_text("餐饮食品安全监督管理", timeout=LIVE)
    assert_not_reloaded(centre)

    # The department's board shows it at once, with its limit counting down, without a reload.
    row = officer.locator(f'#duty-complaints [data-tracking="{number}"]')
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator(".countdown")).to_contain_text("剩余")
    assert_not_reloaded(officer)

    # The department's own complaints page is headed with the department, not the complaint centre.
    own = new_tab(officer.context)
    own.goto(server.url + "/complaints")
    expect(own.locator("h1")).to_contain_text("餐饮食品安全监督管理")
    own.close()

    # The department accepts it, mediates, and closes it with the answer to the complainant.
    handler = new_tab(officer.context)
    handler.goto(f"{server.url}/complaints/{number}")
    expect(handler.locator("#contact-phone")).to_have_text("138****5611")
    handler.click("#show-contact")
    expect(handler.locator("#contact-phone")).to_have_text("13812345611", timeout=LIVE)
    for action, status in (("accepted", "已受理"), ("mediating", "调解中")):
        handler.click(f"#action-{action} summary")
        with handler.expect_navigation():
            handler.click(f"#form-{action} button[type=submit]")
        expect(handler.locator("#complaint-status")).to_have_text(status)
    expect(handler.locator(".climit", has_text="终结调解")).to_be_visible()
    handler.click("#action-closed summary")
    handler.click("#form-closed button[type=submit]")  # no answer yet: refused, nothing lost
    expect(handler.locator("#form-closed .form-error")).to_have_text("请填写答复内容", timeout=LIVE)
    handler.fill('#form-closed textarea[name="answer"]', "经调解，商家退还餐费86元并致歉。")
    with handler.expect_navigation():
        handler.click("#form-closed button[type=submit]")
    expect(handler.locator("#complaint-status")).to_have_text("已办结")

    # The board drops it; the complainant reads the answer.
    expect(officer.locator(f'#duty-complaints [data-tracking="{number}"]')).to_have_count(0, timeout=LIVE)
    public.goto(server.url + "/12315/status")
    public.fill("#f-tracking_no", number)
    public.fill("#f-phone", "13812345611")
    with public.expect_navigation():
        public.click("#status-submit")
    expect(public.locator("#status-name")).to_have_text("已办结")
    expect(public.locator("#status-answer")).to_have_text("经调解，商家退还餐费86元并致歉。")
    assert_not_reloaded(officer)
    no_page_errors(officer, centre, handler, public)


def test_an_oversized_submission_comes_back_whole_and_typos_cost_nothing(server, public):
    page = public
    page.goto(server.url + "/12315")
    # A text pasted past the limit by a browser that ignores maxlength (or a script): 70,000 characters.
    story = "当晚在该店就餐，" + "菜品有异味，" * 11_666
    fill_form(page, phone="13812345677", business="李记饭店", description="x")
    page.evaluate("(text) => { const t = document.getElementById('f-description'); t.removeAttribute('maxlength');"
                  " t.value = text; }", story)
    with page.expect_navigation():
        page.click("#submit")
    expect(page.locator("#form-message")).to_contain_text("您填写的内容已保留")
    expect(page.locator("#err-description")).to_contain_text("事情经过过长")
    assert page.locator("#f-description").input_value() == story
    expect(page.locator("#f-business_name")).to_have_value("李记饭店")
    # Mistakes, again and again, from the same address: none of them uses up the address's submissions.
    for _ in range(22):
        page.fill("#f-phone", "1381234")
        page.fill("#f-description", "菜品有异味，要求退款。")
        with page.expect_navigation():
            page.click("#submit")
        expect(page.locator("#err-phone")).to_contain_text("手机号码格式不正确")
    page.fill("#f-phone", "13812345677")
    with page.expect_navigation():
        page.click("#submit")
    expect(page.locator("#tracking-no")).to_be_visible()
    no_page_errors(page)
