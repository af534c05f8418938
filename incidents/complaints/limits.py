"""The statutory limits in working days: when they run out, their state, and the boards' warning."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from incidents.kernel.calendar import WorkdayCalendar, add_working_days
from incidents.kernel.moments import at_local, local_day
from incidents.models import (
    PENDING,
    ComplaintLimitRow,
)
from incidents.plan import ComplaintLimit, Plan


@dataclass(frozen=True)
class LimitTiming:
    """When a limit runs out and when it starts to show as about to."""

    starts_on: date
    due_on: date
    due_at: datetime
    warn_at: datetime
    estimated: bool
    note: str | None


def limit_timing(plan: Plan, calendar: WorkdayCalendar, rule: ComplaintLimit, started: datetime) -> LimitTiming:
    """Count a limit from the day its event happened: due at the end of its last working day."""
    start = local_day(plan.tz, started)
    due = add_working_days(calendar, start, rule.working_days)
    due_at = at_local(plan.tz, due.day + timedelta(days=1))
    if rule.warn_working_days:
        # Shown from the start of the day that leaves `warn_working_days` working days, that day included.
        warn = add_working_days(calendar, start, rule.working_days - rule.warn_working_days + 1)
        warn_at = at_local(plan.tz, warn.day)
    else:
        warn_at = due_at
    return LimitTiming(start, due.day, due_at, warn_at, due.estimated, due.note)


def limit_state(row: ComplaintLimitRow, now: datetime) -> str:
    """Return running, warn or overdue for a pending limit; else its stored status."""
    if row.status != PENDING:
        return row.status
    if now >= row.due_at:
        return "overdue"
    return "warn" if now >= row.warn_at else "running"
