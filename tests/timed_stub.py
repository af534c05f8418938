"""The Twilio stub (tests/twilio_stub.py) with receive times, answer latency and held answers.

For tests and benchmarks that run real scheduler processes against the stub:
* every request gets `received_at` (time.time(), the wall clock the schedulers also read);
* `latency` (a function returning seconds) delays each answer after the request is recorded,
  as a real provider takes a while, so that a kill can land while a message is in flight;
* `hold(phone)` keeps the answers to creates for that phone back until `release()`: the
  request is recorded (the message went out) but the sender never hears back, which is
  what a process killed between handing a message over and recording the answer leaves.
A client that died while its answer was held makes the answer fail to write; that is
expected and kept quiet.
"""
from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer
from typing import Callable

from tests.twilio_stub import Received, TwilioStub, _handler

HOLD_LIMIT = 60.0  # seconds; a held answer is released after this whatever the test does


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the schedulers' sending threads connect at once

    def handle_error(self, request, client_address) -> None:
        pass  # a client killed with SIGKILL leaves a broken pipe; nothing to report


class TimedStub(TwilioStub):
    """A TwilioStub that notes when each request came and can answer late, or not until released."""

    def __init__(self, *args, latency: Callable[[], float] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.latency = latency
        self._held: dict[str, threading.Event] = {}

    def start(self) -> "TimedStub":
        """Listen on a free port of 127.0.0.1 in a thread (many connections at once)."""
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="twilio-stub", daemon=True).start()
        return self

    def hold(self, phone: str) -> None:
        """Record creates to this phone but keep their answers back until release()."""
        self._held[phone] = threading.Event()

    def release(self) -> None:
        """Let every held answer go."""
        for event in self._held.values():
            event.set()

    def answer(self, method: str, path: str, auth: str | None, params: dict[str, str]) -> tuple[int, dict]:
        """Record the request (with its time), then answer after the latency or the hold."""
        status, body = super().answer(method, path, auth, params)
        held = self._held.get(params.get("To", ""))
        if held is not None:
            held.wait(HOLD_LIMIT)
        elif self.latency is not None:
            time.sleep(max(0.0, self.latency()))
        return status, body

    def _reply(self, got: Received, match, outage):
        got.received_at = time.time()  # type: ignore[attr-defined] - set on every request
        return super()._reply(got, match, outage)

    def sent(self) -> list[Received]:
        """Return the messages and calls the stub accepted (authorized creates answered 201)."""
        with self._lock:
            return [r for r in self.received if r.kind in ("sms", "voice") and r.sid]
