"""Signed requests between Yingji instances: the round trip, every refusal, and the keys (no app, no flask)."""
from __future__ import annotations

import base64
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifiers import peer_keys as pk
from notifiers import peer_signing as ps
from notifiers.peer_signing import (BadSignature, BodyTooLarge, DigestMismatch, FutureTimestamp, KeyRing, Malformed,
                                    NonceCache, PeerAuthError, ReplayedNonce, StaleTimestamp, UnknownKey,
                                    UnknownSender, Unsigned, WrongRecipient)
from tests.conftest import repo_root

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
SENDER, RECEIVER, OTHER = "410100-scj", "410122-scj", "410181-scj"
KEY_ID = "k2026"
TARGET = "/api/v1/peer/messages"
BODY = ps.canonical_json({"kind": "report", "title": "城关镇第一小学学生集体食物中毒", "seq": 2})
PRIVATE = pk.generate_private_key()


@pytest.fixture
def clock():
    """The time the nonce cache reads, moved by the tests."""
    return {"now": NOW}


@pytest.fixture
def ring():
    ring = KeyRing()
    ring.register(SENDER, KEY_ID, pk.public_key_to_base64(PRIVATE))
    return ring


@pytest.fixture
def check(ring, clock):
    """verify() as the receiving bureau calls it, with its key ring and nonce cache."""
    nonces = NonceCache(lambda: clock["now"])

    def run(headers, body=BODY, *, method="POST", target=TARGET, now=NOW, receiver=RECEIVER, **kwargs):
        return ps.verify(method, target, headers, body, lookup_key=ring.lookup, now=now,
                         seen_nonce=nonces.seen, receiver_code=receiver, **kwargs)
    return run


def signed(body=BODY, *, target=TARGET, method="POST", now=NOW, sender=SENDER, recipient=RECEIVER,
           key_id=KEY_ID, key=PRIVATE, nonce=None):
    return ps.sign(method, target, body, sender=sender, recipient=recipient, key_id=key_id, private_key=key,
                   now=now, nonce=nonce)


# --- the round trip ------------------------------------------------------------------------------
def test_a_signed_request_verifies_and_names_its_sender(check):
    headers = signed()
    assert set(headers) == {"X-Yingji-Sender", "X-Yingji-Recipient", "X-Yingji-Key", "X-Yingji-Timestamp",
                            "X-Yingji-Nonce", "X-Yingji-Signature", "Content-Digest"}
    assert headers["X-Yingji-Timestamp"] == str(int(NOW.timestamp()))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", headers["X-Yingji-Nonce"])  # 128 random bits
    assert re.fullmatch(r"sha-256=:[A-Za-z0-9+/]{43}=:", headers["Content-Digest"])
    assert len(base64.b64decode(headers["X-Yingji-Signature"])) == 64
    verified = check(headers)
    assert verified.sender == SENDER and verified.key_id == KEY_ID and verified.recipient == RECEIVER
    assert verified.nonce == headers["X-Yingji-Nonce"]


def test_header_names_are_read_in_any_case(check):
    assert check({k.lower(): v for k, v in signed().items()}).sender == SENDER


def test_every_request_gets_a_new_nonce():
    assert len({signed()["X-Yingji-Nonce"] for _ in range(50)}) == 50


def test_an_empty_body_is_signed_too(check):
    assert check(signed(b""), b"").sender == SENDER
    with pytest.raises(DigestMismatch):
        check(signed(b""), b"{}")


def test_the_path_is_compared_percent_decoded_and_the_query_as_sent(check):
    headers = signed(target="/api/v1/peer/%E6%B6%88%E6%81%AF?after=3&kind=report")
    assert check(headers, target="/api/v1/peer/消息?after=3&kind=report").sender == SENDER
    assert ps.request_target("/api/v1/peer/消息", b"after=3") == "/api/v1/peer/消息?after=3"
    assert ps.request_target("/x", b"") == "/x"


def test_canonical_json_sorts_keys_keeps_chinese_and_has_no_spaces():
    assert ps.canonical_json({"b": 1, "a": ["甲", None]}) == '{"a":["甲",null],"b":1}'.encode("utf-8")
    with pytest.raises(ValueError):
        ps.canonical_json({"x": float("nan")})


def test_the_signed_string_has_one_field_a_line():
    text = ps.signing_string("post", "/p?q=1", recipient="R", sender="S", key_id="K", timestamp="1", nonce="N",
                             digest="D").decode()
    assert text.split("\n") == ["YINGJI-ED25519-V1", "POST", "/p?q=1", "R", "S", "K", "1", "N", "D"]


# --- refusals ------------------------------------------------------------------------------------
def refused(check, error: type[PeerAuthError], headers, **kwargs) -> PeerAuthError:
    with pytest.raises(error) as caught:
        check(headers, **kwargs)
    assert type(caught.value) is error
    return caught.value


def test_an_unsigned_request_is_refused(check):
    exc = refused(check, Unsigned, {"Content-Type": "application/json"})
    assert exc.status == 401 and exc.as_dict() == {"code": "peer_unsigned", "message": "请求未签名",
                                                    "message_en": "the request is not signed"}


@pytest.mark.parametrize("name,value", [
    ("X-Yingji-Nonce", None), ("X-Yingji-Nonce", "short"), ("X-Yingji-Timestamp", "1.5e9"),
    ("X-Yingji-Timestamp", None), ("X-Yingji-Sender", "a b"), ("X-Yingji-Sender", "410100\nX"),
    ("X-Yingji-Key", ""), ("X-Yingji-Recipient", None), ("Content-Digest", "sha-256=abc"),
    ("Content-Digest", None), ("X-Yingji-Signature", "not base64!"),
    ("X-Yingji-Signature", base64.b64encode(b"x" * 63).decode()),
])
def test_a_missing_or_malformed_header_is_refused(check, name, value):
    headers = signed()
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    exc = refused(check, Malformed, headers)
    assert exc.code == "peer_malformed" and name in exc.message_en


class Pairs:
    """Headers as a server hands them over: a list of pairs, a name may come twice."""

    def __init__(self, pairs):
        self.pairs = pairs

    def items(self):
        return iter(self.pairs)


def test_a_header_given_twice_with_two_values_is_refused(check):
    headers = signed()
    pairs = list(headers.items()) + [("x-yingji-sender", OTHER)]
    refused(check, Malformed, Pairs(pairs))
    assert check(Pairs(list(headers.items()) + [("x-yingji-sender", SENDER)])).sender == SENDER


def test_an_unknown_sender_is_refused(check):
    stranger = pk.generate_private_key()
    exc = refused(check, UnknownSender, signed(sender="999999-scj", key=stranger))
    assert exc.code == "peer_unknown_sender" and "发送单位未登记" in exc.message_zh


def test_an_unknown_key_id_is_refused(check):
    refused(check, UnknownKey, signed(key_id="k2025"))


def test_a_revoked_key_is_refused(check, ring):
    headers = signed()
    ring.revoke(SENDER, KEY_ID)
    assert refused(check, UnknownKey, headers).code == "peer_unknown_key"


def test_a_lookup_answering_none_means_an_unknown_key(check):
    headers = signed()
    with pytest.raises(UnknownKey):
        ps.verify("POST", TARGET, headers, BODY, lookup_key=lambda s, k: None, now=NOW,
                  seen_nonce=lambda s, n: False, receiver_code=RECEIVER)


def test_a_signature_by_another_key_is_refused(check):
    refused(check, BadSignature, signed(key=pk.generate_private_key()))


def test_a_second_key_of_the_sender_works_once_registered(check, ring):
    new = pk.generate_private_key()
    ring.register(SENDER, "k2027", new.public_key())
    assert check(signed(key=new, key_id="k2027")).key_id == "k2027"
    assert check(signed()).key_id == KEY_ID  # the old one too, until revoked


def test_a_tampered_body_is_a_digest_mismatch(check):
    tampered = BODY.replace("第一".encode(), "第二".encode())
    exc = refused(check, DigestMismatch, signed(), body=tampered)
    assert exc.code == "peer_digest_mismatch"


def test_a_tampered_body_with_its_own_digest_breaks_the_signature(check):
    tampered = BODY.replace(b'"seq":2', b'"seq":3')
    headers = {**signed(), "Content-Digest": ps.content_digest(tampered)}
    refused(check, BadSignature, headers, body=tampered)


@pytest.mark.parametrize("change", [
    {"target": "/api/v1/peer/commands"}, {"target": TARGET + "?x=1"}, {"method": "PUT"},
])
def test_a_tampered_path_query_or_method_breaks_the_signature(check, change):
    refused(check, BadSignature, signed(), **change)


@pytest.mark.parametrize("name,value", [
    ("X-Yingji-Timestamp", str(int(NOW.timestamp()) - 1)),
    ("X-Yingji-Nonce", "A" * 22),
    ("X-Yingji-Key", "k2026b"),
])
def test_a_tampered_signed_header_breaks_the_signature(check, ring, name, value):
    ring.register(SENDER, "k2026b", PRIVATE.public_key())  # so the changed key id is found
    refused(check, BadSignature, {**signed(), name: value})


def test_a_request_for_another_bureau_is_refused_here(check):
    headers = signed(recipient=OTHER)
    exc = refused(check, WrongRecipient, headers)
    assert exc.status == 421 and OTHER in exc.message_en
    # Relabelled for this bureau, its signature no longer holds.
    refused(check, BadSignature, {**headers, "X-Yingji-Recipient": RECEIVER})


def test_a_replayed_request_is_refused(check):
    headers = signed()
    check(headers)
    exc = refused(check, ReplayedNonce, headers)
    assert exc.code == "peer_replayed_nonce"


def test_the_same_nonce_from_two_senders_is_two_requests(check, ring):
    other = pk.generate_private_key()
    ring.register(OTHER, KEY_ID, other.public_key())
    nonce = "n" * 22
    check(signed(nonce=nonce))
    assert check(signed(sender=OTHER, key=other, nonce=nonce)).sender == OTHER


def test_a_refused_request_does_not_use_up_its_nonce(check):
    headers = signed()
    refused(check, DigestMismatch, headers, body=b"{}")
    assert check(headers).sender == SENDER


def test_a_replay_after_the_nonce_is_forgotten_is_stale(check, clock):
    headers = signed()
    check(headers)
    later = NOW + timedelta(seconds=2 * ps.MAX_SKEW + 1)
    clock["now"] = later
    refused(check, StaleTimestamp, headers, now=later)


@pytest.mark.parametrize("seconds", [-300, 0, 300])
def test_a_clock_skew_of_five_minutes_either_way_is_accepted(check, seconds):
    assert check(signed(now=NOW + timedelta(seconds=seconds))).sender == SENDER


def test_a_request_signed_over_five_minutes_ago_is_stale(check):
    exc = refused(check, StaleTimestamp, signed(now=NOW - timedelta(seconds=301)))
    assert exc.code == "peer_stale_timestamp" and "301 s" in exc.message_en


def test_a_request_from_over_five_minutes_ahead_is_refused(check):
    exc = refused(check, FutureTimestamp, signed(now=NOW + timedelta(seconds=301)))
    assert exc.code == "peer_future_timestamp"


def test_the_skew_allowed_is_a_parameter(check):
    headers = signed(now=NOW - timedelta(seconds=61))
    refused(check, StaleTimestamp, headers, max_skew=60)


def test_an_oversized_body_is_refused_before_anything_else(check):
    big = b"x" * (ps.MAX_BODY + 1)
    exc = refused(check, BodyTooLarge, {}, body=big)
    assert exc.status == 413
    refused(check, BodyTooLarge, signed(BODY), body=BODY, max_body=len(BODY) - 1)


def test_signing_refuses_codes_that_could_break_the_signed_lines():
    with pytest.raises(ValueError):
        signed(sender="410100\nPOST")
    with pytest.raises(ValueError):
        signed(recipient="")


# --- keys ----------------------------------------------------------------------------------------
def test_a_private_key_survives_pem_and_base64():
    pem = pk.private_key_to_pem(PRIVATE)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    raw = pk.private_key_to_base64(PRIVATE)
    assert len(base64.b64decode(raw)) == 32
    for text in (pem, pem.encode(), raw, raw + "\n"):
        again = pk.load_private_key(text)
        assert pk.public_key_to_base64(again) == pk.public_key_to_base64(PRIVATE)


@pytest.mark.parametrize("text", ["", "not a key", base64.b64encode(b"x" * 31).decode(),
                                  "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_a_bad_private_key_is_a_value_error(text):
    with pytest.raises(ValueError):
        pk.load_private_key(text)


def test_a_pem_key_of_another_type_is_refused():
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="Ed25519"):
        pk.load_private_key(other)


def test_the_public_key_and_its_fingerprint():
    public = pk.public_key_to_base64(PRIVATE)
    assert len(base64.b64decode(public)) == 32
    fp = pk.fingerprint(PRIVATE)
    assert re.fullmatch(r"([0-9A-F]{4} ){15}[0-9A-F]{4}", fp)
    assert fp == pk.fingerprint(PRIVATE.public_key()) == pk.fingerprint(public)
    assert fp == pk.fingerprint(base64.b64decode(public))
    assert fp != pk.fingerprint(pk.generate_private_key())
    assert pk.default_key_id(PRIVATE) == "ed25519-" + fp.replace(" ", "")[:16].lower()
    with pytest.raises(ValueError):
        pk.load_public_key("AAAA")


def test_the_signing_modules_load_without_flask_or_the_app():
    code = ("import sys, notifiers.peer_keys, notifiers.peer_signing, notifiers.peer_client, notifiers.mail\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug', 'app'))\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_an_encrypted_pem_is_a_value_error():
    pem = PRIVATE.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(b"pass"))
    with pytest.raises(ValueError):
        pk.load_private_key(pem)
