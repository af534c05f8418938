"""The PDF endpoints on SQLite and PostgreSQL: content, stored versions with their hash, access, bad input."""
from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from incidents.models import AuditEntry, Briefing, User
from reports import snapshots, store
from tests.helpers import file_report, incident_payload, iso, signed_in_client
from tests.test_api_errors import assert_error
from tests.test_reports_pdf import check_glyphs, check_pdf, flat, pdf_text


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    return response


def get(user, url: str, **headers):
    """GET as an API user with extra headers."""
    return user.client.get(url, headers={"Authorization": f"Bearer {user.token}", **headers})


def scenario(users, clock) -> int:
    """A Ⅱ food poisoning: initial report on time, bureau report 10 minutes late, response activated, tasks out."""
    r = ok(users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()))), 201)
    iid = r.get_json()["id"]
    clock.advance(minutes=20)
    file_report(users["station"], iid, "initial", "20人就医，已核实")
    ok(users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": "II", "reason": "集体食物中毒20人"}))
    clock.advance(minutes=40)
    file_report(users["office"], iid, "bureau", "已向县政府和市局报告", signer=users["leader"])
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate"))
    clock.advance(minutes=5)
    ok(users["office"].post(f"/api/v1/incidents/{iid}/assignments",
                            json={"department": "prices", "task": "排查周边餐饮价格异常"}), 201)
    clock.advance(hours=2)
    return iid


def test_a_leader_reads_the_incident_briefing(users, clock, wiring):
    iid = scenario(users, clock)
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert r.mimetype == "application/pdf"
    assert r.headers["X-Briefing-SHA256"] == hashlib.sha256(r.data).hexdigest()
    assert "inline" in r.headers["Content-Disposition"] and "filename*=UTF-8''" in r.headers["Content-Disposition"]
    bid = int(r.headers["X-Briefing-Id"])
    with wiring.sessions() as s:
        pages = s.get(Briefing, bid).pages
    text = check_pdf(r.data, pages, expect=[
        "中牟县市场监督管理局", "内部资料", "事件简报", "YJ2026-00001", "某学校食堂疑似食物中毒", "Ⅱ级 重大", "应急响应中",
        "城关镇某中学食堂", "县医院急诊科电话报告", "集体性食物中毒", "在校师生约20人", "新增病例减少", "封存留样食品",
        "报告与处置时限", "事发地市场监督管理所报告", "按时完成", "局向县政府和市局报告", "迟报 10分钟", "制定应对措施并下发",
        "任务派发与办理", "价格监督检查", "排查周边餐饮价格异常", "待签收", "升级通知记录", "处置时间线", "登记事件",
        "定级", "启动应急响应", f"简报编号 B{bid:06d}",
        # Generated at 04:05 UTC: 12:05 Beijing time; the station's report at 09:20 Beijing time.
        "生成时间：2026-11-20 12:05（北京时间）", "2026-11-20 09:20",
    ])
    assert "时限完成情况图" in text
    with wiring.sessions() as s:
        check_glyphs(snapshots.incident_briefing(s, iid, now=clock.now()))  # no character falls back to a box


def test_asking_again_gives_the_same_version_until_something_changes(users, clock):
    iid = scenario(users, clock)
    first = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    clock.advance(minutes=1)
    again = ok(users["office"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert again.headers["X-Briefing-Id"] == first.headers["X-Briefing-Id"] and again.data == first.data
    ok(users["office"].post(f"/api/v1/incidents/{iid}/reports", json={"kind": "progress", "body": "病例全部出院"}), 201)
    changed = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert changed.headers["X-Briefing-Id"] != first.headers["X-Briefing-Id"]
    assert "病例全部出院" in pdf_text(changed.data)
    clock.advance(minutes=6)  # past the reuse window: a fresh version even with nothing changed
    later = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert later.headers["X-Briefing-Id"] != changed.headers["X-Briefing-Id"]


def test_a_leader_can_prove_which_version_they_read(users, clock, wiring):
    iid = scenario(users, clock)
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    digest = hashlib.sha256(r.data).hexdigest()
    found = ok(users["leader"].get(f"/api/v1/briefings?sha256={digest}")).get_json()["briefings"]
    assert [b["id"] for b in found] == [int(r.headers["X-Briefing-Id"])]
    assert found[0]["sha256"] == digest and found[0]["kind"] == "incident" and found[0]["incident_id"] == iid
    stored = ok(users["viewer"].get(found[0]["pdf_url"]))
    assert stored.data == r.data
    # The hash is in the tamper-evident audit chain, with who was given that version.
    with wiring.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.entity == "briefing").order_by(AuditEntry.seq)).all()
    assert [e.action for e in rows] == ["briefing.generated", "briefing.downloaded", "briefing.downloaded"]
    assert all(digest in e.data for e in rows)
    assert rows[1].actor.startswith("leader:") and rows[2].actor.startswith("viewer:")
    assert ok(users["leader"].get("/api/v1/briefings?sha256=" + "0" * 64)).get_json()["briefings"] == []


def test_a_slow_briefing_answers_202_and_the_stored_pdf_follows(app, users, clock, monkeypatch):
    from app.api import reports as api

    app.config["REPORTS_WAIT"] = 1  # a plain GET of a briefing still being made waits this long, then 202
    iid = scenario(users, clock)
    release = threading.Event()
    original = api._work

    def slow(wiring, briefing_id):
        release.wait(10)
        return original(wiring, briefing_id)

    monkeypatch.setattr(api, "_work", slow)
    r = ok(get(users["leader"], f"/api/v1/incidents/{iid}/briefing.pdf", Prefer="respond-async"), 202)
    b = r.get_json()["briefing"]
    assert b["status"] in ("pending", "running") and b["status_name"] in ("排队中", "正在生成")
    assert r.headers["Location"] == b["status_url"] and r.headers["Retry-After"]
    ok(users["leader"].get(b["pdf_url"]), 202)
    release.set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = ok(users["leader"].get(b["status_url"])).get_json()["briefing"]
        if status["status"] == "ready":
            break
        time.sleep(0.05)
    assert status["status"] == "ready" and status["pages"] >= 1 and len(status["sha256"]) == 64
    pdf = ok(users["leader"].get(b["pdf_url"]))
    assert hashlib.sha256(pdf.data).hexdigest() == status["sha256"]
    # Asked for JSON, the endpoint describes the stored version instead of sending it.
    meta = ok(get(users["leader"], f"/api/v1/incidents/{iid}/briefing.pdf", Accept="application/json"))
    assert meta.get_json()["briefing"]["id"] == b["id"]


def test_a_failed_generation_says_so_in_chinese_and_the_next_request_tries_again(users, clock, monkeypatch,
                                                                                   caplog):
    from reports import render

    iid = scenario(users, clock)
    real = render.render

    def broken(doc, reference=""):
        raise RuntimeError("disk full")

    monkeypatch.setattr(render, "render", broken)
    error = assert_error(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"), 500, "briefing_failed")
    # The reader gets words to act on and the briefing's number, never the exception; the log has both.
    assert "简报生成失败" in error["message"] and "告知系统管理员" in error["message"]
    assert "disk full" not in error["message"] and "RuntimeError" not in error["message"]
    failed = [r for r in caplog.records if "failed" in r.getMessage() and r.exc_info]
    assert failed and f"incident {iid}" in failed[0].getMessage() and "disk full" in str(failed[0].exc_info[1])
    monkeypatch.setattr(render, "render", real)
    ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))


def test_a_briefing_whose_worker_died_is_made_again(users, clock, wiring):
    iid = scenario(users, clock)
    with wiring.sessions() as s:
        # As if a server process stopped right after taking the request.
        row = store.request(s, wiring.plan, kind="incident", incident_id=iid, actor=s.get(User, users["leader"].id),
                            now=clock.now())
        stuck = row.id
        s.commit()
    clock.advance(minutes=3)
    assert ok(users["leader"].get(f"/api/v1/briefings/{stuck}")).get_json()["briefing"]["status"] == "failed"
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert int(r.headers["X-Briefing-Id"]) != stuck


def test_who_may_read_which_briefing(users, clock, make_user):
    iid = scenario(users, clock)
    other_station = make_user("station", "guandu")
    assert_error(other_station.get(f"/api/v1/incidents/{iid}/briefing.pdf"), 404, "not_found")
    assert_error(users["leader"].get("/api/v1/incidents/99999/briefing.pdf"), 404, "not_found")
    ok(users["food"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))  # the lead department's duty officer
    error = assert_error(users["food"].get("/api/v1/reports/daily.pdf"), 403, "forbidden")
    assert "每日汇总" in error["message"]
    r = users["food"].client.get(f"/api/v1/incidents/{iid}/briefing.pdf")  # no token
    assert_error(r, 401)
    bid = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf")).headers["X-Briefing-Id"]
    assert_error(other_station.get(f"/api/v1/briefings/{bid}.pdf"), 404)
    assert_error(other_station.get(f"/api/v1/briefings/{bid}"), 404)
    assert other_station.get("/api/v1/briefings").get_json()["briefings"] == []
    assert_error(users["leader"].get("/api/v1/briefings/424242"), 404)
    assert_error(users["leader"].get("/api/v1/briefings?kind=weekly"), 400, "unknown_kind")


def test_the_daily_report_across_open_incidents(users, clock, wiring):
    iid = scenario(users, clock)
    second = ok(users["office"].post("/api/v1/incidents", json=incident_payload(
        title="某商场电梯伤人事故", category="special_equipment_accident", discovered_at=iso(clock.now()),
        level="III")), 201).get_json()["id"]
    clock.advance(hours=2)  # the second one's station report is now overdue
    r = ok(users["leader"].get("/api/v1/reports/daily.pdf?date=2026-11-20"))
    bid = int(r.headers["X-Briefing-Id"])
    with wiring.sessions() as s:
        pages = s.get(Briefing, bid).pages
    check_pdf(r.data, pages, expect=[
        "每日汇总", "2026-11-20", "在办事件 2 起", "Ⅱ级1起", "Ⅲ级1起", "某学校食堂疑似食物中毒", "某商场电梯伤人事故",
        "当日迟报漏报", "局向县政府和市局报告", "10分钟", "当日动态", "启动应急响应", "时限完成情况图"])
    assert second
    ok(users["leader"].get("/api/v1/reports/daily.pdf"))  # today (Beijing time)
    assert_error(users["leader"].get("/api/v1/reports/daily.pdf?date=2026-13-01"), 400, "bad_date")
    assert_error(users["leader"].get("/api/v1/reports/daily.pdf?date=2026-12-01"), 400, "future_date")


def test_the_accountability_sheet_of_a_period(users, clock, wiring):
    iid = scenario(users, clock)
    r = ok(users["office"].get("/api/v1/accountability.pdf?from=2026-11-01&to=2026-11-30"))
    with wiring.sessions() as s:
        pages = s.get(Briefing, int(r.headers["X-Briefing-Id"])).pages
    text = check_pdf(r.data, pages, expect=[
        "迟报漏报情况表", "2026-11-01 至 2026-11-30", "办公室", "迟报 1 项", "10分钟", "局向县政府和市局报告",
        "YJ2026-00001", "各单位时限完成情况图"])
    assert iid
    # A duty officer gets their own department's sheet, never another's.
    own = ok(users["food"].get("/api/v1/accountability.pdf?from=2026-11-01&to=2026-11-30"))
    assert "食品安全协调督查科" in flat(pdf_text(own.data))
    assert_error(users["food"].get("/api/v1/accountability.pdf?department=office"), 403, "forbidden")
    assert_error(users["office"].get("/api/v1/accountability.pdf?from=2026-11-30&to=2026-11-01"), 400, "bad_period")
    assert_error(users["office"].get("/api/v1/accountability.pdf?from=2020-01-01&to=2026-11-30"), 400,
                 "period_too_long")
    assert_error(users["office"].get("/api/v1/accountability.pdf?from=yesterday"), 400, "bad_date")
    assert_error(users["office"].get("/api/v1/accountability.pdf?department=nowhere"), 400, "unknown_unit")
    # An ISO time is read as its Beijing date.
    ok(users["office"].get("/api/v1/accountability.pdf?from=2026-11-01T00:00:00%2B08:00&to=2026-11-30"))
    assert "迟报" in text


def test_the_closing_report_pdf_needs_a_closing_report(users, clock):
    iid = scenario(users, clock)
    error = assert_error(users["leader"].get(f"/api/v1/incidents/{iid}/closing-report.pdf"), 409, "no_closing_report")
    assert "尚未提交应急处置工作总结" in error["message"]


def test_the_openapi_document_lists_the_briefings(users):
    doc = users["viewer"].client.get("/api/v1/openapi.json").get_json()
    for path in ("/incidents/{incident_id}/briefing.pdf", "/reports/daily.pdf", "/incidents/{incident_id}/closing-report.pdf",
                 "/accountability.pdf", "/briefings", "/briefings/{briefing_id}", "/briefings/{briefing_id}.pdf",
                 "/incidents/{incident_id}/closing-report", "/incidents/{incident_id}/closing-report/approve",
                 "/incidents/{incident_id}/closing-report/return"):
        assert path in doc["paths"], path
    assert "application/pdf" in doc["paths"]["/reports/daily.pdf"]["get"]["responses"]["200"]["content"]


def test_the_incident_page_has_the_briefing_button(users, clock, app):
    iid = scenario(users, clock)
    html = _page_as(app, users, "leader", f"/incidents/{iid}")
    assert re.search(r'<a class="btn btn-small" id="briefing-pdf" data-briefing href="/api/v1/incidents/%d/briefing.pdf"'
                     % iid, html)
    assert "briefing.js" in html and 'id="closing-pdf"' not in html


def _page_as(app, users, role: str, url: str) -> str:
    client = signed_in_client(app, users[role].id)
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/api/v1/reports/daily.pdf", "/api/v1/accountability.pdf"])
def test_a_period_with_nothing_in_it_still_renders(users, url):
    r = ok(users["leader"].get(url))
    assert "没有" in pdf_text(r.data)


def test_a_briefing_is_stored_once_per_request_and_counted(users, clock, wiring):
    iid = scenario(users, clock)
    for _ in range(3):
        ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Briefing)) == 1
    clock.advance(timedelta(minutes=1))
