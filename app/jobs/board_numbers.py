"""Number and push the board events that wait for their number (every BOARD_NUMBER_EVERY, half a second).

A writer that found a board room held by another writer stored its events with no number rather
than wait (incidents/records/board_events.py). The room's next writer numbers them; this job does
it when no other writer comes, and the commit pushes them to the boards (through the message queue
from a scheduler of its own). Any number of schedulers may run it: a room held by one is skipped.
"""
from __future__ import annotations

import logging

from app.extensions import Yingji
from incidents.records import board_events

log = logging.getLogger("yingji.board")
MAX_BATCHES = 20  # per run


def number_waiting(wiring: Yingji, *, batch: int = 500) -> int:
    """Number the waiting board events of rooms no writer holds, and push them; return how many."""
    total = 0
    for _ in range(MAX_BATCHES):
        with wiring.sessions() as session:
            count = board_events.number_waiting(session, batch=batch)
            session.commit()
        total += count
        if count < batch:
            break
    return total
