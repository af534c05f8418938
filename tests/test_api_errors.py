"""Bad requests get a 4xx JSON error in Chinese and English, and change nothing."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from incidents.models import AuditEntry, Deadline, Incident, LevelChange, Report
from tests.helpers import approve_summary, deliveries, file_report, incident_payload, iso, report_up

CHINESE = re.compile(r"[\u4e00-\u9fff]")


# --- helpers -------------------------------------------------------------------


def counts(wiring) -> dict[str, int]:
    # A refusal (403) is itself a security event in the audit trail; nothing else may be kept.
    with wiring.sessions() as session:
        out = {m.__tablename__: session.scalar(select(func.count()).select_from(m))
               for m in (Incident, LevelChange, Report, Deadline)}
        out["audit_entries"] = session.scalar(select(func.count()).select_from(AuditEntry)
                                              .where(AuditEntry.action != "user.forbidden"))
        return out


class Unchanged:
    """Snapshot the incident (if any), the list and the row counts; compare after a refused request."""

    def __init__(self, wiring, reader, iid=None):
        self.wiring, self.reader, self.iid = wiring, reader, iid
        self.before = self.take()

    def take(self):
        detail = self.reader.get(f"/api/v1/incidents/{self.iid}").get_json() if self.iid else None
        listing = self.reader.get("/api/v1/incidents").get_json()
        return detail, listing, counts(self.wiring)

    def check(self):
        assert self.take() == self.before


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "message_en"} <= set(error), error
    assert isinstance(error["code"], str) and error["code"]
    assert CHINESE.search(error["message"]), error
    assert error["message_en"] and not CHINESE.search(error["message_en"]), error
    if code is not None:
        assert error["code"] == code, error
    return error


def register(user, clock, **overrides):
    r = user.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), **overrides))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def incident(users, clock):
    """A registered, ungraded food-poisoning incident; returns its id."""
    iid = register(users["station"], clock)
    clock.advance(minutes=5)
    return iid


def grade(users, iid, level):
    r = users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": level, "reason": "定级"})
    assert r.status_code == 200, r.get_json()


def activate(users, iid):
    r = users["leader"].post(f"/api/v1/incidents/{iid}/activate")
    assert r.status_code == 200, r.get_json()


# --- registration ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "category", "discovered_at", "location", "source", "nature"])
def test_missing_field(wiring, users, clock, field):
    office = users["office"]
    guard = Unchanged(wiring, office)
    body = incident_payload(discovered_at=iso(clock.now()))
    del body[field]
    error = assert_error(office.post("/api/v1/incidents", json=body), 400, "missing_field")
    assert error.get("field") == field
    body[field] = "   "
    assert_error(office.post("/api/v1/incidents", json=body), 400, "missing_field")
    guard.check()


@pytest.mark.parametrize("overrides,code,field", [
    ({"level": "V"}, "unknown_level", "level"),
    ({"level": "ii"}, "unknown_level", "level"),
    ({"level": "Ⅱ"}, "unknown_level", "level"),
    ({"category": "alien_invasion"}, "unknown_category", "category"),
    ({"station": "atlantis"}, "unknown_station", "station"),
    ({"title": 12345}, "bad_type", "title"),
    ({"title": "长" * 201}, "too_long", "title"),
    ({"location": "城关镇" * 101}, "too_long", "location"),  # its column holds 300: PostgreSQL would refuse it
    ({"discovered_at": "yesterday"}, "bad_time", "discovered_at"),
    ({"discovered_at": "2026-11-20T09:00:00"}, "naive_time", "discovered_at"),
    ({"discovered_at": "2026-11-20 09:00"}, "naive_time", "discovered_at"),
])
def test_bad_registration(wiring, users, overrides, code, field):
    office = users["office"]
    guard = Unchanged(wiring, office)
    error = assert_error(office.post("/api/v1/incidents", json=incident_payload(**overrides)), 400, code)
    assert error.get("field") == field
    guard.check()


@pytest.mark.parametrize("ahead", [timedelta(seconds=1), timedelta(minutes=30), timedelta(days=400)])
def test_discovered_in_the_future(wiring, users, clock, ahead):
    office = users["office"]
    guard = Unchanged(wiring, office)
    r = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now() + ahead)))
    assert_error(r, 400, "future_time")
    # The same moment written in Beijing time is still the future.
    beijing = (clock.now() + ahead).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert_error(office.post("/api/v1/incidents", json=incident_payload(discovered_at=beijing.isoformat())),
                 400, "future_time")
    guard.check()


def test_discovered_now_is_accepted(users, clock):
    # The boundary: "now" is not the future (the tests above must not refuse it by accident).
    register(users["office"], clock)


@pytest.mark.parametrize("data,content_type", [
    ("{\"title\": ", "application/json"),
    ("not json at all", "application/json"),
    ("", "application/json"),
    ("title=x", "application/x-www-form-urlencoded"),
])
def test_malformed_json(wiring, users, data, content_type):
    office = users["office"]
    guard = Unchanged(wiring, office)
    r = office.client.post("/api/v1/incidents", data=data, content_type=content_type,
                           headers={"Authorization": f"Bearer {office.token}"})
    assert_error(r, 400, "bad_json")
    guard.check()


@pytest.mark.parametrize("payload", [[1, 2], "a string", 42, None, True])
def test_non_object_json(wiring, users, payload):
    office = users["office"]
    guard = Unchanged(wiring, office)
    import json as _json

    r = office.client.post("/api/v1/incidents", data=_json.dumps(payload), content_type="application/json",
                           headers={"Authorization": f"Bearer {office.token}"})
    assert_error(r, 400, "bad_json")
    guard.check()


# --- grading and activation --------------------------------------------------------


def test_regrade_to_the_same_level(wiring, users, incident):
    grade(users, incident, "II")
    guard = Unchanged(wiring, users["office"], incident)
    r = users["office"].post(f"/api/v1/incidents/{incident}/level", json={"level": "II", "reason": "再次定级"})
    error = assert_error(r, 409, "same_level")
    assert "Ⅱ" in error["message"]
    guard.check()


@pytest.mark.parametrize("body,code", [
    ({"level": "V", "reason": "x"}, "unknown_level"),
    ({"level": "II"}, "missing_field"),
    ({"reason": "x"}, "missing_field"),
    ({"level": "II", "reason": "  "}, "missing_field"),
    ({"level": 2, "reason": "x"}, "bad_type"),
])
def test_bad_grading(wiring, users, incident, body, code):
    guard = Unchanged(wiring, users["office"], incident)
    assert_error(users["office"].post(f"/api/v1/incidents/{incident}/level", json=body), 400, code)
    guard.check()


def test_activation_of_an_ungraded_incident(wiring, users, incident):
    guard = Unchanged(wiring, users["office"], incident)
    error = assert_error(users["leader"].post(f"/api/v1/incidents/{incident}/activate"), 409, "ungraded")
    assert "定级" in error["message"]
    guard.check()


def test_activation_twice(wiring, users, incident):
    grade(users, incident, "II")
    activate(users, incident)
    guard = Unchanged(wiring, users["office"], incident)
    assert_error(users["leader"].post(f"/api/v1/incidents/{incident}/activate"), 409)
    guard.check()


# --- reports --------------------------------------------------------------------------


def test_report_submitted_in_the_future(wiring, users, clock, incident):
    guard = Unchanged(wiring, users["office"], incident)
    r = users["station"].post(f"/api/v1/incidents/{incident}/reports",
                              json={"kind": "initial", "body": "初报", "submitted_at": iso(clock.now() + timedelta(minutes=1))})
    error = assert_error(r, 400, "future_time")
    assert error.get("field") == "submitted_at"
    guard.check()


def test_report_with_a_naive_time(wiring, users, incident):
    guard = Unchanged(wiring, users["office"], incident)
    r = users["station"].post(f"/api/v1/incidents/{incident}/reports",
                              json={"kind": "initial", "body": "初报", "submitted_at": "2026-11-20T09:10:00"})
    assert_error(r, 400, "naive_time")
    guard.check()


def test_report_before_the_discovery(wiring, users, clock, incident):
    guard = Unchanged(wiring, users["office"], incident)
    r = users["station"].post(f"/api/v1/incidents/{incident}/reports",
                              json={"kind": "initial", "body": "初报", "submitted_at": iso(clock.now() - timedelta(days=1))})
    assert_error(r, 400, "before_discovery")
    guard.check()


@pytest.mark.parametrize("body,code", [
    ({"kind": "gossip", "body": "x"}, "unknown_kind"),
    ({"kind": "initial"}, "missing_field"),
    ({"body": "x"}, "missing_field"),
    ({"kind": "measure", "body": "x"}, "unknown_kind"),
])
def test_bad_report(wiring, users, incident, body, code):
    guard = Unchanged(wiring, users["office"], incident)
    assert_error(users["office"].post(f"/api/v1/incidents/{incident}/reports", json=body), 400, code)
    guard.check()


def test_progress_report_before_activation(wiring, users, incident):
    grade(users, incident, "II")
    guard = Unchanged(wiring, users["office"], incident)
    r = users["office"].post(f"/api/v1/incidents/{incident}/reports", json={"kind": "progress", "body": "续报"})
    assert_error(r, 409, "not_active")
    guard.check()


def test_measure_before_activation_and_unknown_measure(wiring, users, incident):
    grade(users, incident, "II")
    guard = Unchanged(wiring, users["office"], incident)
    r = users["office"].post(f"/api/v1/incidents/{incident}/measures", json={"measure": "measures_issued", "body": "x"})
    assert_error(r, 409, "not_active")
    activate(users, incident)
    guard = Unchanged(wiring, users["office"], incident)
    r = users["office"].post(f"/api/v1/incidents/{incident}/measures", json={"measure": "party", "body": "x"})
    assert_error(r, 400, "unknown_measure")
    guard.check()


def test_closing_report_before_the_end(wiring, users, incident):
    grade(users, incident, "II")
    activate(users, incident)
    guard = Unchanged(wiring, users["office"], incident)
    r = users["office"].post(f"/api/v1/incidents/{incident}/reports", json={"kind": "closing", "body": "总结"})
    assert_error(r, 409, "not_ended")
    guard.check()


@pytest.fixture
def ended(users, clock, incident):
    grade(users, incident, "II")
    activate(users, incident)
    clock.advance(hours=2)
    approve_summary(users["office"], users["leader"], incident)
    r = users["leader"].post(f"/api/v1/incidents/{incident}/end", json={"reason": "处置完毕"})
    assert r.status_code == 200, r.get_json()
    clock.advance(minutes=5)
    return incident


@pytest.mark.parametrize("user,kind", [("office", "progress"), ("station", "initial"), ("office", "bureau")])
def test_report_for_an_ended_incident(wiring, users, ended, user, kind):
    guard = Unchanged(wiring, users["office"], ended)
    r = users[user].post(f"/api/v1/incidents/{ended}/reports", json={"kind": kind, "body": "迟到的报告"})
    error = assert_error(r, 409, "ended")
    assert "结束" in error["message"]
    guard.check()


def test_report_for_an_archived_incident(wiring, users, ended):
    report_up(users["office"], ended, signer=users["leader"])
    guard = Unchanged(wiring, users["office"], ended)
    r = users["office"].post(f"/api/v1/incidents/{ended}/reports", json={"kind": "closing", "body": "再交一份"})
    assert_error(r, 409)
    guard.check()


def test_closing_report_dated_before_the_end(wiring, users, clock, ended):
    guard = Unchanged(wiring, users["office"], ended)
    r = users["office"].post(f"/api/v1/incidents/{ended}/reports",
                             json={"kind": "closing", "body": "总结", "submitted_at": iso(clock.now() - timedelta(hours=1))})
    assert_error(r, 400, "before_end")
    guard.check()


# --- the end ---------------------------------------------------------------------------


def test_end_in_the_future(wiring, users, clock, incident):
    grade(users, incident, "II")
    activate(users, incident)
    guard = Unchanged(wiring, users["office"], incident)
    r = users["leader"].post(f"/api/v1/incidents/{incident}/end",
                             json={"reason": "结束", "ended_at": iso(clock.now() + timedelta(hours=1))})
    error = assert_error(r, 400, "future_time")
    assert error.get("field") == "ended_at"
    r = users["leader"].post(f"/api/v1/incidents/{incident}/end",
                             json={"reason": "结束", "ended_at": "2026-11-20T10:00:00"})
    assert_error(r, 400, "naive_time")
    r = users["leader"].post(f"/api/v1/incidents/{incident}/end",
                             json={"reason": "结束", "ended_at": iso(clock.now() - timedelta(days=1))})
    assert_error(r, 400, "before_activation")
    r = users["leader"].post(f"/api/v1/incidents/{incident}/end", json={})
    assert_error(r, 400, "missing_field")
    guard.check()


@pytest.mark.parametrize("role", ["station", "commander", "office", "viewer", "food"])
def test_end_declared_by_the_wrong_role_at_level_two(wiring, users, incident, role):
    grade(users, incident, "II")
    activate(users, incident)
    guard = Unchanged(wiring, users["office"], incident)
    r = users[role].post(f"/api/v1/incidents/{incident}/end", json={"reason": "结束"})
    error = assert_error(r, 403, "forbidden")
    guard.check()
    if role == "commander":
        assert "Ⅱ" in error["message"] and "应急领导小组" in error["message"]


def test_end_before_activation(wiring, users, incident):
    grade(users, incident, "II")
    guard = Unchanged(wiring, users["office"], incident)
    assert_error(users["leader"].post(f"/api/v1/incidents/{incident}/end", json={"reason": "结束"}), 409, "not_active")
    guard.check()


def test_end_twice(wiring, users, ended):
    guard = Unchanged(wiring, users["office"], ended)
    assert_error(users["leader"].post(f"/api/v1/incidents/{ended}/end", json={"reason": "再次结束"}), 409, "ended")
    guard.check()


def test_archive_before_the_written_report(wiring, users, ended):
    guard = Unchanged(wiring, users["office"], ended)
    assert_error(users["office"].post(f"/api/v1/incidents/{ended}/archive"), 409, "closing_not_delivered")
    guard.check()


def test_archive_before_the_written_report_reaches_every_recipient(wiring, users, ended):
    # Filed, signed off, and delivered to the county government only: the city bureau has not got it yet.
    filed = file_report(users["office"], ended, "closing", "关于事件应急处置情况的书面报告", signer=users["leader"],
                        deliver=False)
    county = {k: v for k, v in deliveries()[0].items() if k != "code"}
    r = users["office"].post(f"/api/v1/reports/{filed['report']['id']}/recipients/county_government/delivery",
                             json=county)
    assert r.status_code == 200, r.get_json()
    guard = Unchanged(wiring, users["office"], ended)
    error = assert_error(users["office"].post(f"/api/v1/incidents/{ended}/archive"), 409, "closing_not_delivered")
    assert "送达" in error["message"]
    guard.check()
    detail = users["office"].get(f"/api/v1/incidents/{ended}").get_json()
    assert detail["status"] == "ended"


# --- authentication, unknown things ----------------------------------------------------


@pytest.mark.parametrize("method,url", [
    ("get", "/api/v1/incidents"), ("post", "/api/v1/incidents"), ("get", "/api/v1/plan"),
    ("get", "/api/v1/incidents/1"), ("post", "/api/v1/incidents/1/activate"), ("get", "/api/v1/accountability"),
])
@pytest.mark.parametrize("auth", [None, "Bearer yj_wrong-token", "Bearer ", "Basic dXNlcjpwYXNz", "yj_no-scheme"])
def test_no_or_wrong_token(app, wiring, users, incident, method, url, auth):
    guard = Unchanged(wiring, users["office"], incident)
    client = app.test_client()
    headers = {"Authorization": auth} if auth is not None else {}
    r = getattr(client, method)(url, headers=headers, json=incident_payload() if method == "post" else None)
    assert_error(r, 401, "unauthorised")
    guard.check()


def test_unknown_incident(wiring, users, incident):
    guard = Unchanged(wiring, users["office"], incident)
    office = users["office"]
    assert_error(office.get("/api/v1/incidents/999999"), 404, "not_found")
    assert_error(office.get("/api/v1/incidents/999999/audit"), 404, "not_found")
    assert_error(office.post("/api/v1/incidents/999999/level", json={"level": "II", "reason": "x"}), 404, "not_found")
    assert_error(users["leader"].post("/api/v1/incidents/999999/activate"), 404, "not_found")
    assert_error(office.post("/api/v1/incidents/999999/reports", json={"kind": "progress", "body": "x"}), 404)
    assert_error(users["leader"].post("/api/v1/incidents/999999/end", json={"reason": "x"}), 404)
    assert_error(office.get("/api/v1/accountability?incident=999999"), 404)
    guard.check()


@pytest.mark.parametrize("method,url,status", [
    ("get", "/api/v1/nothing-here", 404),
    ("post", "/api/v1/nothing-here", 404),
    ("get", "/api/v1/incidents/abc", 404),
    ("get", "/api/v2/incidents", 404),
    ("delete", "/api/v1/incidents", 405),
    ("put", "/api/v1/incidents/1", 405),
])
def test_unknown_route_gives_json(app, users, method, url, status):
    r = getattr(app.test_client(), method)(url, headers={"Authorization": f"Bearer {users['office'].token}"})
    assert_error(r, status)


def test_bad_list_filters(users):
    assert_error(users["office"].get("/api/v1/incidents?status=sleeping"), 400, "bad_status")
    assert_error(users["office"].get("/api/v1/incidents?level=V"), 400, "unknown_level")
    assert_error(users["office"].get("/api/v1/accountability?from=yesterday"), 400, "bad_time")


def test_the_incident_list_comes_a_page_at_a_time_newest_first(users, clock):
    ids = [users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()),
                                                                            title=f"事件{n}")).get_json()["id"]
           for n in range(3)]
    first = users["office"].get("/api/v1/incidents?limit=2").get_json()
    assert [i["id"] for i in first["incidents"]] == ids[::-1][:2]
    assert first["next_before"] == ids[1]
    rest = users["office"].get(f"/api/v1/incidents?limit=2&before={first['next_before']}").get_json()
    assert [i["id"] for i in rest["incidents"]] == [ids[0]] and rest["next_before"] is None
    assert len(users["office"].get("/api/v1/incidents").get_json()["incidents"]) == 3  # the default page holds them


def test_unknown_category_for_suggestion(users):
    assert_error(users["office"].get("/api/v1/plan/suggest?category=nope"), 400, "unknown_category")
    r = users["office"].get("/api/v1/plan/suggest?category=food_poisoning")
    assert r.status_code == 200 and r.get_json()["level"] == "II"


def test_grading_after_the_end(wiring, users, ended):
    guard = Unchanged(wiring, users["office"], ended)
    r = users["office"].post(f"/api/v1/incidents/{ended}/level", json={"level": "I", "reason": "升级"})
    assert_error(r, 409, "ended")
    guard.check()


def test_request_too_large(wiring, users):
    office = users["office"]
    guard = Unchanged(wiring, office)
    body = incident_payload(nature="大" * (3 * 1024 * 1024))
    assert_error(office.post("/api/v1/incidents", json=body), 413)
    guard.check()


def test_text_longer_than_allowed(wiring, users, clock):
    office = users["office"]
    guard = Unchanged(wiring, office)
    r = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), nature="x" * 20001))
    assert_error(r, 400, "too_long")
    guard.check()


@pytest.mark.parametrize("typed,code,words", [
    ("1900-01-01T00:00:00+08:00", "time_out_of_range", "发现时间的年份须在2000年至2099年之间"),
    ("9999-12-31T23:00:00-08:00", "time_out_of_range", "发现时间的年份须在2000年至2099年之间"),
    ("0001-01-01T00:00:00+08:00", "time_out_of_range", "发现时间的年份须在2000年至2099年之间"),
    ("2020-12-31T23:59:00+08:00", "too_early", "发现时间不能早于2021年（预案施行之年）"),
    ("2027-01-01T00:00:00+08:00", "future_time", "发现时间不能晚于当前时间"),
])
def test_typed_times_stay_in_a_sane_window(wiring, users, typed, code, words):
    office = users["office"]
    guard = Unchanged(wiring, office)
    error = assert_error(office.post("/api/v1/incidents", json=incident_payload(discovered_at=typed)), 400, code)
    assert words in error["message"] and error["field"] == "discovered_at"
    guard.check()


def test_times_of_reports_tasks_and_shifts_stay_in_the_window(wiring, users, clock):
    office = users["office"]
    iid = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()))).get_json()["id"]
    guard = Unchanged(wiring, office, iid)
    assert_error(office.post(f"/api/v1/incidents/{iid}/reports", json={
        "kind": "initial", "body": "初报", "submitted_at": "9999-01-01T00:00:00+08:00"}), 400, "time_out_of_range")
    assert_error(office.post(f"/api/v1/incidents/{iid}/assignments", json={
        "department": "prices", "task": "排查", "due_at": "2099-01-01T00:00:00+08:00"}), 400, "too_late")
    assert_error(office.post("/api/v1/departments/prices/shifts", json={
        "starts_at": "2098-01-01T00:00:00+08:00", "ends_at": "2098-01-02T00:00:00+08:00"}), 400, "too_late")
    guard.check()


def test_an_empty_registration_names_every_missing_field_at_once(wiring, users):
    office = users["office"]
    guard = Unchanged(wiring, office)
    error = assert_error(office.post("/api/v1/incidents", json={"discovered_at": "yesterday"}), 400, "invalid_fields")
    assert [(e["field"], e["message"]) for e in error["errors"]] == [
        ("discovered_at", "发现时间须为带时区的时间，如 2026-11-22T09:30:00+08:00"), ("title", "缺少事件名称"),
        ("category", "缺少事件类别"), ("location", "缺少地点"), ("source", "缺少信息来源"), ("nature", "缺少事件性质")]
    assert error["message"].startswith("请检查以下6项：") and "(" not in error["message"]
    guard.check()


def test_nul_bytes_deep_nesting_and_huge_ids_get_a_clear_4xx(wiring, users):
    office = users["office"]
    guard = Unchanged(wiring, office)
    deep = "[" * 50_000 + "]" * 50_000
    cases = [
        (office.client.post("/api/v1/incidents", data=deep, content_type="application/json",
                            headers={"Authorization": f"Bearer {office.token}"}), 400, "too_deep"),
        (office.post("/api/v1/incidents", json=incident_payload(title="食物\x00中毒")), 400, "nul_byte"),
        (office.get("/api/v1/assignments?department=%00"), 400, "nul_byte"),
        (office.get("/api/v1/complaints/TS%00"), 400, "nul_byte"),
        (office.get("/api/v1/incidents/2147483648"), 404, None),
        (office.post("/api/v1/incidents/1/withdraw", json={"kind": "test", "reason": "r",
                                                          "duplicate_of": 2**63}), 400, "bad_id"),
    ]
    for response, status, code in cases:
        assert_error(response, status, code)
    guard.check()
