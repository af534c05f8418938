"""The handling summary, the end of an emergency and the written report (plan §五(一), §三(二)2(3)).

On SQLite and PostgreSQL. While the response runs the command writes its handling summary
(应急处置工作总结: the cause is required); the leadership group returns it for revision or approves
it, and the approval is its decision that the emergency may end. Only the role the plan names for
the level then declares the end, which starts the closing clock; the written report to the county
government and the city bureau meets that clock once both have it, and archives the incident.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from incidents.models import AuditEntry, Briefing
from tests.helpers import by_kind, deliveries, file_report, incident_payload, iso, report_up
from tests.test_api_errors import assert_error
from tests.test_reports_pdf import check_pdf
from tests.test_reports_api import ok

FORM = {"investigators": "组长刘一，成员张三、李四", "cause": "食堂从无证摊贩采购的豆角未煮熟，导致皂素中毒。",
        "handling": "封存留样食品，暂停供餐，患者送医。", "aftermath": "20名患者全部出院，食堂整改后恢复供餐。",
        "lessons": "原料采购查验不严，加工不规范。", "improvements": "开展校园食堂专项检查，落实进货查验。"}


def active(users, clock, level: str = "III") -> int:
    """A graded incident under response; returns its id."""
    r = ok(users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level=level)),
           201)
    iid = r.get_json()["id"]
    # The commander is named 总指挥 of the command HQ, so they may end a Ⅲ (plan §三(三), §五(一)).
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json={"commander": users["commander"].id}))
    clock.advance(hours=3)
    return iid


def summarised(users, clock, level: str = "III") -> int:
    """An incident under response whose handling summary the leadership approved."""
    iid = active(users, clock, level)
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={"note": "同意结束应急状态"}))
    return iid


def clocks(users, iid) -> dict:
    return by_kind(ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"])


def end(user, iid):
    return user.post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态已得到控制"})


def test_the_end_waits_for_the_leaderships_approval_then_only_the_named_role_declares_it(users, clock):
    iid = active(users, clock, "II")
    # Without an approved summary there is no decision to end, whoever asks (plan §五(一)).
    error = assert_error(end(users["leader"], iid), 409, "summary_not_approved")
    assert "应急处置工作总结" in error["message"]
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    assert_error(end(users["leader"], iid), 409, "summary_not_approved")  # submitted is not approved
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}))
    assert "closing_report" not in clocks(users, iid)
    # Ⅱ: the leadership group declares it; the command may end only Ⅲ and Ⅳ.
    error = assert_error(end(users["commander"], iid), 403)
    assert "应急领导小组" in error["message"]
    assert_error(end(users["office"], iid), 403)
    ok(end(users["leader"], iid))
    row = clocks(users, iid)["closing_report"]
    assert row["status"] == "pending" and row["name"] == "书面报告上报政府和市局"
    assert row["starts_at"] == iso(clock.now()) and row["seconds_left"] == 4 * 86400


def test_the_summary_needs_the_cause_and_waits_for_the_leadership(users, clock, wiring):
    registered = ok(users["office"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), level="III")), 201).get_json()["id"]
    assert_error(users["office"].post(f"/api/v1/incidents/{registered}/closing-report", json=FORM), 409, "not_active")
    iid = active(users, clock)
    before = ok(users["office"].get(f"/api/v1/incidents/{iid}/closing-report")).get_json()
    assert before["closing_report"] is None and before["approvers"] == ["leader"]
    assert [s["key"] for s in before["sections"]] == ["cause", "handling", "aftermath", "lessons", "improvements"]
    # Without the cause-investigation conclusion the summary is refused, and nothing is filed.
    error = assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report",
                                              json={**FORM, "cause": "  "}), 400, "missing_field")
    assert error["field"] == "cause" and "原因" in error["message"]
    assert ok(users["office"].get(f"/api/v1/incidents/{iid}/closing-report")).get_json()["closing_report"] is None
    # A duty officer of another department may not file it; the station neither.
    assert_error(users["prices"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 404)
    assert_error(users["station"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 403)

    clock.advance(hours=20)
    r = ok(users["food"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201).get_json()
    report = r["closing_report"]
    assert report["status"] == "submitted" and report["version"] == 1 and report["cause"] == FORM["cause"]
    assert r["incident"]["status"] == "active"
    filed = [x for x in r["incident"]["reports"] if x["kind"] == "summary"]
    assert len(filed) == 1 and "一、事件发生的原因" in filed[0]["body"] and FORM["lessons"] in filed[0]["body"]
    assert [x for x in r["incident"]["reports"] if x["kind"] == "closing"] == []  # not the written report
    # Once submitted it waits for the approver; it cannot be submitted again meanwhile.
    assert_error(users["food"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 409, "closing_pending")
    with wiring.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "closing.submitted"))
    data = json.loads(entry.data)
    assert data["body_sha256"] == hashlib.sha256(filed[0]["body"].encode()).hexdigest()
    assert data["sections"] == ["cause", "handling", "aftermath", "lessons", "improvements"]


def test_the_written_report_is_late_by_how_long_the_last_recipient_waited(users, clock):
    iid = summarised(users, clock)
    ok(end(users["commander"], iid))
    ended = clock.now()
    # Filed and delivered to the county government on day 3; the city bureau got it 3 hours past the 4 days. All of
    # it is entered (and the sign-off given) 5 hours past the 4 days.
    clock.advance(days=4, hours=5)
    report = file_report(users["office"], iid, "closing", "关于事件应急处置情况的书面报告", at=iso(ended + timedelta(days=3)),
                         signer=users["leader"], deliver=False)["report"]
    county = {k: v for k, v in deliveries(iso(ended + timedelta(days=3)))[0].items() if k != "code"}
    ok(users["office"].post(f"/api/v1/reports/{report['id']}/recipients/county_government/delivery", json=county))
    waiting = clocks(users, iid)["closing_report"]  # one recipient still waiting: not met, and past due
    assert waiting["satisfied_at"] is None and waiting["seconds_left"] < 0
    r = users["office"].post(f"/api/v1/reports/{report['id']}/recipients/city_bureau/delivery", json={
        "channel": "gov_intranet", "reference": "市局签收 2026-118", "delivered_at": iso(ended + timedelta(days=4, hours=3))})
    assert r.status_code == 200, r.get_json()
    # Entered two hours after the time it claims: until someone confirms that, the entry time counts (补录).
    row = clocks(users, iid)["closing_report"]
    assert row["status"] == "late" and row["late_seconds"] == 5 * 3600 and row["judged_by"] == "delivery"
    # Both deliveries were entered after the fact; the later one decides, so confirming the county's is not enough.
    for code, late_hours in (("county_government", 5), ("city_bureau", 3)):
        r = users["leader"].post(f"/api/v1/reports/{report['id']}/recipients/{code}/claim-review", json={
            "decision": "confirmed", "evidence_kind": "gov_intranet", "evidence_ref": f"政务内网签收回执 {code}"})
        assert r.status_code == 200, r.get_json()
        assert clocks(users, iid)["closing_report"]["late_seconds"] == late_hours * 3600
    row = clocks(users, iid)["closing_report"]
    assert row["status"] == "late" and row["late_seconds"] == 3 * 3600 and row["judged_by"] == "delivery"
    assert ok(users["office"].get(f"/api/v1/incidents/{iid}")).get_json()["status"] == "archived"


def test_returned_revised_approved_ended_reported_and_archived(users, clock, wiring):
    iid = active(users, clock)
    written = {"kind": "closing", "body": "书面报告", "recipients": deliveries()}
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/reports", json=written), 409, "not_ended")
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}), 404,
                 "no_closing_report")
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json={"cause": "初步原因"}), 201)
    # The office files it but may not approve it; the leadership group does (plan §五(一)).
    error = assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}), 403)
    assert "应急领导小组" in error["message"]
    assert_error(users["commander"].post(f"/api/v1/incidents/{iid}/closing-report/return", json={"reason": "x"}), 403)
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/return", json={}), 400, "missing_field")
    returned = ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/return",
                                       json={"reason": "请补充善后处置和整改措施"})).get_json()
    assert returned["closing_report"]["status"] == "returned"
    assert returned["closing_report"]["decision_note"] == "请补充善后处置和整改措施"
    assert returned["incident"]["status"] == "active"
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}), 409,
                 "closing_not_pending")
    assert_error(end(users["commander"], iid), 409, "summary_not_approved")

    clock.advance(hours=5)
    second = ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201).get_json()
    assert second["closing_report"]["version"] == 2 and second["closing_report"]["decision_note"] is None
    assert len([x for x in second["incident"]["reports"] if x["kind"] == "summary"]) == 2  # both versions kept
    approved = ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve",
                                       json={"note": "同意结束应急状态"})).get_json()
    assert approved["closing_report"]["status"] == "approved" and approved["incident"]["status"] == "active"
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 409, "closing_approved")
    ok(end(users["commander"], iid))
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/archive"), 409, "closing_not_delivered")
    clock.advance(days=1)
    report_up(users["office"], iid, signer=users["leader"])
    archived = ok(users["office"].get(f"/api/v1/incidents/{iid}")).get_json()
    assert archived["status"] == "archived" and archived["archived_at"] == iso(clock.now())
    assert by_kind(archived["deadlines"])["closing_report"]["status"] == "met"
    with wiring.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.incident_id == iid)
                                                .order_by(AuditEntry.seq))]
    tail = [a for a in actions if a.startswith(("closing.", "incident.archived", "incident.ended"))]
    assert tail == ["closing.submitted", "closing.returned", "closing.submitted", "closing.approved",
                    "incident.ended", "incident.archived"]


def test_the_summary_pdf_has_the_sections_and_the_full_record(users, clock, wiring):
    iid = active(users, clock)
    clock.advance(hours=6)
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/closing-report.pdf"))
    with wiring.sessions() as s:
        row = s.get(Briefing, int(r.headers["X-Briefing-Id"]))
        assert row.kind == "closing" and row.sha256 == hashlib.sha256(r.data).hexdigest()
        pages = row.pages
    check_pdf(r.data, pages, expect=[
        "应急处置工作总结", "YJ2026-00001", "Ⅲ级 较大", "已提交，待审批", "第1稿", "组长刘一",
        "一、事件发生的原因", FORM["cause"], "二、处置经过", FORM["handling"], "三、善后处置情况", FORM["aftermath"],
        "四、经验教训", FORM["lessons"], "五、改进工作的要求和建议", FORM["improvements"],
        "附件：事件完整记录", "事件基本情况", "报告与处置时限", "处置时间线"])
    # Approved, ended and reported up: the next PDF says so (a new version: the incident changed).
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={"note": "同意结束应急状态"}))
    ok(end(users["commander"], iid))
    report_up(users["office"], iid, signer=users["leader"])
    after = ok(users["leader"].get(f"/api/v1/incidents/{iid}/closing-report.pdf"))
    assert after.headers["X-Briefing-Id"] != r.headers["X-Briefing-Id"]
    with wiring.sessions() as s:
        pages = s.get(Briefing, int(after.headers["X-Briefing-Id"])).pages
    check_pdf(after.data, pages, expect=["已批准", "同意结束应急状态", "应急状态结束", "事态已得到控制",
                                         "书面报告时限", "按时完成", "宣布应急状态结束", "已归档",
                                         "中牟县人民政府", "郑州市市场监督管理局"])


@pytest.mark.parametrize("role,status", [("leader", 200), ("viewer", 200), ("prices", 404)])
def test_who_sees_the_summary(users, clock, role, status):
    iid = active(users, clock)
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    assert users[role].get(f"/api/v1/incidents/{iid}/closing-report").status_code == status


def test_the_incident_page_shows_the_closing_forms_to_who_may_use_them(users, clock, app):
    from tests.test_reports_api import _page_as

    registered = ok(users["office"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), level="III")), 201).get_json()["id"]
    office = _page_as(app, users, "office", f"/incidents/{registered}")
    # Before the activation the summary panel waits hidden; the generic report form offers no written report.
    assert 'id="closing" hidden' in office and 'id="form-closing"' in office
    assert 'value="closing"' not in office.split('id="action-report-up"')[0]
    iid = active(users, clock)
    office = _page_as(app, users, "office", f"/incidents/{iid}")
    # Under response the command writes its summary; the written report waits for the end.
    assert 'id="closing" hidden' not in office and "批准后方可宣布应急状态结束" in office
    assert 'id="closing-submit" data-closing-when="none returned">' in office
    assert 'id="action-report-up" data-show-when="ended" hidden' in office
    assert 'id="form-closing-approve"' not in office
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    leader = _page_as(app, users, "leader", f"/incidents/{iid}")
    assert 'data-closing-status="submitted"' in leader and "应急处置工作总结：已提交，待审批" in leader
    assert 'id="closing-decide" data-closing-when="submitted">' in leader  # shown, not hidden
    assert 'id="closing-pdf" data-briefing' in leader and 'id="form-closing"' not in leader
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}))
    assert "可宣布应急状态结束" in _page_as(app, users, "commander", f"/incidents/{iid}")
    ok(end(users["commander"], iid))
    office = _page_as(app, users, "office", f"/incidents/{iid}")
    assert 'id="action-report-up" data-show-when="ended">' in office and "应急处置工作总结尚未批准" not in office
    viewer = _page_as(app, users, "viewer", f"/incidents/{iid}")
    assert 'id="closing"' not in viewer and 'id="briefing-pdf"' in viewer and 'id="action-report-up"' not in viewer
