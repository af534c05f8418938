"""Holiday market watches: a warning with tasks, not a response; every unit's duty checked; closed after.

Database tests run on SQLite and PostgreSQL; the clock is a fake one, set to Beijing mornings.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.calendar import calendar_for
from incidents.response import accountability, holiday_watch
from incidents.people import duty
from incidents.response.firing import fire_due
from incidents.models import (
    ARCHIVED,
    HOLIDAY_WATCH,
    WATCHING,
    Assignment,
    AuditEntry,
    BoardEvent,
    Deadline,
    Escalation,
    HolidayWatch,
    Incident,
)
from incidents.kernel.actors import SystemActor
from tests.test_calendar import notice_2027

ACTOR = SystemActor(name="holiday-watch")
BEIJING = timezone(timedelta(hours=8))


def beijing(y, m, d, hh=9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=BEIJING).astimezone(timezone.utc)


def run(wiring) -> holiday_watch.WatchReport:
    with wiring.sessions() as session:
        result = holiday_watch.run_watch(session, wiring.plan, calendar_for(session, wiring.plan), actor=ACTOR,
                                    now=wiring.clock.now())
        session.commit()
    return result


def watches(wiring) -> list[Incident]:
    with wiring.sessions() as session:
        return list(session.scalars(select(Incident).where(Incident.kind == HOLIDAY_WATCH).order_by(Incident.id)))


def test_new_year_2027_opens_on_28_december_once_with_tasks_and_every_units_duty_gaps(wiring, clock):
    plan = wiring.plan
    clock.set(beijing(2026, 12, 27))
    result = run(wiring)
    assert result.opened == () and watches(wiring) == []
    # Nothing official is known of 2027 yet: the watch ahead is said to rest on the statutory dates.
    assert any("2027年元旦" in text and "按法定节假日推算" in text for text in result.uncertain)
    with wiring.sessions() as session:
        # The 城关 station and the office keep holiday duty; nobody else has a roster yet.
        for unit in ("chengguan", "office"):
            duty.add_shift(session, plan, department=unit, starts_at=beijing(2026, 12, 31, 8),
                           ends_at=beijing(2027, 1, 4, 0), officer_name="值班员", phone="+8613800000999",
                           actor=ACTOR, now=clock.now())
        session.commit()
    clock.set(beijing(2026, 12, 28, 8))  # the day has come, but nobody is woken for a warning before 08:30
    assert run(wiring).opened == ()
    clock.set(beijing(2026, 12, 28))
    first, second = run(wiring), run(wiring)
    assert len(first.opened) == 1 and second.opened == ()
    [watch] = watches(wiring)
    assert (watch.status, watch.level, watch.activated_at) == (WATCHING, "IV", None)
    assert "2027年元旦" in watch.title and "法定节假日推算" in watch.scope
    with wiring.sessions() as session:
        row = session.scalar(select(HolidayWatch))
        assert (row.first_day, row.last_day, row.certain) == (date(2027, 1, 1), date(2027, 1, 3), False)
        assert row.closes_at == beijing(2027, 1, 4, 0)
        assert session.scalars(select(Deadline).where(Deadline.incident_id == watch.id)).all() == []
        tasks = session.scalars(select(Assignment).where(Assignment.incident_id == watch.id)).all()
        expected = {(d, t.code) for t in plan.holiday_warnings.tasks for d in t.departments}
        assert {(a.department, a.holiday_key.split(":")[2]) for a in tasks} == expected
        due = {a.holiday_key.split(":")[2]: a.due_at for a in tasks}
        assert due["market_warning"] == beijing(2026, 12, 30, 0) and due["inspection"] == beijing(2026, 12, 31, 0)
        # Each task escalates like any unacknowledged task, on the watch's Ⅳ chain.
        assert session.scalar(select(Escalation).where(Escalation.assignment_id == tasks[0].id)) is not None
        alerts = session.scalars(select(BoardEvent).where(BoardEvent.event == "alert",
                                                          BoardEvent.room == "overview")).all()
    names = {g.department for g in first.duty_gaps}
    assert "chengguan" not in names and "office" not in names
    assert {"guandu", "qingnianlu", "prices", "complaints"} <= names
    assert {s.code for s in plan.stations} - {"chengguan"} <= names  # every station without cover is named
    gap = next(g for g in first.duty_gaps if g.department == "guandu")
    assert gap.message == "官渡市场监督管理所2027年元旦放假期间值班空档，无人值守"
    assert (gap.starts_at, gap.ends_at) == (beijing(2027, 1, 1, 0), beijing(2027, 1, 4, 0))
    # Announced once; the second run found the same gaps and said nothing more.
    assert [a.payload["what"] for a in alerts] == ["holiday_duty_gap"], [a.payload for a in alerts]
    assert "官渡市场监督管理所" in alerts[0].payload["message"]


def test_spring_festival_2027_opens_on_1_february_from_the_statutory_dates(wiring, clock):
    clock.set(beijing(2027, 1, 31))
    run(wiring)
    assert not [w for w in watches(wiring) if "春节" in w.title]
    clock.set(beijing(2027, 2, 1))
    result = run(wiring)
    [watch] = [w for w in watches(wiring) if "春节" in w.title]
    assert result.opened == (watch.id,)
    with wiring.sessions() as session:
        row = session.scalar(select(HolidayWatch).where(HolidayWatch.incident_id == watch.id))
        assert (row.holiday, row.year, row.first_day, row.last_day) == ("spring_festival", 2027, date(2027, 2, 5),
                                                                       date(2027, 2, 8))


def _do_every_task(wiring, users, incident_id: int, *, skip: str | None = None) -> None:
    with wiring.sessions() as session:
        tasks = session.scalars(select(Assignment).where(Assignment.incident_id == incident_id)).all()
    for task in tasks:
        if skip and skip in task.holiday_key:
            continue
        who = users["office"] if task.department == "office" else users.setdefault(
            task.department, users["make"]("duty_officer", task.department))
        for action in ("ack", "done"):
            r = who.post(f"/api/v1/assignments/{task.id}/{action}", json={"note": "已完成"})
            assert r.status_code == 200, r.get_json()


def test_a_week_after_each_holiday_nothing_of_it_is_overdue_missed_or_open(wiring, clock, users, make_user):
    users["make"] = make_user
    for opens, after, done_on in ((beijing(2026, 12, 28), beijing(2027, 1, 10), beijing(2026, 12, 29)),
                                  (beijing(2027, 2, 1), beijing(2027, 2, 15), beijing(2027, 2, 2))):
        clock.set(opens)
        run(wiring)
        watch = watches(wiring)[-1]
        clock.set(done_on)
        # Every task done in time but the complaint centre's, which nobody does.
        _do_every_task(wiring, users, watch.id, skip="complaint_peak")
        # The days pass: the clock scheduler and the watch run as they would.
        while clock.now() < after:
            clock.advance(hours=6)
            fire_due(wiring.sessions, now=clock.now())
            run(wiring)
        with wiring.sessions() as session:
            incident = session.get(Incident, watch.id)
            assert incident.status == ARCHIVED and "自动关闭" in incident.end_reason
            assert session.scalars(select(Deadline).where(Deadline.incident_id == watch.id)).all() == []
            running = session.scalars(select(Escalation).where(Escalation.incident_id == watch.id,
                                                               Escalation.status.in_(("running", "exhausted")))).all()
            assert running == []
            sheet = accountability.report(session, now=clock.now())
            assert all(i["incident_id"] != watch.id for i in sheet["by_incident"])
            closed = session.scalar(select(AuditEntry).where(AuditEntry.action == "holiday_watch.closed",
                                                             AuditEntry.incident_id == watch.id))
            assert closed is not None
    # Only the undone task counts against anyone: the centre's, recorded when each watch closed.
    with wiring.sessions() as session:
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.action == "holiday_watch.closed")):
            import json

            outcome = json.loads(entry.data)["tasks"]
            missed = session.scalars(select(Assignment).where(Assignment.id.in_(outcome["missed"]))).all()
            assert [a.department for a in missed] == ["complaints"] and len(outcome["on_time"]) == 7


def test_a_watch_is_not_a_response(wiring, clock, users):
    clock.set(beijing(2026, 12, 28))
    run(wiring)
    [watch] = watches(wiring)
    attempts = [
        (users["office"], f"/api/v1/incidents/{watch.id}/level", {"level": "II", "reason": "升级"}),
        (users["leader"], f"/api/v1/incidents/{watch.id}/activate", {}),
        (users["office"], f"/api/v1/incidents/{watch.id}/reports", {"kind": "progress", "body": "续报"}),
        (users["leader"], f"/api/v1/incidents/{watch.id}/end", {"reason": "结束"}),
    ]
    for user, url, body in attempts:
        r = user.post(url, json=body)
        assert r.status_code == 409 and "节日市场预警不是应急响应" in r.get_json()["error"]["message"], url
    body = users["office"].get(f"/api/v1/incidents/{watch.id}").get_json()
    assert body["kind"] == "holiday_watch" and body["status"] == "watching" and body["deadlines"] == []
    # The office may still give the watch a task of its own.
    r = users["office"].post(f"/api/v1/incidents/{watch.id}/assignments",
                             json={"department": "prices", "task": "节前对超市开展价格巡查"})
    assert r.status_code == 201, r.get_json()


def test_a_notice_entered_later_moves_the_open_watch_and_its_tasks(wiring, clock, users):
    clock.set(beijing(2027, 2, 1))
    run(wiring)
    [watch] = [w for w in watches(wiring) if "春节" in w.title]
    r = users["office"].client.put("/api/v1/calendar/2027", json=notice_2027(),
                                   headers={"Authorization": f"Bearer {users['office'].token}"})
    assert r.status_code == 201, r.get_json()
    with wiring.sessions() as session:
        row = session.scalar(select(HolidayWatch).where(HolidayWatch.incident_id == watch.id))
        assert (row.first_day, row.last_day, row.certain) == (date(2027, 2, 5), date(2027, 2, 13), True)
        assert row.closes_at == beijing(2027, 2, 14, 0)
        moved = session.scalar(select(AuditEntry).where(AuditEntry.action == "holiday_watch.moved"))
        assert moved is not None and moved.incident_id == watch.id


def test_stations_keep_their_own_roster(wiring, clock, users, make_user):
    other = make_user("station", "guandu")
    body = {"starts_at": "2026-12-31T08:00:00+08:00", "ends_at": "2027-01-01T08:00:00+08:00",
            "officer_name": "所值班员", "phone": "+8613800000777"}
    assert users["station"].post("/api/v1/departments/chengguan/shifts", json=body).status_code == 201
    assert other.post("/api/v1/departments/chengguan/shifts", json=body).status_code == 403
    assert users["office"].post("/api/v1/departments/guandu/shifts", json=body).status_code == 201
    r = users["office"].post("/api/v1/departments/nowhere/shifts", json=body)
    assert r.status_code == 404 and "没有科室或市场监督管理所" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("now", [beijing(2026, 11, 22)])
def test_the_watch_says_plainly_where_the_calendar_ends(wiring, clock, now):
    clock.set(now)
    with wiring.sessions() as session:
        calendar = calendar_for(session, wiring.plan)
        found, missing = holiday_watch.upcoming(calendar, ("national_day",), date(2099, 9, 1), horizon=timedelta(days=400))
    assert [b.label for b in found] == ["2099年国庆节"]
    assert missing and "日历未覆盖2100年" in missing[0]
