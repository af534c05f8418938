"""Holiday notices the office enters: API, command line and page; refusals change nothing; limits recounted.

Database tests run on SQLite and PostgreSQL. The 2027 notice used here is made up (tests/test_calendar.py).
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from incidents.models import AuditEntry, BoardEvent, CalendarNotice, ComplaintLimitChange, ComplaintLimitRow
from tests.test_calendar import notice_2027
from tests.test_complaints import body as complaint_body
from tests.test_complaints_pages import sign_in

BEIJING = timezone(timedelta(hours=8))


def put(user, year, data, **kw):
    return user.client.put(f"/api/v1/calendar/{year}", headers={"Authorization": f"Bearer {user.token}"},
                           json=data, **kw)


def file_complaint(app, clock) -> str:
    """File a complaint on Wednesday 3 February 2027 at 10:00 Beijing; return its tracking number."""
    clock.set(datetime(2027, 2, 3, 10, tzinfo=BEIJING).astimezone(timezone.utc))
    r = app.test_client().post("/api/v1/complaints", json=complaint_body(purchased_at="2027-02-01"),
                               environ_base={"REMOTE_ADDR": "10.9.0.1"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["tracking_no"]


def acceptance(user, number: str) -> dict:
    limits = user.get(f"/api/v1/complaints/{number}/detail").get_json()["limits"]
    return next(lim for lim in limits if lim["kind"] == "acceptance")


def state(wiring) -> tuple:
    """Everything a refused notice must leave as it was."""
    with wiring.sessions() as s:
        limits = [(r.due_on, r.estimated, r.estimate_note) for r in s.scalars(select(ComplaintLimitRow)
                                                                              .order_by(ComplaintLimitRow.id))]
        return (s.scalar(select(func.count(CalendarNotice.id))), s.scalar(select(func.count(AuditEntry.seq))),
                s.scalar(select(func.count(ComplaintLimitChange.id))), limits)


def test_a_complaint_of_3_february_2027_is_estimated_then_recounted_when_the_notice_is_entered(app, wiring, clock,
                                                                                              make_user):
    centre, office = make_user("duty_officer", "complaints", "+8613900000001"), make_user("office", "office")
    number = file_complaint(app, clock)
    before = acceptance(centre, number)
    # 4 Feb, then 5–8 Feb off (除夕 to 初三, the weekend inside), then 9, 10, 11, 12, 15, 16 Feb.
    assert before["due_on"] == "2027-02-16" and before["estimated"]
    assert "2027年放假安排" in before["estimate_note"] and "估算" in before["estimate_note"]

    r = put(office, 2027, notice_2027())
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert "春节：2月5日（星期五）至2月13日（星期六）放假，共9天；1月31日（星期日）、2月20日（星期六）上班。" in answer["description"]
    assert answer["year"]["certain"] and answer["year"]["entered"][0]["title"] == "测试用2027年放假通知（虚构）"
    # 4 Feb, then 5–14 Feb off, 15–19 Feb, and Saturday 20 Feb is a working day: the seventh.
    [change] = answer["changes"]
    assert (change["due_on_before"], change["due_on"], change["days_moved"]) == ("2027-02-16", "2027-02-20", 4)
    assert change["summary"] == "时限由2月16日推迟至2月20日（+4天），已按放假通知确定（不再是估算）"

    after = acceptance(centre, number)
    assert (after["due_on"], after["estimated"], after["estimate_note"]) == ("2027-02-20", False, None)
    assert [c["summary"] for c in after["recounts"]] == [change["summary"]]
    with wiring.sessions() as s:
        told = [e.payload for e in s.scalars(select(BoardEvent).where(BoardEvent.room == "dept:complaints",
                                                                      BoardEvent.event == "complaint"))]
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    recount = next(p for p in told if p["what"] == "limits_recounted")
    assert recount["count"] == 1 and recount["changes"][0]["tracking_no"] == number
    assert "calendar.notice_entered" in actions and "complaints.limits_recounted" in actions
    # The centre's page says which limits moved and by how much.
    page = sign_in(app, wiring, make_user, "duty_officer", "complaints").get(f"/complaints/{number}")
    assert "时限由2月16日推迟至2月20日（+4天）" in page.get_data(as_text=True)


@pytest.mark.parametrize("change,expected", [
    (lambda d: d["breaks"].pop(1), "2027年2月5日（星期五）（春节）是法定节假日，未列为放假日"),
    (lambda d: d["breaks"][1].update(workdays=["2027-02-16"]), "调休上班日2027年2月16日（星期二）不是星期六或星期日"),
    (lambda d: d["breaks"][6].update(to="2026-10-07"), "2026-10-07不在2027年内"),
    (lambda d: d.update(breaks="五一放五天"), "须列出各节日的放假安排"),
])
def test_bad_notices_are_refused_in_chinese_and_change_nothing(app, wiring, clock, make_user, change, expected):
    office = make_user("office", "office")
    file_complaint(app, clock)
    kept = state(wiring)
    data = notice_2027()
    change(data)
    r = put(office, 2027, data)
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert expected in error["message"] and error["message"].startswith("放假通知有误，未录入")
    assert state(wiring) == kept


def test_hostile_requests_get_a_clear_4xx(app, wiring, make_user):
    office, officer = make_user("office", "office"), make_user("duty_officer", "prices")
    headers = {"Authorization": f"Bearer {office.token}", "Content-Type": "application/json"}
    client = office.client
    deep = {"breaks": []}
    for _ in range(200):
        deep = {"breaks": [deep]}
    cases = [
        client.put("/api/v1/calendar/2027", headers=headers, data=b"\xff\xfe{not json"),
        client.put("/api/v1/calendar/2027", headers=headers, data=json.dumps(deep)),
        client.put("/api/v1/calendar/99999999999999999999", headers=headers, data=json.dumps(notice_2027())),
        client.put("/api/v1/calendar/9999", headers=headers, data=json.dumps(notice_2027(year=9999))),
        client.put("/api/v1/calendar/２０２７", headers=headers, data=json.dumps(notice_2027())),
        client.get("/api/v1/calendar/9999", headers=headers),
        client.get("/api/v1/calendar/0000", headers=headers),
        client.get("/api/v1/calendar/days/9999-12-31", headers=headers),
        client.get("/api/v1/calendar/days/2027-02-30", headers=headers),
        put(officer, 2027, notice_2027()),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500 and r.get_json()["error"]["message"], (r.status_code, r.get_data()[:200])
    assert cases[-1].status_code == 403
    with wiring.sessions() as s:
        assert s.scalar(select(func.count(CalendarNotice.id))) == 0


def test_a_second_notice_for_a_year_needs_a_reason_and_keeps_the_first(app, wiring, make_user):
    office = make_user("office", "office")
    assert put(office, 2027, notice_2027()).status_code == 201
    assert put(office, 2027, notice_2027()).status_code == 409  # the same again: nothing to enter
    corrected = notice_2027()
    corrected["breaks"][3].update({"to": "2027-05-04", "workdays": []})
    r = put(office, 2027, corrected)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "reason_required"
    r = put(office, 2027, {**corrected, "reason": "通知正式印发后核对：劳动节放假4天"})
    assert r.status_code == 201, r.get_json()
    entered = office.get("/api/v1/calendar/2027").get_json()["entered"]
    assert [e["replaces"] for e in entered] == [entered[1]["id"], None]
    assert office.get("/api/v1/calendar/days/2027-05-05").get_json()["workday"] is True
    # A year the package already has is overridden only with a reason, too.
    data_2026 = {"breaks": copy.deepcopy(notice_2027()["breaks"])}
    r = put(office, 2026, data_2026)
    assert r.status_code == 400  # its 2027 dates are not of 2026, and the reason is missing


def test_a_day_says_whether_it_is_worked_which_holiday_and_how_sure(app, make_user):
    viewer = make_user("viewer")
    eve = viewer.get("/api/v1/calendar/days/2027-02-05").get_json()
    assert (eve["workday"], eve["holiday_name"], eve["certain"]) == (False, "春节", False)
    assert "2027年放假通知未录入" in eve["source"]
    national = viewer.get("/api/v1/calendar/days/2026-10-10").get_json()
    assert (national["workday"], national["certain"]) == (True, True) and "chinesecalendar" in national["source"]
    year = viewer.get("/api/v1/calendar/2027").get_json()
    assert not year["certain"] and [b["name"] for b in year["breaks"]][:2] == ["元旦", "春节"]
    assert {s["date"] for s in year["statutory"]} >= {"2027-02-05", "2027-05-02"}


def test_the_command_line_enters_a_notice_from_a_file_and_says_what_is_wrong(app, wiring, tmp_path):
    import yaml

    good = tmp_path / "2027.yaml"
    good.write_text(yaml.safe_dump(notice_2027(), allow_unicode=True), encoding="utf-8")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["calendar", "notice", "2027", str(good)])
    assert out.exit_code == 0, out.output
    assert "已录入2027年放假通知" in out.output and "春节：2月5日（星期五）至2月13日（星期六）放假，共9天" in out.output
    bad = tmp_path / "bad.yaml"
    data = notice_2027()
    data["breaks"][1]["workdays"] = ["2027-02-16"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = runner.invoke(args=["calendar", "notice", "2027", str(bad)])
    assert out.exit_code == 1 and "2027年2月16日（星期二）不是星期六或星期日" in out.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("breaks: [\n  {holiday: 春节", encoding="utf-8")
    out = runner.invoke(args=["calendar", "notice", "2027", str(broken)])
    assert out.exit_code == 1 and "须为 YAML 或 JSON" in out.output
    shown = runner.invoke(args=["calendar", "show", "2027"])
    assert "已有放假通知" in shown.output and "春节：2027-02-05 至 2027-02-13，共9天" in shown.output
    with wiring.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "calendar.notice_entered"))
        assert entry.actor.startswith("admin:cli:")


def test_the_calendar_page_shows_the_year_and_lets_only_the_office_enter(app, wiring, make_user):
    office = sign_in(app, wiring, make_user, "office", "office")
    html = office.get("/calendar?year=2027").get_data(as_text=True)
    assert "2027年" in html and "按法定节假日和周末推算" in html and 'id="notice-form"' in html
    assert "2027-02-05" in html  # the form starts from the statutory dates
    # In November the office's overview reminds it that next year's notice is not in yet.
    assert "2027年放假通知尚未录入" in office.get("/").get_data(as_text=True)
    assert put(make_user("office", "office"), 2027, notice_2027()).status_code == 201
    assert "放假通知尚未录入" not in office.get("/").get_data(as_text=True)
    html = office.get("/calendar?year=2027").get_data(as_text=True)
    assert "第1号录入：测试用2027年放假通知（虚构）" in html and 'name="reason"' in html
    viewer = sign_in(app, wiring, make_user, "viewer")
    html = viewer.get("/calendar?year=2026").get_data(as_text=True)
    assert "chinesecalendar" in html and 'id="notice-form"' not in html
    assert viewer.get("/calendar?year=abc").status_code == 400
    assert viewer.get("/calendar?year=9999").status_code == 400
