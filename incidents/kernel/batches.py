"""Drain due rows in batches, one transaction each, until a batch comes back short."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Iterator, TypeVar

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
# Ids per IN list: PostgreSQL takes at most 65,535 parameters in one statement.
IN_CHUNK = 5000


def chunks(ids: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """Split ids into lists short enough for one IN (...) each, in order."""
    items = list(ids)
    for i in range(0, len(items), size):
        yield items[i:i + size]


# A batch step takes a session, the moment and the batch size; it returns (rows seen, rows acted on).
BatchStep = Callable[..., tuple[int, int]]


def drain(session_factory: sessionmaker, step: BatchStep, *, now: datetime | Callable[[], datetime],
          batch: int) -> int:
    """Run `step` on fresh sessions, committing each, until it sees fewer rows than `batch`; return the total acted on.

    `now` may be a clock function, read afresh for each batch, so that a long backlog records
    when each batch really ran.
    """
    read = now if callable(now) else (lambda: now)
    total = 0
    while True:
        with session_factory() as session:
            seen, done = step(session, now=read(), batch=batch)
            session.commit()
        total += done
        if seen < batch:
            return total




def claim(session: Session, stmt: Select, *, of=None) -> list:
    """Return the rows a batch claims; on PostgreSQL lock them, skipping rows another process holds.

    SQLite serialises writers at BEGIN IMMEDIATE, so there the plain select is the claim.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=of)
    return list(session.scalars(stmt))


def delete_batch(session: Session, model, *criteria, batch: int, key=None) -> int:
    """Delete at most `batch` rows of `model` that meet `criteria`, in one statement; return how many.

    A bounded DELETE holds its locks briefly, however large the backlog: `drain_deletes` repeats it,
    one transaction per batch. `key` is the primary key's column (or columns), `model.id` by default.
    """
    columns = key if isinstance(key, tuple) else ((key if key is not None else model.id),)
    chosen = select(*columns).where(*criteria).limit(batch)
    target = tuple_(*columns) if len(columns) > 1 else columns[0]
    result = session.execute(delete(model).where(target.in_(chosen)),
                             execution_options={"synchronize_session": False})
    return result.rowcount or 0


def drain_deletes(session_factory: sessionmaker, step: Callable[..., int], *, now: datetime, batch: int) -> int:
    """Run a bounded delete `step(session, now=, batch=)` until a batch comes back short; return the total.

    Each batch commits on a fresh session, so a purge of years of rows never holds one long lock.
    """
    def counted(session: Session, *, now: datetime, batch: int) -> tuple[int, int]:
        done = step(session, now=now, batch=batch)
        return done, done

    return drain(session_factory, counted, now=now, batch=batch)
