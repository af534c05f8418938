"""A Twilio-compatible stub server on 127.0.0.1 for tests: Messages and Calls, strict expectations.

Tests declare what must be sent (`expect_sms`, `expect_call`); at teardown the `twilio_stub`
fixture fails the test unless every expected message came exactly once and nothing else came.
The stub also signs callbacks the way Twilio does, for the webhooks.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stub-auth-token"
FROM_NUMBER = "+15005550006"
CREATE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<resource>Messages|Calls)\.json$")
KIND = {"Messages": "sms", "Calls": "voice"}


@dataclass
class Received:
    """One request the stub got."""

    method: str
    path: str
    kind: str  # sms | voice | other
    params: dict[str, str]
    authorized: bool
    status: int = 0
    sid: str | None = None

    @property
    def to(self) -> str | None:
        return self.params.get("To")

    @property
    def content(self) -> str:
        """Return what the recipient gets: the SMS body or the call's TwiML."""
        return self.params.get("Body") or self.params.get("Twiml") or ""


@dataclass
class Expectation:
    """A message a test requires to be sent exactly once."""

    kind: str
    to: str | None = None
    contains: str | None = None
    path: str | None = None  # for kind "other"
    seen: list[Received] = field(default_factory=list)

    def matches(self, got: Received) -> bool:
        if got.kind != self.kind:
            return False
        if self.path is not None and got.path != self.path:
            return False
        if self.to is not None and got.to != self.to:
            return False
        return self.contains is None or self.contains in got.content

    def __str__(self) -> str:
        bits = [self.kind] + [f"{k}={v!r}" for k, v in (("to", self.to), ("contains", self.contains),
                                                           ("path", self.path)) if v is not None]
        return " ".join(bits)


def describe(got: Received) -> str:
    """Return a short line about a request, for failure messages."""
    return f"{got.method} {got.path} {got.kind} to={got.to!r} content={got.content[:60]!r}"


def unmet(expectations: list[Expectation], received: list[Received]) -> list[str]:
    """Return every problem: an expected message missing or repeated, or anything unexpected or unauthorized."""
    problems = []
    for exp in expectations:
        exp.seen = []
    for got in received:
        if not got.authorized:
            problems.append(f"unauthorized request: {describe(got)}")
            continue
        fresh = next((e for e in expectations if not e.seen and e.matches(got)), None)
        if fresh is not None:
            fresh.seen.append(got)
            continue
        again = next((e for e in expectations if e.matches(got)), None)
        if again is not None:
            again.seen.append(got)
            problems.append(f"duplicate message ({again}): {describe(got)}")
        else:
            problems.append(f"unexpected message: {describe(got)}")
    problems.extend(f"expected message never came: {e}" for e in expectations if not e.seen)
    return problems


class TwilioStub:
    """A real HTTP server answering the Twilio REST API's Messages and Calls create calls."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.received: list[Received] = []
        self.expectations: list[Expectation] = []
        self.rejections: dict[str, tuple[int, str, int]] = {}  # phone -> (code, message, status)
        self.outages: list[int] = []  # HTTP statuses to answer to the next creates, in order
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- life -------------------------------------------------------------------------------
    def start(self) -> "TwilioStub":
        """Listen on a free port of 127.0.0.1 in a thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="twilio-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """Return the stub's base URL, e.g. http://127.0.0.1:40123."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def settings(self, **overrides) -> dict:
        """Return sender settings (TWILIO_*, backends) that point at this stub."""
        out = {"SMS_BACKEND": "twilio", "VOICE_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": self.account_sid,
               "TWILIO_AUTH_TOKEN": self.auth_token, "TWILIO_FROM_NUMBER": FROM_NUMBER,
               "TWILIO_API_BASE": self.base_url, "TWILIO_TIMEOUT": 5}
        out.update(overrides)
        return out

    # --- what tests declare -----------------------------------------------------------------
    def expect_sms(self, to: str | None = None, contains: str | None = None) -> Expectation:
        """Require exactly one SMS (to that phone, with that text in its body)."""
        return self._expect(Expectation("sms", to, contains))

    def expect_call(self, to: str | None = None, contains: str | None = None) -> Expectation:
        """Require exactly one call (to that phone, with that text in its TwiML)."""
        return self._expect(Expectation("voice", to, contains))

    def expect_request(self, path: str) -> Expectation:
        """Require exactly one request to another path (answered 404)."""
        return self._expect(Expectation("other", path=path))

    def _expect(self, exp: Expectation) -> Expectation:
        with self._lock:
            self.expectations.append(exp)
        return exp

    def reject(self, phone: str, code: int = 21211, message: str | None = None, status: int = 400) -> None:
        """Answer creates to this phone with Twilio's error JSON (default 21211 invalid number)."""
        self.rejections[phone] = (code, message or f"The 'To' number {phone} is not a valid phone number.", status)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next creates with these HTTP statuses (e.g. 500), whatever they ask."""
        self.outages.extend(statuses)

    def problems(self) -> list[str]:
        """Return what is wrong so far: missing, duplicate, unexpected or unauthorized messages."""
        with self._lock:
            return unmet(self.expectations, list(self.received))

    def check(self) -> None:
        """Fail unless every expected message came exactly once and nothing else came."""
        problems = self.problems()
        if problems:
            pytest.fail("Twilio stub:\n  " + "\n  ".join(problems), pytrace=False)

    # --- signed callbacks to the app --------------------------------------------------------
    def signature(self, url: str, params: dict) -> str:
        """Return the X-Twilio-Signature Twilio would send for a POST of params to url."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def callback(self, url: str, params: dict, *, client=None):
        """POST a signed form to the app: through a Flask test client when given, else over HTTP."""
        headers = {"X-Twilio-Signature": self.signature(url, params)}
        if client is not None:
            return client.post(url, data=params, headers=headers)
        return requests.post(url, data=params, headers=headers, timeout=5)

    def status_params(self, sid: str, status: str, **extra: str) -> dict:
        """Return the form of a delivery-status callback for a message (SM...) or call (CA...)."""
        got = next((r for r in self.received if r.sid == sid), None)
        base = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": FROM_NUMBER,
                "To": got.to if got else ""}
        if sid.startswith("CA"):
            base.update(CallSid=sid, CallStatus=status)
        else:
            base.update(MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status)
        base.update(extra)
        return base

    # --- answering --------------------------------------------------------------------------
    def answer(self, method: str, path: str, auth: str | None, params: dict[str, str]) -> tuple[int, dict]:
        """Record a request and return the status and JSON Twilio would answer."""
        match = CREATE.match(path) if method == "POST" else None
        authorized = auth == "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        got = Received(method, path, KIND[match["resource"]] if match else "other", params, authorized)
        with self._lock:
            self.received.append(got)
            outage = self.outages.pop(0) if self.outages and match and authorized else None
        status, body = self._reply(got, match, outage)
        got.status = status
        return status, body

    def _reply(self, got: Received, match, outage: int | None) -> tuple[int, dict]:
        if not got.authorized or (match and match["sid"] != self.account_sid):
            got.authorized = False
            return 401, _error(20003, "Authenticate", 401)
        if match is None:
            return 404, _error(20404, f"The requested resource {got.path} was not found", 404)
        if outage:
            return outage, _error(20500, "Internal Server Error", outage)
        to = got.params.get("To", "")
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400)
        if to in self.rejections:
            code, message, status = self.rejections[to]
            return status, _error(code, message, status)
        now = format_datetime(datetime.now(timezone.utc))
        n = next(self._ids)
        if got.kind == "sms":
            got.sid = f"SM{n:032x}"
            return 201, self._message(got, now)
        got.sid = f"CA{n:032x}"
        return 201, self._call(got, now)

    def _message(self, got: Received, now: str) -> dict:
        body = got.params.get("Body", "")
        units = len(body.encode("utf-16-le")) // 2
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{got.sid}.json"
        return {"sid": got.sid, "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
                "date_created": now, "date_updated": now, "date_sent": None, "direction": "outbound-api",
                "error_code": None, "error_message": None, "from": got.params.get("From"),
                "messaging_service_sid": None, "num_media": "0",
                "num_segments": str(1 if units <= 70 else -(-units // 67)), "price": None, "price_unit": "USD",
                "status": "queued", "to": got.to, "uri": uri,
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")}}

    def _call(self, got: Received, now: str) -> dict:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{got.sid}.json"
        return {"sid": got.sid, "account_sid": self.account_sid, "api_version": "2010-04-01",
                "date_created": now, "date_updated": now, "start_time": None, "end_time": None, "duration": None,
                "direction": "outbound-api", "from": got.params.get("From"),
                "from_formatted": got.params.get("From"), "to": got.to, "to_formatted": got.to,
                "status": "queued", "answered_by": None, "caller_name": None, "forwarded_from": None,
                "group_sid": None, "parent_call_sid": None, "phone_number_sid": None, "price": None,
                "price_unit": "USD", "queue_time": "0", "trunk_sid": None, "annotation": None, "uri": uri,
                "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json"),
                                     "recordings": uri.replace(".json", "/Recordings.json")}}


def _error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _handler(stub: TwilioStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = {k: v[-1] for k, v in parse_qs(raw or query, keep_blank_values=True).items()}
            status, body = stub.answer(self.command, path, self.headers.get("Authorization"), params)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def twilio_stub():
    """A started stub; at teardown, fail unless exactly the expected messages came."""
    stub = TwilioStub().start()
    try:
        yield stub
    finally:
        stub.stop()
    stub.check()
