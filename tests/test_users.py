"""Users: hashed passwords and tokens, browser login with CSRF, sessions on the API."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text, update

from incidents.kernel.errors import InvalidInput
from incidents.models import User
from incidents.kernel.actors import SystemActor
from incidents.people.users import (
    check_password,
    create_user,
    hash_password,
    hash_token,
    user_by_password,
)
from incidents.people.tokens import authenticate
from tests.helpers import incident_payload, iso

PASSWORD = "正确的马电池钉-42"


def raw_user_row(wiring, user_id: int) -> dict:
    with wiring.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM users WHERE id = :i"), {"i": user_id}).mappings().one())


def login(client, login_name: str, password: str, csrf: str | None = "csrf-test-token", next_url: str | None = None):
    with client.session_transaction() as session:
        session["csrf"] = "csrf-test-token"
    data = {"login": login_name, "password": password}
    if csrf is not None:
        data["csrf_token"] = csrf
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data=data)


# --- hashing ------------------------------------------------------------------------------


def test_passwords_are_hashed_with_salt():
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b  # salted
    assert PASSWORD not in a and PASSWORD.encode().hex() not in a
    assert a.startswith("scrypt$")
    assert check_password(a, PASSWORD) and check_password(b, PASSWORD)
    assert not check_password(a, PASSWORD + "x")
    assert not check_password(a, "")
    assert not check_password(None, PASSWORD)
    assert not check_password("garbage", PASSWORD)
    assert not check_password("scrypt$1$2$3$zz$zz", PASSWORD)


def test_password_and_token_are_not_stored_in_clear(app, wiring, make_user):
    user = make_user("office", "office", password=PASSWORD)
    row = raw_user_row(wiring, user.id)
    stored = " ".join(str(v) for v in row.values())
    assert PASSWORD not in stored
    assert user.token not in stored
    with wiring.engine.connect() as conn:
        stored_tokens = [r[0] for r in conn.execute(text("SELECT token_hash FROM api_tokens WHERE user_id = :i"),
                                                    {"i": user.id})]
    assert user.token not in " ".join(stored_tokens)
    assert stored_tokens == [hashlib.sha256(user.token.encode()).hexdigest()] == [hash_token(user.token)]
    assert row["password_hash"] and check_password(row["password_hash"], PASSWORD)


def test_api_only_user_has_no_password(app, wiring, make_user):
    user = make_user("viewer")
    row = raw_user_row(wiring, user.id)
    assert row["password_hash"] is None
    with wiring.sessions() as session:
        assert user_by_password(session, row["login"], "") is None
        assert user_by_password(session, row["login"], "anything") is None


def test_lookup_by_token_and_password(app, wiring, make_user):
    user = make_user("leader", password=PASSWORD)
    login_name = raw_user_row(wiring, user.id)["login"]
    with wiring.sessions() as session:
        now = wiring.clock.now()
        assert authenticate(session, user.token, now=now).user.id == user.id
        assert authenticate(session, user.token + "x", now=now).user is None
        assert authenticate(session, "", now=now).user is None
        assert user_by_password(session, login_name, PASSWORD).id == user.id
        assert user_by_password(session, login_name, "wrong") is None
        assert user_by_password(session, "nobody", PASSWORD) is None


def test_inactive_user_is_refused(app, wiring, make_user):
    user = make_user("leader", password=PASSWORD)
    assert user.get("/api/v1/plan").status_code == 200
    with wiring.sessions() as session:
        session.execute(update(User).where(User.id == user.id).values(active=False))
        session.commit()
    r = user.get("/api/v1/plan")
    assert r.status_code == 401
    r = login(app.test_client(), raw_user_row(wiring, user.id)["login"], PASSWORD)
    assert r.status_code == 401


def test_create_user_refuses_duplicates_and_bad_values(app, wiring, clock):
    actor = SystemActor(name="tests")
    with wiring.sessions() as session:
        create_user(session, wiring.plan, name="张三", role="viewer", now=clock.now(), actor=actor)
        session.commit()
        for kwargs in ({"name": "张三", "role": "leader"}, {"name": "x", "role": "king"},
                       {"name": "y", "role": "duty_officer", "unit": "hansi"},
                       {"name": "z", "role": "viewer", "phone": "138"}, {"name": "", "role": "viewer"}):
            with pytest.raises(InvalidInput) as info:
                create_user(session, wiring.plan, now=clock.now(), actor=actor, **kwargs)
            assert info.value.message_zh and info.value.message_en


# --- browser login ----------------------------------------------------------------------------


@pytest.fixture
def browser_user(app, wiring, make_user):
    user = make_user("office", "office", password=PASSWORD)
    return user, raw_user_row(wiring, user.id)["login"]


def test_login_with_csrf_works(app, browser_user, clock):
    user, login_name = browser_user
    client = app.test_client()
    assert client.get("/api/v1/incidents").status_code == 401
    r = login(client, login_name, PASSWORD)
    assert r.status_code == 302, r.get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["user_id"] == user.id
        assert session.get("csrf")  # a fresh token for the signed-in session
    # The session now reads the API...
    r = client.get("/api/v1/plan")
    assert r.status_code == 200
    # ...and writes only with the CSRF token in a header.
    body = incident_payload(discovered_at=iso(clock.now()))
    r = client.post("/api/v1/incidents", json=body)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
    with client.session_transaction() as session:
        token = session["csrf"]
    r = client.post("/api/v1/incidents", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.get_json()
    # The board page is served to the signed-in user.
    assert client.get("/").status_code == 200


def test_login_redirects_only_to_local_paths(app, browser_user):
    _, login_name = browser_user
    r = login(app.test_client(), login_name, PASSWORD, next_url="/api/v1/plan")
    assert r.status_code == 302 and r.headers["Location"].endswith("/api/v1/plan")
    r = login(app.test_client(), login_name, PASSWORD, next_url="//evil.example.com/")
    assert r.status_code == 302 and "evil.example.com" not in r.headers["Location"]


@pytest.mark.parametrize("which", ["wrong_password", "unknown_login", "empty_password"])
def test_wrong_password_gives_401_in_chinese(app, browser_user, which):
    _, login_name = browser_user
    name, password = {"wrong_password": (login_name, PASSWORD + "!"), "unknown_login": ("nobody", PASSWORD),
                      "empty_password": (login_name, "")}[which]
    client = app.test_client()
    r = login(client, name, password)
    assert r.status_code == 401
    page = r.get_data(as_text=True)
    assert "登录名或密码错误" in page
    with client.session_transaction() as session:
        assert "user_id" not in session
    assert client.get("/api/v1/plan").status_code == 401


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_login_without_the_csrf_token_is_refused(app, browser_user, csrf):
    _, login_name = browser_user
    client = app.test_client()
    r = login(client, login_name, PASSWORD, csrf=csrf)
    assert r.status_code == 400
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_logout(app, browser_user):
    _, login_name = browser_user
    client = app.test_client()
    assert login(client, login_name, PASSWORD).status_code == 302
    with client.session_transaction() as session:
        token = session["csrf"]
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 400
    assert client.get("/api/v1/plan").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/plan").status_code == 401


def test_board_sends_an_anonymous_browser_to_login(app):
    r = app.test_client().get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = app.test_client().get("/login")
    assert r.status_code == 200 and "登录" in r.get_data(as_text=True)
