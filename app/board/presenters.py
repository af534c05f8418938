"""The boards' presenters: what the pages show, built from the rows (names in Chinese, clocks with their state).

Templates get plain dicts with datetimes (the `localtime` filter shows them in Beijing
time); they never look codes up in the plan themselves.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import wording
from incidents.response import accountability, claims, command_hq, dispositions, incident_view
from incidents.people import duty, permissions
from incidents.response.assignments import ASSIGNING_ROLES, DECIDING_ROLES
from incidents.kernel.durations import chinese_duration
from incidents.kernel.errors import Forbidden
from incidents.response.grading import suggest
from incidents.models import (
    ACTIVE,
    ARCHIVED,
    ASSIGNMENT_STATUSES,
    CANCELLED,
    CLOSED,
    DECLINE_REQUESTED,
    DECLINED,
    FINISHED,
    HOLIDAY_WATCH,
    LATE,
    MET,
    OPEN_ASSIGNMENT,
    OVERDUE,
    PENDING,
    PUSHED,
    REGISTERED,
    WITHDRAWN,
    Assignment,
    Deadline,
    Incident,
)
from incidents.people.permissions import ACTION_ROLES
from incidents.plan import LEVEL_CODES, REPORT_KINDS, Plan
from incidents.plan.model import DELIVERY_CHANNELS
from incidents.kernel.roles import DUTY_OFFICER, ROLES, STATION
from incidents.response.service import TEXT_FIELDS, plan_of



def status_name(incident: Incident) -> str:
    """Return an incident's status in Chinese; a holiday watch that closed itself says so."""
    if incident.kind == HOLIDAY_WATCH and incident.status == ARCHIVED:
        return labels.WATCH_CLOSED
    return labels.INCIDENT_STATUS.get(incident.status, incident.status)


# --- small pieces -------------------------------------------------------------


level_view = wording.level


def unit_name(plan: Plan, code: str | None) -> str:
    """Return a department's or station's Chinese name, or the code if the plan lacks it."""
    if not code:
        return "—"
    return plan.unit_name(code) if plan.has_unit(code) else code


category_name = wording.category



def countdown_text(seconds: float) -> str:
    """Say what a countdown shows: 剩余 00:14:59, 剩余 2天 03:04:05, 已超时 00:05:12.

    board.js writes the same text every second; this is what a page without script shows.
    """
    left = int(seconds)
    prefix = "剩余" if left > 0 else "已超时"
    total = abs(left)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{prefix} {days}天 {clock}" if days else f"{prefix} {clock}"


def elapsed_text(seconds: float) -> str:
    """Say how long something has waited: 45秒, 12分05秒, 3小时02分, 2天4小时.

    board.js writes the same text every second for elements with data-since.
    """
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes:02d}分"
    if minutes:
        return f"{minutes}分{secs:02d}秒"
    return f"{secs}秒"


def js_time(moment: datetime) -> str:
    """Format a time for a data attribute that the browser's Date.parse reads exactly."""
    return moment.isoformat(timespec="milliseconds")


def parse_time(value: Any) -> datetime | None:
    """Read an ISO time out of audit data; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


# --- clocks -------------------------------------------------------------------


def clock_view(row: Deadline, plan: Plan, now: datetime) -> dict:
    """Return a clock with its state for the screen.

    `state` drives the colour: ok / warn (within the first warning) / overdue for live
    clocks, met / late / cancelled for finished ones.
    """
    left = (row.due_at - now).total_seconds()
    warn = max(row.warn_before or [0])
    live = row.status in (PENDING, OVERDUE)
    if row.status == OVERDUE or (row.status == PENDING and left <= 0):
        state = "overdue"
    elif row.status == PENDING:
        state = "warn" if left <= warn else "ok"
    else:
        state = row.status
    if row.status == LATE:
        outcome = f"迟报 {chinese_duration(row.late_seconds or 0)}"
    elif row.status == MET:
        outcome = "按时"
    elif row.status == CANCELLED:
        outcome = "已取消"
    else:
        outcome = None
    entry = incident_view.clock_entry(row, plan, now)
    return {
        **entry, "status_zh": entry["status_name"], "due_js": js_time(row.due_at), "state": state, "live": live,
        "warn_seconds": warn, "seconds_left": int(left), "countdown": countdown_text(left), "outcome": outcome,
        "late_by": chinese_duration(row.late_seconds) if row.status == LATE and row.late_seconds else None,
    }


# --- assignments ----------------------------------------------------------------

OPEN_ASSIGNMENTS = OPEN_ASSIGNMENT  # a decline waiting for approval is still the department's


def assignment_view(row: Assignment, plan: Plan, now: datetime) -> dict:
    """Return an assignment for the screen: department, task, state, how long it has waited."""
    return {
        "id": row.id, "incident_id": row.incident_id, "department": row.department,
        "department_name": unit_name(plan, row.department), "task": row.task, "status": row.status,
        "status_zh": labels.ASSIGNMENT_STATUS.get(row.status, row.status), "standard": row.standard,
        "clock": labels.clock_name(plan, row.clock) if row.clock else None,
        "created_at": row.created_at, "created_js": js_time(row.created_at),
        "waited": elapsed_text((now - row.created_at).total_seconds()),
        "due_at": row.due_at, "due_js": js_time(row.due_at) if row.due_at else None,
        "acknowledged_at": row.acknowledged_at, "progress_note": row.progress_note,
        "done_at": row.done_at, "done_note": row.done_note,
        "declined_at": row.declined_at, "decline_reason": row.decline_reason,
        "decline_status": row.decline_status,
        "decline_status_zh": labels.DECLINE_STATUS.get(row.decline_status) if row.decline_status else None,
        "decline_note": row.decline_note, "decline_decided_at": row.decline_decided_at,
        "uncovered_note": row.uncovered_note,
    }


def may_decide_decline(user) -> bool:
    """Tell whether the user may approve or reject a decline (as incidents.response.assignments allows)."""
    return user is not None and user.role in DECIDING_ROLES


def assignments_summary(rows: Iterable[Assignment], plan: Plan, now: datetime) -> dict:
    """Return an incident's assignments: the unacknowledged and the declined first, then counts per state."""
    views = [assignment_view(a, plan, now) for a in sorted(rows, key=lambda a: (a.created_at, a.id))]
    counts = [{"status": s, "name": labels.ASSIGNMENT_STATUS[s], "n": sum(1 for v in views if v["status"] == s)}
              for s in ASSIGNMENT_STATUSES]
    return {
        "all": views, "total": len(views),
        "pending": [v for v in views if v["status"] == PUSHED],
        "declined": [v for v in views if v["status"] == DECLINED],
        "decline_pending": [v for v in views if v["status"] == DECLINE_REQUESTED],
        "counts": [c for c in counts if c["n"]],
    }


# --- the board ------------------------------------------------------------------


def incident_card(incident: Incident, now: datetime) -> dict:
    """Return an incident's headline, its clocks (live ones first, cancelled left out) and assignments."""
    plan = plan_of(incident)
    clocks = [clock_view(d, plan, now) for d in incident.deadlines if d.status != CANCELLED]
    live = sorted((c for c in clocks if c["live"]), key=lambda c: c["due_at"])
    done = sorted((c for c in clocks if not c["live"]), key=lambda c: c["due_at"], reverse=True)
    return {
        "id": incident.id, "number": incident.number, "title": incident.title,
        "level": level_view(plan, incident.level), "status": incident.status, "kind": incident.kind,
        "kind_zh": labels.INCIDENT_KIND.get(incident.kind), "status_zh": status_name(incident),
        "category": category_name(plan, incident.category),
        "lead_department": unit_name(plan, incident.lead_department),
        "station": unit_name(plan, incident.station) if incident.station else None,
        "location": incident.location, "discovered_at": incident.discovered_at,
        "live_clocks": live, "done_clocks": done,
        "overdue": sum(1 for c in live if c["state"] == "overdue"),
        "warn": sum(1 for c in live if c["state"] == "warn"),
        "assignments": assignments_summary(incident.assignments, plan, now),
    }


def board_groups(plan: Plan, incidents: Iterable[Incident], now: datetime) -> list[dict]:
    """Group incident cards by level, Ⅰ to Ⅳ, then the ungraded; empty groups are left out."""
    cards = [incident_card(i, now) for i in incidents]
    groups = []
    for code in (*LEVEL_CODES, None):
        members = [c for c in cards if c["level"]["code"] == code]
        if members:
            groups.append({"level": level_view(plan, code), "cards": members})
    return groups


# --- the incident page ----------------------------------------------------------


def incident_detail(session: Session, incident: Incident, now: datetime, fmt) -> dict:
    """Return everything the incident page shows: facts, levels, reports, clocks, audit, accountability."""
    plan = plan_of(incident)
    names = incident_view.people_of(session, incident)
    reports = [{**r, "entered_later": (r["entered_at"] - r["submitted_at"]).total_seconds() >= 60}
               for r in incident_view.report_entries(incident, plan, names)]
    report_kinds = {r["id"]: r["kind_name"] for r in reports}
    levels = incident_view.level_entries(incident, plan, names)
    clocks = [clock_view(d, plan, now) for d in incident.deadlines]
    for c in clocks:
        c["report"] = report_kinds.get(c["satisfied_by_report_id"])
    acc = accountability.report(session, now=now, flt=accountability.Filter(incident_id=incident.id))
    card = incident_card(incident, now)
    return {
        **card,
        "facts": [
            ("发现时间", fmt(incident.discovered_at)),
            ("地点", incident.location),
            ("事发地市场监督管理所", unit_name(plan, incident.station) if incident.station else "未指定"),
            ("信息来源", incident.source),
            ("事件性质", incident.nature),
            ("事件类别", card["category"]),
            ("牵头科室", card["lead_department"]),
            ("影响范围", incident.scope),
            ("发展趋势", incident.trend),
            ("已采取的措施", incident.measures_taken),
            ("人员伤亡及财产损失", incident.casualties),
        ],
        "milestones": [m for m in (
            ("登记时间", incident.created_at, names.get(incident.created_by_id)),
            ("启动应急响应", incident.activated_at, None),
            ("应急状态结束", incident.ended_at, names.get(incident.ended_by_id) if incident.ended_by_id else None),
            ("归档", incident.archived_at, None),
        ) if m[1] is not None],
        "end_reason": incident.end_reason,
        "withdrawn": _withdrawn(session, incident, names),
        "duplicates": dispositions.duplicates(session, incident),
        "plan_version": f"{plan.title} {plan.version}",
        "levels": levels, "reports": reports, "clocks": clocks,
        "audit": incident_view.timeline(session, incident, plan, lambda value: fmt(parse_time(value), zone=False)),
        "accountability": accountability_view(acc, plan),
        "command_hq": hq_panel(session, incident, plan),
    }


def hq_panel(session: Session, incident: Incident, plan: Plan) -> dict | None:
    """Return the command HQ panel: the HQ in charge, its history, and whether the plan misses one (None: a watch)."""
    if incident.kind == HOLIDAY_WATCH:
        return None
    rows = command_hq.history_view(session, incident)
    required = command_hq.required(plan, incident)
    return {"current": rows[-1] if rows else None, "earlier": rows[:-1][::-1], "required": required,
            "level": level_view(plan, incident.level) if incident.level else None,
            # Plan §三(三): a Ⅰ–Ⅲ response without its HQ is a gap the page says out loud.
            "missing": required and not rows and incident.status == ACTIVE}


def _withdrawn(session: Session, incident: Incident, names: dict) -> dict | None:
    """Return who withdrew the incident, when, why, and the original it duplicates."""
    if incident.withdrawn_at is None:
        return None
    original = session.get(Incident, incident.duplicate_of_id) if incident.duplicate_of_id else None
    by = incident_view.user_names(session, [incident.withdrawn_by_id]).get(incident.withdrawn_by_id, "")
    return {"at": incident.withdrawn_at, "by": by, "reason": incident.withdraw_reason,
            "kind_name": labels.WITHDRAW_KIND.get(incident.withdraw_kind or "", ""),
            # Closed without a response (不启动, 不属实, 重复) rather than withdrawn as a test: it stays on the sheet.
            "closed": dispositions.disposition(incident) is not None,
            "short": dispositions.SHORT.get(incident.withdraw_kind or "", ""),
            "duplicate_of": original.id if original else None, "duplicate_of_number": original.number if original else None}


# --- accountability -------------------------------------------------------------


def accountability_view(data: dict, plan: Plan) -> dict:
    """Shape accountability.report() for the page: departments, stations, incidents, problems."""

    def counts(row: dict) -> dict:
        return {**row, "total": row["met"] + row["late"] + row["missed"] + row["running"],
                "late_total": chinese_duration(row["late_seconds_total"]) if row["late_seconds_total"] else "—"}

    incidents = []
    for row in data["by_incident"]:
        incidents.append({**counts(row), "level_view": level_view(plan, row["level"]),
                          "status_zh": labels.INCIDENT_STATUS.get(row["status"], row["status"]),
                          "disposition_zh": (row.get("disposition") or {}).get("name")})
    units = [counts(row) for row in data["by_department"]]
    problems = []
    numbers = {row["incident_id"]: row for row in data["by_incident"]}
    for row in data["by_incident"]:
        for item in row["deadlines"]:
            if item["outcome"] in ("late", "missed"):
                problems.append({
                    **item, "incident_title": numbers[item["incident_id"]]["title"],
                    "disposition_zh": (numbers[item["incident_id"]].get("disposition") or {}).get("name"),
                    "name": labels.clock_name(plan, item["kind"], item["cycle"], item["name"]),
                    "unit": item["unit_name"] or "事发地市场监督管理所(未指定)",
                    "due": parse_time(item["due_at"]), "satisfied": parse_time(item["satisfied_at"]),
                    "outcome_zh": labels.OUTCOME[item["outcome"]],
                    "lateness": item["late_by"] if item["outcome"] == "late" else item["overdue_by"],
                    "mark": (item["report"] or {}).get("backdated_mark"),
                })
    problems.sort(key=lambda p: (p["due"], p["deadline_id"]))
    written = [{**item, "incident_title": numbers[item["incident_id"]]["title"],
                "outcome_name": labels.OUTCOME[item["outcome"]] + (
                    f" {item['late_by']}" if item["outcome"] == "late" else
                    f"（已超 {item['overdue_by']}）" if item["outcome"] == "missed" else ""),
                "recipients": [{**r, "delivered": parse_time(r["delivered_at"]), "returned": parse_time(r["returned_at"])}
                               for r in item["report"]["recipients"]]}
               for row in data["by_incident"] for item in row["deadlines"]
               if item["report"] and item["report"]["recipients"]]
    backdated = [{**b, "claimed": parse_time(b["claimed_at"]), "entered": parse_time(b["entered_at"]),
                  "decided": parse_time(b["claim"]["decided_at"])} for b in data["backdated"]["items"]]
    return {
        "backdated": backdated,
        "backdated_counts": {k: data["backdated"][k] for k in ("pending", "confirmed", "rejected")},
        "written": written,
        "inaction": inaction_view(data["inaction"]),
        "inaction_totals": data["inaction_totals"],
        "totals": counts(data["totals"]),
        "departments": [u for u in units if u["unit_type"] == "department"],
        "stations": [u for u in units if u["unit_type"] == "station"],
        "incidents": incidents,
        "problems": problems,
        "closed": closed_view(data.get("closed_without_response") or {}),
    }


def inaction_view(rows: list[dict]) -> list[dict]:
    """Shape the sheet's 不作为情况 for the page: per department, its items by what went wrong."""
    out = []
    for row in rows:
        items = [{**i, "due": parse_time(i["due_at"]), "decided": parse_time(i["decided_at"])} for i in row["items"]]
        out.append({**row, "groups": [
            {"problem": p, "name": labels.INACTION[p], "entries": [i for i in items if i["problem"] == p]}
            for p in ("overdue", "declined", "unacknowledged")]})
    return out
def closed_view(counts: dict) -> dict:
    """Shape the sheet's events closed without a response: per kind its name, count and numbers."""
    kinds = [{"kind": k, **v} for k, v in counts.items()]
    return {"kinds": kinds, "total": sum(k["count"] for k in kinds)}


# --- live pages -----------------------------------------------------------------


def plan_js(plan: Plan) -> dict:
    """Return what the pages' scripts need of the plan: levels, units, statuses, the time zone."""
    return {
        "timezone": plan.timezone,
        "levels": {lv.code: {"numeral": lv.numeral, "name": lv.name, "colour": lv.colour} for lv in plan.levels},
        "departments": {d.code: d.name for d in plan.departments},
        "stations": {s.code: s.name for s in plan.stations},
        "assignment_status": dict(labels.ASSIGNMENT_STATUS),
        "clock_warn": {c.kind: int(max(c.warn_before, default=timedelta(0)).total_seconds()) for c in plan.clocks},
    }


class _UnitPrincipal:
    """A department's duty officer as permissions see it: what the department's board follows."""

    def __init__(self, department: str) -> None:
        self.id, self.name, self.role, self.unit = 0, "", DUTY_OFFICER, department


def department_incidents(incidents: Iterable[Incident], department: str) -> list[Incident]:
    """Return the open incidents a department's board follows (lead, support, clocks, assignments)."""
    who = _UnitPrincipal(department)
    return [i for i in incidents if i.status not in FINISHED and permissions.can_view(who, i, plan_of(i))]


def duty_clock_cards(incidents: Iterable[Incident], department: str, now: datetime) -> list[dict]:
    """Return the department's incidents with their live clocks, the most urgent incident first."""
    cards = []
    for incident in department_incidents(incidents, department):
        card = incident_card(incident, now)
        for c in card["live_clocks"]:
            c["mine"] = c["department"] == department
        card["lead_is_mine"] = incident.lead_department == department
        cards.append(card)
    far = datetime.max.replace(tzinfo=now.tzinfo)
    cards.sort(key=lambda c: (not c["live_clocks"], c["live_clocks"][0]["due_at"] if c["live_clocks"] else far))
    return cards


def _may(user, action: str, incident: Incident, plan: Plan) -> bool:
    try:
        permissions.require(user, action, incident, plan)
    except Forbidden:
        return False  # the form is simply not shown
    return True


# When each form applies, by incident status; the page's script shows and hides them as it changes.
# The close form offers this many recent events as the original of a duplicate.
ORIGINALS_SHOWN = 100
REPORT_WHEN = {"initial": "registered active", "bureau": "registered active", "progress": "active",
               "closing": "ended"}


def incident_forms(user, incident: Incident, plan: Plan, *, session: Session | None = None,
                   now: datetime | None = None) -> dict:
    """Return the forms of the incident page this user's role may use (their status rules ride along).

    A holiday watch is no response: it takes tasks, nothing else (no grade, report, end or archive).
    """
    watch = incident.kind == HOLIDAY_WATCH
    editable = not watch and incident.status not in FINISHED
    kinds = [{"kind": k, "name": labels.REPORT_KIND[k], "when": REPORT_WHEN[k]} for k in REPORT_KINDS
             if not watch and _may(user, f"report:{k}", incident, plan)]
    live = {d.kind: d for d in incident.deadlines if d.status in (PENDING, OVERDUE)}
    measures = []
    for kind in plan.measure_kinds():
        row = live.get(kind)
        measures.append({"kind": kind, "name": plan.clock(kind).name, "running": row is not None,
                         "due_at": row.due_at if row else None})
    measures.sort(key=lambda m: not m["running"])
    hq = command_hq.current_hq(session, incident) if session is not None else None
    # Per level, as the plan and the HQ in charge allow (the page shows the form as the level changes).
    end_levels = [lv.code for lv in plan.levels
                  if permissions.end_refusal(user, lv, hq.commander_id if hq else None) is None]
    name_hq = (not watch and session is not None and incident.status in command_hq.OPEN_STATUSES
               and _may(user, "command_hq", incident, plan))
    lead = incident.lead_department
    departments = sorted(plan.departments, key=lambda d: (d.code != lead, d.code not in plan.support_departments))
    return {
        "grade": not watch and _may(user, "grade", incident, plan),
        "activate": not watch and _may(user, "activate", incident, plan),
        "reports": kinds,
        "reports_when": " ".join(s for s in ("registered", "active", "ended")
                                 if any(s in k["when"].split() for k in kinds)),
        "measure": not watch and _may(user, "report:measure", incident, plan),
        "measures": measures,
        "assign": user.role in ASSIGNING_ROLES,
        "departments": [{"code": d.code, "name": d.name,
                         "tag": "牵头科室" if d.code == lead else ("配合科室" if d.code in plan.support_departments
                                                                else "")} for d in departments],
        "end": not watch and bool(end_levels), "end_levels": " ".join(end_levels),
        "archive": not watch and _may(user, "archive", incident, plan),
        "correct": editable and _may(user, "correct", incident, plan)
        and (user.role != STATION or (incident.level is None and incident.status == REGISTERED)),
        "withdraw": editable and _may(user, "withdraw", incident, plan),
        # The written report's deliveries and returns, and the judgement of a 补录.
        "deliver": not watch and _may(user, "deliver", incident, plan),
        "review_claims": not watch and claims.may_judge(user, plan),
        "channels": [{"code": k, "name": v} for k, v in DELIVERY_CHANNELS.items()],
        "evidence_kinds": [{"code": k, "name": v} for k, v in labels.EVIDENCE_KIND.items()],
        # Closing without a response (未启动响应即关闭): the kinds this role may record; the form shows while registered.
        "close_kinds": [{"kind": k, "name": labels.WITHDRAW_KIND[k]} for k in dispositions.CLOSE_KINDS
                        if editable and _may(user, f"close:{k}", incident, plan)],
        "originals": _originals(session, incident) if session is not None and editable else [],
        "categories": [{"code": c.code, "name": c.name} for c in plan.categories],
        "current": {"title": incident.title, "category": incident.category, "station": incident.station or "",
                    "discovered_local": incident.discovered_at.astimezone(plan.tz).strftime(
                        "%Y-%m-%dT%H:%M"), **{f: getattr(incident, f) for f in TEXT_FIELDS}},
        "stations": [{"code": s.code, "name": s.name} for s in plan.stations],
        "levels": [level_view(plan, lv.code) for lv in plan.levels],
        "suggestion": _suggestion(plan, incident),
        "uncovered": _uncovered_on_activation(session, user, incident, plan, now) if session is not None else [],
        "command_hq": name_hq,
        "hq_named": hq is not None,
        "hq_people": _hq_people(session) if name_hq else None,
    }


def _originals(session: Session, incident: Incident) -> list[dict]:
    """Return the events a registration may duplicate: the others neither withdrawn nor closed, newest first."""
    rows = session.scalars(select(Incident).where(Incident.id != incident.id, Incident.kind != HOLIDAY_WATCH,
                                                  Incident.status.not_in((WITHDRAWN, CLOSED)))
                           .order_by(Incident.id.desc()).limit(ORIGINALS_SHOWN))
    return [{"id": i.id, "number": i.number, "title": i.title} for i in rows]


def _hq_people(session: Session) -> dict:
    """Return who the leadership may pick for the HQ, each with the role in Chinese."""
    found = command_hq.candidates(session)
    return {k: [{**p, "role_name": ROLES.get(p["role"], p["role"])} for p in v] for k, v in found.items()}


def _uncovered_on_activation(session: Session, user, incident: Incident, plan: Plan, now: datetime) -> list[str]:
    """Return, for the one who may activate, the departments the plan's tasks would reach with nobody on duty."""
    if incident.status != REGISTERED or incident.level is None or not _may(user, "activate", incident, plan):
        return []
    departments = [incident.lead_department if r.department == "lead" else r.department
                   for r in plan.standard_assignments
                   if incident.level in r.levels and incident.category not in r.categories_except]
    return [c.note for c in duty.cover(session, plan, departments, level=incident.level, now=now) if c.note]


def _suggestion(plan: Plan, incident: Incident) -> dict | None:
    """Return the level the plan suggests for the incident's category, with the plan's hints for it."""
    try:
        found = suggest(plan, incident.category)
    except KeyError:
        return None
    if found.level is None:
        return None
    return {**level_view(plan, found.level), "hints": list(found.hints)}


def may_register(user) -> bool:
    """Tell whether the user's role may register an incident."""
    return user.role in ACTION_ROLES["register"]


def may_grade(user) -> bool:
    """Tell whether the user's role may grade (also at registration)."""
    return user.role in ACTION_ROLES["grade"]


def fixed_station(user) -> str | None:
    """Return the station a station user must register for (their own), else None."""
    return user.unit if user.role == STATION else None
