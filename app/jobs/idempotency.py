"""The scheduler's purge of the API's idempotency keys: an answer is kept 24 hours, then deleted."""
from __future__ import annotations

import logging

from app.extensions import Yingji
from incidents.kernel.batches import drain_deletes
from incidents.records import idempotency

log = logging.getLogger("yingji.idempotency")


def purge_keys(wiring: Yingji, *, batch: int = 1000) -> int:
    """Delete the idempotency keys older than 24 hours, a bounded batch per transaction; return how many."""
    dropped = drain_deletes(wiring.sessions, idempotency.purge, now=wiring.clock.now(), batch=batch)
    if dropped:
        log.info("purged %d idempotency keys older than 24 hours", dropped)
    return dropped
