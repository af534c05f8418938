"""否定报备 with approval, and 不作为情况 on the accountability sheet (JSON, page, PDF), through the API."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from incidents.models import BoardEvent
from tests.helpers import by_kind, incident_payload, iso
from tests.test_board_pages import browser, page  # noqa: F401 - browser is a fixture
from tests.test_reports_pdf import flat, pdf_text


def _activated(users, clock, **overrides) -> dict:
    """A Ⅱ food poisoning (lead: food_coord) registered now and activated: the plan's tasks are pushed."""
    body = incident_payload(discovered_at=iso(clock.now()), level="II", level_reason="重大食物中毒", **overrides)
    iid = users["office"].post("/api/v1/incidents", json=body).get_json()["id"]
    r = users["leader"].post(f"/api/v1/incidents/{iid}/activate")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _task(inc: dict, clock: str | None = None, department: str | None = None) -> dict:
    return next(a for a in inc["assignments"]
                if (clock is None or a["clock"] == clock) and (department is None or a["department"] == department))


def _post(user, url: str, body: dict | None = None, status: int = 200) -> dict:
    r = user.post(url, json=body if body is not None else {})
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()


def _audit(users, iid: int, aid: int) -> list[dict]:
    entries = users["office"].get(f"/api/v1/incidents/{iid}/audit").get_json()["entries"]
    return [e for e in entries if e["entity"] == "assignment" and str(e["entity_id"]) == str(aid)]


# --- declining with approval -----------------------------------------------------------------


def test_a_measures_decline_waits_for_approval_and_the_measure_stays_with_the_department(users, clock, wiring):
    inc = _activated(users, clock)
    iid, food = inc["id"], users["food"]
    task = _task(inc, "work_team_dispatched")
    aid = task["id"]
    _post(food, f"/api/v1/assignments/{aid}/ack")
    clock.advance(minutes=30)
    got = _post(food, f"/api/v1/assignments/{aid}/decline", {"reason": "本科室人员不足，需餐饮科牵头"})
    assert got["status"] == "decline_requested" and got["decline_status"] == "pending"
    assert got["decline_reason"] == "本科室人员不足，需餐饮科牵头" and got["declined_at"] == iso(clock.now())
    assert got["decline_decided_by_id"] is None and got["decline_decided_at"] is None
    # The clock runs on, still the lead department's, and the task stays open on its board.
    clocks = by_kind(users["office"].get(f"/api/v1/incidents/{iid}").get_json()["deadlines"])
    assert clocks["work_team_dispatched"]["status"] == "pending"
    assert clocks["work_team_dispatched"]["department"] == "food_coord"
    open_ids = [a["id"] for a in food.get("/api/v1/assignments").get_json()["assignments"]]
    assert aid in open_ids
    # Filed once; the department cannot finish or decline it again while it waits.
    error = _post(food, f"/api/v1/assignments/{aid}/decline", {"reason": "再次"}, status=409)["error"]
    assert "待指挥部审批" in error["message"]
    assert food.post(f"/api/v1/assignments/{aid}/done", json={"note": "x"}).status_code == 409

    # Only the command and the leadership decide: not the department, not the office.
    assert food.post(f"/api/v1/assignments/{aid}/decline/approve").status_code == 403
    error = _post(users["office"], f"/api/v1/assignments/{aid}/decline/approve", status=403)["error"]
    assert "领导" in error["message"]
    assert users["viewer"].post(f"/api/v1/assignments/{aid}/decline/reject", json={"reason": "x"}).status_code == 403
    # A rejection needs its reason; a bad body changes nothing.
    assert "理由" in _post(users["leader"], f"/api/v1/assignments/{aid}/decline/reject", {"reason": " "},
                          status=400)["error"]["message"]
    assert users["leader"].post(f"/api/v1/assignments/{aid}/decline/reject", json={"reason": 5}).status_code == 400
    assert users["leader"].post(f"/api/v1/assignments/{aid}/decline/approve", json=[1]).status_code == 400
    assert users["leader"].post("/api/v1/assignments/999999/decline/approve").status_code == 404
    assert users["office"].get(f"/api/v1/assignments/{aid}").get_json()["status"] == "decline_requested"

    clock.advance(minutes=10)
    back = _post(users["leader"], f"/api/v1/assignments/{aid}/decline/reject", {"reason": "餐饮科另有任务，仍由你科负责"})
    assert back["status"] == "acknowledged" and back["decline_status"] == "rejected"
    assert back["decline_note"] == "餐饮科另有任务，仍由你科负责"
    assert back["decline_decided_by_id"] == users["leader"].id and back["decline_decided_at"] == iso(clock.now())
    # Nothing left to decide now.
    assert _post(users["leader"], f"/api/v1/assignments/{aid}/decline/approve",
                 status=409)["error"]["code"] == "no_pending_decline"
    # The department's board is told, with the reason.
    with wiring.sessions() as session:
        events = [e.payload for e in session.scalars(select(BoardEvent).where(BoardEvent.room == "dept:food_coord"))
                  if e.event == "assignment" and e.payload["assignment"]["id"] == aid]
    assert [e["what"] for e in events][-2:] == ["decline_requested", "decline_rejected"]
    assert events[-1]["assignment"]["decline_note"] == "餐饮科另有任务，仍由你科负责"

    # Declined again, and this time approved: the task closes, the clock keeps running for the lead department.
    _post(food, f"/api/v1/assignments/{aid}/decline", {"reason": "工作组车辆故障"})
    clock.advance(minutes=5)
    done = _post(users["commander"], f"/api/v1/assignments/{aid}/decline/approve", {"note": "改由执法大队派出"})
    assert done["status"] == "declined" and done["decline_status"] == "approved"
    assert done["decline_decided_by_id"] == users["commander"].id and done["decline_note"] == "改由执法大队派出"
    clocks = by_kind(users["office"].get(f"/api/v1/incidents/{iid}").get_json()["deadlines"])
    assert clocks["work_team_dispatched"]["status"] == "pending"
    assert clocks["work_team_dispatched"]["department"] == "food_coord"
    assert aid not in [a["id"] for a in food.get("/api/v1/assignments").get_json()["assignments"]]

    trail = _audit(users, iid, aid)
    assert [e["action"] for e in trail] == [
        "assignment.created", "assignment.acknowledged", "assignment.decline_requested",
        "assignment.decline_rejected", "assignment.decline_requested", "assignment.decline_approved"]
    requested, rejected, _, approved = trail[2:]
    assert requested["data"]["reason"] == "本科室人员不足，需餐饮科牵头" and requested["data"]["approval"] == "pending"
    assert rejected["data"]["reason"] == "餐饮科另有任务，仍由你科负责" and rejected["data"]["from"] == "decline_requested"
    assert approved["data"]["clock_department"] == "food_coord" and approved["data"]["clock_status"] == "pending"
    assert "继续计时" in approved["data"]["note"] and "食品安全协调督查科" in approved["data"]["note"]
    assert approved["data"]["decision_note"] == "改由执法大队派出"
    assert approved["data"]["clock_due_at"] == clocks["work_team_dispatched"]["due_at"]


def test_a_decline_straight_from_the_push_keeps_the_escalation_running_until_decided(users, clock):
    inc = _activated(users, clock)
    iid, food = inc["id"], users["food"]
    aid = _task(inc, "measures_issued")["id"]

    def escalation_status() -> str:
        rows = users["office"].get(f"/api/v1/incidents/{iid}/escalations").get_json()["escalations"]
        return next(e["status"] for e in rows if e["assignment_id"] == aid)

    assert escalation_status() == "running"
    got = _post(food, f"/api/v1/assignments/{aid}/decline", {"reason": "不属本科室职责"})
    assert got["status"] == "decline_requested" and got["acknowledged_at"] is None
    assert escalation_status() == "running"  # nobody has taken the measure on yet
    back = _post(users["commander"], f"/api/v1/assignments/{aid}/decline/reject", {"reason": "属于牵头科室职责"})
    assert back["status"] == "pushed"  # back where it was declined from: still to be acknowledged
    assert escalation_status() == "running"
    _post(food, f"/api/v1/assignments/{aid}/decline", {"reason": "仍不属本科室职责"})
    _post(users["leader"], f"/api/v1/assignments/{aid}/decline/approve")
    assert escalation_status() == "resolved"


def test_a_task_without_a_measure_is_declined_at_once(users, clock):
    inc = _activated(users, clock)
    got = _post(users["office"], f"/api/v1/incidents/{inc['id']}/assignments",
                {"department": "office", "task": "准备应急车辆"}, status=201)
    declined = _post(users["office"], f"/api/v1/assignments/{got['id']}/decline", {"reason": "车辆已全部调出"})
    assert declined["status"] == "declined" and declined["decline_status"] == "not_required"
    assert declined["decline_decided_by_id"] is None
    # Nothing to approve.
    assert _post(users["leader"], f"/api/v1/assignments/{got['id']}/decline/approve",
                 status=409)["error"]["code"] == "no_pending_decline"
    trail = _audit(users, inc["id"], got["id"])
    assert trail[-1]["action"] == "assignment.declined" and trail[-1]["data"]["approval"] == "not_required"


# --- inaction on the accountability sheet ----------------------------------------------------


def _inaction_scenario(users, clock) -> dict:
    """At 09:00 a Ⅱ is activated; prices gets a 2-hour task it acknowledges and does not finish; food
    declines the work-team measure (pending); five hours on, the office's own task is still unacknowledged."""
    inc = _activated(users, clock)
    iid = inc["id"]
    prices = _post(users["commander"], f"/api/v1/incidents/{iid}/assignments",
                   {"department": "prices", "task": "核查周边市场价格", "due_at": iso(clock.now() + timedelta(hours=2))},
                   status=201)
    _post(users["prices"], f"/api/v1/assignments/{prices['id']}/ack")
    work_team = _task(inc, "work_team_dispatched")
    _post(users["food"], f"/api/v1/assignments/{work_team['id']}/ack")
    _post(users["food"], f"/api/v1/assignments/{work_team['id']}/decline", {"reason": "需餐饮科配合"})
    clock.advance(hours=5)
    return {"incident": inc, "prices": prices, "work_team": work_team, "office": _task(inc, department="office"),
            "measures": _task(inc, "measures_issued")}


def _department(sheet: dict, code: str) -> dict:
    return next(d for d in sheet["inaction"] if d["department"] == code)


def test_the_sheet_lists_overdue_declined_and_unacknowledged_tasks(users, clock):
    s = _inaction_scenario(users, clock)
    sheet = users["office"].get("/api/v1/accountability").get_json()

    prices = _department(sheet, "prices")
    assert prices["name"] == "价格监督检查"
    assert prices["counts"] == {"overdue": 1, "declined": 0, "declined_pending": 0, "unacknowledged": 0}
    [overdue] = prices["items"]
    assert overdue["assignment_id"] == s["prices"]["id"] and overdue["problem"] == "overdue"
    assert overdue["incident_number"] == s["incident"]["number"] and overdue["task"] == "核查周边市场价格"
    assert overdue["status"] == "acknowledged" and overdue["problem_name"] == "超时未完成"
    assert overdue["seconds"] == 3 * 3600 and overdue["duration"] == "3小时"
    assert overdue["what"] == "超过完成时限仍未完成，已超 3小时"
    assert overdue["due_at"] == s["prices"]["due_at"]

    food = _department(sheet, "food_coord")
    assert food["counts"]["declined"] == 1 and food["counts"]["declined_pending"] == 1
    declined = next(i for i in food["items"] if i["problem"] == "declined")
    assert declined["assignment_id"] == s["work_team"]["id"] and declined["status"] == "decline_requested"
    assert declined["decline_status"] == "pending" and declined["decline_status_name"] == "待指挥部审批"
    assert declined["decline_reason"] == "需餐饮科配合" and declined["decided_by"] is None
    assert declined["what"] == "否定报备（待指挥部审批）：需餐饮科配合"
    assert declined["measure"] == "派出工作组实地调查"
    # The other measure nobody acknowledged in five hours.
    unacked = next(i for i in food["items"] if i["problem"] == "unacknowledged")
    assert unacked["assignment_id"] == s["measures"]["id"] and unacked["what"] == "推送后 5小时 仍未签收"

    office = _department(sheet, "office")
    assert office["counts"] == {"overdue": 0, "declined": 0, "declined_pending": 0, "unacknowledged": 1}
    assert office["items"][0]["assignment_id"] == s["office"]["id"] and office["items"][0]["status"] == "pushed"
    totals = sheet["inaction_totals"]
    assert totals["overdue"] == 1 and totals["declined"] == 1 and totals["declined_pending"] == 1
    # food_coord's measures, office, publicity, finance, personnel, legal: each one pushed task never acknowledged.
    assert totals["unacknowledged"] == 6 and totals["departments"] == 7

    # Decided: the decline shows its approval and who decided; a late completion says by how long.
    _post(users["leader"], f"/api/v1/assignments/{s['work_team']['id']}/decline/reject", {"reason": "仍由你科负责"})
    _post(users["prices"], f"/api/v1/assignments/{s['prices']['id']}/done", {"note": "已核查"})
    sheet = users["office"].get("/api/v1/accountability").get_json()
    declined = next(i for i in _department(sheet, "food_coord")["items"] if i["problem"] == "declined")
    assert declined["decline_status"] == "rejected" and declined["decline_status_name"] == "指挥部不同意"
    assert declined["decided_by"] and declined["decided_at"] == iso(clock.now())
    assert "不同意理由：仍由你科负责" in declined["what"]
    assert _department(sheet, "food_coord")["counts"]["declined_pending"] == 0
    [late] = _department(sheet, "prices")["items"]
    assert late["status"] == "done" and late["what"] == "逾期完成，超过完成时限 3小时"


def test_a_fresh_push_is_not_yet_unacknowledged_and_the_period_is_the_tasks_creation(users, clock):
    inc = _activated(users, clock)
    # Ⅱ: the plan first texts the officer 5 minutes after the push; until then the board is enough.
    clock.advance(minutes=4)
    sheet = users["office"].get("/api/v1/accountability").get_json()
    assert sheet["inaction"] == [] and sheet["inaction_totals"]["unacknowledged"] == 0
    clock.advance(minutes=1)
    sheet = users["office"].get(f"/api/v1/accountability?incident={inc['id']}").get_json()
    assert sheet["inaction_totals"]["unacknowledged"] == 7
    # A period that starts after the tasks were pushed holds none of them.
    later = iso(clock.now() + timedelta(minutes=1)).replace("+", "%2B")
    assert users["office"].get(f"/api/v1/accountability?from={later}").get_json()["inaction"] == []


def test_a_withdrawn_registration_is_left_out(users, clock):
    inc = _activated(users, clock)
    clock.advance(hours=1)
    assert users["office"].get("/api/v1/accountability").get_json()["inaction_totals"]["unacknowledged"] == 7
    r = users["office"].post(f"/api/v1/incidents/{inc['id']}/withdraw", json={"kind": "test", "reason": "演练测试"})
    assert r.status_code == 200, r.get_json()
    assert users["office"].get("/api/v1/accountability").get_json()["inaction"] == []


def test_a_department_user_sees_only_its_own_units_inaction(users, clock):
    _inaction_scenario(users, clock)
    mine = users["prices"].get("/api/v1/accountability").get_json()
    assert [d["department"] for d in mine["inaction"]] == ["prices"]
    assert mine["inaction_totals"] == {"overdue": 1, "declined": 0, "declined_pending": 0, "unacknowledged": 0,
                                       "departments": 1}
    assert users["prices"].get("/api/v1/accountability?department=food_coord").status_code == 403
    food = users["food"].get("/api/v1/accountability").get_json()
    assert {d["department"] for d in food["inaction"]} == {"food_coord"}


# --- the page, the board and the PDF -------------------------------------------------------------


def test_the_accountability_page_shows_the_inaction_section(browser, users, clock):  # noqa: F811
    s = _inaction_scenario(users, clock)
    html = page(browser("office", "office"), "/accountability")
    section = html[html.index('id="inaction"'):html.index('class="acc-grid"')]
    assert "不作为情况" in section
    assert "超时未完成 1 项" in section and "否定报备 1 项（待审批 1 项）" in section
    for a, problem in ((s["prices"], "overdue"), (s["work_team"], "declined"), (s["office"], "unacknowledged")):
        assert f'data-assignment-id="{a["id"]}" data-problem="{problem}"' in section
    assert "超过完成时限仍未完成，已超 3小时" in section
    assert "否定报备（待指挥部审批）" in section and "需餐饮科配合" in section
    assert "推送后 5小时 仍未签收" in section
    # A duty officer's page holds its own department only.
    own = page(browser("duty_officer", "prices"), "/accountability")
    own = own[own.index('id="inaction"'):own.index('class="acc-grid"')]
    assert "核查周边市场价格" in own and "需餐饮科配合" not in own


def test_the_command_sees_a_pending_decline_with_approve_and_reject(browser, users, clock):  # noqa: F811
    s = _inaction_scenario(users, clock)
    aid, iid = s["work_team"]["id"], s["incident"]["id"]
    approve = f'data-url="/api/v1/assignments/{aid}/decline/approve"'
    reject = f'data-url="/api/v1/assignments/{aid}/decline/reject"'
    card = page(browser("commander"), "/")
    card = card[card.index(f'data-incident="{iid}"'):]
    assert "否定报备待批 <b>1</b> 项" in card and "理由：需餐饮科配合" in card
    assert approve in card and reject in card and "decline.js" in page(browser("leader"), "/")
    detail = page(browser("leader"), f"/incidents/{iid}")
    assert approve in detail and reject in detail and "待指挥部审批" in detail and "decline.js" in detail
    # The office sees the decline but does not decide it.
    office = page(browser("office", "office"), f"/incidents/{iid}")
    assert "需餐饮科配合" in office and approve not in office
    # Decided: the buttons are gone and the row says how.
    _post(users["commander"], f"/api/v1/assignments/{aid}/decline/approve")
    detail = page(browser("leader"), f"/incidents/{iid}")
    assert approve not in detail and "指挥部已同意" in detail and "同意否定报备" in detail


def test_the_pdf_sheet_has_the_inaction_section(users, clock):
    s = _inaction_scenario(users, clock)
    r = users["office"].get("/api/v1/accountability.pdf?from=2026-11-01&to=2026-11-30")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = flat(pdf_text(r.data))
    assert "三、不作为情况" in text
    assert "超时未完成1项，否定报备1项（待审批1项），未签收6项" in text
    assert "价格监督检查：超时未完成1项，否定报备0项，未签收0项" in text
    assert "食品安全协调督查科：超时未完成0项，否定报备1项，未签收1项" in text
    for phrase in ("核查周边市场价格", "超过完成时限仍未完成，已超3小时", "否定报备（待指挥部审批）：需餐饮科配合",
                   "待指挥部审批", "推送后5小时仍未签收", s["incident"]["number"]):
        assert phrase in text, phrase
    # A duty officer's sheet is their department's only.
    own = flat(pdf_text(users["prices"].get("/api/v1/accountability.pdf?from=2026-11-01&to=2026-11-30").data))
    assert "核查周边市场价格" in own and "需餐饮科配合" not in own
