"""Events for the live boards: numbered per room, kept for replay, emitted after commit.

A change queues its events on the session; at commit each gets the next sequence number
of its room and is stored, and after the commit the injected emitter pushes them. A board
that reconnects asks for what came after the last number it saw, so a dropped connection
leaves no gap.

Writers never wait on a room: at commit a writer locks the rooms' rows it can without waiting
(PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time). In a room it holds it
numbers the events others left waiting there, then its own; in a room another writer holds it
stores its events with no number (seq NULL) and returns. The room's next writer, or the
scheduler within half a second (`number_waiting`), numbers and emits them. Numbers stay
gapless and in commit order per room: only the holder of a room's lock gives them out.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.batches import delete_batch
from incidents.models import BoardEvent, BoardRoom

OVERVIEW = "overview"
_QUEUED = "yingji_board_queued"
_STORED = "yingji_board_stored"
Emitter = Callable[[list[dict]], None]


def department_room(code: str) -> str:
    """Return the room of a department's board."""
    return f"dept:{code}"


def station_room(code: str) -> str:
    """Return the room of a station's board."""
    return f"station:{code}"


def publish(session: Session, *, rooms: Iterable[str], event_name: str, payload: dict, at: datetime) -> str:
    """Queue an event for these rooms; it is numbered, stored and emitted with the commit."""
    key = uuid.uuid4().hex
    session.info.setdefault(_QUEUED, []).append((sorted(set(rooms)), event_name, payload, at, key))
    return key


def as_message(row: BoardEvent) -> dict:
    """Return a stored event as it goes over the wire."""
    return {"room": row.room, "seq": row.seq, "key": row.key, "event": row.event, "data": row.payload,
            "at": row.created_at.isoformat()}


WAITING_LIMIT = 200  # events of a room that waited, numbered by a writer that holds the room


def _lock_rooms(session: Session, rooms: list[str]) -> dict[str, BoardRoom]:
    """Lock the rooms' rows that no other writer holds (creating missing ones); return those locked."""
    query = (select(BoardRoom).where(BoardRoom.room.in_(rooms)).order_by(BoardRoom.room)
             .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    held = {r.room: r for r in session.scalars(query)}
    missing = [room for room in rooms if room not in held]
    if missing:
        existing = set(session.scalars(select(BoardRoom.room).where(BoardRoom.room.in_(missing))))
        for room in missing:
            if room in existing:
                continue  # another writer holds it: this transaction's events wait
            row = BoardRoom(room=room, last_seq=0)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                continue  # another writer created it first and holds it
            held[room] = row
    return held


def _number_waiting(session: Session, head: BoardRoom, limit: int) -> list[BoardEvent]:
    """Number the committed events of a held room that wait, oldest first."""
    rows = list(session.scalars(select(BoardEvent).where(BoardEvent.room == head.room, BoardEvent.seq.is_(None))
                                .order_by(BoardEvent.id).limit(limit)))
    for row in rows:
        head.last_seq += 1
        row.seq = head.last_seq
    return rows


def _number_queued(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT being released, not the commit
    queued = session.info.pop(_QUEUED, None)
    if not queued:
        return
    per_room: dict[str, list] = {}
    for rooms, name, payload, at, key in queued:
        for room in rooms:
            per_room.setdefault(room, []).append((name, payload, at, key))
    held = _lock_rooms(session, sorted(per_room))
    stored = session.info.setdefault(_STORED, [])  # after the SAVEPOINTs creating rooms (see install)
    for room in sorted(per_room):
        head = held.get(room)
        if head is not None:
            stored.extend(_number_waiting(session, head, WAITING_LIMIT))  # committed before this change
        for name, payload, at, key in per_room[room]:
            seq = None
            if head is not None:
                head.last_seq += 1
                seq = head.last_seq
            row = BoardEvent(room=room, seq=seq, key=key, event=name, payload=payload, created_at=at)
            session.add(row)
            if seq is not None:
                stored.append(row)
    session.flush()


def number_waiting(session: Session, *, batch: int = 500) -> int:
    """Number events that wait in rooms no other writer holds now; they are emitted when the caller commits."""
    rooms = sorted(set(session.scalars(select(BoardEvent.room).where(BoardEvent.seq.is_(None))
                                       .order_by(BoardEvent.id).limit(batch))))
    if not rooms:
        return 0
    numbered = []
    for room, head in sorted(_lock_rooms(session, rooms).items()):
        numbered.extend(_number_waiting(session, head, batch))
    session.info.setdefault(_STORED, []).extend(numbered)
    session.flush()
    return len(numbered)


def waiting(session: Session) -> int:
    """Return how many board events wait for their number."""
    return session.scalar(select(func.count()).select_from(BoardEvent).where(BoardEvent.seq.is_(None))) or 0


def install(session_factory, emitter: Emitter | None = None) -> None:
    """Number queued events at commit and hand them to the emitter once committed."""
    event.listen(session_factory, "before_commit", _number_queued)

    def _after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # SQLAlchemy fires after_commit when a SAVEPOINT is released too
        stored = session.info.pop(_STORED, None)
        if stored and emitter is not None:
            emitter([as_message(r) for r in stored])

    def _after_rollback(session: Session) -> None:
        session.info.pop(_QUEUED, None)
        session.info.pop(_STORED, None)

    event.listen(session_factory, "after_commit", _after_commit)
    # Only the whole transaction's rollback drops the events; a SAVEPOINT rolled back (a
    # room's row created by another writer first) keeps them.
    event.listen(session_factory, "after_soft_rollback",
                 lambda s, t: None if t.nested else _after_rollback(s))


def missed(session: Session, room: str, after_seq: int, *, limit: int = 1000) -> list[dict]:
    """Return the events of a room after a sequence number, oldest first."""
    rows = session.scalars(select(BoardEvent).where(BoardEvent.room == room, BoardEvent.seq > after_seq)
                           .order_by(BoardEvent.seq).limit(limit))
    return [as_message(r) for r in rows]


def gap_after(session: Session, room: str, after_seq: int, found: list[dict]) -> bool:
    """Tell whether events after `after_seq` were purged: the board cannot catch up and must reload."""
    first = found[0]["seq"] if found else None
    if first is not None:
        return first > after_seq + 1
    last = session.scalar(select(BoardRoom.last_seq).where(BoardRoom.room == room)) or 0
    return last > after_seq  # numbered since, and none of it is kept


def purge(session: Session, *, now: datetime, keep: timedelta, batch: int) -> int:
    """Delete at most `batch` stored events older than `keep`; return how many (the rooms' numbers stay).

    Events are how boards catch up after a dropped connection, not the record (that is the audit trail
    and the rows themselves); a board asking for purged events is told to reload instead.
    """
    return delete_batch(session, BoardEvent, BoardEvent.created_at < now - keep, batch=batch)


def last_seqs(session: Session, rooms: Iterable[str]) -> dict[str, int]:
    """Return the latest sequence number of each room (0 for a room with no events yet)."""
    rooms = list(rooms)
    found = dict(session.execute(select(BoardRoom.room, BoardRoom.last_seq).where(BoardRoom.room.in_(rooms))).all())
    return {room: found.get(room, 0) for room in rooms}
