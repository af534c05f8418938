"""One month of mixed events, and the 迟报漏报 sheet read line by line as a disciplinary review would.

December 2026 at a county bureau, through the API with the clock set to each moment (Beijing time):

E1  价格异常 at 官渡: registered Ⅳ, raised to Ⅱ, activated, lowered to Ⅳ the next day (the Ⅱ measure
    and its task are voided, Ⅳ's case team is asked for, the progress report slows to weekly), ended; its written report is
    returned by the city bureau and sent again, a day late.
E2  罢市 at 东风路: Ⅲ, the station never reports; activated with a command HQ, raised to Ⅰ a day later
    (meeting and assembly owed from the re-grade, the daily report too, which nobody files), lowered back;
    ended; the written report reaches the county government only. The publicity desk never signs its task.
E3  假冒白酒 at 城关: the station phones the bureau and its township at 08:50 and types it in at 10:00 (补录);
    the office head confirms it on the fax log, and the township's delivery on the township's phone record;
    the leadership decides not to activate.
E4  过期食品 at 韩寺: the station claims 14:20 (to the bureau and its township) and types it in at 16:00; the
    leadership rejects the claim (no such call in the duty phone log); the office closes it as a false report.

Every report goes as the plan has it (§三(二)2): the station's to its township government (by phone, recorded
with the filing) and to the bureau (here, at once); the bureau's, progress and written reports are signed off
(签发) by the leadership, then recorded as delivered to the county government and the city bureau.
E5  the same event as E4 registered again by the office from 12315: closed as a duplicate of E4.

The expectation below is written by hand from the plan's rules (§三(二), §三(三), §五(一)), not read
off the program: each line is a clock, its owner, its outcome and how late.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.helpers import CLOSING_FORM, deliveries, file_report, incident_payload, iso
from tests.test_reports_api import ok
from tests.test_reports_pdf import flat, pdf_text

BEIJING = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BEIJING)


H, M = 3600, 60
# (event, clock, cycle, owner, outcome, seconds late): every clock of the month that is on the record.
EXPECTED = sorted([
    # E1: the station's hour and the bureau's 30 minutes run from the re-grade to Ⅱ (14:00), not from discovery.
    ("E1", "initial_report", 0, "guandu", "met", None),
    ("E1", "bureau_report", 0, "office", "met", None),
    # Lowered to Ⅳ before its first 3-day report: the open cycle restarts weekly at the re-grade (3 Dec 10:00).
    ("E1", "progress_report", 0, "prices", "met", None),
    # Ⅳ: 8 days from the end (12 Dec 10:00) → 20 Dec 10:00; returned on the 19th, sent again 21 Dec 09:00.
    ("E1", "closing_report", 0, "prices", "late", 23 * H),
    # E2: the station never reported; the office reported at 09:45 (due 09:50).
    ("E2", "initial_report", 0, "dongfenglu", "missed", None),
    ("E2", "bureau_report", 0, "office", "met", None),
    ("E2", "handling_opinion", 0, "office", "met", None),
    # Ⅰ from 16 Dec 10:30: assembly within 1 h, meeting within 12 h, both from the re-grade.
    ("E2", "staff_assembly", 0, "office", "met", None),
    ("E2", "command_meeting", 0, "office", "met", None),
    # The daily report owed from the re-grade (due 17 Dec 10:30) came on 20 Dec 10:00.
    ("E2", "progress_report", 0, "office", "late", 2 * 86400 + 23 * H + 30 * M),
    # Ⅲ: 4 days from the end (24 Dec 11:00); the city bureau never got it.
    ("E2", "closing_report", 0, "office", "missed", None),
    # E3: the confirmed claim (08:50) judges the hour; the bureau learned at 08:50 and reported at 10:40.
    ("E3", "initial_report", 0, "chengguan", "met", None),
    ("E3", "bureau_report", 0, "office", "late", 1 * H + 20 * M),
    # E4: the rejected claim leaves the entry (16:00) to judge the hour due at 14:30; the bureau learned at 16:00.
    ("E4", "initial_report", 0, "hansi", "late", 1 * H + 30 * M),
    ("E4", "bureau_report", 0, "office", "met", None),
])


class Month:
    """The bureau's people, and the moves of the month through the API."""

    def __init__(self, users, make_user, clock):
        self.users, self.make_user, self.clock = users, make_user, clock
        self.office, self.leader, self.commander = users["office"], users["leader"], users["commander"]
        self.office_head = make_user("department_head", "office")
        self.stations = {code: make_user("station", code) for code in ("guandu", "dongfenglu", "hansi")}
        self.stations["chengguan"] = users["station"]
        self.desks: dict[str, object] = {"office": self.office, "prices": users["prices"]}
        self.ids: dict[str, int] = {}

    def go(self, day: int, hour: int, minute: int = 0) -> None:
        self.clock.set(at(day, hour, minute))

    def register(self, tag: str, who, discovered: datetime, **fields) -> int:
        body = incident_payload(discovered_at=iso(discovered), **fields)
        if "level" not in fields:
            body.pop("level", None)
        self.ids[tag] = ok(who.post("/api/v1/incidents", json=body), 201).get_json()["id"]
        return self.ids[tag]

    def post(self, who, url: str, body: dict | None = None, status: int = 200) -> dict:
        return ok(who.post(f"/api/v1{url}", json=body), status).get_json()

    def report(self, who, tag: str, kind: str, body: str = "报告", **extra) -> dict:
        """File a report, signed off by the leadership where the plan asks for it, and delivered at once."""
        signer = self.leader if kind in ("bureau", "progress", "closing") and who is not self.leader else None
        return file_report(who, self.ids[tag], kind, body, signer=signer, **extra)

    def measure(self, who, tag: str, measure: str, body: str) -> dict:
        return self.post(who, f"/incidents/{self.ids[tag]}/measures", {"measure": measure, "body": body}, 201)

    def sign_all(self, tag: str, *, but: str | None = None) -> None:
        """Every department's desk signs what was pushed to it (`but` one that never does)."""
        incident = ok(self.office.get(f"/api/v1/incidents/{self.ids[tag]}")).get_json()
        for task in incident["assignments"]:
            if task["status"] != "pushed" or task["department"] == but:
                continue
            desk = self.desks.get(task["department"])
            if desk is None:
                desk = self.desks[task["department"]] = self.make_user("duty_officer", task["department"])
            self.post(desk, f"/assignments/{task['id']}/ack")


def test_a_month_of_mixed_events_reads_on_the_sheet_line_by_line(users, make_user, clock):
    m = Month(users, make_user, clock)
    office, leader, commander = m.office, m.leader, m.commander

    # 2 Dec, E1: registered Ⅳ, raised to Ⅱ in the afternoon, reported, activated; lowered the next morning.
    m.go(2, 9, 10)
    e1 = m.register("E1", office, at(2, 9), category="price_anomaly", station="guandu", level="IV",
                    title="官渡镇农贸市场猪肉价格异常上涨", level_reason="个别市场价格波动")
    m.go(2, 14)
    m.post(office, f"/incidents/{e1}/level", {"level": "II", "reason": "涨价蔓延至全县主要市场"})
    m.go(2, 14, 20)
    m.report(office, "E1", "bureau")
    m.go(2, 14, 50)
    m.report(m.stations["guandu"], "E1", "initial")
    m.go(2, 15)
    m.post(leader, f"/incidents/{e1}/activate")
    m.go(2, 15, 10)
    m.sign_all("E1")
    m.go(3, 10)
    lowered = m.post(office, f"/incidents/{e1}/level", {"level": "IV", "reason": "价格回落，影响范围缩小"})
    # The Ⅱ measure is no longer asked for: its clock and its task go, with the reason.
    measure = next(d for d in lowered["deadlines"] if d["kind"] == "measures_issued")
    assert measure["status"] == "cancelled" and "定级为Ⅳ级" in measure["cancel_reason"]
    assert [a["status"] for a in lowered["assignments"] if a.get("clock") == "measures_issued"] == ["cancelled"]
    # Ⅳ has its own task for the lead (a case team within 24 hours): signed, and done that evening.
    m.sign_all("E1")
    (team,) = [a for a in lowered["assignments"] if a["status"] == "pushed" and a["department"] == "prices"]
    m.go(3, 18)
    m.post(users["prices"], f"/assignments/{team['id']}/done", {"note": "专案小组已赴官渡镇核查"})

    # 5 Dec, E3: 补录 confirmed on the fax log; the leadership decides not to activate.
    m.go(5, 8, 30)
    e3 = m.register("E3", m.stations["chengguan"], at(5, 8), category="counterfeit", station="chengguan",
                    title="城关镇商超发现疑似假冒品牌白酒")
    m.go(5, 10)
    claimed = m.report(m.stations["chengguan"], "E3", "initial", "8:50已电话报告", at=iso(at(5, 8, 50)))
    m.go(5, 10, 20)
    m.post(m.office_head, f"/reports/{claimed['report']['id']}/claim-review",
           {"decision": "confirmed", "evidence_kind": "fax", "evidence_ref": "传真记录 0371-62100001 08:50"})
    m.post(m.office_head, f"/reports/{claimed['report']['id']}/recipients/local_government/claim-review",
           {"decision": "confirmed", "evidence_kind": "phone_log", "evidence_ref": "城关镇党政办电话记录 08:50"})
    m.go(5, 10, 40)
    m.report(office, "E3", "bureau")
    m.go(5, 16)
    m.post(leader, f"/incidents/{e3}/close",
           {"kind": "not_activated", "reason": "经研判涉案数量小，由执法大队立案查处，不启动应急响应"})

    # 8 Dec, E4 and its duplicate E5: 补录 rejected, a false report.
    m.go(8, 14)
    e4 = m.register("E4", m.stations["hansi"], at(8, 13, 30), category="food_circulation_safety", station="hansi",
                    title="韩寺镇某批发部疑似销售过期食品")
    m.go(8, 14, 10)
    e5 = m.register("E5", office, at(8, 13, 30), category="food_circulation_safety",
                    title="12315转来：韩寺镇某批发部销售过期食品")
    m.go(8, 14, 20)
    m.post(office, f"/incidents/{e5}/close",
           {"kind": "duplicate", "reason": "与韩寺所登记的为同一事件", "duplicate_of": e4})
    m.go(8, 16)
    rejected = m.report(m.stations["hansi"], "E4", "initial", "14:20已电话报告", at=iso(at(8, 14, 20)))
    m.go(8, 16, 25)
    m.report(office, "E4", "bureau")
    m.go(8, 16, 40)
    m.post(leader, f"/reports/{rejected['report']['id']}/claim-review",
           {"decision": "rejected", "evidence_kind": "phone_log", "evidence_ref": "县局值班电话记录12月8日14:00-16:00",
            "note": "值班电话记录中该时段无韩寺所来电"})
    m.go(8, 18)
    m.post(office, f"/incidents/{e4}/close", {"kind": "false_report", "reason": "现场核查在售食品均在保质期内"})

    # 9–12 Dec, E1: the weekly report; the summary returned once, then approved; the end.
    m.go(9, 16)
    m.report(users["prices"], "E1", "progress", "价格已回落至正常水平")
    m.go(11, 9)
    m.post(office, f"/incidents/{e1}/closing-report", {"cause": "节前需求集中"}, 201)
    m.go(11, 11)
    m.post(leader, f"/incidents/{e1}/closing-report/return", {"reason": "请补充处置经过和整改措施"})
    m.go(11, 15)
    m.post(office, f"/incidents/{e1}/closing-report", CLOSING_FORM, 201)
    m.go(11, 17)
    m.post(leader, f"/incidents/{e1}/closing-report/approve", {"note": "同意结束应急状态"})
    m.go(12, 10)
    m.post(commander, f"/incidents/{e1}/end", {"reason": "价格平稳"})

    # 14–17 Dec, E2: Ⅲ with a command HQ, raised to Ⅰ, lowered back; the publicity desk never signs.
    m.go(14, 9, 20)
    e2 = m.register("E2", office, at(14, 9), category="mass_incident", station="dongfenglu", level="III",
                    title="东风路综合市场商户集体罢市", level_reason="涉及市场监管职能的罢市")
    m.go(14, 9, 45)
    m.report(office, "E2", "bureau")
    m.go(14, 10, 30)
    m.post(leader, f"/incidents/{e2}/activate", {"commander": commander.id, "reason": "分管局长任总指挥"})
    m.sign_all("E2", but="publicity")
    m.go(14, 20)
    m.measure(commander, "E2", "handling_opinion", "提出处理意见和措施")
    m.go(16, 10, 30)
    m.post(office, f"/incidents/{e2}/level", {"level": "I", "reason": "罢市蔓延至全县五个市场"})
    m.sign_all("E2", but="publicity")
    m.go(16, 11, 10)
    m.measure(office, "E2", "staff_assembly", "应急人员集结完毕")
    m.go(16, 21)
    m.measure(commander, "E2", "command_meeting", "指挥部会议已召开，措施已下发")
    m.go(17, 11)
    m.post(office, f"/incidents/{e2}/level", {"level": "III", "reason": "各市场已恢复营业"})

    # 18–21 Dec, E1: the written report goes up, the city bureau returns it, it goes up again a day late.
    m.go(18, 10)
    first = m.report(office, "E1", "closing", "书面报告（第一次）")["report"]
    m.go(19, 9)
    m.post(office, f"/reports/{first['id']}/recipients/city_bureau/return", {"reason": "缺少整改措施，请补充后重报"})
    assert ok(office.get(f"/api/v1/incidents/{e1}")).get_json()["status"] == "ended"  # taken out of the archive
    m.go(20, 10)
    m.report(office, "E2", "progress", "商户已全部复市")
    m.go(21, 9)
    m.report(office, "E1", "closing", "书面报告（补充整改措施）")

    # 24–29 Dec, E2: summary approved, the end, the written report reaches the county government only.
    m.go(24, 9)
    m.post(office, f"/incidents/{e2}/closing-report", CLOSING_FORM, 201)
    m.go(24, 10)
    m.post(leader, f"/incidents/{e2}/closing-report/approve", {})
    m.go(24, 11)
    m.post(commander, f"/incidents/{e2}/end", {"reason": "事态平息"})
    m.go(29, 15)
    written = m.report(office, "E2", "closing", "书面报告", deliver=False)["report"]
    county = {k: v for k, v in deliveries()[0].items() if k != "code"}
    m.post(office, f"/reports/{written['id']}/recipients/county_government/delivery", county)

    # --- the review, on New Year's Day -------------------------------------------------------------------
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=BEIJING))
    period = "/api/v1/accountability?from=2026-12-01T00:00:00%2B08:00&to=2027-01-01T00:00:00%2B08:00"
    sheet = ok(office.get(period)).get_json()
    tag_of = {iid: tag for tag, iid in m.ids.items()}
    # Read a page of 4 clocks at a time, as a long period is read: the pages together are the whole record.
    clocks, page = [], 1
    while True:
        body = ok(office.get(f"{period}&per_page=4&page={page}")).get_json()
        clocks += body["deadlines"]
        if page == body["paging"]["pages"]:
            break
        page += 1
    assert page == 4 and body["paging"]["total"] == len(EXPECTED) == len(clocks)
    assert [(d["due_at"], d["deadline_id"]) for d in clocks] == sorted((d["due_at"], d["deadline_id"]) for d in clocks)
    lines = sorted((tag_of[d["incident_id"]], d["kind"], d["cycle"], d["department"] or d["station"], d["outcome"],
                    d["late_seconds"]) for d in clocks)
    assert lines == EXPECTED
    # The counts per event and per unit (taken in SQL) are the clocks listed, counted.
    for heads, key in ((sheet["by_incident"], lambda d: d["incident_id"]),
                       (sheet["by_department"], lambda d: d["department"] or d["station"])):
        ident = "incident_id" if heads is sheet["by_incident"] else "department"
        for head in heads:
            mine = [d for d in clocks if key(d) == head[ident]]
            assert [head[o] for o in ("met", "late", "missed", "running")] == [
                sum(d["outcome"] == o for d in mine) for o in ("met", "late", "missed", "running")], head
            assert head["late_seconds_total"] == sum(d["late_seconds"] or 0 for d in mine)
    # Only the late and missed, when asked: what the board lists.
    problems = ok(office.get(f"{period}&outcome=late,missed")).get_json()
    assert sorted(d["deadline_id"] for d in problems["deadlines"]) == sorted(
        d["deadline_id"] for d in clocks if d["outcome"] in ("late", "missed"))
    assert problems["paging"]["total"] == 6 and problems["totals"] == sheet["totals"]

    assert sheet["totals"] == {"met": 9, "late": 4, "missed": 2, "running": 0,
                               "late_seconds_total": sum(x[5] or 0 for x in EXPECTED)}
    # 补录: one confirmed on the fax log, one rejected; who judged and on what is on the sheet.
    backdated = sheet["backdated"]
    assert (backdated["pending"], backdated["confirmed"], backdated["rejected"]) == (0, 1, 1)
    tag_of_number = {number(office, iid): tag for tag, iid in m.ids.items()}
    marks = {tag_of_number[i["incident_number"]]: i["backdated_mark"] for i in backdated["items"]}
    assert marks["E3"].startswith("补录·已确认（传真记录：传真记录 0371-62100001 08:50")
    assert marks["E4"].startswith("补录·不予确认")
    # Closed without a response: each counted as what it is.
    closed = sheet["closed_without_response"]
    assert {k: (v["count"], v["numbers"]) for k, v in closed.items()} == {
        "not_activated": (1, [number(office, e3)]), "false_report": (1, [number(office, e4)]),
        "duplicate": (1, [number(office, e5)])}
    # Inaction: the publicity desk never signed E2's task; nobody else left anything undone.
    assert [(d["department"], d["counts"]) for d in sheet["inaction"]] == [
        ("publicity", {"overdue": 0, "declined": 0, "declined_pending": 0, "unacknowledged": 1})]
    assert tag_of[sheet["inaction"][0]["items"][0]["incident_id"]] == "E2"

    # The PDF says the same to whoever prints it.
    pdf = office.get("/api/v1/accountability.pdf?from=2026-12-01&to=2026-12-31")
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:300]
    text = flat(pdf_text(pdf.data))
    for needle in ("补录时间确认情况", "已确认", "不予确认", "0371-62100001", "不作为情况", "新闻宣传", "未签收", "书面报告报送情况",
                   "中牟县人民政府", "决定不启动响应", "不属实", "重复登记", number(office, e2)):
        assert flat(needle) in text, needle


def number(user, iid: int) -> str:
    return ok(user.get(f"/api/v1/incidents/{iid}")).get_json()["number"]
