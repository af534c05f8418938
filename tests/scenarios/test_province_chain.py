"""县局 → 市局 → 省局 (issue 16 item 6): seven bureaus' Yingji as separate processes, a Ⅰ-level event traced up.

A province bureau (henan), two city bureaus (zhengzhou, luoyang) and four county bureaus (zhongmou and
xinzheng under zhengzhou, yanshi and mengjin under luoyang) run as `flask --app wsgi serve` processes on
127.0.0.1, each with its own SQLite file, its own plan (tests/province.py writes small plans that
`extends:` the shipped ones), its own key, set up with `flask db upgrade`, `flask users create`, `flask
peers key` and `flask peers add`. Each sends with its in-process scheduler every 0.2 s on the real clock.

The story: a station of zhongmou registers the event and files its 1-hour report (the township's delivery
recorded with it); the county grades it Ⅰ and the county leader files the bureau report (signed off by
filing it). The city's Yingji gets it: its own incident opens with zhongmou in the place of a station, its
first report met on arrival and its own 30 minutes running from the arrival. The city office signs for
it and the receipt reaches the county. The city leader files the city's bureau report; the province gets
it the same way and its receipt reaches the city.

Then the city's process is killed. The county files a progress report and a report on a new event, and
xinzheng a report of its own: their dispatches stay queued, retried with back-off (0.5 s doubling to 3 s
here; DISPATCH_RETRY_FIRST/MAX), and nothing arrives. The city comes back on the same port and database:
everything arrives exactly once (no second inbound row, no second incident), and its receipts go back.

Waits poll with bounds (WAIT); they are limits on waiting for processes, not timing assertions. The
times asserted are orderings and equalities between the bureaus' records (one machine, one clock).
"""
from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.province import Chain, login_of, moment, wait_for

WAIT = 60.0  # seconds: a bound on waiting for a delivery or a process
DOWN = 20.0  # seconds the city stays down: several attempts, the back-off reaching its cap
RETRY_FIRST, RETRY_MAX = 0.5, 3.0
SETTINGS = {"DISPATCH_EVERY": "0.2", "DISPATCH_RETRY_FIRST": str(RETRY_FIRST), "DISPATCH_RETRY_MAX": str(RETRY_MAX),
            "SCHEDULER_INTERVAL": "1"}

EVENT = {"title": "某中学食堂集体食物中毒", "category": "food_poisoning", "location": "城关镇某中学食堂",
         "station": "chengguan", "source": "县医院急诊科电话报告", "nature": "集体性食物中毒",
         "scope": "在校师生百余人出现腹痛、呕吐，3人危重", "trend": "新增病例仍在增加",
         "measures_taken": "封存留样食品，暂停食堂供餐", "casualties": "126人就医，3人危重，无死亡"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(at: datetime) -> str:
    return at.isoformat()


def clocks(incident: dict) -> dict[str, dict]:
    """The incident's live clocks by kind (the latest cycle)."""
    out = {}
    for d in sorted(incident["deadlines"], key=lambda d: (d["kind"], d["cycle"], d["id"])):
        if d["status"] != "cancelled":
            out[d["kind"]] = d
    return out


def recipient(api, incident_id: int, report_id: int, code: str) -> dict:
    """One recipient of a report, as the sending bureau's API shows it."""
    incident = api.get(f"/incidents/{incident_id}")
    report = next(r for r in incident["reports"] if r["id"] == report_id)
    return next(r for r in report["recipients"] if r["code"] == code)


def delivered(api, incident_id: int, report_id: int, code: str) -> dict:
    """Wait until the sender's dispatch to a recipient went through; return the recipient."""
    return wait_for(f"report {report_id} delivered to {code}",
                    lambda: (lambda r: r if r["delivered_at"] else None)(recipient(api, incident_id, report_id, code)),
                    timeout=WAIT)


def receipt(api, incident_id: int, report_id: int, code: str) -> dict:
    """Wait until the recipient's 签收 came back to the sender; return the recipient."""
    return wait_for(f"receipt of report {report_id} from {code}",
                    lambda: (lambda r: r if r["receipt_at"] else None)(recipient(api, incident_id, report_id, code)),
                    timeout=WAIT)


def inbound(api, uid: str) -> dict:
    """Wait until a report of this id is in the receiving bureau's inbox; return the row."""
    return wait_for(f"inbound {uid}", lambda: next((r for r in api.get("/inbox")["inbound"] if r["report_uid"] == uid),
                                                    None), timeout=WAIT)


def check_hop(sent: dict, report: dict, row: dict, theirs: dict) -> float:
    """Check one hop's times between the sender's record and the receiver's; return the latency in seconds."""
    signed = moment(report["sign_off"]["signed_at"])
    received = moment(row["received_at"])
    # The document left when it was signed off; the receiver has it before the sender hears so.
    assert moment(row["sent_at"]) == signed
    assert signed <= received <= moment(sent["delivered_at"])
    assert sent["channel"] == "yingji" and sent["dispatch"]["status"] == "sent"
    assert sent["remote_ref"] == str(row["id"]) and row["document_number"] == report["document"]["number"]
    # The receiving bureau's incident: the sender in the place of a station, its first report met on
    # arrival, and its own 30 minutes to report upward running from the arrival.
    assert theirs["id"] == row["incident_id"] and theirs["level"] == "I"
    own = clocks(theirs)
    assert own["initial_report"]["status"] == "met" and own["initial_report"]["satisfied_at"] == row["received_at"]
    assert own["bureau_report"]["starts_at"] == row["received_at"]
    assert moment(own["bureau_report"]["due_at"]) == received + timedelta(minutes=30)
    return (received - signed).total_seconds()


def file_bureau_report(leader, incident_id: int, body: str) -> dict:
    """File the bureau report as the leader: signed off by filing it, numbered, queued for the peers."""
    report = leader.post(f"/incidents/{incident_id}/reports", {"kind": "bureau", "body": body})["report"]
    assert report["sign_off"]["signed_at"] and report["document"]["number"]
    return report


@pytest.fixture
def chain(tmp_path):
    bureaus = Chain(tmp_path, lambda spec, home: f"sqlite:///{home}/yingji.db", settings=SETTINGS)
    try:
        bureaus.set_up()
        bureaus.serve_all()
        yield bureaus
    finally:
        bureaus.close()


def test_a_level_one_event_goes_up_county_city_province_and_survives_the_city_going_down(chain):
    try:
        story(chain)
    except BaseException:
        print(chain.tail())
        raise


def story(chain: Chain) -> None:
    county, city, province, other = chain["zhongmou"], chain["zhengzhou"], chain["henan"], chain["xinzheng"]
    station = county.api(login_of("zhongmou", "station"))
    county_office, county_leader = county.api(login_of("zhongmou", "office")), county.api(login_of("zhongmou", "leader"))
    city_office, city_leader = city.api(login_of("zhengzhou", "office")), city.api(login_of("zhengzhou", "leader"))
    province_office = province.api(login_of("henan", "office"))
    hops = {}

    # The station learns of it 20 minutes ago, registers it and files its 1-hour report, the township's
    # delivery (by phone) recorded with it.
    incident = station.post("/incidents", {**EVENT, "discovered_at": iso(utcnow() - timedelta(minutes=20))})
    iid = incident["id"]
    filed = station.post(f"/incidents/{iid}/reports", {
        "kind": "initial", "body": "初报：城关镇某中学食堂疑似集体食物中毒，百余人就医",
        "recipients": [{"code": "local_government", "channel": "phone", "reference": "电话报城关镇政府值班室"}]})
    initial = {r["code"]: r for r in filed["report"]["recipients"]}
    assert initial["local_government"]["delivered_at"] and initial["bureau"]["channel"] == "internal"
    own = clocks(filed["incident"])
    assert own["initial_report"]["status"] == "met"
    assert own["bureau_report"]["starts_at"] == filed["report"]["entered_at"]

    # The county grades it Ⅰ; the leader files the bureau report: signed at filing, queued for the city.
    county_leader.post(f"/incidents/{iid}/level", {"level": "I", "reason": "百余人中毒，3人危重，属特别重大"})
    report = file_bureau_report(county_leader, iid, "关于城关镇某中学食堂集体食物中毒的报告")
    county_office.post(f"/reports/{report['id']}/recipients/county_government/delivery",
                       {"channel": "gov_intranet", "reference": "政务内网 ZM-001"})

    # The city's Yingji gets it; the county hears it was delivered.
    sent = delivered(county_leader, iid, report["id"], "city_bureau")
    row = inbound(city_office, f"zhongmou:{report['id']}")
    assert row["sender"] == "zhongmou" and row["kind"] == "bureau" and not row["signed_for"]
    theirs = city_office.get(f"/incidents/{row['incident_id']}")
    assert theirs["station"] == "zhongmou"
    hops["county → city"] = check_hop(sent, report, row, theirs)
    # Both recipients have the county's report: its own 30 minutes are met.
    assert clocks(county_leader.get(f"/incidents/{iid}"))["bureau_report"]["status"] == "met"

    # The city office signs for it; the 签收 travels back and is the county's receipt.
    signed = city_office.post(f"/inbox/{row['id']}/sign-for")["inbound"]
    back = receipt(county_leader, iid, report["id"], "city_bureau")
    assert back["receipt_at"] == signed["receipt_at"] and back["receipt_by"] == "郑州市市场监督管理局办公室值班员"

    # The city leader files the city's bureau report; the province gets it, signs for it, the receipt
    # reaches the city.
    city_iid = row["incident_id"]
    city_report = file_bureau_report(city_leader, city_iid, "关于中牟县某中学食堂集体食物中毒的报告")
    sent = delivered(city_leader, city_iid, city_report["id"], "province_bureau")
    up = inbound(province_office, f"zhengzhou:{city_report['id']}")
    theirs = province_office.get(f"/incidents/{up['incident_id']}")
    assert theirs["station"] == "zhengzhou" and up["sender_incident_number"] == city_office.get(
        f"/incidents/{city_iid}")["number"]
    hops["city → province"] = check_hop(sent, city_report, up, theirs)
    signed = province_office.post(f"/inbox/{up['id']}/sign-for")["inbound"]
    back = receipt(city_leader, city_iid, city_report["id"], "province_bureau")
    assert back["receipt_at"] == signed["receipt_at"]
    print("hop latency (sign-off → received), seconds:", {k: round(v, 3) for k, v in hops.items()})

    # --- the city's process dies -------------------------------------------------------------------
    chain.kill("zhengzhou")
    down_at = time.monotonic()
    county_leader.post(f"/incidents/{iid}/activate")
    # The office drafts the progress report; it goes out when the leadership signs it off.
    progress = county_office.post(f"/incidents/{iid}/reports", {"kind": "progress", "body": "续报：新增就医12人"})["report"]
    assert progress["sign_off"]["waiting"] and progress["recipients"][0]["dispatch"] is None
    progress = county_leader.post(f"/reports/{progress['id']}/sign-off")["report"]
    assert progress["sign_off"]["signed_at"]
    second = county_office.post("/incidents", {**EVENT, "title": "某超市冷库氨泄漏", "category": "special_equipment_accident",
                                               "discovered_at": iso(utcnow() - timedelta(minutes=5)), "level": "II",
                                               "level_reason": "氨泄漏，周边居民疏散", "station": "hansi"})
    second_report = file_bureau_report(county_leader, second["id"], "关于某超市冷库氨泄漏的报告")
    other_leader = other.api(login_of("xinzheng", "leader"))
    third = other_leader.post("/incidents", {**EVENT, "title": "某农贸市场价格异常波动", "category": "price_anomaly",
                                             "station": "xinhualu", "discovered_at": iso(utcnow()), "level": "III",
                                             "level_reason": "蔬菜价格一日上涨三成"})
    third_report = file_bureau_report(other_leader, third["id"], "关于某农贸市场价格异常波动的报告")
    queued = [(county_leader, iid, progress["id"]), (county_leader, second["id"], second_report["id"]),
              (other_leader, third["id"], third_report["id"])]

    def dispatches() -> list[dict]:
        return [recipient(api, i, r, "city_bureau")["dispatch"] for api, i, r in queued]

    # Every one is tried, fails (connection refused: transient) and waits its back-off; nothing arrives.
    wait_for("three attempts each", lambda: all(d["attempts"] >= 3 for d in dispatches()), timeout=WAIT)
    time.sleep(max(0.0, DOWN - (time.monotonic() - down_at)))

    def capped() -> list[dict] | None:
        # The next attempt is never more than the longest back-off away. (A row being tried at this very
        # moment is leased for minutes instead: look again.)
        looked, rows = utcnow(), dispatches()
        return rows if all(moment(d["next_attempt_at"]) - looked <= timedelta(seconds=RETRY_MAX) for d in rows) else None

    while_down = wait_for("every back-off within its cap", capped, timeout=WAIT)
    for d in while_down:
        assert d["status"] == "queued" and d["last_error"] and d["attempts"] >= 4, d
    with sqlite3.connect(f"file:{city.folder / 'yingji.db'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM inbound_reports").fetchone()[0] == 1

    # --- the city comes back on the same port and database ----------------------------------------------
    back_at = utcnow()
    chain.start("zhengzhou")
    chain.wait_ready("zhengzhou")
    arrived = [delivered(api, i, r, "city_bureau") for api, i, r in queued]
    for sent, before in zip(arrived, while_down):
        assert sent["dispatch"]["status"] == "sent" and sent["dispatch"]["attempts"] > before["attempts"]
        assert moment(sent["delivered_at"]) >= back_at
    # Nothing more is due anywhere: wait out a whole back-off and the sender's interval, then count.
    time.sleep(RETRY_MAX + 1.0)
    rows = city_office.get("/inbox")["inbound"]
    uids = sorted(r["report_uid"] for r in rows)
    assert uids == sorted([f"zhongmou:{report['id']}", f"zhongmou:{progress['id']}",
                           f"zhongmou:{second_report['id']}", f"xinzheng:{third_report['id']}"])
    assert all(moment(r["received_at"]) >= back_at for r in rows if r["report_uid"] != f"zhongmou:{report['id']}")
    by_uid = {r["report_uid"]: r for r in rows}
    # The progress report joined the city's incident of the event; the two new events opened one each.
    assert by_uid[f"zhongmou:{progress['id']}"]["incident_id"] == city_iid
    incidents = city_office.get("/incidents")["incidents"]
    assert len(incidents) == 3
    assert {i["station"] for i in incidents} == {"zhongmou", "xinzheng"}
    # The city signs for the three; every receipt reaches its county.
    for uid in (f"zhongmou:{progress['id']}", f"zhongmou:{second_report['id']}", f"xinzheng:{third_report['id']}"):
        city_office.post(f"/inbox/{by_uid[uid]['id']}/sign-for")
    for api, i, r in queued:
        assert receipt(api, i, r, "city_bureau")["receipt_by"] == "郑州市市场监督管理局办公室值班员"
    # The province saw nothing of it: still the one report.
    assert len(province_office.get("/inbox")["inbound"]) == 1
