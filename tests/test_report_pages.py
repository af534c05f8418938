"""The pages of reports as documents (issue 16): recipients, sign-off, numbers, 越级上报, reports from other bureaus.

On SQLite and PostgreSQL, through the pages a browser gets (the Flask test client with a login session):
the incident page shows each report's recipients as a table (how, when, 补录, reference, 签收, where the
automatic sending stands), its document number with the PDF, and its sign-off with the 签发 button for the
role that signs; the county's report reaching the city bureau's Yingji shows on the city's pages (where the
event came from, the reports that came, the office's 来文 panel) and the city's 签收 comes back to the county's
page; the accountability sheet (page, JSON, PDF) says for each clock's report who got it, how, when, and who
signed for it.
"""
from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta


from incidents.kernel.actors import SystemActor
from incidents.response import peers
from tests.bureaus import bureaus, city, send, user  # noqa: F401 - bureaus and city are fixtures
from tests.helpers import by_kind, incident_payload, iso, signed_in_client
from tests.test_board_pages import browser, page  # noqa: F401 - browser is a fixture
from tests.test_reports_api import ok
from tests.test_reports_pdf import flat, pdf_text

SIGN_WAIT = "待签发（须由领导小组签发）"
SKIP_WORDING = "特殊情况下可越级上报，但必须同时报告当地政府和上级市场监督管理局"


def text_of(html: str) -> str:
    """The page's text without tags, entities read, spaces squeezed."""
    text = re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html)))
    return re.sub(r" ?（ ?", "（", re.sub(r" ([：，。）])", r"\1", text))


def section(html: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag of the same name (no nesting of that tag)."""
    start = html.index(f'id="{element_id}"')
    tag_start = html.rindex("<", 0, start)
    tag = re.match(r"<(\w+)", html[tag_start:]).group(1)
    return html[tag_start:html.index(f"</{tag}>", start) + len(tag) + 3]


def report_item(html: str, report_id: int) -> str:
    """The incident page's list item of one report."""
    start = html.index(f'id="report-{report_id}"')
    end = html.find('<li class="report"', start)
    return html[start:end if end > 0 else html.index("</ol>", start)]


def recipient_row(item: str, code: str) -> str:
    start = item.index('<tr class="recipient')
    start = item.index(f'data-recipient="{code}"', start)
    return text_of(item[start:item.index("</tr>", start)])


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def county_incident(users, clock, **overrides) -> int:
    """A Ⅱ food poisoning registered by the office now; return its id."""
    r = ok(users["office"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), level="II", level_reason="20人就医", **overrides)), 201)
    return r.get_json()["id"]


def file_report(who, iid: int, kind: str = "bureau", body: str = "已初步核实，20名师生就医", **extra) -> dict:
    r = ok(who.post(f"/api/v1/incidents/{iid}/reports", json={"kind": kind, "body": body, **extra}), 201)
    return r.get_json()["report"]


# --- the county's incident page -------------------------------------------------------------------


def test_a_report_waits_for_its_sign_off_and_only_the_leadership_gets_the_button(browser, users, clock, wiring):
    iid = county_incident(users, clock)
    clock.advance(minutes=5)
    report = file_report(users["office"], iid)
    leader = browser("leader")
    html = page(leader, f"/incidents/{iid}")
    item = report_item(html, report["id"])
    assert SIGN_WAIT in text_of(item)
    url = f"/api/v1/reports/{report['id']}/sign-off"
    form = re.search(r'<form class="api-form sign-off-form"[^>]*data-url="([^"]+)"', item)
    assert form and form.group(1) == url
    assert ">签发</button>" in item
    # Nothing has gone out: no number, nothing to record yet, each recipient still without it.
    assert "文号" not in text_of(item) and "登记送达" not in item
    assert "尚未送达" in recipient_row(item, "county_government")

    # The office sees the wait, not the button; the API refuses the office too.
    office_html = page(browser("office", "office"), f"/incidents/{iid}")
    office_item = report_item(office_html, report["id"])
    assert SIGN_WAIT in text_of(office_item) and "sign-off-form" not in office_item

    # The leader's button posts to the API with the page's CSRF token (as forms.js does).
    r = leader.post(url, json={}, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf"
    clock.advance(minutes=2)
    signed_at = clock.now()
    r = leader.post(url, json={}, headers={"X-CSRF-Token": csrf_of(html)})
    assert r.status_code == 200, r.get_json()
    number = r.get_json()["report"]["document"]["number"]
    assert number == "中市监〔2026〕1号"

    html = page(leader, f"/incidents/{iid}")
    item = report_item(html, report["id"])
    words = text_of(item)
    assert SIGN_WAIT not in words and "sign-off-form" not in item
    # Signed by whom (the page's leader, not the API's) and when, in Beijing time; the number links to the PDF.
    assert re.search(rf"签发人 leader\d+ · {signed_at.astimezone(wiring.plan.tz):%Y-%m-%d %H:%M} \(北京时间\)", words)
    assert "09:07" in words and signed_at.hour == 1  # 01:07 UTC is 09:07 in Beijing
    assert f'href="/api/v1/reports/{report["id"]}/document.pdf"' in item and f">{number}</a>" in item
    assert "关于某学校食堂疑似食物中毒的报告" in words
    pdf = leader.get(f"/api/v1/reports/{report['id']}/document.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_recipients_table_says_how_when_by_which_reference_and_where_the_sending_stands(
        app, browser, users, clock, wiring):
    iid = county_incident(users, clock)
    clock.advance(minutes=5)
    report = file_report(users["leader"], iid)  # filed by the leadership: signed off as it is filed
    leader = browser("leader")
    item = report_item(page(leader, f"/incidents/{iid}"), report["id"])
    government = recipient_row(item, "county_government")
    assert "中牟县人民政府" in government and "政务内网" in government and "尚未送达" in government
    assert "人工报送并登记" in government
    city = recipient_row(item, "city_bureau")
    assert "郑州市市场监督管理局" in city and "应急指挥系统（局际）" in city and "排队中" in city

    # The office records the county government's delivery: only the channels a person records are offered.
    office = browser("office", "office")
    html = page(office, f"/incidents/{iid}")
    item = report_item(html, report["id"])
    form = re.search(r'<details class="action recipient-action" data-recipient="county_government">.*?</details>', item,
                     re.S).group(0)
    assert "登记送达：中牟县人民政府" in form
    options = re.findall(r'<option value="([a-z_]+)"( selected)?>', form)
    assert {code for code, _ in options} == {"gov_intranet", "fax", "phone", "courier", "email", "in_person"}
    assert ("gov_intranet", " selected") in options  # the plan's channel comes first to hand
    assert "本系统" not in form and "应急指挥系统" not in form
    url = re.search(r'data-url="([^"]+)"', form).group(1)
    assert url == f"/api/v1/reports/{report['id']}/recipients/county_government/delivery"

    # Recorded 30 minutes after the delivery it claims: a 补录, shown with its time in Beijing time.
    delivered = clock.now() + timedelta(minutes=1)
    clock.advance(minutes=31)
    r = office.post(url, json={"channel": "fax", "reference": "传真 0371-62100001", "delivered_at": iso(delivered)},
                    headers={"X-CSRF-Token": csrf_of(html)})
    assert r.status_code == 200, r.get_json()

    # The city bureau's Yingji is not registered here: the sender gives up and says why.
    send(app)
    item = report_item(page(leader, f"/incidents/{iid}"), report["id"])
    government = recipient_row(item, "county_government")
    local = delivered.astimezone(wiring.plan.tz)
    assert f"{local:%Y-%m-%d %H:%M}" in government and "补录·待确认" in government
    assert "传真 0371-62100001" in government and "政务内网 / 实际：传真" in government
    city = recipient_row(item, "city_bureau")
    assert "发送失败：单位“zhengzhou”未登记地址或已停用" in city and "尚未送达" in city
    # So the office records the city's delivery another way; the form says the sending stops.
    assert "登记以其他方式送达：郑州市市场监督管理局" in item



def test_the_filing_form_offers_the_skip_level_reason_folded_with_the_plans_wording(browser, users, clock):
    iid = county_incident(users, clock)
    leader = browser("leader")
    html = page(leader, f"/incidents/{iid}")
    form = section(html, "form-report")
    details = re.search(r'<details class="skip-level"[^>]*>(.*?)</details>', form, re.S)
    assert details and " open" not in details.group(0).split(">")[0]  # folded away at first
    words = text_of(details.group(1))
    assert "越级上报（特殊情况）" in words and SKIP_WORDING in words
    assert "越级报送河南省市场监督管理局。" in words  # the leadership files the bureau's report only
    office_form = section(page(browser("office", "office"), f"/incidents/{iid}"), "form-report")
    assert "越级报送事发地初报：郑州市市场监督管理局；局报告、续报：河南省市场监督管理局。" in text_of(office_form)
    assert 'name="skip_level_reason"' in details.group(1) and " required" not in details.group(1)

    # Filed with a reason: the province bureau gets it too, marked 越级, and the reason shows.
    report = file_report(users["leader"], iid, skip_level_reason="事件可能造成重大社会影响")
    item = report_item(page(leader, f"/incidents/{iid}"), report["id"])
    words = text_of(item)
    assert "越级上报" in words and "越级上报理由 事件可能造成重大社会影响" in words
    province = recipient_row(item, "province_bureau")
    assert "河南省市场监督管理局" in province and "越级" in province and "应急指挥系统（局际）" in province
    assert "越级" not in recipient_row(item, "county_government")
    # The document says why it skipped a level.
    pdf = flat(pdf_text(ok(users["leader"].get(f"/api/v1/reports/{report['id']}/document.pdf")).data))
    assert flat("因事件可能造成重大社会影响，本报告越级上报") in pdf


def test_the_office_board_alerts_a_sending_that_failed_until_it_is_recorded_another_way(
        app, browser, users, clock, wiring):
    iid = county_incident(users, clock)
    clock.advance(minutes=5)
    report = file_report(users["leader"], iid)
    office = browser("office", "office")
    assert "dispatch-failed" not in page(office, "/duty")
    send(app)  # the city's Yingji is not registered: refused for good
    html = page(office, "/duty")
    banner = section(html, next(m for m in re.findall(r'id="(banner-dispatch-\d+)"', html)))
    words = text_of(banner)
    assert ("报送郑州市市场监督管理局失败：单位“zhengzhou”未登记地址或已停用（flask peers add），请以其他方式报送并登记"
            in words), words
    assert words.count("请以其他方式报送并登记") == 1
    assert f'href="/incidents/{iid}#report-{report["id"]}"' in banner and "登记送达" in words
    assert "dispatch-failed" not in page(browser("duty_officer", "food_coord"), "/duty")  # the office's board only
    # The event reached the office's room too, for a board that is open.
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert data and '"failed_dispatches_js"' in data.group(1)

    ok(users["office"].post(f"/api/v1/reports/{report['id']}/recipients/city_bureau/delivery",
                            json={"channel": "fax", "reference": "传真 0371-67180000"}))
    assert "dispatch-failed" not in page(office, "/duty")


def test_a_sending_that_will_be_retried_says_when_and_a_station_records_its_own_phone_call(
        app, browser, users, clock, wiring):
    import socket  # noqa: PLC0415

    with socket.socket() as s:  # a port nothing listens on: the city's Yingji is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with wiring.sessions() as session:
        peers.add(session, code="zhengzhou", name="郑州市市场监督管理局", url=f"http://127.0.0.1:{port}", key_id=None,
                  public_key=None, actor=SystemActor(name="tests"), now=clock.now())
        session.commit()
    iid = county_incident(users, clock)
    report = file_report(users["leader"], iid)
    send(app)
    item = report_item(page(browser("leader"), f"/incidents/{iid}"), report["id"])
    city = recipient_row(item, "city_bureau")
    retry = (clock.now() + timedelta(seconds=5)).astimezone(wiring.plan.tz)
    assert "排队中（已尝试 1 次：无法连接对方服务器（peer_unreachable））" in city, city
    assert f"下次重试 {retry:%Y-%m-%d %H:%M:%S}" in city and "尚未送达" in city

    # The station's initial report goes to its township government by phone: the station records the call.
    station_iid = ok(users["station"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()))), 201).get_json()["id"]
    initial = file_report(users["station"], station_iid, kind="initial", body="20人就医，已核实")
    station = signed_in_client(app, users["station"].id)
    item = report_item(page(station, f"/incidents/{station_iid}"), initial["id"])
    assert "城关镇人民政府" in recipient_row(item, "local_government")
    assert "本系统" in recipient_row(item, "bureau") and "本系统即时送达" in recipient_row(item, "bureau")
    form = re.search(r'<details class="action recipient-action" data-recipient="local_government">.*?</details>', item,
                     re.S).group(0)
    assert "登记送达：城关镇人民政府" in form and '<option value="phone" selected>' in form
    assert 'data-recipient="bureau"' not in item.split("</table>", 1)[1]  # nothing to record for this bureau itself
    r = station.post(f"/api/v1/reports/{initial['id']}/recipients/local_government/delivery",
                     json={"channel": "phone", "reference": "电话告知镇政府值班室"}, headers={"X-CSRF-Token": "t"})
    assert r.status_code == 200, r.get_json()
    assert by_kind(r.get_json()["incident"]["deadlines"])["initial_report"]["status"] == "met"


# --- two bureaus: the county's report reaches the city's Yingji -----------------------------------------


def test_the_city_sees_where_the_event_came_from_signs_for_it_and_the_county_sees_the_receipt(
        bureaus, browser, users, clock):
    county, city_app, _server = bureaus
    iid = county_incident(users, clock)
    county_number = ok(users["office"].get(f"/api/v1/incidents/{iid}")).get_json()["number"]
    clock.advance(minutes=10)
    report = file_report(users["leader"], iid)
    number = report["document"]["number"]
    clock.advance(seconds=30)
    arrived = clock.now()
    assert send(county) == 1

    city_office = user(city_app, "office", "office")
    client = signed_in_client(city_app, city_office.id)
    inbound = ok(city_office.get("/api/v1/inbox?pending=1")).get_json()["inbound"][0]
    city_iid = inbound["incident_id"]

    # The office's board: the 来文 panel lists it with its 签收 button.
    board = page(client, "/duty")
    panel = section(board, "inbox-panel")
    words = text_of(panel)
    assert "来文（局际报送）" in words and "待签收 1 件" in words
    row = text_of(section(panel, f"inbound-{inbound['id']}"))
    beijing = arrived.astimezone(city_app.extensions["yingji"].plan.tz)
    for needle in ("中牟县市场监督管理局", "局报告", "关于某学校食堂疑似食物中毒的报告", number,
                   f"{beijing:%Y-%m-%d %H:%M}", "签收"):
        assert needle in row, (needle, row)
    assert f'href="/api/v1/inbox/{inbound["id"]}/document.pdf"' in panel
    assert f'href="/incidents/{city_iid}"' in panel
    assert 'class="btn btn-primary btn-sign-for"' in panel
    assert 'src="/static/board/inbox.js"' in board and 'src="/static/board/sound.js"' in board

    # The city's incident says where it came from and lists the report that came, with its PDF.
    html = page(client, f"/incidents/{city_iid}")
    origin = re.search(r'<p class="origin"[^>]*>.*?</p>', html, re.S).group(0)
    assert f"来自 中牟县市场监督管理局 事件编号 {county_number}" in text_of(origin)
    came = section(html, "inbound")
    assert number in came and f'href="/api/v1/inbox/{inbound["id"]}/document.pdf"' in came
    assert "关于某学校食堂疑似食物中毒的报告" in text_of(came)
    sign_for = re.search(r'data-url="([^"]+)"', came).group(1)
    assert sign_for == f"/api/v1/inbox/{inbound['id']}/sign-for"
    pdf = client.get(f"/api/v1/inbox/{inbound['id']}/document.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # The county's report is the city's first report of the event, in the city's Yingji at once.
    first = text_of(section(html, "reports"))
    assert "郑州市市场监督管理局" in first and "本系统即时送达" in first and number in first

    # 签收 (as the button does), and the receipt travels back.
    clock.advance(minutes=3)
    signed_at = clock.now()
    r = client.post(sign_for, json={}, headers={"X-CSRF-Token": "t"})
    assert r.status_code == 200, r.get_json()
    assert "没有待签收的来文" in text_of(section(page(client, "/duty"), "inbox-panel"))
    came = text_of(section(page(client, f"/incidents/{city_iid}"), "inbound"))
    signed_local = f"{signed_at.astimezone(city_app.extensions['yingji'].plan.tz):%Y-%m-%d %H:%M}"
    assert f"{signed_local} · office-office" in came
    assert send(city_app) == 1

    county_page = page(browser("leader"), f"/incidents/{iid}")
    city_row = recipient_row(report_item(county_page, report["id"]), "city_bureau")
    assert f"{beijing:%Y-%m-%d %H:%M}" in city_row  # delivered when the city's Yingji answered
    assert f"{signed_local} · office-office" in city_row and "已送达" in city_row

    # The accountability sheet shows the same, per recipient (page, JSON, PDF).
    sheet = page(browser("leader"), "/accountability?from=2026-11-20&to=2026-11-20")
    written = section(sheet, "written")
    item = text_of(written[written.index(f'data-report-id="{report["id"]}"'):])
    assert "局报告" in item and number in item
    assert "郑州市市场监督管理局：" in item and "应急指挥系统（局际）" in item
    assert f"{beijing:%Y-%m-%d %H:%M} 送达" in item and f"签收 {signed_local} office-office" in item
    assert "中牟县人民政府：" in item and "尚未送达" in item
    assert re.search(r"签发 leader\d+ ", item)
    data = ok(users["leader"].get(f"/api/v1/accountability?incident={iid}")).get_json()
    clock_item = next(d for d in data["deadlines"] if d["kind"] == "bureau_report")
    assert clock_item["outcome"] == "running" and clock_item["report"]["id"] == report["id"]
    got = {r["code"]: r for r in clock_item["report"]["recipients"]}
    assert got["city_bureau"]["receipt_by"] == "office-office" and got["city_bureau"]["channel"] == "yingji"
    assert got["city_bureau"]["dispatch"]["status"] == "sent" and got["county_government"]["delivered_at"] is None
    assert clock_item["report"]["document"]["number"] == number
    pdf = flat(pdf_text(ok(users["leader"].get("/api/v1/accountability.pdf?from=2026-11-20&to=2026-11-20")).data))
    for needle in ("报告送达与签收情况", number, "郑州市市场监督管理局", "签收（office-office）", "中牟县人民政府：尚未送达（政务内网）"):
        assert flat(needle) in pdf, needle


def test_the_sheet_shows_a_report_still_on_its_way_and_what_each_clock_is_owed(app, browser, users, clock):
    """Before every recipient has it, a clock's report shows on the sheet (not only the written one's)."""
    iid = county_incident(users, clock)
    clock.advance(minutes=5)
    report = file_report(users["office"], iid)  # waits for the leadership's sign-off
    data = ok(users["leader"].get(f"/api/v1/accountability?incident={iid}")).get_json()
    item = next(d for d in data["deadlines"] if d["kind"] == "bureau_report")
    assert item["report"]["id"] == report["id"] and item["report"]["sign_off"]["waiting"] is True
    sheet = page(browser("leader"), "/accountability?from=2026-11-20&to=2026-11-20")
    written = text_of(section(sheet, "written"))
    assert SIGN_WAIT in written and "中牟县人民政府：" in written and "尚未送达" in written
    # The sending's state while it is queued, and after the bureau refused for good.
    ok(users["leader"].post(f"/api/v1/reports/{report['id']}/sign-off", json={}))
    send(app)
    written = text_of(section(page(browser("leader"), "/accountability?from=2026-11-20&to=2026-11-20"), "written"))
    assert "尚未送达（发送失败：单位“zhengzhou”未登记地址或已停用" in written


def test_the_sample_sheet_pdf_shows_the_recipients_numbers_and_receipts():
    from reports import render, samples  # noqa: PLC0415

    data, _pages = render.render(samples.accountability_doc(12, 3))
    text = flat(pdf_text(data))
    for needle in ("报告送达与签收情况", "中市监〔2026〕1号", "签发王五", "2026-11-2009:45签收（郑州市局值班员）",
                   "河南省市场监督管理局（越级）", "补录·待确认", "发送失败", "待签发"):
        assert flat(needle) in text, needle
