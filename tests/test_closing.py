"""The end of an emergency and its closing report (plan §五), on SQLite and PostgreSQL.

Only the role the plan names for the level declares the end; the end starts the closing clock;
the cause-investigation summary is a required part of the closing report, whose submission
satisfies the clock; the leadership group returns it for revision or approves it, and approval
archives the incident.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from incidents.models import AuditEntry, Briefing
from tests.helpers import by_kind, incident_payload, iso
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


def closing_clock(users, iid) -> dict:
    deadlines = ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"]
    return by_kind(deadlines)["closing_report"]


def test_only_the_role_the_plan_names_declares_the_end_and_the_closing_clock_starts(users, clock):
    iid = active(users, clock, "II")
    # Ⅱ: the leadership group (plan §五(一)); the command may end only Ⅲ and Ⅳ.
    error = assert_error(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "平息"}), 403)
    assert "应急领导小组" in error["message"]
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "平息"}), 403)
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态已得到控制"}))
    clock_row = closing_clock(users, iid)
    assert clock_row["status"] == "pending"
    assert clock_row["starts_at"] == iso(clock.now()) and clock_row["seconds_left"] == 4 * 86400


def test_the_closing_report_needs_the_cause_and_satisfies_the_clock(users, clock, wiring):
    iid = active(users, clock)
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态平息"}))
    before = ok(users["office"].get(f"/api/v1/incidents/{iid}/closing-report")).get_json()
    assert before["closing_report"] is None and before["approvers"] == ["leader"]
    assert [s["key"] for s in before["sections"]] == ["cause", "handling", "aftermath", "lessons", "improvements"]
    # Without the cause-investigation conclusion the report is refused, and nothing is filed.
    error = assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report",
                                              json={**FORM, "cause": "  "}), 400, "missing_field")
    assert error["field"] == "cause" and "原因" in error["message"]
    assert closing_clock(users, iid)["status"] == "pending"
    # A duty officer of another department may not file it; the station neither.
    assert_error(users["prices"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 404)
    assert_error(users["station"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 403)

    clock.advance(hours=20)
    r = ok(users["food"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201).get_json()
    report = r["closing_report"]
    assert report["status"] == "submitted" and report["version"] == 1 and report["cause"] == FORM["cause"]
    row = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert row["status"] == "met" and row["satisfied_by_report"] == report["report_id"]
    filed = [x for x in r["incident"]["reports"] if x["kind"] == "closing"]
    assert len(filed) == 1 and "一、事件发生的原因" in filed[0]["body"] and FORM["lessons"] in filed[0]["body"]
    # Once submitted it waits for the approver; it cannot be submitted again meanwhile.
    assert_error(users["food"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 409, "closing_pending")
    with wiring.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "closing.submitted"))
    data = json.loads(entry.data)
    assert data["body_sha256"] == hashlib.sha256(filed[0]["body"].encode()).hexdigest()
    assert data["sections"] == ["cause", "handling", "aftermath", "lessons", "improvements"]


def test_a_late_closing_report_is_late_by_how_long(users, clock):
    iid = active(users, clock)
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态平息"}))
    clock.advance(days=4, hours=3)
    r = ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201).get_json()
    row = by_kind(r["incident"]["deadlines"])["closing_report"]
    assert row["status"] == "late" and row["late_seconds"] == 3 * 3600


def test_returned_revised_approved_and_archived(users, clock, wiring):
    iid = active(users, clock)
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 409, "not_ended")
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态平息"}))
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
    assert returned["incident"]["status"] == "ended"
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={}), 409,
                 "closing_not_pending")

    clock.advance(hours=5)
    second = ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201).get_json()
    assert second["closing_report"]["version"] == 2 and second["closing_report"]["decision_note"] is None
    assert len([x for x in second["incident"]["reports"] if x["kind"] == "closing"]) == 2  # both versions kept
    approved = ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve",
                                       json={"note": "同意，归档"})).get_json()
    assert approved["closing_report"]["status"] == "approved"
    assert approved["incident"]["status"] == "archived" and approved["incident"]["archived_at"] == iso(clock.now())
    assert_error(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 409)
    with wiring.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.incident_id == iid)
                                                .order_by(AuditEntry.seq))]
    tail = [a for a in actions if a.startswith(("closing.", "incident.archived", "incident.ended"))]
    assert tail == ["incident.ended", "closing.submitted", "closing.returned", "closing.submitted",
                    "closing.approved", "incident.archived"]


def test_the_closing_report_pdf_has_the_summary_and_the_full_record(users, clock, wiring):
    iid = active(users, clock)
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态已得到控制"}))
    clock.advance(hours=6)
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/closing-report.pdf"))
    with wiring.sessions() as s:
        row = s.get(Briefing, int(r.headers["X-Briefing-Id"]))
        assert row.kind == "closing" and row.sha256 == hashlib.sha256(r.data).hexdigest()
        pages = row.pages
    check_pdf(r.data, pages, expect=[
        "应急处置总结报告", "YJ2026-00001", "Ⅲ级 较大", "已提交，待审批", "第1稿", "组长刘一",
        "一、事件发生的原因", FORM["cause"], "二、处置经过", FORM["handling"], "三、善后处置情况", FORM["aftermath"],
        "四、经验教训", FORM["lessons"], "五、改进工作的要求和建议", FORM["improvements"],
        "应急状态结束", "事态已得到控制", "总结报告时限", "按时完成",
        "附件：事件完整记录", "事件基本情况", "报告与处置时限", "处置时间线", "宣布应急状态结束"])
    # After approval the next closing report PDF says so (a new version: the incident changed).
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/closing-report/approve", json={"note": "同意"}))
    after = ok(users["leader"].get(f"/api/v1/incidents/{iid}/closing-report.pdf"))
    assert after.headers["X-Briefing-Id"] != r.headers["X-Briefing-Id"]
    with wiring.sessions() as s:
        pages = s.get(Briefing, int(after.headers["X-Briefing-Id"])).pages
    check_pdf(after.data, pages, expect=["已批准", "同意", "已归档"])


@pytest.mark.parametrize("role,status", [("leader", 200), ("viewer", 200), ("prices", 404)])
def test_who_sees_the_closing_report(users, clock, role, status):
    iid = active(users, clock)
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态平息"}))
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    assert users[role].get(f"/api/v1/incidents/{iid}/closing-report").status_code == status


def test_the_incident_page_shows_the_closing_forms_to_who_may_use_them(users, clock, app):
    from tests.test_reports_api import _page_as

    iid = active(users, clock)
    office = _page_as(app, users, "office", f"/incidents/{iid}")
    # Before the end the closing panel waits hidden; the generic report form no longer offers 总结报告.
    assert 'id="closing" hidden' in office and 'id="form-closing"' in office
    assert 'value="closing"' not in office and 'id="form-closing-approve"' not in office
    ok(users["commander"].post(f"/api/v1/incidents/{iid}/end", json={"reason": "事态平息"}))
    office = _page_as(app, users, "office", f"/incidents/{iid}")
    assert 'id="closing" hidden' not in office and "请在时限内提交应急处置总结报告" in office
    assert 'id="closing-submit" data-closing-when="none returned">' in office
    ok(users["office"].post(f"/api/v1/incidents/{iid}/closing-report", json=FORM), 201)
    leader = _page_as(app, users, "leader", f"/incidents/{iid}")
    assert 'data-closing-status="submitted"' in leader and "总结报告：已提交，待审批" in leader
    assert 'id="closing-decide" data-closing-when="submitted">' in leader  # shown, not hidden
    assert 'id="closing-pdf" data-briefing' in leader and 'id="form-closing"' not in leader
    viewer = _page_as(app, users, "viewer", f"/incidents/{iid}")
    assert 'id="closing"' not in viewer and 'id="briefing-pdf"' in viewer
