"""The weekly complaints summary (每周投诉举报情况汇总) sent to leadership each Monday at the plan's daily time.

It works as the daily report does (app/jobs/briefings.py), keyed `complaints-weekly:<Monday>` for the
last full week: due from Monday at the daily time, and sent later that week by a scheduler that was
down on Monday. The leaders' SMS carries the week's numbers.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.extensions import Yingji
from app.jobs.briefings import SMS_UNITS, daily_time, make_and_notify, sms_units
from incidents.models import Briefing
from incidents.plan import Plan
from reports import weekly_snapshot


def weekly_job_key(monday: date) -> str:
    """Return the unique key of a week's scheduled complaints summary."""
    return f"complaints-weekly:{monday.isoformat()}"


def due_week(plan: Plan, now: datetime) -> date | None:
    """Return the Monday of last week once this Monday's daily time has come (plan's zone), else None."""
    local = now.astimezone(plan.tz)
    monday = weekly_snapshot.week_start(local.date())
    if local.date() == monday and local.time() < daily_time(plan):
        return None
    return monday - timedelta(days=7)


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
        if sms_units(text) <= SMS_UNITS:
            break
        text = text.replace(extra, "", 1)
    return text


def _compose(session: Session, plan: Plan, row: Briefing, reference: str) -> tuple[str, str]:
    doc = weekly_snapshot.complaints_weekly_snapshot(session, plan, monday=date.fromisoformat(row.params["week"]),
                                               now=row.generated_at)
    return "complaints_weekly", weekly_sms_text(plan, doc, reference)


def run_weekly(wiring: Yingji, settings: dict, *, monday: date | None = None) -> Briefing | None:
    """Make last week's complaints summary once it is due and not made yet, then notify the board and SMS leaders."""
    now = wiring.clock.now()
    monday = monday or due_week(wiring.plan, now)
    if monday is None:
        return None
    return make_and_notify(wiring, settings, kind="complaints_weekly", params={"week": monday.isoformat()},
                           key=weekly_job_key(monday), now=now, compose=_compose)
