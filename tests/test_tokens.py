"""API tokens (several per user, read or write, expiring, revocable, last use), the three administrators
(三权分立), `flask users` and the admin page, and alert phones changed only by the office or the unit's head."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from incidents.kernel.actors import SystemActor
from incidents.models import ApiToken, AuditEntry, User
from incidents.people import tokens
from notifiers.base import SENT, SMS, Message, SendResult
from tests.helpers import incident_payload, iso, signed_in_client

TESTS = SystemActor(name="tests")
SENT_SMS: list[Message] = []


class RecordingSms:
    """An SMS sender that keeps what it was given (SMS_BACKEND = tests.test_tokens:RecordingSms)."""

    provider, kind = "recording", SMS

    def __init__(self, settings=None) -> None:
        pass

    def send(self, message: Message) -> SendResult:
        SENT_SMS.append(message)
        return SendResult(provider=self.provider, status=SENT, provider_id=f"rec-{len(SENT_SMS)}")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def issue(wiring, user_id: int, *, scope: str, days: int | None = None, name: str = "script") -> tuple[int, str]:
    with wiring.sessions() as session:
        row, secret = tokens.issue(session, session.get(User, user_id), name=name, scope=scope, days=days,
                                   now=wiring.clock.now(), actor=TESTS)
        session.commit()
        return row.id, secret


def token_row(wiring, token_id: int) -> ApiToken:
    with wiring.sessions() as session:
        row = session.get(ApiToken, token_id)
        session.expunge(row)
        return row


def audit_actions(wiring) -> list[tuple[str, dict]]:
    with wiring.sessions() as session:
        return [(e.action, json.loads(e.data)) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


# --- tokens on the API ---------------------------------------------------------------------------


def test_a_read_token_reads_but_every_write_is_refused_with_403(app, wiring, make_user, clock):
    office = make_user("office", "office")
    _, read = issue(wiring, office.id, scope="read")
    client = app.test_client()
    assert client.get("/api/v1/incidents", headers=bearer(read)).status_code == 200
    payload = incident_payload(discovered_at=iso(clock.now()))
    r = client.post("/api/v1/incidents", json=payload, headers=bearer(read))
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "token_read_only"
    assert "只读" in r.get_json()["error"]["message"]
    for method in (client.put, client.patch, client.delete):
        assert method("/api/v1/incidents", headers=bearer(read)).status_code in (403, 405)
    with wiring.sessions() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "incident.registered")) is None
    # The same user's write token (the default one) registers.
    assert client.post("/api/v1/incidents", json=payload, headers=bearer(office.token)).status_code == 201


def test_expired_and_revoked_tokens_answer_401(app, wiring, make_user, clock):
    viewer = make_user("viewer")
    expiring_id, expiring = issue(wiring, viewer.id, scope="read", days=1)
    revoked_id, revoked = issue(wiring, viewer.id, scope="write")
    client = app.test_client()
    assert client.get("/api/v1/plan", headers=bearer(expiring)).status_code == 200
    with wiring.sessions() as session:
        tokens.revoke(session, revoked_id, now=clock.now(), actor=TESTS)
        session.commit()
    r = client.get("/api/v1/plan", headers=bearer(revoked))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "token_revoked"

    clock.advance(hours=24)
    r = client.get("/api/v1/plan", headers=bearer(expiring))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "token_expired"
    assert client.get("/api/v1/plan", headers=bearer(viewer.token)).status_code == 200  # the others still work
    assert client.get("/api/v1/plan", headers=bearer(viewer.token + "x")).get_json()["error"]["code"] == "unauthorised"


def test_last_use_is_written_at_most_once_a_minute(app, wiring, make_user, clock):
    viewer = make_user("viewer")
    token_id, secret = issue(wiring, viewer.id, scope="read")
    client = app.test_client()
    assert token_row(wiring, token_id).last_used_at is None
    first = clock.now()
    client.get("/api/v1/plan", headers=bearer(secret))
    assert token_row(wiring, token_id).last_used_at == first
    clock.advance(seconds=59)
    client.get("/api/v1/plan", headers=bearer(secret))
    assert token_row(wiring, token_id).last_used_at == first
    clock.advance(seconds=1)
    client.get("/api/v1/plan", headers=bearer(secret))
    assert token_row(wiring, token_id).last_used_at == first + timedelta(minutes=1)


def test_rotation_revokes_the_old_secret_and_keeps_name_scope_and_lifetime(app, wiring, make_user, clock):
    secadmin, viewer = make_user("secadmin"), make_user("viewer")
    token_id, old = issue(wiring, viewer.id, scope="read", days=30, name="周报脚本")
    clock.advance(days=2)
    r = secadmin.post(f"/api/v1/tokens/{token_id}/rotate")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    new = body["secret"]
    assert body["replaces"] == token_id and body["token"]["id"] != token_id
    assert (body["token"]["name"], body["token"]["scope"]) == ("周报脚本", "read")
    assert body["token"]["expires_at"] == iso(clock.now() + timedelta(days=30))
    client = app.test_client()
    assert client.get("/api/v1/plan", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/plan", headers=bearer(new)).status_code == 200
    with wiring.sessions() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.token_hash == new)) is None  # stored hashed
    assert ("token.rotated", {"token_id": token_id, "new_token_id": body["token"]["id"]}) in audit_actions(wiring)


def test_the_security_administrator_issues_lists_and_revokes_tokens(app, wiring, make_user):
    secadmin, leader = make_user("secadmin"), make_user("leader")
    r = secadmin.post(f"/api/v1/users/{leader.id}/tokens", json={"name": "大屏", "scope": "read", "days": 7})
    assert r.status_code == 201, r.get_json()
    issued = r.get_json()
    assert issued["token"]["scope"] == "read" and issued["secret"].startswith("yj_")
    listed = {u["id"]: u for u in secadmin.get("/api/v1/users").get_json()["users"]}
    names = [t["name"] for t in listed[leader.id]["tokens"]]
    assert sorted(names) == ["default", "大屏"]
    assert issued["secret"] not in json.dumps(listed)
    r = secadmin.post(f"/api/v1/tokens/{issued['token']['id']}/revoke")
    assert r.status_code == 200 and r.get_json()["token"]["status"] == "revoked"
    assert app.test_client().get("/api/v1/plan", headers=bearer(issued["secret"])).status_code == 401
    for bad in ({"name": "x", "scope": "admin"}, {"name": ""}, {"name": "x", "days": 0}, {"name": "x", "days": "7"},
                {"name": "x" * 81}, {"name": "x", "days": 10**9}):
        assert secadmin.post(f"/api/v1/users/{leader.id}/tokens", json=bad).status_code == 400, bad
    assert secadmin.post("/api/v1/users/999999/tokens", json={"name": "x"}).status_code == 404
    assert secadmin.post("/api/v1/tokens/999999/revoke").status_code == 404


# --- the three administrators -------------------------------------------------------------------


def test_three_administrators_are_separated(app, wiring, make_user, users, clock):
    sysadmin, secadmin, auditor = make_user("sysadmin"), make_user("secadmin"), make_user("auditor")
    leader = users["leader"]
    # The system administrator keeps the accounts, not their keys.
    assert sysadmin.get("/api/v1/users").status_code == 200
    assert sysadmin.post(f"/api/v1/users/{leader.id}/tokens", json={"name": "x"}).status_code == 403
    # The security administrator keeps the keys, not the accounts.
    assert secadmin.post(f"/api/v1/users/{leader.id}/deactivate").status_code == 403
    # The audit administrator neither.
    assert auditor.get("/api/v1/users").status_code == 403
    assert auditor.post(f"/api/v1/users/{leader.id}/tokens", json={"name": "x"}).status_code == 403
    # None of them runs or sees incidents.
    created = users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    incident_id = created.get_json()["id"]
    for admin in (sysadmin, secadmin, auditor):
        assert admin.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()))).status_code == 403
        assert admin.get(f"/api/v1/incidents/{incident_id}").status_code in (403, 404)
        assert admin.get("/api/v1/incidents").get_json()["incidents"] == []
    # Business roles do not administer.
    for role in ("leader", "office", "viewer"):
        assert users[role].get("/api/v1/users").status_code == 403
    denied = [d for a, d in audit_actions(wiring) if a == "user.forbidden"]
    assert any(d["path"] == f"/api/v1/users/{leader.id}/tokens" for d in denied)


def test_deactivation_ends_tokens_and_the_legacy_admin_acts_as_system_administrator(app, wiring, users):
    admin, food = users["admin"], users["food"]
    _, extra = issue(wiring, food.id, scope="read")
    assert admin.get("/api/v1/users").status_code == 200
    assert admin.post(f"/api/v1/users/{admin.id}/deactivate").status_code == 400  # not oneself
    r = admin.post(f"/api/v1/users/{food.id}/deactivate")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["active"] is False
    assert {t["status"] for t in r.get_json()["tokens"]} == {"revoked"}
    for secret in (food.token, extra):
        assert app.test_client().get("/api/v1/plan", headers=bearer(secret)).status_code == 401
    # `admin` is kept with the system administrator's rights only: no keys.
    assert admin.post(f"/api/v1/users/{food.id}/tokens", json={"name": "x"}).status_code == 403


# --- alert phones -------------------------------------------------------------------------------


@pytest.fixture
def recording_sms(app):
    app.config["SMS_BACKEND"] = "tests.test_tokens:RecordingSms"
    SENT_SMS.clear()
    yield SENT_SMS
    SENT_SMS.clear()


def test_only_the_office_or_the_units_head_changes_an_alert_phone(app, wiring, make_user, users, recording_sms):
    head = make_user("department_head", "food_coord", "+8613800000111")
    other_head = make_user("department_head", "prices", "+8613800000222")
    for refused in (users["admin"], make_user("sysadmin"), users["leader"], users["prices"], other_head,
                    users["food"]):
        r = refused.post(f"/api/v1/users/{head.id}/phone", json={"phone": "+8613999999999"})
        assert r.status_code == 403, refused.role
    assert recording_sms == []
    with wiring.sessions() as session:
        assert session.get(User, head.id).phone == "+8613800000111"

    r = users["office"].post(f"/api/v1/users/{head.id}/phone", json={"phone": "+8613800000333"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"id": head.id, "phone_masked": "+86138****0333", "changed": True, "old_phone_told": True}
    assert [m.to for m in recording_sms] == ["+8613800000111"]
    assert "告警电话已改为其他号码" in recording_sms[0].text
    with wiring.sessions() as session:
        assert session.get(User, head.id).phone == "+8613800000333"
    changed = [d for a, d in audit_actions(wiring) if a == "user.phone_changed"]
    assert changed == [{"old": "+86138****0111", "new": "+86138****0333"}]
    assert ("user.phone_change_notified", {"to": "+86138****0111", "sent": True}) in audit_actions(wiring)

    # The head of the officer's own unit may change the officer's phone.
    r = head.post(f"/api/v1/users/{users['food'].id}/phone", json={"phone": "+8613800000444"})
    assert r.status_code == 200 and r.get_json()["old_phone_told"] is True
    assert recording_sms[-1].to == "+8613800000001"
    assert head.post(f"/api/v1/users/{users['food'].id}/phone", json={"phone": "138"}).status_code == 400
    assert head.post(f"/api/v1/users/{users['food'].id}/phone", json={}).status_code == 400


def test_the_system_administrator_no_longer_edits_rosters(app, users, clock):
    start = clock.now() + timedelta(hours=1)
    shift = {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=8)), "phone": "+8613999999999"}
    assert users["admin"].post("/api/v1/departments/food_coord/shifts", json=shift).status_code == 403
    assert users["office"].post("/api/v1/departments/food_coord/shifts", json=shift).status_code == 201


# --- flask users ----------------------------------------------------------------------------------


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


def test_users_commands_list_issue_rotate_revoke_and_deactivate(app, wiring, make_user):
    viewer = make_user("viewer")
    login = f"viewer{viewer.id}"
    with wiring.sessions() as session:
        login = session.get(User, viewer.id).login
    result = run(app, "create-token", login, "--name", "cron", "--scope", "read", "--days", "30")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/v1/plan", headers=bearer(secret)).status_code == 200
    assert client.post("/api/v1/incidents", json={}, headers=bearer(secret)).status_code == 403

    listing = run(app, "list")
    assert listing.exit_code == 0 and login in listing.output and "cron\tread\tlive" in listing.output
    assert secret not in listing.output

    with wiring.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "cron"))
    rotated = run(app, "rotate-token", str(token_id))
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.strip().splitlines()[-1]
    assert client.get("/api/v1/plan", headers=bearer(secret)).status_code == 401
    assert client.get("/api/v1/plan", headers=bearer(new)).status_code == 200

    with wiring.sessions() as session:
        new_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "cron", ApiToken.revoked_at.is_(None)))
    assert run(app, "revoke-token", str(new_id)).exit_code == 0
    assert client.get("/api/v1/plan", headers=bearer(new)).status_code == 401

    assert client.get("/api/v1/plan", headers=bearer(viewer.token)).status_code == 200
    assert run(app, "deactivate", login).exit_code == 0
    assert client.get("/api/v1/plan", headers=bearer(viewer.token)).status_code == 401
    assert login not in run(app, "list").output
    assert "deactivated" in run(app, "list", "--all").output

    assert run(app, "deactivate", "nobody").exit_code != 0
    assert run(app, "revoke-token", "999999").exit_code != 0
    assert run(app, "create-token", login, "--name", "x", "--days", "0").exit_code != 0


def test_users_create_without_a_token(app, wiring):
    result = run(app, "create", "--name", "浏览器用户", "--role", "leader", "--no-token", "--password-stdin",
                 input="Zq8-lamp-Rx7!horse\n")
    assert result.exit_code == 0, result.output
    assert "yj_" not in result.output
    with wiring.sessions() as session:
        user = session.scalar(select(User).where(User.login == "浏览器用户"))
        assert session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []


# --- the admin page -------------------------------------------------------------------------------


def test_admin_page_shows_a_new_secret_once_and_follows_the_separation(app, wiring, make_user, users):
    secadmin, sysadmin = make_user("secadmin"), make_user("sysadmin")
    leader = users["leader"]
    page = signed_in_client(app, secadmin.id)
    r = page.get("/admin/users")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "用户与API令牌" in html and "签发新令牌" in html and "停用</button>" not in html
    r = page.post(f"/admin/users/{leader.id}/tokens", data={"name": "值班大屏", "scope": "read", "days": "7",
                                                          "csrf_token": "t"})
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    assert "只显示这一次" in html
    secret = html.split('<code id="token-secret">')[1].split("</code>")[0]
    assert app.test_client().get("/api/v1/plan", headers=bearer(secret)).status_code == 200
    assert secret not in page.get("/admin/users").get_data(as_text=True)
    # Without the CSRF token nothing is issued.
    assert page.post(f"/admin/users/{leader.id}/tokens", data={"name": "x", "scope": "read"}).status_code == 400
    with wiring.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "值班大屏"))
    assert page.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": "t"}).status_code == 302
    assert app.test_client().get("/api/v1/plan", headers=bearer(secret)).status_code == 401
    assert page.post(f"/admin/users/{leader.id}/deactivate", data={"csrf_token": "t"}).status_code == 403

    sys_page = signed_in_client(app, sysadmin.id)
    html = sys_page.get("/admin/users").get_data(as_text=True)
    assert "停用</button>" in html and "签发新令牌" not in html
    assert sys_page.post(f"/admin/users/{leader.id}/deactivate", data={"csrf_token": "t"}).status_code == 302
    assert app.test_client().get("/api/v1/plan", headers=bearer(leader.token)).status_code == 401

    for role in ("office", "viewer"):
        assert signed_in_client(app, users[role].id).get("/admin/users").status_code == 403


# --- the audit administrator ----------------------------------------------------------------------


def test_only_the_audit_administrator_reads_the_whole_trail_and_its_verification(app, wiring, make_user, users):
    auditor = make_user("auditor")
    r = auditor.get("/api/v1/audit?limit=2")
    assert r.status_code == 200, r.get_json()
    first = r.get_json()
    assert [e["seq"] for e in first["entries"]] == [1, 2] and first["next_after"] == 2
    rest = auditor.get("/api/v1/audit?after=2").get_json()
    assert rest["entries"][0]["seq"] == 3 and rest["next_after"] is None
    assert any(e["action"] == "user.created" for e in rest["entries"])
    r = auditor.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.get_json()["intact"] is True and r.get_json()["problems"] == []
    assert auditor.get("/api/v1/audit?limit=0").status_code == 400
    assert auditor.get("/api/v1/audit?limit=x").status_code == 400
    for role in ("admin", "leader", "office"):
        assert users[role].get("/api/v1/audit").status_code == 403
        assert users[role].get("/api/v1/audit/verify").status_code == 403
    for other in (make_user("sysadmin"), make_user("secadmin")):
        assert other.get("/api/v1/audit").status_code == 403
