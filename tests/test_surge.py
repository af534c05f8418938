"""The complaint surge watch (投诉高峰) and consumer warnings (消费预警), on SQLite and PostgreSQL.

"Thirty complaints about one restaurant in an hour light up the boards and propose an incident."
"""
from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app import scheduler
from app.jobs import complaints as complaint_jobs
from incidents.records import audit
from incidents import complaints
from incidents.complaints import surge
from incidents.response import flows
from incidents.kernel.calendar import WeekdayCalendar
from incidents.models import (
    BoardEvent,
    Complaint,
    ConsumerWarning,
    Incident,
    Surge,
)
from incidents.complaints.verification import Verified, phone_key
from incidents.plan import SurgeRule
from tests.helpers import incident_payload


def file(wiring, n: int, *, business: str = "张记烧烤", category: str = "catering", start_minutes: float = 50,
         address: str = "中牟县城关镇人民路1号", phone_base: int = 13800000000, verified: bool = True) -> list[str]:
    """File n complaints through the domain, spread over the last `start_minutes` minutes (each phone verified)."""
    plan, now = wiring.plan, wiring.clock.now()
    numbers = []
    with wiring.sessions() as s:
        for i in range(n):
            at = now - timedelta(minutes=start_minutes) + timedelta(minutes=start_minutes * i / max(n, 1))
            clean = complaints.validate(plan, {
                "kind": "complaint", "name": f"投诉人{i}", "phone": str(phone_base + i), "business_name": business,
                "business_address": address, "category": category, "description": "吃完以后腹泻，要求退款",
                "demand": "refund", "amount": "50"}, now=now)
            proof = Verified("sms", phone_key(b"test", clean.phone)) if verified else None
            numbers.append(complaints.submit(s, plan, WeekdayCalendar(), clean, now=at, verified=proof).tracking_no)
        s.commit()
    return numbers


def run_watch(wiring) -> surge.WatchResult:
    with wiring.sessions() as s:
        result = surge.watch(s, wiring.plan, now=wiring.clock.now())
        s.commit()
    return result


def test_thirty_complaints_about_one_restaurant_in_an_hour(wiring):
    numbers = file(wiring, 30)
    result = run_watch(wiring)
    assert len(result.opened) == 2  # the restaurant, and the category (30 catering complaints in an hour)
    # The restaurant's surge proposes the incident; the category's joins it.
    assert len(result.proposed) == 1 and result.linked == result.proposed
    with wiring.sessions() as s:
        rows = {r.dimension: r for r in s.scalars(select(Surge))}
        business = rows["business"]
        assert (business.label, business.count, business.status, business.action) == ("张记烧烤", 30, "open", "proposed")
        assert rows["category"].label == "餐饮服务" and rows["category"].incident_id == business.incident_id
        incident = s.get(Incident, business.incident_id)
        assert (incident.level, incident.status, incident.category) == ("IV", "registered", "complaint_surge")
        assert incident.source_key == f"surge:{business.id}"
        assert incident.lead_department == "complaints" and incident.station == "chengguan"
        assert incident.title == "消费投诉高峰：张记烧烤（1小时内30件）"
        assert "不少于10件且为基线的3倍" in incident.nature and "餐饮服务30件" in incident.scope
        assert incident.location == "中牟县城关镇人民路1号"
        linked = s.scalars(select(Complaint.tracking_no).where(Complaint.incident_id == incident.id)).all()
        assert sorted(linked) == sorted(numbers)
        # The boards: the centre's, the office's and the overview hear the alert.
        alerts = s.scalars(select(BoardEvent).where(BoardEvent.event == "alert")).all()
        rooms = {e.room for e in alerts if e.payload["surge"]["dimension"] == "business"}
        assert rooms == {"overview", "dept:complaints", "dept:office"}
        message = next(e.payload["message"] for e in alerts if e.payload["surge"]["dimension"] == "business")
        assert message == f"投诉高峰：张记烧烤，1小时内30件，已提出Ⅳ级事件建议{incident.number}"
        # A consumer warning waits as a draft; nothing is public.
        drafts = s.scalars(select(ConsumerWarning)).all()
        assert len(drafts) == 2 and {d.status for d in drafts} == {"draft"}
        assert "张记烧烤" not in drafts[0].body  # a business is named in public only by a person's decision
        assert audit.verify(s).ok

    # The next run finds them open: nothing is proposed twice.
    again = run_watch(wiring)
    assert again.opened == [] and sorted(again.still_open) == sorted(r.id for r in rows.values())
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_below_the_threshold_nothing_happens(wiring):
    file(wiring, 9)
    assert run_watch(wiring).opened == []


def test_the_baseline_raises_the_bar(wiring):
    plan = wiring.plan
    rules = dataclasses.replace(plan.surge, rules=(SurgeRule("business", timedelta(hours=1), 5, 3.0),),
                                baseline=timedelta(days=7))
    busy = dataclasses.replace(plan, surge=rules)
    now = wiring.clock.now()
    # A market stall that always gets about two complaints an hour: seven days of them.
    with wiring.sessions() as s:
        for h in range(1, 7 * 24):
            for k in range(2):
                clean = complaints.validate(plan, {"name": "甲", "phone": str(13700000000 + 2 * h + k),
                                                   "business_name": "老街菜市场",
                                                   "business_address": "城关镇", "category": "metrology",
                                                   "description": "缺斤短两问题", "demand": "refund"}, now=now)
                complaints.submit(s, plan, WeekdayCalendar(), clean, now=now - timedelta(hours=h, minutes=30 + k),
                                  verified=Verified("sms", phone_key(b"test", clean.phone)))
        s.commit()
    file(wiring, 5, business="老街菜市场", category="metrology")
    with wiring.sessions() as s:
        assert surge.detect(s, busy, now=now) == []  # 5 in the hour against about 2: not three times
    file(wiring, 2, business="老街菜市场", category="metrology", phone_base=13900000000)
    with wiring.sessions() as s:
        hits = surge.detect(s, busy, now=now)
    assert [(h.dimension, h.count) for h in hits] == [("business", 7)]
    assert 1.9 < hits[0].expected < 2.1


def test_a_surge_joins_an_open_incident_on_the_same_category(wiring, make_user):
    office = make_user("office", "office")
    r = office.post("/api/v1/incidents", json=incident_payload(title="城关镇多家餐馆疑似食品安全问题", category="catering_safety",
                                                               discovered_at="2026-11-20T08:00:00+08:00"))
    assert r.status_code == 201, r.get_json()
    incident_id = r.get_json()["id"]
    for k in range(6):  # 30 catering complaints, about six restaurants: no single one is a surge
        file(wiring, 5, business=f"第{k}家饭店", phone_base=13800000000 + 100 * k)
    result = run_watch(wiring)
    assert result.proposed == [] and result.linked == [incident_id]
    with wiring.sessions() as s:
        row = s.scalar(select(Surge))
        assert (row.dimension, row.action, row.incident_id) == ("category", "linked", incident_id)
        assert s.scalar(select(func.count()).select_from(Complaint).where(Complaint.incident_id == incident_id)) == 30
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_surges_end_and_cool_down(wiring):
    file(wiring, 12)
    first = run_watch(wiring)
    assert len(first.opened) == 1
    wiring.clock.advance(hours=2)
    ended = run_watch(wiring)
    assert ended.ended == first.opened
    with wiring.sessions() as s:
        assert s.scalar(select(Surge.status)) == "ended"
        assert any(e.payload.get("what") == "complaint_surge_ended" for e in s.scalars(select(BoardEvent)))
    file(wiring, 12, phone_base=13900000000)
    assert run_watch(wiring).opened == []  # within the plan's cooldown (12 hours)
    wiring.clock.advance(hours=13)
    file(wiring, 12, phone_base=13700000000)
    later = run_watch(wiring)
    assert len(later.opened) == 1 and later.linked  # the proposed incident is still open: it takes them
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_two_watch_processes_open_one_surge(wiring):
    file(wiring, 30)
    a, b = wiring.sessions(), wiring.sessions()
    errors = []
    try:
        first = surge.watch(a, wiring.plan, now=wiring.clock.now())
        assert len(first.opened) == 2

        def other():
            try:
                # On PostgreSQL this waits on the unique index until the first commits, then finds it;
                # on SQLite it waits at BEGIN IMMEDIATE and then sees the first's rows.
                surge.watch(b, wiring.plan, now=wiring.clock.now())
                b.commit()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)  # let the second watch reach the rows the first holds (not a deadline)
        a.commit()
        thread.join(timeout=30)
        assert not thread.is_alive() and errors == []
    finally:
        a.close()
        b.close()
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Surge)) == 2
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(ConsumerWarning)) == 2


def test_a_consumer_warning_is_public_only_after_leadership_approves(wiring, make_user, app):
    file(wiring, 30)
    run_watch(wiring)
    centre = make_user("duty_officer", "complaints")
    leader = make_user("leader")
    catering = make_user("duty_officer", "catering")
    public = app.test_client()
    drafts = centre.get("/api/v1/consumer-warnings?status=draft").get_json()["warnings"]
    wid = drafts[0]["id"]
    assert public.get("/api/v1/consumer-warnings/published").get_json()["warnings"] == []
    assert public.get(f"/12315/warnings/{wid}").status_code == 404
    assert catering.post(f"/api/v1/consumer-warnings/{wid}",
                         json={"title": "x", "body": "y"}).status_code == 403
    r = centre.post(f"/api/v1/consumer-warnings/{wid}", json={
        "title": "关于餐饮消费的预警提示", "body": "近期投诉较多。有疑问请联系13812345678。<script>alert(1)</script>"})
    assert r.status_code == 200 and "138****5678" in r.get_json()["body"]
    assert centre.post(f"/api/v1/consumer-warnings/{wid}/approve").status_code == 403  # not submitted, not a leader
    assert centre.post(f"/api/v1/consumer-warnings/{wid}/submit").get_json()["status"] == "submitted"
    assert centre.post(f"/api/v1/consumer-warnings/{wid}/approve").status_code == 403
    r = leader.post(f"/api/v1/consumer-warnings/{wid}/return", json={})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "note"
    assert leader.post(f"/api/v1/consumer-warnings/{wid}/return", json={"note": "请补充消费提示"}).get_json()["status"] == "draft"
    centre.post(f"/api/v1/consumer-warnings/{wid}/submit")
    r = leader.post(f"/api/v1/consumer-warnings/{wid}/approve")
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    listed = public.get("/api/v1/consumer-warnings/published").get_json()["warnings"]
    assert [w["id"] for w in listed] == [wid]
    # The public sees the warning, not the leadership's note on it nor its drafting history.
    assert set(listed[0]) == {"id", "title", "body", "published_at"}
    assert "请补充消费提示" not in public.get("/api/v1/consumer-warnings/published").get_data(as_text=True)
    page = public.get("/12315/warnings").get_data(as_text=True)
    assert "关于餐饮消费的预警提示" in page
    detail = public.get(f"/12315/warnings/{wid}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail and "<script>alert" not in detail
    assert "13812345678" not in detail


def test_the_scheduler_jobs(wiring, app):
    sched = BackgroundScheduler(timezone="UTC")
    scheduler.add_complaint_jobs(sched, app)
    assert {j.id for j in sched.get_jobs()} == {"yingji-complaints-intake", "yingji-complaints-surge",
                                                "yingji-complaints-limits", "yingji-complaints-housekeeping"}
    file(wiring, 30)
    assert complaint_jobs.intake_digest(wiring) == 30
    result = complaint_jobs.surge_watch(wiring)
    assert len(result.opened) == 2 and len(result.proposed) == 1
    assert complaint_jobs.housekeeping(wiring) == {"recounted": 0, "erased": 0, "rate_buckets_dropped": 0,
                                                   "challenges_dropped": 0}
    with wiring.sessions() as s:
        incident = s.scalar(select(Incident))
        # The proposed incident is an incident like any other: the leadership activates it.
        flows.activate(s, incident_id=incident.id, actor=_leader(s, wiring), now=wiring.clock.now())
        s.commit()
        assert s.get(Incident, incident.id).status == "active"


def _leader(session, wiring):
    from incidents.kernel.actors import SystemActor
    from incidents.people.users import create_user

    user, _ = create_user(session, wiring.plan, name="领导", role="leader", now=wiring.clock.now(),
                          actor=SystemActor(name="tests"))
    return user


def test_an_area_surge_joins_the_incident_most_of_its_complaints_belong_to(wiring):
    plan = wiring.plan
    rules = dataclasses.replace(plan.surge, rules=(SurgeRule("category", timedelta(hours=1), 10, 3.0),
                                                   SurgeRule("area", timedelta(hours=1), 15, 3.0)))
    custom = dataclasses.replace(plan, surge=rules)
    file(wiring, 10, business="甲店", category="prices", address="中牟县韩寺镇一号")
    file(wiring, 10, business="乙店", category="metrology", address="中牟县城关镇二号", phone_base=13900000000)
    file(wiring, 6, business="丙店", category="food", address="中牟县城关镇三号", phone_base=13700000000)
    with wiring.sessions() as s:
        result = surge.watch(s, custom, now=wiring.clock.now())
        s.commit()
        rows = {(r.dimension, r.value): r for r in s.scalars(select(Surge))}
    assert set(rows) == {("category", "prices"), ("category", "metrology"), ("area", "chengguan")}
    # 10 of 城关's 16 complaints are the metrology surge's: the area joins that incident, not the prices one.
    area = rows[("area", "chengguan")]
    assert (area.action, area.incident_id) == ("linked", rows[("category", "metrology")].incident_id)
    assert len(result.proposed) == 2
