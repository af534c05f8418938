"""This bureau among the bureaus that run Yingji: its code, its signing key, and how it sends and verifies.

The code is the plan's `bureau_code`. The Ed25519 private key comes from PEER_PRIVATE_KEY (PEM or base64)
or PEER_PRIVATE_KEY_FILE; the local demo generates one in the instance folder (0600). Its public key and
fingerprint (`flask peers key`) are what the other bureaus register with `flask peers add`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, request

from app import config as config_module
from app.extensions import Yingji
from incidents.models import Peer
from incidents.response import peers
from notifiers import peer_keys, peer_signing

INBOX_MAX_BODY = peer_signing.MAX_BODY


@dataclass(frozen=True)
class Identity:
    """Who this instance signs as, and with which key."""

    code: str
    name: str
    key_id: str
    private_key: Ed25519PrivateKey

    def public_key(self) -> str:
        """Return the public key the other bureaus register (base64 of its 32 bytes)."""
        return peer_keys.public_key_to_base64(peer_keys.public_key_of(self.private_key))

    def fingerprint(self) -> str:
        """Return the fingerprint both sides read to each other before registering."""
        return peer_keys.fingerprint(peer_keys.public_key_of(self.private_key))


def _private_key_text(app: Flask) -> str:
    if app.config.get("PEER_PRIVATE_KEY"):
        return app.config["PEER_PRIVATE_KEY"]
    path = app.config.get("PEER_PRIVATE_KEY_FILE")
    if path:
        return Path(path).read_text()
    return config_module.instance_secret("peer_key", lambda: peer_keys.private_key_to_base64(
        peer_keys.generate_private_key()))


def identity(app: Flask) -> Identity:
    """Return this instance's identity (loaded once per app)."""
    found = app.extensions.get("yingji_identity")
    if found is None:
        wiring: Yingji = app.extensions["yingji"]
        key = peer_keys.load_private_key(_private_key_text(app))
        key_id = app.config.get("PEER_KEY_ID") or peer_keys.default_key_id(peer_keys.public_key_of(key))
        found = Identity(wiring.plan.bureau_code or wiring.plan.id, wiring.plan.bureau, key_id, key)
        app.extensions["yingji_identity"] = found
    return found


def verify_request(session, app: Flask, now: datetime) -> Peer:
    """Check the signature of this request from another bureau; return its registered row, or raise."""
    me = identity(app)

    def lookup(sender: str, key_id: str):
        row = peers.get(session, sender)
        if row is None:
            raise peer_signing.UnknownSender(sender)
        # A revoked bureau, or a key it no longer signs with: an unknown key.
        return row.public_key if row.key_id == key_id and row.revoked_at is None else None

    verified = peer_signing.verify(
        request.method, peer_signing.request_target(request.script_root + request.path, request.query_string),
        request.headers, request.get_data(cache=True), lookup_key=lookup, now=now,
        seen_nonce=lambda sender, nonce: peers.seen_nonce(session, sender, nonce, now=now),
        receiver_code=me.code, max_body=INBOX_MAX_BODY)
    return peers.require(session, verified.sender)


def env_key_set() -> bool:
    """Tell whether the deployment gave this instance its key (production must)."""
    return bool(os.environ.get("PEER_PRIVATE_KEY") or os.environ.get("PEER_PRIVATE_KEY_FILE"))
