"""The command HQ (专项应急指挥部) of an event, and who may end the emergency because of it.

Plan §三(三): for a Ⅰ, Ⅱ or Ⅲ response the leadership group sets up a command HQ led by the deputy
director in charge (总指挥); Ⅳ may do without one. Plan §五(一): the HQ ends a 一般 or 较大 event, the
leadership group a 重大 or 特大 one. So at Ⅲ a commander ends the emergency only as the named 总指挥.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from incidents.models import CLOSED, AuditEntry, CommandHQ, Incident, User
from tests.helpers import approve_summary, incident_payload, iso
from tests.test_api_errors import assert_error
from tests.test_reports_api import _page_as, ok


def registered(users, clock, level: str | None = "III") -> int:
    body = incident_payload(discovered_at=iso(clock.now()), **({"level": level} if level else {}))
    return ok(users["office"].post("/api/v1/incidents", json=body), 201).get_json()["id"]


def active(users, clock, level: str = "III", **hq) -> dict:
    iid = registered(users, clock, level)
    inc = ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json=hq or None)).get_json()
    # The leadership's approval of the summary lets the end be declared: what is left to test is who declares it.
    approve_summary(users["office"], users["leader"], iid)
    return inc


def end(user, iid):
    return user.post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态已得到控制"})


def audit_of(wiring, iid: int, action: str) -> list[dict]:
    with wiring.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.incident_id == iid, AuditEntry.action == action)
                         .order_by(AuditEntry.seq))
        return [json.loads(r.data) for r in rows]


def hq_rows(wiring, iid: int) -> int:
    with wiring.sessions() as s:
        return len(s.scalars(select(CommandHQ).where(CommandHQ.incident_id == iid)).all())


@pytest.fixture
def second_commander(make_user):
    return make_user("commander")


def test_the_leader_names_the_hq_on_activation_and_only_its_commander_ends_a_level_three(
        users, clock, wiring, second_commander):
    commander = users["commander"]
    inc = active(users, clock, commander=commander.id, members=[users["food"].id, users["office"].id],
                 reason="分管局长任总指挥")
    iid = inc["id"]
    assert inc["status"] == "active" and inc["command_hq_required"] is True
    hq = inc["command_hq"]
    assert hq["commander"] == {"id": commander.id, "name": "commander2"}
    assert [m["id"] for m in hq["members"]] == [users["food"].id, users["office"].id]
    assert hq["named_at"] == iso(clock.now()) and hq["named_by"] == "leader1" and hq["reason"] == "分管局长任总指挥"
    assert inc["command_hq_history"] == [hq]
    # Another commander is not the 总指挥: refused, and the incident stays active.
    error = assert_error(end(second_commander, iid), 403, "not_hq_commander")
    assert "总指挥" in error["message"]
    assert ok(users["office"].get(f"/api/v1/incidents/{iid}")).get_json()["status"] == "active"
    ended = ok(end(commander, iid)).get_json()
    assert ended["status"] == "ended" and ended["command_hq"]["commander"]["id"] == commander.id
    [entry] = audit_of(wiring, iid, "command_hq.named")
    assert entry["commander"] == commander.id and entry["members"] == [users["food"].id, users["office"].id]
    assert entry["reason"] == "分管局长任总指挥"


def test_a_level_three_without_an_hq_is_ended_by_the_leadership_not_a_commander(users, clock):
    inc = active(users, clock, "III")
    assert inc["command_hq"] is None and inc["command_hq_history"] == [] and inc["command_hq_required"] is True
    error = assert_error(end(users["commander"], inc["id"]), 403, "no_command_hq")
    assert "总指挥" in error["message"] and "先指定" in error["message"]
    assert ok(end(users["leader"], inc["id"])).get_json()["status"] == "ended"


def test_a_level_four_needs_no_hq_any_commander_ends_it(users, clock, second_commander):
    inc = active(users, clock, "IV")
    assert inc["command_hq"] is None and inc["command_hq_required"] is False
    r = ok(end(second_commander, inc["id"])).get_json()
    assert r["status"] == "ended" and r["command_hq"] is None


def test_a_level_four_with_an_hq_follows_it(users, clock, second_commander):
    inc = active(users, clock, "IV", commander=users["commander"].id)
    assert_error(end(second_commander, inc["id"]), 403, "not_hq_commander")
    assert ok(end(users["commander"], inc["id"])).get_json()["status"] == "ended"


def test_the_leadership_ends_levels_one_and_two_even_with_a_commander_as_hq(users, clock):
    inc = active(users, clock, "II", commander=users["commander"].id)
    error = assert_error(end(users["commander"], inc["id"]), 403, "forbidden")
    assert "应急领导小组" in error["message"]
    assert ok(end(users["leader"], inc["id"])).get_json()["status"] == "ended"


def test_renaming_keeps_the_history_and_moves_the_end_to_the_new_commander(users, clock, wiring, second_commander):
    iid = active(users, clock, "III", commander=users["commander"].id)["id"]
    clock.advance(hours=2)
    # A re-naming must say why.
    error = assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                                              json={"commander": second_commander.id}), 400, "missing_field")
    assert "理由" in error["message"]
    r = ok(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                                json={"commander": second_commander.id, "members": [users["commander"].id],
                                      "reason": "原总指挥另有任务"})).get_json()
    assert r["command_hq"]["commander"]["id"] == second_commander.id
    assert [m["id"] for m in r["command_hq"]["members"]] == [users["commander"].id]
    assert [h["commander"]["id"] for h in r["command_hq_history"]] == [users["commander"].id, second_commander.id]
    assert r["command_hq_history"][0]["named_at"] != r["command_hq_history"][1]["named_at"]
    assert r["command_hq_history"][1]["reason"] == "原总指挥另有任务"
    # The same HQ again is no naming at all.
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                                      json={"commander": second_commander.id, "members": [users["commander"].id],
                                            "reason": "再次确认"}), 400, "no_change")
    assert [(e["commander"], e["previous_commander"]) for e in audit_of(wiring, iid, "command_hq.named")] == [
        (users["commander"].id, None), (second_commander.id, users["commander"].id)]
    assert hq_rows(wiring, iid) == 2
    assert_error(end(users["commander"], iid), 403, "not_hq_commander")
    assert ok(end(second_commander, iid)).get_json()["status"] == "ended"


def test_a_leader_may_lead_the_hq_and_the_hq_may_be_named_before_activation(users, clock):
    iid = registered(users, clock, "III")
    r = ok(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                                json={"commander": users["leader"].id})).get_json()
    assert r["status"] == "registered" and r["command_hq"]["commander"]["id"] == users["leader"].id
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate"))
    # The HQ is led by the leadership itself: no commander may end it.
    assert_error(end(users["commander"], iid), 403, "not_hq_commander")


@pytest.mark.parametrize("role", ["commander", "office", "food", "viewer", "admin", "station"])
def test_only_the_leadership_names_the_hq(users, clock, wiring, role):
    iid = active(users, clock, "III")["id"]
    r = users[role].post(f"/api/v1/incidents/{iid}/command-hq", json={"commander": users["commander"].id})
    assert r.status_code in (403, 404), r.get_json()
    if r.status_code == 403:
        assert_error(r, 403, "forbidden")
    assert hq_rows(wiring, iid) == 0 and audit_of(wiring, iid, "command_hq.named") == []


@pytest.mark.parametrize("body,code", [
    ({}, "missing_field"),
    ({"commander": "1"}, "bad_id"),
    ({"commander": 2**70}, "bad_id"),
    ({"commander": -3}, "bad_id"),
    ({"commander": True}, "bad_id"),
    ({"commander": 1.5}, "bad_id"),
    ({"commander": {"id": 1}}, "bad_id"),
    ({"commander": 999999}, "unknown_user"),
    ({"commander": "COMMANDER", "members": [[1]]}, "bad_id"),
    ({"commander": "COMMANDER", "members": "1,2"}, "bad_type"),
    ({"commander": "COMMANDER", "members": [None]}, "bad_id"),
    ({"commander": "COMMANDER", "members": [2**70]}, "bad_id"),
    ({"commander": "COMMANDER", "members": [{"id": 1}]}, "bad_id"),
    ({"commander": "COMMANDER", "members": [999999]}, "unknown_user"),
    ({"commander": "COMMANDER", "members": ["FOOD", "FOOD"]}, "duplicate_member"),
    ({"commander": "COMMANDER", "members": ["COMMANDER"]}, "commander_as_member"),
    ({"commander": "COMMANDER", "members": list(range(1, 52))}, "too_many"),
    ({"commander": "FOOD"}, "not_a_commander"),
    ({"commander": "COMMANDER", "reason": ["x"]}, "bad_type"),
])
def test_bad_hq_bodies_are_refused_in_chinese(users, clock, wiring, body, code):
    ids = {"COMMANDER": users["commander"].id, "FOOD": users["food"].id}

    def real(v):
        return ids.get(v, v) if isinstance(v, str) else [real(x) for x in v] if isinstance(v, list) else v

    body = {k: real(v) for k, v in body.items()}
    iid = active(users, clock, "III")["id"]
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq", json=body), 400, code)
    assert hq_rows(wiring, iid) == 0


def test_inactive_users_cannot_be_named(users, clock, wiring, second_commander):
    with wiring.sessions() as s:
        s.get(User, second_commander.id).active = False
        s.commit()
    iid = active(users, clock, "III")["id"]
    for body, field in (({"commander": second_commander.id}, "commander"),
                        ({"commander": users["commander"].id, "members": [second_commander.id]}, "members")):
        error = assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq", json=body), 400,
                             "inactive_user")
        assert error["field"] == field and "停用" in error["message"]


def test_a_bad_hq_on_activation_leaves_the_incident_unactivated(users, clock, wiring):
    iid = registered(users, clock, "III")
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/activate",
                                      json={"commander": users["food"].id}), 400, "not_a_commander")
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json={"members": [users["food"].id]}),
                 400, "missing_field")
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json=[1, 2]), 400, "bad_json")
    inc = ok(users["office"].get(f"/api/v1/incidents/{iid}")).get_json()
    assert inc["status"] == "registered" and inc["command_hq"] is None and inc["activated_at"] is None
    assert audit_of(wiring, iid, "incident.activated") == []
    # A commander may not slip an HQ in with an activation: the activation check comes first.
    assert_error(users["commander"].post(f"/api/v1/incidents/{iid}/activate",
                                         json={"commander": users["commander"].id}), 403, "forbidden")
    assert hq_rows(wiring, iid) == 0
    # An empty object activates without an HQ.
    assert ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json={})).get_json()["status"] == "active"


@pytest.mark.parametrize("state", ["ended", "withdrawn", "closed"])
def test_an_incident_past_its_response_gets_no_hq(users, clock, wiring, state):
    iid = active(users, clock, "III")["id"]
    if state == "ended":
        ok(end(users["leader"], iid))
    elif state == "withdrawn":
        ok(users["office"].post(f"/api/v1/incidents/{iid}/withdraw", json={"kind": "test", "reason": "演练数据"}))
    else:
        with wiring.sessions() as s:  # no route closes an incident yet: the rule still holds for the status
            s.get(Incident, iid).status = CLOSED
            s.commit()
        r = users["leader"].post(f"/api/v1/incidents/{iid}/command-hq", json={"commander": users["commander"].id})
        assert r.status_code == 409 and "指挥部" in r.get_json()["error"]["message"]
        assert hq_rows(wiring, iid) == 0
        return
    error = assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                                              json={"commander": users["commander"].id}), 409, "not_open")
    assert "指挥部" in error["message"]
    assert hq_rows(wiring, iid) == 0


def test_the_audit_trail_and_the_page_show_the_hq(users, clock, app, wiring):
    iid = active(users, clock, "III")["id"]
    leader_page = _page_as(app, users, "leader", f"/incidents/{iid}")
    assert "未指定总指挥" in leader_page and 'id="form-command_hq"' in leader_page
    assert f'data-url="/api/v1/incidents/{iid}/command-hq"' in leader_page
    # The commander sees the warning too, but no form; the end form is not offered at Ⅲ without an HQ.
    commander_page = _page_as(app, users, "commander", f"/incidents/{iid}")
    assert "未指定总指挥" in commander_page and 'id="form-command_hq"' not in commander_page
    assert 'data-levels="IV"' in commander_page

    ok(users["leader"].post(f"/api/v1/incidents/{iid}/command-hq",
                            json={"commander": users["commander"].id, "members": [users["food"].id]}))
    page = _page_as(app, users, "office", f"/incidents/{iid}")
    assert "未指定总指挥" not in page
    assert 'id="command-hq"' in page and "总指挥" in page and "commander2" in page and "duty_officer5" in page
    assert "指定专项应急指挥部" in page  # the audit timeline names the naming
    commander_page = _page_as(app, users, "commander", f"/incidents/{iid}")
    assert 'data-levels="III IV"' in commander_page
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/audit")).get_json()
    assert [e["action"] for e in r["entries"]].count("command_hq.named") == 1
