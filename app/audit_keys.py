"""The audit chain's keys: HMAC-SHA256 (default) or HMAC-SM3 (GB/T 39786), the key outside the database.

A key's version names its algorithm and a fingerprint of the secret ("hmac-sm3:1f0c9a3e"), so an
entry says which key chained it without revealing anything about the key. The keyring holds the
current key under both algorithms and every retired key, so switching AUDIT_HMAC or rotating
AUDIT_KEY leaves the older entries verifiable.

SM3 (GB/T 32905-2016) comes from OpenSSL through hashlib when the system's OpenSSL has it (about
4 µs an entry), else from `gmssl`, pure Python (about 6 ms an entry: fine for a county bureau's
trail, but it is paid under the chain's row lock). HMAC over gmssl's SM3 is RFC 2104 with SM3's
64-byte block, written out here because gmssl has no streaming hash object for `hmac`; the tests
check the two give the same answers.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Mapping

from gmssl import sm3
from app.key_text import checked_key

ALGORITHMS = ("sha256", "sm3")
_BLOCK = 64  # SHA-256 and SM3 both hash 64-byte blocks


class AuditKeyError(ValueError):
    """The audit key settings cannot be used (the app refuses to start)."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh, self.message_en = message_zh, message_en


def sm3_digest(data: bytes) -> bytes:
    """Return the SM3 digest of data."""
    return bytes.fromhex(sm3.sm3_hash(list(data)))


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    """Return HMAC-SM3 (RFC 2104 with SM3) of message under key."""
    if len(key) > _BLOCK:
        key = sm3_digest(key)
    key = key.ljust(_BLOCK, b"\0")
    inner = sm3_digest(bytes(b ^ 0x36 for b in key) + message)
    return sm3_digest(bytes(b ^ 0x5C for b in key) + inner)


def _openssl_has_sm3() -> bool:
    try:
        return hashlib.new("sm3", b"abc").hexdigest() == SM3_ABC
    except ValueError:
        return False


SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905-2016 A.1
OPENSSL_SM3 = _openssl_has_sm3()


def _raw_mac(algorithm: str, secret: bytes, message: bytes) -> bytes:
    if algorithm == "sm3":
        return hmac.new(secret, message, "sm3").digest() if OPENSSL_SM3 else hmac_sm3(secret, message)
    return hmac.new(secret, message, hashlib.sha256).digest()


def fingerprint(secret: bytes) -> str:
    """Return a short public name for a secret (an HMAC of a fixed label: reveals nothing of it)."""
    return hmac.new(secret, b"yingji audit key id", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class HmacKey:
    """A secret with an algorithm; `mac` signs bytes for the audit chain."""

    algorithm: str
    secret: bytes = field(repr=False)

    @property
    def version(self) -> str:
        return f"hmac-{self.algorithm}:{fingerprint(self.secret)}"

    def mac(self, body: bytes) -> str:
        """Return the hex HMAC of body."""
        return _raw_mac(self.algorithm, self.secret, body).hex()

    def derive(self, label: str) -> HmacKey:
        """Return a key for another use (the exported heads), derived so the two never sign alike."""
        return HmacKey(self.algorithm, _raw_mac(self.algorithm, self.secret, label.encode("utf-8")))


@dataclass(frozen=True)
class AuditKeyring:
    """The key new entries are chained with, and every key an older entry may name."""

    current: HmacKey
    keys: Mapping[str, HmacKey]

    def get(self, version: str) -> HmacKey | None:
        """Return the key of a version, or None if this server does not hold it."""
        return self.keys.get(version)




def keyring_from(config: Mapping) -> AuditKeyring:
    """Build the keyring from AUDIT_KEY, AUDIT_HMAC and AUDIT_RETIRED_KEYS; refuse unusable settings."""
    algorithm = (config.get("AUDIT_HMAC") or "sha256").strip().lower()
    if algorithm not in ALGORITHMS:
        raise AuditKeyError(f"AUDIT_HMAC 只能是 {' 或 '.join(ALGORITHMS)}",
                            f"AUDIT_HMAC must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    current = HmacKey(algorithm, checked_key(config.get("AUDIT_KEY") or "", "AUDIT_KEY", AuditKeyError))
    retired = [s.strip() for s in (config.get("AUDIT_RETIRED_KEYS") or "").split(",") if s.strip()]
    keys: dict[str, HmacKey] = {}
    for secret in [current.secret] + [checked_key(s, "AUDIT_RETIRED_KEYS", AuditKeyError) for s in retired]:
        for name in ALGORITHMS:
            key = HmacKey(name, secret)
            keys[key.version] = key
    return AuditKeyring(current, keys)
