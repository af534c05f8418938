"""Drain due rows in batches, one transaction each, until a batch comes back short."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy import Select
from sqlalchemy.orm import Session, sessionmaker

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
