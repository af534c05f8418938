"""Incident endpoints: register, list, show, grade, activate, name the command HQ, report, end, archive."""
from __future__ import annotations

import json

from flask import jsonify, request
from sqlalchemy import select

from app.api import bp, parse, serialize
from app.auth import api_login_required, current_user, token_actions
from app.input_guards import bounded_int
from app.extensions import db, now, yingji
from incidents.kernel.moments import iso
from incidents.response import accountability, command_hq, corrections, dispositions, flows, holiday_watch, recipients, service
from incidents.people import permissions
from incidents.kernel.roles import UNIT_ROLES
from incidents.kernel.errors import Collect, Forbidden, InvalidInput
from incidents.models import HOLIDAY_WATCH, INCIDENT_STATUSES, Incident
from incidents.plan import LEVEL_CODES
from incidents.records import audit

LABELS = service.FIELD_NAMES


def _respond(incident: Incident, status: int = 200):
    body = serialize.incident(incident, now())
    if incident.kind == HOLIDAY_WATCH:
        body["watch"] = holiday_watch.watch_view(db(), yingji().plan, incident, now())
    return jsonify(body), status


@bp.post("/incidents")
@api_login_required
@token_actions("register")
def create_incident():
    """Register an event with the plan's report contents; optionally grade it."""
    data = parse.body()
    # Every field is read before any is refused: the form learns all its mistakes in one answer.
    found = Collect()
    facts = service.NewIncident(
        title=found.check(parse.text, data, "title", LABELS["title"]),
        category=found.check(parse.text, data, "category", LABELS["category"]),
        discovered_at=found.check(parse.timestamp, data, "discovered_at", LABELS["discovered_at"]),
        station=found.check(parse.text, data, "station", LABELS["station"]),
        level=found.check(parse.text, data, "level", LABELS["level"]),
        level_reason=found.check(parse.text, data, "level_reason", LABELS["reason"]),
        **{f: found.check(parse.text, data, f, LABELS[f]) or "" for f in service.TEXT_FIELDS},
    )
    session = db()
    incident = service.register_incident(session, yingji().plan, facts=facts, actor=current_user(), now=now(),
                                         prior=tuple(found.errors))
    session.commit()
    return _respond(incident, 201)


LIST_PAGE, LIST_MAX = 200, 500  # incidents per page of the list: by default, and at most


@bp.get("/incidents")
@api_login_required
def list_incidents():
    """List the incidents the caller may see, newest first, a page at a time (?limit, ?before); filter by status and level."""
    stmt = select(Incident).order_by(Incident.id.desc())
    status = request.args.get("status")
    if status:
        if status not in INCIDENT_STATUSES:
            raise InvalidInput("bad_status", f"未知状态“{status}”", f"unknown status '{status}'", field="status")
        stmt = stmt.where(Incident.status == status)
    level = request.args.get("level")
    if level:
        if level not in LEVEL_CODES:
            raise InvalidInput("unknown_level", f"未知事件等级“{level}”", f"unknown level '{level}'", field="level")
        stmt = stmt.where(Incident.level == level)
    before = parse.arg_id(request.args, "before", "起始编号")
    if before:
        stmt = stmt.where(Incident.id < before)
    limit = max(1, min(request.args.get("limit", LIST_PAGE, type=bounded_int), LIST_MAX))
    user = current_user()
    # A page at a time, newest first: years of archived incidents are never all read, nor all sent.
    rows = []
    for incident in db().scalars(stmt.execution_options(yield_per=limit)):
        if permissions.can_view(user, incident, service.plan_of(incident)):
            rows.append(incident)
            if len(rows) == limit:
                break
    return jsonify({"incidents": [serialize.incident_summary(i) for i in rows],
                    "next_before": rows[-1].id if len(rows) == limit else None})


@bp.get("/incidents/<int:incident_id>")
@api_login_required
def get_incident(incident_id: int):
    """Show one incident with its level history, reports and clocks."""
    return _respond(service.get_incident(db(), incident_id, user=current_user()))


@bp.post("/incidents/<int:incident_id>/level")
@api_login_required
@token_actions("grade")
def grade_incident(incident_id: int):
    """Grade or re-grade an incident with a reason."""
    data = parse.body()
    session = db()
    incident = flows.grade(session, incident_id=incident_id,
                             level=parse.text(data, "level", LABELS["level"], required_=True),
                             reason=parse.text(data, "reason", LABELS["reason"], required_=True),
                             actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/activate")
@api_login_required
@token_actions("activate")
def activate_incident(incident_id: int):
    """Activate the emergency response at the incident's level; optionally name the command HQ with it."""
    # No body at all is an activation without an HQ; a body must be a JSON object.
    data = parse.body() if request.get_data(cache=True).strip() else {}
    hq = _hq_body(data) if any(data.get(k) is not None for k in HQ_FIELDS) else None
    session = db()
    incident = flows.activate(session, incident_id=incident_id, actor=current_user(), now=now(), hq=hq)
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/command-hq")
@api_login_required
@token_actions("command_hq")
def name_command_hq(incident_id: int):
    """Name or re-name the command HQ (专项应急指挥部): its 总指挥 and members; the leadership only."""
    hq = _hq_body(parse.body())
    session = db()
    row = command_hq.name_hq(session, incident_id=incident_id, commander_id=hq["commander"],
                             member_ids=hq["members"], reason=hq["reason"], actor=current_user(), now=now())
    session.commit()
    return _respond(service.get_incident(session, row.incident_id))


HQ_FIELDS = ("commander", "members", "reason")


def _hq_body(data: dict) -> dict:
    """Read {"commander": id, "members": [ids], "reason": text}, refusing anything but ids and text."""
    commander = parse.id_value(parse.required(data, "commander", "总指挥"), "commander", "总指挥")
    members = data.get("members")
    if members is None:
        members = []
    if not isinstance(members, list):
        raise InvalidInput("bad_type", "指挥部成员须为用户编号的列表", "members must be a list of user ids",
                           field="members")
    if len(members) > command_hq.MAX_MEMBERS:
        raise InvalidInput("too_many", f"指挥部成员最多{command_hq.MAX_MEMBERS}人",
                           f"at most {command_hq.MAX_MEMBERS} members", field="members")
    ids = []
    for value in members:
        if value is None:
            raise InvalidInput("bad_id", "指挥部成员须为用户编号（正整数）", "members must be user ids", field="members")
        ids.append(parse.id_value(value, "members", "指挥部成员"))
    return {"commander": commander, "members": ids, "reason": parse.text(data, "reason", "理由")}


@bp.post("/incidents/<int:incident_id>/reports")
@api_login_required
@token_actions("report:initial", "report:bureau", "report:progress", "report:closing", "report:summary")
def file_report(incident_id: int):
    """File an initial, bureau, progress or closing report; it satisfies its clock."""
    data = parse.body()
    kind = parse.text(data, "kind", LABELS["kind"], required_=True)
    if kind == "measure":
        raise InvalidInput("unknown_kind", "措施完成请使用 /measures 接口", "use /measures for a measure done",
                           field="kind")
    return _file(incident_id, data, kind=kind, measure=None)


@bp.post("/incidents/<int:incident_id>/measures")
@api_login_required
@token_actions("report:measure")
def file_measure(incident_id: int):
    """Report a response measure done (e.g. the command meeting held); it satisfies its clock."""
    data = parse.body()
    return _file(incident_id, data, kind="measure",
                 measure=parse.text(data, "measure", LABELS["measure"], required_=True))


def _deliveries(data: dict) -> list[dict]:
    raw = data.get("recipients") or []
    if not isinstance(raw, list) or len(raw) > 50 or not all(isinstance(x, dict) for x in raw):
        raise InvalidInput("bad_recipients", "报送对象须为列表，每项含 code、delivered_at、channel、reference",
                           "recipients must be a list of {code, delivered_at, channel, reference}", field="recipients")
    return [{"code": parse.text(x, "code", "报送对象", required_=True),
             "delivered_at": parse.timestamp(x, "delivered_at", "送达时间"),
             "channel": parse.text(x, "channel", "报送方式", required_=True),
             "reference": parse.text(x, "reference", "送达凭证", required_=True)} for x in raw]


def _file(incident_id: int, data: dict, *, kind: str, measure: str | None):
    session = db()
    deliveries = _deliveries(data)
    actor, moment = current_user(), now()
    report = flows.submit_report(
        session, incident_id=incident_id, kind=kind, measure=measure,
        body=parse.text(data, "body", LABELS["body"], required_=True),
        submitted_at=parse.timestamp(data, "submitted_at", LABELS["submitted_at"]),
        skip_level_reason=parse.text(data, "skip_level_reason", "越级上报理由"),
        actor=actor, now=moment)
    # Deliveries known at filing (faxed and confirmed at once) are recorded with it, in one transaction.
    for d in deliveries:
        recipients.record_delivery(session, report_id=report.id, actor=actor, now=moment, **d)
    session.commit()
    incident = service.get_incident(session, incident_id)
    return jsonify({"report": serialize.report(report), "incident": serialize.incident(incident, now())}), 201


@bp.post("/incidents/<int:incident_id>/end")
@api_login_required
def end_incident(incident_id: int):
    """Declare the emergency over; only the role the plan names for the level may."""
    data = parse.body()
    session = db()
    incident = service.end_emergency(session, incident_id=incident_id,
                                     reason=parse.text(data, "reason", LABELS["reason"], required_=True),
                                     ended_at=parse.timestamp(data, "ended_at", LABELS["ended_at"]),
                                     actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/archive")
@api_login_required
@token_actions("archive")
def archive_incident(incident_id: int):
    """Archive an ended incident whose closing report is filed."""
    session = db()
    incident = service.archive(session, incident_id=incident_id, actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/corrections")
@api_login_required
@token_actions("correct")
def correct_incident(incident_id: int):
    """Correct registration fields with a reason (the office; the station until grading); the old values are kept."""
    data = parse.body()
    # The fields may come as {"changes": {...}, "reason"} or, as the page's form sends them, side by side.
    changes = data.get("changes") if "changes" in data else {k: v for k, v in data.items() if k != "reason"}
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("missing_field", "缺少更正内容", "changes must be an object of fields and new values",
                           field="changes")
    values = {}
    for field, value in changes.items():
        if field == "discovered_at":
            values[field] = parse.timestamp(changes, field, LABELS[field], required_=True)
        elif field == "station":
            values[field] = parse.text(changes, field, LABELS[field]) or None
        else:
            values[field] = parse.text(changes, field, LABELS.get(field, "更正内容")) if field in LABELS else value
    session = db()
    incident = corrections.correct(session, incident_id=incident_id, changes=values,
                                   reason=parse.text(data, "reason", "更正理由", required_=True),
                                   actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/close")
@api_login_required
@token_actions("close:not_activated", "close:false_report", "close:duplicate")
def close_incident(incident_id: int):
    """Close an event never activated: not activated (the leadership), false or a duplicate; missed clocks stay."""
    data = parse.body()
    original = parse.id_value(data.get("duplicate_of"), "duplicate_of", "原事件编号")
    session = db()
    incident = dispositions.close_without_response(
        session, incident_id=incident_id, kind=parse.text(data, "kind", "关闭类别", required_=True),
        reason=parse.text(data, "reason", "关闭理由", required_=True), duplicate_of=original,
        actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.post("/incidents/<int:incident_id>/withdraw")
@api_login_required
@token_actions("withdraw", "close:false_report", "close:duplicate")
def withdraw_incident(incident_id: int):
    """Withdraw (作废) a test registration with a reason; a duplicate or false report is closed (as /close)."""
    data = parse.body()
    original = parse.id_value(data.get("duplicate_of"), "duplicate_of", "原事件编号")
    session = db()
    incident = corrections.withdraw(session, incident_id=incident_id,
                                    kind=parse.text(data, "kind", "作废原因类别", required_=True),
                                    reason=parse.text(data, "reason", "作废理由", required_=True),
                                    duplicate_of=original, actor=current_user(), now=now())
    session.commit()
    return _respond(incident)


@bp.get("/incidents/<int:incident_id>/audit")
@api_login_required
def incident_audit(incident_id: int):
    """Return the incident's audit trail: who did what, when (UTC)."""
    incident = service.get_incident(db(), incident_id, user=current_user())
    rows = audit.history(db(), incident_id=incident.id)  # with the entries still waiting to be sealed
    return jsonify({"entries": [{"seq": r.seq, "at": iso(r.at), "actor": r.actor, "action": r.action,
                                 "entity": r.entity, "entity_id": r.entity_id, "data": json.loads(r.data),
                                 "hash": r.hash} for r in rows]})


@bp.get("/accountability")
@api_login_required
def get_accountability():
    """Every clock met, met late (by how long) or missed, per incident and per department."""
    user = current_user()
    permissions.require(user, "accountability")
    unit = request.args.get("department") or None
    if user.role in UNIT_ROLES:
        if unit and unit != user.unit:
            raise Forbidden("forbidden", "只能查看本单位的迟报漏报情况",
                                        "you may see only your own unit's accountability")
        unit = user.unit
    incident_id = parse.arg_id(request.args, "incident", "事件编号")
    flt = accountability.Filter(
        due_from=parse.timestamp(request.args, "from", "起始时间"),
        due_to=parse.timestamp(request.args, "to", "截止时间"),
        unit=unit, incident_id=incident_id,
    )
    outcomes = _outcomes(request.args.get("outcome"))
    page = parse.arg_count(request.args, "page", "页码", default=1, most=10**6)
    per_page = parse.arg_count(request.args, "per_page", "每页条数", default=accountability.PER_PAGE,
                               most=accountability.MAX_PER_PAGE)
    if incident_id is not None:
        service.get_incident(db(), incident_id, user=user)
    # Counts of the whole period from SQL; the clocks themselves a page at a time (a year is tens of thousands).
    sheet = accountability.sheet(db(), now=now(), flt=flt, outcomes=outcomes, page=page, per_page=per_page)
    if page > sheet["paging"]["pages"]:
        raise InvalidInput("bad_page", f"页码超出范围（共{sheet['paging']['pages']}页）",
                           f"page must be 1..{sheet['paging']['pages']}", field="page")
    return jsonify(sheet)


def _outcomes(raw: str | None) -> tuple[str, ...]:
    """Read ?outcome=late,missed (default: every outcome) for the sheet's list of clocks."""
    if not (raw or "").strip():
        return accountability.OUTCOMES
    wanted = tuple(dict.fromkeys(x.strip() for x in raw.split(",") if x.strip()))
    if not wanted or not set(wanted) <= set(accountability.OUTCOMES):
        raise InvalidInput("bad_outcome", "情况须为 met、late、missed、running 中的一项或几项（逗号分隔）",
                           "outcome must be one or more of met, late, missed, running, comma-separated",
                           field="outcome")
    return wanted
