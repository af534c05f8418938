"""Rate limits in database buckets, so they hold across processes on the embedded SQLite too."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from incidents.kernel.batches import delete_batch
from incidents.kernel.db import UTCDateTime
from incidents.models import (
    RateBucket,
)
from incidents.plan import RateLimit

_UPSERTS: dict[int, Any] = {}
_PREVIOUS: dict[int, Any] = {}


def _upsert_sql(n: int):
    # One statement for every key of a request (ON CONFLICT works on SQLite and PostgreSQL alike).
    if n not in _UPSERTS:
        values = ", ".join(f"(:k{i}, :w{i}, 1)" for i in range(n))
        _UPSERTS[n] = text(
            f"INSERT INTO rate_buckets (key, window_start, count) VALUES {values} "
            "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_buckets.count + 1 RETURNING key, count"
        ).bindparams(*[bindparam(f"w{i}", type_=UTCDateTime()) for i in range(n)])
        where = " OR ".join(f"(key = :k{i} AND window_start = :w{i})" for i in range(n))
        _PREVIOUS[n] = text(f"SELECT key, count FROM rate_buckets WHERE {where}").bindparams(
            *[bindparam(f"w{i}", type_=UTCDateTime()) for i in range(n)])
    return _UPSERTS[n], _PREVIOUS[n]


def rate_hits(session: Session, checks: list[tuple[str, RateLimit]], *, now: datetime) -> list[int | None]:
    """Count one request against each key; return, per key, the seconds to wait when over its limit, else None.

    A sliding window from two fixed ones: the previous window's count, weighted by how much of it
    still overlaps the last `window`, plus the current one's. Rows, not memory: the limit holds
    across processes and servers on SQLite and PostgreSQL alike. Two statements whatever the
    number of keys: the counts go up in one, the previous windows are read in the other.
    """
    if not checks:
        return []
    epoch = now.timestamp()
    starts = []
    for _, rule in checks:
        width = rule.window.total_seconds()
        starts.append(epoch - epoch % width)
    upsert, previous = _upsert_sql(len(checks))
    params = {}
    for i, ((key, _), start_ts) in enumerate(zip(checks, starts)):
        params[f"k{i}"], params[f"w{i}"] = key, datetime.fromtimestamp(start_ts, now.tzinfo)
    current = dict(session.execute(upsert, params).all())
    for i, ((_, rule), start_ts) in enumerate(zip(checks, starts)):
        params[f"w{i}"] = datetime.fromtimestamp(start_ts - rule.window.total_seconds(), now.tzinfo)
    before = dict(session.execute(previous, params).all())
    waits: list[int | None] = []
    for (key, rule), start_ts in zip(checks, starts):
        width = rule.window.total_seconds()
        cur, prev = current[key], before.get(key, 0)
        estimate = prev * (1 - (epoch - start_ts) / width) + cur
        if estimate <= rule.count:
            waits.append(None)
        elif cur > rule.count:
            waits.append(max(1, int(start_ts + width - epoch)))
        else:
            # The previous window's share fades as time goes on: wait until it has faded enough.
            waits.append(max(1, int((estimate - rule.count) / prev * width)) if prev else 1)
    return waits


def rate_hit(session: Session, key: str, rule: RateLimit, *, now: datetime) -> int | None:
    """Count one request against a key; return the seconds to wait when it is over the limit, else None."""
    return rate_hits(session, [(key, rule)], now=now)[0]


def purge_rate_buckets(session: Session, *, longest: timedelta, now: datetime, batch: int = 1000) -> int:
    """Delete at most `batch` counters older than two of the longest window; return how many."""
    return delete_batch(session, RateBucket, RateBucket.window_start < now - 2 * longest, batch=batch,
                        key=(RateBucket.key, RateBucket.window_start))
