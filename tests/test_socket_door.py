"""The boards' door (issue 15 item 1): nothing unauthenticated holds a socket.

Served like tests/test_push.py (Werkzeug's threaded server, what `flask serve` runs); the handshakes
are raw HTTP (what an attacker sends) or python-socketio / python-engineio clients.
"""
from __future__ import annotations

import threading

import engineio
import pytest
import requests
import socketio
from sqlalchemy import select

from incidents.kernel.actors import SystemActor
from incidents.models import LoginSession, User
from incidents.people import login_sessions
from tests.helpers import signed_in_client
from tests.test_push import NS, WAIT, board, server  # noqa: F401 - fixtures

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def door(app):
    return app.extensions["yingji_door"]


def handshake(url: str, **headers: str) -> requests.Response:
    return requests.get(url + HANDSHAKE, headers=headers, timeout=WAIT)


def test_an_unauthenticated_handshake_is_refused_before_anything_is_held(app, server):  # noqa: F811
    r = handshake(server)
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "unauthorised", "message": "未登录或令牌无效",
                                 "message_en": "not signed in or invalid token"}
    assert handshake(server, Authorization="Bearer not-a-token").status_code == 401
    # A WebSocket upgrade without credentials is answered 401 too, instead of being upgraded.
    r = requests.get(server + "/socket.io/?EIO=4&transport=websocket", timeout=WAIT,
                     headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status_code == 401
    assert door(app).open_sockets() == 0 and not door(app).eio.sockets


def test_an_authenticated_handshake_opens_a_socket(app, server, users):  # noqa: F811
    r = handshake(server, Authorization=f"Bearer {users['food'].token}")
    assert r.status_code == 200 and '"sid"' in r.text
    assert door(app).open_sockets("127.0.0.1") == 1


def test_a_socket_that_does_not_join_the_board_is_closed(app, server, users):  # noqa: F811
    door(app).join_within = 0.2
    client = engineio.Client()
    closed = threading.Event()
    client.on("disconnect", lambda *args: closed.set())
    client.connect(server, headers={"Authorization": f"Bearer {users['food'].token}"}, transports=["websocket"],
                   engineio_path="socket.io")
    try:
        assert closed.wait(WAIT), "the server kept a socket that never joined /board"
    finally:
        client.disconnect()
    assert door(app).open_sockets() == 0


def test_a_board_that_joins_stays(app, board, users):  # noqa: F811
    door(app).join_within = 0.2
    b = board(users["food"])
    b.connect()
    # The sweep runs twice a second: a round trip after three sweeps proves the board was kept.
    for _ in range(3):
        threading.Event().wait(0.5)
        assert b.ping()["server_time"]
    assert door(app).open_sockets() == 1


def test_the_default_namespace_is_refused(app, server, users):  # noqa: F811
    client = socketio.Client(reconnection=False)
    errors = []
    client.on("connect_error", lambda data=None: errors.append(data), namespace="/")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server, namespaces=["/"], transports=["websocket"], wait_timeout=WAIT,
                       headers={"Authorization": f"Bearer {users['food'].token}"})
    assert not client.connected
    client.disconnect()


def test_sockets_per_address_are_capped(app, board, users):  # noqa: F811
    door(app).per_address = 2
    first, second = board(users["food"]), board(users["office"])
    first.connect()
    second.connect()
    assert door(app).open_sockets("127.0.0.1") == 2
    r = handshake(first.url, Authorization=f"Bearer {users['leader'].token}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "too_many"
    with pytest.raises(socketio.exceptions.ConnectionError):
        board(users["leader"]).connect()
    # A board that leaves frees its place.
    first.disconnect()
    for _ in range(int(WAIT / 0.05)):
        if door(app).open_sockets("127.0.0.1") < 2:
            break
        threading.Event().wait(0.05)
    assert board(users["leader"]).connect()["user"]["id"] == users["leader"].id


def test_sockets_per_process_are_capped(app, board, users):  # noqa: F811
    door(app).most = 1
    board(users["food"]).connect()
    r = handshake(board(users["office"]).url, Authorization=f"Bearer {users['office'].token}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "full"
    assert "看板连接已满" in r.json()["error"]["message"]


def _closed_event(b) -> threading.Event:
    closed = threading.Event()
    b.client.on("disconnect", lambda *args: closed.set(), namespace=NS)
    return closed


def test_an_open_board_is_closed_when_its_login_session_ends(app, board, make_user, wiring):  # noqa: F811
    door(app).recheck_every = 0.2
    user = make_user("duty_officer", "food_coord")
    client = signed_in_client(app, user.id)
    client.get("/login")
    b = board(cookie=client.get_cookie("session").value)
    closed = _closed_event(b)
    assert b.connect()["user"]["id"] == user.id
    colleague = make_user("duty_officer", "food_coord")
    other = board(colleague)  # another user's board stays
    assert other.connect()["user"]["id"] == colleague.id
    # Logout ends the session: within a re-check the board is closed, and reconnecting is refused.
    r = client.post("/logout", data={"csrf_token": "t"})
    assert r.status_code == 302
    assert closed.wait(WAIT), "the board kept its socket after logout"
    with pytest.raises(socketio.exceptions.ConnectionError):
        b.reconnect()
    assert other.ping()["server_time"] and door(app).open_sockets() == 1


def test_an_open_board_is_closed_when_its_user_is_deactivated(app, board, make_user, wiring):  # noqa: F811
    door(app).recheck_every = 0.2
    user = make_user("duty_officer", "food_coord")
    b = board(user)  # on its API token
    closed = _closed_event(b)
    b.connect()
    with wiring.sessions() as s:
        login_sessions.deactivate(s, s.get(User, user.id), now=wiring.clock.now(), actor=SystemActor(name="tests"))
        s.commit()
    assert closed.wait(WAIT), "the board of a deactivated user kept its socket"
    assert door(app).open_sockets() == 0


def test_an_idle_login_session_closes_its_board(app, board, make_user, clock):  # noqa: F811
    door(app).recheck_every = 0.2
    app.config["SESSION_IDLE_MINUTES"] = 30
    user = make_user("duty_officer", "food_coord")
    client = signed_in_client(app, user.id)
    client.get("/login")
    b = board(cookie=client.get_cookie("session").value)
    closed = _closed_event(b)
    b.connect()
    # An open board is not activity: 30 minutes without a request end the session, and the board with it.
    clock.advance(minutes=31)
    assert closed.wait(WAIT), "an idle session kept its board open"


def test_the_security_administrator_ending_a_session_closes_its_board(app, board, make_user, wiring):  # noqa: F811
    door(app).recheck_every = 0.2
    user = make_user("duty_officer", "food_coord")
    client = signed_in_client(app, user.id)
    client.get("/login")
    b = board(cookie=client.get_cookie("session").value)
    closed = _closed_event(b)
    assert b.connect()["user"]["id"] == user.id
    with wiring.sessions() as s:
        [session_id] = s.scalars(select(LoginSession.id).where(LoginSession.user_id == user.id))
    r = make_user("secadmin").post(f"/api/v1/sessions/{session_id}/end", json={"reason": "值班电脑遗失"})
    assert r.status_code == 200, r.get_json()
    assert closed.wait(WAIT), "the board kept its socket after its session was ended"
    with pytest.raises(socketio.exceptions.ConnectionError):
        b.reconnect()
    assert client.get("/api/v1/plan").status_code == 401
