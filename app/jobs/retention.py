"""The daily retention purge: delete the rows whose only purpose has expired, so that cost stays flat.

What goes (each kind's rule lives next to the code that reads those rows):
- login attempts older than RETENTION_LOGIN_ATTEMPTS_DAYS, never within the lockout's window or memory;
- login sessions ended (or past their lifetime) more than RETENTION_LOGIN_SESSIONS_DAYS ago;
- one-time codes (SMS codes, used recovery codes) a day past expiry or use;
- provider webhook ids (MessageSid / CallSid) older than RETENTION_WEBHOOK_RECEIPTS_DAYS (at least 90);
- idempotency keys past their 24 hours, 12315 verification challenges a day past expiry, and rate-limit
  counters twice the longest window old (the same purges the hourly jobs run);
- board events (the push log boards catch up from) older than RETENTION_BOARD_EVENTS_DAYS (7): a board
  asleep longer reloads instead of catching up;
- the PDF bytes of on-demand briefings superseded by a newer version of the same briefing more than
  RETENTION_BRIEFING_PDF_DAYS (180) ago: the row stays with its SHA-256, size and pages (status `pruned`), and
  the audit trail still says who was given which version.

What never goes: the audit trail, incidents, reports, deadlines, complaints, lockouts (login_locks,
the history of who was locked and who cleared it), the official documents sent and received, every
scheduled briefing's PDF and every closing report, the newest version of every briefing, and anything
else that is evidence.

Every kind is deleted RETENTION_BATCH rows per statement, one transaction per batch, so a backlog of
years never holds a long lock; any number of schedulers may run it at once. One audit entry per run
gives the counts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Callable, Mapping

from app.auth import lockout_rules, session_rules
from app.extensions import Yingji
from app.jobs.complaints import longest_rate_window
from incidents import complaints
from incidents.complaints import verification
from incidents.escalation import reply_codes
from incidents.kernel.actors import SystemActor
from incidents.kernel.batches import drain_deletes
from incidents.people import login_sessions, logins, two_factor
from incidents.records import audit, board_events, idempotency
from reports import store

log = logging.getLogger("yingji.retention")
RETENTION = SystemActor(name="retention")


@dataclass(frozen=True)
class Kind:
    """One kind of row the purge deletes: its name, what it is in Chinese, and its bounded delete step."""

    name: str
    label: str
    step: Callable[..., int]  # step(session, now=, batch=) -> rows deleted, at most `batch`


def _days(config: Mapping, name: str) -> timedelta:
    return timedelta(days=max(1, int(config[name])))


def kinds(wiring: Yingji, config: Mapping) -> list[Kind]:
    """Return every kind the purge deletes, with the settings of `config` (the app's)."""
    attempts = _days(config, "RETENTION_LOGIN_ATTEMPTS_DAYS")
    sessions = _days(config, "RETENTION_LOGIN_SESSIONS_DAYS")
    receipts = _days(config, "RETENTION_WEBHOOK_RECEIPTS_DAYS")
    board = _days(config, "RETENTION_BOARD_EVENTS_DAYS")
    briefing_pdfs = _days(config, "RETENTION_BRIEFING_PDF_DAYS")
    return [
        Kind("login_attempts", "登录尝试记录",
             partial(logins.purge_attempts, rules=lockout_rules(config), keep=attempts)),
        Kind("login_sessions", "已结束的登录会话",
             partial(login_sessions.purge, rules=session_rules(config), keep=sessions)),
        Kind("one_time_codes", "过期或已用的一次性验证码", two_factor.purge_codes),
        Kind("provider_receipts", "短信电话平台回执编号", partial(reply_codes.purge_receipts, keep=receipts)),
        Kind("idempotency_keys", "过期的幂等键", idempotency.purge),
        Kind("intake_challenges", "过期的12315验证码", verification.purge_challenges),
        Kind("rate_buckets", "过期的访问频率计数",
             partial(complaints.purge_rate_buckets, longest=longest_rate_window(wiring))),
        Kind("board_events", "看板推送消息的存档（补发用）", partial(board_events.purge, keep=board)),
        Kind("briefing_pdfs", "已被新版本取代的简报文件（保留记录和指纹）",
             partial(store.prune_superseded, keep=briefing_pdfs)),
    ]


def purge(wiring: Yingji, config: Mapping, *, now: datetime | None = None) -> dict[str, int]:
    """Delete every kind's expired rows in bounded batches, audit one summary, and return the counts per kind."""
    moment = now or wiring.clock.now()
    batch = max(1, int(config["RETENTION_BATCH"]))
    counts: dict[str, int] = {}
    for kind in kinds(wiring, config):
        counts[kind.name] = drain_deletes(wiring.sessions, kind.step, now=moment, batch=batch)
    with wiring.sessions() as session:
        audit.record(session, actor=RETENTION, action="retention.purged", entity="retention",
                     entity_id=moment.date().isoformat(), at=moment,
                     data={**counts, "total": sum(counts.values()), "batch": batch,
                           "kept_days": {name: int(config[name]) for name in (
                               "RETENTION_LOGIN_ATTEMPTS_DAYS", "RETENTION_LOGIN_SESSIONS_DAYS",
                               "RETENTION_WEBHOOK_RECEIPTS_DAYS", "RETENTION_BOARD_EVENTS_DAYS",
                           "RETENTION_BRIEFING_PDF_DAYS")}})
        session.commit()
    if any(counts.values()):
        log.info("retention purge: %s", ", ".join(f"{name} {n}" for name, n in counts.items() if n))
    return counts
