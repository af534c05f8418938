"""The boards' presenters: what the pages show, built from the rows (names in Chinese, clocks with their state).

Templates get plain dicts with datetimes (the `localtime` filter shows them in Beijing
time); they never look codes up in the plan themselves.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import wording
from incidents.response import accountability, command_hq, dispositions, documents, inbox, incident_view
from incidents.people import permissions
from incidents.response.assignments import DECIDING_ROLES
from incidents.kernel.durations import chinese_duration
from incidents.models import (
    ACTIVE,
    ARCHIVED,
    ASSIGNMENT_STATUSES,
    CANCELLED,
    DECLINED,
    DECLINE_REQUESTED,
    FAILED,
    FINISHED,
    HOLIDAY_WATCH,
    LATE,
    MET,
    OPEN_ASSIGNMENT,
    OVERDUE,
    PENDING,
    PUSHED,
    QUEUED,
    SENT,
    Assignment,
    Deadline,
    InboundReport,
    Incident,
    User,
)
from incidents.plan import LEVEL_CODES, Plan
from incidents.kernel.roles import COMMANDER, DUTY_OFFICER, LEADER, ROLES
from incidents.plan.model import INTERNAL
from incidents.response.service import plan_of



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
        "sign_waiting": sign_waiting(incident, plan),
    }


def sign_waiting(incident: Incident, plan: Plan) -> list[dict]:
    """Return the incident's reports that wait for their sign-off (签发) before they can go, oldest first."""
    return [{"id": r.id, "kind_name": labels.REPORT_KIND.get(r.kind, r.kind),
             "who": signers_text(documents.signers_of(plan, r.kind)), "filed_at": r.entered_at}
            for r in sorted(incident.reports, key=lambda r: r.id)
            if r.recipients and documents.awaits_sign_off(r, plan)]


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
    reports = [report_view({**r, "entered_later": (r["entered_at"] - r["submitted_at"]).total_seconds() >= 60})
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
        # Opened for another bureau's incident (局际报送): where it came from, and the reports that came.
        "origins": inbox.origins(session, incident.id),
        "inbound": [inbound_view(session, row) for row in inbox.of_incident(session, incident.id)],
    }


# --- reports as documents (签发, 文号), their recipients, and reports from other bureaus ------------

# Who signs off, as the plan's text says it (须由领导小组签发).
SIGNER_NAMES = {LEADER: "领导小组", COMMANDER: "专项应急指挥部"}
DISPATCH_STATE = {QUEUED: "排队中", SENT: "已送达", FAILED: "发送失败"}


def signers_text(roles) -> str:
    """Say who may sign a report off: 领导小组, 领导小组或专项应急指挥部."""
    return "或".join(SIGNER_NAMES.get(r, ROLES.get(r, r)) for r in roles)


def dispatch_view(d: dict | None, delivered: bool) -> dict | None:
    """Say where a recipient's automatic sending stands: 排队中 (and the next retry), 已送达, 发送失败：reason."""
    if d is None:
        return None
    status = d["status"]
    retry = None
    if status == QUEUED:
        text = "排队中"
        if d["attempts"] and d["last_error"]:
            text += f"（已尝试 {d['attempts']} 次：{d['last_error']}）"
            retry = parse_time(d["next_attempt_at"])
    elif status == SENT:
        text = "已送达"
    elif delivered:
        text = "已停止自动发送（已以其他方式送达）"
    else:
        text = f"发送失败：{d['last_error'] or '原因不明'}"
    return {"status": status, "state": DISPATCH_STATE.get(status, status), "text": text, "retry_at": retry,
            "attempts": d["attempts"], "target": d["target"]}


def recipient_view(rc: dict) -> dict:
    """Return one recipient of a report for the page: how it goes, when it got it, its 签收, its sending."""
    delivered = parse_time(rc["delivered_at"])
    actual = rc["channel"]
    claim = rc.get("claim")
    return {
        **rc, "delivered": delivered, "recorded": parse_time(rc["recorded_at"]),
        "returned": parse_time(rc["returned_at"]), "receipt": parse_time(rc["receipt_at"]),
        "how_planned": rc["planned_channel_name"] or rc["channel_name"] or "—",
        # The channel it actually went by, when it is not the plan's.
        "how_actual": rc["channel_name"] if actual and actual != rc["planned_channel"] else None,
        "backdated_mark": f"补录·{claim['status_name']}" if claim else None,
        "sending": dispatch_view(rc.get("dispatch"), delivered is not None),
        # A person may record it (另以传真、政务内网…送达) unless it is in this system or already has it.
        "recordable": delivered is None and rc["returned_at"] is None and rc["planned_channel"] != INTERNAL,
    }


def report_view(entry: dict) -> dict:
    """Return a report for the page: its recipients as a table, its sign-off and its document."""
    sign = entry.get("sign_off")
    sign_view = None
    if sign:
        sign_view = {"waiting": sign["waiting"], "roles": sign["roles"], "who": signers_text(sign["roles"]),
                     "signed_at": parse_time(sign["signed_at"]), "signed_by": sign["signed_by"]}
    return {**entry, "recipients": [recipient_view(rc) for rc in entry["recipients"]], "sign": sign_view,
            "skip_level": any(rc["skip_level"] for rc in entry["recipients"])}


DISPATCH_TAIL = "请以其他方式报送并登记"


def dispatch_alert_text(d: dict) -> str:
    """Say a sending refused for good: 报送郑州市市场监督管理局失败：…，请以其他方式报送并登记 (inbox.js says the same)."""
    error = re.sub(r"[，,]?\s*请以其他方式报送并登记。?$", "", str(d.get("error") or "原因不明"))
    return f"报送{d.get('recipient_name') or d.get('target')}失败：{error}，{DISPATCH_TAIL}"


def inbound_view(session: Session, row: InboundReport) -> dict:
    """Return a report from another bureau for the pages: sender, kind, title, number, when, its 签收."""
    data = inbox.as_dict(row)
    by = session.get(User, row.receipt_by_id) if row.receipt_by_id else None
    return {**data, "kind_name": labels.REPORT_KIND.get(row.kind, row.kind), "received": row.received_at,
            "sent": row.sent_at, "receipt": row.receipt_at, "receipt_by": by.name if by else None,
            "has_pdf": row.sha256 is not None, "sender_name": data["sender_name"] or row.sender}


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
    """Shape accountability.sheet() (or report()) for the page: departments, stations, incidents, problems."""

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
    # accountability.sheet() hands one page of clocks; report() (one incident) every clock under its incident.
    listed = data["deadlines"] if "deadlines" in data else [
        item for row in data["by_incident"] for item in row["deadlines"]]
    for item in listed:
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
                "kind_name": labels.REPORT_KIND.get(item["report"]["kind"], item["report"]["kind"]),
                "document": item["report"]["document"], "skip_level_reason": item["report"]["skip_level_reason"],
                "sign": report_view({**item["report"], "recipients": []})["sign"],
                "recipients": [recipient_view(r) for r in item["report"]["recipients"]]}
               for item in [*listed, *data.get("running", [])] if item["report"] and item["report"]["recipients"]]
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
        "paging": data.get("paging"),
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
