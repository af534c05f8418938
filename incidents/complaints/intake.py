"""Intake: validate what the public typed and insert the complaint with its limits."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from sqlalchemy import insert
from sqlalchemy.orm import Session

from incidents.complaints.checks import business_key, credit_code_problem, normalise_phone
from incidents.complaints.errors import InvalidComplaint
from incidents.complaints.limits import limit_timing
from incidents.complaints.states import COMPLAINT, FIELD_NAMES, LIMITS, MAX_AMOUNT, MIN_DESCRIPTION, RECEIVED, SOURCES
from incidents.complaints.tracking import new_tracking_no
from incidents.complaints.verification import Verified
from incidents.kernel import labels
from incidents.kernel.calendar import WorkdayCalendar
from incidents.kernel.moments import local_day
from incidents.kernel.text import clean_text
from incidents.models import (
    PENDING,
    Complaint,
    ComplaintLimitRow,
)
from incidents.plan import Plan


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
            values[name] = clean_text(data.get(name), multiline=name == "description")
        except TypeError:
            errors[name] = f"{FIELD_NAMES[name]}应为文字"
            values[name] = ""

    kind = values["kind"] or COMPLAINT
    if kind not in labels.COMPLAINT_KIND:
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
            day = local_day(plan.tz, moment) if moment.tzinfo else moment.date()
    except ValueError:
        errors.setdefault("purchased_at", "消费时间格式不正确，请按 2026-11-20 的格式填写")
        return None
    except OverflowError:  # year 1 or 9999 with an offset: out of the calendar once moved to local time
        errors.setdefault("purchased_at", "消费时间不正确，请核对年份")
        return None
    if day > local_day(plan.tz, now):
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
           source: str = "web", verified: Verified | None = None) -> Receipt:
    """Store a checked submission with a new tracking number and start its time limits.

    `verified` says how the complainant was verified (SMS code or captcha); without it the complaint
    is stored and handled all the same, but does not count toward surges.
    """
    category = plan.complaints.category(clean.category)
    number = new_tracking_no(clean.kind, local_day(plan.tz, now))
    complaint_id = session.execute(_INSERT_COMPLAINT, {
        "tracking_no": number, "kind": clean.kind, "status": RECEIVED, "category": clean.category,
        "suggested_department": category.department, "department": None, "name": clean.name, "phone": clean.phone,
        "phone_hmac": clean.phone, "address": clean.address, "business_name": clean.business_name,
        "business_key": business_key(clean.business_name), "business_address": clean.business_address,
        "credit_code": clean.credit_code, "area": clean.area, "purchased_on": clean.purchased_on,
        "amount": clean.amount, "order_no": clean.order_no, "description": clean.description,
        "demand": clean.demand, "source": source if source in SOURCES else "web",
        "content_sha256": content_hash(clean), "received_at": now, "updated_at": now,
        "verified_by": verified.method if verified else None,
        "verified_phone": verified.phone_key if verified else None}).scalar_one()
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


def start_limits(plan: Plan, calendar: WorkdayCalendar, complaint: Complaint, event: str, *, at: datetime,
                  now: datetime) -> list[ComplaintLimitRow]:
    started = []
    for spec in _limit_specs(plan, calendar, complaint.kind, event, _responsible(plan, complaint), at=at, now=now):
        row = ComplaintLimitRow(**spec)
        complaint.limits.append(row)
        started.append(row)
    return started
