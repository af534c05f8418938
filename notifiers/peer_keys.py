"""Ed25519 keys of Yingji instances: generate, store (PEM or base64 raw), register (base64 raw), compare.

The private key lives in a 0600 file (PEM) or an environment variable (base64 of the 32 raw bytes);
the other bureau registers the public key (base64 of 32 raw bytes) under a key id, after both
sides have read its fingerprint to each other over the phone.
"""
from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def generate_private_key() -> Ed25519PrivateKey:
    """Generate a new Ed25519 private key for this instance."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey) -> str:
    """Serialise a private key as unencrypted PKCS#8 PEM (for a 0600 file)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def private_key_to_base64(key: Ed25519PrivateKey) -> str:
    """Serialise a private key as base64 of its 32 raw bytes (for an environment variable)."""
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def load_private_key(text: str | bytes) -> Ed25519PrivateKey:
    """Load a private key from PKCS#8 PEM or base64 of the 32 raw bytes; ValueError otherwise."""
    data = text.encode("ascii") if isinstance(text, str) else bytes(text)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (TypeError, UnsupportedAlgorithm) as exc:  # an encrypted PEM, or an algorithm OpenSSL lacks
            raise ValueError(f"the PEM key cannot be loaded: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_b64_exact(data, 32, "private key"))


def public_key_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    """Return the public key of a private key (or the public key itself)."""
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_to_base64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Serialise a public key as base64 of its 32 raw bytes: what the other bureau registers."""
    return base64.b64encode(_raw_public(key)).decode("ascii")


def load_public_key(value: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    """Load a public key from a key object, 32 raw bytes or their base64; ValueError otherwise."""
    if isinstance(value, Ed25519PublicKey):
        return value
    if isinstance(value, bytes) and len(value) == 32:
        return Ed25519PublicKey.from_public_bytes(value)
    data = value.encode("ascii") if isinstance(value, str) else value
    return Ed25519PublicKey.from_public_bytes(_b64_exact(data.strip(), 32, "public key"))


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey | bytes | str) -> str:
    """Return SHA-256 of the raw public key as 16 groups of 4 hex digits, to compare by phone."""
    raw = _raw_public(key if isinstance(key, (Ed25519PrivateKey, Ed25519PublicKey)) else load_public_key(key))
    digest = hashlib.sha256(raw).hexdigest().upper()
    return " ".join(digest[i:i + 4] for i in range(0, len(digest), 4))


def default_key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return a key id derived from the key: "ed25519-" and the first 16 hex digits of its fingerprint."""
    return "ed25519-" + fingerprint(key).replace(" ", "")[:16].lower()


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    return public_key_of(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64_exact(data: bytes, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the {what} is neither PEM nor base64") from None
    if len(raw) != size:
        raise ValueError(f"the {what} must be {size} bytes, not {len(raw)}")
    return raw
