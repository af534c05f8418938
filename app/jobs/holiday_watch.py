"""The holiday market watch job: open, move and close the watches of the coming holidays, and check their duty."""
from __future__ import annotations

import logging

from app.calendar import calendar_for
from app.extensions import Yingji
from incidents.kernel.actors import SystemActor
from incidents.response.holiday_watch import run_watch

log = logging.getLogger("yingji.scheduler")
HOLIDAY_WATCH = SystemActor(name="holiday-watch")


def holiday_watch(wiring: Yingji):
    """Open, move and close the holiday market watches and check their duty; log what data is missing."""
    now = wiring.clock.now()
    with wiring.sessions() as session:
        result = run_watch(session, wiring.plan, calendar_for(session, wiring.plan), actor=HOLIDAY_WATCH, now=now)
        session.commit()
    for text in result.not_covered:
        log.warning("%s", text)
    return result


def holiday_watch_soon(wiring: Yingji) -> None:
    """Run the holiday watch after a notice was entered; a failure waits for the hourly run, the notice stands."""
    try:
        holiday_watch(wiring)
    except Exception:  # noqa: BLE001 - the notice is committed; the hourly job moves the watches
        log.exception("holiday watch after a notice failed; the hourly run will retry")
