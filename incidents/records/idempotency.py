"""Idempotency keys: the first answer to a client's POST, kept 24 hours, given again to a retry.

A client that did not hear the answer (a dropped connection, a timeout) sends the same request with
the same `Idempotency-Key` and gets the first answer back; nothing is done twice. The key is the
caller's own (per user, or per address for the public intake), and belongs to one request only.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.batches import delete_batch
from incidents.kernel.errors import Conflict, DomainError, InvalidInput
from incidents.models import IdempotencyKey

KEEP = timedelta(hours=24)
MAX_KEY = 200


class KeyReused(DomainError):
    """The key was already used with another request."""

    status = 422


@dataclass(frozen=True)
class Answer:
    """A stored first answer."""

    status: int
    content_type: str
    body: str


def check_key(key: str) -> str:
    """Return the key if it is 1..200 visible ASCII characters; refuse it otherwise."""
    if not key or len(key) > MAX_KEY or not all("!" <= c <= "~" for c in key):
        raise InvalidInput("bad_idempotency_key", f"Idempotency-Key 须为 1 至 {MAX_KEY} 个可见 ASCII 字符（建议使用 UUID）",
                           f"Idempotency-Key must be 1..{MAX_KEY} visible ASCII characters (a UUID is best)",
                           field="Idempotency-Key")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Return what identifies a request: SHA-256 of its method, path with query, and body."""
    digest = hashlib.sha256()
    for part in (method.encode("ascii", "replace"), path.encode("utf-8", "surrogatepass"), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def begin(session: Session, *, scope: str, key: str, fingerprint_: str, now: datetime) -> Answer | int:
    """Return the stored answer to replay, or reserve the key and return its row id (committed)."""
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    if row is not None and row.created_at <= now - KEEP:
        session.delete(row)  # expired and not purged yet: the key is free again
        session.flush()
        row = None
    if row is not None:
        if row.fingerprint != fingerprint_:
            raise KeyReused("idempotency_key_reused",
                            "该 Idempotency-Key 已用于另一个不同的请求，请为新请求换一个新的键",
                            "this Idempotency-Key was used with a different request; use a new key",
                            field="Idempotency-Key")
        if row.status is None:
            raise _in_flight()
        return Answer(row.status, row.content_type or "application/json", row.body or "")
    row = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint_, created_at=now)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same key arrived twice at once: the other one is being answered
        session.rollback()
        raise _in_flight() from None
    return row.id


def _in_flight() -> Conflict:
    return Conflict("idempotency_key_in_use", "使用该 Idempotency-Key 的请求正在处理，请稍后重试",
                    "a request with this Idempotency-Key is still being answered; retry shortly",
                    field="Idempotency-Key")


def finish(session: Session, row_id: int, *, status: int, content_type: str, body: str) -> None:
    """Keep the first answer of a reserved key (the caller commits)."""
    row = session.get(IdempotencyKey, row_id)
    if row is not None:
        row.status, row.content_type, row.body = status, content_type[:100], body


def release(session: Session, row_id: int) -> None:
    """Free a reserved key whose request was not answered in a way worth keeping (the caller commits)."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


def purge(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """Delete at most `batch` keys older than 24 hours; return how many (the caller commits)."""
    return delete_batch(session, IdempotencyKey, IdempotencyKey.created_at <= now - KEEP, batch=batch)
