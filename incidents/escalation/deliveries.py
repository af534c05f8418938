"""Handing deliveries to the senders, throttled and bundled per phone, and keeping what the provider answered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from incidents.kernel.batches import claim
from incidents.escalation import messages
from incidents.kernel.durations import as_utc
from incidents.models import (
    ESC_RUNNING,
    Delivery,
)
from incidents.plan import DeliveryRules
from incidents.escalation.channels import ALERT, SMS, VOICE
from incidents.escalation.lifecycle import OPEN
from incidents.escalation.notices import BAD, OUT, announce, item_code, item_title


SEND_LEASE = timedelta(minutes=2)
CLAIM_LOCK = 0x59_4A_53_4D  # "YJSM": the advisory lock key of the SMS and call claim  # a delivery still `sending` after this was cut off mid-send


@dataclass(frozen=True)
class Outgoing:
    """One SMS or call to one phone, carrying one delivery or a bundle of them."""

    delivery_id: int
    covers: tuple[int, ...]  # every delivery this message carries, the first included
    channel: str
    phone: str
    text: str


def claim_outgoing(session_factory: sessionmaker, *, now: datetime, rules: DeliveryRules,
                   batch: int = 500) -> list[Outgoing]:
    """Claim the deliveries due to go out: throttle per phone, bundle what waits together, mark them sending."""
    with session_factory() as session:
        # One claimer at a time (PostgreSQL: a transaction-scoped advisory lock): with row locks alone, two
        # schedulers could each claim one of a phone's two due messages and send both instead of one bundle.
        serialise_claims(session)
        _expire_stale(session, now)
        stmt = (select(Delivery).where(Delivery.status.in_(("pending", "held")), Delivery.next_attempt_at <= now,
                                       Delivery.channel.in_((SMS, VOICE)))
                .order_by(Delivery.id).limit(batch).options(selectinload(Delivery.escalation)))
        due = claim(session, stmt, of=Delivery)
        # The throttle windows of every phone in the batch, in one query.
        windows: dict[tuple[str, str], list[datetime]] = {}
        phones = {d.phone for d in due if d.phone}
        if phones:
            for phone, channel, sent_at in session.execute(
                    select(Delivery.phone, Delivery.channel, func.coalesce(Delivery.sent_at, Delivery.claimed_at))
                    .where(Delivery.phone.in_(phones), Delivery.bundle_id.is_(None), Delivery.status.in_(OUT),
                           func.coalesce(Delivery.sent_at, Delivery.claimed_at) > now - rules.window)
                    .order_by(func.coalesce(Delivery.sent_at, Delivery.claimed_at))):
                # A message in the provider's hands right now (`sending`) counts from its claim.
                windows.setdefault((phone, channel), []).append(as_utc(sent_at))
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for d in due:
            if d.purpose == ALERT and d.escalation is not None and d.escalation.status not in OPEN:
                d.status, d.updated_at = "cancelled", now
                continue
            groups.setdefault((d.phone, d.channel), []).append(d)
        out = []
        for (phone, channel), rows in groups.items():
            limit = rules.max_sms if channel == SMS else rules.max_calls
            recent = windows.get((phone, channel), [])
            if len(recent) >= limit:
                # Hold them all until the oldest message in the window ages out; then one bundle goes.
                free_at = recent[0] + rules.window
                for d in rows:
                    d.status, d.next_attempt_at, d.updated_at = "held", free_at, now
                continue
            out.append(_claim(session, rows, channel=channel, phone=phone, now=now))
        session.commit()
        return out


def serialise_claims(session: Session) -> None:
    """Hold the claim lock until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})


def _claim(session: Session, rows: list[Delivery], *, channel: str, phone: str, now: datetime) -> Outgoing:
    carrier, rest = rows[0], rows[1:]
    if rest:
        alerts = [d for d in rows if d.purpose == ALERT]
        items = []
        for d in alerts:
            # The reply code is what the officer types back; an item from before reply codes shows its number.
            code = d.escalation.reply_code or item_code(d.escalation)
            if code not in (c for c, _ in items):
                items.append((code, messages.short_title(item_title(session, d.escalation))))
        text = messages.bundle_text(items, handled=len(rows) - len(alerts))
        if channel == VOICE:
            text = messages.spoken(text).replace(messages.BUNDLE_ASK, "")
        for d in rest:
            d.status, d.bundle_id, d.next_attempt_at, d.updated_at = "bundled", carrier.id, None, now
        carrier.content = text
    carrier.status, carrier.claimed_at, carrier.updated_at = "sending", now, now
    carrier.attempts += 1
    carrier.next_attempt_at = None
    return Outgoing(carrier.id, tuple(d.id for d in rows), channel, phone, carrier.content)


def _expire_stale(session: Session, now: datetime) -> None:
    for d in session.scalars(select(Delivery).where(Delivery.status == "sending",
                                                    Delivery.claimed_at < now - SEND_LEASE)):
        # The process died between claiming and recording: the message may have gone out,
        # so it is never sent again; the chain's next step follows at its time regardless.
        d.status, d.updated_at = "unknown", now
        d.error_message = "发送过程中进程中断，未知是否已发出（不重发）"
        d.sent_at = d.sent_at or d.claimed_at
        if d.escalation is not None:
            announce(session, d.escalation, what="status", at=now)


@dataclass(frozen=True)
class Result:
    """What a sender answered for one outgoing message (mirrors notifiers.base.SendResult)."""

    ok: bool
    status: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    permanent: bool = False


def record_results(session_factory: sessionmaker, results: Iterable[tuple[Outgoing, Result]], *, now: datetime,
                   rules: DeliveryRules) -> None:
    """Keep what the provider answered; retry a transient failure later; move the chain past a permanent one."""
    results = list(results)
    if not results:
        return
    with session_factory() as session:
        ids = sorted({i for out, _ in results for i in out.covers})
        loaded = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids))
                                                   .options(selectinload(Delivery.escalation)))}
        for out, res in results:
            carrier = loaded[out.delivery_id]
            members = [loaded[i] for i in out.covers if i != out.delivery_id]
            carrier.provider, carrier.updated_at = res.provider, now
            if res.ok:
                carrier.provider_id = res.provider_id
                carrier.sent_at = carrier.sent_at or now
                # Else a status callback came first and said more. `cancelled`: the item was
                # settled while this message was already in the provider's hands; it went.
                if carrier.status in ("sending", "cancelled"):
                    carrier.status, carrier.provider_status = res.status or "queued", res.status
                carrier.error_code = carrier.error_message = None
                for m in members:
                    m.sent_at, m.updated_at = now, now
                for esc in {d.escalation for d in [carrier, *members] if d.escalation is not None}:
                    announce(session, esc, what="sent", at=now)
                continue
            carrier.error_code, carrier.error_message = res.error_code, res.error_message
            retries = rules.retry_after
            if not res.permanent and carrier.attempts <= len(retries):
                wait = retries[carrier.attempts - 1]
                carrier.status, carrier.next_attempt_at = "pending", now + wait
                for m in members:  # unbundle: they go again with the next try, bundled afresh
                    m.status, m.bundle_id, m.next_attempt_at, m.updated_at = "pending", None, now + wait, now
                continue
            for d in [carrier, *members]:
                d.status, d.updated_at = "failed", now
                d.error_code, d.error_message = res.error_code, res.error_message
                pull_forward(session, d, now)
            for esc in {d.escalation for d in [carrier, *members] if d.escalation is not None}:
                announce(session, esc, what="status", at=now)
        session.commit()


def pull_forward(session: Session, d: Delivery, now: datetime) -> None:
    """When no one of a step can be reached any more, bring the chain's next step forward to now."""
    row = d.escalation
    if d.purpose != ALERT or row is None or row.status != ESC_RUNNING or d.step is None:
        return
    if row.next_step != d.step + 1:
        return  # a later step has already gone out
    siblings = session.scalars(select(Delivery).where(Delivery.escalation_id == row.id, Delivery.step == d.step))
    if all(s.status in BAD for s in siblings):
        row.next_at = min(row.next_at or now, now)
