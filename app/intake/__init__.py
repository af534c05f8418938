"""The public 12315 pages: the complaint and tip-off form, the status lookup, the consumer warnings.

No login. Every form carries the browser session's CSRF token; every answer keeps what was
typed when something is wrong (the message says what, in Chinese, next to the field); text
from the public is only ever shown through the templates' escaping.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from incidents.kernel import labels
from app.auth import check_csrf
from app.extensions import db, now, yingji
from app.intake import guard, verify
from incidents import complaints
from incidents.complaints import surge
from incidents.complaints import InvalidComplaint, RateLimited
from incidents.kernel.errors import DomainError, NotFound
from incidents.models import WARNING_PUBLISHED

bp = Blueprint("intake", __name__, url_prefix="/12315", template_folder="templates", static_folder="static",
               static_url_path="/static", cli_group="complaints")

FIELDS = ("kind", "name", "phone", "address", "business_name", "business_address", "credit_code", "category",
          "purchased_at", "amount", "order_no", "description", "demand", "area")
DONE_KEY = "intake_done"


@bp.record_once
def _setup(_state) -> None:
    guard.mask_logs()


@bp.after_request
def _headers(response):
    # Public pages: never framed by another site, never cached with someone's status on them.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.method == "POST" or request.endpoint in ("intake.status", "intake.submitted"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _form(values: dict, errors: dict, *, message: str | None = None, status: int = 200, headers=None,
          info: str | None = None):
    plan = yingji().plan
    how = verify.method()
    body = render_template("intake/form.html", values=values, errors=errors, message=message, info=info,
                           verification=how, captcha_token=verify.new_captcha() if how == "captcha" else None,
                           categories=plan.complaints.categories, demands=plan.complaints.demands,
                           stations=plan.stations, max_text=plan.complaints.max_text, limits=complaints.LIMITS,
                           active="form")
    return body, status, headers or {}


@bp.route("", methods=["GET", "POST"], strict_slashes=False)
def form():
    """Show the complaint and tip-off form, and take it: a tracking number, or the form again with what to fix."""
    if request.method == "GET":
        kind = request.args.get("kind")
        return _form({"kind": kind if kind in labels.COMPLAINT_KIND else "complaint"}, {})
    values = {name: request.form.get(name, "") for name in FIELDS}
    values["verification_code"] = request.form.get("verification_code", "")[:20]
    action = request.form.get("action", "")
    if guard.too_big():
        # Everything typed comes back, with what is too long marked; nothing is counted or stored.
        return _form(values, guard.too_long(values), status=413,
                     message="提交的内容过多，请精简标出的内容后重新提交（您填写的内容已保留）")
    try:
        check_csrf()
    except DomainError:
        return _form(values, {}, message="页面已过期，请再次点击“提交”（您填写的内容已保留）", status=400)
    if action == "send_code":
        return _send_code(values)
    if action == "new_captcha":
        return _form(values, {})  # the form again, as typed, with another captcha
    if verify.method() == "captcha":
        token, answer = request.form.get("captcha_token", ""), request.form.get("captcha", "")[:20]

        def check(phone: str):
            return verify.redeem_captcha(token, answer, phone)
    else:
        code = values["verification_code"].strip()

        def check(phone: str):
            return verify.redeem_code(phone, code) if code else None
    try:
        complaint = guard.submit(values, source="web", verify=check)
    except InvalidComplaint as exc:
        return _form(values, exc.errors, message=exc.message_zh, status=400)
    except RateLimited as exc:
        return _form(values, {}, message=exc.message_zh, status=429, headers={"Retry-After": str(exc.retry_after)})
    session[DONE_KEY] = {"no": complaint.tracking_no, "kind": complaint.kind,
                         "phone": complaints.mask_phone(complaint.phone)}
    return redirect(url_for("intake.submitted"), code=303)


def _send_code(values: dict):
    """Send the SMS code to the phone typed and show the form again, as typed, with where to enter it."""
    values["verification_code"] = ""
    try:
        masked = verify.send_code(values["phone"])
    except InvalidComplaint as exc:
        return _form(values, exc.errors, message=exc.message_zh, status=400)
    except RateLimited as exc:
        return _form(values, {}, message=exc.message_zh, status=429, headers={"Retry-After": str(exc.retry_after)})
    except DomainError as exc:
        return _form(values, {}, message=exc.message_zh, status=exc.status)
    return _form(values, {}, info=f"验证码已发送至 {masked}，5分钟内有效。请在下方“短信验证码”中填写后提交。")


@bp.get("/captcha/<token>.png")
def captcha_image(token: str):
    """Return the form's captcha image."""
    body = verify.captcha_png(token)
    if body is None:
        abort(404)
    return body, 200, {"Content-Type": "image/png", "Cache-Control": "no-store"}


@bp.get("/captcha/<token>.wav")
def captcha_audio(token: str):
    """Return the form's captcha read aloud, for those who cannot see the image."""
    body = verify.captcha_wav(token)
    if body is None:
        abort(404)
    return body, 200, {"Content-Type": "audio/wav", "Cache-Control": "no-store"}


@bp.get("/submitted")
def submitted():
    """Show the tracking number of the complaint this browser just filed."""
    done = session.get(DONE_KEY)
    if not done:
        return redirect(url_for("intake.form"))
    return render_template("intake/submitted.html", done=done, kind_name=labels.COMPLAINT_KIND.get(done["kind"], ""),
                           active="form")


@bp.route("/status", methods=["GET", "POST"])
def status():
    """Look a complaint up by tracking number and phone; show its status and nothing to anyone else."""
    values = {"tracking_no": "", "phone": ""}
    if request.method == "GET":
        done = session.get(DONE_KEY)
        values["tracking_no"] = done["no"] if done else ""
        return render_template("intake/status.html", values=values, result=None, message=None, active="status")
    values = {"tracking_no": request.form.get("tracking_no", "")[:40], "phone": request.form.get("phone", "")[:40]}

    def again(message: str, code: int, headers=None):
        return render_template("intake/status.html", values=values, result=None, message=message,
                               active="status"), code, headers or {}

    try:
        check_csrf()
    except DomainError:
        return again("页面已过期，请再次点击“查询”", 400)
    if not values["tracking_no"].strip() or not values["phone"].strip():
        return again("请填写查询码和投诉时填写的手机号码", 400)
    try:
        guard.check_status_rate()
    except RateLimited as exc:
        return again(exc.message_zh, 429, {"Retry-After": str(exc.retry_after)})
    try:
        complaint = complaints.public_lookup(db(), values["tracking_no"], values["phone"])
    except NotFound as exc:
        return again(exc.message_zh, 404)
    return render_template("intake/status.html", values={"tracking_no": complaint.tracking_no, "phone": ""},
                           result=complaints.public_view(yingji().plan, complaint), message=None, active="status")


@bp.get("/warnings")
def warnings():
    """List the consumer warnings (消费预警) leadership approved for publication."""
    rows = surge.published(db())
    return render_template("intake/warnings.html", warnings=rows, active="warnings")


@bp.get("/warnings/<int:warning_id>")
def warning(warning_id: int):
    """Show one published consumer warning."""
    try:
        row = surge.get_warning(db(), warning_id)
    except NotFound:
        abort(404)
    if row.status != WARNING_PUBLISHED:
        abort(404)  # a draft is not public, not even by its number
    return render_template("intake/warning.html", w=row, active="warnings")


def today_local() -> str:
    """Return today's date in the plan's zone, for the form's date limit."""
    return local_day(yingji().plan.tz, now()).isoformat()


bp.add_app_template_global(today_local, "intake_today")

from app.intake import cli  # noqa: E402  (the `flask complaints ...` commands)
from incidents.kernel.moments import local_day

cli.register(bp)
