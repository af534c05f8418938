"""Scheduled briefings: made once under a unique key, then a board notice and an SMS to the leaders, once.

A scheduled briefing is a `briefings` row with a unique `job_key`, so with several schedulers
(or a restart) only one makes it, and a scheduler that was down at the time makes it when it
comes back. When the PDF is stored, the board's overview gets a notice and every active leader
with a phone an SMS; `notified_at` is claimed first, so the notice and the SMS go out once.
What the notice and the SMS say is the job's own (daily_report, weekly_complaints).
"""
from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import Yingji
from incidents.kernel.actors import SystemActor
from incidents.kernel.roles import LEADER
from incidents.models import BRIEFING_FAILED, BRIEFING_PENDING, BRIEFING_READY, Briefing, User
from incidents.plan import Plan
from incidents.records import audit, board_events
from incidents.kernel.masking import mask_phone
from notifiers.base import Message
from notifiers.registry import sms_sender
from reports import store

log = logging.getLogger("yingji.daily_report")
# The audit's name for the scheduler that makes and sends the briefings, daily and weekly alike.
SCHEDULED = SystemActor(name="daily-report")
SMS_UNITS = 134  # two concatenated UCS-2 segments

# (session, plan, stored briefing, its reference) -> (what the board notice is about, the leaders' SMS)
Compose = Callable[[Session, Plan, Briefing, str], tuple[str, str]]


def daily_time(plan: Plan) -> time:
    """Return the plan's time of day for the scheduled briefings (reports.daily_at)."""
    hour, minute = (int(x) for x in plan.reports.daily_at.split(":"))
    return time(hour, minute)


def sms_units(text: str) -> int:
    """Return how many UCS-2 units an SMS text takes (a character beyond the BMP takes two)."""
    return len(text.encode("utf-16-le")) // 2


def _leaders(session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == LEADER, User.active.is_(True),
                                                   User.phone.is_not(None)).order_by(User.id)))


def make_and_notify(wiring: Yingji, settings: dict, *, kind: str, params: dict, key: str, now: datetime,
                    compose: Compose) -> Briefing | None:
    """Make the scheduled briefing under its unique key (once across schedulers), then notify once."""
    plan = wiring.plan
    with wiring.sessions() as session:
        row = session.scalar(select(Briefing).where(Briefing.job_key == key))
        if row is not None and row.notified_at is not None:
            return row
        if row is None:
            try:
                with session.begin_nested():
                    row = store.request(session, plan, kind=kind, params=params, actor=SCHEDULED, now=now,
                                        job_key=key)
            except IntegrityError:
                return None  # another scheduler made it first
        elif row.status == BRIEFING_FAILED or store.stale(row, now):
            row.status, row.started_at, row.error = BRIEFING_PENDING, None, None  # try again
        briefing_id = row.id
        session.commit()
    if store.generate(wiring.sessions, plan, briefing_id, now=wiring.clock.now) not in (BRIEFING_READY, "taken"):
        return None
    return _notify(wiring, settings, briefing_id, compose)


def _notify(wiring: Yingji, settings: dict, briefing_id: int, compose: Compose) -> Briefing | None:
    """Tell the overview board and SMS the leaders, once per report."""
    now = wiring.clock.now()
    plan = wiring.plan
    with wiring.sessions() as session:
        row = session.get(Briefing, briefing_id)
        if row is None or row.status != BRIEFING_READY:
            return None
        claimed = session.execute(update(Briefing).where(Briefing.id == briefing_id, Briefing.notified_at.is_(None))
                                  .values(notified_at=now)).rowcount
        if not claimed:
            session.rollback()
            return row
        reference = store.reference(row.id)
        what, text = compose(session, plan, row, reference)
        leaders = _leaders(session)
        board_events.publish(session, rooms={board_events.OVERVIEW}, event_name="notice",
                             payload={"what": what, "title": f"{row.title} 已生成", "text": text,
                                      "briefing_id": row.id, "href": f"/api/v1/briefings/{row.id}.pdf",
                                      "sha256": row.sha256}, at=now)
        session.commit()  # the notice is stored (and pushed) before any SMS leaves
        sent, failed = [], []
        try:
            sender = sms_sender(settings) if leaders else None
        except Exception:  # noqa: BLE001 - a broken SMS set-up must not lose the board notice
            log.exception("%s: no SMS sender", row.title)
            sender = None
            failed = [mask_phone(u.phone) for u in leaders]
        for user in leaders if sender else []:
            try:
                result = sender.send(Message(to=user.phone, text=text, reference=f"briefing:{row.id}"))
                (sent if result.ok else failed).append(mask_phone(user.phone))
            except Exception:  # noqa: BLE001 - one failed number does not stop the others
                log.exception("%s: SMS to %s failed", row.title, mask_phone(user.phone))
                failed.append(mask_phone(user.phone))
        audit.record(session, actor=SCHEDULED, action="briefing.notified", entity="briefing", entity_id=row.id, at=now,
                     data={**row.params, "sha256": row.sha256, "sms_sent": sent, "sms_failed": failed})
        session.commit()
        log.info("%s: board notice, SMS to %d leader(s), %d failed", row.title, len(sent), len(failed))
        return row
