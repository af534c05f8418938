"""The office enters a year's holiday notice on the calendar page, in headless Chromium.

The form starts from the statutory dates; a wrong make-up day is refused with the date named and
nothing entered; corrected, the notice is entered and the page shows it as a notice reads.
"""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_boards import no_page_errors

WAIT = 10_000


def test_the_office_enters_the_2027_notice_on_the_page(sqlite_server, open_as):
    page = open_as(sqlite_server, "office")
    page.goto(sqlite_server.url + "/calendar?year=2027")
    expect(page.locator("#calendar-basis")).to_contain_text("2027年放假通知尚未录入")
    form = page.locator("#notice-form")
    # The statutory 春节 of 2027 (除夕 to 初三) is already in the form.
    expect(form.locator('input[name="from-spring_festival"]')).to_have_value("2027-02-05")
    expect(form.locator('input[name="to-spring_festival"]')).to_have_value("2027-02-08")
    page.on("dialog", lambda dialog: dialog.accept())
    form.locator('input[name="to-spring_festival"]').fill("2027-02-13")
    form.locator('input[name="workdays-spring_festival"]').fill("2027-01-31, 2027-02-16")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-problems")).to_contain_text("调休上班日2027年2月16日（星期二）不是星期六或星期日",
                                                           timeout=WAIT)
    status, body = sqlite_server.api("office", "GET", "/api/v1/calendar/2027")
    assert status == 200 and body["entered"] == [] and not body["certain"]
    form.locator('input[name="workdays-spring_festival"]').fill("2027-01-31，2027-02-20")
    form.locator('input[name="title"]').fill("测试用2027年放假通知（虚构）")
    form.locator("button[type=submit]").click()
    expect(page.locator("#calendar-basis")).to_contain_text("已有2027年放假通知", timeout=WAIT)
    expect(page.locator("#h-entered")).to_be_visible()
    expect(page.locator(".notice-entry").first).to_contain_text(
        "春节：2月5日（星期五）至2月13日（星期六）放假，共9天；1月31日（星期日）、2月20日（星期六）上班。")
    status, body = sqlite_server.api("office", "GET", "/api/v1/calendar/days/2027-02-20")
    assert status == 200 and body["workday"] and body["certain"]
    no_page_errors(page)
