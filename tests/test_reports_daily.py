"""The daily situation report goes to leadership each morning at the plan's time: once, board notice and SMS."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import scheduler
from app.jobs import daily_report
from incidents.models import AuditEntry, BoardEvent, Briefing, User
from incidents.plan import DEFAULT_PLAN_FILE, PlanError, load_plan_file, load_plan_text
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from notifiers.base import SendResult
from tests.helpers import incident_payload, iso
from tests.test_reports_api import ok
from tests.test_reports_pdf import check_pdf

EIGHT = datetime(2026, 11, 21, 0, 0, tzinfo=timezone.utc)  # 08:00 Beijing time on the 21st


class RecordingSms:
    """An SMS sender that keeps what it was asked to send (SMS_BACKEND=tests.test_reports_daily:RecordingSms)."""

    provider, kind = "recording", "sms"
    sent: list = []
    fail_for: set = set()

    def __init__(self, settings) -> None:
        self.settings = settings

    def send(self, message) -> SendResult:
        RecordingSms.sent.append(message)
        if message.to in RecordingSms.fail_for:
            return SendResult(self.provider, "failed", error_code="21211", error_message="invalid number")
        return SendResult(self.provider, "queued", provider_id=f"SM{len(RecordingSms.sent)}")


SETTINGS = {"SMS_BACKEND": "tests.test_reports_daily:RecordingSms"}


@pytest.fixture(autouse=True)
def _fresh_recorder():
    RecordingSms.sent = []
    RecordingSms.fail_for = set()


def leaders(wiring, clock):
    with wiring.sessions() as s:
        for name, phone, active in (("刘局长", "+8613900000001", True), ("陈副局长", "+8613900000002", True),
                                    ("无手机", None, True), ("已停用", "+8613900000009", False)):
            user, _ = create_user(s, wiring.plan, name=name, role="leader", phone=phone, now=clock.now(),
                                  actor=SystemActor(name="tests"))
            user.active = active
        s.commit()


def test_the_report_is_due_at_the_plans_time_in_beijing():
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    assert plan.reports.daily_at == "08:00"
    assert daily_report.due_day(plan, EIGHT - timedelta(seconds=1)) is None
    assert daily_report.due_day(plan, EIGHT) == date(2026, 11, 21)
    assert daily_report.due_day(plan, EIGHT + timedelta(hours=15, minutes=59)) == date(2026, 11, 21)
    assert daily_report.due_day(plan, EIGHT + timedelta(hours=16)) is None  # 00:00 of the 22nd


def test_each_morning_once_board_notice_and_sms_to_active_leaders(users, clock, wiring):
    leaders(wiring, clock)
    r = ok(users["station"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()))), 201)
    clock.set(EIGHT - timedelta(minutes=1))
    assert daily_report.run(wiring, SETTINGS) is None
    clock.set(EIGHT + timedelta(seconds=30))
    row = daily_report.run(wiring, SETTINGS)
    assert row is not None and row.job_key == "daily:2026-11-21" and row.notified_at == clock.now()
    assert row.requested_by_id is None  # the scheduler asked
    # SMS to each active leader with a phone, one message each, within two segments.
    assert sorted(m.to for m in RecordingSms.sent) == ["+8613900000001", "+8613900000002"]
    text = RecordingSms.sent[0].text
    assert len(text.encode("utf-16-le")) // 2 <= 134
    assert text.startswith("【中牟县市场监督管理局】11月21日应急每日汇总：在办事件1起")
    assert "超时未报1项" in text and f"B{row.id:06d}" in text  # the station's 1-hour report was missed
    # The overview board is told, with the stored PDF to open.
    with wiring.sessions() as s:
        notices = s.scalars(select(BoardEvent).where(BoardEvent.event == "notice")).all()
        assert [(n.room, n.payload["what"]) for n in notices] == [("overview", "daily_report")]
        assert notices[0].payload["href"] == f"/api/v1/briefings/{row.id}.pdf"
        assert notices[0].payload["title"] == "每日汇总 2026-11-21 已生成"
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "briefing.notified"))
        assert "+86139****0001" in audit.data and "+8613900000001" not in audit.data
        pages = s.get(Briefing, row.id).pages
    pdf = ok(users["leader"].get(f"/api/v1/briefings/{row.id}.pdf"))
    check_pdf(pdf.data, pages, expect=["每日汇总", "2026-11-21", "在办事件 1 起", "某学校食堂疑似食物中毒",
                                       "生成时间：2026-11-21 08:00（北京时间）"])
    # Later checks the same day send nothing more; the next morning sends again.
    clock.advance(minutes=5)
    assert daily_report.run(wiring, SETTINGS).id == row.id
    assert len(RecordingSms.sent) == 2
    clock.advance(days=1)
    assert daily_report.run(wiring, SETTINGS).job_key == "daily:2026-11-22"
    assert len(RecordingSms.sent) == 4
    assert r


def test_two_schedulers_at_once_send_it_once(users, clock, wiring):
    leaders(wiring, clock)
    clock.set(EIGHT)
    results, errors = [], []

    def one():
        try:
            results.append(daily_report.run(wiring, SETTINGS))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    with wiring.sessions() as s:
        assert len(s.scalars(select(Briefing)).all()) == 1
        assert len(s.scalars(select(BoardEvent).where(BoardEvent.event == "notice")).all()) == 1
    assert len(RecordingSms.sent) == 2


def test_a_failed_report_is_tried_again_and_a_failed_sms_is_recorded(users, clock, wiring, monkeypatch):
    from reports import render

    leaders(wiring, clock)
    clock.set(EIGHT)
    real = render.render
    monkeypatch.setattr(render, "render", lambda doc, reference="": (_ for _ in ()).throw(RuntimeError("boom")))
    assert daily_report.run(wiring, SETTINGS) is None
    assert RecordingSms.sent == []
    monkeypatch.setattr(render, "render", real)
    RecordingSms.fail_for = {"+8613900000002"}
    clock.advance(minutes=1)
    row = daily_report.run(wiring, SETTINGS)
    assert row.status == "ready" and len(RecordingSms.sent) == 2
    with wiring.sessions() as s:
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "briefing.notified"))
    assert '"sms_failed":["+86139****0002"]' in audit.data


def test_the_job_is_added_to_the_scheduler(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(timezone="UTC")
    scheduler.add_briefing_jobs(sched, app)
    job = sched.get_job("yingji-daily-report")
    assert job is not None and job.max_instances == 1 and job.trigger.interval == timedelta(minutes=1)


def test_the_sms_stays_within_two_segments_with_many_levels():
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    doc = {"day": "2026-11-21", "totals": {"open": 120, "overdue_now": 15, "late_today": 12, "missed_today": 9,
                                            "unacknowledged": 33},
           "by_level": [{"level": {"label": f"{n}级"}, "count": 30} for n in "ⅠⅡⅢⅣ"] + [{"level": {"label": "未定级"},
                                                                                        "count": 0}]}
    text = daily_report.sms_text(plan, doc, "简报编号 B123456")
    assert len(text.encode("utf-16-le")) // 2 <= 134 and "在办事件120起" in text and "待签收任务33项" in text


@pytest.mark.parametrize("yaml_value,problem", [
    ('daily_at: "25:00"', "reports.daily_at: `25:00` is not a time of day"),
    ("closing_approved_by: [commander]", "reports.closing_approved_by[0]: `commander` is not one of: leader, office"),
    ("weekly: true", "reports.weekly: unknown key `weekly`"),
])
def test_the_plan_key_is_checked_with_its_line(yaml_value, problem):
    text = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
    key = yaml_value.split(":")[0]
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:")), None)
    if at is None:
        at = next(i for i, line in enumerate(lines) if line.startswith("reports:")) + 1
        lines.insert(at, f"  {yaml_value}")
    else:
        lines[at] = f"  {yaml_value}"
    with pytest.raises(PlanError) as caught:
        load_plan_text("\n".join(lines) + "\n")
    assert any(problem in str(issue) and issue.line == at + 1 for issue in caught.value.issues), caught.value.issues


def test_a_plan_without_the_key_gets_the_defaults():
    text = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
    head = text[: text.index("\nreports:")]
    plan = load_plan_text(head + "\n")
    assert plan.reports.daily_at == "08:00" and plan.reports.closing_approved_by == ("leader",)
    assert "内部资料" in plan.reports.classification
    assert User  # imported for the fixtures' tables
