"""Seal the audit entries that wait in the inbox into the chain (every AUDIT_SEAL_EVERY seconds).

Writers that found the chain's head busy left their entries in the inbox, committed with their
change. Each run seals them in id order, a batch per transaction (a crash rolls a batch back whole,
and the entries are still waiting), until none is left. Any number of schedulers may run it: the
head's row lock lets one seal at a time, and the next one finds what it sealed gone from the inbox.
"""
from __future__ import annotations

import logging

from app.extensions import Yingji
from incidents.records import audit

log = logging.getLogger("yingji.audit")
MAX_BATCHES = 20  # per run: a backlog larger than this is finished by the next runs


def seal_pending(wiring: Yingji, *, batch: int = audit.SEAL_BATCH) -> int:
    """Seal waiting audit entries into the chain; return how many were sealed."""
    total = 0
    for _ in range(MAX_BATCHES):
        with wiring.sessions() as session:
            result = audit.seal(session, wiring.audit_keys, batch=batch)
            session.commit()
        total += result.count
        for entry_id in result.refused:
            log.error("waiting audit entry %s was altered after it was written: not sealed (flask audit verify "
                      "reports it)", entry_id)
        if result.count + len(result.refused) < batch:
            break
    return total
