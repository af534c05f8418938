"""PDF briefings and the closing-report workflow.

A PDF endpoint stores a `briefings` row, hands it to a small worker pool and waits for it a
few seconds (REPORTS_WAIT): a typical briefing comes back in the same response, with its
id and SHA-256 in the headers. One that takes longer, or a client that sends
`Prefer: respond-async`, gets 202 with the briefing's status URL to poll and the URL of
the stored PDF. The pool's threads render; the request threads (which also hold the live
boards) only wait.
"""
from __future__ import annotations

import io
import threading
import time as _time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

from flask import current_app, jsonify, request, send_file
from sqlalchemy import select

from app.api import bp, parse, serialize
from app.auth import api_login_required, current_user, token_actions
from app.extensions import Yingji, db, now, yingji
from incidents.response import closing, service
from incidents.people import permissions
from incidents.kernel.errors import Conflict, DomainError, Forbidden, InvalidInput
from incidents.models import BRIEFING_FAILED, BRIEFING_PENDING, BRIEFING_PRUNED, BRIEFING_READY, Briefing
from incidents.kernel.roles import ROLES, UNIT_ROLES
from reports import store, weekly_snapshot

MAX_PERIOD_DAYS = 366
# Before the 12315 platform, and far enough from date.min that midnight in Beijing still converts to UTC.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
DEFAULT_PERIOD_DAYS = 30
_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


class GenerationFailed(DomainError):
    """The briefing could not be generated (a bug or a broken database); it says so in Chinese."""

    status = 500


# --- the worker pool ---------------------------------------------------------------------------


def _pool() -> ThreadPoolExecutor:
    """Return the process's briefing workers (one pool: each job carries its app's wiring)."""
    global _executor
    with _pool_lock:
        if _executor is None:
            workers = int(current_app.config["REPORTS_WORKERS"])
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yingji-report")
    return _executor


def _work(wiring: Yingji, briefing_id: int) -> str:
    return store.generate(wiring.sessions, wiring.plan, briefing_id, now=wiring.clock.now)


def _wait(wiring: Yingji, briefing_id: int, seconds: float) -> None:
    """Wait until the briefing is ready or failed, or the time is up; no transaction stays open meanwhile."""
    deadline = _time.monotonic() + seconds
    pause = 0.02
    while _time.monotonic() < deadline:
        with wiring.sessions() as session:
            status = session.scalar(select(Briefing.status).where(Briefing.id == briefing_id))
        if status in (BRIEFING_READY, BRIEFING_FAILED):
            return
        _time.sleep(pause)
        pause = min(pause * 1.5, 0.25)


def _wants_async() -> bool:
    prefer = request.headers.get("Prefer", "").lower()
    return "respond-async" in prefer or request.args.get("async") in ("1", "true")


def _wants_json() -> bool:
    """Tell whether the client asked for the briefing's metadata rather than its bytes (Accept: application/json)."""
    return request.accept_mimetypes.best_match(["application/pdf", "application/json"]) == "application/json"


def _serve(kind: str, *, incident_id: int | None = None, params: dict | None = None):
    """Find or make the briefing, generate it off this thread, and answer the PDF or 202."""
    user, session, wiring = current_user(), db(), yingji()
    params = params or {}
    store.check_access(session, user, kind=kind, incident_id=incident_id, params=params, plan=wiring.plan)
    row = store.request(session, wiring.plan, kind=kind, incident_id=incident_id, params=params, actor=user,
                        now=now())
    briefing_id, status = row.id, row.status
    session.commit()  # the worker reads the row from its own session
    if status == BRIEFING_PENDING:
        # Also for a row another request made: the claim lets only one worker render it.
        _pool().submit(_work, wiring, briefing_id)
    if not _wants_async() and status != BRIEFING_READY:
        _wait(wiring, briefing_id, float(current_app.config["REPORTS_WAIT"]))
    return _answer(briefing_id)


def _answer(briefing_id: int):
    """Answer the stored PDF when it is ready, 202 with where to look while it is being made."""
    session, user = db(), current_user()
    session.expire_all()
    row = store.get(session, briefing_id, user=user, with_pdf=True, plan=yingji().plan)
    store.fail_if_stale(session, row, now())
    if not _wants_json():
        store.refuse_if_pruned(row)
    if row.status == BRIEFING_FAILED:
        session.commit()
        raise GenerationFailed("briefing_failed", f"简报生成失败：{row.error or '未知原因'}",
                               f"the briefing could not be generated (B{row.id:06d}); see the server log")
    if row.status != BRIEFING_READY or _wants_json():
        session.commit()
        body = jsonify({"briefing": store.as_dict(row)})
        if row.status in (BRIEFING_READY, BRIEFING_PRUNED):
            return body
        return body, 202, {"Location": f"/api/v1/briefings/{row.id}", "Retry-After": "2"}
    store.record_download(session, row, user=user, now=now())
    data = row.pdf
    session.commit()
    response = send_file(io.BytesIO(data), mimetype="application/pdf", download_name=row.filename,
                         as_attachment=False, etag=row.sha256, max_age=0)
    response.headers["X-Briefing-Id"] = str(row.id)
    response.headers["X-Briefing-SHA256"] = row.sha256
    response.headers["Content-Location"] = f"/api/v1/briefings/{row.id}.pdf"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# --- parameters ---------------------------------------------------------------------------------


def _local_today() -> date:
    return now().astimezone(yingji().plan.tz).date()


def _date(name: str, label: str, default: date) -> date:
    day = _any_date(name, label, default)
    if day < EARLIEST_DAY:
        raise InvalidInput("bad_date", f"{label}不能早于{EARLIEST_DAY.year}年", f"{name} is before {EARLIEST_DAY.year}",
                           field=name)
    if day > LATEST_DAY:
        raise InvalidInput("bad_date", f"{label}不能晚于{LATEST_DAY.year}年", f"{name} is after {LATEST_DAY.year}",
                           field=name)
    return day


def _any_date(name: str, label: str, default: date) -> date:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput("bad_date", f"{label}须为日期，如 2026-11-20",
                           f"{name} must be a date such as 2026-11-20", field=name)
    try:
        return moment.astimezone(yingji().plan.tz).date()
    except OverflowError:  # year 1 or 9999 with an offset leaves the calendar in local time
        raise InvalidInput("bad_date", f"{label}不能早于{EARLIEST_DAY.year}年或晚于{LATEST_DAY.year}年",
                           f"{name} is out of range", field=name) from None


# --- PDFs ------------------------------------------------------------------------------------------


@bp.get("/incidents/<int:incident_id>/briefing.pdf")
@api_login_required
def incident_briefing_pdf(incident_id: int):
    """The incident briefing (事件简报): level, report contents, clocks, assignments, escalation, timeline."""
    return _serve("incident", incident_id=incident_id)


@bp.get("/incidents/<int:incident_id>/closing-report.pdf")
@api_login_required
def closing_report_pdf(incident_id: int):
    """The closing report (应急处置工作总结) with the incident's full record attached."""
    if closing.get(db(), incident_id, user=current_user()) is None:
        raise Conflict("no_closing_report", "尚未提交应急处置工作总结，请先在事件页面填写并提交",
                       "no closing report has been submitted for this incident")
    return _serve("closing", incident_id=incident_id)


@bp.get("/reports/daily.pdf")
@api_login_required
def daily_pdf():
    """The daily situation report (每日汇总) of a day (default today, Beijing time)."""
    today = _local_today()
    day = _date("date", "日期", today)
    if day > today:
        raise InvalidInput("future_date", "日期不能晚于今天", "date is in the future", field="date")
    return _serve("daily", params={"day": day.isoformat()})


@bp.get("/reports/complaints-weekly.pdf")
@api_login_required
def complaints_weekly_pdf():
    """The weekly complaints summary (每周投诉举报情况汇总) of the week of `week` (default the last full week)."""
    plan = yingji().plan
    this_week = weekly_snapshot.week_start(_local_today())
    day = _date("week", "所在周的任一日期", weekly_snapshot.last_full_week(plan, now()))
    if day < EARLIEST_DAY:
        raise InvalidInput("bad_date", f"日期不能早于{EARLIEST_DAY.year}年", "week is too far in the past",
                           field="week")
    monday = weekly_snapshot.week_start(day)
    if monday > this_week:
        raise InvalidInput("future_week", "所选的周尚未开始，请选择本周或以前的日期", "that week has not begun",
                           field="week")
    return _serve("complaints_weekly", params={"week": monday.isoformat()})


@bp.get("/accountability.pdf")
@api_login_required
def accountability_pdf():
    """The accountability sheet (迟报漏报情况表) of a period: every late or missed report by unit."""
    user, plan = current_user(), yingji().plan
    today = _local_today()
    end = _date("to", "截止日期", today)
    start = _date("from", "起始日期", end - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    if end < start:
        raise InvalidInput("bad_period", "截止日期不能早于起始日期", "'to' is before 'from'", field="to")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise InvalidInput("period_too_long", f"期间不能超过{MAX_PERIOD_DAYS}天", "the period is longer than a year",
                           field="from")
    unit = (request.args.get("department") or "").strip() or None
    if user.role in UNIT_ROLES:
        unit = unit or user.unit  # their own; check_access refuses another unit
    elif unit and not plan.has_unit(unit):
        raise InvalidInput("unknown_unit", f"预案中没有科室或市场监督管理所“{unit}”", f"unknown unit '{unit}'",
                           field="department")
    params = {"from": start.isoformat(), "to": end.isoformat()}
    if unit:
        params["unit"] = unit
    return _serve("accountability", params=params)


# --- stored briefings ---------------------------------------------------------------------------------


@bp.get("/briefings/<int:briefing_id>")
@api_login_required
def briefing_status(briefing_id: int):
    """A stored briefing's status and metadata (hash, size, pages), without the bytes."""
    session = db()
    row = store.get(session, briefing_id, user=current_user(), plan=yingji().plan)
    store.fail_if_stale(session, row, now())
    session.commit()
    return jsonify({"briefing": store.as_dict(row)})


@bp.get("/briefings/<int:briefing_id>.pdf")
@api_login_required
def briefing_pdf(briefing_id: int):
    """The stored PDF of one briefing version, exactly as generated."""
    return _answer(briefing_id)


@bp.get("/briefings")
@api_login_required
def list_briefings():
    """Stored briefings the caller may read, newest first; `sha256=` finds the version a file is."""
    session, user = db(), current_user()
    stmt = select(Briefing).order_by(Briefing.id.desc()).limit(100)
    digest = (request.args.get("sha256") or "").strip().lower()
    if digest:
        stmt = stmt.where(Briefing.sha256 == digest)
    incident_id = parse.arg_id(request.args, "incident", "事件编号")
    if incident_id is not None:
        service.get_incident(session, incident_id, user=user)
        stmt = stmt.where(Briefing.incident_id == incident_id)
    kind = request.args.get("kind")
    if kind:
        if kind not in store.KINDS:
            raise InvalidInput("unknown_kind", f"未知简报类别“{kind[:40]}”，应为 {'、'.join(store.KINDS)} 之一",
                               f"unknown kind '{kind[:40]}'", field="kind")
        stmt = stmt.where(Briefing.kind == kind)
    out, plan = [], yingji().plan
    for row in session.scalars(stmt):
        try:
            store.check_access(session, user, kind=row.kind, incident_id=row.incident_id, params=row.params or {},
                               plan=plan)
        except DomainError:
            continue
        out.append(store.as_dict(row))
    return jsonify({"briefings": out})


# --- the closing report ------------------------------------------------------------------------------


def _closing_answer(incident_id: int, status: int = 200):
    session = db()
    row = closing.get(session, incident_id, user=current_user())
    incident = service.get_incident(session, incident_id)
    plan = service.plan_of(incident)
    return jsonify({"closing_report": closing.as_dict(row) if row else None,
                    "approvers": list(closing.approvers(plan)),
                    "sections": [{"key": k, "name": n} for k, n in closing.SECTIONS],
                    "incident": serialize.incident(incident, now())}), status


@bp.get("/incidents/<int:incident_id>/closing-report")
@api_login_required
def get_closing_report(incident_id: int):
    """The incident's handling summary (应急处置工作总结; null before one is submitted) and who approves it."""
    return _closing_answer(incident_id)


@bp.post("/incidents/<int:incident_id>/closing-report")
@api_login_required
@token_actions("report:summary")
def submit_closing_report(incident_id: int):
    """Submit the handling summary (cause required) before the end; it files a `summary` report."""
    data = parse.body()
    form = closing.ClosingForm(
        cause=parse.text(data, "cause", "事件发生的原因") or "",
        **{k: parse.text(data, k, n) or "" for k, n in closing.SECTIONS[1:]},
        investigators=parse.text(data, "investigators", "原因调查小组") or "",
    )
    session = db()
    closing.submit(session, incident_id=incident_id, form=form, actor=current_user(), now=now(),
                   submitted_at=parse.timestamp(data, "submitted_at", "报送时间"))
    session.commit()
    return _closing_answer(incident_id, 201)


@bp.post("/incidents/<int:incident_id>/closing-report/approve")
@api_login_required
def approve_closing_report(incident_id: int):
    """Approve the submitted summary (the role the plan names): the decision that the end may be declared."""
    data = request.get_json(silent=True) or {}
    note = parse.text(data, "note", "审批意见") if isinstance(data, dict) else None
    session = db()
    closing.approve(session, incident_id=incident_id, note=note, actor=current_user(), now=now())
    session.commit()
    return _closing_answer(incident_id)


@bp.post("/incidents/<int:incident_id>/closing-report/return")
@api_login_required
def return_closing_report(incident_id: int):
    """Return the submitted summary for revision, with a reason."""
    data = parse.body()
    session = db()
    closing.return_for_revision(session, incident_id=incident_id,
                                reason=parse.text(data, "reason", "退回理由", required_=True),
                                actor=current_user(), now=now())
    session.commit()
    return _closing_answer(incident_id)


@bp.app_template_global("may_read_briefing")
def may_read_briefing(kind: str) -> bool:
    """Tell whether the signed-in user may read this kind of period briefing (a page shows its button only then)."""
    try:
        store.check_access(db(), current_user(), kind=kind, incident_id=None, params={}, plan=yingji().plan)
    except DomainError:
        return False
    return True


@bp.app_template_global("closing_view")
def closing_view(incident_id: int) -> dict:
    """Return what the incident page shows of the handling summary for the signed-in user, and what they may do."""
    session, user = db(), current_user()
    incident = service.get_incident(session, incident_id)
    plan = service.plan_of(incident)
    row = closing.get(session, incident_id)
    try:
        permissions.require(user, "report:summary", incident, plan)
        may_submit = True
    except Forbidden:
        may_submit = False
    allowed = closing.approvers(plan)
    return {"row": closing.as_dict(row) if row else None, "status": row.status if row else "none",
            "may_submit": may_submit, "may_approve": user.role in allowed,
            "approvers": "、".join(ROLES.get(r, r) for r in allowed),
            "sections": [{"key": k, "name": n, "required": k == "cause"} for k, n in closing.SECTIONS]}
