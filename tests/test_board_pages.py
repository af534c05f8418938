"""The browser pages: login, the board, the incident page, accountability (Chinese, Beijing time)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from incidents.models import User
from tests.helpers import approve_summary, file_report, incident_payload, report_up, signed_in_client
from tests.test_reports_api import ok

PASSWORD = "correct horse 9"


@pytest.fixture
def browser(app, wiring, make_user):
    """Log a new user of a role in through the login form; return a test client with the session."""

    def sign_in(role: str, unit: str | None = None):
        api_user = make_user(role, unit, password=PASSWORD)
        with wiring.sessions() as session:
            login = session.get(User, api_user.id).login
        client = app.test_client()
        assert client.get("/login").status_code == 200
        with client.session_transaction() as s:
            s["csrf"] = "t"
        r = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": "t"})
        assert r.status_code == 302, r.get_data(as_text=True)
        return client

    return sign_in


def page(client, url: str, status: int = 200) -> str:
    """GET a page (following redirects: a duty officer's "/" is the duty board), check its status, return its HTML."""
    r = client.get(url, follow_redirects=True)
    assert r.status_code == status, r.get_data(as_text=True)[:2000]
    return r.get_data(as_text=True)


def register(user, **overrides) -> dict:
    """Register an incident through the API; return its JSON."""
    r = user.post("/api/v1/incidents", json=incident_payload(**overrides))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_login_page_shows_the_bureau_and_the_form(app):
    html = page(app.test_client(), "/login")
    assert "中牟县市场监督管理局" in html
    for field in ('name="login"', 'name="password"', 'name="csrf_token"'):
        assert field in html
    css = re.search(r'href="(/static/[^"]+\.css)"', html).group(1)
    r = app.test_client().get(css)
    assert r.status_code == 200 and b".lv-red" in r.data


def test_pages_send_a_stranger_to_the_login_page(app):
    client = app.test_client()
    for url in ("/", "/incidents/1", "/accountability"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_wrong_password_is_refused_in_chinese(app, make_user):
    make_user("leader", password=PASSWORD)
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"login": "leader1", "password": "wrong", "csrf_token": "t"})
    assert r.status_code == 401
    assert "登录名或密码错误" in r.get_data(as_text=True)


def test_header_shows_user_role_links_and_logout(browser):
    client = browser("duty_officer", "food_coord")
    html = page(client, "/")
    assert "科室值班员" in html and "食品安全协调督查科" in html
    assert 'href="/"' in html and 'href="/accountability"' in html
    assert 'action="/logout"' in html and "退出登录" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert client.get("/").status_code == 302


def test_index_shows_an_incident_with_its_level_colour_and_countdown(browser, users, clock):
    inc = register(users["office"], level="II", level_reason="20人就医")
    client = browser("leader")
    html = page(client, "/")
    assert inc["number"] in html and "某学校食堂疑似食物中毒" in html
    assert "lv lv-orange" in html and "Ⅱ级" in html
    assert "食物中毒" in html and "食品安全协调督查科" in html and "已登记" in html
    assert "应急领导小组" in html  # the user's role
    # The office registered it: the bureau learned of it then, and its 30-minute report is the nearest clock.
    due = clock.now() + timedelta(minutes=30)
    countdown = re.search(r'<span class="countdown" data-due="([^"]+)" data-warn="(\d+)"', html)
    assert countdown, html
    assert countdown.group(1) == due.isoformat(timespec="milliseconds")
    assert countdown.group(2) == "900"  # the first warning of the 30-minute clock, 15 minutes
    assert "剩余 00:30:00" in html
    script = re.search(r'src="(/static/[^"]+\.js)"', html).group(1)
    r = client.get(script)
    assert r.status_code == 200 and b"data-due" in r.data


def test_index_groups_by_level_then_ungraded_and_colours_the_clocks(browser, users, clock):
    office = users["office"]
    ungraded = register(office, title="未定级事件")
    register(office, title="一般事件", category="counterfeit", level="IV")
    register(office, title="特别重大事件", category="epidemic", level="I")
    client = browser("leader")
    html = page(client, "/")
    order = [html.index(t) for t in ("特别重大事件", "一般事件", "未定级事件")]
    assert order == sorted(order)
    assert "lv lv-red" in html and "lv lv-blue" in html and "lv lv-grey" in html

    clock.advance(minutes=50)  # 10 minutes left of the hour: within the 15-minute warning
    html = page(client, "/")
    assert "state-warn" in html and "即将到期" in html
    clock.advance(minutes=15)  # past due
    html = page(client, "/")
    assert "state-overdue" in html and "已超时 00:05:00" in html and "超时未报" in html

    # Met and late clocks show their outcome.
    file_report(users["station"], ungraded["id"], "initial", "初报")
    html = page(client, "/")
    assert "迟报 5分钟" in html


def test_incident_page_shows_facts_clocks_reports_and_audit_in_chinese(browser, users, clock):
    station, office = users["station"], users["office"]
    inc = register(station, discovered_at="2026-11-20T01:00:00Z")
    iid = inc["id"]
    clock.advance(minutes=70)
    file_report(station, iid, "initial", "初报:食堂疑似食物中毒")
    office.post(f"/api/v1/incidents/{iid}/level", json={"level": "II", "reason": "20人就医,属重大食物中毒"})

    html = page(browser("office", "office"), f"/incidents/{iid}")
    # Facts, in Beijing time.
    facts = incident_payload()
    for field in ("location", "source", "nature", "scope", "trend", "measures_taken", "casualties"):
        assert facts[field] in html, field
    assert "城关市场监督管理所" in html and "2026-11-20 09:00 (北京时间)" in html
    # Level with colour and its history.
    assert "lv lv-orange" in html and "20人就医,属重大食物中毒" in html and "未定级" in html
    # Reports and clocks.
    assert "事发地初报" in html and "初报:食堂疑似食物中毒" in html
    assert "事发地市场监督管理所报告" in html and "迟报 10分钟" in html
    assert "局向县政府和市局报告" in html and "进行中" in html
    # The audit trail, translated.
    for action in ("登记事件", "时限开始计时", "报送报告", "迟报", "定级"):
        assert action in html, action
    text = re.sub(r"<[^>]+>", "", html)
    assert "incident.registered" not in text and "deadline.started" not in text
    # Accountability summary of the incident.
    assert "迟报漏报情况" in html


def test_incident_page_shows_cancelled_clocks_with_reason_and_measures(browser, users, clock):
    office, leader = users["office"], users["leader"]
    inc = register(office, category="counterfeit")  # ungraded: the initial-report clock runs
    iid = inc["id"]
    office.post(f"/api/v1/incidents/{iid}/level", json={"level": "IV", "reason": "个别商户售假"})
    leader.post(f"/api/v1/incidents/{iid}/activate")
    html = page(browser("leader"), f"/incidents/{iid}")
    assert "已取消" in html and "预案不要求" in html
    assert "应急响应中" in html and "应急处置情况续报（第1次）" in html

    inc = register(office, category="food_poisoning", level="II")
    iid = inc["id"]
    leader.post(f"/api/v1/incidents/{iid}/activate")
    office.post(f"/api/v1/incidents/{iid}/measures", json={"measure": "work_team_dispatched", "body": "工作组已到"})
    html = page(browser("commander"), f"/incidents/{iid}")
    assert "措施完成" in html and "派出工作组实地调查" in html and "按时完成" in html


def test_duty_officer_of_another_department_gets_404(browser, users):
    inc = register(users["office"], level="II")
    client = browser("duty_officer", "prices")
    html = page(client, f"/incidents/{inc['id']}", 404)
    assert "未找到" in html and "不存在" in html
    assert inc["number"] not in page(client, "/")
    # The lead department's duty officer sees it.
    assert inc["number"] in page(browser("duty_officer", "food_coord"), f"/incidents/{inc['id']}")
    page(client, "/incidents/99999", 404)


def test_accountability_lists_a_late_report_with_its_lateness(browser, users, clock):
    station = users["station"]
    inc = register(station)
    clock.advance(minutes=70)
    file_report(station, inc["id"], "initial", "初报")
    clock.advance(minutes=45)  # the bureau's 30-minute clock is now missed

    html = page(browser("leader"), "/accountability")
    assert "迟报漏报情况" in html and inc["number"] in html
    assert "迟报 10分钟" in html
    assert "漏报" in html and "已超 15分钟" in html
    assert "城关市场监督管理所" in html and "办公室(应急管理科)" in html
    assert 'name="from" value="2026-10-22"' in html and 'name="to" value="2026-11-20"' in html

    # A period without the clocks shows none.
    html = page(browser("viewer"), "/accountability?from=2026-10-01&to=2026-10-31")
    assert "迟报 10分钟" not in html and "该期间没有迟报或漏报" in html


def test_accountability_of_a_unit_bound_user_is_their_own_unit(browser, users, clock):
    station = users["station"]
    inc = register(station)
    clock.advance(minutes=70)
    file_report(station, inc["id"], "initial", "初报")

    client = browser("station", "chengguan")
    html = page(client, "/accountability")
    assert "迟报 10分钟" in html and "局向县政府和市局报告" not in html
    assert 'name="department"' not in html
    page(client, "/accountability?department=office", 403)

    html = page(browser("duty_officer", "prices"), "/accountability")
    assert inc["number"] not in html

    html = page(browser("office", "office"), "/accountability?department=chengguan")
    assert "迟报 10分钟" in html and "局向县政府和市局报告" not in html


def test_accountability_refuses_bad_dates_in_chinese(browser):
    client = browser("leader")
    assert "须为日期" in page(client, "/accountability?from=yesterday", 400)
    assert "截止日期不能早于起始日期" in page(client, "/accountability?from=2026-11-20&to=2026-11-01", 400)


def test_times_are_beijing_time(browser, users, clock):
    inc = register(users["office"], discovered_at="2026-11-20T01:00:00Z")
    client = browser("leader")
    assert "2026-11-20 09:00 (北京时间)" in page(client, "/")
    html = page(client, f"/incidents/{inc['id']}")
    assert "2026-11-20 09:00 (北京时间)" in html
    assert "2026-11-20 01:00" not in html


def test_html_in_user_text_is_escaped(browser, users):
    evil = '<script>alert("x")</script><b>加粗</b>'
    inc = register(users["office"], title=evil, location=evil)
    users["station"].post(f"/api/v1/incidents/{inc['id']}/reports", json={"kind": "initial", "body": evil})
    client = browser("leader")
    for url in ("/", f"/incidents/{inc['id']}", "/accountability"):
        html = page(client, url)
        assert "<script>alert" not in html and "<b>加粗</b>" not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_archived_incidents_leave_the_board(browser, users):
    office, leader = users["office"], users["leader"]
    inc = register(office, title="已归档的事件", category="counterfeit", level="IV")
    iid = inc["id"]
    assert leader.post(f"/api/v1/incidents/{iid}/activate").status_code == 200
    approve_summary(office, leader, iid)
    assert leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "已查处"}).status_code == 200
    client = browser("leader")
    assert "应急状态已结束" in page(client, "/")
    report_up(office, iid, signer=leader)
    assert "已归档的事件" not in page(client, "/")
    html = page(client, f"/incidents/{iid}")
    assert "已归档" in html and "已查处" in html and "宣布应急状态结束" in html


def test_error_page_is_in_chinese(browser):
    html = page(browser("leader"), "/no-such-page", 404)
    assert "未找到" in html and "返回事件总览" in html and "中牟县市场监督管理局" in html
    assert "退出登录" in html  # the header still knows who is signed in


# --- the live boards and the forms (server side) ---------------------------------------------


def page_data(html: str) -> dict:
    """Return the JSON a live page hands its script."""
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found, "no page data"
    return json.loads(found.group(1))


def activated(users, clock, **overrides) -> dict:
    """Register a Ⅱ food poisoning now, activate it; return the incident's JSON."""
    inc = register(users["office"], discovered_at=clock.now().isoformat(), level="II", level_reason="重大食物中毒",
                   **overrides)
    r = users["leader"].post(f"/api/v1/incidents/{inc['id']}/activate")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_duty_officers_home_is_the_duty_board_with_its_assignments(browser, users, clock):
    inc = activated(users, clock)
    client = browser("duty_officer", "food_coord")
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/duty")
    html = page(client, "/duty")
    assert "值班看板" in html and "食品安全协调督查科" in html
    assert "启用提示音" in html and 'id="conn"' in html and "连接中…" in html
    assert 'id="new-banner"' in html
    assert "/static/board/vendor/socket.io.min.js" in html and "/static/board/duty.js" in html
    assert "cdn" not in html.lower()
    data = page_data(html)
    assert data["department"] == "food_coord" and data["department_name"] == "食品安全协调督查科"
    mine = [a for a in data["assignments"] if a["incident_id"] == inc["id"]]
    assert {a["clock"] for a in mine} == {"measures_issued", "work_team_dispatched"}
    assert all(a["status"] == "pushed" and a["department"] == "food_coord" for a in mine)
    assert data["plan"]["timezone"] == "Asia/Shanghai" and data["plan"]["levels"]["II"]["colour"] == "orange"
    assert data["plan"]["clock_warn"]["work_team_dispatched"] == 7200  # its first warning, 2 hours
    assert data["server_now"] == clock.now().isoformat(timespec="milliseconds")
    # The clocks of the department's incidents count down on the board.
    assert inc["number"] in html and 'class="countdown"' in html and "制定应对措施并下发" in html
    assert "本科室" in html


def test_a_board_starts_from_the_last_numbers_of_its_rooms(browser, users, clock, wiring):
    from incidents.records import board_events

    activated(users, clock)
    client = browser("office", "office")
    with wiring.sessions() as session:
        expected = board_events.last_seqs(session, ["overview", "dept:office"])
    assert expected["overview"] > 0 and expected["dept:office"] > 0
    assert page_data(page(client, "/"))["seqs"] == expected
    assert page_data(page(client, "/duty"))["seqs"] == expected
    officer = browser("duty_officer", "prices")
    assert list(page_data(page(officer, "/duty"))["seqs"]) == ["dept:prices"]


def test_who_sees_which_duty_board(browser, users, clock):
    activated(users, clock)
    officer = browser("duty_officer", "food_coord")
    assert "只能查看本科室的值班看板" in page(officer, "/duty?department=prices", 403)
    assert "没有科室值班看板" in page(browser("station", "chengguan"), "/duty", 403)
    assert page_data(page(officer, "/duty"))["may_handle"] is True
    office = browser("office", "office")
    data = page_data(page(office, "/duty"))
    assert data["department"] == "office" and data["may_handle"] is True
    assert page_data(page(office, "/duty?department=food_coord"))["may_handle"] is False
    leader = browser("leader")
    html = page(leader, "/duty")  # no department of their own: choose one
    assert "选择要查看的科室" in html and 'href="/duty?department=food_coord"' in html
    html = page(leader, "/duty?department=food_coord")
    assert page_data(html)["department"] == "food_coord" and page_data(html)["may_handle"] is False
    assert "只读" in html
    assert "预案中没有科室" in page(leader, "/duty?department=nope", 404)


def test_the_duty_clocks_panel_lists_the_departments_incidents_only(browser, users, clock):
    food = activated(users, clock)
    prices = register(users["office"], title="价格异常", category="price_anomaly", level="III")
    client = browser("duty_officer", "food_coord")
    html = page(client, "/duty/clocks")
    assert html.lstrip().startswith('<section class="panel duty-clocks" id="duty-clocks"')
    assert food["number"] in html and prices["number"] not in html
    assert f'data-incidents="{food["id"]}"' in html
    assert 'data-due="' in html and "牵头" in html
    assert prices["number"] in page(browser("leader"), "/duty/clocks?department=prices")


def test_the_overview_card_shows_who_has_not_acknowledged_and_who_declined(browser, users, clock):
    inc = activated(users, clock)
    by_dept = {a["department"]: a for a in inc["assignments"] if a["clock"] != "work_team_dispatched"}
    clock.advance(minutes=7)
    r = users["prices"].post(f"/api/v1/assignments/{by_dept['food_coord']['id']}/ack")
    assert r.status_code == 404  # another department's officer does not even see it
    food = users["food"]
    assert food.post(f"/api/v1/assignments/{by_dept['food_coord']['id']}/ack").status_code == 200
    r = users["office"].post(f"/api/v1/assignments/{by_dept['office']['id']}/decline",
                             json={"reason": "本科室人员已全部派出"})
    assert r.status_code == 200, r.get_json()

    html = page(browser("commander"), "/")
    card = html[html.index(f'data-incident="{inc["id"]}"'):]
    assert "未签收 <b>5</b> 项" in card  # 7 assignments: one acknowledged, one declined
    assert "新闻宣传" in card and "已推送" in card and "7分00秒" in card
    assert 'data-since="' in card
    assert "否定报备" in card and "理由：本科室人员已全部派出" in card
    assert f'data-assignment-id="{by_dept["food_coord"]["id"]}" data-status="acknowledged"' in card
    assert "已签收 <b>1</b>" in card and "已否定报备 <b>1</b>" in card


def test_the_card_fragment_is_one_card_in_its_level_group(browser, users, clock):
    inc = activated(users, clock)
    client = browser("leader")
    html = page(client, f"/board/cards/{inc['id']}")
    assert html.lstrip().startswith('<section class="level-group"')
    assert 'data-level="II"' in html and html.count('class="card ') == 1 and inc["number"] in html
    assert "<html" not in html and "topbar" not in html
    # Not visible to another department's officer; gone when archived or unknown.
    page(browser("duty_officer", "prices"), f"/board/cards/{inc['id']}", 404)
    page(client, "/board/cards/99999", 404)
    assert client.get(f"/board/cards/{inc['id']}", headers={}).status_code == 200
    assert app_client_redirects(client.application, f"/board/cards/{inc['id']}")


def app_client_redirects(app, url: str) -> bool:
    """A client without a login is sent to the login page."""
    r = app.test_client().get(url)
    return r.status_code == 302 and "/login" in r.headers["Location"]


def forms_of(html: str) -> set[str]:
    """Return the ids of the incident page's forms, and which of them start hidden."""
    out = set()
    for tag in re.finditer(r'<(?:details|div) class="action[^"]*" id="action-(\w+)"([^>]*)>', html):
        out.add(tag.group(1) + (" hidden" if re.search(r"\bhidden\b", tag.group(2)) else ""))
    return out


def test_the_incident_page_shows_the_forms_the_role_may_use(browser, users, clock):
    registered = register(users["office"], discovered_at=clock.now().isoformat(), level="II")
    iid = registered["id"]
    assert forms_of(page(browser("office", "office"), f"/incidents/{iid}")) == {
        "grade", "assign", "report", "measure hidden", "correct", "withdraw", "close"}
    assert forms_of(page(browser("leader"), f"/incidents/{iid}")) == {
        "activate", "command_hq", "grade", "assign", "report", "end hidden", "withdraw", "close"}
    # The commander may end Ⅲ and Ⅳ only (plan: end_declared_by), Ⅲ only as the named 总指挥 of the
    # command HQ (§三(三)); with none named, Ⅳ only. At Ⅱ the form waits hidden.
    html = page(browser("commander"), f"/incidents/{iid}")
    assert forms_of(html) == {"grade", "assign", "report hidden", "measure hidden", "end hidden"}
    assert 'data-levels="IV"' in html
    # The lead department's officer reports progress, closing and measures; no grading, no assigning.
    html = page(browser("duty_officer", "food_coord"), f"/incidents/{iid}")
    assert forms_of(html) == {"report hidden", "measure hidden"}
    assert 'value="progress"' in html and 'value="initial"' not in html
    station = page(browser("station", "chengguan"), f"/incidents/{iid}")
    assert forms_of(station) == {"report"} and 'value="initial"' in station
    assert "处置操作" not in page(browser("viewer"), f"/incidents/{iid}")

    users["leader"].post(f"/api/v1/incidents/{iid}/activate")
    html = page(browser("leader"), f"/incidents/{iid}")
    # Once activated, the event is no longer closed without a response: the close form waits hidden.
    assert forms_of(html) == {"activate hidden", "command_hq", "grade", "assign", "report", "end", "withdraw", "close hidden"}
    office = page(browser("office", "office"), f"/incidents/{iid}")
    assert forms_of(office) == {"grade", "assign", "report", "measure", "correct", "withdraw", "close hidden"}
    # The forms post JSON to the API routes.
    for url in (f"/api/v1/incidents/{iid}/level", f"/api/v1/incidents/{iid}/assignments",
                f"/api/v1/incidents/{iid}/reports", f"/api/v1/incidents/{iid}/measures",
                f"/api/v1/incidents/{iid}/close"):
        assert f'data-url="{url}"' in office, url
    assert "派出工作组实地调查(计时中" in office.replace("（", "(")  # the running measure clocks first
    assert 'name="submitted_at" data-local-time' in office and 'name="due_at" data-local-time' in office
    assert '<option value="food_coord">食品安全协调督查科（牵头科室）</option>' in office


def test_the_incident_page_lists_assignments_and_their_audit_in_chinese(browser, users, clock):
    inc = activated(users, clock)
    work_team = [a for a in inc["assignments"] if a["clock"] == "work_team_dispatched"][0]
    users["food"].post(f"/api/v1/assignments/{work_team['id']}/ack")
    users["food"].post(f"/api/v1/assignments/{work_team['id']}/decline", json={"reason": "需餐饮科配合"})
    html = page(browser("leader"), f"/incidents/{inc['id']}")
    assert "任务派发" in html and "7 项" in html
    # A measure's decline waits for the command's approval.
    assert f'data-assignment-id="{work_team["id"]}" data-status="decline_requested"' in html
    assert "否定报备理由：需餐饮科配合" in html and "否定报备待批" in html and "待签收" in html
    assert "待指挥部审批" in html
    for action in ("派发任务", "签收任务", "否定报备（报请审批）"):
        assert action in html, action
    text = re.sub(r"<[^>]+>", "", html)
    assert "assignment.created" not in text and "assignment.decline_requested" not in text
    assert 'data-live="assignments"' in html and 'data-status="active"' in html


def test_the_registration_form_has_the_plans_report_contents(browser):
    html = page(browser("office", "office"), "/incidents/new")
    for name in ("title", "category", "discovered_at", "location", "station", "source", "nature", "scope",
                 "trend", "measures_taken", "casualties", "level", "level_reason"):
        assert f'name="{name}"' in html, name
    assert '<option value="food_poisoning">食物中毒</option>' in html
    assert '<option value="chengguan">城关市场监督管理所</option>' in html
    assert 'data-url="/api/v1/incidents"' in html and 'data-after="incident"' in html
    assert 'value="2026-11-20T09:00"' in html  # now, in Beijing time
    # A station registers its own events and may not grade them.
    station = page(browser("station", "chengguan"), "/incidents/new")
    assert 'name="level"' not in station and 'type="hidden" name="station" value="chengguan"' in station
    # A duty officer may register, not grade; a viewer may not register at all.
    assert 'name="level"' not in page(browser("duty_officer", "food_coord"), "/incidents/new")
    assert "无权登记事件" in page(browser("viewer"), "/incidents/new", 403)
    assert "登记事件" in page(browser("office", "office"), "/")  # the header's link
    assert 'href="/incidents/new"' not in page(browser("viewer"), "/")


def test_user_text_on_the_live_pages_is_escaped(browser, users, clock):
    evil = '<script>alert("x")</script></script><b>加粗</b>'
    inc = activated(users, clock, title=evil)
    users["office"].post(f"/api/v1/incidents/{inc['id']}/assignments", json={"department": "food_coord", "task": evil})
    for client, url in ((browser("duty_officer", "food_coord"), "/duty"), (browser("leader"), f"/board/cards/{inc['id']}"),
                        (browser("leader"), "/duty/clocks?department=food_coord"),
                        (browser("office", "office"), f"/incidents/{inc['id']}")):
        html = page(client, url)
        assert "<script>alert" not in html and "<b>加粗</b>" not in html, url
    data = page_data(page(browser("duty_officer", "food_coord"), "/duty"))
    assert any(a["task"] == evil for a in data["assignments"])  # the JSON carries it intact, escaped


def test_the_board_scripts_are_served(app):
    client = app.test_client()
    for name in ("board.js", "live.js", "overview.js", "duty.js", "incident.js", "forms.js", "register.js"):
        r = client.get(f"/static/board/{name}")
        assert r.status_code == 200, name
        body = r.get_data(as_text=True)
        assert ".innerHTML" not in body, name  # user text goes in with textContent only
        r.close()


def test_the_incident_page_signs_a_report_off_and_records_its_deliveries(app, browser, users, clock):
    office, leader, station = users["office"], users["leader"], users["station"]
    iid = register(station)["id"]
    # The station's report reached the bureau at once; the station that filed it records that it phoned the
    # township; another user of the same station may not.
    initial = file_report(station, iid, "initial", "初报", deliver=False)["report"]
    township = f"/api/v1/reports/{initial['id']}/recipients/local_government/delivery"
    html = page(signed_in_client(app, station.id), f"/incidents/{iid}")
    assert township in html and f"/api/v1/reports/{initial['id']}/recipients/bureau/delivery" not in html
    assert initial["document"]["number"] in html
    assert township not in page(browser("station", "chengguan"), f"/incidents/{iid}")
    # The office's bureau report waits for the leadership: the page says so, only a signer gets the form, and
    # nothing can be recorded as delivered before it.
    bureau = file_report(office, iid, "bureau", "局报告", deliver=False)["report"]
    sign_url = f"/api/v1/reports/{bureau['id']}/sign-off"
    delivery_url = f"/api/v1/reports/{bureau['id']}/recipients/county_government/delivery"
    html = page(browser("office", "office"), f"/incidents/{iid}")
    assert "待签发（须由领导小组签发）" in html and sign_url not in html and delivery_url not in html
    html = page(browser("leader"), f"/incidents/{iid}")
    assert sign_url in html
    signed = ok(leader.post(sign_url, json={})).get_json()["report"]
    html = page(browser("office", "office"), f"/incidents/{iid}")
    assert "待签发（须由领导小组签发）" not in html and signed["document"]["number"] in html and "签发" in html
    assert delivery_url in html and sign_url not in html
    # The record says it in words: the sign-off, the number it went out as, whom it reached and how.
    ok(office.post(delivery_url, json={"channel": "fax", "reference": "传真 0371-62100000"}))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page(browser("viewer"), f"/incidents/{iid}")))
    assert "签发报告" in text and f"报告编号发出 {signed['document']['number']}" in text
    assert "登记送达 中牟县人民政府，传真（传真 0371-62100000）" in text
    assert "report.signed_off" not in text and "report.delivered" not in text
