"""Signed requests between Yingji instances: Ed25519 over a canonical string, no flask.

A sending bureau signs, with its private key, one line each of: the scheme, the method, the
path with its query, the recipient's code, its own code, the key id, the timestamp, the nonce and
the body's Content-Digest (RFC 9530). The receiving bureau has registered the sender's public key
under that key id, and `verify` checks everything before the body is trusted.

The Host header is not signed (proxies rewrite it): X-Yingji-Recipient names the bureau the request
is meant for, so a request captured on its way to one bureau is refused by every other.

The algorithm belongs to the registered key, never to the request: a later SM2-with-SM3 scheme
(GB/T 32918, GB/T 35276) would be a second SCHEME line and a key type kept with each registered key,
so no request can choose a weaker check than its key's.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from incidents.kernel.errors import DomainError
from notifiers.peer_keys import load_public_key

SCHEME = "YINGJI-ED25519-V1"
SENDER = "X-Yingji-Sender"
RECIPIENT = "X-Yingji-Recipient"
KEY_ID = "X-Yingji-Key"
TIMESTAMP = "X-Yingji-Timestamp"
NONCE = "X-Yingji-Nonce"
SIGNATURE = "X-Yingji-Signature"
DIGEST = "Content-Digest"
SIGNED_HEADERS = (SENDER, RECIPIENT, KEY_ID, TIMESTAMP, NONCE, SIGNATURE, DIGEST)

MAX_SKEW = 300  # seconds either side of the receiver's clock
MAX_BODY = 16 * 1024 * 1024  # bytes: a report with its PDF (base64) fits
# Bureau codes and key ids: ASCII, no spaces, so they cannot smuggle a line into the signed string.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,64}")  # 128 bits or more, base64url without padding
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


# --- errors --------------------------------------------------------------------------------------
class PeerAuthError(DomainError):
    """A signed request refused; `code` says why, the messages are Chinese and English."""

    status = 401
    code = "peer_unauthorised"
    zh = "请求未通过签名验证"
    en = "the request failed signature verification"

    def __init__(self, detail: str = "") -> None:
        suffix_zh, suffix_en = (f"：{detail}", f": {detail}") if detail else ("", "")
        super().__init__(self.code, self.zh + suffix_zh, self.en + suffix_en)


class Unsigned(PeerAuthError):
    """The request carries no signature."""
    code, zh, en = "peer_unsigned", "请求未签名", "the request is not signed"


class Malformed(PeerAuthError):
    """A signature header is missing, repeated or ill-formed."""
    code, zh, en = "peer_malformed", "签名请求头缺失或格式错误", "a signature header is missing or malformed"


class UnknownSender(PeerAuthError):
    """No bureau of that code is registered here."""
    code, zh, en = "peer_unknown_sender", "发送单位未登记", "the sending bureau is not registered"


class UnknownKey(PeerAuthError):
    """The sender has no current key of that id (never registered, or revoked)."""
    code, zh, en = "peer_unknown_key", "密钥未登记或已吊销", "the key is unknown or revoked"


class BadSignature(PeerAuthError):
    """The signature does not match the request."""
    code, zh, en = "peer_bad_signature", "签名验证失败", "the signature does not match"


class DigestMismatch(PeerAuthError):
    """The body is not the one the digest (and so the signature) covers."""
    code, zh, en = "peer_digest_mismatch", "请求内容摘要不符", "the body does not match its Content-Digest"


class StaleTimestamp(PeerAuthError):
    """The request was signed too long ago."""
    code, zh, en = "peer_stale_timestamp", "请求时间戳已过期", "the request timestamp is too old"


class FutureTimestamp(PeerAuthError):
    """The request claims to be signed in the future (the sender's clock is fast)."""
    code, zh, en = "peer_future_timestamp", "请求时间戳超前", "the request timestamp is in the future"


class ReplayedNonce(PeerAuthError):
    """This sender already used this nonce: the request is a replay."""
    code, zh, en = "peer_replayed_nonce", "重复的请求（随机数已使用）", "the nonce was already used (a replay)"


class WrongRecipient(PeerAuthError):
    """The request is meant for another bureau."""
    status = 421
    code, zh, en = "peer_wrong_recipient", "请求的接收单位不是本单位", "the request is meant for another bureau"


class BodyTooLarge(PeerAuthError):
    """The body is over the limit; it is not even hashed."""
    status = 413
    code, zh, en = "peer_body_too_large", "请求内容过大", "the request body is too large"


# --- the canonical string ------------------------------------------------------------------------
def canonical_json(payload: Any) -> bytes:
    """Encode a payload as canonical JSON: sorted keys, UTF-8, no spaces, no NaN."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def content_digest(body: bytes) -> str:
    """Return the Content-Digest header value of a body (RFC 9530, sha-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def request_target(path: str, query: str | bytes = "") -> str:
    """Join a path and a query string into the target as signed (the receiver passes its request's)."""
    query = query.decode("latin-1") if isinstance(query, bytes) else query
    return path + ("?" + query if query else "")


def canonical_target(target: str) -> str:
    """Normalise a path-with-query: the path percent-decoded then re-encoded, the query as sent."""
    path, mark, query = target.partition("?")
    return quote(unquote(path), safe=_PATH_SAFE) + (mark + query if query else "")


def signing_string(method: str, target: str, *, recipient: str, sender: str, key_id: str,
                   timestamp: str, nonce: str, digest: str) -> bytes:
    """Return the bytes that are signed: one field a line, in a fixed order."""
    lines = (SCHEME, method.upper(), canonical_target(target), recipient, sender, key_id, timestamp, nonce,
             digest)
    return "\n".join(lines).encode("utf-8")


# --- signing -------------------------------------------------------------------------------------
def sign(method: str, target: str, body: bytes, *, sender: str, recipient: str, key_id: str,
         private_key: Ed25519PrivateKey, now: datetime, nonce: str | None = None) -> dict[str, str]:
    """Return the headers that sign this request from `sender` to `recipient` at `now`."""
    for name, value in ((SENDER, sender), (RECIPIENT, recipient), (KEY_ID, key_id)):
        if not _CODE.fullmatch(value or ""):
            raise ValueError(f"{name} must match {_CODE.pattern}, not {value!r}")
    fields = {SENDER: sender, RECIPIENT: recipient, KEY_ID: key_id, TIMESTAMP: str(int(now.timestamp())),
              NONCE: nonce or secrets.token_urlsafe(16), DIGEST: content_digest(body)}
    message = signing_string(method, target, recipient=recipient, sender=sender, key_id=key_id,
                             timestamp=fields[TIMESTAMP], nonce=fields[NONCE], digest=fields[DIGEST])
    fields[SIGNATURE] = base64.b64encode(private_key.sign(message)).decode("ascii")
    return fields


# --- verification --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verified:
    """A request whose signature, digest, time, nonce and recipient all checked out."""

    sender: str
    key_id: str
    recipient: str
    timestamp: int
    nonce: str


LookupKey = Callable[[str, str], "Ed25519PublicKey | bytes | str | None"]
SeenNonce = Callable[[str, str], bool]


def verify(method: str, target: str, headers: Mapping[str, str] | Any, body: bytes, *,
           lookup_key: LookupKey, now: datetime, seen_nonce: SeenNonce, receiver_code: str,
           max_skew: int = MAX_SKEW, max_body: int = MAX_BODY) -> Verified:
    """Check a signed request and return who sent it, or raise a PeerAuthError saying why not.

    `target` is the path with its query as the request arrived; under Flask:
    request_target(request.script_root + request.path, request.query_string), with request.headers
    and request.get_data() (MAX_CONTENT_LENGTH caps what is read before this runs).
    `lookup_key(sender, key_id)` answers the registered public key, or None for an unknown or
    revoked key; it may raise UnknownSender. `seen_nonce(sender, nonce)` records the nonce and
    answers whether it was already recorded (atomically: a unique row); it is called last, so only
    requests that are otherwise good are remembered. Keep nonces at least 2 * max_skew seconds.
    """
    if len(body) > max_body:
        raise BodyTooLarge(f"{len(body)} > {max_body}")
    h = _headers(headers)
    if not h.get(SIGNATURE.lower()):
        raise Unsigned()
    sender, recipient, key_id = (_field(h, name, _CODE) for name in (SENDER, RECIPIENT, KEY_ID))
    timestamp, nonce = _field(h, TIMESTAMP, _TIMESTAMP), _field(h, NONCE, _NONCE)
    digest = _field(h, DIGEST, _DIGEST)
    signature = _signature(h[SIGNATURE.lower()])
    if recipient != receiver_code:
        raise WrongRecipient(recipient)
    age = now.timestamp() - int(timestamp)
    if age > max_skew:
        raise StaleTimestamp(f"{int(age)} s")
    if age < -max_skew:
        raise FutureTimestamp(f"{int(-age)} s")
    found = lookup_key(sender, key_id)
    if found is None:
        raise UnknownKey(key_id)
    try:
        public = load_public_key(found)
    except ValueError:
        raise UnknownKey(key_id) from None
    message = signing_string(method, target, recipient=recipient, sender=sender, key_id=key_id,
                             timestamp=timestamp, nonce=nonce, digest=digest)
    try:
        public.verify(signature, message)
    except InvalidSignature:
        raise BadSignature() from None
    if not secrets.compare_digest(content_digest(body), digest):
        raise DigestMismatch()
    if seen_nonce(sender, nonce):
        raise ReplayedNonce()
    return Verified(sender=sender, key_id=key_id, recipient=recipient, timestamp=int(timestamp), nonce=nonce)


def _headers(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """Lower-case the signature headers; a repeated one with two values is refused."""
    wanted = {name.lower() for name in SIGNED_HEADERS}
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key not in wanted:
            continue
        if key in out and out[key] != value:
            raise Malformed(f"{name} ×2")
        out[key] = value
    return out


def _field(h: dict[str, str], name: str, pattern: re.Pattern) -> str:
    value = h.get(name.lower())
    if value is None or not pattern.fullmatch(value):
        raise Malformed(name)
    return value


def _signature(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(SIGNATURE) from None
    if len(raw) != 64:
        raise Malformed(SIGNATURE)
    return raw


# --- reference stores (tests, one process); the inbox keeps its own in the database ---------------
class KeyRing:
    """Registered public keys per sender, in memory: `lookup` is a ready `lookup_key`."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Ed25519PublicKey]] = {}

    def register(self, sender: str, key_id: str, public_key: Ed25519PublicKey | bytes | str) -> None:
        """Register a sender's public key under a key id."""
        self._keys.setdefault(sender, {})[key_id] = load_public_key(public_key)

    def revoke(self, sender: str, key_id: str) -> None:
        """Forget one key of a sender; the sender stays registered."""
        self._keys.get(sender, {}).pop(key_id, None)

    def lookup(self, sender: str, key_id: str) -> Ed25519PublicKey | None:
        """Return the sender's key of that id, None if it has none; raise UnknownSender for a stranger."""
        if sender not in self._keys:
            raise UnknownSender(sender)
        return self._keys[sender].get(key_id)


class NonceCache:
    """Nonces seen in the last `keep` seconds, in memory: `seen` is a ready `seen_nonce`."""

    def __init__(self, clock: Callable[[], datetime], keep: float = 2 * MAX_SKEW) -> None:
        self._clock, self._keep = clock, keep
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def seen(self, sender: str, nonce: str) -> bool:
        """Record the nonce and tell whether it had been seen already."""
        now = self._clock().timestamp()
        with self._lock:
            for key in [k for k, t in self._seen.items() if t < now - self._keep]:
                del self._seen[key]
            if (sender, nonce) in self._seen:
                return True
            self._seen[(sender, nonce)] = now
            return False
