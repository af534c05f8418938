"""The daily retention purge (app/jobs/retention.py, `flask security purge`): each kind of row whose only
purpose has expired goes, in bounded batches; what is still read, and every piece of evidence, stays."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app import scheduler
from app.auth import lockout_rules
from app.jobs import retention
from incidents.kernel.actors import SystemActor
from incidents.models import (
    AuditEntry,
    IdempotencyKey,
    IntakeChallenge,
    LoginAttempt,
    LoginLock,
    LoginSession,
    OneTimeCode,
    ProviderReceipt,
    RateBucket,
)
from incidents.people import login_sessions, logins
from incidents.people.logins import LockoutRules
from tests.helpers import signed_in_client

DAY = timedelta(days=1)


@pytest.fixture
def config(app):
    """The real session limits (the fixture's time travel would keep every session alive for ever)."""
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_LIFETIME_HOURS=12)
    return app.config


def count(wiring, model, *where) -> int:
    with wiring.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def add(wiring, *rows) -> list[int]:
    with wiring.sessions() as s:
        s.add_all(rows)
        s.commit()
        return [getattr(r, "id", None) for r in rows]


def ids(wiring, model) -> set[int]:
    with wiring.sessions() as s:
        return set(s.scalars(select(model.id)))


def attempt(at, login="x", address="10.0.0.1", ok=False) -> LoginAttempt:
    return LoginAttempt(at=at, login_key=logins.login_key(login), address=address, user_id=None, succeeded=ok)


def test_every_kind_is_purged_and_what_is_still_needed_survives(app, wiring, make_user, clock, config):
    now = clock.now()
    user = make_user("leader").id
    old_attempt, new_attempt = add(wiring, attempt(now - 31 * DAY), attempt(now - 29 * DAY))
    old_lock, = add(wiring, LoginLock(kind="account", key=logins.login_key("x"), starts_at=now - 60 * DAY,
                                      until=now - 60 * DAY + timedelta(minutes=15), failures=5))
    session_rows = {
        "ended_long_ago": LoginSession(key_hash="a" * 64, user_id=user, created_at=now - 40 * DAY,
                                       last_seen_at=now - 40 * DAY, ended_at=now - 31 * DAY, ended_why="logout"),
        "ended_lately": LoginSession(key_hash="b" * 64, user_id=user, created_at=now - 30 * DAY,
                                     last_seen_at=now - 30 * DAY, ended_at=now - 29 * DAY, ended_why="idle"),
        # A browser closed without logging out: never ended, past its 12 hours by more than 30 days.
        "abandoned": LoginSession(key_hash="c" * 64, user_id=user, created_at=now - 31 * DAY,
                                  last_seen_at=now - 31 * DAY),
        "abandoned_lately": LoginSession(key_hash="d" * 64, user_id=user, created_at=now - 29 * DAY,
                                         last_seen_at=now - 29 * DAY),
        "live": LoginSession(key_hash="e" * 64, user_id=user, created_at=now, last_seen_at=now),
    }
    session_ids = dict(zip(session_rows, add(wiring, *session_rows.values())))
    code_rows = {
        "sms_expired": OneTimeCode(user_id=user, kind="sms_login", code_hash="1", created_at=now - 3 * DAY,
                                   expires_at=now - 3 * DAY + timedelta(minutes=5)),
        "sms_fresh": OneTimeCode(user_id=user, kind="sms_login", code_hash="2", created_at=now,
                                 expires_at=now + timedelta(minutes=5)),
        "sms_just_expired": OneTimeCode(user_id=user, kind="sms_login", code_hash="3", created_at=now - DAY / 2,
                                        expires_at=now - DAY / 2 + timedelta(minutes=5)),
        "recovery_used": OneTimeCode(user_id=user, kind="recovery", code_hash="4", created_at=now - 90 * DAY,
                                     used_at=now - 2 * DAY),
        "recovery_unused": OneTimeCode(user_id=user, kind="recovery", code_hash="5", created_at=now - 900 * DAY),
    }
    code_ids = dict(zip(code_rows, add(wiring, *code_rows.values())))
    receipts = add(wiring, ProviderReceipt(sid="SM-old", kind="sms", received_at=now - 401 * DAY),
                   ProviderReceipt(sid="CA-kept", kind="voice", received_at=now - 399 * DAY))
    keys = add(wiring, IdempotencyKey(scope="user:1", key="old", fingerprint="f", created_at=now - timedelta(hours=25)),
               IdempotencyKey(scope="user:1", key="new", fingerprint="f", created_at=now - timedelta(hours=23)))
    challenges = add(wiring,
                     IntakeChallenge(kind="sms", token="t-old", created_at=now - 3 * DAY, expires_at=now - 2 * DAY),
                     IntakeChallenge(kind="sms", token="t-new", created_at=now - DAY / 2, expires_at=now - DAY / 4))
    add(wiring, RateBucket(key="submit:old", window_start=now - 10 * DAY, count=3),
        RateBucket(key="submit:new", window_start=now, count=1))
    audit_before = count(wiring, AuditEntry)

    counts = retention.purge(wiring, config)

    assert counts == {"login_attempts": 1, "login_sessions": 2, "one_time_codes": 2, "provider_receipts": 1,
                      "idempotency_keys": 1, "intake_challenges": 1, "rate_buckets": 1, "board_events": 0,
                      "briefing_pdfs": 0}
    assert ids(wiring, LoginAttempt) == {new_attempt}
    assert ids(wiring, LoginLock) == {old_lock}  # the lockout history is never purged
    assert ids(wiring, LoginSession) == {session_ids[k] for k in ("ended_lately", "abandoned_lately", "live")}
    assert ids(wiring, OneTimeCode) == {code_ids[k] for k in ("sms_fresh", "sms_just_expired", "recovery_unused")}
    assert ids(wiring, ProviderReceipt) == {receipts[1]}
    assert ids(wiring, IdempotencyKey) == {keys[1]}
    assert ids(wiring, IntakeChallenge) == {challenges[1]}
    with wiring.sessions() as s:
        assert list(s.scalars(select(RateBucket.key))) == ["submit:new"]
        # The audit trail is evidence: nothing of it goes, and the run adds one summary with the counts.
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audit_before + 1
        summary = s.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert summary.action == "retention.purged" and summary.actor == "system:retention"
    data = json.loads(summary.data)
    assert data["total"] == 9 and data["login_sessions"] == 2
    assert data["kept_days"] == {"RETENTION_LOGIN_ATTEMPTS_DAYS": 30, "RETENTION_LOGIN_SESSIONS_DAYS": 30,
                                 "RETENTION_WEBHOOK_RECEIPTS_DAYS": 400, "RETENTION_BOARD_EVENTS_DAYS": 7,
                                 "RETENTION_BRIEFING_PDF_DAYS": 180}
    # A second run finds nothing, and says so.
    assert set(retention.purge(wiring, config).values()) == {0}


def test_a_large_backlog_goes_in_bounded_batches(app, wiring, clock, config):
    now = clock.now()
    add(wiring, *[attempt(now - 40 * DAY - timedelta(seconds=i)) for i in range(7)], attempt(now))
    rules = lockout_rules(config)
    with wiring.sessions() as s:
        # One statement deletes at most `batch` rows, however many are due.
        assert logins.purge_attempts(s, rules, keep=30 * DAY, now=now, batch=3) == 3
        s.commit()
    assert count(wiring, LoginAttempt) == 5
    config["RETENTION_BATCH"] = 2
    assert retention.purge(wiring, config)["login_attempts"] == 4  # three batches, one transaction each
    assert count(wiring, LoginAttempt) == 1


def test_what_the_lockout_still_reads_is_never_purged(app, wiring, clock, config):
    rules = LockoutRules()
    now = clock.now()
    # However short the setting, attempts within the lockout's memory (24 h) and window stay.
    assert logins.attempts_cutoff(rules, timedelta(0), now) == now - rules.memory
    assert logins.attempts_cutoff(LockoutRules(window=timedelta(hours=48)), DAY, now) == now - timedelta(hours=48)
    config["RETENTION_LOGIN_ATTEMPTS_DAYS"] = 0  # read as the least, one day
    with wiring.sessions() as s:
        for _ in range(rules.max_failures - 1):
            logins.attempt(s, rules, login="victim", password="wrong", address="10.0.0.2", now=now)
        s.commit()
    clock.advance(minutes=10)
    retention.purge(wiring, config, now=clock.now())
    assert count(wiring, LoginAttempt) == rules.max_failures - 1
    with wiring.sessions() as s:
        # The failures kept still count: the next one locks.
        result = logins.attempt(s, rules, login="victim", password="wrong", address="10.0.0.2", now=clock.now())
        s.commit()
    assert result.locked


def test_a_webhook_id_is_kept_at_least_90_days_whatever_the_setting(app, wiring, clock, config):
    now = clock.now()
    kept, gone = add(wiring, ProviderReceipt(sid="SM-60", kind="sms", received_at=now - 60 * DAY),
                     ProviderReceipt(sid="SM-91", kind="sms", received_at=now - 91 * DAY))
    config["RETENTION_WEBHOOK_RECEIPTS_DAYS"] = 10
    assert retention.purge(wiring, config)["provider_receipts"] == 1
    assert ids(wiring, ProviderReceipt) == {kept}


def test_a_purged_session_cookie_is_refused_like_an_ended_one(app, wiring, make_user, clock, config):
    user = make_user("leader")
    client = signed_in_client(app, user.id)
    assert client.get("/api/v1/plan").status_code == 200
    with wiring.sessions() as s:
        login_sessions.end_all(s, user.id, now=clock.now(), why=login_sessions.LOGOUT,
                               actor=SystemActor(name="tests"))
        s.commit()
    clock.advance(days=31)
    assert retention.purge(wiring, config)["login_sessions"] == 1
    assert client.get("/api/v1/plan").status_code == 401


def test_flask_security_purge_prints_what_it_removed(app, wiring, clock, config):
    add(wiring, attempt(clock.now() - 40 * DAY), attempt(clock.now() - 41 * DAY))
    result = app.test_cli_runner().invoke(args=["security", "purge"])
    assert result.exit_code == 0, result.output
    assert "login_attempts\t2 removed" in result.output and "total\t2 removed" in result.output
    assert count(wiring, LoginAttempt) == 0


def test_the_scheduler_runs_the_purge_daily(app):
    sched = BackgroundScheduler(timezone="UTC")
    scheduler.add_retention_jobs(sched, app)
    job = sched.get_job("yingji-retention")
    assert job is not None and job.trigger.interval == timedelta(days=1)
    assert "yingji-retention" in {j.id for j in scheduler.build(app, blocking=False).get_jobs()}
