"""Scheduler processes killed with SIGKILL and restarted lose nothing and double nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import func, select

from incidents.response import service
from incidents.models import OVERDUE, Deadline, DeadlineEvent
from tests.conftest import repo_root
from tests.helpers import incident_payload

N_INCIDENTS = 120
PROCESS_TIMEOUT = 60  # seconds; a bound on waiting for the processes to work, not on a deadline


def _register_overdue_incidents(wiring, make_user, clock) -> None:
    """Register, two hours ago, station events whose 1-hour clocks came due while no scheduler ran."""
    station = make_user("station", "chengguan")
    registered = clock.now() - timedelta(hours=2)
    with wiring.sessions() as session:
        from incidents.models import User

        actor = session.get(User, station.id)
        for i in range(N_INCIDENTS):
            body = incident_payload(title=f"事件{i}")
            facts = service.NewIncident(**{k: body[k] for k in ("title", "category", "location", "station", "source",
                                                               "nature", "scope", "trend", "measures_taken",
                                                               "casualties")},
                                        discovered_at=registered - timedelta(minutes=i % 50))
            service.register_incident(session, wiring.plan, facts=facts, actor=actor, now=registered)
        session.commit()


def _start_scheduler(db_url: str, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "SCHEDULER_INTERVAL": "0.05", "SCHEDULER_BATCH": "7",
           "YINGJI_INSTANCE": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=repo_root(), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _counts(wiring) -> tuple[int, int]:
    with wiring.sessions() as session:
        events = session.scalar(select(func.count()).select_from(DeadlineEvent).where(DeadlineEvent.kind == "overdue"))
        overdue = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.status == OVERDUE))
    return events, overdue


def test_killed_schedulers_fire_every_clock_exactly_once(app, wiring, clock, make_user, db_url, tmp_path):
    _register_overdue_incidents(wiring, make_user, clock)
    first, second = _start_scheduler(db_url, tmp_path), _start_scheduler(db_url, tmp_path)
    kills = 0
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        # Kill one of the two mid-stream, twice, and restart it each time.
        while kills < 2 and time.monotonic() < deadline:
            events, _ = _counts(wiring)
            if events >= (kills + 1) * N_INCIDENTS // 3:
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                kills += 1
                first = _start_scheduler(db_url, tmp_path)
            time.sleep(0.02)
        while _counts(wiring)[0] < N_INCIDENTS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for proc in (first, second):
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert kills == 2, "the schedulers finished before they could be killed; make the stream longer"
    with wiring.sessions() as session:
        per_deadline = session.execute(
            select(DeadlineEvent.deadline_id, func.count()).where(DeadlineEvent.kind == "overdue")
            .group_by(DeadlineEvent.deadline_id)).all()
        statuses = session.scalars(select(Deadline.status)).all()
    assert len(statuses) == N_INCIDENTS
    assert set(statuses) == {OVERDUE}
    assert len(per_deadline) == N_INCIDENTS, "some clock never fired"
    assert {count for _, count in per_deadline} == {1}, "some clock fired twice"
