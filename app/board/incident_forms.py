"""The incident page's forms: which of them the user's role may use, and what each needs to offer."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.response import claims, command_hq, dispositions, documents
from incidents.people import duty, permissions
from incidents.response.assignments import ASSIGNING_ROLES
from incidents.kernel.errors import Forbidden
from incidents.response.grading import suggest
from incidents.models import (
    CLOSED,
    FINISHED,
    HOLIDAY_WATCH,
    OVERDUE,
    PENDING,
    REGISTERED,
    WITHDRAWN,
    Incident,
)
from incidents.people.permissions import ACTION_ROLES
from incidents.plan import REPORT_KINDS, Plan
from incidents.plan.model import RECORDED_CHANNELS
from incidents.kernel.roles import ROLES, STATION
from incidents.response.service import TEXT_FIELDS
from app.board.presenters import level_view


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
        # Reports' deliveries (the office and the leadership, or whoever filed the report), the written report's
        # returns, the sign-off (签发) of the kinds this role signs, and the judgement of a 补录.
        "deliver": not watch and _may(user, "deliver", incident, plan),
        "review_claims": not watch and claims.may_judge(user, plan),
        # Only the channels a person records: what Yingji sends itself is recorded by Yingji.
        "channels": [{"code": k, "name": v} for k, v in RECORDED_CHANNELS.items()],
        "user_id": user.id,
        # 签发: the kinds of report this role signs off (a closed or withdrawn incident's reports stay unsigned).
        "sign_kinds": [k for k in REPORT_KINDS if not watch and incident.status not in (CLOSED, WITHDRAWN)
                       and documents.may_sign(user, plan, k)],
        # 越级上报: whom the reports this role files then reach as well (the generic form's, the written one's).
        "skip_level": _skip_level(plan, [k["kind"] for k in kinds if k["kind"] != "closing"]),
        "skip_level_closing": _skip_level(plan, [k["kind"] for k in kinds if k["kind"] == "closing"]),
        # 签收 of the reports other bureaus sent about this incident.
        "receive": _may(user, "receive", incident, plan),
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


def _skip_level(plan: Plan, kinds: list[str]) -> str:
    """Say whom a 越级上报 reaches as well, kinds with the same recipients together: 局报告、续报：河南省市场监督管理局."""
    groups: dict[str, list[str]] = {}
    for kind in kinds:
        names = "、".join(r.name for r in plan.reports.skip_level_of(kind))
        if names:
            groups.setdefault(names, []).append(labels.REPORT_KIND.get(kind, kind))
    if len(groups) == 1 and len(kinds) == 1:
        return next(iter(groups))
    return "；".join(f"{'、'.join(k)}：{names}" for names, k in groups.items())


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
