"""The 12315 jobs of the scheduler: intake digest, surge watch, limit notices, estimates, retention purge.

Each job is short, works on rows and commits; any number of scheduler processes may run them
(the rows they claim are locked and skipped by the others, and a surge is opened once).
Wire them with one line in app/scheduler.py `build()`: `complaints.add_jobs(sched, app)`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from flask import Flask

from app.extensions import Yingji
from app.calendar import calendar_for
from incidents import calendar_notices, complaints, surge

log = logging.getLogger("yingji.complaints")

INTAKE_EVERY = timedelta(seconds=10)  # how soon the centre's board hears of new complaints
SURGE_EVERY = timedelta(minutes=1)
LIMITS_EVERY = timedelta(minutes=1)  # limits end at midnight: a minute late is on time
HOUSEKEEPING_EVERY = timedelta(hours=1)


def intake_digest(wiring: Yingji) -> int:
    """Chain the complaints received since the last run into the audit trail and tell the centre's board."""
    total = 0
    for _ in range(20):  # bounded: a backlog drains over the next runs
        with wiring.sessions() as session:
            n = complaints.chain_received(session, wiring.plan, now=wiring.clock.now())
            session.commit()
        total += n
        if n == 0:
            break
    return total


def surge_watch(wiring: Yingji) -> surge.WatchResult:
    """Run the surge watch once: open, keep or end surges; alert, link or propose; draft warnings."""
    with wiring.sessions() as session:
        result = surge.watch(session, wiring.plan, now=wiring.clock.now())
        session.commit()
    for incident_id in result.proposed:
        log.warning("complaint surge: proposed incident %s", incident_id)
    return result


def limit_notices(wiring: Yingji) -> int:
    """Tell the boards about complaint limits that are about to run out or have run out, once each."""
    with wiring.sessions() as session:
        fired = complaints.notify_limits(session, wiring.plan, now=wiring.clock.now())
        session.commit()
    return len(fired)


def housekeeping(wiring: Yingji) -> dict:
    """Recount estimated limits, erase expired personal data, drop old rate counters."""
    plan, now = wiring.plan, wiring.clock.now()
    rules = plan.complaints
    with wiring.sessions() as session:
        recounted = calendar_notices.refresh_estimates(session, plan, calendar_for(session, plan), now=now)
        erased = complaints.erase_expired(session, plan, now=now)
        longest = max(rules.submit_per_ip.window, rules.submit_per_phone.window, rules.status_per_ip.window,
                      rules.refused_per_ip.window)
        dropped = complaints.purge_rate_buckets(session, longest=longest, now=now)
        session.commit()
    if erased:
        log.info("erased the personal data of %d finished complaints past retention", erased)
    return {"recounted": recounted, "erased": erased, "rate_buckets_dropped": dropped}


def _guarded(name: str, fn, wiring: Yingji):
    def job() -> None:
        try:
            fn(wiring)
        except Exception:  # noqa: BLE001 - the rows are still there at the next run
            log.exception("%s failed", name)

    return job


def add_jobs(sched, app: Flask) -> None:
    """Add the 12315 jobs to an APScheduler: one run at a time each, late runs folded into one."""
    wiring: Yingji = app.extensions["yingji"]
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    start = datetime.now(timezone.utc)
    sched.add_job(_guarded("complaint intake digest", intake_digest, wiring), "interval",
                  seconds=INTAKE_EVERY.total_seconds(), id="yingji-complaints-intake", **common)
    sched.add_job(_guarded("complaint surge watch", surge_watch, wiring), "interval",
                  seconds=SURGE_EVERY.total_seconds(), id="yingji-complaints-surge", next_run_time=start, **common)
    sched.add_job(_guarded("complaint limit notices", limit_notices, wiring), "interval",
                  seconds=LIMITS_EVERY.total_seconds(), id="yingji-complaints-limits", next_run_time=start, **common)
    sched.add_job(_guarded("complaint housekeeping", housekeeping, wiring), "interval",
                  seconds=HOUSEKEEPING_EVERY.total_seconds(), id="yingji-complaints-housekeeping",
                  next_run_time=start + timedelta(seconds=30), **common)
