"""Times as the bureau reads them: ISO text, the plan's zone, its days and midnights."""
from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """Return the zone of an IANA name, built once per process."""
    return ZoneInfo(name)


def iso(moment: datetime | None) -> str | None:
    """Format a time as ISO 8601 with its offset, or None."""
    return moment.isoformat() if moment else None


def local_day(tz: ZoneInfo, moment: datetime) -> date:
    """Return the calendar day of a moment in a zone."""
    return moment.astimezone(tz).date()


def at_local(tz: ZoneInfo, day: date, clock: time = time(0)) -> datetime:
    """Return the aware moment of a wall-clock time on a day in a zone (midnight by default)."""
    return datetime.combine(day, clock, tz)
