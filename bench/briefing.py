"""Briefing generation: time and size of an incident briefing with 200 timeline entries and of a 50-page accountability sheet.

Also the weekly complaints summary (每周投诉举报情况汇总) of a week with `--complaints` complaints
(default 2,000), filed, triaged and accepted through the domain's functions: snapshot, render
and end to end (no floor: it is a few tables and a chart, not a long text).

Both come from a scratch PostgreSQL database filled through the domain's own use cases (the
incident) or by bulk insert (the sheet's ~1,200 missed clocks). Each is measured in phases,
every phase `--runs` times (median, min, max):

* snapshot: reading the database into the document's plain dict (reports.snapshots);
* render: laying that dict out as the PDF (reports.render): header, footer with "第 x 页 共 y
  页", colours, the compliance chart;
* floor: ReportLab alone on the same content: the same strings in the same font, one
  table per section, no header, footer, colour or chart (what any ReportLab PDF of this text
  costs);
* end to end: GET /api/v1/…pdf through the app (test client): the briefings row, the worker
  thread, snapshot, render, storing the bytes and their hash, the audit entries, the answer.
  The fake clock moves 6 minutes between runs so that every run makes a new version.

Target (issue 5): a 10-page briefing in ≤ 1 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from bench.common import Clock, banner, insert_clocks, scratch_database, seed_base  # noqa: F401  (path set-up)

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate  # noqa: E402
from sqlalchemy import text  # noqa: E402

from incidents.kernel.clock import FakeClock  # noqa: E402
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user  # noqa: E402
from reports import fonts, render, snapshots, weekly_snapshot as weekly  # noqa: E402

START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


# --- the floor: ReportLab alone ------------------------------------------------------------------


def _cells(doc: dict) -> list[list[list[str]]]:
    """Return the document's text as plain tables (one per section), the same strings the briefing prints."""
    t = lambda v: v or "—"  # noqa: E731
    if doc["kind"] == "accountability":
        return [[[u["name"], str(u["met"]), str(u["late"]), str(u["missed"]), u["late_total"]] for u in doc["units"]],
                [[f"{p['number']} {p['title']}", p["name"], t(p["due_at"]), t(p["satisfied_at"]), p["outcome_name"],
                  t(p["lateness"])] for u in doc["units"] for p in u["problems"]]]
    return [
        [[k, t(v)] for k, v in doc["contents"]],
        [[c["name"], c["unit"], t(c["starts_at"]), t(c["due_at"]), c["state"], t(c["satisfied_at"])]
         for c in doc["clocks"]],
        [[a["department"], a["task"], a["status_name"], t(a["created_at"]), t(a["due_at"]), t(a["note"])]
         for a in doc["assignments"]],
        [[t(r["submitted_at"]), r["kind_name"], r["by"], r["body"]] for r in doc["reports"]],
        [[t(e["at"]), e["what"], e["detail"], e["actor"]] for e in doc["timeline"]],
    ]


def floor_render(doc: dict) -> tuple[bytes, int]:
    """Typeset the document's strings with plain ReportLab: same font, CJK wrapping, tables, nothing else."""
    import io
    from xml.sax.saxutils import escape

    font = fonts.register()
    style = ParagraphStyle("floor", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK")
    story = []
    for table in _cells(doc):
        if not table:
            continue
        width = (A4[0] - 36 * mm) / len(table[0])
        story.append(LongTable([[Paragraph(escape(c), style) for c in row] for row in table],
                               colWidths=[width] * len(table[0]), repeatRows=0))
    out = io.BytesIO()
    d = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, initialFontName=font)
    d.build(story)
    return out.getvalue(), d.page


# --- measuring ---------------------------------------------------------------------------------------


def timed(fn: Callable, runs: int) -> tuple[dict, object]:
    """Run fn `runs` times (after one warm-up); return timing statistics in seconds and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": runs}, result


def fmt(stats: dict) -> str:
    return f"median {stats['median'] * 1000:.0f} ms (min {stats['min'] * 1000:.0f}, max {stats['max'] * 1000:.0f})"


# --- the set-ups --------------------------------------------------------------------------------------


def build_incident(app, clock: FakeClock, timeline: int) -> int:
    """Register, grade, report, activate, then assign and report progress until the audit trail is this long."""
    from incidents.response import assignments, flows, service

    wiring = app.extensions["yingji"]
    with wiring.sessions() as s:
        users = {}
        for role, unit in (("leader", None), ("office", "office"), ("station", "chengguan"),
                           ("duty_officer", "prices")):
            users[role], _ = create_user(s, wiring.plan, name=f"bench-{role}", role=role, unit=unit,
                                         now=clock.now(), actor=SystemActor(name="bench"))
        s.commit()
        facts = service.NewIncident(
            title="某学校食堂疑似食物中毒", category="food_poisoning", discovered_at=clock.now(), location="城关镇某中学食堂",
            station="chengguan", source="县医院急诊科电话报告", nature="集体性食物中毒", scope="在校师生约20人出现腹痛、呕吐",
            trend="新增病例减少", measures_taken="封存留样食品，暂停食堂供餐", casualties="20人就医，无死亡")
        incident = service.register_incident(s, wiring.plan, facts=facts, actor=users["station"], now=clock.now())
        s.commit()
        iid = incident.id
        clock.advance(minutes=20)
        flows.submit_report(s, incident_id=iid, kind="initial", body="20人就医，已核实", actor=users["station"],
                              now=clock.now())
        flows.grade(s, incident_id=iid, level="II", reason="集体食物中毒20人", actor=users["office"], now=clock.now())
        clock.advance(minutes=40)
        flows.submit_report(s, incident_id=iid, kind="bureau", body="已向县政府和市局报告", actor=users["office"],
                              now=clock.now())
        flows.activate(s, incident_id=iid, actor=users["leader"], now=clock.now())
        s.commit()
        n = 0
        while len(snapshots.timeline(s, service.get_incident(s, iid), wiring.plan)) < timeline:
            n += 1
            clock.advance(minutes=7)
            a = assignments.assign(s, incident_id=iid, department="prices", task=f"第{n}项：排查周边餐饮价格异常，逐户登记",
                                   actor=users["office"], now=clock.now())
            s.flush()
            assignments.acknowledge(s, assignment_id=a.id, actor=users["duty_officer"], now=clock.now())
            assignments.progress(s, assignment_id=a.id, note=f"已排查{n * 3}户，未发现异常", actor=users["duty_officer"],
                                 now=clock.now())
            s.commit()
    return iid


def seed_accountability(app, rows: int, first: int) -> None:
    """Insert `rows` incidents each with a station report clock that was missed (a third of them met late)."""
    wiring = app.extensions["yingji"]
    seed = seed_base(wiring.engine)
    seed.counter = first
    due = [START - timedelta(days=20) + timedelta(minutes=17 * i) for i in range(first, first + rows)]
    with wiring.engine.begin() as conn:
        ids = insert_clocks(conn, seed, [Clock(d - timedelta(hours=1), d) for d in due], now=START)
        late = ids[::3]
        conn.execute(text("UPDATE deadlines SET status = 'late', late_seconds = 2700, "
                          "satisfied_at = due_at + interval '45 minutes' WHERE id = ANY(:ids)"), {"ids": list(late)})


def seed_complaints(app, count: int):
    """File `count` complaints over the week before START (a tenth of them tip-offs), triage and accept a tenth."""
    from app.calendar import calendar_for
    from incidents import complaints
    from reports.weekly_snapshot import week_start

    wiring = app.extensions["yingji"]
    plan = wiring.plan
    monday = week_start(START.astimezone(ZoneInfo(plan.timezone)).date())
    first = datetime.combine(monday, datetime.min.time(), ZoneInfo(plan.timezone))
    step = (START - first) / count
    categories = [c.code for c in plan.complaints.categories]
    towns = [s.name.replace("市场监督管理所", "") for s in plan.stations]
    with wiring.sessions() as s:
        centre, _ = create_user(s, plan, name="bench-centre", role="duty_officer", unit=plan.complaints.centre,
                                now=START, actor=SystemActor(name="bench"))
        s.commit()
        calendar = calendar_for(s, plan)
        numbers = []
        for n in range(count):
            at = first + step * n
            category = categories[n % len(categories)]
            kind = "tipoff" if n % 10 == 9 else "complaint"
            clean = complaints.validate(plan, {
                "kind": kind, "name": "张三", "phone": f"139{n:08d}", "address": "中牟县城关镇青年路8号",
                # A long tail of businesses: a few many times, most once or twice.
                "business_name": f"第{int(400 / (1 + n % 97))}号商户", "business_address": f"中牟县{towns[n % len(towns)]}某路",
                "category": category, "amount": f"{(n % 50) * 10}.50", "description": "购买后发现质量问题，要求退款。",
                "demand": "refund" if kind == "complaint" else ""}, now=at)
            numbers.append(complaints.submit(s, plan, calendar, clean, now=at).tracking_no)
            if n % 500 == 499:
                s.commit()
        s.commit()
        for number in numbers[::10]:
            complaint = complaints.get_complaint(s, plan, number)
            complaints.triage(s, plan, tracking_no=number, department=complaint.suggested_department,
                              note="按类别分流", actor=centre, now=START)
            if complaint.kind == "complaint" and complaint.department != plan.complaints.centre:
                complaints.change_status(s, plan, calendar, tracking_no=number, to="accepted", actor=centre, now=START)
        s.commit()
    return monday


def run(url: str, args) -> dict:
    from app import create_app

    clock = FakeClock(START)
    app = create_app({"DATABASE_URL": url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "bench", "SCHEDULER": "off"})
    wiring = app.extensions["yingji"]
    out: dict = {}
    iid = build_incident(app, clock, args.timeline)
    clock.advance(hours=1)
    with wiring.sessions() as s:
        user, token = create_user(s, wiring.plan, name="bench-reader", role="leader", now=clock.now(),
                                  actor=SystemActor(name="bench"))
        s.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def snapshot():
        with wiring.sessions() as s:
            return snapshots.incident_briefing(s, iid, now=clock.now())

    out["incident_snapshot"], doc = timed(snapshot, args.runs)
    out["incident_entries"] = len(doc["timeline"])
    out["incident_render"], (data, pages) = timed(lambda: render.render(doc, "简报编号 B000001"), args.runs)
    out["incident_pages"], out["incident_bytes"] = pages, len(data)
    out["incident_floor"], (fdata, fpages) = timed(lambda: floor_render(doc), args.runs)
    out["incident_floor_pages"], out["incident_floor_bytes"] = fpages, len(fdata)

    def api(url_path: str) -> Callable:
        def call():
            clock.advance(minutes=6)  # past the reuse window: every call makes and stores a new version
            r = client.get(url_path, headers=headers)
            assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
            return r
        return call

    out["incident_api"], r = timed(api(f"/api/v1/incidents/{iid}/briefing.pdf"), args.runs)
    out["incident_api_bytes"] = len(r.data)

    # The 10-page target on its own: a timeline cut to the length that makes ten pages.
    cut = dict(doc)
    for n in range(len(doc["timeline"]), 0, -5):
        cut["timeline"] = doc["timeline"][:n]
        if render.render(cut)[1] <= 10:
            break
    out["ten_render"], (tdata, tpages) = timed(lambda: render.render(cut), args.runs)
    out["ten_pages"], out["ten_entries"], out["ten_bytes"] = tpages, len(cut["timeline"]), len(tdata)

    params = "from=2026-10-01&to=2026-11-30"

    def acc_snapshot():
        from datetime import date

        with wiring.sessions() as s:
            return snapshots.accountability_snapshot(s, wiring.plan, start=date(2026, 10, 1), end=date(2026, 11, 30),
                                                     now=clock.now())

    # Seed a first batch, measure rows per page, then add rows until the sheet has the pages asked for.
    seeded = 300
    seed_accountability(app, seeded, 0)
    pages_now = render.render(acc_snapshot())[1]
    while pages_now < args.pages:
        more = max(10, int((args.pages - pages_now) * seeded / pages_now))
        seed_accountability(app, more, seeded)
        seeded += more
        pages_now = render.render(acc_snapshot())[1]

    out["acc_snapshot"], adoc = timed(acc_snapshot, args.runs)
    out["acc_rows"] = sum(len(u["problems"]) for u in adoc["units"])
    out["acc_render"], (adata, apages) = timed(lambda: render.render(adoc, "简报编号 B000002"), args.runs)
    out["acc_pages"], out["acc_bytes"] = apages, len(adata)
    out["acc_floor"], (fdata, fpages) = timed(lambda: floor_render(adoc), args.runs)
    out["acc_floor_pages"], out["acc_floor_bytes"] = fpages, len(fdata)
    out["acc_api"], r = timed(api(f"/api/v1/accountability.pdf?{params}"), args.runs)
    out["acc_api_bytes"] = len(r.data)

    monday = seed_complaints(app, args.complaints)

    def weekly_snapshot():
        with wiring.sessions() as s:
            return weekly.complaints_weekly_snapshot(s, wiring.plan, monday=monday, now=clock.now())

    out["weekly_complaints"] = args.complaints
    out["weekly_snapshot"], wdoc = timed(weekly_snapshot, args.runs)
    out["weekly_render"], (wdata, wpages) = timed(lambda: render.render(wdoc, "简报编号 B000003"), args.runs)
    out["weekly_pages"], out["weekly_bytes"] = wpages, len(wdata)
    out["weekly_api"], r = timed(api(f"/api/v1/reports/complaints-weekly.pdf?week={monday}"), args.runs)
    out["weekly_api_bytes"] = len(r.data)
    wiring.engine.dispose()
    return out


def report(r: dict) -> None:
    banner(f"BRIEFINGS — PDF generation, PostgreSQL, {os.cpu_count()} cores, medians of the runs")
    print(f"incident briefing, {r['incident_entries']} timeline entries: {r['incident_pages']} pages, "
          f"{r['incident_bytes'] / 1024:.0f} KiB")
    print(f"  snapshot (database -> dict)    {fmt(r['incident_snapshot'])}")
    print(f"  render (dict -> PDF)           {fmt(r['incident_render'])}")
    print(f"  floor: ReportLab alone         {fmt(r['incident_floor'])}; {r['incident_floor_pages']} pages, "
          f"{r['incident_floor_bytes'] / 1024:.0f} KiB")
    print(f"  end to end (GET briefing.pdf)  {fmt(r['incident_api'])}")
    print(f"  render / floor: x{r['incident_render']['median'] / r['incident_floor']['median']:.2f}")
    ten = r["ten_render"]["median"]
    print(f"10-page briefing ({r['ten_entries']} timeline entries, {r['ten_pages']} pages, {r['ten_bytes'] / 1024:.0f} KiB): "
          f"render {fmt(r['ten_render'])}; end to end of the {r['incident_pages']}-page one "
          f"{r['incident_api']['median'] * 1000:.0f} ms; target ≤ 1 s: "
          f"{'met' if max(ten, r['incident_api']['median']) <= 1.0 else 'NOT met'}")
    print(f"accountability sheet, {r['acc_rows']} late or missed reports: {r['acc_pages']} pages, "
          f"{r['acc_bytes'] / 1024:.0f} KiB")
    print(f"  snapshot (database -> dict)    {fmt(r['acc_snapshot'])}")
    print(f"  render (dict -> PDF)           {fmt(r['acc_render'])}")
    print(f"  floor: ReportLab alone         {fmt(r['acc_floor'])}; {r['acc_floor_pages']} pages, "
          f"{r['acc_floor_bytes'] / 1024:.0f} KiB")
    print(f"  end to end (GET accountability.pdf) {fmt(r['acc_api'])}")
    print(f"  render / floor: x{r['acc_render']['median'] / r['acc_floor']['median']:.2f}")
    print(f"weekly complaints summary, {r['weekly_complaints']} complaints in the week: {r['weekly_pages']} pages, "
          f"{r['weekly_bytes'] / 1024:.0f} KiB")
    print(f"  snapshot (database -> dict)    {fmt(r['weekly_snapshot'])}")
    print(f"  render (dict -> PDF)           {fmt(r['weekly_render'])}")
    print(f"  end to end (GET complaints-weekly.pdf) {fmt(r['weekly_api'])}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.briefing", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each phase (after one warm-up)")
    parser.add_argument("--timeline", type=int, default=200, help="timeline entries of the incident briefing")
    parser.add_argument("--pages", type=int, default=50, help="pages of the accountability sheet")
    parser.add_argument("--complaints", type=int, default=2000, help="complaints in the weekly summary's week")
    args = parser.parse_args(argv)
    with scratch_database() as url:
        result = run(url, args)
    report(result)
    return result


if __name__ == "__main__":
    main()
