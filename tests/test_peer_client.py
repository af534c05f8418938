"""The peer client against a real HTTP server on 127.0.0.1 that verifies as a receiving bureau would."""
from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timezone

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from notifiers import peer_keys as pk
from notifiers import peer_signing as ps
from notifiers.peer_client import PermanentPeerError, TransientPeerError, post

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
SENDER, RECEIVER = "410100-scj", "410122-scj"
KEY_ID = "k2026"
PRIVATE = pk.generate_private_key()
PAYLOAD = {"kind": "report", "title": "城关镇第一小学学生集体食物中毒", "seq": 2, "message_id": "m-1"}


class Receiver:
    """A receiving bureau in miniature: checks the signature, then answers as the path asks."""

    def __init__(self) -> None:
        self.ring = ps.KeyRing()
        self.ring.register(SENDER, KEY_ID, pk.public_key_to_base64(PRIVATE))
        self.nonces = ps.NonceCache(lambda: NOW)
        self.received: list[tuple[str, dict]] = []
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.endswith("/busy"):
            answer = Response(json.dumps({"code": "busy"}), 503, {"Retry-After": "120"}, mimetype="application/json")
        elif request.path.endswith("/slow"):
            self.release.wait(10)
            answer = Response("{}", 200, mimetype="application/json")
        elif request.path.endswith("/limited"):
            answer = Response("slow down", 429, {"Retry-After": "Fri, 20 Nov 2026 01:00:30 GMT"})
        elif request.path.endswith("/moved"):
            answer = Response("", 302, {"Location": "/elsewhere"})
        elif request.path.endswith("/invalid"):
            answer = Response(json.dumps({"code": "invalid_fields"}), 400, mimetype="application/json")
        else:
            answer = self.inbox(request)
        return answer(environ, start_response)

    def inbox(self, request: Request) -> Response:
        target = ps.request_target(request.script_root + request.path, request.query_string)
        try:
            verified = ps.verify(request.method, target, request.headers, request.get_data(),
                                 lookup_key=self.ring.lookup, now=NOW, seen_nonce=self.nonces.seen,
                                 receiver_code=RECEIVER)
        except ps.PeerAuthError as exc:
            return Response(json.dumps(exc.as_dict(), ensure_ascii=False), exc.status, mimetype="application/json")
        payload = json.loads(request.get_data())
        self.received.append((verified.sender, payload))
        return Response(json.dumps({"accepted": payload["message_id"], "path": target}), 201,
                        mimetype="application/json")


@pytest.fixture
def peer():
    """The receiving bureau's server on a random port of 127.0.0.1; yields (receiver, base URL)."""
    receiver = Receiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver, f"http://127.0.0.1:{server.server_port}"
    receiver.release.set()
    server.shutdown()
    thread.join(5)


def send(url, path="/api/v1/peer/messages", payload=PAYLOAD, **kwargs):
    args = dict(sender=SENDER, recipient=RECEIVER, key_id=KEY_ID, private_key=PRIVATE, timeout=5, now=NOW)
    return post(url, path, payload, **{**args, **kwargs})


def test_a_signed_payload_is_delivered_once_and_answered(peer):
    receiver, url = peer
    status, answer = send(url)
    assert status == 201 and answer["accepted"] == "m-1"
    assert receiver.received == [(SENDER, PAYLOAD)]


def test_a_path_prefix_of_the_base_url_is_signed_with_the_path(peer):
    receiver, url = peer
    status, answer = send(url + "/yingji/", "/api/v1/peer/messages?x=1")
    assert status == 201 and answer["path"] == "/yingji/api/v1/peer/messages?x=1"


def test_a_refused_signature_is_permanent_and_carries_the_peers_code(peer):
    receiver, url = peer
    with pytest.raises(PermanentPeerError) as caught:
        send(url, private_key=pk.generate_private_key())
    exc = caught.value
    assert not exc.transient and exc.status == 401 and exc.code == "peer_refused"
    assert exc.body["code"] == "peer_bad_signature" and "peer_bad_signature" in exc.message_en
    assert receiver.received == []


def test_a_request_for_another_bureau_is_permanent(peer):
    _, url = peer
    with pytest.raises(PermanentPeerError) as caught:
        send(url, recipient="410181-scj")
    assert caught.value.status == 421 and caught.value.body["code"] == "peer_wrong_recipient"


def test_a_clock_too_far_off_is_refused_permanently(peer):
    _, url = peer
    with pytest.raises(PermanentPeerError) as caught:
        send(url, now=datetime(2026, 11, 20, 0, 50, tzinfo=timezone.utc))
    assert caught.value.body["code"] == "peer_stale_timestamp"


def test_a_503_is_transient_and_passes_on_retry_after(peer):
    _, url = peer
    with pytest.raises(TransientPeerError) as caught:
        send(url, "/busy")
    exc = caught.value
    assert exc.transient and exc.status == 503 and exc.retry_after == 120 and exc.code == "peer_busy"
    assert exc.body == {"code": "busy"}


def test_a_429_is_transient_with_a_dated_retry_after(peer):
    _, url = peer
    with pytest.raises(TransientPeerError) as caught:
        send(url, "/limited")
    assert caught.value.status == 429 and caught.value.retry_after == 30 and caught.value.body is None


@pytest.mark.parametrize("path,status", [("/invalid", 400), ("/moved", 302)])
def test_other_4xx_and_redirects_are_permanent(peer, path, status):
    _, url = peer
    with pytest.raises(PermanentPeerError) as caught:
        send(url, path)
    assert caught.value.status == status


def test_no_answer_within_the_timeout_is_transient(peer):
    receiver, url = peer
    with pytest.raises(TransientPeerError) as caught:
        send(url, "/slow", timeout=0.3)
    receiver.release.set()
    assert caught.value.code == "peer_timeout"


def test_a_refused_connection_is_transient():
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientPeerError) as caught:
        send(f"http://127.0.0.1:{port}")
    assert caught.value.code == "peer_unreachable" and caught.value.status is None
    assert "无法连接" in caught.value.message_zh


@pytest.mark.parametrize("url,path", [("ftp://127.0.0.1", "/x"), ("127.0.0.1:80", "/x"), ("http://127.0.0.1", "x")])
def test_a_malformed_url_is_permanent(url, path):
    with pytest.raises(PermanentPeerError) as caught:
        send(url, path)
    assert caught.value.code == "peer_bad_url"
