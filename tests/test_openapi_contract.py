"""The contract bites: a response that drifts from app/api/openapi.yaml fails the test that received it.

Every test's client is a tests.openapi_check.ContractClient (tests/conftest.py); these tests show it
refusing a dropped field, an added field, an undocumented path, method and status, and they call
the few operations no other test reaches, so their responses are checked too.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import jsonify

from app.api import serialize
from incidents.complaints.verification import Verified, phone_key
from incidents import complaints
from incidents.complaints import surge
from incidents.kernel.calendar import WeekdayCalendar
from tests.helpers import incident_payload
from tests.openapi_check import ContractClient, ContractError, check, operation_of


@pytest.fixture
def incident_id(users):
    r = users["office"].post("/api/v1/incidents", json=incident_payload())
    assert r.status_code == 201
    return r.get_json()["id"]


def test_every_test_client_checks_the_contract(app, users):
    assert isinstance(app.test_client(), ContractClient)
    assert isinstance(users["office"].client, ContractClient)


def test_a_field_dropped_from_the_incident_fails(monkeypatch, users, incident_id):
    real = serialize.incident

    def without_deadlines(incident, now):
        body = real(incident, now)
        del body["deadlines"]
        return body

    monkeypatch.setattr(serialize, "incident", without_deadlines)
    with pytest.raises(ContractError, match="'deadlines' is a required property"):
        users["office"].get(f"/api/v1/incidents/{incident_id}")


def test_a_field_added_to_the_incident_fails(monkeypatch, users, incident_id):
    real = serialize.incident
    monkeypatch.setattr(serialize, "incident", lambda incident, now: {**real(incident, now), "surprise": 1})
    with pytest.raises(ContractError, match="'surprise' was unexpected"):
        users["office"].get(f"/api/v1/incidents/{incident_id}")


def test_a_field_dropped_from_the_incident_list_fails(monkeypatch, users, incident_id):
    real = serialize.incident_summary
    monkeypatch.setattr(serialize, "incident_summary",
                        lambda incident: {k: v for k, v in real(incident).items() if k != "number"})
    with pytest.raises(ContractError, match="'number' is a required property"):
        users["office"].get("/api/v1/incidents")


def test_a_wrong_type_fails(monkeypatch, users, incident_id):
    real = serialize.incident
    monkeypatch.setattr(serialize, "incident", lambda incident, now: {**real(incident, now), "id": str(incident.id)})
    with pytest.raises(ContractError, match="is not of type 'integer'"):
        users["office"].get(f"/api/v1/incidents/{incident_id}")


def test_an_undocumented_route_fails(app, users):
    app.add_url_rule("/api/v1/undocumented", "undocumented", lambda: jsonify({"ok": True}))
    with pytest.raises(ContractError, match="path not in the OpenAPI document"):
        users["office"].get("/api/v1/undocumented")


def test_an_undocumented_method_fails(app, users):
    app.add_url_rule("/api/v1/plan", "delete_plan", lambda: jsonify({}), methods=["DELETE"])
    with pytest.raises(ContractError, match="method not in the OpenAPI document"):
        users["office"].client.delete("/api/v1/plan", headers={"Authorization": f"Bearer {users['office'].token}"})


def test_an_undocumented_status_fails(app):
    response = app.response_class('{"error": {}}', status=418, mimetype="application/json")
    with pytest.raises(ContractError, match="status 418 not documented"):
        check(app, "GET", "/api/v1/plan", response)


def test_an_undocumented_content_type_fails(app):
    response = app.response_class("<p>plan</p>", status=200, mimetype="text/html")
    with pytest.raises(ContractError, match="content type 'text/html' not documented"):
        check(app, "GET", "/api/v1/plan", response)


def test_a_refused_route_answers_the_error_body(app):
    client = app.test_client()
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.delete("/api/v1/incidents").status_code == 405
    html = app.response_class("<p>not found</p>", status=404, mimetype="text/html")
    with pytest.raises(ContractError, match="JSON error body"):
        check(app, "GET", "/api/v1/no-such-thing", html)


def test_pages_outside_the_api_are_not_checked(app):
    check(app, "GET", "/board", app.response_class("<html></html>", status=418, mimetype="text/html"))


@pytest.mark.parametrize(("path", "template"), [
    ("/complaints/summary", "/complaints/summary"),
    ("/complaints/TS20261120-7K3M9QX", "/complaints/{tracking_no}"),
    ("/consumer-warnings/published", "/consumer-warnings/published"),
    ("/consumer-warnings/7", "/consumer-warnings/{warning_id}"),
    ("/briefings/7.pdf", "/briefings/{briefing_id}.pdf"),
    ("/briefings/7", "/briefings/{briefing_id}"),
    ("/calendar/days/2027-02-01", "/calendar/days/{day}"),
    ("/nothing", None),
])
def test_a_request_path_finds_its_operation(path, template):
    assert operation_of(path) == template


# --- operations no other test calls: their answers are checked here ---------------------------------


def test_departments_with_who_is_on_duty(users):
    r = users["office"].get("/api/v1/departments")
    assert r.status_code == 200 and r.get_json()["departments"]


def test_a_category_without_a_suggested_level(users):
    r = users["office"].get("/api/v1/plan/suggest?category=other")
    assert r.status_code == 200 and r.get_json()["level"] is None


def test_surges_and_a_hand_drafted_warning(wiring, make_user):
    plan, now = wiring.plan, wiring.clock.now()
    with wiring.sessions() as s:
        for i in range(30):  # thirty complaints about one restaurant within the hour: a surge
            clean = complaints.validate(plan, {
                "kind": "complaint", "name": f"投诉人{i}", "phone": str(13800000000 + i), "business_name": "张记烧烤",
                "business_address": "中牟县城关镇人民路1号", "category": "catering", "description": "吃完以后腹泻，要求退款",
                "demand": "refund", "amount": "50"}, now=now)
            complaints.submit(s, plan, WeekdayCalendar(), clean, now=now - timedelta(minutes=30 - i),
                              verified=Verified("sms", phone_key(b"test", clean.phone)))
        surge.watch(s, plan, now=now)
        s.commit()
    centre = make_user("duty_officer", "complaints")
    assert centre.get("/api/v1/surges").get_json()["surges"]
    r = centre.post("/api/v1/consumer-warnings", json={"title": "节前消费提示", "body": "请保留购物凭证。"})
    assert r.status_code == 201 and r.get_json()["status"] == "draft"
