"""On the boards: 简报 PDF opens a Chinese briefing, and the closing workflow runs from the end to the archive.

The PDF opens in a new tab; headless Chromium saves it as a download, which is then read
with pdftotext as any reader's tool would.
"""
from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.browser.test_boards import connected, no_page_errors
from tests.helpers import incident_payload
from tests.test_reports_pdf import flat, pdf_text

LIVE = 8_000  # ms for a change to show on another board


def open_pdf(page, link_selector: str) -> tuple[bytes, str]:
    """Click a PDF link; return the stored PDF the new tab was sent to, and its URL."""
    stored = re.compile(r"/api/v1/briefings/\d+\.pdf$")
    with page.context.expect_event("response", predicate=lambda r: bool(stored.search(r.url)),
                                   timeout=20_000) as answer:
        page.click(link_selector)
    response = answer.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf", response.status
    try:
        data = response.body()
    except Exception:  # noqa: BLE001 - the PDF viewer (or a download) keeps no body for playwright
        data = b""
    if not data.startswith(b"%PDF-"):
        # Read the same stored version again with the tab's login: a stored briefing never changes.
        again = page.context.request.get(response.url)
        assert again.headers.get("x-briefing-sha256") == response.headers.get("x-briefing-sha256")
        data = again.body()
    return data, response.url


def test_a_leader_reads_the_briefing_and_the_closing_workflow_runs_on_the_boards(sqlite_server, open_as):
    server = sqlite_server
    payload = incident_payload(title="某农贸市场哄抬物价", category="price_anomaly", level="III", level_reason="演练",
                               discovered_at=datetime.now(timezone.utc).isoformat())
    status, body = server.api("office", "POST", "/api/v1/incidents", payload)
    assert status == 201, body
    iid = body["id"]

    # Before the activation the office's page has no summary to write; the activation brings it, live.
    office = open_as(server, "office")
    office.goto(f"{server.url}/incidents/{iid}")
    connected(office)
    expect(office.locator("#closing")).to_be_hidden()
    status, body = server.api("leader", "POST", f"/api/v1/incidents/{iid}/activate")
    assert status == 200, body
    expect(office.locator("#closing-submit")).to_be_visible(timeout=LIVE)

    leader = open_as(server, "leader")
    leader.goto(f"{server.url}/incidents/{iid}")
    connected(leader)
    data, url = open_pdf(leader, "#briefing-pdf")
    assert re.search(r"/api/v1/briefings/\d+\.pdf$", url), url
    text = flat(pdf_text(data))
    for phrase in ("事件简报", "某农贸市场哄抬物价", "Ⅲ级较大", "应急响应中", "报告与处置时限", "处置时间线", "第1页共"):
        assert phrase in text, phrase
    status, listed = server.api("leader", "GET", f"/api/v1/briefings?sha256={hashlib.sha256(data).hexdigest()}")
    assert status == 200 and len(listed["briefings"]) == 1

    # The office writes the command's handling summary while the response runs.
    office.on("dialog", lambda d: d.accept())
    office.click("#closing-submit summary")
    office.click("#form-closing button[type=submit]")  # nothing typed: the API's Chinese message shows
    expect(office.locator("#form-closing .form-error")).to_contain_text("缺少事件发生的原因", timeout=LIVE)
    office.fill("#form-closing input[name=investigators]", "组长刘一，成员张三")
    office.fill("#form-closing textarea[name=cause]", "个别商户囤积居奇，哄抬蔬菜价格。")
    office.fill("#form-closing textarea[name=handling]", "约谈商户，立案查处两起。")
    office.fill("#form-closing textarea[name=lessons]", "价格监测预警不够及时。")
    office.click("#form-closing button[type=submit]")
    expect(office.locator("#form-closing .form-ok")).to_have_text("总结已提交，等待审批", timeout=LIVE)
    expect(office.locator("#closing-submit")).to_be_hidden(timeout=LIVE)
    expect(office.locator('[data-live="closing-status"]')).to_contain_text("已提交，待审批", timeout=LIVE)

    # The leader, without reloading, reads the summary and approves it: the decision that the emergency may end.
    expect(leader.locator("#closing-decide")).to_be_visible(timeout=LIVE)
    expect(leader.locator("#closing-pdf")).to_be_visible(timeout=LIVE)
    data, _ = open_pdf(leader, "#closing-pdf")
    text = flat(pdf_text(data))
    for phrase in ("应急处置工作总结", "个别商户囤积居奇", "约谈商户", "价格监测预警不够及时", "组长刘一", "附件：事件完整记录"):
        assert phrase in text, phrase
    leader.on("dialog", lambda d: d.accept())
    leader.fill("#form-closing-approve textarea[name=note]", "同意结束应急状态")
    leader.click("#form-closing-approve button[type=submit]")
    expect(leader.locator("#form-closing-approve .form-ok")).to_have_text("已批准，可宣布应急状态结束", timeout=LIVE)
    expect(leader.locator("#closing-decide")).to_be_hidden(timeout=LIVE)
    expect(office.locator('[data-live="closing-status"]')).to_contain_text("已批准", timeout=LIVE)

    # The leadership ends it (a Ⅲ: the HQ's 总指挥 or the leadership); the office's written-report form appears.
    expect(office.locator("#action-report-up")).to_be_hidden()
    leader.click("#action-end summary")
    leader.fill("#form-end textarea[name=reason]", "价格已恢复平稳")
    leader.click("#form-end button[type=submit]")
    expect(leader.locator("#form-end .form-ok")).to_have_text("已宣布应急状态结束", timeout=LIVE)
    expect(office.locator("#action-report-up")).to_be_visible(timeout=LIVE)
    office.click("#action-report-up summary")
    office.fill("#form-report-up textarea[name=body]", "关于某农贸市场哄抬物价事件应急处置情况的书面报告")
    office.click("#form-report-up button[type=submit]")
    # Once the county government and the city bureau have it, the clock is met and the incident archived.
    status, body = server.api("office", "GET", f"/api/v1/incidents/{iid}")
    deadline = datetime.now(timezone.utc) + timedelta(seconds=LIVE / 1000)
    while not [r for r in body["reports"] if r["kind"] == "closing"] and datetime.now(timezone.utc) < deadline:
        time.sleep(0.2)
        status, body = server.api("office", "GET", f"/api/v1/incidents/{iid}")
    (written,) = [r for r in body["reports"] if r["kind"] == "closing"]
    # It goes once the leadership signs it off (签发).
    assert written["sign_off"]["waiting"] is True
    status, got = server.api("leader", "POST", f"/api/v1/reports/{written['id']}/sign-off", {})
    assert status == 200, got
    for code in ("county_government", "city_bureau"):
        status, got = server.api("office", "POST", f"/api/v1/reports/{written['id']}/recipients/{code}/delivery",
                                 {"channel": "gov_intranet", "reference": f"政务内网回执 {code}"})
        assert status == 200, got
    expect(leader.locator(".incident-head .status")).to_have_text("已归档", timeout=LIVE)
    status, body = server.api("leader", "GET", f"/api/v1/incidents/{iid}")
    assert body["status"] == "archived"
    no_page_errors(leader, office)
