"""The /board Socket.IO namespace: who may connect, which rooms they hear, and replay of what they missed.

The door (issue 15 item 1): nothing unauthenticated holds a connection. The engine.io handshake
itself (before any WebSocket upgrade) must carry the browser's login session cookie or an
`Authorization: Bearer <api token>` header, or it is answered 401 and holds nothing; each client
address may hold SOCKETS_PER_ADDRESS sockets and the process SOCKETS_MAX (the config gives
gunicorn that many threads on top of those for HTTP); an admitted socket that has not joined
/board within SOCKET_JOIN_SECONDS is closed; the default namespace "/" is refused.
`connection_user` is the one place a connection's user is looked up, at the handshake and again
at the /board connect.

Protocol (the browser boards are written against it):
- connect with the browser's login session cookie, or with an API token in the handshake's
  `Authorization: Bearer` header (and optionally `auth={"token": ...}`, which then decides);
  anything else is refused with a Chinese and English message;
- the server puts the board in the rooms its user may see and emits `hello`:
  {"rooms": {room: last_seq}, "user": {...}, "server_time": ISO};
- every committed board event arrives as `board` (incidents.records.board_events.as_message);
- `resume` {room: last_seq_seen} is answered (ack) with the missed messages, oldest first
  per room, for the board's own rooms only; a board resumes on `hello` and whenever a
  `board` message skips a number, and drops a message whose number it has already seen;
- `ping_board` is answered (ack) with {"server_time": ISO}.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, rooms

from app.auth import session_rules, session_user_id
from app.push import NAMESPACE, wait_listening
from incidents.records import board_events
from incidents.records.board_events import OVERVIEW, department_room, station_room
from incidents.models import User
from incidents.kernel.roles import ADMIN, COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, STATION, VIEWER
from incidents.people import login_sessions, tokens

log = logging.getLogger("yingji.board")

OVERVIEW_ROLES = frozenset({LEADER, COMMANDER, ADMIN, VIEWER})


class Refused(ConnectionRefusedError):
    """A refused board connection; the client gets the message and {code, message, message_en}."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}", {"code": code, "message": zh, "message_en": en})


def rooms_for(user: User) -> list[str]:
    """Return the rooms a user's board hears, by role (and unit)."""
    if user.role in DEPARTMENT_ROLES and user.unit:
        return [department_room(user.unit)]
    if user.role == OFFICE:
        return [OVERVIEW] + ([department_room(user.unit)] if user.unit else [])
    if user.role == STATION and user.unit:
        return [station_room(user.unit)]
    if user.role in OVERVIEW_ROLES:
        return [OVERVIEW]
    return []


def connection_user(sessions, auth=None) -> User | None:
    """Return the active user a board connection speaks for, or None: the one place a socket's user is looked up.

    Called inside a request context of the connection's handshake: at the engine.io handshake (the
    door) and again at the /board connect. A token, when given (the `auth` of the connect, else the
    handshake's Bearer header), decides alone as the API's does; else the browser's login session.
    A browser's login session must still be live (app.auth.session_user_id: not logged out,
    timed out, or ended by a password change or deactivation).
    """
    token = auth.get("token") if isinstance(auth, dict) else None
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    with sessions() as db:
        if token:
            now = current_app.extensions["yingji"].clock.now()
            return tokens.authenticate(db, str(token), now=now, touch=False).user
        user_id = session_user_id(session, db)
        user = db.get(User, user_id) if user_id is not None else None
        return user if user is not None and user.active else None


def credential() -> tuple[str, object] | None:
    """Return what a handshake was admitted on, to check it again while the socket stays open."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return ("token", value.strip())
    key, user_id = session.get("sid"), session.get("user_id")
    return ("session", (key, user_id)) if isinstance(key, str) and isinstance(user_id, int) else None


class Door:
    """The engine.io handshake's check: credentials, per-address and per-process caps, the join deadline."""

    def __init__(self, app: Flask, sio: SocketIO) -> None:
        self.app, self.sio = app, sio
        self.eio = sio.server.eio
        self.per_address = int(app.config.get("SOCKETS_PER_ADDRESS") or 100)
        self.most = int(app.config.get("SOCKETS_MAX") or 2000)
        self.join_within = float(app.config.get("SOCKET_JOIN_SECONDS") or 5.0)
        self.lock = threading.Lock()
        self.address_of: dict[str, str] = {}  # engine.io sid -> client address
        self.by_address: dict[str, int] = {}
        self.pending: dict[str, float] = {}  # engine.io sid -> monotonic deadline to join /board
        # What each socket was admitted on: its login session stays live, or its token valid, or it is closed.
        self.credential_of: dict[str, tuple[str, object]] = {}
        self.recheck_every = float(app.config.get("SOCKET_RECHECK_SECONDS") or 5.0)
        self.refused = 0
        self._sweeper = None
        self._admit = self.eio.handlers["connect"]  # python-socketio's own engine.io handlers
        self._leave = self.eio.handlers["disconnect"]
        self.eio.on("connect", self.connect)
        self.eio.on("disconnect", self.disconnect)

    def open_sockets(self, address: str | None = None) -> int:
        """Return how many sockets this process holds, in all or from one client address."""
        with self.lock:
            return len(self.address_of) if address is None else self.by_address.get(address, 0)

    def connect(self, eio_sid: str, environ: dict):
        """Admit a handshake only with a user, under the caps; anything returned but True is a 401."""
        address = environ.get("REMOTE_ADDR") or "-"
        with self.lock:
            if len(self.address_of) >= self.most:
                return self._refuse("full", address)
            if self.by_address.get(address, 0) >= self.per_address:
                return self._refuse("too_many", address)
            self.address_of[eio_sid] = address  # the slot is held while the user is looked up
            self.by_address[address] = self.by_address.get(address, 0) + 1
        try:
            with self.app.request_context(environ):
                user = connection_user(self.app.extensions["yingji"].sessions)
                admitted_on = credential()
        except Exception:  # noqa: BLE001 - a database outage refuses the board; it retries by itself
            log.exception("board handshake: could not check the user")
            user = None
        if user is None:
            self._release(eio_sid)
            return self._refuse("unauthorised", address)
        self._admit(eio_sid, environ)
        with self.lock:
            self.pending[eio_sid] = time.monotonic() + self.join_within
            if admitted_on is not None:
                self.credential_of[eio_sid] = admitted_on
            if self._sweeper is None:
                self._sweeper = self.sio.start_background_task(self._sweep)
        return True

    def joined(self, eio_sid: str) -> None:
        """Note that a socket has joined /board: it keeps its connection."""
        with self.lock:
            self.pending.pop(eio_sid, None)

    def disconnect(self, eio_sid: str, *args):
        """Free a socket's slot, then let python-socketio clean up."""
        self._release(eio_sid)
        return self._leave(eio_sid, *args)

    def _release(self, eio_sid: str) -> None:
        with self.lock:
            self.pending.pop(eio_sid, None)
            self.credential_of.pop(eio_sid, None)
            address = self.address_of.pop(eio_sid, None)
            if address is not None:
                left = self.by_address.get(address, 1) - 1
                if left > 0:
                    self.by_address[address] = left
                else:
                    self.by_address.pop(address, None)

    def _refuse(self, why: str, address: str) -> dict:
        self.refused += 1
        log.warning("board handshake refused (%s) from %s", why, address)
        zh, en = REFUSALS[why]
        return {"error": {"code": why, "message": zh, "message_en": en}}

    def _sweep(self) -> None:
        # One task for every socket (not a timer each): close those that never joined /board, and,
        # every few seconds, those whose login session ended (logout, timeout, password change,
        # deactivation) or whose token no longer works: in every process, each for its own sockets.
        next_check = time.monotonic() + self.recheck_every
        while True:
            self.sio.sleep(0.5)
            now = time.monotonic()
            with self.lock:
                late = [sid for sid, deadline in self.pending.items() if deadline <= now]
                for sid in late:
                    self.pending.pop(sid, None)
            for sid in late:
                log.info("closing a socket that did not join %s within %.0f s", NAMESPACE, self.join_within)
                self._close(sid)
            if now >= next_check:
                next_check = now + self.recheck_every
                try:
                    ended = self.ended()
                except Exception:  # noqa: BLE001 - a database outage closes nothing; checked again next time
                    log.exception("board re-check: could not check the sessions")
                    ended = []
                for sid in ended:
                    log.info("closing a board whose login ended")
                    self._close(sid)

    def ended(self) -> list[str]:
        """Return the sockets whose login session or token no longer admits them."""
        with self.lock:
            held = dict(self.credential_of)
        if not held:
            return []
        wiring = self.app.extensions["yingji"]
        keys = {value[0]: value[1] for kind, value in held.values() if kind == "session"}
        with self.app.app_context(), wiring.sessions() as db:
            live = login_sessions.live_keys(db, keys, session_rules(), now=wiring.clock.now())
            held_tokens = {value for kind, value in held.values() if kind == "token"}
            valid_tokens = tokens.live_users(db, held_tokens, now=wiring.clock.now())
        return [sid for sid, (kind, value) in held.items()
                if (kind == "session" and value[0] not in live) or (kind == "token" and value not in valid_tokens)]

    def _close(self, sid: str) -> None:
        try:
            self.eio.disconnect(sid)
        except Exception:  # noqa: BLE001 - it may have gone meanwhile
            log.debug("socket %s already gone", sid)
        self._release(sid)


REFUSALS = {
    "unauthorised": ("未登录或令牌无效", "not signed in or invalid token"),
    "too_many": ("本地址的看板连接过多", "too many board connections from this address"),
    "full": ("看板连接已满，请稍后重连", "the server holds its most board connections, reconnect later"),
}


def _now_iso() -> str:
    return current_app.extensions["yingji"].clock.now().isoformat()


def connect(auth=None):
    """Admit a board with a valid token or login session into its rooms, and greet it with `hello`."""
    wiring = current_app.extensions["yingji"]
    try:
        user = connection_user(wiring.sessions, auth)
    except Exception:  # noqa: BLE001 - a database outage refuses the board; it retries by itself
        log.exception("board connect: could not check the user")
        raise Refused("unavailable", "服务暂不可用，请稍后重连", "service unavailable, reconnect later") from None
    if user is None:
        raise Refused("unauthorised", "未登录或令牌无效", "not signed in or invalid token")
    my_rooms = rooms_for(user)
    if not my_rooms:
        raise Refused("no_board", "该用户没有可查看的值班看板", "this user has no board to watch")
    try:
        wait_listening(current_app.extensions["socketio"])
        # Join first, then read the numbers: an event committed after the read is pushed to
        # this board, one committed before it is counted in `hello` (a duplicate is dropped
        # by its number), so nothing falls between the two.
        for room in my_rooms:
            join_room(room)
        with wiring.sessions() as db:
            seqs = board_events.last_seqs(db, my_rooms)
        # The board is connected to this process: no need to go round through the queue.
        emit("hello", {"rooms": seqs,
                       "user": {"id": user.id, "name": user.name, "role": user.role, "unit": user.unit},
                       "server_time": _now_iso()}, ignore_queue=True)
    except Exception:  # noqa: BLE001 - never let Flask-SocketIO retry the handler without auth
        log.exception("board connect failed for user %s", user.id)
        raise Refused("unavailable", "服务暂不可用，请稍后重连", "service unavailable, reconnect later") from None
    door = current_app.extensions.get("yingji_door")
    if door is not None:
        door.joined(current_app.extensions["socketio"].server.manager.eio_sid_from_sid(request.sid, NAMESPACE))
    log.info("board connected: user %s (%s) in %s", user.id, user.role, ", ".join(my_rooms))
    return True


def resume(seen=None) -> list[dict] | dict:
    """Answer with the events after the numbers the board has seen, for its own rooms, oldest first.

    If some of them were purged (a board asleep for longer than RETENTION_BOARD_EVENTS_DAYS), the answer
    is {"reload": true, "messages": [...]}: the board draws itself afresh rather than miss them.
    """
    if not isinstance(seen, dict):
        return []
    mine = set(rooms(namespace=NAMESPACE)) - {request.sid}
    after: dict[str, int] = {}
    for room, seq in seen.items():
        if room not in mine:
            continue  # another department's room, or nonsense: nothing
        try:
            after[room] = max(0, int(seq))
        except (TypeError, ValueError):
            continue
    out: list[dict] = []
    gap = False
    with current_app.extensions["yingji"].sessions() as db:
        for room in sorted(after):
            found = board_events.missed(db, room, after[room])
            gap = gap or board_events.gap_after(db, room, after[room], found)
            out.extend(found)
    return {"reload": True, "messages": out} if gap else out


def ping_board(_data=None) -> dict:
    """Answer with the server's time, for the board's clock skew."""
    return {"server_time": _now_iso()}


def _error(exc: Exception):
    log.error("board event %s failed: %r", getattr(request, "event", {}).get("message"), exc, exc_info=exc)
    return None


def register(sio: SocketIO, app: Flask) -> None:
    """Put the door on an app's Socket.IO server and register the /board handlers (create_app calls it)."""
    app.extensions["yingji_door"] = Door(app, sio)
    sio.on("connect", namespace=NAMESPACE)(connect)
    sio.on("resume", namespace=NAMESPACE)(resume)
    sio.on("ping_board", namespace=NAMESPACE)(ping_board)
    sio.on_error(NAMESPACE)(_error)
