"""The clock scheduler: APScheduler wakes a short job every second that fires due rows."""
from __future__ import annotations

import logging
import threading

from datetime import datetime, timezone

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.jobs import complaints as complaint_jobs
from app.jobs import daily_report
from app.calendar import calendar_for
from app.extensions import Yingji, yingji
from incidents.response.holiday_watch import run_watch
from incidents.kernel.actors import SystemActor
from incidents.response.firing import dispatch_pending, fire_due
from notifiers import registry
from notifiers.console import ConsoleSender
from notifiers.dispatch import Dispatcher
from notifiers.escalation import Walker

log = logging.getLogger("yingji.scheduler")
_start_lock = threading.Lock()
HOLIDAY_WATCH = SystemActor(name="holiday-watch")


def senders_for(app: Flask) -> list:
    """Return the senders that log each fired clock (the escalation walker does SMS and calls)."""
    return [ConsoleSender()]


def walker_for(app: Flask, *, workers: int | None = None) -> Walker:
    """Return the escalation walker with the SMS and voice senders the settings ask for."""
    wiring: Yingji = app.extensions["yingji"]
    settings = registry.settings_from(app.config)
    for kind in ("sms", "voice"):
        registry.build(kind, settings)  # fail at start, not at 3 a.m., when the settings are wrong
    return Walker(wiring.sessions, lambda kind: registry.build(kind, settings), rules=lambda: wiring.plan.delivery,
                  clock=wiring.clock.now, workers=workers or app.config.get("ESCALATION_WORKERS", 8),
                  batch=app.config.get("SCHEDULER_BATCH", 500))


def tick(wiring: Yingji, deliver, *, walker: Walker | None = None, batch: int = 500) -> int:
    """Fire every clock stage that is due now, deliver what was fired, walk the escalations; return the firings."""
    fired = fire_due(wiring.sessions, now=wiring.clock.now, batch=batch)
    dispatch_pending(wiring.sessions, deliver, now=wiring.clock.now(), batch=batch)
    if walker is not None:
        walker.cycle()
    return fired


def holiday_watch_soon(wiring: Yingji) -> None:
    """Run the holiday watch after a notice was entered; a failure waits for the hourly run, the notice stands."""
    try:
        holiday_watch(wiring)
    except Exception:  # noqa: BLE001 - the notice is committed; the hourly job moves the watches
        log.exception("holiday watch after a notice failed; the hourly run will retry")


def holiday_watch(wiring: Yingji):
    """Open, move and close the holiday market watches and check their duty; log what data is missing."""
    now = wiring.clock.now()
    with wiring.sessions() as session:
        result = run_watch(session, wiring.plan, calendar_for(session, wiring.plan), actor=HOLIDAY_WATCH,
                                    now=now)
        session.commit()
    for text in result.not_covered:
        log.warning("%s", text)
    return result


def build(app: Flask, *, blocking: bool):
    """Return an APScheduler with the tick job: one run at a time, late runs folded into one."""
    wiring: Yingji = app.extensions["yingji"]
    deliver = Dispatcher(senders_for(app))
    walker = walker_for(app)
    sched = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")

    batch = app.config["SCHEDULER_BATCH"]

    def job() -> None:
        try:
            tick(wiring, deliver, walker=walker, batch=batch)
        except Exception:  # noqa: BLE001 - keep waking up; the rows are still there next second
            log.exception("scheduler tick failed")

    sched.add_job(job, "interval", seconds=app.config["SCHEDULER_INTERVAL"], id="yingji-clocks",
                  max_instances=1, coalesce=True, misfire_grace_time=None)

    def holiday_job() -> None:
        try:
            holiday_watch(wiring)
        except Exception:  # noqa: BLE001 - try again next hour
            log.exception("holiday watch failed")

    # Hourly, and once at start; opening a watch twice is prevented by its unique key.
    sched.add_job(holiday_job, "interval", hours=1, id="yingji-holidays", max_instances=1, coalesce=True,
                  misfire_grace_time=None, next_run_time=datetime.now(timezone.utc))
    daily_report.add_jobs(sched, app)
    complaint_jobs.add_jobs(sched, app)
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
            log.info("in-process scheduler started")


@click.command("holidays")
def holidays_command() -> None:
    """Run the holiday market watch now and show upcoming holidays, duty gaps and missing data."""
    result = holiday_watch(yingji())
    for h in result.holidays:
        basis = "notice" if h.certain else "statutory dates only, no notice yet"
        click.echo(f"{h.label}: {h.first_day} – {h.last_day} ({basis})")
    click.echo(f"watches opened now: {len(result.opened)}; moved: {len(result.moved)}; closed: {len(result.closed)}")
    for gap in result.duty_gaps:
        click.echo(f"duty gap: {gap.message} {gap.starts_at.isoformat()} – {gap.ends_at.isoformat()}")
    for text in result.uncertain:
        click.echo(f"NO NOTICE YET: {text}")
    for text in result.not_covered:
        click.echo(f"NOT COVERED: {text}")


def init_app(app: Flask) -> None:
    """Start the in-process scheduler with the first request a server handles."""
    app.cli.add_command(holidays_command)

    @app.before_request
    def _start_scheduler() -> None:
        ensure_started(app)
