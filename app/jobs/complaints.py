"""The 12315 jobs of the scheduler: intake digest, surge watch, limit notices, estimates, retention purge.

Each job is short, works on rows and commits; any number of scheduler processes may run them
(the rows they claim are locked and skipped by the others, and a surge is opened once).
app/scheduler.py `add_complaint_jobs` says how often each runs; `flask complaints jobs` runs them once.
"""
from __future__ import annotations

import logging
from functools import partial

from app.extensions import Yingji
from app.calendar import calendar_for
from incidents import complaints
from incidents.complaints import calendar_notices, surge, verification
from incidents.kernel.batches import drain_deletes

log = logging.getLogger("yingji.complaints")


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


def longest_rate_window(wiring: Yingji):
    """Return the longest window of the plan's 12315 rate limits (counters twice that old are dropped)."""
    rules = wiring.plan.complaints
    return max(rules.submit_per_ip.window, rules.submit_per_phone.window, rules.status_per_ip.window,
               rules.refused_per_ip.window)


def purge_rate_buckets(wiring: Yingji, *, batch: int = 1000) -> int:
    """Drop the rate counters twice the longest window old, a bounded batch per transaction; return how many."""
    return drain_deletes(wiring.sessions, partial(complaints.purge_rate_buckets, longest=longest_rate_window(wiring)),
                         now=wiring.clock.now(), batch=batch)


def purge_challenges(wiring: Yingji, *, batch: int = 1000) -> int:
    """Drop verification codes and used captchas a day past expiry, a bounded batch per transaction."""
    return drain_deletes(wiring.sessions, verification.purge_challenges, now=wiring.clock.now(), batch=batch)


def housekeeping(wiring: Yingji) -> dict:
    """Recount estimated limits, erase expired personal data, drop old rate counters and verification codes."""
    plan, now = wiring.plan, wiring.clock.now()
    with wiring.sessions() as session:
        recounted = calendar_notices.refresh_estimates(session, plan, calendar_for(session, plan), now=now)
        erased = complaints.erase_expired(session, plan, now=now)
        session.commit()
    dropped = purge_rate_buckets(wiring)
    challenges = purge_challenges(wiring)
    if erased:
        log.info("erased the personal data of %d finished complaints past retention", erased)
    return {"recounted": recounted, "erased": erased, "rate_buckets_dropped": dropped,
            "challenges_dropped": challenges}
