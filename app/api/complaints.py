"""12315 endpoints: the public submission and status lookup, and the staff's triage, handling and lists.

The public ones need no token and are rate-limited per client address (and phone); the staff
ones show phone numbers masked, except to the centre and the handling department through the
audited /contact call.
"""
from __future__ import annotations

from datetime import datetime, time

from flask import jsonify, request

from incidents.kernel import labels
from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.extensions import db, now, yingji
from app.input_guards import bounded_int
from app.intake import guard, verify
from app.calendar import calendar_for
from incidents import complaints
from incidents.complaints import surge, verification
from incidents.kernel.moments import iso
from incidents.complaints import RateLimited
from incidents.kernel.errors import Forbidden, InvalidInput
from incidents.models import WARNING_STATUSES

FIELDS = ("kind", "name", "phone", "address", "business_name", "business_address", "credit_code", "category",
          "purchased_at", "amount", "order_no", "description", "demand", "area")


def _limited(exc: RateLimited):
    response = jsonify({"error": exc.as_dict(), "retry_after": exc.retry_after})
    response.status_code = 429
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.post("/complaints")
def create_complaint():
    """File a complaint or tip-off (public, no token); answer 201 with its tracking number."""
    if guard.too_big():
        raise InvalidInput("too_large", "提交内容过大，请精简“事情经过”", "the request body is too large")
    data = parse.body()
    code = data.get(verification.CODE_FIELD)
    if code is not None and not isinstance(code, (str, int)):
        raise InvalidInput("invalid_complaint", "验证码应为6位数字", "verification_code must be 6 digits",
                           field=verification.CODE_FIELD)
    code = str(code).strip() if code is not None else ""
    try:
        complaint = guard.submit({k: data.get(k) for k in FIELDS}, source="api",
                                 verify=(lambda phone: verify.redeem_code(phone, code)) if code else None)
    except RateLimited as exc:
        return _limited(exc)
    plan = yingji().plan
    return jsonify({"tracking_no": complaint.tracking_no, "status": complaint.status,
                    "status_name": labels.COMPLAINT_STATUS[complaint.status],
                    "received_at": iso(complaint.received_at),
                    "phone": complaints.mask_phone(complaint.phone), "verified": bool(code),
                    "category_name": plan.complaints.category(complaint.category).name,
                    "message": f"已收到您的{labels.COMPLAINT_KIND[complaint.kind]}，请记下查询码 "
                               f"{complaint.tracking_no}，凭查询码和手机号码查询办理进度"}), 201


@bp.post("/complaints/verification-codes")
def send_verification_code():
    """Send a 6-digit code to the complainant's phone by SMS (public, no token); answer 202."""
    if guard.too_big():
        raise InvalidInput("too_large", "提交内容过大", "the request body is too large")
    data = parse.body()
    phone = data.get("phone")
    try:
        masked = verify.send_code(phone if isinstance(phone, str) else "")
    except RateLimited as exc:
        return _limited(exc)
    expires = int(verification.CODE_LIFETIME.total_seconds())
    return jsonify({"phone": masked, "expires_in": expires,
                    "message": f"验证码已发送至 {masked}，{expires // 60}分钟内有效"}), 202


@bp.get("/complaints/<tracking_no>")
def complaint_status(tracking_no: str):
    """Show a complaint's status to whoever has its tracking number and phone (?phone=); 404 otherwise."""
    try:
        guard.check_status_rate()
    except RateLimited as exc:
        return _limited(exc)
    complaint = complaints.public_lookup(db(), tracking_no, request.args.get("phone", ""))
    return jsonify(complaints.public_view(yingji().plan, complaint))


# --- staff -------------------------------------------------------------------------------------------------


@bp.get("/complaints")
@api_login_required
def list_complaints():
    """List the complaints the caller may see, newest first (phones masked); filter by status, kind, category."""
    plan, moment = yingji().plan, now()
    args = request.args
    rows = complaints.search(db(), plan, current_user(), status=args.get("status"), kind=args.get("kind"),
                             category=args.get("category"), department=args.get("department"),
                             text=args.get("q"), before_id=parse.arg_id(args, "before", "起始编号"),
                             limit=max(1, min(args.get("limit", 50, type=bounded_int), 200)))
    calendar = calendar_for(db(), plan)
    return jsonify({"complaints": [complaints.staff_view(plan, calendar, c, moment) for c in rows]})


@bp.get("/complaints/summary")
@api_login_required
def complaint_summary():
    """Return the weekly complaint summary (last full week, or ?from=YYYY-MM-DD&to=YYYY-MM-DD) for leadership."""
    user, plan, moment = current_user(), yingji().plan, now()
    if complaints.visible_filter(user, plan) is not None:
        raise Forbidden("forbidden", "投诉举报周汇总仅供领导小组、应急办公室和315投诉中心查看",
                        "the weekly summary is for leadership, the office and the centre")
    start, end = complaints.last_week(plan, moment)
    zone = plan.tz
    if request.args.get("from") or request.args.get("to"):
        try:
            start = datetime.combine(datetime.strptime(request.args["from"], "%Y-%m-%d").date(), time(0), zone)
            end = datetime.combine(datetime.strptime(request.args["to"], "%Y-%m-%d").date(), time(0), zone)
        except (KeyError, ValueError):
            raise InvalidInput("bad_period", "请同时给出 from 和 to，格式如 2026-11-16（to 为次日零点，不含）",
                               "give both from and to as YYYY-MM-DD (to is exclusive)", field="from") from None
        if not (parse.FIRST_YEAR <= start.year <= parse.LAST_YEAR and parse.FIRST_YEAR <= end.year <= parse.LAST_YEAR):
            raise InvalidInput("bad_period", f"日期须在{parse.FIRST_YEAR}年至{parse.LAST_YEAR}年之间",
                               "dates must be within 2000..2099", field="from")
        if end <= start:
            raise InvalidInput("bad_period", "截止日期须晚于起始日期", "'to' must be after 'from'", field="to")
    return jsonify(complaints.weekly_summary(db(), plan, start=start, end=end, now=moment))


@bp.get("/complaints/<tracking_no>/detail")
@api_login_required
def complaint_detail(tracking_no: str):
    """Show a complaint to staff who may see it: the phone masked, its limits, what it may become."""
    plan = yingji().plan
    complaint = complaints.get_complaint(db(), plan, tracking_no, user=current_user())
    return jsonify(complaints.staff_view(plan, calendar_for(db(), plan), complaint, now()))


@bp.post("/complaints/<tracking_no>/triage")
@api_login_required
def triage_complaint(tracking_no: str):
    """Route a complaint to a department (the centre confirms the suggestion or re-routes it)."""
    data = parse.body()
    plan, session = yingji().plan, db()
    complaint = complaints.triage(session, plan, tracking_no=tracking_no,
                                  department=parse.text(data, "department", "承办科室", required_=True),
                                  note=parse.text(data, "note", "说明"), actor=current_user(), now=now())
    session.commit()
    return jsonify(complaints.staff_view(plan, calendar_for(db(), plan), complaint, now()))


@bp.post("/complaints/<tracking_no>/status")
@api_login_required
def change_complaint_status(tracking_no: str):
    """Accept or refuse (with a reason), mediate, close with the answer; file a tip-off or not."""
    data = parse.body()
    plan, session = yingji().plan, db()
    complaint = complaints.change_status(
        session, plan, calendar_for(db(), plan), tracking_no=tracking_no,
        to=parse.text(data, "to", "状态", required_=True), reason=parse.text(data, "reason", "理由"),
        answer=parse.text(data, "answer", "答复内容"), actor=current_user(), now=now())
    session.commit()
    return jsonify(complaints.staff_view(plan, calendar_for(db(), plan), complaint, now()))


@bp.post("/complaints/<tracking_no>/contact")
@api_login_required
def complaint_contact(tracking_no: str):
    """Show the complainant's full phone and address to the centre or the handling department (audited)."""
    plan, session = yingji().plan, db()
    contact = complaints.reveal_contact(session, plan, tracking_no=tracking_no, actor=current_user(), now=now())
    session.commit()
    response = jsonify(contact)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/complaint-limits")
@api_login_required
def complaint_limits():
    """List the complaint time limits about to run out or run out (a department sees its own)."""
    user, plan, moment = current_user(), yingji().plan, now()
    department = request.args.get("department") or None
    if complaints.visible_filter(user, plan) is not None:
        if user.role == "station":
            raise Forbidden("forbidden", "市场监督管理所没有投诉办理时限", "stations have no complaint limits")
        department = user.unit
    rows = complaints.limits_due(db(), now=moment, department=department)
    calendar = calendar_for(db(), plan)
    return jsonify({"limits": [{**complaints.limit_view(plan, calendar, r, moment),
                                "complaint": complaints.snapshot(plan, r.complaint)} for r in rows]})


# --- surges and consumer warnings ------------------------------------------------------------------------


@bp.get("/surges")
@api_login_required
def list_surges():
    """List the open complaint surges and the latest ended ones."""
    plan = yingji().plan
    return jsonify({"surges": [surge.surge_view(plan, s) for s in surge.recent(db(), limit=50)]})


@bp.get("/consumer-warnings")
@api_login_required
def list_warnings():
    """List consumer warnings of every status (staff); ?status=draft|submitted|published|withdrawn."""
    status = request.args.get("status")
    if status and status not in WARNING_STATUSES:
        raise InvalidInput("unknown_status", f"未知状态“{status[:20]}”", f"unknown status '{status}'", field="status")
    rows = surge.warnings(db(), statuses=(status,) if status else None)
    return jsonify({"warnings": [surge.warning_view(w) for w in rows]})


@bp.get("/consumer-warnings/published")
def published_warnings():
    """List the published consumer warnings (public, no token)."""
    return jsonify({"warnings": [surge.public_warning_view(w) for w in surge.published(db())]})


@bp.post("/consumer-warnings")
@api_login_required
def create_warning():
    """Draft a consumer warning by hand."""
    data = parse.body()
    plan, session = yingji().plan, db()
    row = surge.draft_warning(session, plan, title=parse.text(data, "title", "标题", required_=True),
                              body=parse.text(data, "body", "正文", required_=True), actor=current_user(), now=now())
    session.commit()
    return jsonify(surge.warning_view(row)), 201


@bp.post("/consumer-warnings/<int:warning_id>")
@api_login_required
def edit_warning(warning_id: int):
    """Change a draft's title and text."""
    data = parse.body()
    plan, session = yingji().plan, db()
    row = surge.edit_warning(session, plan, warning_id=warning_id,
                             title=parse.text(data, "title", "标题", required_=True),
                             body=parse.text(data, "body", "正文", required_=True), actor=current_user(), now=now())
    session.commit()
    return jsonify(surge.warning_view(row))


@bp.post("/consumer-warnings/<int:warning_id>/<action>")
@api_login_required
def warning_action(warning_id: int, action: str):
    """Submit a draft for approval; approve (publish) or return it; withdraw it."""
    data = request.get_json(silent=True) or {}
    note = data.get("note") if isinstance(data, dict) else None
    if note is not None and not isinstance(note, str):
        raise InvalidInput("bad_type", "意见须为文本", "note must be a string", field="note")
    plan, session, user, moment = yingji().plan, db(), current_user(), now()
    if action == "submit":
        row = surge.submit_warning(session, plan, warning_id=warning_id, actor=user, now=moment)
    elif action in ("approve", "return"):
        row = surge.decide_warning(session, plan, warning_id=warning_id, approve=action == "approve", note=note,
                                   actor=user, now=moment)
    elif action == "withdraw":
        row = surge.withdraw_warning(session, plan, warning_id=warning_id, note=note, actor=user, now=moment)
    else:
        raise InvalidInput("unknown_action", "操作应为 submit、approve、return 或 withdraw",
                           "action is submit, approve, return or withdraw", field="action")
    session.commit()
    return jsonify(surge.warning_view(row))
