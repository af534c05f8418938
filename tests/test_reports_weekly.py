"""The weekly complaints summary for leadership (每周投诉举报情况汇总): content, no personal data, access, the Monday send.

The complaints are made through the domain's own functions (validate, submit, triage, change_status,
the surge watch, the consumer-warning approval) on SQLite and PostgreSQL (the db_url fixture); the
PDF is read back with poppler (tests/test_reports_pdf.py's helpers).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app import scheduler
from app.jobs import briefings, weekly_complaints
from app.calendar import calendar_for
from incidents.complaints.verification import Verified, phone_key
from incidents import complaints
from incidents.complaints import surge
from incidents.models import AuditEntry, BoardEvent, Briefing, ConsumerWarning, User
from incidents.plan import DEFAULT_PLAN_FILE, load_plan_file
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from reports import fonts, render, samples, store, weekly_snapshot
from tests.test_api_errors import assert_error
from tests.test_reports_api import _page_as, get, ok
from tests.test_reports_daily import SETTINGS, RecordingSms
from tests.test_reports_pdf import check_glyphs, check_pdf, flat, pdf_text

BEIJING = timezone(timedelta(hours=8))
PLAN = load_plan_file(DEFAULT_PLAN_FILE)
MONDAY = date(2026, 11, 30)  # week 49 of 2026: Monday 30 November to Sunday 6 December
AFTER = datetime(2026, 12, 7, 9, 0, tzinfo=BEIJING)  # the Monday after, 09:00 Beijing time
# What complainants typed that no leader's PDF may show: phones, names, addresses, their own words.
PERSONAL = ["赵大明", "钱小红", "孙志强", "青年路8号", "全家腹泻", "MT20261116", "410122199001011234"]


@pytest.fixture(autouse=True)
def _fresh_recorder():
    RecordingSms.sent = []
    RecordingSms.fail_for = set()


def form(n: int, **overrides) -> dict:
    """A complaint as the public types it: complainant n's own name, phone and address."""
    data = {
        "kind": "complaint", "name": ("赵大明", "钱小红", "孙志强")[n % 3], "phone": f"13{7 + n % 2}0000{n:04d}",
        "address": f"中牟县城关镇青年路8号{n}室", "business_name": "张记烧烤", "business_address": "中牟县城关镇人民路1号",
        "category": "catering", "amount": "100.50", "order_no": f"MT20261116{n:04d}",
        "description": "在该店吃烧烤后全家腹泻，身份证410122199001011234，要求退款。", "demand": "refund",
    }
    data.update(overrides)
    return data


def phones(n: int) -> list[str]:
    """Every complainant phone the scenario used."""
    return [form(i)["phone"] for i in range(n)]


class Week:
    """The scenario's complaints, made through the domain's functions with the fake clock."""

    def __init__(self, wiring, clock, make_user) -> None:
        self.wiring, self.clock, self.plan = wiring, clock, wiring.plan
        self.api = {"centre": make_user("duty_officer", "complaints", "+8613900000001"),
                    "catering": make_user("duty_officer", "catering", "+8613900000002"),
                    "drugs": make_user("duty_officer", "drugs", "+8613900000003"),
                    "leader": make_user("leader", phone="+8613900000009"), "office": make_user("office", "office"),
                    "commander": make_user("commander"), "station": make_user("station", "chengguan")}
        with wiring.sessions() as s:
            self.calendar = calendar_for(s, self.plan)
            self.actor = {k: s.get(User, u.id) for k, u in self.api.items()}
        self.count = 0

    def at(self, moment: datetime) -> None:
        self.clock.set(moment.astimezone(timezone.utc))

    def submit(self, **overrides) -> str:
        """File a complaint now; return its tracking number."""
        with self.wiring.sessions() as s:
            clean = complaints.validate(self.plan, form(self.count, **overrides), now=self.clock.now())
            receipt = complaints.submit(s, self.plan, self.calendar, clean, now=self.clock.now(), source="api",
                                        verified=Verified("sms", phone_key(b"test", clean.phone)))
            s.commit()
        self.count += 1
        return receipt.tracking_no

    def triage(self, number: str, department: str) -> None:
        with self.wiring.sessions() as s:
            complaints.triage(s, self.plan, tracking_no=number, department=department, note="按类别分流",
                              actor=self.actor["centre"], now=self.clock.now())
            s.commit()

    def move(self, number: str, to: str, who: str, **text) -> None:
        with self.wiring.sessions() as s:
            complaints.change_status(s, self.plan, self.calendar, tracking_no=number, to=to, actor=self.actor[who],
                                     now=self.clock.now(), **text)
            s.commit()

    def build(self) -> None:
        """Last week 3 complaints; this week 16 complaints and 2 tip-offs, a surge, a published warning."""
        self.at(datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING))
        missed = self.submit()  # never decided: its 7 working days ran out on Wednesday 2 December
        late = self.submit()
        self.triage(late, "catering")
        settled = self.submit()
        self.triage(settled, "catering")
        self.move(settled, "accepted", "catering")  # met, in the week before: not this week's figure
        self.at(datetime(2026, 11, 30, 10, 0, tzinfo=BEIJING))
        burst = [self.submit() for _ in range(12)]  # 12 about one restaurant within the hour: a surge
        self.clock.advance(minutes=20)
        with self.wiring.sessions() as s:
            watched = surge.watch(s, self.plan, now=self.clock.now())
            s.commit()
        assert len(watched.opened) == 1 and len(watched.proposed) == 1
        self.submit(business_name="李记超市", business_address="中牟县韩寺镇中心街2号", category="food", amount="20")
        self.submit(business_name="李记超市", business_address="中牟县韩寺镇中心街2号", category="food", amount="30")
        # A shop name with a mobile number in it: shown masked, never in full.
        self.submit(business_name="王五副食店13912345678", business_address="中牟县某路", category="prices", amount="")
        self.submit(business_name="王五副食店13912345678", business_address="中牟县某路", category="prices", amount="")
        tip = self.submit(kind="tipoff", name="", business_name="康健大药房", business_address="中牟县城关镇建设路9号",
                          category="drugs", demand="")
        self.submit(kind="tipoff", name="", business_name="康健大药房", business_address="中牟县城关镇建设路9号",
                    category="drugs", demand="")
        self.at(datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING))
        self.triage(burst[0], "catering")
        self.move(burst[0], "accepted", "catering")
        self.move(burst[1], "refused", "centre", reason="不属于本局管辖")
        self.triage(tip, "drugs")
        self.move(tip, "filed", "drugs")
        with self.wiring.sessions() as s:
            warning = s.scalars(select(ConsumerWarning)).one()
            surge.submit_warning(s, self.plan, warning_id=warning.id, actor=self.actor["centre"], now=self.clock.now())
            surge.decide_warning(s, self.plan, warning_id=warning.id, approve=True, note=None,
                                 actor=self.actor["leader"], now=self.clock.now())
            s.commit()
        self.at(datetime(2026, 12, 3, 10, 0, tzinfo=BEIJING))
        self.move(late, "accepted", "catering")  # due by the end of the 2nd: a day late
        self.move(burst[0], "mediating", "catering")
        self.at(datetime(2026, 12, 4, 15, 0, tzinfo=BEIJING))
        self.move(burst[0], "closed", "catering", answer="经调解，商家退款100.50元")


@pytest.fixture
def built(wiring, clock, make_user) -> Week:
    """The week's complaints, the clock on its Friday afternoon."""
    scenario = Week(wiring, clock, make_user)
    scenario.build()
    return scenario


@pytest.fixture
def week(built) -> Week:
    """The week's complaints, the clock on the Monday after, 09:00."""
    built.at(AFTER)
    return built


def no_personal_data(text: str, used: int) -> None:
    """Fail if any complainant's phone (full or masked), name, address or words is in the text."""
    squeezed = flat(text)
    for phone in phones(used):
        assert phone not in text, phone
        assert f"{phone[:3]}****{phone[-4:]}" not in squeezed, phone
    for word in PERSONAL:
        assert word not in squeezed, word
    assert "13912345678" not in text and "139****5678" in squeezed  # the shop's name, masked
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text), "a full mobile number"


# --- the document -------------------------------------------------------------------------------


def test_a_leader_reads_the_weeks_summary(week, wiring):
    r = ok(week.api["leader"].get("/api/v1/reports/complaints-weekly.pdf?week=2026-12-02"))
    assert r.mimetype == "application/pdf"
    bid = int(r.headers["X-Briefing-Id"])
    with wiring.sessions() as s:
        row = s.get(Briefing, bid)
        assert (row.kind, row.params, row.title) == ("complaints_weekly", {"week": "2026-11-30"},
                                                     "每周投诉举报情况汇总 2026-11-30至2026-12-06")
        assert row.sha256 == r.headers["X-Briefing-SHA256"]
        pages = row.pages
    text = check_pdf(r.data, pages, expect=[
        "中牟县市场监督管理局", "内部资料", "每周投诉举报情况汇总", "2026年第49周", "2026-11-30（星期一）至 2026-12-06（星期日）",
        "生成时间：2026-12-07 09:00（北京时间）", f"简报编号 B{bid:06d}",
        # 一: 16 complaints and 2 tip-offs this week, 3 the week before.
        "本周共收到投诉举报 18 件，其中投诉 16 件、举报 2 件，较上周（3 件）增加 15 件（+500%）",
        "涉及金额合计 1,457.00 元",
        "本周分流 2 件；受理投诉 2 件、不予受理 1 件，开始调解 1 件；举报立案 1 件、不予立案 0 件；办结 1 件。",
        # Acceptance: two met this week (accepted, refused), one late (last week's), one overdue (last week's).
        "按时办结 4 项，超期办结 1 项，超期未办 1 项，按时率 66.7%",
        "本周出现投诉高峰 1 起，发布消费预警 1 条",
        "受理与办理情况", "本周收到的投诉举报及目前状态", "本周办理情况（含以前收到的）",
        "投诉举报类别", "餐饮服务", "价格收费", "药品", "类别分布图",
        "被投诉举报较多的经营者（前 4 名）", "张记烧烤", "李记超市", "康健大药房", "1,206.00",
        "区域分布", "城关", "韩寺",
        "法定时限执行情况", "作出受理或不予受理决定", "终结调解", "作出是否立案决定", "各承办单位", "餐饮食品安全监督管理",
        "各承办单位时限执行情况图",
        "投诉高峰与消费预警", "经营者", "1小时内12件", "提出Ⅳ级事件 YJ2026-00001", "关于餐饮服务消费的消费预警提示", "已发布",
        "不含投诉举报人的姓名、联系电话、证件号码、地址等个人信息",
    ])
    no_personal_data(text, week.count)
    with wiring.sessions() as s:
        doc = weekly_snapshot.complaints_weekly_snapshot(s, wiring.plan, monday=MONDAY, now=AFTER)
    check_glyphs(doc)
    assert doc["status"][0] == {"kind": "complaint", "name": "投诉", "total": 16, "received": 14, "accepted": 0,
                                "refused": 1, "mediating": 0, "closed": 1, "filed": 0, "not_filed": 0}
    assert doc["status"][1]["total"] == 2 and doc["status"][1]["filed"] == 1
    assert doc["handled"][0] == {"kind": "complaint", "name": "投诉", "triaged": 1, "accepted": 2, "refused": 1,
                                 "mediating": 1, "filed": 0, "not_filed": 0, "closed": 1}
    assert [(c["name"], c["complaint"], c["tipoff"]) for c in doc["categories"]] == [
        ("餐饮服务", 12, 0), ("价格收费", 2, 0), ("药品", 0, 2), ("食品", 2, 0)]
    assert {d["name"]: (d["met"], d["late"], d["missed"], d["overdue_now"]) for d in doc["departments"]} == {
        "餐饮食品安全监督管理": (2, 1, 0, 0), "315投诉中心": (1, 0, 1, 1), "药品医疗器械化妆品监督管理": (1, 0, 0, 0)}


def test_the_pdf_agrees_with_the_summary_endpoint(week, wiring):
    summary = ok(week.api["leader"].get("/api/v1/complaints/summary?from=2026-11-30&to=2026-12-07")).get_json()
    with wiring.sessions() as s:
        doc = weekly_snapshot.complaints_weekly_snapshot(s, wiring.plan, monday=MONDAY, now=AFTER)
    assert doc["received"] == summary["received"]
    assert doc["limits"] == summary["limits"] and doc["overdue_now"] == summary["overdue_now"]
    assert [(b["name"], b["count"]) for b in doc["businesses"]] == [
        (complaints.redact(b["business"]), b["count"]) for b in summary["top_businesses"]]
    for outcome in ("met", "late", "missed", "running"):
        assert sum(d[outcome] for d in doc["departments"]) == sum(r[outcome] for r in summary["limits"])
    assert sum(r["total"] for r in doc["status"]) == summary["received"]["total"] == 18


def test_the_week_defaults_to_the_last_full_one_and_any_day_picks_its_monday(week, wiring):
    leader = week.api["leader"]
    for query, monday in (("", "2026-11-30"), ("?week=2026-12-06", "2026-11-30"), ("?week=2026-11-30", "2026-11-30"),
                          # 23:30 on Sunday in Beijing is still week 49; 00:30 Monday Beijing (16:30 UTC) is not.
                          ("?week=2026-12-06T23:30:00%2B08:00", "2026-11-30"),
                          ("?week=2026-12-06T16:30:00Z", "2026-12-07"),
                          ("?week=2026-11-25", "2026-11-23")):
        r = ok(get(leader, f"/api/v1/reports/complaints-weekly.pdf{query}", Accept="application/json"))
        assert r.get_json()["briefing"]["params"] == {"week": monday}, query
    # The week that is still running says so, with the time its figures are as of.
    r = ok(leader.get("/api/v1/reports/complaints-weekly.pdf?week=2026-12-07"))
    assert flat("本周尚未结束，数据截至 2026-12-07 09:00") in flat(pdf_text(r.data))


@pytest.mark.parametrize("week_param,code,message", [
    ("abc", "bad_date", "所在周的任一日期须为日期，如 2026-11-20"),
    ("2026-13-01", "bad_date", "须为日期"),
    ("2026-12-14", "future_week", "所选的周尚未开始"),
    ("1999-12-31", "bad_date", "不能早于2000年"),
    ("0001-01-01", "bad_date", "不能早于2000年"),
])
def test_bad_input_is_refused_in_chinese(users, clock, week_param, code, message):
    clock.set(AFTER.astimezone(timezone.utc))
    error = assert_error(users["leader"].get(f"/api/v1/reports/complaints-weekly.pdf?week={week_param}"), 400, code)
    assert message in error["message"]


def test_an_empty_week_still_renders(users, clock):
    clock.set(AFTER.astimezone(timezone.utc))
    r = ok(users["leader"].get("/api/v1/reports/complaints-weekly.pdf"))
    text = pdf_text(r.data)
    for phrase in ("本周共收到投诉举报 0 件", "与上周持平（0 件）", "本周没有收到投诉举报。", "本周没有办结或到期的法定时限",
                   "本周未出现投诉高峰。", "本周没有起草或发布消费预警。"):
        assert flat(phrase) in flat(text), phrase


# --- stored versions, access, the page -------------------------------------------------------------


def test_the_same_version_until_a_complaint_arrives(week, wiring):
    url = "/api/v1/reports/complaints-weekly.pdf?week=2026-12-07"
    first = ok(week.api["leader"].get(url))
    week.clock.advance(minutes=1)
    again = ok(week.api["office"].get(url))
    assert again.headers["X-Briefing-Id"] == first.headers["X-Briefing-Id"]
    # A submission is not in the audit trail until the intake digest; the summary notices it all the same.
    week.submit(business_name="新来的面馆")
    changed = ok(week.api["leader"].get(url))
    assert changed.headers["X-Briefing-Id"] != first.headers["X-Briefing-Id"]
    assert "新来的面馆" in pdf_text(changed.data)


def test_leadership_the_command_the_office_and_the_centre_may_read_it_others_not(week, wiring):
    url = "/api/v1/reports/complaints-weekly.pdf"
    bid = None
    for who in ("leader", "commander", "office", "centre"):
        r = ok(week.api[who].get(url))
        bid = bid or r.headers["X-Briefing-Id"]
        assert r.headers["X-Briefing-Id"] == bid  # one version, read by all of them
    for who in ("catering", "station"):
        error = assert_error(week.api[who].get(url), 403, "forbidden")
        assert "投诉举报周汇总仅供领导小组、指挥部、应急办公室和315投诉中心查看" in error["message"]
        assert_error(week.api[who].get(f"/api/v1/briefings/{bid}.pdf"), 403, "forbidden")
        listed = ok(week.api[who].get("/api/v1/briefings?kind=complaints_weekly")).get_json()["briefings"]
        assert listed == []
    listed = ok(week.api["centre"].get("/api/v1/briefings?kind=complaints_weekly")).get_json()["briefings"]
    assert [b["kind_name"] for b in listed] == ["每周投诉举报情况汇总"]
    assert ok(week.api["centre"].get(f"/api/v1/briefings/{bid}.pdf")).data.startswith(b"%PDF-")


def test_the_complaint_centres_page_has_the_buttons(week, app):
    users = week.api
    html = _page_as(app, users, "centre", "/complaints")
    assert re.search(r'<a class="btn btn-small" id="weekly-pdf" data-briefing '
                     r'href="/api/v1/reports/complaints-weekly.pdf\?week=2026-12-07"[^>]*>本周投诉汇总 PDF</a>', html)
    assert 'id="last-weekly-pdf" data-briefing href="/api/v1/reports/complaints-weekly.pdf"' in html
    assert "briefing.js" in html
    assert "weekly-pdf" not in _page_as(app, users, "catering", "/complaints")  # a department sees its own only


def test_the_openapi_document_lists_it(users):
    doc = users["viewer"].client.get("/api/v1/openapi.json").get_json()
    path = doc["paths"]["/reports/complaints-weekly.pdf"]["get"]
    assert [p["name"] for p in path["parameters"]] == ["week"]
    assert "application/pdf" in path["responses"]["200"]["content"]
    assert doc["components"]["schemas"]["Briefing"]["properties"]["kind"]["enum"] == list(store.KINDS)


# --- each Monday --------------------------------------------------------------------------------------


def leaders(wiring, clock) -> None:
    with wiring.sessions() as s:
        for name, phone in (("刘局长", "+8613900000101"), ("陈副局长", "+8613900000102")):
            create_user(s, wiring.plan, name=name, role="leader", phone=phone, now=clock.now(),
                        actor=SystemActor(name="tests"))
        s.commit()


def test_it_is_due_from_monday_at_the_plans_daily_time():
    eight = datetime(2026, 11, 23, 8, 0, tzinfo=BEIJING)
    assert weekly_complaints.due_week(PLAN, eight - timedelta(seconds=1)) is None
    assert weekly_complaints.due_week(PLAN, eight) == date(2026, 11, 16)
    sunday_late = eight + timedelta(days=6, hours=15, minutes=59)
    assert weekly_complaints.due_week(PLAN, sunday_late) == date(2026, 11, 16)
    assert weekly_complaints.due_week(PLAN, eight + timedelta(days=7)) == date(2026, 11, 23)
    assert weekly_complaints.due_week(PLAN, datetime(2026, 11, 22, 23, 59, tzinfo=BEIJING)) == date(2026, 11, 9)


def test_each_monday_once_board_notice_and_sms_to_leaders(built, wiring, clock):
    week = built
    leaders(wiring, clock)
    week.at(datetime(2026, 12, 7, 7, 59, tzinfo=BEIJING))
    assert weekly_complaints.run_weekly(wiring, SETTINGS) is None and RecordingSms.sent == []
    week.at(datetime(2026, 12, 7, 8, 0, 30, tzinfo=BEIJING))
    row = weekly_complaints.run_weekly(wiring, SETTINGS)
    assert row.job_key == "complaints-weekly:2026-11-30" and row.requested_by_id is None
    assert row.kind == "complaints_weekly" and row.params == {"week": "2026-11-30"}
    to = sorted(m.to for m in RecordingSms.sent)
    assert to == ["+8613900000009", "+8613900000101", "+8613900000102"]  # every active leader with a phone
    text = RecordingSms.sent[0].text
    assert text == ("【中牟县市场监督管理局】11月30日至12月6日投诉举报周汇总：收到投诉16件、举报2件（较上周+15），办结1件，时限按时率67%，"
                    f"超期未办1项，投诉高峰1起。详见系统投诉举报周汇总（简报编号 B{row.id:06d}）")
    assert len(text.encode("utf-16-le")) // 2 <= briefings.SMS_UNITS
    with wiring.sessions() as s:
        notices = [e.payload for e in s.scalars(select(BoardEvent).where(BoardEvent.event == "notice"))
                   if e.payload["what"] == "complaints_weekly"]
        assert [n["title"] for n in notices] == ["每周投诉举报情况汇总 2026-11-30至2026-12-06 已生成"]
        assert notices[0]["href"] == f"/api/v1/briefings/{row.id}.pdf" and notices[0]["text"] == text
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "briefing.notified")
                          .order_by(AuditEntry.seq.desc())).first()
        assert '"week":"2026-11-30"' in audit.data and "+86139****0101" in audit.data
        pages = s.get(Briefing, row.id).pages
    pdf = ok(week.api["leader"].get(f"/api/v1/briefings/{row.id}.pdf"))
    no_personal_data(check_pdf(pdf.data, pages, expect=["每周投诉举报情况汇总", "生成时间：2026-12-07 08:00（北京时间）"]),
                     week.count)
    # Later checks that week send nothing more; the next Monday sends the next week's.
    week.clock.advance(days=2)
    assert weekly_complaints.run_weekly(wiring, SETTINGS).id == row.id
    assert len(RecordingSms.sent) == 3
    week.clock.advance(days=5)
    assert weekly_complaints.run_weekly(wiring, SETTINGS).job_key == "complaints-weekly:2026-12-07"
    assert len(RecordingSms.sent) == 6


def test_the_job_is_added_to_the_scheduler(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(timezone="UTC")
    scheduler.add_briefing_jobs(sched, app)
    job = sched.get_job("yingji-complaints-weekly")
    assert job is not None and job.max_instances == 1 and job.trigger.interval == timedelta(minutes=1)
    assert sched.get_job("yingji-daily-report") is not None


@pytest.mark.parametrize("bureau", [PLAN.bureau, "某某省某某市某某县市场监督管理局（知识产权局、食品药品安全委员会办公室）"])
def test_the_sms_stays_within_two_segments(bureau):
    doc = samples.complaints_weekly_doc()
    doc["week"].update(monday="2026-11-30", sunday="2026-12-06")
    doc["received"].update(total=188888, complaints=123456, tipoffs=65432)
    doc["previous"]["total"] = 1
    doc["surges"] = doc["surges"] * 99
    text = weekly_complaints.weekly_sms_text(SimpleNamespace(bureau=bureau), doc, "简报编号 B123456")
    assert len(text.encode("utf-16-le")) // 2 <= briefings.SMS_UNITS, len(text)
    assert text.startswith(f"【{bureau}】11月30日至12月6日投诉举报周汇总：收到投诉123456件、举报65432件")
    assert "超期未办5项" in text and text.endswith("（简报编号 B123456）")


# --- without a database ------------------------------------------------------------------------------


def test_the_sample_renders_with_many_departments_folded_into_the_chart():
    doc = samples.complaints_weekly_doc(businesses=10, departments=20)
    check_glyphs(doc)
    data, pages = render.render(doc, "简报编号 B000042")
    check_pdf(data, pages, expect=["每周投诉举报情况汇总", "2026年第47周", "较上周（267 件）增加 37 件（+14%）",
                                   "48,213.50", "特种设备（电梯、锅炉、游乐设施等）", "前 10 名", "其他7项", "94.7%",
                                   "张记烧烤", "已回落", "简报编号 B000042"])


def test_the_font_draws_every_word_the_summary_and_its_sms_write():
    import ast
    import inspect

    import app.jobs.briefings
    import app.jobs.daily_report
    import app.jobs.weekly_complaints
    import reports.render
    import reports.weekly_render

    # Every string constant of the renderer and the SMS, the Chinese labels among them: none may fall back to a box.
    sms = (app.jobs.briefings, app.jobs.daily_report, app.jobs.weekly_complaints)
    words = [node.value for module in (reports.render, reports.weekly_render, *sms)
             for node in ast.walk(ast.parse(inspect.getsource(module)))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert any("不予立案" in w for w in words)
    assert fonts.missing("".join(words)) == []
