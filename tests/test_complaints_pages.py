"""The public 12315 pages and the complaint centre's board pages, through Flask's test client.

(tests/browser/test_intake.py drives the same pages in headless Chromium on a phone-sized screen.)
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from incidents import complaints
from incidents.models import Complaint, User
from incidents.plan import DEFAULT_PLAN_FILE, PlanError, load_plan_text
from tests.test_complaints import body

PASSWORD = "correct horse 9"
PLAN_TEXT = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")


def form_page(client) -> tuple[str, str]:
    """GET the public form; return its HTML and its CSRF token."""
    r = client.get("/12315")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_form_files_a_complaint_and_shows_the_tracking_number(app, wiring):
    client = app.test_client()
    html, token = form_page(client)
    assert 'name="viewport"' in html and "12315 投诉举报" in html
    for name in ("name", "phone", "business_name", "business_address", "credit_code", "category", "purchased_at",
                 "amount", "order_no", "description", "demand"):
        assert f'name="{name}"' in html, name
    r = client.post("/12315", data={**body(), "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/12315/submitted")
    done = client.get("/12315/submitted").get_data(as_text=True)
    number = re.search(r'id="tracking-no">([^<]+)<', done).group(1)
    assert number.startswith("TS") and "138****5678" in done and "13812345678" not in done
    with wiring.sessions() as s:
        assert s.scalar(select(Complaint.source).where(Complaint.tracking_no == number)) == "web"

    # The status page: the right phone shows the status; a wrong one shows nothing of it.
    status_html = client.get("/12315/status").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', status_html).group(1)
    assert number in status_html  # filled in for the browser that just filed it
    r = client.post("/12315/status", data={"tracking_no": number, "phone": "13812345678", "csrf_token": token})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "已收到，待受理" in page and "张记烧烤" in page and "138****5678" in page
    r = client.post("/12315/status", data={"tracking_no": number, "phone": "13812345670", "csrf_token": token})
    page = r.get_data(as_text=True)
    assert r.status_code == 404 and "没有找到这件投诉举报" in page and "张记烧烤" not in page
    assert 'value="13812345670"' in page  # what was typed stays


def maxlengths(html: str) -> dict[str, int]:
    """Return the maxlength of each text field of a form, by field name."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'<(?:input|textarea)[^>]*\bname="(\w+)"[^>]*\bmaxlength="(\d+)"', html)}


def test_the_form_takes_as_much_text_as_the_domain_allows(app, monkeypatch):
    html, _ = form_page(app.test_client())
    found = maxlengths(html)
    assert {k: found[k] for k in complaints.LIMITS if k in found} == {
        "name": 40, "address": 200, "business_name": 100, "business_address": 200, "order_no": 64}
    assert found["description"] == app.extensions["yingji"].plan.complaints.max_text
    # The limits come from the domain, not the template: a changed limit is the form's too.
    monkeypatch.setitem(complaints.LIMITS, "business_name", 77)
    assert maxlengths(form_page(app.test_client())[0])["business_name"] == 77


def test_errors_are_shown_next_to_the_fields_and_keep_what_was_typed(app, wiring):
    client = app.test_client()
    _, token = form_page(client)
    typed = body(phone="1381234", business_name="", description="<img src=x onerror=alert(1)>我被骗了",
                 address="“引号”&<b>粗</b>")
    r = client.post("/12315", data={**typed, "csrf_token": token})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'id="err-phone"' in html and "手机号码格式不正确" in html
    assert 'id="err-business_name"' in html and "请填写被投诉（举报）的经营者名称" in html
    assert 'value="1381234"' in html  # kept
    assert "&lt;img src=x onerror=alert(1)&gt;我被骗了</textarea>" in html  # kept, escaped
    assert "<img src=x" not in html and "<b>粗</b>" not in html
    assert 'aria-invalid="true"' in html
    with wiring.sessions() as s:
        assert s.scalar(select(Complaint.id)) is None


def test_a_missing_or_stale_csrf_token_keeps_the_form(app, wiring):
    client = app.test_client()
    form_page(client)
    r = client.post("/12315", data=body(business_name="王记面馆"))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "页面已过期" in html and 'value="王记面馆"' in html
    with wiring.sessions() as s:
        assert s.scalar(select(Complaint.id)) is None


def test_the_form_answers_429_in_chinese_and_keeps_the_text(app):
    client = app.test_client()
    for i in range(5):
        _, token = form_page(client)
        assert client.post("/12315", data={**body(), "csrf_token": token},
                           environ_base={"REMOTE_ADDR": f"10.9.0.{i}"}).status_code == 303
    _, token = form_page(client)
    r = client.post("/12315", data={**body(description="第六次提交的内容"), "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "10.9.1.1"})
    assert r.status_code == 429 and r.headers["Retry-After"]
    html = r.get_data(as_text=True)
    assert "该手机号码提交过于频繁" in html and "第六次提交的内容" in html


def test_text_from_the_public_is_escaped_on_the_staff_pages(app, wiring, make_user):
    client = app.test_client()
    r = client.post("/api/v1/complaints", json=body(business_name="<script>alert('x')</script>烧烤",
                                                    description="请打13812345678 <iframe src=//evil>"))
    number = r.get_json()["tracking_no"]
    centre = sign_in(app, wiring, make_user, "duty_officer", "complaints")
    for url in ("/complaints", f"/complaints/{number}", "/complaints/panel", "/duty?department=complaints"):
        html = centre.get(url).get_data(as_text=True)
        assert "<script>alert('x')</script>" not in html and "<iframe" not in html, url
        assert "13812345678" not in html, url
    detail = centre.get(f"/complaints/{number}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;烧烤" in detail and "138****5678" in detail
    assert 'id="show-contact"' in detail  # the centre may call the complainant


def sign_in(app, wiring, make_user, role: str, unit: str | None = None):
    """Log a new user of a role in through the login form; return the test client."""
    api_user = make_user(role, unit, password=PASSWORD)
    with wiring.sessions() as session:
        login = session.get(User, api_user.id).login
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": "t"})
    assert r.status_code == 302
    return client


def test_the_centre_page_and_the_department_board(app, wiring, make_user):
    public = app.test_client()
    number = public.post("/api/v1/complaints", json=body()).get_json()["tracking_no"]
    centre = sign_in(app, wiring, make_user, "duty_officer", "complaints")
    html = centre.get("/complaints").get_data(as_text=True)
    assert "待分流" in html and number in html and "餐饮食品安全监督管理（建议）" in html
    assert 'href="/complaints"' in html  # the navigation link
    duty = centre.get("/duty").get_data(as_text=True)
    assert 'id="duty-complaints"' in duty and 'id="duty-untriaged">1<' in duty

    catering = sign_in(app, wiring, make_user, "duty_officer", "catering")
    assert number not in catering.get("/duty").get_data(as_text=True)
    assert catering.get(f"/complaints/{number}").status_code == 404
    with centre.session_transaction() as s:
        token = s["csrf"]
    r = centre.post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_json()
    board = catering.get("/duty").get_data(as_text=True)
    assert number in board and "作出受理或不予受理决定" in board and "今天起剩8个工作日" in board
    fragment = catering.get("/duty/complaints").get_data(as_text=True)
    assert fragment.startswith("\n<section") or fragment.lstrip().startswith("<section")
    detail = catering.get(f"/complaints/{number}").get_data(as_text=True)
    assert 'id="form-accepted"' in detail and 'id="form-refused"' in detail and 'id="show-contact"' in detail
    assert 'id="form-triage"' not in detail  # the department does not route

    leader = sign_in(app, wiring, make_user, "leader")
    detail = leader.get(f"/complaints/{number}").get_data(as_text=True)
    assert 'id="show-contact"' not in detail and 'id="form-accepted"' not in detail
    station = sign_in(app, wiring, make_user, "station", "chengguan")
    assert station.get("/complaints").status_code == 403


# --- the plan's sections ---------------------------------------------------------------------------


def issues_of(text_: str) -> list[str]:
    with pytest.raises(PlanError) as info:
        load_plan_text(text_, "broken.yaml")
    return [str(i) for i in info.value.issues]


def test_the_default_plan_has_the_statutory_limits_and_the_surge_rules():
    plan = load_plan_text(PLAN_TEXT)
    limits = {r.kind: (r.applies_to, r.starts_on, r.working_days, r.met_by) for r in plan.complaints.limits}
    assert limits == {"acceptance": (("complaint",), "received", 7, ("accepted", "refused")),
                      "mediation": (("complaint",), "accepted", 45, ("closed",)),
                      "filing_decision": (("tipoff",), "received", 15, ("filed", "not_filed"))}
    assert [c.code for c in plan.complaints.categories] == [
        "food", "catering", "drugs", "medical_devices", "cosmetics", "special_equipment", "prices", "metrology",
        "advertising", "online_shopping", "product_quality", "pyramid_selling", "other"]
    assert plan.complaints.centre == "complaints" and plan.surge.incident_category == "complaint_surge"
    assert plan.surge.rules[0].min_count == 10 and plan.surge.warnings_approved_by == ("leader",)


@pytest.mark.parametrize("old,new,expected", [
    ("department: food_circulation, incidents:", "department: nowhere, incidents:", "unknown department `nowhere`"),
    ("      working_days: 7\n", "      working_days: 0\n", "must be a whole number of at least 1"),
    ("      warn_working_days: 2\n", "      warn_working_days: 9\n", "the warning must come after"),
    ("      met_by: [accepted, refused]\n", "      met_by: [received]\n", "`received` is not one of"),
    ("    - {by: business, window: PT1H, min_count: 10, ratio: 3}\n",
     "    - {by: shop, window: PT1H, min_count: 10, ratio: 3}\n", "`shop` is not one of"),
    ("  baseline: P28D\n", "  baseline: PT30M\n", "must be longer than the longest window"),
    ("  incident: {category: complaint_surge, level: IV}", "  incident: {category: nope, level: IV}",
     "unknown category `nope`"),
    ("  calendar: []\n", "  calendar: [{year: 2027, days_off: [2026-12-31]}]\n", "is not a date of 2027"),
    ("    submit_per_ip: {count: 20, window: PT1H}\n", "    submit_per_ip: {count: 20, window: 1h}\n",
     "is not an ISO 8601 duration"),
])
def test_broken_complaint_sections_are_refused_with_their_line(old, new, expected):
    assert PLAN_TEXT.count(old) == 1, old
    broken = PLAN_TEXT.replace(old, new)
    found = issues_of(broken)
    assert any(expected in i for i in found), found
    line = next(n for n, row in enumerate(broken.splitlines(), start=1) if new.strip().split("\n")[0][:30] in row)
    assert any(i.startswith(f"line {line}:") for i in found if expected in i), (line, found)


def test_a_surge_lights_up_the_centre_and_office_boards(app, wiring, make_user):
    from tests.test_surge import file, run_watch

    file(wiring, 30)
    run_watch(wiring)
    office = sign_in(app, wiring, make_user, "office", "office")
    for url in ("/duty?department=office", "/duty?department=complaints", "/complaints"):
        html = office.get(url).get_data(as_text=True)
        assert "投诉高峰" in html and "张记烧烤" in html and "建议Ⅳ级事件" in html, url
    overview = office.get("/").get_data(as_text=True)
    assert "消费投诉高峰：张记烧烤（1小时内30件）" in overview  # the proposed Ⅳ incident's card
    food = sign_in(app, wiring, make_user, "duty_officer", "food_coord")
    assert "投诉高峰" not in food.get("/duty").get_data(as_text=True)


def test_request_lines_in_the_log_mask_phone_numbers(app, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - [%s] "%s" %s', "127.0.0.1", "22/Nov/2026 12:00:00",
                                           "GET /api/v1/complaints/TS20261122-7K3M9QX?phone=13812345678 HTTP/1.1", 404)
    assert "phone=138****5678" in caplog.text and "13812345678" not in caplog.text
