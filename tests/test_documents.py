"""Every report has its recipients, goes out as a numbered official document, and counts when all have it.

On SQLite and PostgreSQL. The plan (§三(二)2) names who receives each report: the station's 1-hour
report goes to its township government and the bureau; the bureau's 30 minutes, progress and the
written report go to the county government and the city bureau. The bureau's reports are signed off
by the leadership first (签发), then numbered 中市监〔年〕n号 without gaps and frozen.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.helpers import by_kind, incident_payload, iso
from tests.test_api_errors import assert_error
from tests.test_official_document import ink, need_fonts, page_image, reddish, run
from tests.test_reports_api import ok


def registered(users, clock, **over) -> int:
    r = ok(users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), **over)),
           201)
    return r.get_json()["id"]


def file(user, iid: int, kind: str, body: str = "情况属实，正在处置", **extra) -> dict:
    r = ok(user.post(f"/api/v1/incidents/{iid}/reports", json={"kind": kind, "body": body, **extra}), 201)
    return r.get_json()["report"]


def deliver(user, report_id: int, code: str, reference: str = "政务内网回执 ZM-1", **extra):
    return user.post(f"/api/v1/reports/{report_id}/recipients/{code}/delivery",
                     json={"channel": "gov_intranet", "reference": reference, **extra})


def clocks(users, iid: int) -> dict:
    return by_kind(ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"])


def recipients(report: dict) -> dict:
    return {r["code"]: r for r in report["recipients"]}


def test_the_station_report_reaches_the_bureau_at_once_and_counts_when_the_township_has_it(users, clock):
    iid = registered(users, clock)
    clock.advance(minutes=20)
    report = file(users["station"], iid, "initial")
    got = recipients(report)
    assert set(got) == {"local_government", "bureau"}
    # The township government of the station, by name; the bureau has it the moment it is filed here.
    assert got["local_government"]["name"] == "城关镇人民政府"
    assert got["bureau"]["channel"] == "internal" and got["bureau"]["delivered_at"] == iso(clock.now())
    assert got["local_government"]["delivered_at"] is None and got["local_government"]["planned_channel"] == "phone"
    assert report["document"]["number"].startswith("中市监〔2026〕")
    assert clocks(users, iid)["initial_report"]["status"] == "pending"
    # The station phoned the township: it records that itself, and the 1-hour report is met at that time.
    clock.advance(minutes=5)
    r = users["station"].post(f"/api/v1/reports/{report['id']}/recipients/local_government/delivery",
                              json={"channel": "phone", "reference": "电话报告镇党政办 王某"})
    ok(r)
    row = clocks(users, iid)["initial_report"]
    assert row["status"] == "met" and row["satisfied_at"] == iso(clock.now()) and row["judged_by"] == "delivery"


def test_the_bureau_report_waits_for_the_leaderships_sign_off_then_is_numbered_and_goes(users, clock):
    iid = registered(users, clock)
    report = file(users["office"], iid, "bureau")
    assert report["sign_off"] == {"roles": ["leader"], "signed_at": None, "signed_by": None, "waiting": True}
    assert report["document"] is None
    # Nothing goes before the sign-off: no delivery can be recorded.
    assert_error(deliver(users["office"], report["id"], "county_government"), 409, "not_signed_off")
    # Only the leadership signs it off.
    assert_error(users["office"].post(f"/api/v1/reports/{report['id']}/sign-off", json={}), 403, "forbidden")
    clock.advance(minutes=3)
    signed = ok(users["leader"].post(f"/api/v1/reports/{report['id']}/sign-off", json={})).get_json()["report"]
    assert signed["sign_off"]["waiting"] is False and signed["sign_off"]["signed_at"] == iso(clock.now())
    number = signed["document"]["number"]
    assert number.startswith("中市监〔2026〕") and number.endswith("号")
    assert signed["document"]["main_recipients"] == ["中牟县人民政府", "郑州市市场监督管理局"]
    assert "关于某学校食堂疑似食物中毒的报告" == signed["document"]["title"]
    assert_error(users["leader"].post(f"/api/v1/reports/{report['id']}/sign-off", json={}), 409, "already_signed")
    # No recipient had it before it was signed off and numbered, whatever time is claimed.
    assert_error(deliver(users["office"], report["id"], "county_government",
                         delivered_at=iso(clock.now() - timedelta(minutes=1))), 400, "before_sign_off")
    # The city bureau runs no Yingji known here: the office records both deliveries; the clock waits for both.
    clock.advance(minutes=4)
    ok(deliver(users["office"], report["id"], "county_government"))
    assert clocks(users, iid)["bureau_report"]["status"] == "pending"
    clock.advance(minutes=2)
    ok(deliver(users["office"], report["id"], "city_bureau", reference="传真 0371-6788"))
    row = clocks(users, iid)["bureau_report"]
    assert row["status"] == "met" and row["satisfied_at"] == iso(clock.now())


def test_document_numbers_run_per_year_without_gaps(users, clock):
    iid = registered(users, clock)
    numbers = []
    for _ in range(3):
        numbers.append(file(users["leader"], iid, "bureau")["document"]["number"])
    seqs = [int(n.split("〕")[1].rstrip("号")) for n in numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    # A refused filing gives no number away.
    assert_error(users["leader"].post(f"/api/v1/incidents/{iid}/reports",
                                      json={"kind": "bureau", "body": "x", "skip_level_reason": ""}), 400)
    nxt = file(users["leader"], iid, "bureau")["document"]["number"]
    assert int(nxt.split("〕")[1].rstrip("号")) == seqs[-1] + 1


def test_skipping_a_level_adds_the_level_above_and_keeps_everyone_else(users, clock):
    iid = registered(users, clock)
    report = file(users["leader"], iid, "bureau", skip_level_reason="事态紧急，市局电话无人接听")
    got = recipients(report)
    assert set(got) == {"county_government", "city_bureau", "province_bureau"}
    assert got["province_bureau"]["skip_level"] is True and got["province_bureau"]["name"] == "河南省市场监督管理局"
    assert not got["city_bureau"]["skip_level"]
    assert report["skip_level_reason"] == "事态紧急，市局电话无人接听"
    # The clock waits for all three.
    for code in ("county_government", "city_bureau"):
        ok(deliver(users["office"], report["id"], code))
    assert clocks(users, iid)["bureau_report"]["status"] == "pending"
    ok(deliver(users["office"], report["id"], "province_bureau"))
    assert clocks(users, iid)["bureau_report"]["status"] == "met"


@pytest.mark.parametrize("channel", ["internal", "yingji", "teleport"])
def test_a_person_records_only_the_channels_people_use(users, clock, channel):
    iid = registered(users, clock)
    report = file(users["leader"], iid, "bureau")
    assert_error(deliver(users["office"], report["id"], "county_government", channel=channel), 400, "unknown_channel")


def test_the_signed_off_report_reads_as_an_official_document(users, clock):
    # The PDF as a reader's tools see it: fonts embedded, 文号, 签发人, 主送机关 and the body's facts, the red mark.
    need_fonts()
    iid = registered(users, clock, level="II")
    clock.advance(minutes=8)
    report = file(users["leader"], iid, "bureau", body="已组织人员赶赴现场核查\n患者均已送医")
    r = users["office"].get(f"/api/v1/reports/{report['id']}/document.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    data = r.data
    assert r.headers["X-Document-SHA256"] == hashlib.sha256(data).hexdigest()
    # The same bytes every time: rendered once, then kept.
    again = users["leader"].get(f"/api/v1/reports/{report['id']}/document.pdf").data
    assert again == data
    fonts_listed = run(["pdffonts"], data).splitlines()[2:]
    # name, type, encoding, then emb, sub, uni: every font embedded, as a subset, with a Unicode map.
    assert fonts_listed and all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in fonts_listed)
    assert any("UMingCN" in line for line in fonts_listed) and any("UKaiCN" in line for line in fonts_listed)
    text = "".join(run(["pdftotext", "-layout"], data).split())
    number = report["document"]["number"]
    for phrase in (number, "签发人", "中牟县人民政府、郑州市市场监督管理局：", "关于某学校食堂疑似食物中毒的报告",
                   "城关镇某中学食堂", "县医院急诊科电话报告", "集体性食物中毒", "Ⅱ级（重大）", "在校师生约20人出现腹痛、呕吐",
                   "封存留样食品，暂停食堂供餐", "已组织人员赶赴现场核查", "患者均已送医", "中牟县市场监督管理局",
                   "2026年11月20日", "—1—"):
        assert phrase in text, phrase
    assert text.index(number) < text.index("关于某学校") < text.index("中牟县人民政府、") < text.index("已组织人员")
    assert text.startswith("特急")  # the plan's urgency of a bureau report
    page = page_image(data, 1)
    mark = ink(page, (28, 37 + 33, 184, 37 + 52))
    assert mark and sum(1 for p in mark if reddish(p)) / len(mark) > 0.95


def test_a_progress_report_says_what_changed_since_the_last_document(users, clock):
    iid = registered(users, clock, level="II")
    first = file(users["leader"], iid, "bureau")
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate", json={"commander": users["commander"].id}))
    clock.advance(hours=5)
    progress = file(users["commander"], iid, "progress", body="新增病例为零，全部患者病情平稳")
    assert progress["document"]["title"] == "关于某学校食堂疑似食物中毒的续报（第1期）"
    text = "".join(run(["pdftotext", "-layout"],
                       users["office"].get(f"/api/v1/reports/{progress['id']}/document.pdf").data).split())
    assert f"自上次报告（{first['document']['number']}）以来的变化" in text
    assert "特急" in "".join(run(["pdftotext", "-layout"], users["office"].get(
        f"/api/v1/reports/{first['id']}/document.pdf").data).split()) and "特急" not in text  # progress: none
    assert "新增病例为零，全部患者病情平稳" in text


def test_a_backdated_station_report_reached_the_bureau_when_it_was_phoned_in_once_that_is_confirmed(users, make_user,
                                                                                                   clock):
    # The station phoned the bureau's duty room and its township at 09:50 and types the report in at 11:00 (补录).
    head = make_user("department_head", "office")
    iid = registered(users, clock)
    phoned = clock.now().replace(minute=50)
    clock.advance(hours=2)
    report = file(users["station"], iid, "initial", submitted_at=iso(phoned), recipients=[
        {"code": "local_government", "channel": "phone", "reference": "电话报告镇党政办", "delivered_at": iso(phoned)}])
    got = recipients(report)
    # The bureau's own copy carries the phoned time, a 补录 like the report itself; until judged, the entry counts.
    assert got["bureau"]["delivered_at"] == iso(phoned) and got["bureau"]["backdated"] is True
    assert got["bureau"]["judged_at"] == iso(clock.now()) and got["bureau"]["claim"]["status"] == "pending"
    row = clocks(users, iid)["initial_report"]
    assert row["status"] == "late" and row["satisfied_at"] == iso(clock.now())
    # Confirming the report's claim confirms the bureau's copy with it; the township's delivery is judged by itself.
    ok(head.post(f"/api/v1/reports/{report['id']}/claim-review",
                 json={"decision": "confirmed", "evidence_kind": "phone_log", "evidence_ref": "县局值班电话记录 09:50"}))
    row = clocks(users, iid)["initial_report"]
    assert row["status"] == "late" and row["satisfied_at"] == iso(clock.now())
    ok(head.post(f"/api/v1/reports/{report['id']}/recipients/local_government/claim-review",
                 json={"decision": "confirmed", "evidence_kind": "phone_log", "evidence_ref": "镇党政办来电记录 09:50"}))
    row = clocks(users, iid)["initial_report"]
    assert row["status"] == "met" and row["satisfied_at"] == iso(phoned) and row["judged_by"] == "delivery"
    bureau = recipients(ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()["reports"][0])["bureau"]
    assert bureau["judged_at"] == iso(phoned) and bureau["claim"]["status"] == "confirmed"


def test_a_progress_report_that_counts_at_its_last_delivery_starts_the_next_round(users, clock):
    iid = registered(users, clock, level="II", level_reason="重大")
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/activate"))
    clock.advance(hours=5)
    report = file(users["commander"], iid, "progress")
    assert [d["cycle"] for d in clocks_of(users, iid, "progress_report")] == [0]
    clock.advance(minutes=20)
    for code in ("county_government", "city_bureau"):
        ok(deliver(users["office"], report["id"], code))
    first, second = clocks_of(users, iid, "progress_report")
    assert first["status"] == "met" and first["satisfied_at"] == iso(clock.now())
    # Ⅱ: every 3 days, the next one counted from the report that met this one.
    assert second["status"] == "pending" and second["starts_at"] == iso(clock.now())


def clocks_of(users, iid: int, kind: str) -> list[dict]:
    rows = ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()["deadlines"]
    return sorted((d for d in rows if d["kind"] == kind and d["status"] != "cancelled"), key=lambda d: d["cycle"])
