"""The browser pages: login, the board, the incident page, accountability (Chinese, Beijing time)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from incidents.models import User
from tests.helpers import incident_payload

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
    """GET a page, check its status, return its HTML."""
    r = client.get(url)
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
    due = clock.now() + timedelta(hours=1)
    countdown = re.search(r'<span class="countdown" data-due="([^"]+)" data-warn="(\d+)"', html)
    assert countdown, html
    assert countdown.group(1) == due.isoformat(timespec="milliseconds")
    assert countdown.group(2) == "900"  # the first warning of the 1-hour clock, 15 minutes
    assert "剩余 01:00:00" in html
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
    users["station"].post(f"/api/v1/incidents/{ungraded['id']}/reports", json={"kind": "initial", "body": "初报"})
    html = page(client, "/")
    assert "迟报 5分钟" in html


def test_incident_page_shows_facts_clocks_reports_and_audit_in_chinese(browser, users, clock):
    station, office = users["station"], users["office"]
    inc = register(station, discovered_at="2026-11-20T01:00:00Z")
    iid = inc["id"]
    clock.advance(minutes=70)
    r = station.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "body": "初报:食堂疑似食物中毒"})
    assert r.status_code == 201
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
    assert "应急响应中" in html and "应急处置情况续报(第1次)" in html

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
    station.post(f"/api/v1/incidents/{inc['id']}/reports", json={"kind": "initial", "body": "初报"})
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
    station.post(f"/api/v1/incidents/{inc['id']}/reports", json={"kind": "initial", "body": "初报"})

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
    assert leader.post(f"/api/v1/incidents/{iid}/end", json={"reason": "已查处"}).status_code == 200
    client = browser("leader")
    assert "应急状态已结束" in page(client, "/")
    office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "closing", "body": "总结"})
    assert office.post(f"/api/v1/incidents/{iid}/archive").status_code == 200
    assert "已归档的事件" not in page(client, "/")
    html = page(client, f"/incidents/{iid}")
    assert "已归档" in html and "已查处" in html and "宣布应急状态结束" in html


def test_error_page_is_in_chinese(browser):
    html = page(browser("leader"), "/no-such-page", 404)
    assert "未找到" in html and "返回事件总览" in html and "中牟县市场监督管理局" in html
    assert "退出登录" in html  # the header still knows who is signed in
