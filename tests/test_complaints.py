"""12315 complaints: the checks, working-day limits, the public API, triage and handling, masking, retention.

Database tests run on SQLite and PostgreSQL (the db_url fixture); time moves on a fake clock.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from app.calendar import calendar_for, sources
from incidents.records import audit
from incidents import complaints
from incidents.complaints import calendar_notices
from incidents.kernel.calendar import Calendar, WeekdayCalendar, add_working_days
from incidents.complaints import (
    credit_code_problem,
    limit_timing,
    mask_phone,
    normalise_phone,
    normalise_tracking_no,
    redact,
)
from incidents.models import AuditEntry, BoardEvent, Complaint, ComplaintLimitRow
from incidents.plan import CalendarYear, load_plan_file, DEFAULT_PLAN_FILE

BEIJING = timezone(timedelta(hours=8))
PLAN = load_plan_file(DEFAULT_PLAN_FILE)


def package_calendar(*years: CalendarYear) -> Calendar:
    """The calendar of the statutory rules and the package's notices, with plan-file years over them."""
    plan = dataclasses.replace(PLAN, complaints=dataclasses.replace(PLAN.complaints, calendar=years))
    return Calendar(sources().lunar, {**sources().package, **calendar_notices.plan_notices(plan)})


def body(**overrides) -> dict:
    """A complete complaint about a barbecue restaurant, as the public form or the API sends it."""
    data = {
        "kind": "complaint", "name": "张三", "phone": "13812345678", "address": "中牟县城关镇青年路8号",
        "business_name": "张记烧烤", "business_address": "中牟县城关镇人民路1号", "credit_code": "91350100M000100Y43",
        "category": "catering", "purchased_at": "2026-11-19", "amount": "128.50", "order_no": "MT2026111900001",
        "description": "11月19日晚在该店吃烧烤后全家腹泻，要求退款。", "demand": "refund",
    }
    data.update(overrides)
    return data


@pytest.fixture
def staff(make_user):
    """The complaint centre, two departments, and the roles above them."""
    return {
        "centre": make_user("duty_officer", "complaints", "+8613900000001"),
        "catering": make_user("duty_officer", "catering", "+8613900000002"),
        "prices": make_user("duty_officer", "prices", "+8613900000003"),
        "office": make_user("office", "office"),
        "leader": make_user("leader"),
        "viewer": make_user("viewer"),
    }


def submit(client, addr: str = "10.0.0.1", **overrides):
    """POST a complaint from a client address; return the response."""
    return client.post("/api/v1/complaints", json=body(**overrides), environ_base={"REMOTE_ADDR": addr})


# --- pure checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code,problem", [
    ("91350100M000100Y43", None),
    ("91110108551385082Q", None),
    ("91350100M000100Y42", "校验位不正确"),
    ("91350100M000100Y4", "应为18位"),
    ("9135010OM000100Y43", "不允许的字符“O”"),
    ("91350100M000I00Y43", "不允许的字符“I”"),
])
def test_credit_code_check_digit(code, problem):
    found = credit_code_problem(code)
    assert (found is None) if problem is None else (problem in found)


def test_phone_forms_and_masks():
    assert normalise_phone("+86 138-1234-5678") == "13812345678"
    assert normalise_phone("0086 13812345678") == "13812345678"
    assert normalise_phone("１３８１２３４５６７８") == "13812345678"  # full-width digits from a phone keyboard
    assert normalise_phone("12812345678") is None
    assert normalise_phone("1381234567") is None
    assert mask_phone("13812345678") == "138****5678"


def test_numbers_in_free_text_are_masked():
    text_in = "我的电话13812345678，身份证11010519491231002X，订单123456789012345678"
    out = redact(text_in)
    assert "138****5678" in out and "13812345678" not in out
    assert "1101**********002X" in out
    assert "123456789012345678" in out  # not an ID number (wrong check character): an order number stays


def test_tracking_numbers_tolerate_typing_and_catch_typos():
    number = complaints.new_tracking_no("complaint", date(2026, 11, 20))
    assert normalise_tracking_no(number.lower().replace("-", " ")) == number
    body_part = number[-7:-1]
    wrong = number[:-7] + ("A" if body_part[0] != "A" else "B") + number[-6:]
    assert normalise_tracking_no(wrong) is None
    assert normalise_tracking_no("TS20261120-") is None


# --- working days ---------------------------------------------------------------------------------------


def at_beijing(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def test_acceptance_limit_counts_national_day_and_the_make_up_saturday():
    rule = PLAN.complaints.limits[0]
    assert (rule.kind, rule.working_days) == ("acceptance", 7)
    timing = limit_timing(PLAN, package_calendar(), rule, at_beijing(2026, 9, 30))
    # 1-7 Oct off; 8 Thu, 9 Fri, 10 Sat (调休上班), 12, 13, 14, 15 Oct: the 7th working day.
    assert timing.due_on == date(2026, 10, 15)
    assert timing.due_at == at_beijing(2026, 10, 16, 0, 0)  # the end of that day, Beijing time
    assert timing.warn_at == at_beijing(2026, 10, 14, 0, 0)  # 2 working days left: the 14th and the 15th
    assert not timing.estimated
    # Counted Monday to Friday, the same limit would end a week earlier.
    assert add_working_days(WeekdayCalendar(), date(2026, 9, 30), 7).day == date(2026, 10, 9)


def test_a_late_evening_in_beijing_is_still_that_day():
    rule = PLAN.complaints.limits[0]
    late = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)  # 23:30 Friday in Beijing
    assert limit_timing(PLAN, package_calendar(), rule, late).due_on == date(2026, 12, 1)


def test_a_year_without_a_notice_is_estimated_and_says_so():
    mediation = next(r for r in PLAN.complaints.limits if r.kind == "mediation")
    timing = limit_timing(PLAN, package_calendar(), mediation, at_beijing(2026, 12, 24))
    assert timing.estimated
    assert "2027年放假安排" in timing.note and "法定节假日" in timing.note and "估算" in timing.note
    # The plan file fills in 2027: the count is exact again, its days off included.
    filled = package_calendar(CalendarYear(2027, ("2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09",
                                                  "2027-02-10"), ("2027-02-06",)))
    exact = limit_timing(PLAN, filled, mediation, at_beijing(2026, 12, 24))
    # Two more weekdays off and one Saturday worked: one working day later.
    assert (exact.estimated, exact.note) == (False, None) and exact.due_on == timing.due_on + timedelta(days=1)
    assert exact.due_on != timing.due_on


# --- the public API -------------------------------------------------------------------------------------------


def test_submit_and_look_up_with_the_phone(client_app):
    client, wiring = client_app
    r = submit(client)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    number = got["tracking_no"]
    assert number.startswith("TS20261120-") and got["phone"] == "138****5678"
    r = client.get(f"/api/v1/complaints/{number}?phone=13812345678")
    assert r.status_code == 200
    status = r.get_json()
    assert status["status"] == "received" and status["phone"] == "138****5678"
    assert "13812345678" not in r.get_data(as_text=True)
    assert "name" not in status and "description" not in status  # the status and nothing else
    wrong = client.get(f"/api/v1/complaints/{number}?phone=13812345679")
    assert wrong.status_code == 404
    assert wrong.get_json()["error"]["message"] == "没有找到这件投诉举报，请核对查询码和手机号码"
    unknown = client.get("/api/v1/complaints/TS20261120-0000000?phone=13812345678")
    assert unknown.status_code == 404 and unknown.get_json() == wrong.get_json()  # no oracle for numbers
    with wiring.sessions() as s:
        row = s.scalar(select(Complaint).where(Complaint.tracking_no == number))
        assert row.suggested_department == "catering" and row.department is None
        assert row.area == "chengguan"  # 城关 in the business address
        assert [lim.kind for lim in row.limits] == ["acceptance"]
        assert row.limits[0].due_on == date(2026, 12, 1)


def test_bad_input_names_every_field_in_chinese_and_saves_nothing(client_app):
    client, wiring = client_app
    r = submit(client, phone="12345", credit_code="91350100M000100Y42", description="", category="cars",
               amount="abc", purchased_at="2099-01-01")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert set(error["errors"]) == {"phone", "credit_code", "description", "category", "amount", "purchased_at"}
    assert error["errors"]["credit_code"].startswith("统一社会信用代码校验位不正确")
    assert error["message"].startswith("有6处需要修改")
    missing = client.post("/api/v1/complaints", json={k: v for k, v in body().items() if k != "business_name"})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "business_name"
    assert client.post("/api/v1/complaints", data="x", content_type="text/plain").status_code == 400
    with wiring.sessions() as s:
        assert s.scalar(select(Complaint.id)) is None


def test_a_tipoff_needs_no_name_nor_demand_and_gets_the_filing_limit(client_app):
    client, wiring = client_app
    r = submit(client, kind="tipoff", name="", demand="", category="pyramid_selling")
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["tracking_no"]
    assert number.startswith("JB")
    with wiring.sessions() as s:
        row = s.scalar(select(Complaint).where(Complaint.tracking_no == number))
        assert row.name == "匿名" and row.demand is None
        assert [(lim.kind, lim.working_days) for lim in row.limits] == [("filing_decision", 15)]


def test_size_limits(client_app):
    client, _ = client_app
    r = submit(client, description="很" * 2001)
    assert r.status_code == 400 and "最多2000字" in r.get_json()["error"]["errors"]["description"]
    huge = client.post("/api/v1/complaints", data=json.dumps(body(description="x" * 70000)),
                       content_type="application/json")
    assert huge.status_code == 400 and huge.get_json()["error"]["code"] == "too_large"


def test_rate_limit_per_phone_and_per_address(client_app):
    client, wiring = client_app
    for i in range(5):
        assert submit(client, addr=f"10.1.0.{i}").status_code == 201
    r = submit(client, addr="10.1.0.99")
    assert r.status_code == 429
    assert "该手机号码提交过于频繁" in r.get_json()["error"]["message"] and r.headers["Retry-After"]
    for i in range(20):
        assert submit(client, addr="10.2.0.1", phone=f"139{i:08d}").status_code == 201
    r = submit(client, addr="10.2.0.1", phone="13700000000")
    assert r.status_code == 429 and "您所在网络" in r.get_json()["error"]["message"]
    # Another address is not affected; and an hour later the address may send again.
    assert submit(client, addr="10.2.0.2", phone="13700000000").status_code == 201
    wiring.clock.advance(hours=2)
    assert submit(client, addr="10.2.0.1", phone="13700000001").status_code == 201
    with wiring.sessions() as s:
        keys = [k for (k,) in s.execute(text("SELECT key FROM rate_buckets"))]
    assert keys and not any("10.2.0.1" in k or "139" in k for k in keys)  # HMACs, not addresses or phones


def test_refused_submissions_do_not_use_up_the_address(client_app):
    client, _ = client_app
    # A family behind one address gets the phone wrong again and again: that costs none of its 20.
    for i in range(30):
        assert submit(client, addr="10.3.0.1", phone="1381234").status_code == 400
    for i in range(20):
        assert submit(client, addr="10.3.0.1", phone=f"136{i:08d}").status_code == 201
    assert submit(client, addr="10.3.0.1", phone="13500000000").status_code == 429
    # A script probing with refusals is still stopped, at its own, larger limit.
    for i in range(PLAN.complaints.refused_per_ip.count):
        assert submit(client, addr="10.4.0.1", phone="1381234").status_code == 400
    r = submit(client, addr="10.4.0.1", phone="1381234")
    assert r.status_code == 429 and "您所在网络" in r.get_json()["error"]["message"]


def test_status_lookups_are_rate_limited(client_app):
    client, _ = client_app
    for _ in range(60):
        client.get("/api/v1/complaints/TS20261120-0000000?phone=13812345678", environ_base={"REMOTE_ADDR": "10.3.0.1"})
    r = client.get("/api/v1/complaints/TS20261120-0000000?phone=13812345678", environ_base={"REMOTE_ADDR": "10.3.0.1"})
    assert r.status_code == 429 and "查询提交过于频繁" in r.get_json()["error"]["message"]


# --- triage and handling --------------------------------------------------------------------------------------


def test_triage_handling_and_the_answer_to_the_complainant(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    centre, catering, prices = staff["centre"], staff["catering"], staff["prices"]

    # The department cannot see it before triage; the centre sees it with the phone masked.
    assert catering.get(f"/api/v1/complaints/{number}/detail").status_code == 404
    detail = centre.get(f"/api/v1/complaints/{number}/detail").get_json()
    assert detail["phone"] == "138****5678" and detail["name"] == "张*"
    assert detail["suggested_department"] == "catering"
    # Only the centre (or the office) triages.
    assert catering.post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"}).status_code == 403
    # Re-routing away from the suggestion needs a reason.
    r = centre.post(f"/api/v1/complaints/{number}/triage", json={"department": "prices"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "note"
    r = centre.post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
    assert r.status_code == 200 and r.get_json()["department"] == "catering"
    assert r.get_json()["limits"][0]["department"] == "catering"
    assert prices.get(f"/api/v1/complaints/{number}/detail").status_code == 404

    # Accept needs no reason; then the mediation limit starts (45 working days).
    r = catering.post(f"/api/v1/complaints/{number}/status", json={"to": "mediating"})
    assert r.status_code == 409 and "不能开始调解" in r.get_json()["error"]["message"]
    wiring.clock.advance(days=3)
    r = catering.post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"})
    assert r.status_code == 200, r.get_json()
    limits = {lim["kind"]: lim for lim in r.get_json()["limits"]}
    assert limits["acceptance"]["status"] == "met"
    assert limits["mediation"]["status"] == "pending" and limits["mediation"]["working_days"] == 45
    assert catering.post(f"/api/v1/complaints/{number}/status", json={"to": "mediating"}).status_code == 200
    r = catering.post(f"/api/v1/complaints/{number}/status", json={"to": "closed"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "answer"
    answer = "经调解，商家同意退还餐费128.5元。<b>谢谢</b>"
    r = catering.post(f"/api/v1/complaints/{number}/status", json={"to": "closed", "answer": answer})
    assert r.status_code == 200
    assert {lim["kind"]: lim["status"] for lim in r.get_json()["limits"]} == {"acceptance": "met", "mediation": "met"}

    public = client.get(f"/api/v1/complaints/{number}?phone=138-1234-5678").get_json()
    assert public["status"] == "closed" and public["answer"] == answer and public["finished"]
    assert [s["text"] for s in public["steps"]] == ["已收到您的投诉", "已转餐饮食品安全监督管理办理", "已受理", "开始调解",
                                                    "已办结"]
    with wiring.sessions() as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.entity_id == number)
                                           .order_by(AuditEntry.seq))]
        assert actions == ["complaint.triaged", "complaint.accepted", "complaint.mediating", "complaint.closed"]
        # The chain holds hashes of the texts, not the texts (they may hold personal data).
        closed = s.scalar(select(AuditEntry).where(AuditEntry.action == "complaint.closed"))
        assert "退还" not in closed.data and "answer_sha256" in closed.data
        assert audit.verify(s).ok


def test_refusal_needs_a_reason_and_is_shown_to_the_complainant(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    r = staff["centre"].post(f"/api/v1/complaints/{number}/status", json={"to": "refused"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "reason"
    # The centre may refuse before triage (not the bureau's remit); accepting needs a department.
    assert staff["centre"].post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"}).status_code == 409
    r = staff["centre"].post(f"/api/v1/complaints/{number}/status",
                             json={"to": "refused", "reason": "属于劳动争议，不属于市场监管部门职责，请向劳动监察部门反映"})
    assert r.status_code == 200
    public = client.get(f"/api/v1/complaints/{number}?phone=13812345678").get_json()
    assert public["status"] == "refused" and "劳动监察" in public["reason"]
    r = staff["centre"].post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"})
    assert r.status_code == 409


def test_a_late_acceptance_is_late(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    staff["centre"].post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
    wiring.clock.set(datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc))  # the limit ran out at 1 Dec midnight
    limits = staff["centre"].get("/api/v1/complaint-limits").get_json()["limits"]
    assert [(lim["kind"], lim["state"]) for lim in limits] == [("acceptance", "overdue")]
    assert staff["catering"].get("/api/v1/complaint-limits").get_json()["limits"][0]["complaint"]["tracking_no"] == number
    assert staff["prices"].get("/api/v1/complaint-limits").get_json()["limits"] == []
    r = staff["catering"].post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"})
    acceptance = next(lim for lim in r.get_json()["limits"] if lim["kind"] == "acceptance")
    assert acceptance["status"] == "late" and acceptance["late_seconds"] == 10 * 3600  # due 1 Dec 16:00 UTC


def test_limits_show_as_about_to_run_out(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    assert staff["centre"].get("/api/v1/complaint-limits").get_json()["limits"] == []
    wiring.clock.set(datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc))  # Mon 30 Nov 01:00 Beijing
    limits = staff["centre"].get("/api/v1/complaint-limits").get_json()["limits"]
    assert [(lim["complaint"]["tracking_no"], lim["state"], lim["working_days_left"]) for lim in limits] == [
        (number, "warn", 2)]


def test_phones_are_masked_for_staff_unless_they_handle_it(client_app, staff):
    client, wiring = client_app
    number = submit(client, description="请回电13812345678或者13987654321").get_json()["tracking_no"]
    for who in ("leader", "viewer", "office", "centre"):
        got = staff[who].get("/api/v1/complaints").get_data(as_text=True)
        assert "13812345678" not in got and "13987654321" not in got and "138****5678" in got, who
    assert staff["leader"].post(f"/api/v1/complaints/{number}/contact").status_code == 403
    assert staff["catering"].post(f"/api/v1/complaints/{number}/contact").status_code == 404  # not routed there yet
    r = staff["centre"].post(f"/api/v1/complaints/{number}/contact")
    assert r.status_code == 200 and r.get_json()["phone"] == "13812345678"
    staff["centre"].post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
    assert staff["catering"].post(f"/api/v1/complaints/{number}/contact").get_json()["phone"] == "13812345678"
    with wiring.sessions() as s:
        viewed = s.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.contact_viewed")).all()
        assert len(viewed) == 2 and all("13812345678" not in e.data for e in viewed)
        events = s.scalars(select(BoardEvent)).all()
        assert events and all("13812345678" not in json.dumps(e.payload, ensure_ascii=False) for e in events)


def test_intake_digest_chains_received_complaints_and_tells_the_centre(client_app):
    client, wiring = client_app
    numbers = [submit(client, addr=f"10.4.0.{i}", phone=f"1380000000{i}").get_json()["tracking_no"] for i in range(3)]
    with wiring.sessions() as s:
        assert complaints.chain_received(s, wiring.plan, now=wiring.clock.now()) == 3
        s.commit()
        assert complaints.chain_received(s, wiring.plan, now=wiring.clock.now()) == 0
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "complaints.received"))
        data = json.loads(entry.data)
        assert data["count"] == 3 and [row[0] for row in data["complaints"]] == numbers
        assert audit.verify(s).ok
        event = s.scalar(select(BoardEvent).where(BoardEvent.room == "dept:complaints"))
        assert event.payload["what"] == "received" and event.payload["count"] == 3


def test_personal_data_is_erased_after_the_retention_period(client_app, staff):
    client, wiring = client_app
    open_no = submit(client, addr="10.5.0.1").get_json()["tracking_no"]
    done_no = submit(client, addr="10.5.0.2", phone="13911112222").get_json()["tracking_no"]
    staff["centre"].post(f"/api/v1/complaints/{done_no}/status", json={"to": "refused", "reason": "重复投诉"})
    with wiring.sessions() as s:
        assert complaints.erase_expired(s, wiring.plan, now=wiring.clock.now() + timedelta(days=1094)) == 0
        assert complaints.erase_expired(s, wiring.plan, now=wiring.clock.now() + timedelta(days=1096)) == 1
        s.commit()
        done = s.scalar(select(Complaint).where(Complaint.tracking_no == done_no))
        assert (done.name, done.phone, done.address, done.order_no) == ("", "", "", None)
        assert done.description == complaints.ERASED_TEXT and done.erased_at is not None
        assert done.business_name == "张记烧烤" and done.category == "catering"  # the statistics stay
        kept = s.scalar(select(Complaint).where(Complaint.tracking_no == open_no))
        assert kept.phone == "13812345678"  # still open: never erased
    # Nobody can look it up any more, not even with the right phone.
    assert client.get(f"/api/v1/complaints/{done_no}?phone=13911112222").status_code == 404


def test_weekly_summary(client_app, staff):
    client, wiring = client_app
    for i in range(3):
        submit(client, addr=f"10.6.0.{i}", phone=f"1381111000{i}")
    submit(client, addr="10.6.1.1", phone="13822220000", business_name="李记超市", category="food",
           business_address="中牟县韩寺镇")
    first = staff["centre"].get("/api/v1/complaints?status=open").get_json()["complaints"][-1]["tracking_no"]
    staff["centre"].post(f"/api/v1/complaints/{first}/triage", json={"department": "catering"})
    staff["catering"].post(f"/api/v1/complaints/{first}/status", json={"to": "accepted"})
    wiring.clock.advance(days=7)
    r = staff["leader"].get("/api/v1/complaints/summary")
    assert r.status_code == 200, r.get_json()
    week = r.get_json()
    assert week["period"]["from_day"] == "2026-11-16" and week["period"]["to_day"] == "2026-11-22"
    assert week["received"] == {"total": 4, "complaints": 4, "tipoffs": 0, "amount": 514.0}
    assert week["top_businesses"][0] == {"business": "张记烧烤", "count": 3, "amount": 385.5}
    assert [c["name"] for c in week["by_category"]] == ["餐饮服务", "食品"]
    assert {a["name"] for a in week["by_area"]} == {"城关", "韩寺"}
    assert week["limits"] == [{"kind": "acceptance", "name": "作出受理或不予受理决定", "met": 1, "late": 0,
                               "missed": 0, "running": 0}]
    assert staff["catering"].get("/api/v1/complaints/summary").status_code == 403


def test_openapi_lists_the_complaint_endpoints(client_app):
    client, _ = client_app
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/complaints", "/complaints/{tracking_no}", "/complaints/{tracking_no}/triage",
            "/complaints/{tracking_no}/status", "/consumer-warnings"} <= set(paths)


@pytest.fixture
def client_app(app, wiring):
    """The app's test client and wiring."""
    return app.test_client(), wiring


def test_limit_rows_keep_the_department_that_answers(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    with wiring.sessions() as s:
        assert s.scalar(select(ComplaintLimitRow.department)) == "complaints"  # the centre until triaged
    staff["centre"].post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
    with wiring.sessions() as s:
        assert s.scalar(select(ComplaintLimitRow.department)) == "catering"
    with wiring.sessions() as s:
        assert calendar_for(s, wiring.plan).is_workday(date(2026, 10, 10))


def test_limits_about_to_run_out_are_announced_once(client_app, staff):
    client, wiring = client_app
    number = submit(client).get_json()["tracking_no"]
    staff["centre"].post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})

    def notify():
        with wiring.sessions() as s:
            fired = complaints.notify_limits(s, wiring.plan, now=wiring.clock.now())
            s.commit()
        return [stage for stage, _ in fired]

    assert notify() == []
    wiring.clock.set(datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc))  # Mon 30 Nov 01:00 Beijing: 2 days left
    assert notify() == ["limit_warning"]
    assert notify() == []
    wiring.clock.set(datetime(2026, 12, 1, 16, 0, 1, tzinfo=timezone.utc))  # just after the end of 1 Dec, Beijing
    assert notify() == ["limit_overdue"]
    assert notify() == []
    with wiring.sessions() as s:
        events = s.scalars(select(BoardEvent).where(BoardEvent.room == "dept:catering")).all()
        notices = [e.payload for e in events if e.payload["what"].startswith("limit_")]
    assert [n["what"] for n in notices] == ["limit_warning", "limit_overdue"]
    assert notices[1]["message"] == f"投诉{number}（张记烧烤）“作出受理或不予受理决定”已超过时限，时限至12月1日"
    # A limit found only after it ran out gets the overdue notice alone.
    other = submit(client, addr="10.7.0.1", phone="13900001111").get_json()["tracking_no"]
    wiring.clock.advance(days=30)
    with wiring.sessions() as s:
        fired = complaints.notify_limits(s, wiring.plan, now=wiring.clock.now())
    assert [stage for stage, _ in fired] == ["limit_overdue"] and other


def test_estimated_limits_are_recounted_when_the_year_is_known(client_app, staff):
    client, wiring = client_app
    wiring.clock.set(datetime(2026, 12, 24, 2, 0, tzinfo=timezone.utc))
    number = submit(client).get_json()["tracking_no"]
    staff["centre"].post(f"/api/v1/complaints/{number}/triage", json={"department": "catering"})
    r = staff["catering"].post(f"/api/v1/complaints/{number}/status", json={"to": "accepted"})
    mediation = next(lim for lim in r.get_json()["limits"] if lim["kind"] == "mediation")
    assert mediation["estimated"] and "2027年" in mediation["estimate_note"]
    page = staff["catering"].get(f"/api/v1/complaints/{number}/detail").get_json()
    assert next(lim for lim in page["limits"] if lim["kind"] == "mediation")["estimated"]
    # The bureau enters the State Council's 2027 notice into the plan: the hourly job recounts.
    import dataclasses

    year = CalendarYear(2027, ("2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"),
                        ("2027-02-06",))
    plan = dataclasses.replace(wiring.plan, complaints=dataclasses.replace(wiring.plan.complaints, calendar=(year,)))
    with wiring.sessions() as s:
        assert calendar_notices.refresh_estimates(s, plan, calendar_for(s, plan), now=wiring.clock.now()) == 1
        s.commit()
        row = s.scalar(select(ComplaintLimitRow).where(ComplaintLimitRow.kind == "mediation"))
        assert not row.estimated and row.estimate_note is None
        assert row.due_on > date.fromisoformat(mediation["due_on"])  # weekdays off the statutory rules did not know push it later
        assert calendar_notices.refresh_estimates(s, plan, calendar_for(s, plan), now=wiring.clock.now()) == 0


@pytest.mark.parametrize("written, masked, hidden", [
    ("身份证410122199001011235（校验位错）", "4101**********1235（校验位错）", "410122199001011235"),
    ("老身份证410122900101123", "4101*******1123", "410122900101123"),
    ("电话１３８１２３４５６７８", "138****5678", "１３８１２３４５６７８"),
    ("身份证４１０１２２１９９００１０１１２３Ｘ", "4101**********123X", "１９９００１０１"),
    ("卡号6222 0212 3456 7890 123", "6222***********0123", "0212 3456"),
    ("卡号4111111111111111", "4111********1111", "4111111111111111"),
    ("座机0371-62100001", "0371-****0001", "62100001"),
    ("座机（0371）62100001转3", "（0371）****0001转3", "62100001"),
    ("电话０３７１－６２１０００１", "0371-****0001", "６２１０００１"),
])
def test_more_forms_of_personal_numbers_are_masked(written, masked, hidden):
    out = redact(written)
    assert masked in out and hidden not in out, out


def test_numbers_that_are_not_personal_stay():
    for text_in in ("订单123456789012345678", "订单号1234567890123456", "金额1234.50元，2026年11月20日9时30分",
                    "查询码TS20261120-7K3M9QX"):
        assert redact(text_in) == text_in
