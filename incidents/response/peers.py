"""The other bureaus that run Yingji: where to send to them, and the key each signs its requests with."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.errors import InvalidInput, NotFound
from incidents.kernel.moments import iso
from incidents.models import Peer, PeerNonce
from incidents.records import audit

CODE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
URL = re.compile(r"^https?://[^\s/?#]+(:\d{1,5})?(/[^\s?#]*)?$")


def _checked(code: str, name: str, url: str | None) -> tuple[str, str, str | None]:
    code, name = (code or "").strip(), (name or "").strip()
    if not CODE.match(code):
        raise InvalidInput("bad_code", "单位代码须为小写字母开头的字母、数字、- 或 _（至多40个）",
                           "a peer code is lower-case letters, digits, - and _", field="code")
    if not name or len(name) > 120:
        raise InvalidInput("bad_name", "单位名称不能为空且不超过120字", "name is required (at most 120)", field="name")
    url = (url or "").strip().rstrip("/") or None
    if url is not None and (len(url) > 300 or not URL.match(url)):
        raise InvalidInput("bad_url", "地址须为 http(s)://主机[:端口][/路径]", "url must be http(s)://host[:port][/path]",
                           field="url")
    return code, name, url


def add(session: Session, *, code: str, name: str, url: str | None, key_id: str | None, public_key: str | None,
        actor, now: datetime) -> Peer:
    """Register a bureau (or update its address and key): audited with the key's id, never silently."""
    code, name, url = _checked(code, name, url)
    row = session.scalar(select(Peer).where(Peer.code == code))
    before = None
    if row is None:
        row = Peer(code=code, name=name, url=url, key_id=key_id, public_key=public_key, added_at=now)
        session.add(row)
    else:
        before = {"name": row.name, "url": row.url, "key_id": row.key_id, "revoked_at": iso(row.revoked_at)}
        row.name, row.url, row.key_id, row.public_key, row.revoked_at = name, url, key_id, public_key, None
    try:
        session.flush()
    except IntegrityError:
        raise InvalidInput("duplicate", f"单位代码 {code} 已登记", f"peer {code} exists", field="code") from None
    audit.record(session, actor=actor, action="peer.registered", entity="peer", entity_id=row.id, at=now,
                 data={"code": code, "name": name, "url": url, "key_id": key_id, "before": before})
    return row


def get(session: Session, code: str) -> Peer | None:
    """Return a registered bureau by its code (revoked ones too), or None."""
    return session.scalar(select(Peer).where(Peer.code == code)) if code and CODE.match(code) else None


def require(session: Session, code: str) -> Peer:
    """Return a registered bureau, or raise NotFound."""
    row = get(session, code)
    if row is None:
        raise NotFound("not_found", f"未登记的单位 {str(code)[:40]}", f"no peer {str(code)[:40]}")
    return row


def revoke(session: Session, code: str, *, actor, now: datetime) -> Peer:
    """Stop accepting a bureau's key (its requests are refused from now on)."""
    row = require(session, code)
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor=actor, action="peer.revoked", entity="peer", entity_id=row.id, at=now,
                     data={"code": row.code, "key_id": row.key_id})
    return row


def listed(session: Session) -> list[Peer]:
    """Return every registered bureau by code."""
    return list(session.scalars(select(Peer).order_by(Peer.code)))


def seen_nonce(session: Session, sender: str, nonce: str, *, now: datetime) -> bool:
    """Remember a signed request's nonce; tell whether it was seen before (a replay)."""
    if session.scalar(select(PeerNonce.id).where(PeerNonce.sender == sender, PeerNonce.nonce == nonce)):
        return True
    try:
        with session.begin_nested():
            session.add(PeerNonce(sender=sender, nonce=nonce[:64], seen_at=now))
    except IntegrityError:
        return True  # the same request in flight twice: the second is the replay
    return False


def purge_nonces(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Forget nonces older than the replay window (a request that old is refused by its timestamp anyway)."""
    return session.execute(delete(PeerNonce).where(PeerNonce.seen_at < now - keep)).rowcount or 0


def as_dict(row: Peer) -> dict:
    """Return a registered bureau as the CLI and API list it (the key's id, not the key)."""
    return {"code": row.code, "name": row.name, "url": row.url, "key_id": row.key_id,
            "added_at": iso(row.added_at), "revoked_at": iso(row.revoked_at)}
