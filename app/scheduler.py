"""The scheduler: when each job of app/jobs runs. APScheduler only wakes the jobs; the rows say what is due.

Every job runs one at a time, a late run is folded into the next (coalesce), and a failure is
logged and tried again at the next run: the rows are still there. Any number of schedulers may
run the same jobs at once (the rows they claim are locked and skipped by the others).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.extensions import Yingji
from app.jobs import (audit_head, audit_seal, board_numbers, briefings, clocks, daily_report, holiday_watch,
                      idempotency, retention, sending,
                      weekly_complaints)
from app.jobs import complaints as complaint_jobs
from notifiers.dispatch import Dispatcher
from notifiers.registry import settings_from

log = logging.getLogger("yingji.scheduler")
_start_lock = threading.Lock()

HOLIDAYS_EVERY = timedelta(hours=1)
BRIEFINGS_EVERY = timedelta(minutes=1)  # is today's report (or last week's summary) due and not made yet?
INTAKE_EVERY = timedelta(seconds=10)  # how soon the centre's board hears of new complaints
SURGE_EVERY = timedelta(minutes=1)
LIMITS_EVERY = timedelta(minutes=1)  # limits end at midnight: a minute late is on time
HOUSEKEEPING_EVERY = timedelta(hours=1)
IDEMPOTENCY_PURGE_EVERY = timedelta(hours=1)  # keys live 24 hours: an hour more is harmless
RETENTION_EVERY = timedelta(days=1)
BOARD_NUMBER_EVERY = timedelta(seconds=0.5)  # board events a writer left unnumbered reach the boards this soon
# The daily purge also runs this long after each start: a process restarted more often than daily runs it still.
RETENTION_FIRST_AFTER = timedelta(minutes=10)
ONE_AT_A_TIME = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


def _guarded(what: str, run: Callable[[], object], logger: logging.Logger = log) -> Callable[[], None]:
    """Return a job that runs `run` and logs a failure instead of raising it."""

    def job() -> None:
        try:
            run()
        except Exception:  # noqa: BLE001 - keep waking up; the rows are still there at the next run
            logger.exception("%s failed", what)

    return job


def _every(sched, what: str, run: Callable[[], object], every: timedelta, job_id: str, *,
           logger: logging.Logger = log, **options) -> None:
    sched.add_job(_guarded(what, run, logger), "interval", seconds=every.total_seconds(), id=job_id,
                  **ONE_AT_A_TIME, **options)


def add_clock_jobs(sched, app: Flask) -> None:
    """Add the clocks' tick (every SCHEDULER_INTERVAL) and the hourly holiday watch, which also runs at start."""
    wiring: Yingji = app.extensions["yingji"]
    tick = partial(clocks.tick, wiring, Dispatcher(clocks.senders_for(app)), walker=clocks.walker_for(app),
                   batch=app.config["SCHEDULER_BATCH"])
    _every(sched, "scheduler tick", tick, timedelta(seconds=app.config["SCHEDULER_INTERVAL"]), "yingji-clocks")
    # Opening a watch twice is prevented by its unique key.
    _every(sched, "holiday watch", partial(holiday_watch.holiday_watch, wiring), HOLIDAYS_EVERY, "yingji-holidays",
           next_run_time=datetime.now(timezone.utc))


def add_briefing_jobs(sched, app: Flask) -> None:
    """Add the checks for the daily report and the weekly complaints summary, each due at the plan's daily time."""
    wiring: Yingji = app.extensions["yingji"]
    settings = settings_from(app.config)
    _every(sched, "daily report", partial(daily_report.run, wiring, settings), BRIEFINGS_EVERY,
           "yingji-daily-report", logger=briefings.log)
    _every(sched, "weekly complaints summary", partial(weekly_complaints.run_weekly, wiring, settings),
           BRIEFINGS_EVERY, "yingji-complaints-weekly", logger=briefings.log)


def add_complaint_jobs(sched, app: Flask) -> None:
    """Add the 12315 jobs: intake digest, surge watch, limit notices, housekeeping."""
    wiring: Yingji = app.extensions["yingji"]
    start = datetime.now(timezone.utc)
    _every(sched, "complaint intake digest", partial(complaint_jobs.intake_digest, wiring), INTAKE_EVERY,
           "yingji-complaints-intake", logger=complaint_jobs.log)
    _every(sched, "complaint surge watch", partial(complaint_jobs.surge_watch, wiring), SURGE_EVERY,
           "yingji-complaints-surge", logger=complaint_jobs.log, next_run_time=start)
    _every(sched, "complaint limit notices", partial(complaint_jobs.limit_notices, wiring), LIMITS_EVERY,
           "yingji-complaints-limits", logger=complaint_jobs.log, next_run_time=start)
    _every(sched, "complaint housekeeping", partial(complaint_jobs.housekeeping, wiring), HOUSEKEEPING_EVERY,
           "yingji-complaints-housekeeping", logger=complaint_jobs.log, next_run_time=start + timedelta(seconds=30))


def waits_possible(wiring: Yingji) -> bool:
    """Tell whether a writer can find the audit head or a board room busy and leave its rows waiting.

    Not on SQLite: one writer at a time, decided at BEGIN, always holds them; the sealing and numbering
    jobs would only take SQLite's write lock twice a second for nothing.
    """
    return wiring.engine.dialect.name != "sqlite"


def add_audit_jobs(sched, app: Flask) -> None:
    """Add the sealing of waiting audit entries, and the export of the chain's signed head (also run at start)."""
    wiring: Yingji = app.extensions["yingji"]
    if waits_possible(wiring):
        # Also with AUDIT_SEALING=inline: entries left waiting before a switch get sealed all the same.
        _every(sched, "audit sealing", partial(audit_seal.seal_pending, wiring),
               timedelta(seconds=app.config["AUDIT_SEAL_EVERY"]), "yingji-audit-seal", logger=audit_seal.log)
    _every(sched, "audit head export", partial(audit_head.export_head, wiring, app.config["AUDIT_HEAD_FILE"]),
           timedelta(seconds=app.config["AUDIT_EXPORT_EVERY"]), "yingji-audit-head", logger=audit_head.log,
           next_run_time=datetime.now(timezone.utc))


def add_retention_jobs(sched, app: Flask) -> None:
    """Add the daily retention purge (app/jobs/retention.py); it first runs a few minutes after start."""
    wiring: Yingji = app.extensions["yingji"]
    _every(sched, "retention purge", partial(retention.purge, wiring, app.config), RETENTION_EVERY,
           "yingji-retention", logger=retention.log,
           next_run_time=datetime.now(timezone.utc) + RETENTION_FIRST_AFTER)


def build(app: Flask, *, blocking: bool):
    """Return an APScheduler with every job of app/jobs."""
    sched = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    add_clock_jobs(sched, app)
    add_briefing_jobs(sched, app)
    add_complaint_jobs(sched, app)
    _every(sched, "idempotency key purge", partial(idempotency.purge_keys, app.extensions["yingji"]),
           IDEMPOTENCY_PURGE_EVERY, "yingji-idempotency-purge")
    add_audit_jobs(sched, app)
    if waits_possible(app.extensions["yingji"]):
        _every(sched, "board event numbering", partial(board_numbers.number_waiting, app.extensions["yingji"]),
               BOARD_NUMBER_EVERY, "yingji-board-numbers", logger=board_numbers.log)
    _every(sched, "sending to other bureaus and e-mail", partial(sending.send_due, app),
           timedelta(seconds=app.config["DISPATCH_EVERY"]), "yingji-sending", logger=sending.log)
    _every(sched, "signed requests' nonces purge", partial(sending.forget_nonces, app), HOUSEKEEPING_EVERY,
           "yingji-peer-nonces", logger=sending.log)
    add_retention_jobs(sched, app)
    return sched


def ensure_started(app: Flask) -> None:
    """Start the in-process scheduler once, if the settings want one in this process."""
    if app.config.get("SCHEDULER") != "inprocess" or app.config.get("TESTING"):
        return
    wiring: Yingji = app.extensions["yingji"]
    with _start_lock:
        if wiring.scheduler is None:
            wiring.scheduler = build(app, blocking=False)
            wiring.scheduler.start()
            if app.config.get("DISPATCH_WAKE"):
                sending.send_at_once(app)
            log.info("in-process scheduler started")


def init_app(app: Flask) -> None:
    """Start the in-process scheduler with the first request a server handles."""

    @app.before_request
    def _start_scheduler() -> None:
        ensure_started(app)
