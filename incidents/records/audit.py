"""The append-only audit trail: every state change, hash-chained so tampering shows."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.durations import as_utc
from incidents.models import AuditEntry, AuditHead

GENESIS = "0" * 64
_PENDING_KEY = "yingji_audit_pending"


class Actor(Protocol):
    """Whoever does something: a user row or a system actor."""

    id: int
    name: str
    role: str


def canonical(data: Any) -> str:
    """Serialise data the same way every time (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(*, seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
               incident_id: int | None, data: str, prev_hash: str) -> str:
    """Return the hash of an entry from its fields and the previous entry's hash."""
    body = canonical({
        "seq": seq, "at": at.isoformat(), "actor": actor, "action": action, "entity": entity,
        "entity_id": entity_id, "incident_id": incident_id, "data": data, "prev": prev_hash,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(session: Session, *, actor: Actor, action: str, entity: str, entity_id: Any,
           at: datetime, data: dict | None = None, incident_id: int | None = None) -> None:
    """Queue an audit entry; it is chained and written when the session commits."""
    session.info.setdefault(_PENDING_KEY, []).append({
        "actor_id": actor.id if actor.id and actor.id > 0 else None,
        "actor": f"{actor.role}:{actor.name}",
        "action": action, "entity": entity, "entity_id": entity_id, "at": as_utc(at),
        "data": data or {}, "incident_id": incident_id,
    })


def _chain_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT being released fires before_commit too; chain at the real commit
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    session.flush()  # ids of new rows are known only now
    head_query = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.execute(head_query).scalar_one_or_none()
    if head is None:
        try:
            # The first writer ever creates the head; a concurrent first writer waits, fails
            # here, and then locks the row the other one committed.
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass
        head = session.execute(head_query.execution_options(populate_existing=True)).scalar_one()
    for item in pending:
        entity_id = item["entity_id"]
        entity_id = str(entity_id() if callable(entity_id) else entity_id)
        incident_id = item["incident_id"]
        incident_id = incident_id() if callable(incident_id) else incident_id
        seq = head.seq + 1
        data = canonical(item["data"])
        fields = dict(seq=seq, at=item["at"], actor=item["actor"], action=item["action"], entity=item["entity"],
                      entity_id=entity_id, incident_id=incident_id, data=data, prev_hash=head.hash)
        digest = entry_hash(**fields)
        session.add(AuditEntry(actor_id=item["actor_id"], hash=digest, **fields))
        head.seq, head.hash = seq, digest
    session.flush()


def install(session_factory: Any) -> None:
    """Make sessions of this factory write queued audit entries when they commit."""
    event.listen(session_factory, "before_commit", _chain_pending)


def discard_pending(session: Session) -> None:
    """Forget queued entries of a transaction that is being rolled back."""
    session.info.pop(_PENDING_KEY, None)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain: how many entries, and what is wrong."""

    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyResult:
    """Recompute the whole chain and report every broken link, gap or altered entry."""
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 1, 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next entry is {row.seq})")
        if row.prev_hash != prev:
            problems.append(f"entry {row.seq} does not follow the entry before it")
        digest = entry_hash(seq=row.seq, at=row.at, actor=row.actor, action=row.action, entity=row.entity,
                            entity_id=row.entity_id, incident_id=row.incident_id, data=row.data,
                            prev_hash=row.prev_hash)
        if digest != row.hash:
            problems.append(f"entry {row.seq} was altered after it was written")
        prev, expected_seq = row.hash, row.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
        problems.append(f"the chain ends at entry {expected_seq - 1} but was written up to entry {head.seq}")
    if head is None and count:
        problems.append("the chain's head record is missing")
    return VerifyResult(count, tuple(problems))
