"""Export the audit chain's head, signed, to the append-only head file (every AUDIT_EXPORT_EVERY seconds).

Entries written after the last export can still be deleted unseen by whoever holds the database
credentials; everything up to it cannot. The job checks the entries written since the last export
before it signs the new head, and logs an error instead of exporting when they do not verify.
"""
from __future__ import annotations

import logging

from app import audit_heads
from app.extensions import Yingji

log = logging.getLogger("yingji.audit")


def export_head(wiring: Yingji, path: str) -> audit_heads.Export:
    """Check the chain since the last exported head and append the new head to the file."""
    with wiring.sessions() as session:
        result = audit_heads.export(session, wiring.audit_keys, path, wiring.clock.now())
    for problem in result.problems:
        log.error("audit trail broken, head not exported: %s", problem)
    return result
