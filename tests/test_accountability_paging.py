"""The accountability sheet a page at a time: counts taken in SQL over the whole period, the clocks listed page
by page, and the two always agree (a year's sheet must not read every clock in full to show its first page)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from incidents.response import accountability
from tests.helpers import file_report
from tests.test_api_errors import assert_error
from tests.test_close_without_response import register
from tests.test_complaints_pages import sign_in
from tests.test_reports_api import ok

OUTCOMES = ("met", "late", "missed", "running")


def a_mixed_record(users, clock) -> list[int]:
    """Events whose clocks end every way: missed long ago, reported late, met, still running."""
    ids = []
    for minutes_ago in (600, 400, 300, 200):
        ids.append(register(users, clock, minutes_ago=minutes_ago, level=None, who="station")["id"])
        clock.advance(minutes=7)
    file_report(users["station"], ids[1], "initial", "初报")  # hours after its hour: late
    fresh = register(users, clock, minutes_ago=5, level=None, who="station")["id"]
    file_report(users["station"], fresh, "initial", "初报")  # within its hour: met
    ids.append(fresh)
    ids.append(register(users, clock, minutes_ago=1, level=None, who="station")["id"])  # its clocks still run
    clock.advance(minutes=3)
    return ids


def every_page(user, path: str, per_page: int) -> tuple[list[dict], dict]:
    """Read every page of the sheet's clocks; return them and the first page's body."""
    first = ok(user.get(f"{path}&per_page={per_page}&page=1")).get_json()
    clocks = list(first["deadlines"])
    for page in range(2, first["paging"]["pages"] + 1):
        body = ok(user.get(f"{path}&per_page={per_page}&page={page}")).get_json()
        assert body["totals"] == first["totals"] and body["paging"]["total"] == first["paging"]["total"]
        assert len(body["deadlines"]) <= per_page
        clocks += body["deadlines"]
    return clocks, first


def test_the_counts_from_sql_equal_the_clocks_listed_over_all_pages(users, clock, wiring):
    a_mixed_record(users, clock)
    office = users["office"]
    clocks, first = every_page(office, "/api/v1/accountability?outcome=met,late,missed,running", 3)
    assert first["paging"]["pages"] > 2  # the record spans several pages, or this proves nothing
    assert len({d["deadline_id"] for d in clocks}) == len(clocks) == first["paging"]["total"]
    assert [(d["due_at"], d["deadline_id"]) for d in clocks] == sorted((d["due_at"], d["deadline_id"]) for d in clocks)
    totals = first["totals"]
    assert {o for o in OUTCOMES if totals[o]} == set(OUTCOMES), totals  # every outcome is on the record
    assert [totals[o] for o in OUTCOMES] == [sum(d["outcome"] == o for d in clocks) for o in OUTCOMES]
    assert totals["late_seconds_total"] == sum(d["late_seconds"] or 0 for d in clocks) > 0
    for unit in first["by_department"]:
        mine = [d for d in clocks if (d["department"] or d["station"]) == unit["department"]]
        assert [unit[o] for o in OUTCOMES] == [sum(d["outcome"] == o for d in mine) for o in OUTCOMES], unit
    assert sum(u[o] for u in first["by_department"] for o in OUTCOMES) == len(clocks)
    # The late and missed only (what the board lists): the same clocks, counted the same.
    problems, body = every_page(office, "/api/v1/accountability?outcome=late,missed", 2)
    assert body["paging"]["total"] == totals["late"] + totals["missed"] == len(problems)
    assert [d["deadline_id"] for d in problems] == [d["deadline_id"] for d in clocks if d["outcome"] in ("late", "missed")]
    # Each page names the events of its clocks with their counts over the whole period.
    for d in body["deadlines"]:
        head = next(i for i in body["by_incident"] if i["incident_id"] == d["incident_id"])
        assert [head[o] for o in OUTCOMES] == [
            sum(c["outcome"] == o for c in clocks if c["incident_id"] == d["incident_id"]) for o in OUTCOMES]
    assert body["paging"]["incidents"] == len({d["incident_id"] for d in clocks})
    # The SQL counts say what the full sheet (every clock built in Python) says, at any moment: also at the very
    # instant a running clock falls due (it is missed from then on, in both).
    due = min(datetime.fromisoformat(d["due_at"]) for d in clocks if d["outcome"] == "running")
    for moment in (clock.now(), due - timedelta(seconds=1), due, clock.now() + timedelta(days=3)):
        with wiring.sessions() as s:
            full = accountability.report(s, now=moment)
            paged = accountability.sheet(s, now=moment, per_page=2)
        assert paged["totals"] == full["totals"], moment
        assert ({u["department"]: [u[o] for o in OUTCOMES] for u in paged["by_department"]}
                == {u["department"]: [u[o] for o in OUTCOMES] for u in full["by_department"]})
        assert [u["department"] for u in paged["by_department"]] == [u["department"] for u in full["by_department"]]
        assert paged["paging"]["total"] == full["totals"]["late"] + full["totals"]["missed"]


def test_a_unit_sees_its_own_counts_and_pages(users, clock):
    a_mixed_record(users, clock)
    everyone = ok(users["office"].get("/api/v1/accountability?outcome=met,late,missed,running")).get_json()
    station = users["station"]
    own, first = every_page(station, "/api/v1/accountability?outcome=met,late,missed,running", 2)
    assert own and all(station.unit in (d["department"], d["station"]) for d in own)
    assert [first["totals"][o] for o in OUTCOMES] == [sum(d["outcome"] == o for d in own) for o in OUTCOMES]
    assert first["paging"]["total"] < everyone["paging"]["total"]


def test_bad_paging_is_refused_in_chinese(users, clock):
    a_mixed_record(users, clock)
    office = users["office"]
    pages = ok(office.get("/api/v1/accountability?per_page=2")).get_json()["paging"]["pages"]
    assert_error(office.get(f"/api/v1/accountability?per_page=2&page={pages + 1}"), 400, "bad_page")
    for query, code in (("page=0", "bad_page"), ("page=abc", "bad_page"), ("page=-1", "bad_page"),
                        ("page=99999999999999999999", "bad_page"), ("per_page=0", "bad_per_page"),
                        ("per_page=501", "bad_per_page"), ("per_page=1.5", "bad_per_page"),
                        ("outcome=bogus", "bad_outcome"), ("outcome=late,,nope", "bad_outcome"),
                        ("outcome=,", "bad_outcome")):
        assert_error(office.get(f"/api/v1/accountability?{query}"), 400, code)
    # An empty period has one, empty, page.
    body = ok(office.get("/api/v1/accountability?from=2020-01-01T00:00:00%2B08:00&to=2020-01-02T00:00:00%2B08:00"))
    assert body.get_json()["paging"] == {"page": 1, "per_page": 100, "pages": 1, "total": 0,
                                         "outcomes": list(OUTCOMES), "incidents": 0}


def test_the_page_lists_the_late_and_missed_a_page_at_a_time(app, wiring, make_user, users, clock, monkeypatch):
    a_mixed_record(users, clock)
    sheet = ok(users["office"].get("/api/v1/accountability?outcome=late,missed")).get_json()
    problems = sheet["paging"]["total"]
    monkeypatch.setattr(accountability, "PER_PAGE", 2)  # the page's size, small enough to need pages
    office = sign_in(app, wiring, make_user, "office", "office")
    today = clock.now().date()
    seen = []
    pages = -(-problems // 2)
    assert pages >= 2
    for page in range(1, pages + 1):
        html = office.get(f"/accountability?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
                          f"&page={page}").get_data(as_text=True)
        rows = re.findall(r'<tr class="problem problem-(late|missed)">', html)
        assert 1 <= len(rows) <= 2
        seen += rows
        assert f"第 {page}/{pages} 页" in html
        assert ("下一页" in html) == (page < pages) and ("上一页" in html) == (page > 1)
    assert len(seen) == problems
    assert seen.count("late") == sheet["totals"]["late"] and seen.count("missed") == sheet["totals"]["missed"]
    # On-time clocks are counted, not listed.
    assert sheet["totals"]["met"] and "problem-met" not in html
    r = office.get(f"/accountability?page={pages + 5}")
    assert r.status_code == 400 and "页码" in r.get_data(as_text=True)
    r = office.get("/accountability?page=x")
    assert r.status_code == 400 and "页码" in r.get_data(as_text=True)
