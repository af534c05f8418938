"""The Idempotency-Key header on the API's POSTs: a retry gets the first answer and nothing is done twice."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.jobs.idempotency import purge_keys
from incidents.models import Complaint, IdempotencyKey, Incident
from tests.helpers import incident_payload, signed_in_client

COMPLAINT = {"kind": "complaint", "name": "张三", "phone": "13912345678", "business_name": "张记烧烤",
             "business_address": "中牟县城关镇人民路1号", "category": "catering", "demand": "refund",
             "description": "11月19日晚在该店吃烧烤后全家腹泻，要求退款。"}


def _count(wiring, model) -> int:
    with wiring.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _post(user, url, body, key):
    return user.client.post(url, json=body, headers={**user._headers(), "Idempotency-Key": key})


def test_a_retried_registration_gets_the_first_answer_and_registers_once(users, wiring):
    office = users["office"]
    first = _post(office, "/api/v1/incidents", incident_payload(), "reg-2026-11-20-0001")
    assert first.status_code == 201
    again = _post(office, "/api/v1/incidents", incident_payload(), "reg-2026-11-20-0001")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(wiring, Incident) == 1
    # Without a key, or with another key, a POST is a new request.
    assert _post(office, "/api/v1/incidents", incident_payload(), "reg-2026-11-20-0002").get_json()["id"] != \
        first.get_json()["id"]
    assert _count(wiring, Incident) == 2


def test_the_same_key_with_another_body_is_refused_in_chinese(users, wiring):
    office = users["office"]
    assert _post(office, "/api/v1/incidents", incident_payload(), "k1").status_code == 201
    r = _post(office, "/api/v1/incidents", incident_payload(title="另一起事件"), "k1")
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "idempotency_key_reused" and "Idempotency-Key" in error["message"]
    assert "另一个不同的请求" in error["message"]
    assert _count(wiring, Incident) == 1


def test_keys_belong_to_their_user(users, wiring):
    assert _post(users["office"], "/api/v1/incidents", incident_payload(), "shared").status_code == 201
    # Another user's request with the same key is that user's own: done, not refused, not replayed.
    r = _post(users["leader"], "/api/v1/incidents", incident_payload(title="领导登记"), "shared")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert _count(wiring, Incident) == 2


def test_an_error_answer_is_kept_too_but_not_a_refusal_to_sign_in(users, wiring):
    office = users["office"]
    bad = incident_payload(discovered_at="not a time")
    first = _post(office, "/api/v1/incidents", bad, "k-bad")
    assert first.status_code == 400
    assert _post(office, "/api/v1/incidents", bad, "k-bad").get_json() == first.get_json()
    anonymous = office.client.post("/api/v1/incidents", json=incident_payload(), headers={"Idempotency-Key": "k-401"})
    assert anonymous.status_code == 401
    assert _post(office, "/api/v1/incidents", incident_payload(), "k-401").status_code == 201


def test_a_retried_public_complaint_is_filed_once(app, wiring):
    client = app.test_client()
    first = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == 201
    again = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "c-1"})
    assert again.get_json()["tracking_no"] == first.get_json()["tracking_no"]
    assert _count(wiring, Complaint) == 1


def test_a_malformed_key_is_refused(users):
    for key in ("", "键", "x" * 201, "a b"):
        r = _post(users["office"], "/api/v1/incidents", incident_payload(), key)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_idempotency_key", key


def test_keys_expire_after_24_hours_and_the_job_purges_them(users, wiring, clock):
    office = users["office"]
    assert _post(office, "/api/v1/incidents", incident_payload(), "old").status_code == 201
    clock.advance(timedelta(hours=23))
    assert purge_keys(wiring) == 0 and _count(wiring, IdempotencyKey) == 1
    clock.advance(timedelta(hours=1, seconds=1))
    assert purge_keys(wiring) == 1 and _count(wiring, IdempotencyKey) == 0


def test_an_expired_key_not_yet_purged_is_free_again(users, wiring, clock):
    office = users["office"]
    first = _post(office, "/api/v1/incidents", incident_payload(), "day-old")
    clock.advance(timedelta(hours=24, seconds=1))
    again = _post(office, "/api/v1/incidents", incident_payload(), "day-old")
    assert again.status_code == 201 and again.get_json()["id"] != first.get_json()["id"]


def test_a_browser_session_post_with_a_key_needs_its_csrf_token(app, users):
    client = signed_in_client(app, users["office"].id, csrf="tok")
    r = client.post("/api/v1/incidents", json=incident_payload(), headers={"Idempotency-Key": "s-1"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
    r = client.post("/api/v1/incidents", json=incident_payload(), headers={"Idempotency-Key": "s-1", "X-CSRF-Token": "tok"})
    assert r.status_code == 201
