"""The live boards' push: the app's Socket.IO server, and the emitters the board outbox hands events to.

A committed board event (incidents.records.board_events) is stored first and handed to
`Yingji.emit` after the commit. In a server process (`flask serve`, gunicorn) that is
`socketio.emit("board", message, to=room)`: with SOCKETIO_MESSAGE_QUEUE set the emit
also goes through Redis to every other server process, so a board hears it whichever
process it is connected to. A process that serves no boards (`flask scheduler`) emits
through an external emitter on the same Redis channel, or, with no queue configured, not
at all: the events stay stored and a board asks for what it missed when it resumes.
Pushing never breaks the request that caused it: errors are logged, the rows are kept.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import socketio
from flask import Flask
from flask_socketio import SocketIO
from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger("yingji.push")

# The one home of the boards' namespace and event name: the emitters here and the handlers of
# app/board/socket.py both speak them.
NAMESPACE = "/board"
EVENT = "board"
# An unreachable Redis host must not hold a request for the operating system's
# connect timeout (minutes); a refused connection fails at once anyway.
REDIS_CONNECT_TIMEOUT = 2
# How long a board's connect waits for this process to hear the Redis channel: only
# the first board after a start waits, and without it an event published by another
# process in that moment would reach neither the board nor its `hello` numbers.
LISTEN_WAIT = 3.0

Emitter = Callable[[list[dict]], None]


class RedisQueue(socketio.RedisManager):
    """python-socketio's Redis manager, able to tell when its listener hears the channel."""

    def __init__(self, url: str, *, channel: str) -> None:
        super().__init__(url, channel=channel, write_only=False)
        self.listening = threading.Event()

    def _listen(self):
        # Any message on the channel, our own probe included, proves the subscription is live.
        for data in super()._listen():
            self.listening.set()
            yield data

    def wait_listening(self, timeout: float) -> bool:
        """Return True once this process hears the channel, False after `timeout` seconds."""
        end = time.monotonic() + timeout
        while not self.listening.is_set():
            if time.monotonic() >= end:
                return False
            # Every listener ignores an unknown method; ours only needs to see something arrive.
            self._publish({"method": "yingji-probe", "host_id": self.host_id})
            self.listening.wait(0.05)
        return True


def queue_url(url: str) -> str:
    """Give a Redis URL a connect timeout unless it names one."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return url
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", str(REDIS_CONNECT_TIMEOUT))
    return urlunsplit(parts._replace(query=urlencode(query)))


def safe_url(url: str) -> str:
    """Return a queue URL fit for a log line (no password)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        parts = parts._replace(netloc=user + netloc)
    return urlunsplit(parts._replace(query=""))


def room_emitter(sio: SocketIO) -> Emitter:
    """Return an emitter that sends each message to its room; failures are logged, never raised."""

    def emit(messages: list[dict]) -> None:
        for message in messages:
            try:
                sio.emit(EVENT, message, to=message["room"], namespace=NAMESPACE)
            except Exception:  # noqa: BLE001 - the event is stored; a board gets it when it resumes
                log.exception("board push failed for %s #%s (stored; boards get it when they resume)",
                              message.get("room"), message.get("seq"))

    return emit


def stored_only(_messages: list[dict]) -> None:
    """Emit nothing: with no message queue, boards fetch stored events when they resume."""


class BoardRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, closing the connection when a board's WebSocket ends.

    Werkzeug would read on after the WebSocket, take the board's last frames for an HTTP
    request (logging a 400) and never answer the board's close, which then waits 3 s.
    """

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            if self.headers.get("Upgrade", "").lower() == "websocket":
                self.close_connection = True


def init_app(app: Flask) -> SocketIO:
    """Create the app's Socket.IO server for the boards and make it the outbox's emitter."""
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    options: dict = {
        "async_mode": "threading",  # with simple-websocket; never let it pick eventlet
        "cors_allowed_origins": None,  # same origin only (engine.io's default, said out loud)
        # Only the boards' namespace: a client asking for the default namespace "/" is refused.
        "namespaces": [NAMESPACE],
        "logger": False,
        "engineio_logger": False,
    }
    if url:
        url = queue_url(url)
        if urlsplit(url).scheme in ("redis", "rediss", "unix"):
            options["client_manager"] = RedisQueue(url, channel=app.config["SOCKETIO_CHANNEL"])
        else:  # another broker Flask-SocketIO knows (kombu, kafka, zmq)
            options.update(message_queue=url, channel=app.config["SOCKETIO_CHANNEL"])
    sio = SocketIO()
    sio.init_app(app, **options)  # registers itself as app.extensions["socketio"]
    app.extensions["yingji"].emit = room_emitter(sio)
    return sio


def use_external_emitter(app: Flask) -> str:
    """In a process that serves no boards, emit through the message queue, or not at all; say which."""
    wiring = app.extensions["yingji"]
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url:
        wiring.emit = stored_only
        return ("board push: no SOCKETIO_MESSAGE_QUEUE, so this process pushes nothing; "
                "boards fetch stored events when they resume")
    # Flask-SocketIO's "emitting from an external process": no app, a write-only queue.
    external = SocketIO(message_queue=queue_url(url), channel=app.config["SOCKETIO_CHANNEL"],
                        async_mode="threading")
    wiring.emit = room_emitter(external)
    return f"board push: through {safe_url(url)} (channel {app.config['SOCKETIO_CHANNEL']})"


def wait_listening(sio: SocketIO, timeout: float = LISTEN_WAIT) -> bool:
    """Wait until this server process hears the message queue (at once without one)."""
    manager = sio.server.manager if sio.server is not None else None
    if isinstance(manager, RedisQueue):
        if not manager.wait_listening(timeout):
            log.warning("not yet subscribed to the board channel after %.1f s; boards may resume", timeout)
            return False
    return True
