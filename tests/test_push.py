"""The live boards' push: real Socket.IO clients against the app served on 127.0.0.1.

The app is served by Werkzeug's threaded server in a background thread (what `flask serve`
runs); boards are python-socketio clients over WebSocket. Changes go through the HTTP API
with the test client of the same app, so they are pushed by the same Socket.IO server.
"""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager

import pytest
import socketio
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.push import BoardRequestHandler, stored_only, use_external_emitter
from incidents.records import board_events
from incidents.models import BoardEvent, User
from tests.helpers import incident_payload, signed_in_client

NS = "/board"
WAIT = 10.0  # seconds: the most any test waits for a pushed message


@contextmanager
def serving(application):
    """Serve an app on a free 127.0.0.1 port from a background thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=BoardRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-server",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(WAIT)
        server.server_close()


@pytest.fixture
def server(app):
    """The test app, served (HTTP and WebSocket) on 127.0.0.1."""
    with serving(app) as url:
        yield url


class Board:
    """A board: a python-socketio client on /board that keeps what it is sent, in order."""

    def __init__(self, url: str, *, token: str | None = None, cookie: str | None = None) -> None:
        self.url = url
        self.token = token
        self.cookie = cookie
        self.received: queue.Queue = queue.Queue()
        self.refused: list = []
        self.client = self._client()

    def _client(self) -> socketio.Client:
        client = socketio.Client(reconnection=False)
        client.on("hello", lambda data: self.received.put(("hello", data)), namespace=NS)
        client.on("board", lambda data: self.received.put(("board", data)), namespace=NS)
        client.on("connect_error", lambda data=None: self.refused.append(data), namespace=NS)
        return client

    def connect(self) -> dict:
        """Connect and return the `hello`."""
        headers = {"Cookie": f"session={self.cookie}"} if self.cookie else {}
        if self.token is not None:  # the door wants the token at the handshake already
            headers["Authorization"] = f"Bearer {self.token}"
        auth = {"token": self.token} if self.token is not None else None
        self.client.connect(self.url, namespaces=[NS], transports=["websocket"], auth=auth, headers=headers,
                            wait_timeout=WAIT)
        return self.next("hello")

    def reconnect(self) -> dict:
        """Connect again after a disconnect, as a board does after a network drop."""
        self.client = self._client()
        return self.connect()

    def disconnect(self) -> None:
        self.client.disconnect()

    def next(self, kind: str = "board") -> dict:
        """Return the next message; it must be of this kind and arrive within WAIT seconds."""
        try:
            got, data = self.received.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no {kind} message within {WAIT} s") from None
        assert got == kind, (got, data)
        return data

    def boards(self, n: int) -> list[dict]:
        """Return the next n `board` messages."""
        return [self.next("board") for _ in range(n)]

    def resume(self, seen: dict) -> list[dict]:
        """Ask for what was missed; return the ack."""
        return self.client.call("resume", seen, namespace=NS, timeout=WAIT)

    def ping(self) -> dict:
        return self.client.call("ping_board", namespace=NS, timeout=WAIT)

    def nothing_more(self) -> bool:
        """True if nothing else was pushed before a round trip made now.

        The server pushes within the request that committed, before it answers, and a
        board's messages leave in order: a `ping_board` answered after that request
        follows anything the board was sent by it.
        """
        self.ping()
        return self.received.empty()

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


@pytest.fixture
def board(server):
    """Make boards connected to the test server; all are closed at the end."""
    made: list[Board] = []

    def make(user=None, *, token: str | None = None, cookie: str | None = None) -> Board:
        b = Board(server, token=token if token is not None else (user.token if user else None), cookie=cookie)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def register(office, **overrides) -> dict:
    r = office.post("/api/v1/incidents", json=incident_payload(**overrides))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def stored(wiring, room: str) -> list[dict]:
    with wiring.sessions() as session:
        return board_events.missed(session, room, 0)


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": "not-a-token"}, "a string"])
def test_a_connection_without_a_valid_user_is_refused(server, auth):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server, namespaces=[NS], transports=["websocket"], auth=auth, wait_timeout=WAIT)
    assert not client.connected


def test_a_valid_handshake_with_a_bad_connect_token_is_refused_at_the_namespace(board, users):
    """The handshake's session lets the socket in; the token of the /board connect still decides alone."""
    b = board(users["food"])
    b.token = "not-a-token"
    b.cookie = None
    client = b.client
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(b.url, namespaces=[NS], transports=["websocket"], auth={"token": "not-a-token"},
                       headers={"Authorization": f"Bearer {users['food'].token}"}, wait_timeout=WAIT)
    assert b.refused and "未登录或令牌无效" in b.refused[0]["message"] and "invalid token" in b.refused[0]["message"]
    assert b.refused[0]["data"]["code"] == "unauthorised"


def test_an_inactive_users_token_is_refused(board, users, wiring):
    with wiring.sessions() as session:
        session.get(User, users["food"].id).active = False
        session.commit()
    b = board(users["food"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        b.connect()


def test_hello_names_the_rooms_of_each_role(board, users, make_user):
    expected = {
        "food": ["dept:food_coord"],
        "office": ["overview", "dept:office"],
        "station": ["station:chengguan"],
        "leader": ["overview"],
        "commander": ["overview"],
        "admin": ["overview"],
        "viewer": ["overview"],
    }
    for key, rooms in expected.items():
        hello = board(users[key]).connect()
        assert hello["rooms"] == {room: 0 for room in rooms}, key
        assert hello["user"] == {"id": users[key].id, "name": hello["user"]["name"], "role": users[key].role,
                                 "unit": users[key].unit}
        assert hello["user"]["name"]
        assert hello["server_time"] == "2026-11-20T01:00:00+00:00"  # the app's (fake) clock
    # An office user without a department hears the overview only.
    assert board(make_user("office")).connect()["rooms"] == {"overview": 0}


def test_a_registered_incident_reaches_the_rooms_that_follow_it(board, users, wiring):
    food, overview, station = board(users["food"]), board(users["leader"]), board(users["station"])
    prices = board(users["prices"])
    for b in (food, overview, station, prices):
        b.connect()
    other = board(users["office"])  # office: overview and its own department room
    other.connect()

    incident = register(users["office"])

    by_room = {}
    for b, room in ((food, "dept:food_coord"), (overview, "overview"), (station, "station:chengguan")):
        message = b.next()
        assert message["room"] == room
        assert message["seq"] == 1
        assert message["event"] == "incident"
        assert message["data"]["what"] == "registered"
        assert message["data"]["incident"]["id"] == incident["id"]
        assert message["data"]["incident"]["lead_department"] == "food_coord"
        assert set(message) == {"room", "seq", "key", "event", "data", "at"}
        by_room[room] = message
    # The same event in several rooms shares its key; what went out is what was stored.
    assert len({m["key"] for m in by_room.values()}) == 1
    for room, message in by_room.items():
        assert stored(wiring, room) == [message]
    # The office registered the event, so it owns the bureau's 30-minute clock and its room follows too.
    assert sorted(other.next()["room"] for _ in range(2)) == ["dept:office", "overview"]
    # Rooms that do not follow this incident hear nothing.
    assert prices.nothing_more()
    assert other.nothing_more()  # one message per room, none twice
    assert food.nothing_more() and overview.nothing_more() and station.nothing_more()


def test_a_station_hears_only_its_own_station(board, users, make_user):
    hansi = board(make_user("station", "hansi"))
    chengguan = board(users["station"])
    hansi.connect()
    chengguan.connect()
    register(users["office"], station="hansi")
    message = hansi.next()
    assert message["room"] == "station:hansi"
    assert hansi.nothing_more()
    assert chengguan.nothing_more()


def test_sequence_numbers_go_up_by_one_per_room(board, users):
    food, overview = board(users["food"]), board(users["viewer"])
    start = food.connect()["rooms"]["dept:food_coord"]
    overview.connect()
    for i in range(4):
        register(users["office"], title=f"第{i}起")
    assert [m["seq"] for m in food.boards(4)] == [start + 1, start + 2, start + 3, start + 4]
    assert [m["seq"] for m in overview.boards(4)] == [1, 2, 3, 4]
    # A board connecting now is told where each room stands.
    assert board(users["food"]).connect()["rooms"] == {"dept:food_coord": start + 4}


def test_resume_after_a_drop_returns_exactly_what_was_missed(board, users, wiring):
    food = board(users["food"])
    food.connect()
    register(users["office"], title="第一起")
    seen = food.next()
    assert seen["seq"] == 1

    food.disconnect()
    register(users["office"], title="第二起")
    register(users["office"], title="第三起")

    hello = food.reconnect()
    assert hello["rooms"] == {"dept:food_coord": 3}
    missed = food.resume({"dept:food_coord": seen["seq"]})
    assert [m["seq"] for m in missed] == [2, 3]
    assert [m["data"]["incident"]["title"] for m in missed] == ["第二起", "第三起"]
    assert missed == stored(wiring, "dept:food_coord")[1:]
    # No gap, no duplicate: nothing else came, and having seen everything there is nothing to resume.
    assert food.nothing_more()
    assert food.resume({"dept:food_coord": 3}) == []
    # After resuming, live pushes carry on from the next number.
    register(users["office"], title="第四起")
    assert food.next()["seq"] == 4


def test_resume_is_oldest_first_per_room_for_every_room_of_the_board(board, users):
    office = board(users["office"])
    office.connect()
    office.disconnect()
    register(users["office"], title="甲")
    register(users["office"], title="乙")
    office.reconnect()
    missed = office.resume({"overview": 0, "dept:office": 0})
    # Both rooms follow what the office registers; within each room the oldest comes first.
    assert sorted({m["room"] for m in missed}) == ["dept:office", "overview"]
    for room in ("dept:office", "overview"):
        assert [m["seq"] for m in missed if m["room"] == room] == [1, 2]
        assert [m["data"]["incident"]["title"] for m in missed if m["room"] == room] == ["甲", "乙"]


def test_a_board_cannot_resume_rooms_it_is_not_in(board, users, wiring):
    register(users["office"])
    food = board(users["food"])
    food.connect()
    assert stored(wiring, "overview") and stored(wiring, "station:chengguan")
    assert food.resume({"dept:prices": 0, "overview": 0, "station:chengguan": 0}) == []
    assert [m["room"] for m in food.resume({"dept:food_coord": 0, "overview": 0})] == ["dept:food_coord"]


@pytest.mark.parametrize("seen", [None, [], "dept:food_coord", {"dept:food_coord": "x"},
                                  {"dept:food_coord": None}])
def test_a_malformed_resume_gets_an_empty_answer(board, users, seen):
    register(users["office"])
    food = board(users["food"])
    food.connect()
    assert food.resume(seen) == []


def test_a_negative_number_resumes_from_the_start(board, users):
    register(users["office"])
    food = board(users["food"])
    food.connect()
    assert [m["seq"] for m in food.resume({"dept:food_coord": -5})] == [1]


def test_the_browser_login_session_connects(app, board, users, make_user):
    user = make_user("duty_officer", "food_coord", password="correct horse 9")
    client = signed_in_client(app, user.id)
    client.get("/login")  # any response carries the signed session cookie
    cookie = client.get_cookie("session").value
    hello = board(cookie=cookie).connect()
    assert hello["user"]["id"] == user.id
    assert hello["rooms"] == {"dept:food_coord": 0}


def test_a_session_cookie_of_nobody_or_a_bad_token_is_refused(app, board, users):
    client = app.test_client()
    with client.session_transaction() as s:
        s["user_id"] = 999_999
    client.get("/login")
    b = board(cookie=client.get_cookie("session").value)
    with pytest.raises(socketio.exceptions.ConnectionError):
        b.connect()
    # A cookie naming a user without a login session behind it (forged, or from before logout) is refused.
    with client.session_transaction() as s:
        s["user_id"] = users["food"].id
    client.get("/login")
    with pytest.raises(socketio.exceptions.ConnectionError):
        board(cookie=client.get_cookie("session").value).connect()
    # A token, when given, decides alone: a wrong one is refused even with a valid session.
    client = signed_in_client(app, users["food"].id)
    client.get("/login")
    b = board(token="wrong", cookie=client.get_cookie("session").value)
    with pytest.raises(socketio.exceptions.ConnectionError):
        b.connect()


def test_ping_board_answers_the_server_time(board, users, clock):
    food = board(users["food"])
    food.connect()
    clock.advance(minutes=7)
    assert food.ping() == {"server_time": clock.now().isoformat()}


def test_a_push_failure_never_breaks_the_request(db_url, clock, users, wiring):
    """With an unreachable message queue, the change is made and its events are stored."""
    broken = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                         "SCHEDULER": "off", "SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:1/0"})
    try:
        r = broken.test_client().post("/api/v1/incidents", json=incident_payload(),
                                      headers={"Authorization": f"Bearer {users['office'].token}"})
        assert r.status_code == 201, r.get_json()
        assert [m["seq"] for m in stored(wiring, "dept:food_coord")] == [1]
    finally:
        broken.extensions["yingji"].engine.dispose()


def test_a_process_without_a_queue_pushes_nothing_but_keeps_the_events(app, board, users, wiring):
    food = board(users["food"])
    food.connect()
    message = use_external_emitter(app)
    assert "SOCKETIO_MESSAGE_QUEUE" in message
    assert wiring.emit is stored_only
    register(users["office"])
    assert food.nothing_more()
    with wiring.sessions() as session:
        assert session.scalars(select(BoardEvent.room).where(BoardEvent.seq == 1)).all()
    assert [m["seq"] for m in food.resume({"dept:food_coord": 0})] == [1]


def test_the_commit_that_opens_a_room_pushes_its_events(server, users):
    food = Board(server, token=users["food"].token)
    try:
        food.connect()
        register(users["office"])  # the first event ever in dept:food_coord
        food.ping()  # anything pushed by that request has arrived before this answer
        assert food.received.qsize() == 1
    finally:
        food.close()
