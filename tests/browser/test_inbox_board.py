"""The office's board of the city bureau, in a browser: a county's report arrives live, chimes, and is signed for.

The server is `flask serve` with the city's plan, joined to a Redis message queue (a channel of its
own). The report arrives as it does from the inbox API: `incidents.response.inbox.accept` runs here, in
the test's process, on the server's database with the county registered as a peer; the commit pushes
the board event through the queue, as `flask scheduler` pushes its events, and the open board shows the
row without a reload and plays its chime (counted by sound.js). A report the city then sends to the
province, whose Yingji is not registered, fails for good in the server's own sender and shows as an
alert. Every wait is bounded.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from app import create_app, push
from incidents.kernel.actors import SystemActor
from incidents.response import inbox, peers
from tests.browser.conftest import new_tab, start_server, stop_server
from tests.browser.test_boards import AUTOPLAY_POLICY, LIVE, assert_not_reloaded, connected, mark, no_page_errors
from tests.bureaus import CITY_PLAN
from tests.conftest import scratch_pg_database, service_missing
from tests.test_push_multiprocess import REDIS_URL

COUNTY = "zhongmou"
COUNTY_NAME = "中牟县市场监督管理局"
NUMBER = "中市监〔2026〕7号"
TITLE = "关于某学校食堂疑似食物中毒的报告"


def _redis() -> str:
    import redis  # noqa: PLC0415

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        service_missing("Redis", exc)
    return REDIS_URL


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city_server(request, tmp_path_factory):
    """The city's `flask serve` on a scratch database, pushing through Redis on a channel of its own."""
    queue = {"SOCKETIO_MESSAGE_QUEUE": _redis(), "SOCKETIO_CHANNEL": f"yingji-test-{uuid.uuid4().hex[:12]}",
             "PLAN_FILE": str(CITY_PLAN)}
    folder = tmp_path_factory.mktemp(f"server-city-{request.param}")

    def serve(url: str):
        try:
            return start_server(url, folder, extra_env=queue)
        except Exception as exc:  # noqa: BLE001
            service_missing("the Yingji server", exc)

    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'yingji.db'}"
        server = serve(url)
        yield server, url, queue
        stop_server(server)
        return
    with scratch_pg_database("yingji_inbox") as url:
        server = serve(url)
        yield server, url, queue
        stop_server(server)


@pytest.fixture
def here(city_server):
    """The app in this process, on the server's database, pushing through the same queue (as a scheduler does)."""
    _server, url, queue = city_server
    application = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-tests", "SCHEDULER": "off", **queue})
    push.use_external_emitter(application)
    yield application
    application.extensions["yingji"].engine.dispose()


def payload(n: int, now: datetime) -> dict:
    """What the county's Yingji sends for its bureau report (sending._report_payload's shape)."""
    return {"report_uid": f"{COUNTY}:{n}", "sender": COUNTY, "sender_name": COUNTY_NAME,
            "recipient_code": "city_bureau",
            "kind": "bureau", "skip_level": False, "skip_level_reason": None, "sent_at": now.isoformat(),
            "document": {"number": NUMBER, "title": TITLE, "signer": "王局长",
                         "content": {"body": [{"heading": "一、基本情况", "paragraphs": ["城关镇某中学食堂20人就医。"]}]}},
            "incident": {"id": 40 + n, "number": f"YJ2026-{40 + n:05d}", "title": "某学校食堂疑似食物中毒",
                         "category": "food_poisoning", "level": "II",
                         "discovered_at": (now - timedelta(minutes=20)).isoformat(),
                         "location": "城关镇某中学食堂", "source": "县医院急诊科电话报告", "nature": "集体性食物中毒",
                         "scope": "在校师生约20人", "trend": "新增病例减少", "measures_taken": "封存留样食品",
                         "casualties": "20人就医", "status": "registered"}}


def arrive(application, n: int) -> int:
    """The county's report arrives (the inbox's own function) and is committed; return the inbound id."""
    wiring = application.extensions["yingji"]
    with wiring.sessions() as session:
        now = datetime.now(timezone.utc)
        sender = peers.get(session, COUNTY) or peers.add(
            session, code=COUNTY, name=COUNTY_NAME, url=None, key_id=None, public_key=None,
            actor=SystemActor(name="browser-tests"), now=now)
        row, created = inbox.accept(session, wiring.plan, sender=sender, payload=payload(n, now),
                                    pdf=b"%PDF-1.4\n% a county document\n", now=now)
        assert created
        session.commit()  # the board event goes out through the queue now
        return row.id


def test_a_report_from_the_county_arrives_live_chimes_and_is_signed_for(city_server, here, open_as):
    server = city_server[0]
    first = open_as(server, "office")
    board = new_tab(first.context)
    board.add_init_script(AUTOPLAY_POLICY)  # sound only after a click, as a desktop browser
    board.goto(server.url + "/duty")
    connected(board)
    panel = board.locator("#inbox-panel")
    expect(panel).to_contain_text("来文（局际报送）")
    expect(board.locator("#inbox-empty")).to_be_visible()
    expect(board.locator("#sound-on")).to_have_text("启用提示音")
    board.click("#sound-on")  # the user gesture that lets the chime play
    expect(board.locator("#sound-state")).to_be_visible()
    assert board.evaluate("YJ.sound.counts.chime") == 0
    mark(board)
    # The leadership's overview, open meanwhile, shows the 来文 too.
    overview = open_as(server, "leader")
    overview.goto(server.url + "/")
    connected(overview)
    expect(overview.locator("#inbox-empty")).to_be_visible()
    mark(overview)

    inbound_id = arrive(here, 1)

    row = board.locator(f"#inbound-{inbound_id}")
    expect(row).to_be_visible(timeout=LIVE)
    for text in (COUNTY_NAME, "局报告", TITLE, NUMBER, "签收"):
        expect(row).to_contain_text(text)
    expect(row.locator("a.doc-number")).to_have_attribute("href", f"/api/v1/inbox/{inbound_id}/document.pdf")
    expect(board.locator("#inbox-count")).to_have_text("1")
    expect(board.locator("#inbox-empty")).to_be_hidden()
    board.wait_for_function("() => YJ.sound.counts.chime === 1", timeout=LIVE)
    assert board.evaluate("YJ.sound.played.chime") == 1, "the chime was asked for but the audio was not running"
    assert board.evaluate("document.body.getAttribute('data-chimes')") == "1"

    row.locator("button.btn-sign-for").click()
    expect(row).to_have_attribute("data-status", "signed", timeout=LIVE)
    expect(row).to_contain_text("已签收")
    expect(board.locator("#inbox-count")).to_have_text("0")
    seen = overview.locator(f"#inbound-{inbound_id}")
    expect(seen).to_contain_text(NUMBER)
    expect(seen).to_have_attribute("data-status", "signed", timeout=LIVE)  # signed for on the office's board
    status, body = server.api("office", "GET", "/api/v1/inbox")
    assert status == 200 and next(m for m in body["inbound"] if m["id"] == inbound_id)["signed_for"] is True
    assert board.evaluate("YJ.sound.counts.chime") == 1  # the 签收 event plays nothing

    # The city reports up to the province, whose Yingji is not registered: the office is told at once.
    incident_id = next(m for m in body["inbound"] if m["id"] == inbound_id)["incident_id"]
    status, filed = server.api("leader", "POST", f"/api/v1/incidents/{incident_id}/reports",
                               {"kind": "bureau", "body": "已向市政府和省局报告"})
    assert status == 201, filed
    alert = board.locator("#alerts .banner").filter(has_text="报送河南省市场监督管理局失败")
    expect(alert).to_be_visible(timeout=10_000)
    expect(alert).to_contain_text("请以其他方式报送并登记")
    expect(alert.locator("a.banner-link")).to_have_attribute(
        "href", f"/incidents/{incident_id}#report-{filed['report']['id']}")

    assert_not_reloaded(board)
    assert_not_reloaded(overview)
    no_page_errors(board, overview)


def test_the_leadership_signs_a_report_off_and_the_office_records_a_delivery_in_the_form_that_came_live(
        city_server, open_as):
    """签发 on the incident page; the office's page, open meanwhile, gets the signed report's recipients without a
    reload, and its delivery form (swapped in with them) records the city government's delivery."""
    server = city_server[0]
    status, created = server.api("office", "POST", "/api/v1/incidents", {
        "title": "某商场电梯困人事故", "category": "special_equipment_accident", "station": "xinzheng",
        "discovered_at": datetime.now(timezone.utc).isoformat(), "location": "新郑市某商场", "source": "群众报告",
        "nature": "电梯困人", "level": "III", "level_reason": "演练"})
    assert status == 201, created
    iid = created["id"]
    status, filed = server.api("office", "POST", f"/api/v1/incidents/{iid}/reports",
                               {"kind": "bureau", "body": "电梯困人3人，已全部救出"})
    assert status == 201, filed
    rid = filed["report"]["id"]

    office = open_as(server, "office")
    office.goto(server.url + f"/incidents/{iid}")
    connected(office)
    report = office.locator(f"#report-{rid}")
    expect(report).to_contain_text("待签发（须由领导小组签发）")
    expect(report.locator(".btn-sign-off")).to_have_count(0)
    mark(office)

    leader = open_as(server, "leader")
    # The leadership's overview says the report waits for them.
    overview = new_tab(leader.context)
    overview.goto(server.url + "/")
    connected(overview)
    waiting = overview.locator(f'.card[data-incident="{iid}"] .sign-waiting')
    expect(waiting).to_contain_text("局报告待签发")
    expect(waiting).to_contain_text("须由领导小组签发")
    expect(waiting.locator("a")).to_have_attribute("href", f"/incidents/{iid}#report-{rid}")
    mark(overview)
    leader.goto(server.url + f"/incidents/{iid}")
    connected(leader)  # the page's scripts are running: the 签发 form posts through forms.js
    leader.once("dialog", lambda dialog: dialog.accept())
    leader.locator(f"#report-{rid} .btn-sign-off").click()
    number = leader.locator(f"#report-{rid} a.doc-number")
    expect(number).to_have_text(re.compile(r"^郑市监〔2026〕\d+号$"), timeout=LIVE)
    expect(number).to_have_attribute("href", f"/api/v1/reports/{rid}/document.pdf")
    status, signed = server.api("leader", "GET", f"/api/v1/incidents/{iid}")
    assert status == 200, signed
    doc_number = next(r for r in signed["reports"] if r["id"] == rid)["document"]["number"]
    expect(number).to_have_text(doc_number)
    expect(leader.locator(f"#report-{rid} .sign-done")).to_contain_text("签发人 领导王五")
    expect(overview.locator(f'.card[data-incident="{iid}"]')).to_be_visible()
    expect(overview.locator(f'.card[data-incident="{iid}"] .sign-waiting')).to_have_count(0, timeout=LIVE)
    assert_not_reloaded(overview)

    # The office's page reads itself again on the push: the number and the delivery form arrive live.
    expect(report.locator("a.doc-number")).to_have_text(doc_number, timeout=LIVE)
    action = report.locator('details.recipient-action[data-recipient="city_government"]')
    expect(action).to_contain_text("登记送达：郑州市人民政府")
    assert_not_reloaded(office)
    action.locator("summary").click()
    expect(action.locator('select[name="channel"]')).to_have_value("gov_intranet")
    action.locator('input[name="reference"]').fill("政务内网回执 ZZ-2026-018")
    action.locator('button[type="submit"]').click()
    row = office.locator(f'#report-{rid} tr.recipient[data-recipient="city_government"]')
    expect(row).to_have_attribute("data-delivered", "true", timeout=LIVE)
    expect(row).to_contain_text("政务内网回执 ZZ-2026-018")
    no_page_errors(office, leader, overview)
