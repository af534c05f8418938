"""The append-only audit trail: every state change, hash-chained so tampering shows.

Every entry since migration 0011 is chained with an HMAC whose key lives outside the database
(the app passes a keyring in), and names the key and algorithm that chained it (`key_version`).
Entries written before then are "v0": plain SHA-256, kept verifiable as they were. Whoever can
write the database but not read the key can no longer rewrite an entry and recompute the chain;
deleting the newest entries or the whole trail shows against the heads the app exports to a file
the database account cannot write (app/audit_heads.py).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Protocol

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.durations import as_utc
from incidents.models import AuditEntry, AuditHead

GENESIS = "0" * 64
UNKEYED = "v0"  # entries chained with plain SHA-256, before the trail had a key
_PENDING_KEY = "yingji_audit_pending"
_KEYRING_KEY = "yingji_audit_keyring"


class Actor(Protocol):
    """Whoever does something: a user row or a system actor."""

    id: int
    name: str
    role: str


class ChainKey(Protocol):
    """A secret key with an algorithm: `version` names both, `mac` signs bytes (hex)."""

    version: str

    def mac(self, body: bytes) -> str:
        """Return the hex HMAC of body."""


class Keyring(Protocol):
    """The key that chains new entries, and every key that may have chained an older one."""

    current: ChainKey

    def get(self, version: str) -> ChainKey | None:
        """Return the key of a version, or None if this server does not hold it."""


def canonical(data: Any) -> str:
    """Serialise data the same way every time (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_body(*, seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
               incident_id: int | None, data: str, prev_hash: str) -> bytes:
    """Return the bytes an entry's hash or HMAC is computed over."""
    return canonical({
        "seq": seq, "at": at.isoformat(), "actor": actor, "action": action, "entity": entity,
        "entity_id": entity_id, "incident_id": incident_id, "data": data, "prev": prev_hash,
    }).encode("utf-8")


def entry_hash(*, seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
               incident_id: int | None, data: str, prev_hash: str) -> str:
    """Return the unkeyed (v0) hash of an entry from its fields and the previous entry's hash."""
    return hashlib.sha256(entry_body(seq=seq, at=at, actor=actor, action=action, entity=entity,
                                     entity_id=entity_id, incident_id=incident_id, data=data,
                                     prev_hash=prev_hash)).hexdigest()


def record(session: Session, *, actor: Actor, action: str, entity: str, entity_id: Any,
           at: datetime, data: dict | None = None, incident_id: int | None = None) -> None:
    """Queue an audit entry; it is chained and written when the session commits."""
    session.info.setdefault(_PENDING_KEY, []).append({
        "actor_id": actor.id if actor.id and actor.id > 0 else None,
        "actor": f"{actor.role}:{actor.name}",
        "action": action, "entity": entity, "entity_id": entity_id, "at": as_utc(at),
        "data": data or {}, "incident_id": incident_id,
    })


def keyring_of(session: Session) -> Keyring:
    """Return the keyring the session's factory was installed with."""
    keyring = session.info.get(_KEYRING_KEY)
    if keyring is None:
        raise RuntimeError("this session factory has no audit key: call audit.install(factory, keyring)")
    return keyring


def _chain_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT being released fires before_commit too; chain at the real commit
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    key = keyring_of(session).current  # no database round trip: the key is in memory
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
        digest = key.mac(entry_body(**fields))
        session.add(AuditEntry(actor_id=item["actor_id"], hash=digest, key_version=key.version, **fields))
        head.seq, head.hash = seq, digest
    session.flush()


def install(session_factory: Any, keyring: Keyring) -> None:
    """Make sessions of this factory chain queued audit entries with the keyring's key when they commit."""
    info = dict(session_factory.kw.get("info") or {})
    info[_KEYRING_KEY] = keyring
    session_factory.configure(info=info)
    event.listen(session_factory, "before_commit", _chain_pending)


def discard_pending(session: Session) -> None:
    """Forget queued entries of a transaction that is being rolled back."""
    session.info.pop(_PENDING_KEY, None)


@dataclass(frozen=True)
class Head:
    """A link of the chain as it stood at a time: entry `seq` had hash `hash` (seq 0: empty trail)."""

    seq: int
    hash: str
    at: datetime | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain: how many entries, its last link, and what is wrong."""

    entries: int
    problems: tuple[str, ...]
    last: Head = Head(0, GENESIS)
    unkeyed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check(rows: Iterable[AuditEntry], keyring: Keyring, *, start: Head, problems: list[str],
           keyed_since: int | None = None) -> Iterator[AuditEntry]:
    """Check each row's link, sequence number and hash or HMAC; yield the rows as they pass by."""
    prev, expected_seq = start.hash, start.seq + 1
    for row in rows:
        if row.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next entry is {row.seq})")
        if row.prev_hash != prev:
            problems.append(f"entry {row.seq} does not follow the entry before it")
        fields = dict(seq=row.seq, at=row.at, actor=row.actor, action=row.action, entity=row.entity,
                      entity_id=row.entity_id, incident_id=row.incident_id, data=row.data,
                      prev_hash=row.prev_hash)
        if row.key_version == UNKEYED:
            if keyed_since is not None:
                problems.append(f"entry {row.seq} claims to be unkeyed (v0) but follows keyed entry "
                                f"{keyed_since}: it was rewritten without the audit key")
            elif entry_hash(**fields) != row.hash:
                problems.append(f"entry {row.seq} was altered after it was written")
        else:
            keyed_since = row.seq if keyed_since is None else keyed_since
            key = keyring.get(row.key_version)
            if key is None:
                problems.append(f"entry {row.seq} was chained with key {row.key_version!r}, which this server "
                                "does not hold (set AUDIT_KEY or AUDIT_RETIRED_KEYS)")
            elif key.mac(entry_body(**fields)) != row.hash:
                problems.append(f"entry {row.seq} was altered after it was written "
                                "(its HMAC does not match the audit key)")
        prev, expected_seq = row.hash, row.seq + 1
        yield row


def verify(session: Session, keyring: Keyring | None = None, exported: Iterable[Head] = ()) -> VerifyResult:
    """Recompute the whole chain with the key, and compare it with the heads exported before.

    Report every broken link, gap, altered entry, and every exported head the trail no longer
    reaches or no longer matches (a truncated tail, a wiped trail, a chain recomputed without the key).
    """
    keyring = keyring or keyring_of(session)
    problems: list[str] = []
    expected = {}
    for head in exported:
        expected.setdefault(head.seq, head)
    count = unkeyed = 0
    last = Head(0, GENESIS)
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for row in _check(rows, keyring, start=last, problems=problems):
        count += 1
        unkeyed += row.key_version == UNKEYED
        last = Head(row.seq, row.hash)
        pinned = expected.pop(row.seq, None)
        if pinned is not None and pinned.hash != row.hash:
            problems.append(f"entry {row.seq} differs from the head exported at {_when(pinned)}: "
                            "the trail was rewritten")
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last.seq or head.hash != last.hash):
        problems.append(f"the chain ends at entry {last.seq} but was written up to entry {head.seq}")
    if head is None and count:
        problems.append("the chain's head record is missing")
    if expected:
        furthest = expected[max(expected)]
        if count == 0:
            problems.append(f"the trail is empty but entry {furthest.seq} was exported at {_when(furthest)}: "
                            "the audit trail was wiped")
        elif furthest.seq > last.seq:
            problems.append(f"the trail ends at entry {last.seq} but entry {furthest.seq} was exported at "
                            f"{_when(furthest)}: entries {last.seq + 1}–{furthest.seq} were deleted "
                            "(the trail was truncated)")
    return VerifyResult(count, tuple(problems), last, unkeyed)


def advance(session: Session, keyring: Keyring, since: Head | None) -> VerifyResult:
    """Check the entries written after an exported head (all of them if none); return the new last link.

    What the app signs and exports next: only a head reached by an intact chain is exported, so
    a forged tail never gets a signature.
    """
    problems: list[str] = []
    start = since or Head(0, GENESIS)
    keyed_since = None
    if since is not None and since.seq > 0:
        row = session.get(AuditEntry, since.seq)
        if row is None or row.hash != since.hash:
            problems.append(f"entry {since.seq} no longer matches the head exported at {_when(since)}")
            return VerifyResult(0, tuple(problems), start)
        keyed_since = None if row.key_version == UNKEYED else row.seq
    count, last = 0, start
    rows = session.execute(select(AuditEntry).where(AuditEntry.seq > start.seq).order_by(AuditEntry.seq)).scalars()
    for row in _check(rows, keyring, start=start, problems=problems, keyed_since=keyed_since):
        count += 1
        last = Head(row.seq, row.hash)
    return VerifyResult(count, tuple(problems), last)


def _when(head: Head) -> str:
    return head.at.isoformat() if head.at else "an earlier export"
