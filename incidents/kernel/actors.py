"""Who acts: a user row, or the system itself (the scheduler, the holiday watch) for the audit trail."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor, such as the scheduler, for the audit trail."""

    name: str
    id: int = 0
    role: str = "system"
    unit: str | None = None


def actor_id(actor) -> int | None:
    """Return the user id to store for an actor; None for the system, which has no user row."""
    return actor.id if actor.id else None
