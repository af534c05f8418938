"""The daily situation report (每日汇总) sent to leadership each morning at the plan's `reports.daily_at`,
and the weekly complaints summary (每周投诉举报情况汇总) each Monday at the same time.

A short job (app/scheduler.py) checks every minute whether today's report is due. The report is a `briefings`
row keyed `daily:<date>`: the key is unique, so with several schedulers (or a restart) only
one makes it, and a scheduler that was down at the time sends it when it comes back the
same day. When the PDF is stored, the board's overview gets a notice and every active
leader with a phone an SMS with the day's numbers; `notified_at` is claimed first, so the
notice and the SMS go out once.

The weekly summary works the same way, keyed `complaints-weekly:<Monday>` for the last full
week: due from Monday at the daily time, and sent later that week by a scheduler that was down
on Monday.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import Yingji
from incidents.records import audit, board_events
from incidents.models import BRIEFING_FAILED, BRIEFING_PENDING, BRIEFING_READY, Briefing, User
from incidents.plan import Plan
from incidents.kernel.roles import LEADER
from incidents.kernel.actors import SystemActor
from notifiers.base import Message, mask_phone
from notifiers.registry import sms_sender
from reports import snapshots, store

log = logging.getLogger("yingji.daily_report")
DAILY = SystemActor(name="daily-report")
SMS_UNITS = 134  # two concatenated UCS-2 segments


def job_key(day: date) -> str:
    """Return the unique key of a day's scheduled report."""
    return f"daily:{day.isoformat()}"


def weekly_job_key(monday: date) -> str:
    """Return the unique key of a week's scheduled complaints summary."""
    return f"complaints-weekly:{monday.isoformat()}"


def _daily_time(plan: Plan) -> time:
    hour, minute = (int(x) for x in plan.reports.daily_at.split(":"))
    return time(hour, minute)


def due_day(plan: Plan, now: datetime) -> date | None:
    """Return today's date (plan's zone) once the daily time has come, else None."""
    local = now.astimezone(ZoneInfo(plan.timezone))
    return local.date() if local.time() >= _daily_time(plan) else None


def due_week(plan: Plan, now: datetime) -> date | None:
    """Return the Monday of last week once this Monday's daily time has come (plan's zone), else None."""
    local = now.astimezone(ZoneInfo(plan.timezone))
    monday = snapshots.week_start(local.date())
    if local.date() == monday and local.time() < _daily_time(plan):
        return None
    return monday - timedelta(days=7)


def sms_text(plan: Plan, doc: dict, reference: str) -> str:
    """Return the leaders' SMS: the day's numbers in at most two segments."""
    t = doc["totals"]
    levels = "、".join(f"{b['level']['label']}{b['count']}" for b in doc["by_level"])
    day = date.fromisoformat(doc["day"])
    text = (f"【{plan.bureau}】{day.month}月{day.day}日应急每日汇总：在办事件{t['open']}起"
            f"{f'（{levels}）' if levels else ''}，超时未报{t['overdue_now']}项，当日迟报{t['late_today']}项、"
            f"漏报{t['missed_today']}项，待签收任务{t['unacknowledged']}项。详见系统每日汇总（{reference}）")
    if len(text.encode("utf-16-le")) // 2 > SMS_UNITS:
        # The level breakdown is the first thing to go; the counts leaders act on stay.
        text = text.replace(f"（{levels}）", "")
    return text


def weekly_sms_text(plan: Plan, doc: dict, reference: str) -> str:
    """Return the leaders' SMS for the weekly complaints summary: the week's numbers in at most two segments."""
    got, week = doc["received"], doc["week"]
    first, last = date.fromisoformat(week["monday"]), date.fromisoformat(week["sunday"])
    span = f"{first.month}月{first.day}日至{'' if last.month == first.month else f'{last.month}月'}{last.day}日"
    diff = got["total"] - doc["previous"]["total"]
    change = f"（较上周{diff:+d}）" if diff else "（与上周持平）"
    closed = sum(h["closed"] for h in doc["handled"])
    rate = f"{doc['limits_met_rate']:.0%}" if doc["limits_met_rate"] is not None else "—"
    surges = f"，投诉高峰{len(doc['surges'])}起" if doc["surges"] else ""
    text = (f"【{plan.bureau}】{span}投诉举报周汇总：收到投诉{got['complaints']}件、举报{got['tipoffs']}件{change}，"
            f"办结{closed}件，时限按时率{rate}，超期未办{doc['overdue_now']}项{surges}。详见系统投诉举报周汇总（{reference}）")
    # Too long (a long bureau name): the comparison goes first, then the surges; the figures leaders act on stay.
    for extra in (change, surges):
        if len(text.encode("utf-16-le")) // 2 <= SMS_UNITS:
            break
        text = text.replace(extra, "", 1)
    return text


def _leaders(session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == LEADER, User.active.is_(True),
                                                   User.phone.is_not(None)).order_by(User.id)))


def run(wiring: Yingji, settings: dict, *, day: date | None = None) -> Briefing | None:
    """Make today's report if it is due and not made yet, then notify the board and SMS the leaders once."""
    now = wiring.clock.now()
    day = day or due_day(wiring.plan, now)
    if day is None:
        return None
    return _send(wiring, settings, kind="daily", params={"day": day.isoformat()}, key=job_key(day), now=now)


def run_weekly(wiring: Yingji, settings: dict, *, monday: date | None = None) -> Briefing | None:
    """Make last week's complaints summary once it is due and not made yet, then notify the board and SMS leaders."""
    now = wiring.clock.now()
    monday = monday or due_week(wiring.plan, now)
    if monday is None:
        return None
    return _send(wiring, settings, kind="complaints_weekly", params={"week": monday.isoformat()},
                 key=weekly_job_key(monday), now=now)


def _send(wiring: Yingji, settings: dict, *, kind: str, params: dict, key: str, now: datetime) -> Briefing | None:
    """Make the scheduled briefing under its unique key (once across schedulers), then notify once."""
    plan = wiring.plan
    with wiring.sessions() as session:
        row = session.scalar(select(Briefing).where(Briefing.job_key == key))
        if row is not None and row.notified_at is not None:
            return row
        if row is None:
            try:
                with session.begin_nested():
                    row = store.request(session, plan, kind=kind, params=params, actor=DAILY, now=now,
                                        job_key=key)
            except IntegrityError:
                return None  # another scheduler made it first
        elif row.status == BRIEFING_FAILED or store.stale(row, now):
            row.status, row.started_at, row.error = BRIEFING_PENDING, None, None  # try again
        briefing_id = row.id
        session.commit()
    if store.generate(wiring.sessions, plan, briefing_id, now=wiring.clock.now) not in (BRIEFING_READY, "taken"):
        return None
    return _notify(wiring, settings, briefing_id)


def _notify(wiring: Yingji, settings: dict, briefing_id: int) -> Briefing | None:
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
        if row.kind == "complaints_weekly":
            doc = snapshots.complaints_weekly_snapshot(session, plan, monday=date.fromisoformat(row.params["week"]),
                                                       now=row.generated_at)
            what, text = "complaints_weekly", weekly_sms_text(plan, doc, reference)
        else:
            doc = snapshots.daily_snapshot(session, plan, day=date.fromisoformat(row.params["day"]),
                                           now=row.generated_at)
            what, text = "daily_report", sms_text(plan, doc, reference)
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
        audit.record(session, actor=DAILY, action="briefing.notified", entity="briefing", entity_id=row.id, at=now,
                     data={**row.params, "sha256": row.sha256, "sms_sent": sent, "sms_failed": failed})
        session.commit()
        log.info("%s: board notice, SMS to %d leader(s), %d failed", row.title, len(sent), len(failed))
        return row
