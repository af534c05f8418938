"""What a briefing says, read from the database into plain dicts (JSON-ready, times as ISO text).

Each builder takes the session and `now`, reads, and changes nothing. The renderers only
lay these dicts out, so the same content can be rendered again, compared or benchmarked
without a database.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents.kernel import labels
from incidents.records import wording
from incidents.response import accountability, closing, incident_view
from incidents import escalation
from incidents.kernel.durations import chinese_duration
from incidents.models import (
    ARCHIVED,
    CANCELLED,
    CLOSED,
    LATE,
    MET,
    OPEN_ASSIGNMENT,
    OVERDUE,
    PENDING,
    WITHDRAWN,
    AuditEntry,
    Incident,
)
from incidents.plan import LEVEL_CODES, Plan
from incidents.response.service import get_incident, plan_of
from incidents.kernel.moments import iso
from reports.charts import tally

# Assignments not yet finished, and the state a board shows first.
OPEN_ASSIGNMENTS = OPEN_ASSIGNMENT
# Audit actions that a daily report lists as the day's events (clock starts are noise there).
DAY_EVENTS = ("incident.registered", "incident.graded", "incident.activated", "incident.ended", "incident.archived",
              "report.submitted", "deadline.late", "deadline.overdue", "assignment.declined",
              "assignment.decline_requested", "assignment.decline_approved", "assignment.decline_rejected",
              "closing.submitted", "closing.returned", "closing.approved")


def header(plan: Plan, *, title: str, now: datetime) -> dict:
    """Return what every document's pages show: bureau, classification, zone, generation time."""
    return {"title": title, "bureau": plan.bureau, "classification": classification(plan),
            "timezone": plan.timezone, "generated_at": iso(now),
            "plan": {"title": plan.title, "version": plan.version}}


def classification(plan: Plan) -> str:
    """Return the classification line the plan sets for briefings (内部资料 by default)."""
    return plan.reports.classification


def _fmt(plan: Plan):
    tz = plan.tz

    def fmt(value) -> str:
        if not value:
            return "—"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return fmt


# --- one incident -------------------------------------------------------------------------


def recipients_text(recipients: list[dict], fmt) -> str:
    """Say who has a report and when, how and with what reference, and who signed for it: one line per recipient."""
    lines = []
    for r in recipients:
        how = r.get("planned_channel_name") or r.get("channel_name") or ""
        if r.get("channel") and r.get("planned_channel") and r["channel"] != r["planned_channel"]:
            how += f"/实际：{r['channel_name']}"
        if r["returned_at"]:
            state = f"{fmt(r['delivered_at'])} 收到，{fmt(r['returned_at'])} 退回：{r['return_reason']}"
        elif r["delivered_at"]:
            state = f"{fmt(r['delivered_at'])} {how or r['channel_name']}（{r['reference']}）"
            if r["claim"]:
                state += f"，补录·{r['claim']['status_name']}"
        else:
            state = f"尚未送达（{how}" + _sending_text(r.get("dispatch")) + "）" if how else "尚未送达"
        if r.get("receipt_at"):
            state += f"，{fmt(r['receipt_at'])} 签收" + (f"（{r['receipt_by']}）" if r.get("receipt_by") else "")
        name = r["name"] + ("（越级）" if r.get("skip_level") else "")
        lines.append(f"{name}：{state}")
    return "\n".join(lines)


def _sending_text(dispatch: dict | None) -> str:
    """Say where a recipient's automatic sending stands: ，排队发送中 / ，发送失败：reason (nothing: a person records it)."""
    if not dispatch:
        return ""
    if dispatch["status"] == "queued":
        return "，排队发送中" + (f"，已尝试 {dispatch['attempts']} 次" if dispatch["attempts"] else "")
    if dispatch["status"] == "failed":
        return f"，发送失败：{dispatch['last_error'] or '原因不明'}"
    return ""


def clock_item(row, plan: Plan, now: datetime) -> dict:
    """Return one clock with its state in words: 按时完成, 迟报 2小时, 超时未报（已超 3小时）, 剩余 …"""
    entry = incident_view.clock_entry(row, plan, now)
    if row.status == CANCELLED:
        state = f"已取消：{row.cancel_reason or ''}"
    elif row.status == MET:
        state = "按时完成"
    elif row.status == LATE:
        state = f"迟报 {chinese_duration(row.late_seconds or 0)}"
    elif entry["outcome"] == "missed":
        state = f"超时未报（已超 {chinese_duration((now - row.due_at).total_seconds())}）"
    else:
        state = f"进行中（剩余 {chinese_duration((row.due_at - now).total_seconds())}）"
    if entry["mark"]:
        state += f"（{entry['mark']}）"
    elif row.cancel_reason and row.status != CANCELLED:
        state += f"（{row.cancel_reason}）"
    return {
        "id": row.id, "kind": row.kind, "cycle": row.cycle, "name": entry["name"], "unit": entry["unit"],
        "starts_at": iso(row.starts_at), "due_at": iso(row.due_at), "status": row.status,
        "status_name": entry["status_name"], "outcome": entry["outcome"], "state": state,
        "satisfied_at": iso(row.satisfied_at), "late_seconds": entry["late_seconds"],
        "cancel_reason": row.cancel_reason,
    }


def escalation_history(session: Session, incident_id: int) -> dict:
    """Return the incident's escalation history, or a section saying it cannot be read now."""
    try:
        items = escalation.history(session, incident_id)
    except Exception:  # noqa: BLE001 - a briefing without this section beats no briefing
        return {"available": False, "items": [], "error": "升级通知记录暂时无法读取"}
    return {"available": True, "items": [dict(i) for i in items]}


def timeline(session: Session, incident: Incident, plan: Plan) -> list[dict]:
    """Return the incident's audit trail, oldest first, in Chinese, times as ISO text."""
    return [{**entry, "at": iso(entry["at"])} for entry in incident_view.timeline(session, incident, plan, _fmt(plan))]


def incident_snapshot(session: Session, incident_id: int, *, now: datetime) -> dict:
    """Return everything an incident briefing shows, as plain data."""
    incident = get_incident(session, incident_id)
    plan = plan_of(incident)
    fmt = _fmt(plan)
    people = incident_view.people_of(session, incident)
    level = wording.level(plan, incident.level)
    clocks = [clock_item(d, plan, now) for d in incident.deadlines]
    live = [c for c in clocks if c["outcome"] == "running"]
    open_tasks = [a for a in incident.assignments if a.status in OPEN_ASSIGNMENTS]
    follow_up = [f"{c['name']}（{c['unit']}）截止 {fmt(c['due_at'])}" for c in sorted(live, key=lambda c: c["due_at"])]
    if open_tasks:
        follow_up.append(f"未办结任务 {len(open_tasks)} 项")
    contents = [
        ("事件名称", incident.title),
        ("事件编号", incident.number),
        ("发生（发现）时间", fmt(incident.discovered_at)),
        ("地点", incident.location),
        ("信息来源", incident.source),
        ("事件性质", incident.nature),
        ("事件类别", wording.category(plan, incident.category)),
        ("事件等级", f"{level['label']} {level['name']}" if level["code"] else "未定级"),
        ("影响范围", incident.scope),
        ("人员伤亡及财产损失", incident.casualties),
        ("发展趋势", incident.trend),
        ("已采取的措施", incident.measures_taken),
        ("后续工作", "；".join(follow_up) if follow_up else "无待办时限或任务"),
        ("牵头科室", wording.unit(plan, incident.lead_department)),
        ("事发地市场监督管理所", wording.unit(plan, incident.station) if incident.station else "未指定"),
    ]
    measures = [{"at": iso(r.submitted_at), "what": labels.clock_name(plan, r.measure) if r.measure else "措施",
                 "body": r.body, "by": people.get(r.submitted_by_id, "")}
                for r in incident.reports if r.kind == "measure"]
    measures += [{"at": iso(a.done_at), "what": f"{wording.unit(plan, a.department)}：{a.task}",
                  "body": a.done_note or "", "by": ""} for a in incident.assignments if a.status == "done"]
    measures.sort(key=lambda m: m["at"] or "")
    lead = incident.lead_department
    assignments = sorted(incident.assignments, key=lambda a: (a.department != lead, wording.unit(plan, a.department),
                                                              a.created_at, a.id))
    outcome_counts = {k: sum(1 for c in clocks if c["outcome"] == k) for k in ("met", "late", "missed", "running")}
    return {
        "incident": {
            "id": incident.id, "number": incident.number, "title": incident.title, "status": incident.status,
            "status_name": labels.INCIDENT_STATUS.get(incident.status, incident.status),
            "category_name": wording.category(plan, incident.category),
            "lead_department_name": wording.unit(plan, incident.lead_department),
            "discovered_at": iso(incident.discovered_at), "created_at": iso(incident.created_at),
            "activated_at": iso(incident.activated_at), "ended_at": iso(incident.ended_at),
            "archived_at": iso(incident.archived_at), "end_reason": incident.end_reason,
            "ended_by": people.get(incident.ended_by_id) if incident.ended_by_id else None,
            "plan": f"{plan.title} {plan.version}",
        },
        "level": level,
        "contents": [list(p) for p in contents],
        "levels": [{"from": e["from"]["label"], "to": e["to"]["label"], "reason": e["reason"], "at": iso(e["at"]),
                    "by": e["by"]} for e in incident_view.level_entries(incident, plan, people)],
        "clocks": clocks,
        "clock_totals": outcome_counts,
        "assignments": [{"id": a.id, "department": wording.unit(plan, a.department), "task": a.task,
                         "status": a.status, "status_name": labels.ASSIGNMENT_STATUS.get(a.status, a.status),
                         "created_at": iso(a.created_at), "due_at": iso(a.due_at),
                         "acknowledged_at": iso(a.acknowledged_at), "done_at": iso(a.done_at),
                         "note": a.decline_reason or a.done_note or a.progress_note or ""}
                        for a in assignments],
        "reports": [{"id": r["id"], "kind": r["kind"], "kind_name": r["kind_name"], "measure": r["measure"],
                     "body": r["body"], "submitted_at": iso(r["submitted_at"]), "entered_at": iso(r["entered_at"]),
                     "by": r["by"], "mark": r["mark"], "recipients": recipients_text(r["recipients"], fmt)}
                    for r in incident_view.report_entries(incident, plan, people)],
        "measures": measures,
        "escalation": escalation_history(session, incident.id),
        "timeline": timeline(session, incident, plan),
    }


def incident_briefing(session: Session, incident_id: int, *, now: datetime) -> dict:
    """Return the incident briefing (事件简报) document: header and the incident's snapshot."""
    snap = incident_snapshot(session, incident_id, now=now)
    plan = plan_of(get_incident(session, incident_id))
    return {"kind": "incident", **header(plan, title="事件简报", now=now), **snap}


# --- the day across open incidents ----------------------------------------------------------


def day_window(plan: Plan, day: date) -> tuple[datetime, datetime]:
    """Return the start and end (UTC-aware) of a calendar day in the plan's zone."""
    tz = plan.tz
    return datetime.combine(day, time.min, tz), datetime.combine(day + timedelta(days=1), time.min, tz)


def daily_snapshot(session: Session, plan: Plan, *, day: date, now: datetime) -> dict:
    """Return the daily situation report (每日汇总): open incidents, their clocks, the day's events."""
    start, end = day_window(plan, day)
    fmt = _fmt(plan)
    rows = list(session.scalars(
        # Closed without a response counts like archived: shown on the day it closed, never as open.
        select(Incident).where(Incident.status.not_in((ARCHIVED, CLOSED)) | (Incident.archived_at >= start)
                               | ((Incident.status == CLOSED) & (Incident.withdrawn_at >= start)))
        .where(Incident.status != WITHDRAWN)
        .where(Incident.created_at < end)
        .order_by(Incident.id).options(selectinload(Incident.deadlines), selectinload(Incident.assignments),
                                       selectinload(Incident.plan_version), selectinload(Incident.reports))))
    order = {code: n for n, code in enumerate(LEVEL_CODES)}
    rows.sort(key=lambda i: (order.get(i.level or "", 9), i.id))
    incidents, all_clocks = [], []
    for inc in rows:
        iplan = plan_of(inc)
        clocks = [clock_item(d, iplan, now) for d in inc.deadlines if d.status != CANCELLED]
        all_clocks.extend(clocks)
        live = sorted((c for c in clocks if c["outcome"] in ("running", "missed") and c["status"] in (PENDING, OVERDUE)),
                      key=lambda c: c["due_at"])
        incidents.append({
            "id": inc.id, "number": inc.number, "title": inc.title, "level": wording.level(iplan, inc.level),
            "status": inc.status, "status_name": labels.INCIDENT_STATUS.get(inc.status, inc.status),
            "lead_department_name": wording.unit(iplan, inc.lead_department),
            "discovered_at": iso(inc.discovered_at),
            "clocks": {k: sum(1 for c in clocks if c["outcome"] == k) for k in ("met", "late", "missed", "running")},
            "next_clocks": [{"name": c["name"], "due_at": c["due_at"], "state": c["state"], "outcome": c["outcome"]}
                            for c in live[:3]],
            "open_assignments": sum(1 for a in inc.assignments if a.status in OPEN_ASSIGNMENTS),
            "unacknowledged": sum(1 for a in inc.assignments if a.status == "pushed"),
            "declined": sum(1 for a in inc.assignments if a.status == "declined"),
            "last_report_at": iso(max((r.submitted_at for r in inc.reports), default=None)),
        })
    events = []
    ids = [i.id for i in rows]
    if ids:
        numbers = {i.id: i.number for i in rows}
        plans = {i.id: plan_of(i) for i in rows}
        q = (select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end, AuditEntry.action.in_(DAY_EVENTS),
                                      AuditEntry.incident_id.in_(ids)).order_by(AuditEntry.at, AuditEntry.seq))
        for row in session.scalars(q):
            entry = wording.audit_entry(row, plans[row.incident_id], fmt)
            events.append({"at": iso(row.at), "number": numbers[row.incident_id], "what": entry["what"],
                           "detail": entry["detail"], "actor": entry["actor"]})
    acc = accountability.report(session, now=now, flt=accountability.Filter(due_from=start, due_to=min(end, now)))
    problems = _problems(acc, plan)
    by_level = []
    for lv in (*LEVEL_CODES, None):
        n = sum(1 for i in incidents if i["level"]["code"] == lv and i["status"] not in (ARCHIVED, CLOSED))
        if n:
            by_level.append({"level": wording.level(plan, lv), "count": n})
    open_rows = [i for i in incidents if i["status"] not in (ARCHIVED, CLOSED)]
    totals = {
        "open": len(open_rows),
        "active": sum(1 for i in open_rows if i["status"] == "active"),
        "ended": sum(1 for i in open_rows if i["status"] == "ended"),
        "registered": sum(1 for i in open_rows if i["status"] == "registered"),
        "watching": sum(1 for i in open_rows if i["status"] == "watching"),  # holiday watches: no response
        "new_today": sum(1 for i in rows if start <= i.created_at < end),
        "overdue_now": sum(i["clocks"]["missed"] for i in open_rows),
        "late_today": sum(1 for p in problems if p["outcome"] == "late"),
        "missed_today": sum(1 for p in problems if p["outcome"] == "missed"),
        "unacknowledged": sum(i["unacknowledged"] for i in open_rows),
    }
    return {
        "kind": "daily", **header(plan, title="每日汇总", now=now),
        "day": day.isoformat(), "window": [iso(start), iso(end)], "totals": totals, "by_level": by_level,
        "incidents": incidents, "events": events, "problems": problems,
        "chart": tally(all_clocks, "name"),
    }


def _listed(acc: dict) -> list[dict]:
    """The clocks a sheet lists in full: accountability.sheet()'s page, or every clock of report()."""
    if "deadlines" in acc:
        return acc["deadlines"]
    return [item for row in acc["by_incident"] for item in row["deadlines"]]


def _problems(acc: dict, plan: Plan) -> list[dict]:
    titles = {row["incident_id"]: row["title"] for row in acc["by_incident"]}
    closed = {row["incident_id"]: (row.get("disposition") or {}).get("name") for row in acc["by_incident"]}
    out = []
    for item in _listed(acc):
        if item["outcome"] not in ("late", "missed"):
            continue
        out.append({
            "deadline_id": item["deadline_id"], "incident_id": item["incident_id"],
            "number": item["incident_number"], "title": titles.get(item["incident_id"], ""),
            "disposition": closed.get(item["incident_id"]),
            "name": labels.clock_name(plan, item["kind"], item["cycle"], item["name"]),
            "unit": item["unit_name"] or "事发地市场监督管理所（未指定）",
            "unit_code": item["department"] or item["station"] or "",
            "due_at": item["due_at"], "satisfied_at": item["satisfied_at"], "outcome": item["outcome"],
            "outcome_name": "迟报" if item["outcome"] == "late" else "漏报（超时未报）",
            "seconds": item["late_seconds"] if item["outcome"] == "late" else item["overdue_seconds"],
            "lateness": item["late_by"] if item["outcome"] == "late" else item["overdue_by"],
            "mark": (item["report"] or {}).get("backdated_mark"),
        })
    out.sort(key=lambda p: (p["due_at"], p["deadline_id"]))
    return out


# --- accountability ---------------------------------------------------------------------------


def accountability_snapshot(session: Session, plan: Plan, *, start: date, end: date, now: datetime,
                            unit: str | None = None, incident_ids: frozenset[int] | None = None) -> dict:
    """Return the accountability sheet (迟报漏报情况表): every late or missed report of a period, by unit."""
    due_from, _ = day_window(plan, start)
    _, due_to = day_window(plan, end)
    # Counts from SQL; only the late and missed clocks (and 补录) are read in full, however long the period.
    acc = accountability.sheet(session, now=now, flt=accountability.Filter(
        due_from=due_from, due_to=due_to, unit=unit, incident_ids=incident_ids), per_page=None)
    problems = _problems(acc, plan)
    units = []
    for row in acc["by_department"]:
        mine = [p for p in problems if p["unit_code"] == row["department"]]
        units.append({"code": row["department"], "name": row["name"], "type": row["unit_type"],
                      "met": row["met"], "late": row["late"], "missed": row["missed"], "running": row["running"],
                      "late_total": chinese_duration(row["late_seconds_total"]) if row["late_seconds_total"] else "—",
                      "problems": mine})
    units.sort(key=lambda u: (-(u["late"] + u["missed"]), u["name"]))
    return {
        "kind": "accountability", **header(plan, title="迟报漏报情况表", now=now),
        "period": [start.isoformat(), end.isoformat()], "unit": wording.unit(plan, unit) if unit else None,
        "totals": {**acc["totals"],
                   "late_total": chinese_duration(acc["totals"]["late_seconds_total"])
                   if acc["totals"]["late_seconds_total"] else "—"},
        "units": units,
        "chart": [{"label": u["name"], "met": u["met"], "late": u["late"], "missed": u["missed"],
                   "running": u["running"]} for u in units],
        "incidents": len(acc["by_incident"]),
        "backdated": [_backdated_row(b, plan) for b in acc["backdated"]["items"]],
        "written": _written_reports(acc, plan),
        "inaction": [{"code": d["department"], "name": d["name"], "counts": d["counts"],
                      "items": [{"number": i["incident_number"], "title": i["incident_title"], "task": i["task"],
                                 "measure": i["measure"], "due_at": i["due_at"], "status_name": i["status_name"],
                                 "problem": i["problem"], "problem_name": i["problem_name"],
                                 "decline_status_name": i["decline_status_name"], "what": i["what"]}
                                for i in d["items"]]} for d in acc["inaction"]],
        "inaction_totals": acc["inaction_totals"],
        "closed_without_response": [{"kind": k, **v} for k, v in acc["closed_without_response"].items()],
    }


def _backdated_row(item: dict, plan: Plan) -> dict:
    """One clock judged on a backdated report, as the sheet lists it: claimed, entered, judged, by whom, on what."""
    fmt = _fmt(plan)
    claim = item["claim"]
    evidence = f"{claim['evidence_kind_name']}：{claim['evidence_ref']}" if claim["evidence_kind_name"] else "—"
    return {"number": item["incident_number"], "name": item["name"], "unit": item["unit_name"],
            "claimed": fmt(item["claimed_at"]), "entered": fmt(item["entered_at"]),
            "entered_by": item["entered_by"] or "—", "status": claim["status"], "status_name": claim["status_name"],
            "decided": f"{claim['decided_by']} {fmt(claim['decided_at'])}" if claim["decided_by"] else "—",
            "evidence": evidence + (f"；{claim['note']}" if claim["note"] else "")}


def _written_reports(acc: dict, plan: Plan) -> list[dict]:
    """The reports each clock was owed to named recipients (initial, bureau, progress, written) with who got them,
    how, when, and who signed for them; its document number and sign-off."""
    fmt = _fmt(plan)
    titles = {row["incident_id"]: row["title"] for row in acc["by_incident"]}
    out = []
    for item in [*_listed(acc), *acc.get("running", [])]:
        if not (item["report"] and item["report"]["recipients"]):
            continue
        report = item["report"]
        sign = report.get("sign_off")
        document = (report.get("document") or {}).get("number")
        out.append({"number": item["incident_number"], "title": titles[item["incident_id"]], "name": item["name"],
                    "due_at": item["due_at"], "outcome": item["outcome"],
                    "state": wording_outcome(item), "recipients": recipients_text(report["recipients"], fmt),
                    "document": document,
                    "signed": (f"签发 {sign['signed_by'] or '—'} {fmt(sign['signed_at'])}"
                               if sign and sign["signed_at"] else "待签发" if sign else None)})
    return out


def wording_outcome(item: dict) -> str:
    """Say a clock's outcome in words with its lateness: 按时, 迟报 1天, 漏报（已超 2天）, 进行中."""
    if item["outcome"] == "late":
        return f"迟报 {item['late_by']}"
    if item["outcome"] == "missed":
        return f"漏报（已超 {item['overdue_by']}）"
    return labels.OUTCOME[item["outcome"]]


# --- the closing report ----------------------------------------------------------------------


def closing_document(session: Session, incident_id: int, *, now: datetime) -> dict:
    """Return the closing report (应急处置工作总结): the summary and the incident's full record."""
    row = closing.get(session, incident_id)
    if row is None:
        raise LookupError(f"incident {incident_id} has no closing report")
    snap = incident_snapshot(session, incident_id, now=now)
    incident = get_incident(session, incident_id)
    plan = plan_of(incident)
    people = incident_view.user_names(session, [row.submitted_by_id, row.decided_by_id])
    clocks = [c for c in snap["clocks"] if c["kind"] == "closing_report" and c["status"] != CANCELLED]
    return {
        "kind": "closing", **header(plan, title="应急处置工作总结", now=now), **snap,
        "closing": {
            "status": row.status, "status_name": labels.CLOSING_STATUS.get(row.status, row.status),
            "version": row.version, **{k: getattr(row, k) for k, _ in closing.SECTIONS},
            "investigators": row.investigators,
            "submitted_by": people.get(row.submitted_by_id, ""), "submitted_at": iso(row.submitted_at),
            "decided_by": people.get(row.decided_by_id, "") if row.decided_by_id else None,
            "decided_at": iso(row.decided_at), "decision_note": row.decision_note,
            "clock": {"due_at": clocks[-1]["due_at"], "state": clocks[-1]["state"]} if clocks else None,
        },
    }
