"""The login door (issue 15 items 2, 3, 6): lockout and back-off counted in the database, constant-time
unknown names, the password policy, server-side sessions that logout and timeouts really end, the
`next` check, and security events in the audit trail."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from app import config, create_app
from app.auth import session_user_id
from incidents.kernel.actors import SystemActor
from incidents.kernel.errors import InvalidInput
from incidents.models import AuditEntry, LoginSession, User
from incidents.people import login_sessions, passwords
from incidents.people.passwords import PasswordRules, check_strength
from incidents.people.users import create_user
from tests.conftest import TIME_TRAVEL

GOOD = "Ying-ji 2026 good"  # 17 characters, 4 classes
OTHER = "Another-pass 77"
CSRF = "csrf-test-token"


def post_login(client, login: str, password: str, next_url: str | None = None):
    with client.session_transaction() as s:
        s["csrf"] = CSRF
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"login": login, "password": password, "csrf_token": CSRF})


def csrf_of(client) -> str:
    with client.session_transaction() as s:
        return s["csrf"]


@pytest.fixture
def person(app, wiring, clock):
    """A leader with a browser password, created programmatically (no forced change); the real limits."""
    defaults = config.from_environment({})
    for name in TIME_TRAVEL:
        app.config[name] = defaults[name]
    with wiring.sessions() as s:
        user, _ = create_user(s, wiring.plan, name="申局长", login="shen", role="leader", password=GOOD,
                              now=clock.now(), actor=SystemActor(name="tests"))
        s.commit()
        return user.id


def signed_in(app, login="shen", password=GOOD):
    client = app.test_client()
    r = post_login(client, login, password)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def audit_actions(wiring, action: str) -> list[AuditEntry]:
    with wiring.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


# --- lockout and back-off ----------------------------------------------------------------------


def test_sixty_wrong_passwords_then_the_right_one_is_refused(app, person, clock):
    client = app.test_client()
    statuses = [post_login(client, "shen", f"wrong-{i}").status_code for i in range(60)]
    assert statuses[:4] == [401] * 4
    assert set(statuses[4:]) == {429}  # the fifth failure locks the name
    r = post_login(client, "shen", GOOD)
    assert r.status_code == 429
    page = r.get_data(as_text=True)
    assert "登录名或密码错误" in page and "分钟后再试" in page
    assert int(r.headers["Retry-After"]) > 0
    with client.session_transaction() as s:
        assert "user_id" not in s and "sid" not in s
    assert client.get("/api/v1/plan").status_code == 401
    # The lock ends by itself.
    clock.advance(minutes=16)
    assert post_login(client, "shen", GOOD).status_code == 302
    assert client.get("/api/v1/plan").status_code == 200


def test_a_repeated_lockout_lasts_twice_as_long(app, person, clock):
    client = app.test_client()
    for _ in range(5):
        post_login(client, "shen", "wrong")
    clock.advance(minutes=16)
    for _ in range(5):
        post_login(client, "shen", "wrong")
    clock.advance(minutes=29)
    assert post_login(client, "shen", GOOD).status_code == 429  # 30 minutes this time
    clock.advance(minutes=2)
    assert post_login(client, "shen", GOOD).status_code == 302


def test_an_unknown_name_locks_and_answers_exactly_like_a_known_one(app, person):
    answers = {}
    for name in ("shen", "nobody"):
        client = app.test_client()
        got = [post_login(client, name, "wrong") for _ in range(6)]
        answers[name] = [(r.status_code, r.get_data(as_text=True).replace(name, "NAME"),
                          r.headers.get("Retry-After")) for r in got]
    assert answers["shen"] == answers["nobody"]
    assert answers["shen"][-1][0] == 429


def test_one_address_is_limited_across_login_names(app, person, clock, make_user):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for i in range(20):
        assert post_login(attacker, f"guess{i}", "wrong").status_code in (401, 429)
    # The address is locked now, even for a right password of another name...
    assert post_login(attacker, "shen", GOOD).status_code == 429
    # ...but not the account from elsewhere.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_login(other, "shen", GOOD).status_code == 302
    clock.advance(minutes=16)
    assert post_login(attacker, "shen", GOOD).status_code == 302


def test_the_lockout_holds_across_processes(app, person, db_url, clock):
    for _ in range(5):
        post_login(app.test_client(), "shen", "wrong")
    second = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                         "SCHEDULER": "off"})
    try:
        assert post_login(second.test_client(), "shen", GOOD).status_code == 429
    finally:
        second.extensions["yingji"].engine.dispose()


def test_an_unknown_name_costs_one_scrypt_like_a_known_one(app, person, monkeypatch):
    calls = []
    real = hashlib.scrypt

    def counting(password, **kwargs):
        calls.append(kwargs["n"])
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    for name in ("shen", "nobody"):
        calls.clear()
        assert post_login(app.test_client(), name, "wrong-password").status_code == 401
        assert calls == [2**14], name  # the same cost on both paths


# --- sessions ------------------------------------------------------------------------------------


def test_a_cookie_replayed_after_logout_is_refused(app, person):
    client = signed_in(app)
    cookie = client.get_cookie("session").value
    assert client.get("/api/v1/plan").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/api/v1/plan").status_code == 401
    r = replay.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_cookie_without_a_session_record_is_refused(app, person):
    client = app.test_client()
    with client.session_transaction() as s:
        s["user_id"] = person  # a cookie signed with the key, but naming no login session
    assert client.get("/api/v1/plan").status_code == 401


def test_the_session_ends_after_30_idle_minutes(app, wiring, person, clock):
    client = signed_in(app)
    for _ in range(4):
        clock.advance(minutes=29)
        assert client.get("/api/v1/plan").status_code == 200
    clock.advance(minutes=30)
    assert client.get("/api/v1/plan").status_code == 401
    ended = audit_actions(wiring, "session.ended")
    assert [e.data for e in ended] == [f'{{"user_id":{person},"why":"idle"}}']


def test_the_session_ends_12_hours_after_login_however_busy(app, wiring, person, clock):
    client = signed_in(app)
    for _ in range(35):
        clock.advance(minutes=20)
        assert client.get("/api/v1/plan").status_code == 200
    clock.advance(minutes=20)  # 12 h
    assert client.get("/api/v1/plan").status_code == 401
    assert '"why":"expired"' in audit_actions(wiring, "session.ended")[-1].data


def test_last_seen_is_written_at_most_once_a_minute(app, wiring, person, clock):
    client = signed_in(app)

    def last_seen():
        with wiring.sessions() as s:
            return s.scalar(select(LoginSession.last_seen_at))

    start = last_seen()
    for _ in range(5):
        clock.advance(seconds=10)
        assert client.get("/api/v1/plan").status_code == 200
    assert last_seen() == start
    clock.advance(seconds=10)
    client.get("/api/v1/plan")
    assert last_seen() == clock.now()


def test_a_password_change_ends_every_other_session(app, wiring, person):
    phone, desk = signed_in(app), signed_in(app)
    r = desk.post("/password", data={"csrf_token": csrf_of(desk), "current_password": GOOD,
                                     "new_password": OTHER, "confirm_password": OTHER})
    assert r.status_code == 302
    assert phone.get("/api/v1/plan").status_code == 401
    assert desk.get("/api/v1/plan").status_code == 200  # this browser got a new session
    assert post_login(app.test_client(), "shen", GOOD).status_code == 401
    assert post_login(app.test_client(), "shen", OTHER).status_code == 302


def test_deactivation_ends_every_session(app, wiring, person, clock):
    client = signed_in(app)
    with wiring.sessions() as s:
        login_sessions.deactivate(s, s.get(User, person), now=clock.now(), actor=SystemActor(name="tests"))
        s.commit()
    assert client.get("/api/v1/plan").status_code == 401
    with wiring.sessions() as s:
        assert s.scalar(select(LoginSession.ended_why)) == "deactivated"


def test_the_socket_code_can_ask_whether_a_session_is_valid(app, person):
    client = signed_in(app)
    with client.session_transaction() as s:
        cookie = dict(s)
    with app.test_request_context():
        assert session_user_id(cookie) == person
        assert session_user_id({**cookie, "user_id": person + 1}) is None
        assert session_user_id({"user_id": person}) is None
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    with app.test_request_context():
        assert session_user_id(cookie) is None


# --- next -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("next_url", ["/%09/evil.example", "/%0A/evil.example", "/%0D%0ALocation:%20http://evil",
                                      "//evil.example", "/%5Cevil.example", "%5C%5Cevil.example",
                                      "https://evil.example/", "http:/evil.example", "javascript:alert(1)",
                                      "%2F%2Fevil.example"])
def test_next_never_leaves_the_site(app, person, next_url):
    r = post_login(app.test_client(), "shen", GOOD, next_url=next_url)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


def test_next_keeps_a_local_path(app, person):
    r = post_login(app.test_client(), "shen", GOOD, next_url="/incidents/7%3Ftab%3Dclocks")
    assert r.status_code == 302 and r.headers["Location"] == "/incidents/7?tab=clocks"


# --- password policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("password,ok", [
    ("short-1A", False), ("alllowercaseletters", False), ("lowercase-and-dash", False),
    ("lowercase and 42", True), ("UPPER lower mix", True), ("正确的马电池钉正确的马电池钉1a", True),
    ("shen-Password-1", False),  # contains the login name
])
def test_strength(password, ok):
    rules = PasswordRules()
    if ok:
        check_strength(password, rules, login="shen", name="申局长")
    else:
        with pytest.raises(InvalidInput) as info:
            check_strength(password, rules, login="shen", name="申局长")
        assert info.value.code == "weak_password" and info.value.message_zh


def test_the_last_five_passwords_may_not_come_back(wiring, person, clock):
    rules = PasswordRules()
    chosen = [GOOD] + [f"Password-number {i}" for i in range(1, 6)]
    with wiring.sessions() as s:
        user = s.get(User, person)
        for password in chosen[1:]:
            clock.advance(minutes=1)
            passwords.set_password(s, user, password, rules=rules, now=clock.now(), actor=user)
        for recent in chosen[2:]:
            with pytest.raises(InvalidInput) as info:
                passwords.set_password(s, user, recent, rules=rules, now=clock.now(), actor=user)
            assert info.value.code == "password_reused"
        passwords.set_password(s, user, GOOD, rules=rules, now=clock.now(), actor=user)  # six ago: allowed
        s.commit()


def test_an_expired_password_sends_the_browser_to_the_change_page(app, person, clock):
    clock.advance(days=91)
    client = app.test_client()
    r = post_login(client, "shen", GOOD, next_url="/duty")
    assert r.status_code == 302 and r.headers["Location"].startswith("/password")
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/password")
    assert client.get("/api/v1/plan").get_json()["error"]["code"] == "password_change_required"
    page = client.get("/password").get_data(as_text=True)
    assert "修改密码" in page and "90天" in page


def test_expiry_zero_means_never(db_url, clock, person):
    application = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                              "SCHEDULER": "off", "PASSWORD_MAX_AGE_DAYS": 0, "TWO_FACTOR_ROLES": ""})
    try:
        clock.advance(days=1000)
        r = post_login(application.test_client(), "shen", GOOD)
        assert r.status_code == 302 and r.headers["Location"] == "/"
    finally:
        application.extensions["yingji"].engine.dispose()


def test_the_change_page_refuses_a_weak_or_wrong_password(app, person):
    client = signed_in(app)
    for current, new, confirm, words in ((GOOD, "short", "short", "至少12个字符"), ("nope", OTHER, OTHER, "当前密码不正确"),
                                         (GOOD, OTHER, OTHER + "x", "不一致"), (GOOD, GOOD, GOOD, "最近5次")):
        r = client.post("/password", data={"csrf_token": csrf_of(client), "current_password": current,
                                           "new_password": new, "confirm_password": confirm})
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    assert client.get("/api/v1/plan").status_code == 200  # nothing ended


# --- the operator's commands ---------------------------------------------------------------------------


def cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_no_password_on_the_command_line(app, wiring):
    r = cli(app, "users", "create", "--name", "王五", "--login", "wang", "--role", "leader", "--password", GOOD)
    assert r.exit_code != 0 and "--password-stdin" in r.output
    r = cli(app, "users", "reset-password", "wang", "--password", GOOD)
    assert r.exit_code != 0 and "--password-stdin" in r.output
    with wiring.sessions() as s:
        assert s.scalar(select(User).where(User.login == "wang")) is None
    for command in (["users", "create", "--help"], ["users", "reset-password", "--help"]):
        assert "--password " not in cli(app, *command).output


def test_a_user_created_with_a_password_changes_it_at_first_login(app, wiring):
    r = cli(app, "users", "create", "--name", "王五", "--login", "wang", "--role", "leader", "--password-stdin",
            input="too-weak\n")
    assert r.exit_code != 0 and "12" in r.output
    r = cli(app, "users", "create", "--name", "王五", "--login", "wang", "--role", "leader", "--with-password",
            input=f"{GOOD}\n{GOOD}\n")
    assert r.exit_code == 0, r.output
    assert GOOD not in r.output
    client = app.test_client()
    r = post_login(client, "wang", GOOD)
    assert r.status_code == 302 and r.headers["Location"].startswith("/password")
    assert client.get("/api/v1/plan").status_code == 401
    assert "首次登录" in client.get("/password").get_data(as_text=True)
    r = client.post("/password", data={"csrf_token": csrf_of(client), "current_password": GOOD,
                                       "new_password": OTHER, "confirm_password": OTHER})
    assert r.status_code == 302
    assert client.get("/api/v1/plan").status_code == 200


def test_reset_password_from_stdin_ends_sessions_and_forces_a_change(app, wiring, person):
    client = signed_in(app)
    r = cli(app, "users", "reset-password", "shen", "--password-stdin", input=f"{OTHER}\n")
    assert r.exit_code == 0, r.output
    assert client.get("/api/v1/plan").status_code == 401
    r = post_login(app.test_client(), "shen", OTHER)
    assert r.status_code == 302 and r.headers["Location"].startswith("/password")
    assert cli(app, "users", "reset-password", "nobody", "--password-stdin", input=f"{OTHER}\n").exit_code != 0
    assert audit_actions(wiring, "user.password_reset")


# --- security events in the audit trail --------------------------------------------------------------------


def test_security_events_are_audited(app, wiring, person, clock):
    client = signed_in(app)
    assert audit_actions(wiring, "user.login")[0].entity_id == str(person)
    assert audit_actions(wiring, "session.started")
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert '"why":"logout"' in audit_actions(wiring, "session.ended")[0].data
    post_login(app.test_client(), "shen", "wrong")
    post_login(app.test_client(), "nosuchperson", "wrong")
    failed = audit_actions(wiring, "user.login_failed")
    assert failed[0].entity_id == str(person)
    assert failed[1].entity_id == "-" and "nosuchperson" not in failed[1].data and "n*** (12)" in failed[1].data
    for _ in range(4):
        post_login(app.test_client(), "shen", "wrong")
    locked = audit_actions(wiring, "user.locked")
    assert len(locked) == 1 and locked[0].entity_id == str(person) and '"kind":"account"' in locked[0].data


def test_a_permission_denial_is_audited_despite_the_rollback(app, wiring, users, make_user):
    station = make_user("station", "chengguan", password=GOOD)
    r = station.get("/api/v1/assignments")
    assert r.status_code == 403
    with wiring.sessions() as s:
        login = s.get(User, station.id).login
    client = signed_in(app, login, GOOD)
    assert client.get("/duty").status_code == 403
    denied = audit_actions(wiring, "user.forbidden")
    assert [(e.entity_id, e.actor_id) for e in denied] == [(str(station.id), station.id)] * 2
    assert '"path":"/api/v1/assignments"' in denied[0].data and '"path":"/duty"' in denied[1].data
    with wiring.engine.connect() as conn:  # the chain is intact
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar() > 2
