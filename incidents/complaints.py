"""12315 complaints and tip-offs (SPEC §8): intake, triage, tracking, working-day limits, retention.

The public files a complaint (投诉) or a tip-off (举报) and gets a tracking number; with it and
the phone number they typed, they see its status and nothing else. The complaint centre triages
(分流) each one to the department its category suggests, or re-routes it; the department decides
on acceptance, mediates and answers (反馈). The statutory limits are plan data counted in Chinese
working days from the injected calendar (incidents/calendar.py): a limit that reaches into a year
without an official notice is counted on the statutory holidays and says it is an estimate.

Intake is kept lean so that a surge of the public does not queue on shared rows: a submission
inserts its complaint and its limits and nothing else. The audit trail gets one digest entry per
batch of received complaints (`chain_received`, run by the scheduler), and the boards hear about
new complaints from the same job, not from each submission.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session, selectinload

from incidents.records import audit, board_events
from incidents import escalation
from incidents.records.board_events import department_room
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from incidents.kernel.db import UTCDateTime
from incidents.kernel.calendar import WorkdayCalendar, add_working_days, working_days_left
from incidents.models import (
    CANCELLED,
    ESC_RESOLVED,
    ESC_STOPPED,
    LATE,
    MET,
    PENDING,
    Complaint,
    ComplaintLimitChange,
    ComplaintLimitRow,
    ConsumerWarning,
    RateBucket,
    Surge,
)
from incidents.plan import ComplaintLimit, Plan, RateLimit
from incidents.kernel.roles import ADMIN, COMMANDER, DEPARTMENT_ROLES, LEADER, OFFICE, STATION, VIEWER
from incidents.kernel.actors import SystemActor, actor_id

# --- kinds and statuses ----------------------------------------------------------------------

COMPLAINT, TIPOFF = "complaint", "tipoff"
KIND_NAMES = {COMPLAINT: "投诉", TIPOFF: "举报"}
RECEIVED, ACCEPTED, REFUSED, MEDIATING, CLOSED = "received", "accepted", "refused", "mediating", "closed"
FILED, NOT_FILED = "filed", "not_filed"
STATUS_NAMES = {RECEIVED: "已收到，待受理", ACCEPTED: "已受理", REFUSED: "不予受理", MEDIATING: "调解中",
                CLOSED: "已办结", FILED: "已立案", NOT_FILED: "不予立案"}
# What each status may become, per kind; a final status ends the complaint (and starts retention).
TRANSITIONS = {
    (COMPLAINT, RECEIVED): (ACCEPTED, REFUSED),
    (COMPLAINT, ACCEPTED): (MEDIATING, CLOSED),
    (COMPLAINT, MEDIATING): (CLOSED,),
    (TIPOFF, RECEIVED): (FILED, NOT_FILED),
    (TIPOFF, FILED): (CLOSED,),
}
FINAL = (REFUSED, CLOSED, NOT_FILED)
OPEN_STATUSES = (RECEIVED, ACCEPTED, MEDIATING, FILED)
# These need a department that handles the complaint; a refusal may come from the centre itself.
NEED_DEPARTMENT = (ACCEPTED, MEDIATING, CLOSED, FILED)
ACTION_NAMES = {ACCEPTED: "受理", REFUSED: "不予受理", MEDIATING: "开始调解", CLOSED: "办结并答复",
                FILED: "立案", NOT_FILED: "不予立案"}
LIMIT_STATE_NAMES = {"running": "计时中", "warn": "即将到期", "overdue": "已超期", MET: "按时办结", LATE: "超期办结",
                     CANCELLED: "已取消"}

SOURCES = ("web", "api")
ERASED_TEXT = "（个人信息已按保存期限删除）"
INTAKE = SystemActor(name="12315-intake")

FIELD_NAMES = {
    "kind": "类型", "name": "姓名", "phone": "手机号码", "address": "联系地址", "business_name": "被投诉经营者名称",
    "business_address": "经营者地址", "credit_code": "统一社会信用代码", "category": "投诉类别",
    "purchased_at": "消费时间", "amount": "涉及金额", "order_no": "订单号", "description": "事情经过",
    "demand": "投诉请求", "area": "所在乡镇（街道）", "department": "承办科室", "reason": "理由",
    "answer": "答复内容", "note": "说明", "to": "状态",
}
LIMITS = {"name": 40, "address": 200, "business_name": 100, "business_address": 200, "order_no": 64,
          "note": 2000, "reason": 2000, "answer": 2000}
MIN_DESCRIPTION = 5
MAX_AMOUNT = Decimal("100000000")


class InvalidComplaint(InvalidInput):
    """A submission with one or more fields wrong; `errors` maps each field to its Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__("invalid_complaint", message if len(errors) == 1 else f"有{len(errors)}处需要修改：{message}",
                         f"{len(errors)} field(s) need correcting: {', '.join(errors)}", field=field)
        self.errors = errors

    def as_dict(self) -> dict:
        """Return the error with every field's message."""
        return {**super().as_dict(), "errors": dict(self.errors)}


class RateLimited(InvalidInput):
    """Too many requests from one address or phone; the web layer answers 429."""

    status = 429

    def __init__(self, retry_after: int, what: str) -> None:
        minutes = max(1, -(-retry_after // 60))
        when = f"{minutes}分钟" if minutes < 120 else f"{-(-minutes // 60)}小时"
        super().__init__("rate_limited", f"{what}提交过于频繁，请{when}后再试。已填写的内容不会丢失。",
                         f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after


# --- small checks: phones, ID numbers, credit codes ----------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# GB 32100-2015: 18 characters from this set (no I, O, Z, S, V); the last is a check character.
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_phone(raw: str) -> str | None:
    """Return an 11-digit mainland mobile number from what was typed (+86, spaces, dashes), or None."""
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", raw or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def mask_phone(phone: str | None) -> str:
    """Hide the middle of a mobile number: 13812345678 -> 138****5678."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * max(len(phone) - 2, 0) + phone[-2:]
    return phone[:3] + "****" + phone[-4:]


def id_number_valid(number: str) -> bool:
    """Tell whether an 18-character resident ID number has the right check character (GB 11643)."""
    if not re.fullmatch(r"\d{17}[\dXx]", number or ""):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def mask_id_number(number: str) -> str:
    """Hide the middle of an ID number: 410122199001011234 -> 4101**********1234."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def redact(text: str | None) -> str:
    """Mask mobile and ID numbers written inside free text, for boards, pushed events and logs."""
    if not text:
        return text or ""
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)) if id_number_valid(m.group(0)) else m.group(0),
                           text)


def mask_name(name: str | None) -> str:
    """Keep the first character of a name: 张三丰 -> 张**."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def credit_code_check_char(first17: str) -> str:
    """Return the check character of a unified social credit code's first 17 characters."""
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Say in Chinese what is wrong with a unified social credit code (统一社会信用代码), or None."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位"
    bad = sorted({ch for ch in code if ch not in CREDIT_CHARS})
    if bad:
        return f"统一社会信用代码含有不允许的字符“{''.join(bad)}”（不使用 I、O、Z、S、V）"
    if credit_code_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确，请核对营业执照上的代码"
    return None


def business_key(name: str) -> str:
    """Return the form of a business name that complaints about it share (width, case, spaces, punctuation)."""
    text = unicodedata.normalize("NFKC", name).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PS"))[:200]


# --- tracking numbers ------------------------------------------------------------------------------

# Crockford's base 32: no I, L, O, U, so that a number read out over the phone is not misheard.
_TRACK = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TRACK_FIX = str.maketrans({"I": "1", "L": "1", "O": "0"})
_TRACK_RE = re.compile(r"^(TS|JB)(\d{8})-([0-9A-Z]{7})$")
PREFIX = {COMPLAINT: "TS", TIPOFF: "JB"}


def _track_check(body: str) -> str:
    # A prime modulus: every single mistyped character changes the check character.
    return _TRACK[sum((i + 1) * _TRACK.index(ch) for i, ch in enumerate(body)) % 31]


def new_tracking_no(kind: str, day: date) -> str:
    """Return a fresh tracking number, e.g. TS20261120-7K3M9QX (6 random characters and a check character)."""
    body = "".join(secrets.choice(_TRACK) for _ in range(6))
    return f"{PREFIX[kind]}{day:%Y%m%d}-{body}{_track_check(body)}"


def normalise_tracking_no(raw: str) -> str | None:
    """Return the tracking number as stored, from what a person typed; None if it cannot be one."""
    text = re.sub(r"[\s\-－—]", "", unicodedata.normalize("NFKC", raw or "")).upper()
    if len(text) != 17:
        return None
    text = text[:10] + text[10:].translate(_TRACK_FIX)
    candidate = f"{text[:10]}-{text[10:]}"
    m = _TRACK_RE.match(candidate)
    if not m or any(ch not in _TRACK for ch in m.group(3)) or _track_check(m.group(3)[:6]) != m.group(3)[6]:
        return None
    return candidate


# --- working days ----------------------------------------------------------------------------------


def local_day(plan: Plan, moment: datetime) -> date:
    """Return the date of a moment in the plan's time zone (Beijing)."""
    return moment.astimezone(ZoneInfo(plan.timezone)).date()


def day_start(plan: Plan, day: date) -> datetime:
    """Return midnight at the start of a day in the plan's zone, as an aware time."""
    return datetime.combine(day, time(0), ZoneInfo(plan.timezone))


@dataclass(frozen=True)
class LimitTiming:
    """When a limit runs out and when it starts to show as about to."""

    starts_on: date
    due_on: date
    due_at: datetime
    warn_at: datetime
    estimated: bool
    note: str | None


def limit_timing(plan: Plan, calendar: WorkdayCalendar, rule: ComplaintLimit, started: datetime) -> LimitTiming:
    """Count a limit from the day its event happened: due at the end of its last working day."""
    start = local_day(plan, started)
    due = add_working_days(calendar, start, rule.working_days)
    due_at = day_start(plan, due.day + timedelta(days=1))
    if rule.warn_working_days:
        # Shown from the start of the day that leaves `warn_working_days` working days, that day included.
        warn = add_working_days(calendar, start, rule.working_days - rule.warn_working_days + 1)
        warn_at = day_start(plan, warn.day)
    else:
        warn_at = due_at
    return LimitTiming(start, due.day, due_at, warn_at, due.estimated, due.note)


def limit_state(row: ComplaintLimitRow, now: datetime) -> str:
    """Return running, warn or overdue for a pending limit; else its stored status."""
    if row.status != PENDING:
        return row.status
    if now >= row.due_at:
        return "overdue"
    return "warn" if now >= row.warn_at else "running"


# --- intake --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanComplaint:
    """A submission that passed every check, in the form it is stored."""

    kind: str
    name: str
    phone: str
    address: str
    business_name: str
    business_address: str
    credit_code: str | None
    category: str
    purchased_on: date | None
    amount: float | None
    order_no: str | None
    description: str
    demand: str | None
    area: str | None


def _clean_text(value: Any, *, multiline: bool = False) -> str:
    if value is None:
        return ""
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise TypeError
    text = _CONTROL.sub("", text)  # NUL and other control characters: PostgreSQL refuses NUL
    if not multiline:
        text = " ".join(text.split())
    else:
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return text.strip()


def infer_area(plan: Plan, address: str) -> str | None:
    """Guess the station whose area an address lies in, from the town names in the stations' names."""
    for station in plan.stations:
        town = station.name.replace("市场监督管理所", "")
        if town and town in address:
            return station.code
    return None


def validate(plan: Plan, data: Mapping[str, Any], *, now: datetime) -> CleanComplaint:
    """Check a submission; raise InvalidComplaint naming every field that needs correcting."""
    rules = plan.complaints
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in ("kind", "name", "phone", "address", "business_name", "business_address", "credit_code", "category",
                 "purchased_at", "amount", "order_no", "description", "demand", "area"):
        try:
            values[name] = _clean_text(data.get(name), multiline=name == "description")
        except TypeError:
            errors[name] = f"{FIELD_NAMES[name]}应为文字"
            values[name] = ""

    kind = values["kind"] or COMPLAINT
    if kind not in KIND_NAMES:
        errors.setdefault("kind", "类型应为投诉或举报")
        kind = COMPLAINT

    def need(name: str, text: str) -> None:
        if not values[name]:
            errors.setdefault(name, text)

    def cap(name: str, limit: int) -> None:
        if len(values[name]) > limit:
            errors.setdefault(name, f"{FIELD_NAMES[name]}过长（最多{limit}字，当前{len(values[name])}字）")

    if kind == COMPLAINT:
        need("name", "请填写您的姓名")
    cap("name", LIMITS["name"])
    phone = normalise_phone(values["phone"])
    if not values["phone"]:
        errors.setdefault("phone", "请填写手机号码（用于查询办理进度和联系您）")
    elif phone is None:
        errors.setdefault("phone", "手机号码格式不正确，请填写11位手机号码，如 13812345678")
    cap("address", LIMITS["address"])
    need("business_name", "请填写被投诉（举报）的经营者名称，如店铺招牌名")
    cap("business_name", LIMITS["business_name"])
    need("business_address", "请填写经营者地址")
    cap("business_address", LIMITS["business_address"])
    code = values["credit_code"].upper().replace(" ", "") or None
    if code:
        problem = credit_code_problem(code)
        if problem:
            errors.setdefault("credit_code", problem + "；不清楚可不填")
    category = values["category"]
    if not category:
        errors.setdefault("category", "请选择投诉类别")
    else:
        try:
            rules.category(category)
        except KeyError:
            errors.setdefault("category", f"没有这个投诉类别（{category[:20]}），请从列表中选择")
    purchased_on = _purchase_day(plan, values["purchased_at"], now, errors)
    amount = _amount(values["amount"], errors)
    cap("order_no", LIMITS["order_no"])
    if not values["description"]:
        errors.setdefault("description", "请写明事情经过：时间、地点、商品或服务、发生了什么")
    elif len(values["description"]) < MIN_DESCRIPTION:
        errors.setdefault("description", f"事情经过太简短，请至少写{MIN_DESCRIPTION}个字")
    elif len(values["description"]) > rules.max_text:
        errors.setdefault("description",
                          f"事情经过过长（最多{rules.max_text}字，当前{len(values['description'])}字），请精简")
    demand = values["demand"] or None
    if kind == COMPLAINT:
        codes = [c for c, _ in rules.demands]
        if not demand:
            errors.setdefault("demand", "请选择您的投诉请求（退款、更换、赔偿等）")
        elif codes and demand not in codes:
            errors.setdefault("demand", "请从列表中选择投诉请求")
    else:
        demand = None  # a tip-off asks for an investigation, not for something for the complainant
    area = values["area"] or None
    if area is not None and not any(s.code == area for s in plan.stations):
        errors.setdefault("area", "请从列表中选择所在乡镇（街道）")
    if errors:
        raise InvalidComplaint(errors)
    return CleanComplaint(
        kind=kind, name=values["name"] or "匿名", phone=phone, address=values["address"],
        business_name=values["business_name"], business_address=values["business_address"], credit_code=code,
        category=category, purchased_on=purchased_on, amount=amount, order_no=values["order_no"] or None,
        description=values["description"], demand=demand,
        area=area or infer_area(plan, values["business_address"]),
    )


def _purchase_day(plan: Plan, text: str, now: datetime, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            day = local_day(plan, moment) if moment.tzinfo else moment.date()
    except ValueError:
        errors.setdefault("purchased_at", "消费时间格式不正确，请按 2026-11-20 的格式填写")
        return None
    if day > local_day(plan, now):
        errors.setdefault("purchased_at", "消费时间不能晚于今天")
    elif day.year < 1990:
        errors.setdefault("purchased_at", "消费时间不正确，请核对年份")
    return day


def _amount(text: str, errors: dict[str, str]) -> float | None:
    if not text:
        return None
    cleaned = text.replace("¥", "").replace("￥", "").replace("元", "").replace(",", "").replace("，", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        errors.setdefault("amount", "涉及金额应为数字，如 128.50（单位：元）")
        return None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        errors.setdefault("amount", "涉及金额不正确，请填写0到1亿之间的金额（单位：元）")
        return None
    if value != value.quantize(Decimal("0.01")):
        errors.setdefault("amount", "涉及金额最多保留两位小数（到“分”）")
        return None
    return float(value)


def content_hash(clean: CleanComplaint) -> str:
    """Return the SHA-256 of what was submitted, for the audit digest (the text itself is not chained)."""
    body = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in clean.__dict__.items()}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What the complainant is told when a submission is stored."""

    id: int
    tracking_no: str
    kind: str
    status: str
    category: str
    phone: str
    received_at: datetime


# The intake is the one path the public can push hard: it runs as two plain INSERTs, built once,
# without the ORM's unit of work (which costs more CPU than the rest of the request together).
_INSERT_COMPLAINT = insert(Complaint.__table__).returning(Complaint.__table__.c.id)
_INSERT_LIMITS = insert(ComplaintLimitRow.__table__)


def submit(session: Session, plan: Plan, calendar: WorkdayCalendar, clean: CleanComplaint, *, now: datetime,
           source: str = "web") -> Receipt:
    """Store a checked submission with a new tracking number and start its time limits."""
    category = plan.complaints.category(clean.category)
    number = new_tracking_no(clean.kind, local_day(plan, now))
    complaint_id = session.execute(_INSERT_COMPLAINT, {
        "tracking_no": number, "kind": clean.kind, "status": RECEIVED, "category": clean.category,
        "suggested_department": category.department, "department": None, "name": clean.name, "phone": clean.phone,
        "address": clean.address, "business_name": clean.business_name,
        "business_key": business_key(clean.business_name), "business_address": clean.business_address,
        "credit_code": clean.credit_code, "area": clean.area, "purchased_on": clean.purchased_on,
        "amount": clean.amount, "order_no": clean.order_no, "description": clean.description,
        "demand": clean.demand, "source": source if source in SOURCES else "web",
        "content_sha256": content_hash(clean), "received_at": now, "updated_at": now}).scalar_one()
    rows = [{"complaint_id": complaint_id, **spec}
            for spec in _limit_specs(plan, calendar, clean.kind, "received", plan.complaints.centre, at=now, now=now)]
    if rows:
        session.execute(_INSERT_LIMITS, rows)
    return Receipt(complaint_id, number, clean.kind, RECEIVED, clean.category, clean.phone, now)


def _responsible(plan: Plan, complaint: Complaint) -> str:
    return complaint.department or plan.complaints.centre


def _limit_specs(plan: Plan, calendar: WorkdayCalendar, kind: str, event: str, department: str, *, at: datetime,
                 now: datetime) -> list[dict]:
    """Return the columns of the limits that an event (received, accepted) starts for this kind."""
    out = []
    for rule in plan.complaints.limits:
        if rule.starts_on != event or kind not in rule.applies_to:
            continue
        timing = limit_timing(plan, calendar, rule, at)
        out.append({"kind": rule.kind, "name": rule.name, "department": department, "starts_on": timing.starts_on,
                    "working_days": rule.working_days, "due_on": timing.due_on, "due_at": timing.due_at,
                    "warn_at": timing.warn_at, "estimated": timing.estimated, "estimate_note": timing.note,
                    "status": PENDING, "created_at": now})
    return out


def _start_limits(plan: Plan, calendar: WorkdayCalendar, complaint: Complaint, event: str, *, at: datetime,
                  now: datetime) -> list[ComplaintLimitRow]:
    started = []
    for spec in _limit_specs(plan, calendar, complaint.kind, event, _responsible(plan, complaint), at=at, now=now):
        row = ComplaintLimitRow(**spec)
        complaint.limits.append(row)
        started.append(row)
    return started


# --- rate limits -----------------------------------------------------------------------------------------

_UPSERTS: dict[int, Any] = {}
_PREVIOUS: dict[int, Any] = {}


def _upsert_sql(n: int):
    # One statement for every key of a request (ON CONFLICT works on SQLite and PostgreSQL alike).
    if n not in _UPSERTS:
        values = ", ".join(f"(:k{i}, :w{i}, 1)" for i in range(n))
        _UPSERTS[n] = text(
            f"INSERT INTO rate_buckets (key, window_start, count) VALUES {values} "
            "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_buckets.count + 1 RETURNING key, count"
        ).bindparams(*[bindparam(f"w{i}", type_=UTCDateTime()) for i in range(n)])
        where = " OR ".join(f"(key = :k{i} AND window_start = :w{i})" for i in range(n))
        _PREVIOUS[n] = text(f"SELECT key, count FROM rate_buckets WHERE {where}").bindparams(
            *[bindparam(f"w{i}", type_=UTCDateTime()) for i in range(n)])
    return _UPSERTS[n], _PREVIOUS[n]


def rate_hits(session: Session, checks: list[tuple[str, RateLimit]], *, now: datetime) -> list[int | None]:
    """Count one request against each key; return, per key, the seconds to wait when over its limit, else None.

    A sliding window from two fixed ones: the previous window's count, weighted by how much of it
    still overlaps the last `window`, plus the current one's. Rows, not memory: the limit holds
    across processes and servers on SQLite and PostgreSQL alike. Two statements whatever the
    number of keys: the counts go up in one, the previous windows are read in the other.
    """
    if not checks:
        return []
    epoch = now.timestamp()
    starts = []
    for _, rule in checks:
        width = rule.window.total_seconds()
        starts.append(epoch - epoch % width)
    upsert, previous = _upsert_sql(len(checks))
    params = {}
    for i, ((key, _), start_ts) in enumerate(zip(checks, starts)):
        params[f"k{i}"], params[f"w{i}"] = key, datetime.fromtimestamp(start_ts, now.tzinfo)
    current = dict(session.execute(upsert, params).all())
    for i, ((_, rule), start_ts) in enumerate(zip(checks, starts)):
        params[f"w{i}"] = datetime.fromtimestamp(start_ts - rule.window.total_seconds(), now.tzinfo)
    before = dict(session.execute(previous, params).all())
    waits: list[int | None] = []
    for (key, rule), start_ts in zip(checks, starts):
        width = rule.window.total_seconds()
        cur, prev = current[key], before.get(key, 0)
        estimate = prev * (1 - (epoch - start_ts) / width) + cur
        if estimate <= rule.count:
            waits.append(None)
        elif cur > rule.count:
            waits.append(max(1, int(start_ts + width - epoch)))
        else:
            # The previous window's share fades as time goes on: wait until it has faded enough.
            waits.append(max(1, int((estimate - rule.count) / prev * width)) if prev else 1)
    return waits


def rate_hit(session: Session, key: str, rule: RateLimit, *, now: datetime) -> int | None:
    """Count one request against a key; return the seconds to wait when it is over the limit, else None."""
    return rate_hits(session, [(key, rule)], now=now)[0]


def purge_rate_buckets(session: Session, *, longest: timedelta, now: datetime) -> int:
    """Delete counters older than two of the longest window; return how many."""
    result = session.execute(delete(RateBucket).where(RateBucket.window_start < now - 2 * longest))
    return result.rowcount or 0


# --- access ------------------------------------------------------------------------------------------------

ALL_SEEING = frozenset({LEADER, COMMANDER, OFFICE, VIEWER, ADMIN})


def is_centre(user, plan: Plan) -> bool:
    """Tell whether the user works at the complaint centre (its duty officer or head)."""
    return user.role in DEPARTMENT_ROLES and user.unit == plan.complaints.centre


def can_view(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether a member of staff may see a complaint (masked)."""
    if user.role in ALL_SEEING or is_centre(user, plan):
        return True
    if user.role in DEPARTMENT_ROLES:
        return complaint.department == user.unit
    if user.role == STATION:
        return complaint.area == user.unit
    return user.role == "system"


def can_triage(user, plan: Plan) -> bool:
    """Tell whether the user may route complaints: the centre, and the office."""
    return is_centre(user, plan) or user.role == OFFICE or user.role == "system"


def can_handle(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether the user may move a complaint on: the centre, the office, the department it is routed to."""
    if can_triage(user, plan):
        return True
    return user.role in DEPARTMENT_ROLES and complaint.department is not None and user.unit == complaint.department


def can_see_contact(user, plan: Plan, complaint: Complaint) -> bool:
    """Tell whether the user's work needs the full phone number: the centre and the handling department."""
    return is_centre(user, plan) or (user.role in DEPARTMENT_ROLES and complaint.department is not None
                                     and user.unit == complaint.department)


def _forbid(zh: str, en: str) -> Forbidden:
    return Forbidden("forbidden", zh, en)


def visible_filter(user, plan: Plan):
    """Return the SQL condition for the complaints a user may see (None: all)."""
    if user.role in ALL_SEEING or is_centre(user, plan) or user.role == "system":
        return None
    if user.role in DEPARTMENT_ROLES:
        return Complaint.department == user.unit
    if user.role == STATION:
        return Complaint.area == user.unit
    return Complaint.id < 0


def get_complaint(session: Session, plan: Plan, tracking_no: str, *, user=None, for_update: bool = False) -> Complaint:
    """Load a complaint by tracking number, refusing one the user may not see as if it did not exist."""
    number = normalise_tracking_no(tracking_no) or tracking_no
    stmt = select(Complaint).where(Complaint.tracking_no == number)
    if for_update:
        stmt = stmt.with_for_update()
    complaint = session.scalar(stmt)
    if complaint is None or (user is not None and not can_view(user, plan, complaint)):
        raise NotFound("not_found", f"投诉举报 {tracking_no[:24]} 不存在", f"complaint {tracking_no[:24]} not found")
    return complaint


def public_lookup(session: Session, tracking_no: str, phone: str) -> Complaint:
    """Find a complaint by its tracking number and the phone it was filed with; the same 404 for either wrong."""
    number = normalise_tracking_no(tracking_no)
    mobile = normalise_phone(phone)
    complaint = None
    if number and mobile:
        complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == number))
    if complaint is None or complaint.erased_at is not None or not secrets.compare_digest(complaint.phone, mobile or ""):
        raise NotFound("not_found", "没有找到这件投诉举报，请核对查询码和手机号码",
                       "no complaint with this tracking number and phone")
    return complaint


# --- triage and handling ----------------------------------------------------------------------------------


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    value = _clean_text(value, multiline=True) if value is not None else ""
    if required and not value:
        raise InvalidInput("missing_field", f"请填写{FIELD_NAMES[field]}", f"{field} is required", field=field)
    limit = LIMITS.get(field, 2000)
    if len(value) > limit:
        raise InvalidInput("too_long", f"{FIELD_NAMES[field]}过长（最多{limit}字）", f"{field} is too long", field=field)
    return value or None


def _sha(text: str | None) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def triage(session: Session, plan: Plan, *, tracking_no: str, department: str, note: str | None, actor,
           now: datetime) -> Complaint:
    """Route a complaint to a department (分流): confirm the suggestion or re-route it; its limits follow."""
    if not can_triage(actor, plan):
        raise _forbid("只有315投诉中心或应急办公室可以分流投诉举报", "only the complaint centre or the office may triage")
    complaint = get_complaint(session, plan, tracking_no, user=actor, for_update=True)
    if complaint.status in FINAL:
        raise Conflict("finished", "该投诉举报已办结，不能再分流", "the complaint is finished")
    try:
        plan.department(department)
    except KeyError:
        raise InvalidInput("unknown_department", f"预案中没有科室“{department[:40]}”", f"unknown department '{department}'",
                           field="department") from None
    note = _text(note, "note", required=department != complaint.suggested_department and not complaint.triaged_at)
    before = complaint.department
    if before == department:
        raise Conflict("same_department", f"已分流至{plan.department(department).name}", "already routed there")
    if before is not None and complaint.status not in (RECEIVED,) and not note:
        raise InvalidInput("missing_field", "受理后改派须写明理由", "re-routing after acceptance needs a note",
                           field="note")
    complaint.department = department
    complaint.triaged_at = now
    complaint.triaged_by_id = actor_id(actor)
    complaint.triage_note = note
    complaint.updated_at = now
    for row in complaint.limits:
        if row.status == PENDING:
            row.department = department
            escalation.reroute_complaint_limit(session, row, now=now)
    rerouted = department != complaint.suggested_department
    audit.record(session, actor=actor, action="complaint.triaged", entity="complaint", entity_id=complaint.tracking_no,
                 incident_id=complaint.incident_id, at=now,
                 data={"from": before, "to": department, "suggested": complaint.suggested_department,
                       "rerouted": rerouted, "note_sha256": _sha(note)})
    announce(session, plan, complaint, what="triaged", at=now, also=[before] if before else ())
    return complaint


def change_status(session: Session, plan: Plan, calendar: WorkdayCalendar, *, tracking_no: str, to: str, actor,
                  now: datetime, reason: str | None = None, answer: str | None = None) -> Complaint:
    """Move a complaint on: accept or refuse (with a reason), mediate, close with the answer; file or not."""
    complaint = get_complaint(session, plan, tracking_no, user=actor, for_update=True)
    if not can_handle(actor, plan, complaint):
        raise _forbid("只有承办科室、315投诉中心或应急办公室可以办理", "only the handling department, the centre or the office")
    allowed = TRANSITIONS.get((complaint.kind, complaint.status), ())
    if to not in STATUS_NAMES:
        raise InvalidInput("unknown_status", f"未知状态“{to[:20]}”", f"unknown status '{to}'", field="to")
    if to not in allowed:
        now_name = STATUS_NAMES[complaint.status]
        options = "、".join(ACTION_NAMES[s] for s in allowed) or "无（已办结）"
        raise Conflict("bad_transition", f"当前为“{now_name}”，不能{ACTION_NAMES.get(to, to)}；可以：{options}",
                       f"cannot go from {complaint.status} to {to}")
    if to in NEED_DEPARTMENT and complaint.department is None:
        raise Conflict("not_triaged", "请先分流至承办科室", "route the complaint to a department first")
    reason = _text(reason, "reason", required=to in (REFUSED, NOT_FILED))
    answer = _text(answer, "answer", required=to == CLOSED)
    before = complaint.status
    complaint.status = to
    complaint.updated_at = now
    complaint.handled_by_id = actor_id(actor)
    if to == ACCEPTED:
        complaint.accepted_at = now
    elif to == MEDIATING:
        complaint.mediation_started_at = now
    elif to in (REFUSED, FILED, NOT_FILED):
        complaint.decided_at = now
    if to == CLOSED:
        complaint.closed_at = now
        complaint.answer = answer
    if reason:
        complaint.reason = reason
    if to in (REFUSED, NOT_FILED) and not complaint.answer:
        complaint.answer = reason  # the complainant is told why
    if to in FINAL:
        complaint.finished_at = now
    _settle_limits(session, plan, complaint, to, now)
    if to == ACCEPTED:
        _start_limits(plan, calendar, complaint, "accepted", at=now, now=now)
    audit.record(session, actor=actor, action=f"complaint.{to}", entity="complaint", entity_id=complaint.tracking_no,
                 incident_id=complaint.incident_id, at=now,
                 data={"from": before, "to": to, "department": complaint.department,
                       "reason_sha256": _sha(reason), "answer_sha256": _sha(answer)})
    announce(session, plan, complaint, what=to, at=now)
    return complaint


def _settle_limits(session: Session, plan: Plan, complaint: Complaint, status: str, now: datetime) -> None:
    ends = {rule.kind: rule.met_by for rule in plan.complaints.limits}
    for row in complaint.limits:
        if row.status != PENDING:
            continue
        if status in ends.get(row.kind, ()):
            late = (now - row.due_at).total_seconds()
            row.status = LATE if late > 0 else MET
            row.late_seconds = int(late) if late > 0 else 0
            row.satisfied_at = now
            escalation.settle_complaint_limit(session, row, status=ESC_RESOLVED,
                                              reason=f"已{STATUS_NAMES[status]}", now=now)
        elif status in FINAL:
            row.status = CANCELLED
            row.cancelled_at = now
            row.cancel_reason = f"投诉举报已{STATUS_NAMES[status]}，此时限不再适用"
            escalation.settle_complaint_limit(session, row, status=ESC_STOPPED, reason=row.cancel_reason, now=now)


def reveal_contact(session: Session, plan: Plan, *, tracking_no: str, actor, now: datetime) -> dict:
    """Return the complainant's full phone and address to someone who must call them; audited."""
    complaint = get_complaint(session, plan, tracking_no, user=actor)
    if not can_see_contact(actor, plan, complaint):
        raise _forbid("只有315投诉中心和承办科室可以查看完整联系方式", "only the centre and the handling department")
    if complaint.erased_at is not None:
        raise Conflict("erased", "个人信息已按保存期限删除", "personal data has been erased")
    audit.record(session, actor=actor, action="complaint.contact_viewed", entity="complaint",
                 entity_id=complaint.tracking_no, incident_id=complaint.incident_id, at=now, data={})
    return {"tracking_no": complaint.tracking_no, "name": complaint.name, "phone": complaint.phone,
            "address": complaint.address}


# --- what people see ------------------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """Format a time as ISO 8601 with its offset."""
    return moment.isoformat() if moment else None


def limit_view(plan: Plan, calendar: WorkdayCalendar | None, row: ComplaintLimitRow, now: datetime) -> dict:
    """Return a limit as boards and the API show it."""
    state = limit_state(row, now)
    out = {"id": row.id, "kind": row.kind, "name": row.name, "department": row.department,
           "department_name": _dept_name(plan, row.department), "starts_on": row.starts_on.isoformat(),
           "working_days": row.working_days, "due_on": row.due_on.isoformat(), "due_at": iso(row.due_at),
           "warn_at": iso(row.warn_at), "status": row.status, "state": state, "state_name": LIMIT_STATE_NAMES[state],
           "estimated": row.estimated, "estimate_note": row.estimate_note, "satisfied_at": iso(row.satisfied_at),
           "late_seconds": row.late_seconds, "cancel_reason": row.cancel_reason}
    if row.status == PENDING and calendar is not None:
        out["working_days_left"] = working_days_left(calendar, local_day(plan, now), row.due_on)
    out["recounts"] = [change_dict(c) for c in row.changes]
    return out


def change_dict(change: ComplaintLimitChange, limit: ComplaintLimitRow | None = None) -> dict:
    """Return a recount of a limit as the boards and the API show it: before, after, how many days it moved."""
    moved = (change.due_on - change.due_on_before).days
    out = {"limit_id": change.limit_id, "due_on_before": change.due_on_before.isoformat(),
           "due_on": change.due_on.isoformat(), "days_moved": moved, "estimated_before": change.estimated_before,
           "estimated": change.estimated, "cause": change.cause, "notice_id": change.notice_id,
           "changed_at": change.changed_at.isoformat()}
    before, after = change.due_on_before, change.due_on
    if moved:
        out["summary"] = (f"时限由{before.month}月{before.day}日{'推迟' if moved > 0 else '提前'}至{after.month}月{after.day}日"
                          f"（{'+' if moved > 0 else ''}{moved}天）")
    else:
        out["summary"] = f"时限仍为{after.month}月{after.day}日"
    if change.estimated_before and not change.estimated:
        out["summary"] += "，已按放假通知确定（不再是估算）"
    if limit is not None:
        out.update(kind=limit.kind, name=limit.name)
    return out


def _dept_name(plan: Plan, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return plan.department(code).name
    except KeyError:
        return code


def _category_name(plan: Plan, code: str) -> str:
    try:
        return plan.complaints.category(code).name
    except KeyError:
        return code


def _demand_name(plan: Plan, code: str | None) -> str | None:
    return dict(plan.complaints.demands).get(code, code) if code else None


def _area_name(plan: Plan, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return plan.station(code).name.replace("市场监督管理所", "")
    except KeyError:
        return code


def snapshot(plan: Plan, complaint: Complaint) -> dict:
    """Return a complaint's headline for pushed events and lists: no name, phone, address or free text."""
    return {"tracking_no": complaint.tracking_no, "kind": complaint.kind, "kind_name": KIND_NAMES[complaint.kind],
            "status": complaint.status, "status_name": STATUS_NAMES[complaint.status],
            "category": complaint.category, "category_name": _category_name(plan, complaint.category),
            "business_name": complaint.business_name, "area": complaint.area,
            "area_name": _area_name(plan, complaint.area), "department": complaint.department,
            "department_name": _dept_name(plan, complaint.department),
            "suggested_department": complaint.suggested_department,
            "suggested_department_name": _dept_name(plan, complaint.suggested_department),
            "received_at": iso(complaint.received_at), "incident_id": complaint.incident_id}


def staff_view(plan: Plan, calendar: WorkdayCalendar | None, complaint: Complaint, now: datetime, *,
               contact: bool = False) -> dict:
    """Return a complaint as staff see it: phone masked (unless `contact`), numbers in the text masked."""
    erased = complaint.erased_at is not None
    out = {
        **snapshot(plan, complaint),
        "name": complaint.name if contact else mask_name(complaint.name),
        "phone": complaint.phone if contact else mask_phone(complaint.phone),
        "phone_masked": not contact,
        "address": complaint.address if contact else redact(complaint.address),
        "business_address": complaint.business_address, "credit_code": complaint.credit_code,
        "purchased_on": complaint.purchased_on.isoformat() if complaint.purchased_on else None,
        "amount": complaint.amount, "order_no": complaint.order_no,
        "description": complaint.description if contact else redact(complaint.description),
        "demand": complaint.demand, "demand_name": _demand_name(plan, complaint.demand),
        "source": complaint.source, "triaged_at": iso(complaint.triaged_at), "triage_note": redact(complaint.triage_note),
        "accepted_at": iso(complaint.accepted_at), "mediation_started_at": iso(complaint.mediation_started_at),
        "decided_at": iso(complaint.decided_at), "closed_at": iso(complaint.closed_at),
        "finished_at": iso(complaint.finished_at), "reason": redact(complaint.reason),
        "answer": redact(complaint.answer), "erased": erased, "erased_at": iso(complaint.erased_at),
        "next": list(TRANSITIONS.get((complaint.kind, complaint.status), ())),
        "limits": [limit_view(plan, calendar, r, now) for r in complaint.limits],
    }
    return out


def public_view(plan: Plan, complaint: Complaint) -> dict:
    """Return what the complainant sees with the tracking number and phone: status, steps, the answer."""
    steps = [(complaint.received_at, "已收到您的" + KIND_NAMES[complaint.kind])]
    if complaint.triaged_at and complaint.department:
        steps.append((complaint.triaged_at, f"已转{_dept_name(plan, complaint.department)}办理"))
    if complaint.accepted_at:
        steps.append((complaint.accepted_at, "已受理"))
    if complaint.mediation_started_at:
        steps.append((complaint.mediation_started_at, "开始调解"))
    if complaint.decided_at:
        decided = {REFUSED: "不予受理", NOT_FILED: "不予立案"}.get(complaint.status, "已立案")
        steps.append((complaint.decided_at, decided))
    if complaint.closed_at:
        steps.append((complaint.closed_at, "已办结"))
    return {
        "tracking_no": complaint.tracking_no, "kind": complaint.kind, "kind_name": KIND_NAMES[complaint.kind],
        "status": complaint.status, "status_name": STATUS_NAMES[complaint.status],
        "category_name": _category_name(plan, complaint.category), "business_name": complaint.business_name,
        "received_at": iso(complaint.received_at), "phone": mask_phone(complaint.phone),
        "department_name": _dept_name(plan, complaint.department),
        "steps": [{"at": iso(at), "text": text} for at, text in sorted(steps, key=lambda s: s[0])],
        "reason": complaint.reason if complaint.status in (REFUSED, NOT_FILED) else None,
        "answer": complaint.answer if complaint.status in FINAL else None,
        "finished": complaint.status in FINAL,
    }


def announce(session: Session, plan: Plan, complaint: Complaint, *, what: str, at: datetime,
             also: Iterable[str | None] = ()) -> None:
    """Tell the centre's board and the handling department's board what happened to a complaint."""
    rooms = {department_room(plan.complaints.centre)}
    for code in (complaint.department, *also):
        if code:
            rooms.add(department_room(code))
    board_events.publish(session, rooms=rooms, event_name="complaint",
                         payload={"what": what, "complaint": snapshot(plan, complaint)}, at=at)


# --- lists for boards ---------------------------------------------------------------------------------------------


def open_for(session: Session, plan: Plan, *, department: str | None, untriaged: bool = False,
             limit: int = 200) -> list[Complaint]:
    """Return the open complaints routed to a department (or all), or those still waiting for triage."""
    stmt = (select(Complaint).where(Complaint.status.in_(OPEN_STATUSES))
            .options(selectinload(Complaint.limits)).order_by(Complaint.received_at).limit(limit))
    if untriaged:
        stmt = stmt.where(Complaint.department.is_(None))
    elif department is not None:
        stmt = stmt.where(Complaint.department == department)
    return list(session.scalars(stmt))


def limits_due(session: Session, *, now: datetime, department: str | None = None, limit: int = 200
               ) -> list[ComplaintLimitRow]:
    """Return the pending limits that are about to run out or have, soonest first."""
    stmt = (select(ComplaintLimitRow).where(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.warn_at <= now)
            .options(selectinload(ComplaintLimitRow.complaint)).order_by(ComplaintLimitRow.due_at).limit(limit))
    if department is not None:
        stmt = stmt.where(ComplaintLimitRow.department == department)
    return list(session.scalars(stmt))


def search(session: Session, plan: Plan, user, *, status: str | None = None, kind: str | None = None,
           category: str | None = None, department: str | None = None, text: str | None = None,
           before_id: int | None = None, limit: int = 50) -> list[Complaint]:
    """Return complaints the user may see, newest first, filtered."""
    stmt = select(Complaint).options(selectinload(Complaint.limits)).order_by(Complaint.id.desc()).limit(limit)
    visible = visible_filter(user, plan)
    if visible is not None:
        stmt = stmt.where(visible)
    if status:
        if status == "open":
            stmt = stmt.where(Complaint.status.in_(OPEN_STATUSES))
        elif status == "untriaged":
            stmt = stmt.where(Complaint.department.is_(None), Complaint.status.in_(OPEN_STATUSES))
        elif status in STATUS_NAMES:
            stmt = stmt.where(Complaint.status == status)
        else:
            raise InvalidInput("unknown_status", f"未知状态“{status[:20]}”", f"unknown status '{status}'", field="status")
    if kind:
        if kind not in KIND_NAMES:
            raise InvalidInput("unknown_kind", "类型应为 complaint 或 tipoff", "kind is complaint or tipoff", field="kind")
        stmt = stmt.where(Complaint.kind == kind)
    if category:
        stmt = stmt.where(Complaint.category == category)
    if department:
        stmt = stmt.where(Complaint.department == department)
    if text:
        like = f"%{text.strip()[:50].replace('%', '').replace('_', '')}%"
        number = normalise_tracking_no(text)
        stmt = stmt.where(or_(Complaint.business_name.like(like), Complaint.tracking_no == (number or text.strip())))
    if before_id:
        stmt = stmt.where(Complaint.id < before_id)
    return list(session.scalars(stmt))


# --- the scheduler's work: audit digest, retention ---------------------------------------------------


def chain_received(session: Session, plan: Plan, *, now: datetime, batch: int = 1000) -> int:
    """Write one audit entry for the complaints received since the last one, and tell the centre's board.

    Each submission is not chained on its own: that would make every member of the public wait on
    the audit chain's head row. The digest names each tracking number with the SHA-256 of its content.
    """
    stmt = (select(Complaint).where(Complaint.chained_at.is_(None)).order_by(Complaint.id).limit(batch)
            .with_for_update(skip_locked=True))
    rows = list(session.scalars(stmt))
    if not rows:
        return 0
    for row in rows:
        row.chained_at = now
    audit.record(session, actor=INTAKE, action="complaints.received", entity="complaint_batch",
                 entity_id=f"{rows[0].tracking_no}..{rows[-1].tracking_no}", at=now,
                 data={"count": len(rows), "complaints": [[r.tracking_no, r.received_at.isoformat(), r.content_sha256]
                                                          for r in rows]})
    latest = [snapshot(plan, r) for r in rows[-20:]]
    board_events.publish(session, rooms={department_room(plan.complaints.centre)}, event_name="complaint",
                         payload={"what": "received", "count": len(rows), "complaints": latest}, at=now)
    return len(rows)


def erase_expired(session: Session, plan: Plan, *, now: datetime, batch: int = 500) -> int:
    """Erase the personal data of complaints finished longer ago than the plan's retention period."""
    cutoff = now - plan.complaints.retention
    rows = list(session.scalars(select(Complaint).where(Complaint.finished_at < cutoff, Complaint.erased_at.is_(None))
                                .order_by(Complaint.id).limit(batch).with_for_update(skip_locked=True)))
    for row in rows:
        row.name, row.phone, row.address = "", "", ""
        row.description = ERASED_TEXT
        row.order_no = None
        row.reason = ERASED_TEXT if row.reason else None
        row.answer = ERASED_TEXT if row.answer else None
        row.triage_note = None
        row.erased_at = now
        row.updated_at = now
    if rows:
        audit.record(session, actor=INTAKE, action="complaints.erased", entity="complaint_batch",
                     entity_id=f"{rows[0].tracking_no}..{rows[-1].tracking_no}", at=now,
                     data={"count": len(rows), "retention": str(plan.complaints.retention),
                           "tracking_nos": [r.tracking_no for r in rows]})
    return len(rows)


# --- weekly summary for the leadership (每周汇总) ---------------------------------------------------------------------


def last_week(plan: Plan, now: datetime) -> tuple[datetime, datetime]:
    """Return Monday 00:00 to Monday 00:00 (Beijing) of the last full week before now."""
    today = local_day(plan, now)
    monday = today - timedelta(days=today.weekday())
    return day_start(plan, monday - timedelta(days=7)), day_start(plan, monday)


def weekly_summary(session: Session, plan: Plan, *, start: datetime, end: datetime, now: datetime,
                   top: int = 10) -> dict:
    """Return the week's complaint figures: counts, categories, areas, top businesses, limits met."""
    in_week = and_(Complaint.received_at >= start, Complaint.received_at < end)
    by_kind = dict(session.execute(select(Complaint.kind, func.count()).where(in_week).group_by(Complaint.kind)).all())
    by_category = session.execute(select(Complaint.category, func.count()).where(in_week)
                                  .group_by(Complaint.category).order_by(func.count().desc())).all()
    by_area = session.execute(select(Complaint.area, func.count()).where(in_week)
                              .group_by(Complaint.area).order_by(func.count().desc())).all()
    by_status = dict(session.execute(select(Complaint.status, func.count()).where(in_week)
                                     .group_by(Complaint.status)).all())
    businesses = session.execute(
        select(Complaint.business_key, func.max(Complaint.business_name), func.count(),
               func.coalesce(func.sum(Complaint.amount), 0))
        .where(in_week).group_by(Complaint.business_key).order_by(func.count().desc(), Complaint.business_key)
        .limit(top)).all()
    finished = session.execute(select(Complaint.status, func.count())
                               .where(Complaint.finished_at >= start, Complaint.finished_at < end)
                               .group_by(Complaint.status)).all()
    amount = session.scalar(select(func.coalesce(func.sum(Complaint.amount), 0)).where(in_week)) or 0
    # Limits that ended in the week, or ran out in it without being met.
    limits: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(ComplaintLimitRow.kind, ComplaintLimitRow.status, ComplaintLimitRow.due_at, ComplaintLimitRow.satisfied_at)
        .where(or_(and_(ComplaintLimitRow.satisfied_at >= start, ComplaintLimitRow.satisfied_at < end),
                   and_(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.due_at >= start,
                        ComplaintLimitRow.due_at < end)))).all()
    for kind, status, due_at, _ in rows:
        entry = limits.setdefault(kind, {"met": 0, "late": 0, "missed": 0, "running": 0})
        if status == MET:
            entry["met"] += 1
        elif status == LATE:
            entry["late"] += 1
        elif due_at <= now:
            entry["missed"] += 1
        else:
            entry["running"] += 1
    open_overdue = session.scalar(select(func.count()).select_from(ComplaintLimitRow).where(
        ComplaintLimitRow.status == PENDING, ComplaintLimitRow.due_at <= now)) or 0
    linked = session.scalar(select(func.count()).select_from(Complaint).where(in_week, Complaint.incident_id.is_not(None)))
    names = {r.kind: r.name for r in plan.complaints.limits}
    total_met = sum(v["met"] for v in limits.values())
    total_ended = sum(v["met"] + v["late"] + v["missed"] for v in limits.values())
    surges = session.execute(select(Surge.dimension, Surge.label, Surge.count, Surge.opened_at, Surge.action,
                                    Surge.incident_id)
                             .where(Surge.opened_at >= start, Surge.opened_at < end).order_by(Surge.opened_at)).all()
    warnings = session.scalar(select(func.count()).select_from(ConsumerWarning).where(
        ConsumerWarning.published_at >= start, ConsumerWarning.published_at < end)) or 0
    return {
        "period": {"from": iso(start), "to": iso(end), "from_day": local_day(plan, start).isoformat(),
                   "to_day": (local_day(plan, end) - timedelta(days=1)).isoformat()},
        "received": {"total": sum(by_kind.values()), "complaints": by_kind.get(COMPLAINT, 0),
                     "tipoffs": by_kind.get(TIPOFF, 0), "amount": float(amount)},
        "by_status": {s: by_status.get(s, 0) for s in STATUS_NAMES},
        "by_category": [{"category": c, "name": _category_name(plan, c), "count": n} for c, n in by_category],
        "by_area": [{"area": a, "name": _area_name(plan, a) or "未识别", "count": n} for a, n in by_area],
        "top_businesses": [{"business": name, "count": n, "amount": float(total)}
                           for _, name, n, total in businesses],
        "finished": {s: n for s, n in finished},
        "limits": [{"kind": k, "name": names.get(k, k), **v} for k, v in sorted(limits.items())],
        "limits_met_rate": round(total_met / total_ended, 4) if total_ended else None,
        "overdue_now": open_overdue,
        "linked_to_incidents": linked or 0,
        "surges": [{"dimension": d, "label": label, "count": n, "opened_at": iso(at), "action": action,
                    "incident_id": inc} for d, label, n, at, action, inc in surges],
        "warnings_published": warnings,
        "generated_at": iso(now),
    }


# --- limits about to run out: the boards hear it once ---------------------------------------------------


def notify_limits(session: Session, plan: Plan, *, now: datetime, batch: int = 500) -> list[tuple[str, int]]:
    """Tell the handling department's board and the centre's when a limit is about to run out, and when it has.

    Each limit is announced once per stage: the rows are claimed (locked and skipped by a second
    scheduler) and marked, and each stage starts the limit's escalation, as clocks' firings do.
    """
    fired: list[tuple[str, int]] = []
    for stage, due_col, mark_col in (("limit_warning", ComplaintLimitRow.warn_at, ComplaintLimitRow.warned_at),
                                     ("limit_overdue", ComplaintLimitRow.due_at, ComplaintLimitRow.overdue_at)):
        rows = list(session.scalars(
            select(ComplaintLimitRow).where(ComplaintLimitRow.status == PENDING, due_col <= now, mark_col.is_(None))
            .options(selectinload(ComplaintLimitRow.complaint)).order_by(ComplaintLimitRow.id).limit(batch)
            .with_for_update(skip_locked=True, of=ComplaintLimitRow)))
        for row in rows:
            setattr(row, mark_col.key, now)
            if stage == "limit_warning" and row.overdue_at is None and now >= row.due_at:
                continue  # found only after it ran out: the overdue notice says it all
            complaint = row.complaint
            rooms = {department_room(plan.complaints.centre), department_room(row.department)}
            text_ = (f"{KIND_NAMES[complaint.kind]}{complaint.tracking_no}（{complaint.business_name}）"
                     f"“{row.name}”{'已超过时限' if stage == 'limit_overdue' else '即将到期'}，"
                     f"时限至{row.due_on.month}月{row.due_on.day}日")
            board_events.publish(session, rooms=rooms, event_name="complaint",
                                 payload={"what": stage, "message": text_, "complaint": snapshot(plan, complaint),
                                          "limit": {"id": row.id, "kind": row.kind, "name": row.name,
                                                    "department": row.department, "due_on": row.due_on.isoformat(),
                                                    "due_at": iso(row.due_at)}}, at=now)
            escalation.start_for_complaint_limit(session, row, plan, overdue=stage == "limit_overdue", now=now)
            fired.append((stage, row.id))
    return fired
