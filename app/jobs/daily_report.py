"""The daily situation report (每日汇总) sent to leadership each morning at the plan's `reports.daily_at`.

A short job (app/scheduler.py) checks every minute whether today's report is due. The report is
keyed `daily:<date>` (app/jobs/briefings.py makes it once and notifies once), so a scheduler that
was down at the time sends it when it comes back the same day. The leaders' SMS carries the day's
numbers.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from app.extensions import Yingji
from app.jobs.briefings import SMS_UNITS, daily_time, make_and_notify, sms_units
from incidents.models import Briefing
from incidents.plan import Plan
from reports import snapshots


def job_key(day: date) -> str:
    """Return the unique key of a day's scheduled report."""
    return f"daily:{day.isoformat()}"


def due_day(plan: Plan, now: datetime) -> date | None:
    """Return today's date (plan's zone) once the daily time has come, else None."""
    local = now.astimezone(plan.tz)
    return local.date() if local.time() >= daily_time(plan) else None


def sms_text(plan: Plan, doc: dict, reference: str) -> str:
    """Return the leaders' SMS: the day's numbers in at most two segments."""
    t = doc["totals"]
    levels = "、".join(f"{b['level']['label']}{b['count']}" for b in doc["by_level"])
    day = date.fromisoformat(doc["day"])
    text = (f"【{plan.bureau}】{day.month}月{day.day}日应急每日汇总：在办事件{t['open']}起"
            f"{f'（{levels}）' if levels else ''}，超时未报{t['overdue_now']}项，当日迟报{t['late_today']}项、"
            f"漏报{t['missed_today']}项，待签收任务{t['unacknowledged']}项。详见系统每日汇总（{reference}）")
    if sms_units(text) > SMS_UNITS:
        # The level breakdown is the first thing to go; the counts leaders act on stay.
        text = text.replace(f"（{levels}）", "")
    return text


def _compose(session: Session, plan: Plan, row: Briefing, reference: str) -> tuple[str, str]:
    doc = snapshots.daily_snapshot(session, plan, day=date.fromisoformat(row.params["day"]), now=row.generated_at)
    return "daily_report", sms_text(plan, doc, reference)


def run(wiring: Yingji, settings: dict, *, day: date | None = None) -> Briefing | None:
    """Make today's report if it is due and not made yet, then notify the board and SMS the leaders once."""
    now = wiring.clock.now()
    day = day or due_day(wiring.plan, now)
    if day is None:
        return None
    return make_and_notify(wiring, settings, kind="daily", params={"day": day.isoformat()}, key=job_key(day),
                           now=now, compose=_compose)
