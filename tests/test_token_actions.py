"""API tokens limited to named actions (scope `actions`, 限定操作): issued only with actions of the user's
role, GET as the role, writes only through the permission checks of those actions, and no way round
the limit through a write that never asks for one (a phone, a roster, a page)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import token_actions
from incidents.kernel.actors import SystemActor
from incidents.kernel.errors import Forbidden, InvalidInput
from incidents.models import ApiToken, AuditEntry, Incident, Shift, User
from incidents.people import permissions, tokens
from tests.helpers import incident_payload, iso, signed_in_client
from tests.test_tokens import SENT_SMS, recording_sms  # noqa: F401  (the fixture)

TESTS = SystemActor(name="tests")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def issue(wiring, user_id: int, actions: list[str], name: str = "client") -> tuple[int, str]:
    with wiring.sessions() as session:
        row, secret = tokens.issue(session, session.get(User, user_id), name=name, scope=tokens.ACTIONS,
                                   actions=actions, now=wiring.clock.now(), actor=TESTS)
        session.commit()
        return row.id, secret


def audit_actions(wiring) -> list[tuple[str, dict]]:
    with wiring.sessions() as session:
        return [(e.action, json.loads(e.data)) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def count(wiring, model) -> int:
    with wiring.sessions() as session:
        return len(session.scalars(select(model)).all())


def error(r) -> dict:
    return r.get_json()["error"]


# --- issuing --------------------------------------------------------------------------------------


def test_issued_with_actions_of_the_role_listed_and_audited(app, wiring, make_user):
    secadmin, station = make_user("secadmin"), make_user("station", "chengguan")
    r = secadmin.post(f"/api/v1/users/{station.id}/tokens",
                      json={"name": "所报送客户端", "scope": "actions", "actions": ["report:initial", "register"]})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    # Kept once each, in the order of the permissions table.
    assert (token["scope"], token["scope_name"]) == ("actions", "限定操作")
    assert token["actions"] == ["register", "report:initial"]
    assert token["action_names"] == ["登记事件", "报送事发地初报"]
    listed = {u["id"]: u for u in secadmin.get("/api/v1/users").get_json()["users"]}[station.id]["tokens"]
    assert [t["actions"] for t in listed if t["name"] == "所报送客户端"] == [["register", "report:initial"]]
    assert [t["actions"] for t in listed if t["name"] == "default"] == [None]
    issued = [d for a, d in audit_actions(wiring) if a == "token.issued"]
    assert issued[-1]["scope"] == "actions" and issued[-1]["actions"] == ["register", "report:initial"]

    # Actions without a scope make an actions token.
    r = secadmin.post(f"/api/v1/users/{station.id}/tokens", json={"name": "只报初报", "actions": ["report:initial"]})
    assert r.status_code == 201 and r.get_json()["token"]["scope"] == "actions"


@pytest.mark.parametrize("body, code", [
    ({"scope": "actions"}, "missing_actions"),
    ({"scope": "actions", "actions": []}, "missing_actions"),
    ({"scope": "actions", "actions": "report:initial"}, "bad_actions"),
    ({"scope": "actions", "actions": [1]}, "bad_actions"),
    ({"scope": "actions", "actions": ["report:initial", "fly"]}, "unknown_action"),
    ({"scope": "actions", "actions": ["report:initial", "grade"]}, "action_not_in_role"),
    ({"scope": "write", "actions": ["report:initial"]}, "actions_need_scope"),
])
def test_issuing_refuses_actions_that_are_missing_unknown_or_not_of_the_role(app, wiring, make_user, body, code):
    secadmin, station = make_user("secadmin"), make_user("station", "chengguan")
    r = secadmin.post(f"/api/v1/users/{station.id}/tokens", json={"name": "x", **body})
    assert r.status_code == 400, r.get_json()
    assert error(r)["code"] == code and error(r)["message"] and error(r)["message_en"]
    with wiring.sessions() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.name == "x")) is None


def test_refusals_name_what_is_wrong_in_chinese_and_english(app, wiring, make_user):
    station = make_user("station", "chengguan")
    with wiring.sessions() as session:
        user = session.get(User, station.id)
        with pytest.raises(InvalidInput) as caught:
            tokens.issue(session, user, name="x", scope="actions", actions=["grade"], now=wiring.clock.now(),
                         actor=TESTS)
        assert "定级" in caught.value.message_zh and "grade" in caught.value.message_en
        with pytest.raises(InvalidInput) as caught:
            tokens.issue(session, user, name="x", scope="actions", actions=[], now=wiring.clock.now(), actor=TESTS)
        assert "至少" in caught.value.message_zh


def test_rotation_keeps_the_actions(app, wiring, make_user):
    secadmin, office = make_user("secadmin"), make_user("office", "office")
    token_id, old = issue(wiring, office.id, ["register", "deliver"])
    r = secadmin.post(f"/api/v1/tokens/{token_id}/rotate")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["token"]["scope"] == "actions" and r.get_json()["token"]["actions"] == ["register", "deliver"]
    new = r.get_json()["secret"]
    client = app.test_client()
    assert client.post("/api/v1/incidents", json=incident_payload(), headers=bearer(old)).status_code == 401
    assert client.post("/api/v1/incidents", json=incident_payload(), headers=bearer(new)).status_code == 201
    issued = [d for a, d in audit_actions(wiring) if a == "token.issued"]
    assert issued[-1]["actions"] == ["register", "deliver"]


# --- what such a token may do ---------------------------------------------------------------------


def test_a_station_client_files_its_initial_report_and_nothing_else(app, wiring, make_user, users, clock):
    station = make_user("station", "chengguan")
    _, secret = issue(wiring, station.id, ["report:initial"])
    client = app.test_client()
    # The incident is registered by the station's person (the default write token).
    r = station.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    # GET as the role: the list, the incident, even a read that checks another action.
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    assert client.get(f"/api/v1/incidents/{iid}", headers=bearer(secret)).status_code == 200
    assert client.get("/api/v1/accountability", headers=bearer(secret)).status_code == 200
    # Registering is not one of its actions: refused before anything is done.
    r = client.post("/api/v1/incidents", json=incident_payload(), headers=bearer(secret))
    assert r.status_code == 403 and error(r)["code"] == "token_action"
    assert "报送事发地初报" in error(r)["message"] and "report:initial" in error(r)["message_en"]
    assert count(wiring, Incident) == 1
    # Its one action works.
    r = client.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "body": "初报"},
                    headers=bearer(secret))
    assert r.status_code == 201, r.get_json()
    # The refusal is audited with the token that was refused.
    denied = [d for a, d in audit_actions(wiring) if a == "user.forbidden"]
    assert denied and denied[0]["code"] == "token_action" and denied[0]["token_id"]


def test_the_permission_check_refuses_an_action_not_named(app, wiring, users, clock):
    office = users["office"]
    _, secret = issue(wiring, office.id, ["register", "report:initial"])
    client = app.test_client()
    # Registering with a level is grading too: refused inside the check, nothing is kept.
    r = client.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level="IV",
                                                               level_reason="一般"), headers=bearer(secret))
    assert r.status_code == 403 and error(r)["code"] == "token_action", r.get_json()
    assert "定级" in error(r)["message"]
    assert count(wiring, Incident) == 0
    r = client.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())), headers=bearer(secret))
    assert r.status_code == 201
    iid = r.get_json()["id"]
    # The report route takes every kind; a progress report is refused by the check, an initial one passes.
    r = client.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "progress", "body": "续报"},
                    headers=bearer(secret))
    assert r.status_code == 403 and error(r)["code"] == "token_action"
    r = client.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "body": "初报"},
                    headers=bearer(secret))
    assert r.status_code == 201, r.get_json()
    # The role still bounds it: the office's own write token grades.
    assert office.post(f"/api/v1/incidents/{iid}/level", json={"level": "IV", "reason": "一般"}).status_code == 200
    assert client.post(f"/api/v1/incidents/{iid}/level", json={"level": "III", "reason": "升级"},
                       headers=bearer(secret)).status_code == 403


def test_an_action_token_never_ends_an_emergency(app, wiring, make_user):
    leader = make_user("leader")
    with wiring.sessions() as session:
        user = session.get(User, leader.id)
        permissions.limit_to(user, {"activate"})
        with pytest.raises(Forbidden) as caught:
            permissions.require(user, "grade")
        assert caught.value.code == "token_action"
        permissions.require(user, "activate")  # named and of the role
        refusal = permissions.end_refusal(user, wiring.plan.level("I"), None)
        assert refusal is not None and refusal.code == "token_action"


# --- no way round the limit -----------------------------------------------------------------------


def test_writes_that_check_no_action_refuse_an_action_token(app, wiring, make_user, users, clock, recording_sms):
    office = users["office"]
    head = make_user("department_head", "food_coord", "+8613800000111")
    _, secret = issue(wiring, office.id, ["register", "deliver", "report:initial"])
    client = app.test_client()
    start = clock.now()
    shift = {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=8)), "phone": "+8613900000000",
             "officer_name": "张三"}
    r = office.post("/api/v1/departments/food_coord/shifts", json=shift)
    assert r.status_code == 201, r.get_json()
    shift_id = r.get_json()["id"]
    refused = [
        ("post", f"/api/v1/users/{head.id}/phone", {"phone": "+8613999999999"}),
        ("post", "/api/v1/departments/food_coord/shifts", shift),
        ("post", f"/api/v1/shifts/{shift_id}/handover", {"reason": "病假", "substitute_name": "李四",
                                                         "phone": "+8613900000001"}),
        ("put", f"/api/v1/calendar/{start.year + 1}", {"holidays": []}),
        ("post", f"/api/v1/users/{head.id}/tokens", {"name": "x"}),
        ("post", "/api/v1/escalations/1/ack", {}),
        ("post", "/api/v1/assignments/1/ack", {}),
    ]
    for method, url, body in refused:
        r = getattr(client, method)(url, json=body, headers=bearer(secret))
        assert r.status_code == 403, (url, r.status_code, r.get_json())
        assert error(r)["code"] == "token_action", url
    with wiring.sessions() as session:
        assert session.get(User, head.id).phone == "+8613800000111"
        assert len(session.scalars(select(Shift)).all()) == 1
    assert recording_sms == []
    # The browser-only writes take no token at all: the password and the second factor stay as they were.
    with wiring.sessions() as session:
        before = session.get(User, office.id).password_hash
    r = client.post("/password", data={"current_password": "x", "new_password": "Zq8-lamp-Rx7!horse",
                                       "confirm_password": "Zq8-lamp-Rx7!horse"}, headers=bearer(secret))
    assert r.status_code in (302, 400, 403)
    assert client.post("/account/two-factor", data={}, headers=bearer(secret)).status_code in (302, 400, 403)
    with wiring.sessions() as session:
        assert session.get(User, office.id).password_hash == before


def test_a_page_post_with_a_limited_or_read_token_is_refused_even_with_a_session_cookie(app, wiring, make_user,
                                                                                          users):
    secadmin, leader = make_user("secadmin"), users["leader"]
    _, limited = issue(wiring, secadmin.id, ["manage_tokens"])
    with wiring.sessions() as session:
        _, read = tokens.issue(session, session.get(User, secadmin.id), name="read", scope="read",
                               now=wiring.clock.now(), actor=TESTS)
        session.commit()
    # Someone's own session (and its CSRF token) next to another credential's bearer header.
    page = signed_in_client(app, users["viewer"].id)
    for secret in (limited, read):
        r = page.post(f"/admin/users/{leader.id}/tokens", data={"name": "x", "scope": "write", "csrf_token": "t"},
                      headers=bearer(secret))
        assert r.status_code == 403
    with wiring.sessions() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.name == "x")) is None
    # On the API, the same limited token manages tokens: that is its action.
    r = app.test_client().post(f"/api/v1/users/{leader.id}/tokens", json={"name": "y"}, headers=bearer(limited))
    assert r.status_code == 201, r.get_json()


# Routes that take no credential of a user (public forms, provider webhooks, another bureau's signed
# requests, the login itself) or only a browser session (password, second factor, logout): a token has
# nothing to do there.
NOT_TOKEN_ROUTES = {"api.create_complaint", "api.send_verification_code", "auth.login", "auth.logout",
                    "auth.change_password", "api.inbox_report", "api.inbox_receipt"}
NOT_TOKEN_PREFIXES = ("intake.", "hooks.", "two_factor.")


def test_every_write_route_but_the_marked_ones_refuses_an_action_token(app, wiring, users):
    """Walk the whole URL map: a write route not marked with actions of the token answers 403 token_action."""
    _, secret = issue(wiring, users["office"].id, ["register"])
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_TOKEN_ROUTES or rule.endpoint.startswith(NOT_TOKEN_PREFIXES):
            continue
        view = app.view_functions[rule.endpoint]
        if "register" in getattr(view, "token_actions", ()):
            continue  # registering is this token's action
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            values = {a: 1 if hasattr(rule._converters[a], "num_convert") else "food_coord" for a in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            r = client.open(url, method=method, json={}, headers=bearer(secret))
            assert r.status_code == 403, (rule.rule, method, r.status_code)
            if url.startswith("/api/"):
                assert error(r)["code"] == "token_action", (rule.rule, method)
            checked += 1
    assert checked > 40
    assert count(wiring, Incident) == 0


def test_a_route_is_marked_with_real_actions_only():
    with pytest.raises(ValueError):
        token_actions("fly")
    with pytest.raises(ValueError):
        token_actions()


# --- the admin page and `flask users` -------------------------------------------------------------


def test_the_admin_page_offers_the_roles_actions_and_issues_a_limited_token(app, wiring, make_user):
    secadmin, station = make_user("secadmin"), make_user("station", "chengguan")
    page = signed_in_client(app, secadmin.id)
    html = page.get("/admin/users").get_data(as_text=True)
    row = html.split(f'<tr id="user-{station.id}"')[1].split('<tr id="user-')[0]
    assert '<option value="actions">限定操作</option>' in row
    assert 'value="report:initial"> 报送事发地初报' in row and 'value="grade"' not in row
    r = page.post(f"/admin/users/{station.id}/tokens", data={"name": "所报送客户端", "scope": "actions",
                                                           "actions": ["report:initial"], "csrf_token": "t"})
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    secret = html.split('<code id="token-secret">')[1].split("</code>")[0]
    listed = html.split(f'id="user-{station.id}"')[1]
    assert "限定操作" in listed and "<li>报送事发地初报</li>" in listed
    with wiring.sessions() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "所报送客户端"))
        assert (row.scope, row.actions) == ("actions", ["report:initial"])
    r = app.test_client().post("/api/v1/incidents", json=incident_payload(), headers=bearer(secret))
    assert r.status_code == 403 and error(r)["code"] == "token_action"
    # No action ticked, or one of another role: refused, nothing issued.
    for actions, why in (([], "限定操作令牌须至少指定一项操作"), (["grade"], "的角色不能执行：定级")):
        r = page.post(f"/admin/users/{station.id}/tokens", data={"name": "空", "scope": "actions",
                                                               "actions": actions, "csrf_token": "t"})
        assert r.status_code == 400 and why in r.get_data(as_text=True)
    with wiring.sessions() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.name == "空")) is None


def run(app, *args):
    return app.test_cli_runner().invoke(args=["users", *args])


def test_flask_users_issues_lists_and_rotates_a_limited_token(app, wiring, make_user, clock):
    station = make_user("station", "chengguan")
    with wiring.sessions() as session:
        login = session.get(User, station.id).login
    result = run(app, "create-token", login, "--name", "reporter", "--action", "report:initial",
                 "--action", "register")
    assert result.exit_code == 0, result.output
    assert "(actions limited to register, report:initial)" in result.output
    secret = result.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    assert client.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())),
                       headers=bearer(secret)).status_code == 201
    listing = run(app, "list").output
    assert "reporter\tactions\tlive" in listing and "actions register,report:initial" in listing
    with wiring.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "reporter"))
    assert run(app, "rotate-token", str(token_id)).exit_code == 0
    with wiring.sessions() as session:
        live = session.scalar(select(ApiToken).where(ApiToken.name == "reporter", ApiToken.revoked_at.is_(None)))
        assert (live.scope, live.actions) == ("actions", ["register", "report:initial"])

    refused = run(app, "create-token", login, "--name", "x", "--action", "grade")
    assert refused.exit_code != 0 and "grade" in refused.output and "定级" in refused.output
    assert run(app, "create-token", login, "--name", "x", "--scope", "actions").exit_code != 0
    assert run(app, "create-token", login, "--name", "x", "--scope", "write", "--action", "register").exit_code != 0
    with wiring.sessions() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.name == "x")) is None
