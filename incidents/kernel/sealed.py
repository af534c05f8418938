"""Columns whose values are stored encrypted (Sealed) or as a keyed HMAC (Blinded), with the key outside the database.

The domain never sees a key: the web layer puts a keyring on the engine (`install`), and these column
types seal a value as it is written and open it as it is read. Whoever reads the database alone (a
backup, a replica, a DBA) sees `pii1:<key id>:<ciphertext>`. An empty string stays empty (an erased or
absent value says nothing). A Blinded column is written with the plain value and stores its keyed
HMAC; comparing the column with a plain value (`Complaint.phone_hmac == "13812345678"`) compares HMACs.
"""
from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Engine, String, Text
from sqlalchemy.types import TypeDecorator

ATTRIBUTE = "yingji_pii_keyring"


class PiiCipherError(RuntimeError):
    """A sealed value cannot be written or read: no key installed, an unknown key, or a broken value."""


class Keyring(Protocol):
    def seal(self, purpose: str, value: str) -> str: ...
    def open(self, purpose: str, stored: str) -> str: ...
    def blind(self, purpose: str, value: str) -> str: ...


def install(engine: Engine, keyring: Keyring | None) -> None:
    """Give an engine the keyring its Sealed and Blinded columns use."""
    setattr(engine.dialect, ATTRIBUTE, keyring)


def keyring_of(dialect: Any) -> Keyring:
    """Return the keyring installed on a dialect; refuse to go on without one (never store plaintext)."""
    keyring = getattr(dialect, ATTRIBUTE, None)
    if keyring is None:
        raise PiiCipherError("no PII keyring is installed on this engine: personal data cannot be read or written")
    return keyring


class Sealed(TypeDecorator):
    """A text column stored encrypted (AES-256-GCM or SM4-GCM), its purpose the associated data."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str):
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if not value:
            return value
        return keyring_of(dialect).seal(self.purpose, value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if not value:
            return value
        return keyring_of(dialect).open(self.purpose, value)


class Blinded(TypeDecorator):
    """A column that stores the keyed HMAC of the plain value written to it (a blind index for searches)."""

    impl = String(64)
    cache_ok = True

    def __init__(self, purpose: str):
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if not value:
            return None
        return keyring_of(dialect).blind(self.purpose, value)
