"""The append-only audit trail: every state change, hash-chained so tampering shows.

Every entry since migration 0011 is chained with an HMAC whose key lives outside the database
(the app passes a keyring in), and names the key and algorithm that chained it (`key_version`).
Entries written before then are "v0": plain SHA-256, kept verifiable as they were. Whoever can
write the database but not read the key can no longer rewrite an entry and recompute the chain;
deleting the newest entries or the whole trail shows against the heads the app exports to a file
the database account cannot write (app/audit_heads.py).

Writers never wait on the chain's head (`audit_head`, one row). At commit a writer tries its lock
without waiting (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time and always
gets it): if it gets it, it seals the entries others left waiting and then its own, as before; if
another writer holds it, it leaves its entries in the audit inbox (`audit_inbox`), committed with
its change and each signed with an HMAC of its own, and returns. The sealer (`seal`, every half
second from the scheduler) moves what waits into the chain in id order, deleting it from the
inbox in the same transaction. `install(..., sealing="inline")` keeps the old single queue.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Protocol

from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.durations import as_utc
from incidents.models import AuditEntry, AuditHead, AuditPending

GENESIS = "0" * 64
UNKEYED = "v0"  # entries chained with plain SHA-256, before the trail had a key
_PENDING_KEY = "yingji_audit_pending"
_KEYRING_KEY = "yingji_audit_keyring"
_SEALING_KEY = "yingji_audit_sealing"
BATCHED, INLINE = "batched", "inline"
SEALINGS = (BATCHED, INLINE)
# How many waiting entries a writer that holds the head seals before its own: enough to drain what
# a burst leaves behind, few enough that the writer's own commit stays short.
INLINE_SEAL_LIMIT = 20
SEAL_BATCH = 500  # entries per sealing transaction


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


def pending_body(*, token: str, at: datetime, actor_id: int | None, actor: str, action: str, entity: str,
                 entity_id: str, incident_id: int | None, data: str) -> bytes:
    """Return the bytes a waiting entry's HMAC is computed over (never alike an entry_body: no "seq")."""
    return canonical({
        "pending": token, "at": at.isoformat(), "actor_id": actor_id, "actor": actor, "action": action,
        "entity": entity, "entity_id": entity_id, "incident_id": incident_id, "data": data,
    }).encode("utf-8")


def _pending_fields(row: AuditPending) -> dict:
    return dict(token=row.token, at=row.at, actor_id=row.actor_id, actor=row.actor, action=row.action,
                entity=row.entity, entity_id=row.entity_id, incident_id=row.incident_id, data=row.data)


def pending_intact(row: AuditPending, keyring: Keyring) -> bool:
    """Tell whether a waiting entry still carries the HMAC it was written with."""
    key = keyring.get(row.key_version)
    return key is not None and key.mac(pending_body(**_pending_fields(row))) == row.mac


def _resolved(item: dict) -> dict:
    entity_id = item["entity_id"]
    incident_id = item["incident_id"]
    return dict(at=item["at"], actor_id=item["actor_id"], actor=item["actor"], action=item["action"],
                entity=item["entity"], entity_id=str(entity_id() if callable(entity_id) else entity_id),
                incident_id=incident_id() if callable(incident_id) else incident_id, data=canonical(item["data"]))


def _lock_head(session: Session, *, wait: bool) -> AuditHead | None:
    """Lock the chain's head (creating it on the first write ever); without `wait`, None if another holds it."""
    query = select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    locking = query.with_for_update() if wait else query.with_for_update(skip_locked=True)
    head = session.execute(locking).scalar_one_or_none()
    if head is not None:
        return head
    if session.scalar(select(AuditHead.id).where(AuditHead.id == 1)) is None:
        try:
            # The first writer ever creates the head; a concurrent first writer waits for it here,
            # fails, and then tries the lock of the row the other one committed.
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass
    # Locked by another writer, or committed by one since the first look: look once more.
    head = session.execute(locking).scalar_one_or_none()
    if head is None and wait:
        raise RuntimeError("the audit chain's head row vanished while waiting for it")
    return head


def _append(session: Session, head: AuditHead, key: ChainKey, fields: dict) -> None:
    """Chain one entry after the head with the key, and move the head."""
    actor_id = fields.pop("actor_id")
    seq = head.seq + 1
    fields = dict(seq=seq, prev_hash=head.hash, **fields)
    digest = key.mac(entry_body(**fields))
    session.add(AuditEntry(actor_id=actor_id, hash=digest, key_version=key.version, **fields))
    head.seq, head.hash = seq, digest


@dataclass(frozen=True)
class Sealed:
    """What a sealing did: entries moved into the chain, and waiting entries refused (altered since written)."""

    count: int
    refused: tuple[int, ...] = ()


def _seal_waiting(session: Session, head: AuditHead, keyring: Keyring, limit: int) -> Sealed:
    """Chain up to `limit` committed waiting entries in id order and delete them from the inbox."""
    rows = list(session.scalars(select(AuditPending).order_by(AuditPending.id).limit(limit)))
    if not rows:
        return Sealed(0)
    key = keyring.current
    sealed: list[int] = []
    refused: list[int] = []
    for row in rows:
        if not pending_intact(row, keyring):
            refused.append(row.id)  # evidence that was edited while it waited: never chained as if intact
            continue
        fields = _pending_fields(row)
        fields.pop("token")
        _append(session, head, key, fields)
        sealed.append(row.id)
    for row in rows:
        session.expunge(row)
    if sealed:
        gone = session.execute(delete(AuditPending).where(AuditPending.id.in_(sealed))
                               .execution_options(synchronize_session=False)).rowcount
        if gone != len(sealed):
            # Only the holder of the head's lock deletes from the inbox: anything else is a bug or an
            # intruder, and sealing an entry twice would put it in the chain twice.
            raise RuntimeError(f"sealed {len(sealed)} waiting audit entries but deleted {gone}")
    session.flush()
    return Sealed(len(sealed), tuple(refused))


def _chain_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT being released fires before_commit too; chain at the real commit
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    keyring = keyring_of(session)
    key = keyring.current  # no database round trip: the key is in memory
    session.flush()  # ids of new rows are known only now
    items = [_resolved(item) for item in pending]
    head = _lock_head(session, wait=session.info.get(_SEALING_KEY, BATCHED) == INLINE)
    if head is None:
        # Another writer is sealing: leave the entries in the inbox, committed with this change.
        for fields in items:
            token = uuid.uuid4().hex
            mac = key.mac(pending_body(token=token, **fields))
            session.add(AuditPending(token=token, key_version=key.version, mac=mac, **fields))
        session.flush()
        return
    # What others left waiting was committed before this change: it goes first.
    _seal_waiting(session, head, keyring, INLINE_SEAL_LIMIT)
    for fields in items:
        _append(session, head, key, fields)
    session.flush()


def seal(session: Session, keyring: Keyring | None = None, *, batch: int = SEAL_BATCH) -> Sealed:
    """Seal up to `batch` waiting entries into the chain, in id order (the caller commits)."""
    keyring = keyring or keyring_of(session)
    if session.scalar(select(AuditPending.id).limit(1)) is None:
        return Sealed(0)  # nothing waits: leave the head's lock to the writers
    # The sealer may wait for the head: no writer ever waits on it (a writer that finds it locked
    # leaves its entries waiting), so only another sealer queues here, and then finds them sealed.
    head = _lock_head(session, wait=True)
    return _seal_waiting(session, head, keyring, batch)


def history(session: Session, **match: Any) -> list[AuditEntry | AuditPending]:
    """Return the sealed and still-waiting entries whose columns have these values, by time then chain order.

    An entry waits in the inbox for under a second when its writer found the head busy; a person
    reading a history sees it at once (with no seq and no hash yet), after the sealed ones of its time.
    """
    sealed = list(session.scalars(select(AuditEntry).filter_by(**match)))
    pending = list(session.scalars(select(AuditPending).filter_by(**match)))
    return sorted(sealed + pending, key=lambda r: (r.at, 0, r.seq) if r.seq is not None else (r.at, 1, r.id))


def waiting(session: Session) -> int:
    """Return how many entries wait in the inbox to be sealed."""
    return session.scalar(select(func.count()).select_from(AuditPending)) or 0


def install(session_factory: Any, keyring: Keyring, sealing: str = BATCHED) -> None:
    """Make sessions of this factory chain (or leave to be sealed) queued audit entries when they commit.

    `sealing`: "batched" (a writer never waits on the head) or "inline" (every writer waits its turn).
    """
    if sealing not in SEALINGS:
        raise ValueError(f"audit sealing must be one of {', '.join(SEALINGS)}, not {sealing!r}")
    info = dict(session_factory.kw.get("info") or {})
    info[_KEYRING_KEY] = keyring
    info[_SEALING_KEY] = sealing
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
    """The outcome of checking the chain: how many entries, its last link, and what is wrong.

    `first` is the link the check started after (seq 0 for a full check); `pending` counts the
    entries still waiting in the inbox (each checked against its own HMAC).
    """

    entries: int
    problems: tuple[str, ...]
    last: Head = Head(0, GENESIS)
    unkeyed: int = 0
    first: Head = Head(0, GENESIS)
    pending: int = 0

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


def _anchor(session: Session, start: Head, problems: list[str]) -> int | None | bool:
    """Check that the entry a partial check starts after still has the hash the checkpoint pinned.

    Return the seq of the first keyed entry known before it (None if all were unkeyed), or False if
    the anchor does not hold.
    """
    if start.seq == 0:
        return None
    row = session.get(AuditEntry, start.seq)
    if row is None or row.hash != start.hash:
        problems.append(f"entry {start.seq} no longer matches the head exported at {_when(start)}: "
                        "the trail was rewritten")
        return False
    return None if row.key_version == UNKEYED else row.seq


def check_pending(session: Session, keyring: Keyring) -> tuple[int, list[str]]:
    """Check every entry waiting in the inbox against its HMAC; return how many wait and what is wrong."""
    count, problems = 0, []
    for row in session.scalars(select(AuditPending).order_by(AuditPending.id)).yield_per(1000):
        count += 1
        if keyring.get(row.key_version) is None:
            problems.append(f"waiting entry {row.id} was signed with key {row.key_version!r}, which this "
                            "server does not hold (set AUDIT_KEY or AUDIT_RETIRED_KEYS)")
        elif not pending_intact(row, keyring):
            problems.append(f"waiting entry {row.id} (not yet sealed) was altered after it was written "
                            "(its HMAC does not match the audit key)")
    return count, problems


def verify(session: Session, keyring: Keyring | None = None, exported: Iterable[Head] = (), *,
           start: Head | None = None) -> VerifyResult:
    """Recompute the chain with the key (after `start`, a checkpoint, or all of it), and compare it with the heads.

    Report every broken link, gap, altered entry, altered waiting entry, and every exported head the
    trail no longer reaches or no longer matches (a truncated tail, a wiped trail, a chain recomputed
    without the key). From a checkpoint the cost is that of the entries after it, and the exported
    heads before it are not looked at.
    """
    keyring = keyring or keyring_of(session)
    problems: list[str] = []
    first = start or Head(0, GENESIS)
    expected = {}
    for head in exported:
        if head.seq > first.seq:
            expected.setdefault(head.seq, head)
    keyed_since = _anchor(session, first, problems)
    count = unkeyed = 0
    last = first
    if keyed_since is not False:
        rows = session.execute(select(AuditEntry).where(AuditEntry.seq > first.seq)
                               .order_by(AuditEntry.seq)).scalars().yield_per(1000)
        for row in _check(rows, keyring, start=first, problems=problems, keyed_since=keyed_since):
            count += 1
            unkeyed += row.key_version == UNKEYED
            last = Head(row.seq, row.hash)
            pinned = expected.pop(row.seq, None)
            if pinned is not None and pinned.hash != row.hash:
                problems.append(f"entry {row.seq} differs from the head exported at {_when(pinned)}: "
                                "the trail was rewritten")
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last.seq or head.hash != last.hash) and keyed_since is not False:
        problems.append(f"the chain ends at entry {last.seq} but was written up to entry {head.seq}")
    if head is None and (count or first.seq):
        problems.append("the chain's head record is missing")
    if expected:
        furthest = expected[max(expected)]
        if count == 0 and first.seq == 0:
            problems.append(f"the trail is empty but entry {furthest.seq} was exported at {_when(furthest)}: "
                            "the audit trail was wiped")
        elif furthest.seq > last.seq:
            problems.append(f"the trail ends at entry {last.seq} but entry {furthest.seq} was exported at "
                            f"{_when(furthest)}: entries {last.seq + 1}–{furthest.seq} were deleted "
                            "(the trail was truncated)")
    pending, pending_problems = check_pending(session, keyring)
    return VerifyResult(count, tuple(problems + pending_problems), last, unkeyed, first, pending)


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
