"""Hostile input that used to answer 500 (issue 15, item 8), and a fuzz over the public pages and form posts.

Every case here is a request an anonymous client or a staff member can send; each must get a 4xx
with a message (or a success), never a server error.
"""
from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.input_guards import bounded_int
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user

HUGE = str(2**64)
OVERFLOWING = ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"]
COMPLAINT = {"kind": "complaint", "name": "张三", "phone": "13912345678", "business_name": "张记烧烤",
             "business_address": "中牟县城关镇人民路1号", "category": "catering", "demand": "refund",
             "description": "11月19日晚在该店吃烧烤后全家腹泻，要求退款。"}


def _csrf(client) -> str:
    client.get("/12315")
    with client.session_transaction() as session:
        return session["csrf"]


@pytest.fixture
def office(wiring):
    with wiring.sessions() as s:
        _, token = create_user(s, wiring.plan, name="办公室", role="office", unit="office", now=wiring.clock.now(),
                               actor=SystemActor(name="tests"))
        s.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("moment", OVERFLOWING)
def test_public_api_complaint_with_an_overflowing_time_is_refused(app, moment):
    r = app.test_client().post("/api/v1/complaints", json={**COMPLAINT, "purchased_at": moment})
    assert r.status_code == 400
    assert "消费时间" in r.get_data(as_text=True)


@pytest.mark.parametrize("moment", OVERFLOWING)
def test_12315_form_with_an_overflowing_time_shows_the_form_again(app, moment):
    client = app.test_client()
    r = client.post("/12315", data={**COMPLAINT, "purchased_at": moment, "csrf_token": _csrf(client)})
    assert r.status_code == 400
    assert "消费时间不正确" in r.get_data(as_text=True)


@pytest.mark.parametrize("moment", OVERFLOWING)
def test_report_dates_that_overflow_in_local_time_are_refused(app, office, moment):
    client = app.test_client()
    for url in ("/api/v1/accountability.pdf?from=", "/api/v1/accountability.pdf?to="):
        r = client.get(url + moment.replace("+", "%2B"), headers=office)
        assert r.status_code == 400, (url, r.status_code)
        assert r.get_json()["error"]["code"] == "bad_date"


@pytest.mark.parametrize("moment", OVERFLOWING)
def test_api_times_that_overflow_are_refused(app, office, moment):
    r = app.test_client().post("/api/v1/incidents", headers=office,
                               json={"title": "餐馆食物中毒", "hazard": "food_poisoning", "discovered_at": moment})
    assert r.status_code == 400


@pytest.mark.parametrize("token", ["é", "令牌", "ü" * 40])
def test_a_non_ascii_csrf_token_is_refused_not_a_crash(app, token):
    client = app.test_client()
    _csrf(client)
    assert client.post("/login", data={"csrf_token": token, "login": "a", "password": "b"}).status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 400
    r = client.post("/12315", data={**COMPLAINT, "csrf_token": token})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    r = client.post("/12315/status", data={"tracking_no": "X", "phone": "1", "csrf_token": token})
    assert r.status_code == 400


def test_huge_ids_in_paths_and_queries_are_refused(app, office):
    client = app.test_client()
    for url in (f"/api/v1/incidents/{HUGE}", f"/api/v1/briefings/{HUGE}.pdf", f"/api/v1/complaints?before={HUGE}",
                f"/api/v1/complaints/{HUGE}/detail", f"/api/v1/calendar/{HUGE}",
                f"/incidents/{HUGE}", f"/board/cards/{HUGE}", f"/12315/warnings/{HUGE}", f"/complaints/{HUGE}",
                f"/calendar?year={HUGE}"):
        r = client.get(url, headers=office)
        assert 400 <= r.status_code < 500, (url, r.status_code)


def test_deeply_nested_json_is_refused(app, office):
    client = app.test_client()
    for body in ("[" * 100_000, '{"a":' * 100_000):
        r = client.post("/api/v1/complaints", data=body, content_type="application/json")
        assert r.status_code == 400, r.status_code
        r = client.post("/api/v1/incidents", data=body, content_type="application/json", headers=office)
        assert r.status_code == 400


# --- fuzz: the public pages and the form posts -------------------------------------------------------------

TEXT = st.one_of(st.text(max_size=40), st.sampled_from(OVERFLOWING + [HUGE, "-1", "0", "２０２６－１１－２０", "\x00", "é"]))
FORM_FIELDS = ("kind", "name", "phone", "address", "business_name", "business_address", "credit_code", "category",
               "purchased_at", "amount", "order_no", "description", "demand", "area")
PAGES = ("/12315", "/12315/status", "/12315/warnings", "/12315/submitted", "/login", "/12315/warnings/{x}",
         "/", "/duty", "/calendar", "/complaints", "/complaints/{x}", "/incidents/{x}", "/board/cards/{x}",
         "/duty/clocks", "/duty/complaints", "/board/escalations", "/accountability", "/incidents/new",
         "/complaints/panel")


def _fine(response) -> None:
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])


def test_fuzz_public_pages_and_form_posts(app, make_user):
    office = make_user("office", "office", password="Passw0rd-long-enough")
    anonymous, staff = app.test_client(), app.test_client()
    csrf = _csrf(anonymous)
    staff.get("/login")
    with staff.session_transaction() as s:
        s["user_id"] = office.id
        s["csrf"] = "t"

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    @given(fields=st.dictionaries(st.sampled_from(FORM_FIELDS), TEXT), good_csrf=st.booleans())
    def post_forms(fields, good_csrf):
        token = csrf if good_csrf else "é"
        _fine(anonymous.post("/12315", data={**COMPLAINT, **fields, "csrf_token": token}))
        _fine(anonymous.post("/12315/status", data={"tracking_no": fields.get("order_no", ""),
                                                    "phone": fields.get("phone", ""), "csrf_token": token}))
        _fine(anonymous.post("/login?next=" + fields.get("name", ""),
                             data={"login": fields.get("name", ""), "password": fields.get("description", ""),
                                   "csrf_token": token}))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    @given(page=st.sampled_from(PAGES), x=TEXT, query=st.dictionaries(
        st.sampled_from(["year", "unit", "before", "status", "kind", "q", "day", "limit", "next", "category"]), TEXT))
    def get_pages(page, x, query):
        url = page.replace("{x}", x.replace("/", "").replace("?", "").replace("#", "") or "1")
        for client in (anonymous, staff):
            _fine(client.get(url, query_string=query))

    post_forms()
    get_pages()


def test_every_log_line_of_ours_is_masked(app, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("yingji.any.module").info("回拨 %s，卡号 %s", "0371-62100001", "6222 0212 3456 7890 123")
    assert "62100001" not in caplog.text and "0212 3456" not in caplog.text
    assert "0371-****0001" in caplog.text


def test_query_integers_past_the_database_are_the_default():
    assert bounded_int("42") == 42 and bounded_int(" -7 ") == -7
    for text in (HUGE, "2147483648", "１２", "1e3", "", "-"):
        with pytest.raises(ValueError):
            bounded_int(text)
