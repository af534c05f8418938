"""The scheduler's purge of the API's idempotency keys: an answer is kept 24 hours, then deleted."""
from __future__ import annotations

import logging

from app.extensions import Yingji
from incidents.records import idempotency

log = logging.getLogger("yingji.idempotency")


def purge_keys(wiring: Yingji) -> int:
    """Delete the idempotency keys older than 24 hours; return how many."""
    with wiring.sessions() as session:
        dropped = idempotency.purge(session, now=wiring.clock.now())
        session.commit()
    if dropped:
        log.info("purged %d idempotency keys older than 24 hours", dropped)
    return dropped
