"""Complainants' personal data at rest: AES-256-GCM (default) or SM4-GCM (GB/T 39786), the key outside the database.

Each value is stored as `pii1:<key id>:<base64 of nonce, ciphertext and tag>`. The key id names the
cipher and a fingerprint of the secret ("aes256gcm:1f0c9a3e"), so every value says which key sealed
it: PII_RETIRED_KEYS keeps older keys readable, and `flask pii rotate-key` seals every value again
under PII_KEY. The column's purpose ("complaints.phone") is the GCM associated data, so a value
copied into another column or table does not open. Searches use a keyed HMAC of the value (a blind
index: "phone_hmac"), never the value itself.

Both ciphers come from `cryptography` (OpenSSL): AES-GCM everywhere, SM4-GCM where OpenSSL has SM4
(OpenSSL 1.1.1 and later; the start-up refuses PII_CIPHER=sm4 otherwise). The encryption and HMAC
keys are derived from PII_KEY with HMAC (SHA-256, or SM3 with sm4), one label each.
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.audit_keys import HmacKey
from incidents.kernel.sealed import PiiCipherError
from app.key_text import checked_key

CIPHERS = ("aes", "sm4")
PREFIX = "pii1"
_NONCE = 12
_TAG = 16


class PiiKeyError(ValueError):
    """The PII key settings cannot be used (the app refuses to start)."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh, self.message_en = message_zh, message_en


@dataclass(frozen=True)
class PiiKey:
    """One secret used with one cipher: seals and opens values, and makes blind indexes."""

    cipher: str  # aes | sm4
    secret: bytes = field(repr=False)

    @cached_property
    def _hmac(self) -> HmacKey:
        return HmacKey("sm3" if self.cipher == "sm4" else "sha256", self.secret)

    @cached_property
    def key_id(self) -> str:
        name = "sm4gcm" if self.cipher == "sm4" else "aes256gcm"
        return f"{name}:{self._hmac.derive('yingji pii key id').mac(b'')[:8]}"

    @cached_property
    def _data_key(self) -> bytes:
        key = bytes.fromhex(self._hmac.derive("yingji pii encryption").mac(b""))
        return key[:16] if self.cipher == "sm4" else key[:32]

    def _algorithm(self, key: bytes):
        return algorithms.SM4(key) if self.cipher == "sm4" else algorithms.AES(key)

    def encrypt(self, plaintext: bytes, aad: bytes, nonce: bytes | None = None) -> bytes:
        """Return nonce, ciphertext and tag of plaintext (GCM, 96-bit random nonce)."""
        nonce = nonce or os.urandom(_NONCE)
        enc = Cipher(self._algorithm(self._data_key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        body = enc.update(plaintext) + enc.finalize()
        return nonce + body + enc.tag

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Return the plaintext of nonce, ciphertext and tag; raise PiiCipherError if it does not authenticate."""
        if len(blob) < _NONCE + _TAG:
            raise PiiCipherError("a sealed value is too short")
        nonce, body, tag = blob[:_NONCE], blob[_NONCE:-_TAG], blob[-_TAG:]
        dec = Cipher(self._algorithm(self._data_key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag:
            raise PiiCipherError("a sealed value does not authenticate (wrong key, column or an edit)") from None

    def blind(self, purpose: str, value: str) -> str:
        """Return the keyed HMAC (hex) that searches use for a value of a column."""
        key = self._blind_keys.get(purpose)
        if key is None:
            key = self._blind_keys[purpose] = self._hmac.derive(f"yingji pii blind index {purpose}")
        return key.mac(value.encode("utf-8"))

    @cached_property
    def _blind_keys(self) -> dict[str, HmacKey]:
        return {}


@dataclass(frozen=True)
class PiiKeyring:
    """The key new values are sealed with, and every key an older value may name."""

    current: PiiKey
    keys: Mapping[str, PiiKey]

    def seal(self, purpose: str, value: str) -> str:
        """Return the stored form of a value of a column: encrypted under the current key."""
        blob = self.current.encrypt(value.encode("utf-8"), purpose.encode("utf-8"))
        return f"{PREFIX}:{self.current.key_id}:{base64.b64encode(blob).decode('ascii')}"

    def key_id_of(self, stored: str) -> str | None:
        """Return the key id a stored value names (None: not a sealed value)."""
        parts = stored.split(":", 3)
        return f"{parts[1]}:{parts[2]}" if len(parts) == 4 and parts[0] == PREFIX else None

    def open(self, purpose: str, stored: str) -> str:
        """Return the value a stored form holds; raise PiiCipherError for an unknown key or a broken value."""
        key_id = self.key_id_of(stored)
        if key_id is None:
            raise PiiCipherError(f"{purpose} holds a value that is not sealed")
        key = self.keys.get(key_id)
        if key is None:
            raise PiiCipherError(f"{purpose} was sealed with key {key_id}, which this server does not hold "
                                 "(add it to PII_RETIRED_KEYS)")
        try:
            blob = base64.b64decode(stored.rsplit(":", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            raise PiiCipherError(f"{purpose} holds a broken sealed value") from None
        try:
            return key.decrypt(blob, purpose.encode("utf-8")).decode("utf-8")
        except UnicodeDecodeError:
            raise PiiCipherError(f"{purpose} holds a broken sealed value") from None

    def blind(self, purpose: str, value: str) -> str:
        """Return the blind index of a value under the current key."""
        return self.current.blind(purpose, value)

    def is_current(self, stored: str | None) -> bool:
        """Tell whether a stored value is empty or sealed under the current key (nothing to rotate)."""
        return not stored or self.key_id_of(stored) == self.current.key_id




def sm4_available() -> bool:
    """Tell whether this OpenSSL has SM4-GCM."""
    try:
        PiiKey("sm4", b"0" * 32).encrypt(b"", b"")
        return True
    except Exception:  # UnsupportedAlgorithm: OpenSSL built without SM4
        return False


def keyring_from(config: Mapping) -> PiiKeyring:
    """Build the keyring from PII_KEY, PII_CIPHER and PII_RETIRED_KEYS; refuse unusable settings."""
    cipher = (config.get("PII_CIPHER") or "aes").strip().lower()
    if cipher not in CIPHERS:
        raise PiiKeyError(f"PII_CIPHER 只能是 {' 或 '.join(CIPHERS)}",
                          f"PII_CIPHER must be one of {', '.join(CIPHERS)}, not {cipher!r}")
    if cipher == "sm4" and not sm4_available():
        raise PiiKeyError("本机 OpenSSL 不支持 SM4-GCM，请改用 PII_CIPHER=aes 或升级 OpenSSL",
                          "this OpenSSL has no SM4-GCM: use PII_CIPHER=aes or a newer OpenSSL")
    current = PiiKey(cipher, checked_key(config.get("PII_KEY") or "", "PII_KEY", PiiKeyError))
    retired = [s.strip() for s in (config.get("PII_RETIRED_KEYS") or "").split(",") if s.strip()]
    keys: dict[str, PiiKey] = {}
    for secret in [current.secret] + [checked_key(s, "PII_RETIRED_KEYS", PiiKeyError) for s in retired]:
        for name in CIPHERS:
            if name == "sm4" and cipher != "sm4" and not sm4_available():
                continue
            key = PiiKey(name, secret)
            keys[key.key_id] = key
    return PiiKeyring(current, keys)
