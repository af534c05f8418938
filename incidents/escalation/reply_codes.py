"""Reply codes (签收码): the random code an SMS reply must name to acknowledge an item, and replay receipts.

An item's number (A12, D7) is sequential and the same for everyone, so a reply naming it, or a bare
"1" meaning "the latest alert", could acknowledge an item the officer never saw (a captured signed
reply resent later). Each escalation instead carries a short random code, sent only to the phones
alerted about it; a reply acknowledges only items whose code it names and that were sent to the
replying phone. Every provider message or call acted on is kept by its id, so a resent webhook
changes nothing.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor
from incidents.kernel.batches import delete_batch
from incidents.kernel.masking import mask_phone
from incidents.records import audit
from incidents.models import ESC_EXHAUSTED, ESC_RUNNING, Escalation, ProviderReceipt

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: nothing two people read differently off a phone screen.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 4  # 25**4 = 390,625 codes; one phone holds a handful of open ones at most
# A code in free text: "K7QX", "收到k7qx", "1 K7QX"; Chinese characters around it are fine.
TOKEN = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]{%d})(?![A-Za-z0-9])" % LENGTH)


def new_code(session: Session) -> str:
    """Return a random reply code no open escalation holds."""
    return new_codes(session, 1)[0]


def new_codes(session: Session, count: int) -> list[str]:
    """Return `count` distinct random reply codes no open escalation holds, in one query (or a few)."""
    codes: list[str] = []
    while len(codes) < count:
        wanted = count - len(codes)
        fresh = {"".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(wanted)} - set(codes)
        taken = set(session.scalars(select(Escalation.reply_code).where(
            Escalation.reply_code.in_(fresh), Escalation.status.in_((ESC_RUNNING, ESC_EXHAUSTED)))))
        codes.extend(sorted(fresh - taken))
    return codes


def codes_in(text: str) -> list[str]:
    """Return the well-formed reply codes a reply names, upper-cased, in order, without repeats."""
    folded = unicodedata.normalize("NFKC", text or "").upper()  # full-width letters and digits too
    out: list[str] = []
    for token in TOKEN.findall(folded):
        if all(ch in ALPHABET for ch in token) and token not in out:
            out.append(token)
    return out


PROVIDER = SystemActor(name="provider")


def first_receipt(session: Session, sid: str, *, kind: str, now: datetime, phone: str | None = None) -> bool:
    """Record a provider's message or call id; return False, and audit the repeat, when it was already acted on."""
    sid = sid[:64]
    fresh = session.scalar(select(ProviderReceipt.id).where(ProviderReceipt.sid == sid)) is None
    if fresh:
        try:
            with session.begin_nested():
                session.add(ProviderReceipt(sid=sid, kind=kind, received_at=now))
        except IntegrityError:  # the same webhook delivered twice at once: the other one acts
            fresh = False
    if not fresh:
        audit.record(session, actor=PROVIDER, action="webhook.replayed", entity=kind, entity_id=sid[:40], at=now,
                     data={"phone": mask_phone(phone) if phone else None})
    return fresh


# However short a setting asks for, a receipt is kept this long: a captured signed webhook carries no
# time, so the receipt is the only thing that stops its replay.
MIN_RECEIPT_KEEP = timedelta(days=90)


def purge_receipts(session: Session, *, keep: timedelta, now: datetime, batch: int) -> int:
    """Delete at most `batch` provider receipts older than `keep` (at least MIN_RECEIPT_KEEP); return how many.

    A replayed webhook only acts on an item still open whose code it names and that was sent to that
    phone; `keep` must be longer than any item stays open. The caller commits.
    """
    cutoff = now - max(keep, MIN_RECEIPT_KEEP)
    return delete_batch(session, ProviderReceipt, ProviderReceipt.received_at < cutoff, batch=batch)
