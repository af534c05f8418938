"""The security administrator's sessions and lockouts (issue 15, `manage_sessions`): list live login sessions
and end them, list lockouts and lift them, each with a reason in the audit trail, on the API, the page
/admin/sessions and `flask users`. Nobody else may; a locked unknown name is never shown."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import config as config_module
from incidents.kernel.actors import SystemActor
from incidents.models import AuditEntry, LoginLock, LoginSession, User
from incidents.people import logins
from incidents.people.users import create_user
from tests.conftest import TIME_TRAVEL
from tests.helpers import signed_in_client

GOOD = "Ying-ji 2026 good"
TESTS = SystemActor(name="tests")


@pytest.fixture
def real_limits(app):
    """The real session and lockout limits (the fixture's time travel keeps sessions alive for ever)."""
    defaults = config_module.from_environment({})
    for name in TIME_TRAVEL:
        app.config[name] = defaults[name]


@pytest.fixture
def secadmin(make_user):
    return make_user("secadmin")


@pytest.fixture
def shen(wiring, clock):
    """A leader with a browser password, login `shen`."""
    with wiring.sessions() as s:
        user, _ = create_user(s, wiring.plan, name="申局长", login="shen", role="leader", password=GOOD,
                              now=clock.now(), actor=TESTS)
        s.commit()
        return user.id


def audit(wiring, action: str) -> list[tuple[str, dict]]:
    with wiring.sessions() as s:
        return [(e.actor, json.loads(e.data)) for e in
                s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))]


def session_ids(wiring, user_id: int) -> list[int]:
    with wiring.sessions() as s:
        return list(s.scalars(select(LoginSession.id).where(LoginSession.user_id == user_id)
                              .order_by(LoginSession.id)))


def fail_login(wiring, login: str, times: int, *, address: str = "10.0.0.1", clock=None):
    rules = logins.LockoutRules()
    with wiring.sessions() as s:
        for _ in range(times):
            result = logins.attempt(s, rules, login=login, password="wrong", address=address, now=clock.now())
        s.commit()
    return result


def flood(wiring, address: str, clock, times: int = 20):
    """Fail once with each of many unknown names from one address: the address locks, no name does."""
    rules = logins.LockoutRules()
    with wiring.sessions() as s:
        for n in range(times):
            result = logins.attempt(s, rules, login=f"guess{n}", password="wrong", address=address, now=clock.now())
        s.commit()
    return result


# --- who may ----------------------------------------------------------------------------------------------


def test_only_the_security_administrator_manages_sessions_and_lockouts(app, make_user, users, shen, secadmin):
    signed_in_client(app, shen)
    ended = session_ids(app.extensions["yingji"], shen)[0]
    for role in ("sysadmin", "auditor"):
        users[role] = make_user(role)
    for name in ("admin", "sysadmin", "auditor", "leader", "office", "viewer"):
        other = users[name]
        for r in (other.get("/api/v1/sessions"), other.get("/api/v1/lockouts"),
                  other.post(f"/api/v1/sessions/{ended}/end", json={"reason": "x"}),
                  other.post(f"/api/v1/users/{shen}/sessions/end", json={"reason": "x"}),
                  other.post("/api/v1/lockouts/1/clear", json={"reason": "x"})):
            assert r.status_code == 403, (name, r.request.path)
            assert "无权管理登录会话" in r.get_json()["error"]["message"]
    # The session is untouched, and every refusal is in the trail.
    assert secadmin.get("/api/v1/sessions").get_json()["sessions"][0]["id"] == ended
    for name in ("sysadmin", "office"):
        page = signed_in_client(app, users[name].id)
        assert page.get("/admin/sessions").status_code == 403
        assert page.post(f"/admin/sessions/{ended}/end", data={"csrf_token": "t", "reason": "x"}).status_code == 403
    assert "会话与锁定" not in signed_in_client(app, users["sysadmin"].id).get("/admin/users").get_data(as_text=True)


# --- sessions ---------------------------------------------------------------------------------------------


def test_live_sessions_are_listed_with_their_expiries_never_their_keys(app, wiring, clock, real_limits, secadmin,
                                                                       make_user, shen):
    desk, phone = signed_in_client(app, shen), signed_in_client(app, shen)
    other = make_user("office", "office")
    signed_in_client(app, other.id)
    listed = secadmin.get("/api/v1/sessions").get_json()["sessions"]
    assert len(listed) == 3
    mine = [s for s in listed if s["user_id"] == shen]
    assert {(s["login"], s["role"], s["role_name"], s["address"]) for s in mine} == {("shen", "leader", "应急领导小组",
                                                                                     "127.0.0.1")}
    first = mine[0]
    assert first["started_at"] == clock.now().isoformat()
    assert first["idle_expires_at"] == (clock.now() + timedelta(minutes=30)).isoformat()
    assert first["expires_at"] == (clock.now() + timedelta(hours=12)).isoformat()
    assert first["ended_at"] is None
    body = secadmin.get("/api/v1/sessions").get_data(as_text=True)
    with wiring.sessions() as s:
        for digest in s.scalars(select(LoginSession.key_hash)):
            assert digest not in body
    for client in (desk, phone):
        with client.session_transaction() as cookie:
            assert cookie["sid"] not in body
    # One user's only.
    only = secadmin.get(f"/api/v1/sessions?user_id={shen}").get_json()["sessions"]
    assert sorted(s["id"] for s in only) == session_ids(wiring, shen)
    assert secadmin.get("/api/v1/sessions?user_id=x").status_code == 400
    # A session past its idle limit is not live any more, even before anyone used its cookie.
    clock.advance(minutes=20)
    assert desk.get("/api/v1/plan").status_code == 200
    clock.advance(minutes=11)
    assert [s["user_id"] for s in secadmin.get("/api/v1/sessions").get_json()["sessions"]] == [shen]


def test_an_ended_session_is_refused_at_its_next_request(app, wiring, secadmin, shen):
    target, other = signed_in_client(app, shen), signed_in_client(app, shen)
    assert target.get("/api/v1/plan").status_code == 200
    sid = session_ids(wiring, shen)[0]
    r = secadmin.post(f"/api/v1/sessions/{sid}/end", json={})
    assert r.status_code == 400 and "原因" in r.get_json()["error"]["message"]
    assert secadmin.post(f"/api/v1/sessions/{sid}/end", json={"reason": "   "}).status_code == 400
    r = secadmin.post(f"/api/v1/sessions/{sid}/end", json={"reason": "手机遗失，疑似被他人使用"})
    assert r.status_code == 200, r.get_json()
    ended = r.get_json()["session"]
    assert (ended["id"], ended["ended_why"], ended["ended_why_name"]) == (sid, "admin_ended", "安全管理员结束")
    # The cookie of the ended session: 401 on the API, the login page for a page.
    assert target.get("/api/v1/plan").status_code == 401
    page = target.get("/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert other.get("/api/v1/plan").status_code == 200  # the user's other session stays
    assert secadmin.post(f"/api/v1/sessions/{sid}/end", json={"reason": "再次"}).status_code == 409
    assert secadmin.post("/api/v1/sessions/999999/end", json={"reason": "x"}).status_code == 404
    [(actor, data)] = [a for a in audit(wiring, "session.ended") if a[1]["why"] == "admin_ended"]
    assert actor.startswith("secadmin:") and data == {"user_id": shen, "why": "admin_ended",
                                                       "reason": "手机遗失，疑似被他人使用"}


def test_every_session_of_a_user_ends_at_once(app, wiring, secadmin, make_user, shen):
    desk, phone = signed_in_client(app, shen), signed_in_client(app, shen)
    colleague = make_user("office", "office")
    theirs = signed_in_client(app, colleague.id)
    r = secadmin.post(f"/api/v1/users/{shen}/sessions/end", json={"reason": "离职交接"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"user_id": shen, "ended": 2, "session_ids": session_ids(wiring, shen)}
    assert desk.get("/api/v1/plan").status_code == 401 and phone.get("/api/v1/plan").status_code == 401
    assert theirs.get("/api/v1/plan").status_code == 200
    [(actor, data)] = audit(wiring, "user.sessions_ended")
    assert data == {"login": "shen", "session_ids": session_ids(wiring, shen), "count": 2, "reason": "离职交接"}
    # None left: still an audited action, ending nothing.
    again = secadmin.post(f"/api/v1/users/{shen}/sessions/end", json={"reason": "确认"})
    assert again.get_json()["ended"] == 0 and len(audit(wiring, "user.sessions_ended")) == 2
    assert secadmin.post("/api/v1/users/999999/sessions/end", json={"reason": "x"}).status_code == 404
    assert secadmin.post(f"/api/v1/users/{shen}/sessions/end", json={"reason": 7}).status_code == 400


# --- lockouts ---------------------------------------------------------------------------------------------


def test_lockouts_are_listed_without_revealing_an_unknown_name(app, wiring, clock, secadmin, shen):
    fail_login(wiring, "shen", 5, clock=clock)
    fail_login(wiring, "ghost-admin", 5, address="10.0.0.2", clock=clock)
    assert flood(wiring, "10.9.9.9", clock).locked
    r = secadmin.get("/api/v1/lockouts")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "ghost" not in body and logins.login_key("ghost-admin") not in body and "guess" not in body
    by_kind = {}
    for lock in r.get_json()["lockouts"]:
        by_kind.setdefault(lock["kind"], []).append(lock)
    known = [l for l in by_kind["account"] if l["known"]]
    unknown = [l for l in by_kind["account"] if not l["known"]]
    assert [(l["login"], l["user_id"], l["failures"]) for l in known] == [("shen", shen, 5)]
    assert known[0]["until"] == (clock.now() + timedelta(minutes=15)).isoformat()
    assert len(unknown) == 1 and all(l["login"] is None and l["user_id"] is None for l in unknown)
    assert [(l["address"], l["failures"]) for l in by_kind["address"]] == [("10.9.9.9", 20)]


def test_lifting_a_lockout_keeps_its_record_and_restarts_the_count(app, wiring, clock, secadmin, shen):
    assert fail_login(wiring, "shen", 5, clock=clock).locked
    [lock] = secadmin.get("/api/v1/lockouts").get_json()["lockouts"]
    assert secadmin.post(f"/api/v1/lockouts/{lock['id']}/clear", json={}).status_code == 400
    r = secadmin.post(f"/api/v1/lockouts/{lock['id']}/clear", json={"reason": "本人来电确认，忘记密码"})
    assert r.status_code == 200, r.get_json()
    cleared = r.get_json()["lockout"]
    assert cleared["cleared_at"] == clock.now().isoformat() and cleared["cleared_reason"] == "本人来电确认，忘记密码"
    assert cleared["cleared_by"].startswith("secadmin:")
    assert secadmin.get("/api/v1/lockouts").get_json()["lockouts"] == []
    assert secadmin.post(f"/api/v1/lockouts/{lock['id']}/clear", json={"reason": "again"}).status_code == 409
    assert secadmin.post("/api/v1/lockouts/999999/clear", json={"reason": "x"}).status_code == 404
    with wiring.sessions() as s:
        row = s.get(LoginLock, lock["id"])  # the lockout is history: the row stays, marked
        assert row.cleared_at is not None and row.cleared_by_id == secadmin.id and row.failures == 5
    # The right password works again, and one more mistake does not lock again at once.
    assert not fail_login(wiring, "shen", 1, clock=clock).locked
    with wiring.sessions() as s:
        result = logins.attempt(s, logins.LockoutRules(), login="shen", password=GOOD, address="10.0.0.1",
                                now=clock.now())
        s.commit()
    assert result.user is not None
    [(actor, data)] = audit(wiring, "user.unlocked")
    assert actor.startswith("secadmin:")
    assert data == {"kind": "account", "login": "shen", "lock_ids": [lock["id"]], "until": lock["until"],
                    "failures": 5, "reason": "本人来电确认，忘记密码"}


def test_an_address_lockout_lifted_lets_the_address_try_again(app, wiring, clock, secadmin):
    flood(wiring, "10.9.9.9", clock)
    [lock] = [l for l in secadmin.get("/api/v1/lockouts").get_json()["lockouts"] if l["kind"] == "address"]
    assert secadmin.post(f"/api/v1/lockouts/{lock['id']}/clear", json={"reason": "单位出口地址，误锁"}).status_code == 200
    # The address's count restarts when its lockout is cleared (the names' own lockouts are theirs).
    assert not fail_login(wiring, "b", 1, address="10.9.9.9", clock=clock).locked


# --- the page ---------------------------------------------------------------------------------------------


def test_the_page_lists_ends_and_lifts_with_a_reason_and_csrf(app, wiring, clock, secadmin, shen):
    target = signed_in_client(app, shen)
    fail_login(wiring, "ghost-admin", 5, clock=clock)
    page = signed_in_client(app, secadmin.id)
    r = page.get("/admin/sessions")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "登录会话与登录锁定" in html and "申局长" in html and "（本会话）" in html
    assert "2026-11-20 09:00" in html  # Beijing time
    assert "未知登录名" in html and "ghost" not in html
    sid = session_ids(wiring, shen)[0]
    assert f'id="session-{sid}"' in html
    # Filtered to one user, with the form that ends all of theirs.
    filtered = page.get(f"/admin/sessions?user_id={shen}").get_data(as_text=True)
    assert "结束该用户的全部会话" in filtered and "（本会话）" not in filtered
    # No CSRF token, no reason: nothing ends.
    assert page.post(f"/admin/sessions/{sid}/end", data={"reason": "x"}).status_code == 400
    r = page.post(f"/admin/sessions/{sid}/end", data={"csrf_token": "t", "reason": " "})
    assert r.status_code == 400 and "请填写操作原因" in r.get_data(as_text=True)
    assert target.get("/api/v1/plan").status_code == 200
    r = page.post(f"/admin/sessions/{sid}/end", data={"csrf_token": "t", "reason": "账号疑似被盗用"})
    assert r.status_code == 200 and "已结束申局长（shen）的登录会话" in r.get_data(as_text=True)
    assert target.get("/api/v1/plan").status_code == 401
    r = page.post(f"/admin/sessions/{sid}/end", data={"csrf_token": "t", "reason": "再次"})
    assert r.status_code == 409 and "已结束或已超时" in r.get_data(as_text=True)
    again = signed_in_client(app, shen)
    r = page.post(f"/admin/users/{shen}/sessions/end", data={"csrf_token": "t", "reason": "离职"})
    assert r.status_code == 200 and "共1个" in r.get_data(as_text=True)
    assert again.get("/api/v1/plan").status_code == 401
    with wiring.sessions() as s:
        lock_id = s.scalar(select(LoginLock.id))
    r = page.post(f"/admin/lockouts/{lock_id}/clear", data={"csrf_token": "t", "reason": "误锁"})
    assert r.status_code == 200 and "已解除登录名“未知登录名”的锁定" in r.get_data(as_text=True)
    assert "当前没有登录锁定" in r.get_data(as_text=True)
    # The administrator's own session was never touched.
    assert page.get("/admin/sessions").status_code == 200
    assert "会话与锁定" in page.get("/admin/users").get_data(as_text=True)


# --- flask users ------------------------------------------------------------------------------------------


def run(app, *args):
    return app.test_cli_runner().invoke(args=["users", *args])


def test_users_commands_list_end_and_unlock(app, wiring, clock, shen, make_user):
    target = signed_in_client(app, shen)
    signed_in_client(app, make_user("office", "office").id)
    listing = run(app, "sessions")
    assert listing.exit_code == 0, listing.output
    assert "2 live session(s)" in listing.output and "shen\tleader\t127.0.0.1\tstarted 2026-11-20 09:00:00" \
        in listing.output
    only = run(app, "sessions", "shen")
    assert "1 live session(s)" in only.output
    assert run(app, "sessions", "nobody").exit_code != 0
    assert run(app, "end-sessions", "shen").exit_code != 0  # --reason is required
    assert target.get("/api/v1/plan").status_code == 200
    ended = run(app, "end-sessions", "shen", "--reason", "安全检查")
    assert ended.exit_code == 0, ended.output
    assert "ended 1 session(s) of shen" in ended.output
    assert target.get("/api/v1/plan").status_code == 401
    assert audit(wiring, "user.sessions_ended")[0] == ("system:cli", {
        "login": "shen", "session_ids": session_ids(wiring, shen), "count": 1, "reason": "安全检查"})
    one = signed_in_client(app, shen)
    sid = session_ids(wiring, shen)[-1]
    assert run(app, "end-sessions", "shen", "--session", "999999", "--reason", "x").exit_code != 0
    assert run(app, "end-sessions", "shen", "--session", str(sid), "--reason", "只结束这一个").exit_code == 0
    assert one.get("/api/v1/plan").status_code == 401

    fail_login(wiring, "shen", 5, clock=clock)
    fail_login(wiring, "ghost-admin", 5, clock=clock)
    flood(wiring, "10.9.9.9", clock)
    locks = run(app, "lockouts")
    assert "3 lockout(s)" in locks.output and "shen" in locks.output and "(unknown name)" in locks.output
    assert "ghost" not in locks.output and "10.9.9.9" in locks.output
    assert run(app, "unlock", "shen").exit_code != 0  # --reason is required
    assert run(app, "unlock", "--reason", "x").exit_code != 0  # a login or an address
    assert run(app, "unlock", "shen", "--address", "10.9.9.9", "--reason", "x").exit_code != 0
    unlocked = run(app, "unlock", "shen", "--reason", "本人确认")
    assert unlocked.exit_code == 0, unlocked.output
    assert run(app, "unlock", "shen", "--reason", "again").exit_code != 0  # not locked any more
    # A name typed by whoever knows it is lifted too; the trail still does not say which.
    assert run(app, "unlock", "ghost-admin", "--reason", "测试账号").exit_code == 0
    assert run(app, "unlock", "--address", "10.9.9.9", "--reason", "单位出口").exit_code == 0
    assert "0 lockout(s)" in run(app, "lockouts").output
    unlocks = audit(wiring, "user.unlocked")
    assert [d.get("login") or d.get("address") or d.get("known") for _, d in unlocks] == ["shen", False, "10.9.9.9"]
    assert "ghost" not in json.dumps(unlocks)
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginLock).where(LoginLock.cleared_at.is_not(None))) == 3
        assert s.get(User, shen).active
