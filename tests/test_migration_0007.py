"""Migration 0007 on a database the old holiday watch wrote to: no watch keeps an open clock afterwards.

The old watch was a Ⅳ response the system activated and nothing ended: its weekly progress report
was charged to the office as missed. After the migration and the watch's next run, its clocks are
cancelled with a reason (and an audit entry), the watch is closed, and the sheet holds nothing of it.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import create_engine, select, text

from app import create_app
from app.migrate import downgrade, upgrade
from app.jobs.holiday_watch import holiday_watch
from incidents.response import accountability
from incidents.kernel.clock import FakeClock
from incidents.kernel.db import normalise_url
from incidents.models import ARCHIVED, AuditEntry, Deadline, HolidayWatch, Incident
from incidents.plan import DEFAULT_PLAN_FILE
from tests.test_migrations import empty_url  # noqa: F401  (fixture)

ACTIVATED = datetime(2026, 9, 27, 16, 0, tzinfo=timezone.utc)  # 28 Sep 2026, 00:00 Beijing


def old_plan_text() -> str:
    """The plan as stored before December 2026: one task for the watch's departments, three days ahead."""
    current = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
    block = re.search(r"^holiday_warnings:\n(?:  .*\n|\n)*?(?=^\S)", current, re.M).group(0)
    old = ("holiday_warnings:\n  category: holiday_market\n  level: IV\n"
           "  holidays: [new_year, spring_festival, labour_day, national_day]\n  lead_time: P3D\n"
           "  departments: [office, prices]\n  task: 节日市场应急预警\n\n")
    return current.replace(block, old)


def seed_old_watch(url: str) -> None:
    engine = create_engine(normalise_url(url))
    at = ACTIVATED
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO plan_versions (id, plan_id, version, sha256, content, loaded_at) "
                          "VALUES (1, 'zhongmou', 'old', 'old', :content, :at)"), {"content": old_plan_text(), "at": at})
        conn.execute(text(
            "INSERT INTO incidents (id, number, title, category, level, status, lead_department, discovered_at, "
            "location, source, nature, scope, trend, measures_taken, casualties, plan_version_id, created_at, "
            "activated_at, source_key) VALUES (1, 'YJ2026-00001', '2026年国庆节节日市场应急预警', 'holiday_market', "
            "'IV', 'active', 'office', :at, '全县', '系统', '节日市场预警', "
            "'2026年国庆节放假期间（2026-10-01 至 2026-10-08）全县市场', '', '', '无', 1, :at, :at, "
            "'holiday:2026-10-01:national_day')"), {"at": at})
        conn.execute(text("INSERT INTO level_changes (incident_id, from_level, to_level, reason, changed_at) "
                          "VALUES (1, NULL, 'IV', '节日市场预警', :at)"), {"at": at})
        # The weekly progress report: the first cycle was charged as missed, the second is counting.
        for cycle, status, due, fire in ((0, "overdue", at + timedelta(days=7), None),
                                         (1, "pending", at + timedelta(days=70), at + timedelta(days=69))):
            conn.execute(text(
                "INSERT INTO deadlines (incident_id, kind, cycle, name, department, starts_at, due_at, status, "
                "warn_before, fire_stage, next_fire_at, timing_version, created_at) VALUES (1, 'progress_report', "
                ":cycle, '续报', 'office', :at, :due, :status, '[]', 1, :fire, 1, :at)"),
                {"cycle": cycle, "at": at, "due": due, "status": status, "fire": fire})
        conn.execute(text("INSERT INTO assignments (incident_id, department, task, status, standard, created_at, "
                          "holiday_key, due_at) VALUES (1, 'office', '节日市场应急预警', 'done', true, :at, "
                          "'2026-10-01:national_day:office', :due)"), {"at": at, "due": at + timedelta(days=3)})
    engine.dispose()


def test_an_old_watch_keeps_no_open_clock_and_leaves_nothing_on_the_sheet(empty_url):  # noqa: F811
    upgrade(empty_url, "0006")
    seed_old_watch(empty_url)
    upgrade(empty_url, "head")
    clock = FakeClock(datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc))
    app = create_app({"DATABASE_URL": empty_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "t",
                      "SCHEDULER": "off"})
    wiring = app.extensions["yingji"]
    try:
        with wiring.sessions() as s:
            incident = s.get(Incident, 1)
            assert (incident.kind, incident.status, incident.source_key) == ("holiday_watch", "watching",
                                                                             "holiday:2026:national_day")
            watch = s.scalar(select(HolidayWatch))
            assert (watch.year, watch.first_day, watch.last_day) == (2026, date(2026, 10, 1), date(2026, 10, 8))
            assert watch.closes_at == datetime(2026, 10, 8, 16, 0, tzinfo=timezone.utc)
            assert [d.next_fire_at for d in s.scalars(select(Deadline))] == [None, None]  # they fire no more
        with app.app_context():
            holiday_watch(wiring)
        with wiring.sessions() as s:
            incident = s.get(Incident, 1)
            assert incident.status == ARCHIVED and "自动关闭" in incident.end_reason
            rows = s.scalars(select(Deadline).order_by(Deadline.cycle)).all()
            assert [r.status for r in rows] == ["cancelled", "cancelled"]
            assert all("节日市场预警不是应急响应" in r.cancel_reason for r in rows)
            actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
            assert actions.count("deadline.cancelled") == 2 and "holiday_watch.closed" in actions
            # The calendar's own dates for 国庆 2026 (1–7 October) replace the ones read off the old text.
            watch = s.scalar(select(HolidayWatch))
            assert watch.last_day == date(2026, 10, 7) and "holiday_watch.moved" in actions
            sheet = accountability.report(s, now=clock.now())
            assert sheet["totals"] == {"met": 0, "late": 0, "missed": 0, "running": 0, "late_seconds_total": 0}
        # The next run finds nothing to do.
        with app.app_context():
            result = holiday_watch(wiring)
        assert result.closed == () and result.moved == ()
    finally:
        wiring.engine.dispose()
    downgrade(empty_url, "0006")
    engine = create_engine(normalise_url(empty_url))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT source_key FROM incidents")).scalar() == "holiday:2026-10-01:national_day"
    engine.dispose()
