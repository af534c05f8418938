"""The /board Socket.IO namespace: who may connect, which rooms they hear, and replay of what they missed.

Protocol (the browser boards are written against it):
- connect with `auth={"token": "<api token>"}`, or with the browser's login session cookie;
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

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, rooms

from app.push import NAMESPACE, wait_listening
from incidents.records import board_events
from incidents.records.board_events import OVERVIEW, department_room, station_room
from incidents.models import User
from incidents.kernel.roles import ADMIN, COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, STATION, VIEWER
from incidents.people.users import user_by_token

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


def _user(sessions, auth) -> User | None:
    # A token, when given, decides alone (as the API's Bearer header does); else the login session.
    token = auth.get("token") if isinstance(auth, dict) else None
    with sessions() as db:
        if token:
            return user_by_token(db, str(token))
        user_id = session.get("user_id")
        user = db.get(User, user_id) if isinstance(user_id, int) else None
        return user if user is not None and user.active else None


def _now_iso() -> str:
    return current_app.extensions["yingji"].clock.now().isoformat()


def connect(auth=None):
    """Admit a board with a valid token or login session into its rooms, and greet it with `hello`."""
    wiring = current_app.extensions["yingji"]
    try:
        user = _user(wiring.sessions, auth)
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
    log.info("board connected: user %s (%s) in %s", user.id, user.role, ", ".join(my_rooms))
    return True


def resume(seen=None) -> list[dict]:
    """Answer with the events after the numbers the board has seen, for its own rooms, oldest first."""
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
    with current_app.extensions["yingji"].sessions() as db:
        for room in sorted(after):
            out.extend(board_events.missed(db, room, after[room]))
    return out


def ping_board(_data=None) -> dict:
    """Answer with the server's time, for the board's clock skew."""
    return {"server_time": _now_iso()}


def _error(exc: Exception):
    log.error("board event %s failed: %r", getattr(request, "event", {}).get("message"), exc, exc_info=exc)
    return None


def register(sio: SocketIO) -> None:
    """Register the /board handlers on an app's Socket.IO server (create_app calls it)."""
    sio.on("connect", namespace=NAMESPACE)(connect)
    sio.on("resume", namespace=NAMESPACE)(resume)
    sio.on("ping_board", namespace=NAMESPACE)(ping_board)
    sio.on_error(NAMESPACE)(_error)
