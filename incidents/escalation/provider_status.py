"""Delivery statuses the provider reports back (webhooks), in the order they may only advance."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.models import (
    Delivery,
)
from incidents.escalation.deliveries import pull_forward
from incidents.escalation.notices import announce


# Provider statuses in the order they can happen; a callback that goes backwards is ignored.
RANK = {"accepted": 1, "queued": 2, "sending": 3, "initiated": 3, "sent": 4, "ringing": 4, "in-progress": 5,
        "delivered": 9, "undelivered": 9, "failed": 9, "completed": 9, "busy": 9,
        "no-answer": 9, "canceled": 9, "read": 10}


GOOD_FINAL = {"delivered": "delivered", "completed": "delivered", "read": "delivered"}


BAD_FINAL = {"undelivered": "undelivered", "failed": "failed", "busy": "undelivered", "no-answer": "undelivered",
             "canceled": "undelivered"}


def apply_status(session: Session, provider_id: str, status: str, *, now: datetime, error_code: str | None = None,
                 error_message: str | None = None, ref: int | None = None) -> bool:
    """Apply a delivery-status callback; idempotent, and a status that goes backwards changes nothing.

    `ref` is the delivery the callback URL names: a status can arrive before the sender has
    recorded the provider's SID, and then the delivery is found by it and keeps the SID.
    """
    status = (status or "").strip().lower()
    if not provider_id or status not in RANK:
        return False
    d = session.scalar(select(Delivery).where(Delivery.provider_id == provider_id).with_for_update())
    if d is None and ref:
        d = session.get(Delivery, ref, with_for_update=True)
        if d is None or d.provider_id is not None or d.status != "sending":
            return False
        d.provider_id = provider_id
    if d is None:
        return False
    if RANK[status] <= RANK.get(d.provider_status or "", 0):
        return False
    if d.status in ("undelivered", "failed") and status not in BAD_FINAL:
        return False  # a late "sent" after a failure changes nothing
    d.provider_status, d.updated_at = status, now
    members = list(session.scalars(select(Delivery).where(Delivery.bundle_id == d.id)))
    if status in GOOD_FINAL:
        d.status = GOOD_FINAL[status]
    elif status in BAD_FINAL:
        d.status = BAD_FINAL[status]
        d.error_code = error_code or d.error_code
        d.error_message = error_message or f"运营商回执：{status}"
        for m in members:
            m.status, m.updated_at, m.error_code, m.error_message = d.status, now, d.error_code, d.error_message
        for x in [d, *members]:
            pull_forward(session, x, now)
    elif status == "sent":
        d.status = "sent"
    for esc in {x.escalation for x in [d, *members] if x.escalation is not None}:
        announce(session, esc, what="status", at=now)
    return True
