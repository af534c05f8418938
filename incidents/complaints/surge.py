"""Complaint surges (投诉高峰) and the consumer warnings drafted from them (消费预警), SPEC §8.

`watch` (the scheduler, every minute) counts complaints per business, category and area over
each rule's sliding window (only verified complaints, each verified phone once: verification.py) and compares them with the baseline rate of the weeks before. A
surge is a row, opened once: a second watch process running at the same moment finds it (one
open surge per business, category or area, a unique index). Opening one alerts the complaint
centre's and the office's boards, links the window's complaints to an open incident about the
same business or category, or else proposes a Ⅳ-level incident pre-filled from them (registered
with a source key, not activated: activation stays a leadership decision), and drafts a
consumer warning that the public sees only once leadership approved it (plan §四(三)).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.durations import chinese_duration
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from incidents.kernel.masking import redact
from incidents.kernel.moments import iso, local_day
from incidents.kernel.roles import DEPARTMENT_ROLES, OFFICE
from incidents.kernel.text import checked_text
from incidents.models import (
    ACTIVE,
    REGISTERED,
    SURGE_ENDED,
    SURGE_OPEN,
    WARNING_DRAFT,
    WARNING_PUBLISHED,
    WARNING_SUBMITTED,
    WARNING_WITHDRAWN,
    Complaint,
    ConsumerWarning,
    Incident,
    Surge,
)
from incidents.plan import Plan, SurgeRule
from incidents.records import audit, board_events
from incidents.records.board_events import OVERVIEW, department_room
from incidents.response import service

WATCHER = SystemActor(name="surge-watch")
OPEN_INCIDENT = (REGISTERED, ACTIVE)
LINK_BATCH = 2000  # complaints of one window linked at once; more is not a surge, it is an outage
MAX_TITLE, MAX_BODY = 200, 5000


@dataclass(frozen=True)
class Hit:
    """A business, category or area over a rule's threshold now."""

    dimension: str
    value: str
    count: int
    expected: float
    rule: SurgeRule


@dataclass
class WatchResult:
    """What one run of the watch found and did."""

    opened: list[int] = field(default_factory=list)
    still_open: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    proposed: list[int] = field(default_factory=list)  # incidents registered now
    linked: list[int] = field(default_factory=list)  # open incidents that took complaints now


def _column(dimension: str):
    return {"business": Complaint.business_key, "category": Complaint.category, "area": Complaint.area}[dimension]


def _counts(session: Session, dimension: str, start: datetime, end: datetime, *, at_least: int = 1,
            only: set[str] | None = None) -> dict[str, int]:
    # Only verified complaints count, and each verified phone once: 64 junk submissions from a few
    # addresses, or 64 from one phone, are not 64 consumers.
    col = _column(dimension)
    phones = func.count(distinct(Complaint.verified_phone))
    stmt = (select(col, phones).where(Complaint.received_at >= start, Complaint.received_at < end,
                                      col.is_not(None), Complaint.verified_phone.is_not(None))
            .group_by(col))
    if at_least > 1:
        stmt = stmt.having(phones >= at_least)
    if only is not None:
        if not only:
            return {}
        stmt = stmt.where(col.in_(sorted(only)))
    return {value: n for value, n in session.execute(stmt).all() if value}


def detect(session: Session, plan: Plan, *, now: datetime) -> list[Hit]:
    """Return every business, category and area over a threshold now, each once (its strongest rule)."""
    rules = plan.surge
    best: dict[tuple[str, str], Hit] = {}
    for rule in rules.rules:
        start = now - rule.window
        current = _counts(session, rule.by, start, now, at_least=rule.min_count)
        if not current:
            continue
        base = _counts(session, rule.by, start - rules.baseline, start, only=set(current))
        scale = rule.window / rules.baseline
        for value, n in current.items():
            expected = base.get(value, 0) * scale
            if n < rule.ratio * expected:
                continue
            hit = Hit(rule.by, value, n, expected, rule)
            key = (rule.by, value)
            if key not in best or n / rule.min_count > best[key].count / best[key].rule.min_count:
                best[key] = hit
    return list(best.values())


def watch(session: Session, plan: Plan, *, now: datetime, actor=WATCHER) -> WatchResult:
    """Open a surge for each new hit (alert, link or propose, draft a warning); end those no longer hit."""
    result = WatchResult()
    if not plan.surge.rules:
        return result
    hits = {(h.dimension, h.value): h for h in detect(session, plan, now=now)}
    open_rows = {(s.dimension, s.value): s for s in session.scalars(select(Surge).where(Surge.status == SURGE_OPEN))}
    for key, hit in hits.items():
        row = open_rows.get(key)
        if row is not None:
            row.last_seen_at = now
            row.peak = max(row.peak, hit.count)
            result.still_open.append(row.id)
            continue
        if _cooling_down(session, plan, key, now):
            continue
        opened = _open(session, plan, hit, now=now, actor=actor, result=result)
        if opened is not None:
            result.opened.append(opened.id)
    for key, row in open_rows.items():
        if key not in hits:
            row.status = SURGE_ENDED
            row.ended_at = now
            result.ended.append(row.id)
            audit.record(session, actor=actor, action="surge.ended", entity="surge", entity_id=row.id,
                         incident_id=row.incident_id, at=now, data={"dimension": row.dimension, "label": row.label,
                                                                    "peak": row.peak})
            _alert(session, plan, row, what="complaint_surge_ended", at=now,
                   message=f"投诉高峰已回落：{row.label}（峰值{row.peak}件）")
    return result


def _cooling_down(session: Session, plan: Plan, key: tuple[str, str], now: datetime) -> bool:
    last = session.scalar(select(func.max(Surge.ended_at)).where(Surge.dimension == key[0], Surge.value == key[1]))
    return last is not None and now - last < plan.surge.cooldown


def _label(session: Session, plan: Plan, hit: Hit, complaints: list[Complaint]) -> str:
    if hit.dimension == "business":
        names = Counter(c.business_name for c in complaints)
        return names.most_common(1)[0][0] if names else hit.value
    if hit.dimension == "category":
        try:
            return plan.complaints.category(hit.value).name
        except KeyError:
            return hit.value
    try:
        return plan.station(hit.value).name.replace("市场监督管理所", "")
    except KeyError:
        return hit.value


def window_text(window: timedelta) -> str:
    """Say a window in Chinese: 1小时, 1天."""
    return chinese_duration(window.total_seconds())


def _open(session: Session, plan: Plan, hit: Hit, *, now: datetime, actor, result: WatchResult) -> Surge | None:
    start = now - hit.rule.window
    complaints = list(session.scalars(
        select(Complaint).where(_column(hit.dimension) == hit.value, Complaint.received_at >= start,
                                Complaint.received_at < now).order_by(Complaint.received_at).limit(LINK_BATCH)))
    label = _label(session, plan, hit, complaints)
    by_category = Counter(c.category for c in complaints)
    details = {"window": window_text(hit.rule.window), "categories": dict(by_category),
               "amount": round(sum(c.amount or 0 for c in complaints), 2),
               "first_at": iso(complaints[0].received_at) if complaints else None,
               "tracking_nos": [c.tracking_no for c in complaints[:50]]}
    row = Surge(dimension=hit.dimension, value=hit.value, label=label[:200], status=SURGE_OPEN,
                window_seconds=int(hit.rule.window.total_seconds()), count=hit.count, peak=hit.count,
                expected=round(hit.expected, 3), min_count=hit.rule.min_count, ratio=hit.rule.ratio,
                opened_at=now, last_seen_at=now, details=details)
    try:
        # A savepoint: a second watch opening the same surge at the same moment finds the first.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    incident = _open_incident_for(session, plan, hit, complaints)
    if incident is not None:
        row.action = "linked"
        result.linked.append(incident.id)
    else:
        incident = _propose(session, plan, row, hit, complaints, now=now, actor=actor)
        row.action = "proposed"
        result.proposed.append(incident.id)
    row.incident_id = incident.id
    for c in complaints:
        if c.incident_id is None:
            c.incident_id = incident.id
    audit.record(session, actor=actor, action="surge.opened", entity="surge", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"dimension": hit.dimension, "label": row.label, "count": hit.count,
                       "expected": row.expected, "window": details["window"], "min_count": hit.rule.min_count,
                       "ratio": hit.rule.ratio, "action": row.action, "complaints": len(complaints)})
    draft = _draft_warning(plan, row, complaints, now=now)
    session.add(draft)
    verb = "已关联至事件" if row.action == "linked" else "已提出Ⅳ级事件建议"
    _alert(session, plan, row, what="complaint_surge", at=now,
           message=f"投诉高峰：{row.label}，{details['window']}内{hit.count}件，{verb}{incident.number}")
    return row


def _open_incident_for(session: Session, plan: Plan, hit: Hit, complaints: list[Complaint]) -> Incident | None:
    """Return the open incident that already covers this business, category or area, if any."""
    # An earlier surge of the same business, category or area whose incident is still open.
    earlier = session.scalar(
        select(Incident).join(Surge, Surge.incident_id == Incident.id)
        .where(Surge.dimension == hit.dimension, Surge.value == hit.value, Incident.status.in_(OPEN_INCIDENT))
        .order_by(Incident.id.desc()).limit(1))
    if earlier is not None:
        return earlier
    # Most of the window's complaints already belong to one open incident (a surge of their business).
    taken = Counter(c.incident_id for c in complaints if c.incident_id is not None).most_common(1)
    if taken and 2 * taken[0][1] >= len(complaints):
        incident = session.get(Incident, taken[0][0])
        if incident is not None and incident.status in OPEN_INCIDENT:
            return incident
    if hit.dimension == "business":
        # An open incident that already carries complaints about this business.
        return session.scalar(
            select(Incident).join(Complaint, Complaint.incident_id == Incident.id)
            .where(Complaint.business_key == hit.value, Incident.status.in_(OPEN_INCIDENT))
            .order_by(Incident.id.desc()).limit(1))
    if hit.dimension == "category":
        try:
            categories = plan.complaints.category(hit.value).incident_categories
        except KeyError:
            categories = ()
        if categories:
            return session.scalar(select(Incident).where(Incident.category.in_(categories),
                                                         Incident.status.in_(OPEN_INCIDENT))
                                  .order_by(Incident.id.desc()).limit(1))
        return None
    return session.scalar(select(Incident).where(Incident.station == hit.value,
                                                 Incident.category == plan.surge.incident_category,
                                                 Incident.status.in_(OPEN_INCIDENT))
                          .order_by(Incident.id.desc()).limit(1))


def _propose(session: Session, plan: Plan, row: Surge, hit: Hit, complaints: list[Complaint], *, now: datetime,
             actor) -> Incident:
    rules = plan.surge
    window = row.details["window"]
    cats = "、".join(f"{_category_name(plan, c)}{n}件" for c, n in Counter(x.category for x in complaints).most_common())
    addresses = Counter(c.business_address for c in complaints)
    if hit.dimension == "business" and addresses:
        location = addresses.most_common(1)[0][0]
    elif hit.dimension == "area":
        location = row.label
    else:
        location = "全县"
    areas = {c.area for c in complaints}
    station = hit.value if hit.dimension == "area" else (areas.pop() if len(areas) == 1 else None)
    amount = row.details["amount"]
    what = labels.SURGE_DIMENSION[hit.dimension]
    facts = service.NewIncident(
        title=f"消费投诉高峰：{row.label}（{window}内{hit.count}件）"[:200],
        category=rules.incident_category,
        discovered_at=complaints[0].received_at if complaints else now,
        location=location[:300], station=station,
        source="12315投诉举报平台（系统按预案阈值监测到投诉高峰，自动提出）",
        nature=(f"{window}内收到涉及{what}“{row.label}”的投诉举报{hit.count}件，达到预案投诉高峰阈值"
                f"（{window}内不少于{hit.rule.min_count}件且为基线的{_ratio(hit.rule.ratio)}倍；"
                f"基线约{hit.expected:.1f}件）"),
        scope=f"按类别：{cats or '—'}；涉及金额合计{amount:.2f}元",
        trend="投诉仍在增加，持续监测中",
        measures_taken="已在315投诉中心和应急办公室看板预警；消费预警草稿待领导小组审批",
        casualties="不详（待核实）", level=rules.incident_level,
        level_reason="预案§三(一)Ⅳ级：投诉高峰（系统按预案阈值提出，由领导决定是否启动应急响应）",
    )
    incident = service.register_incident(session, plan, facts=facts, actor=actor, now=now)
    incident.source_key = f"surge:{row.id}"
    return incident


def _ratio(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _category_name(plan: Plan, code: str) -> str:
    try:
        return plan.complaints.category(code).name
    except KeyError:
        return code


def _alert(session: Session, plan: Plan, row: Surge, *, what: str, message: str, at: datetime) -> None:
    rooms = {OVERVIEW, department_room(plan.complaints.centre), department_room(plan.office_department)}
    board_events.publish(session, rooms=rooms, event_name="alert",
                         payload={"what": what, "message": message, "surge": surge_view(plan, row)}, at=at)


def surge_view(plan: Plan, row: Surge) -> dict:
    """Return a surge as boards and the API show it."""
    return {"id": row.id, "dimension": row.dimension, "dimension_name": labels.SURGE_DIMENSION[row.dimension],
            "value": row.value if row.dimension != "business" else None, "label": row.label, "status": row.status,
            "status_name": "高峰中" if row.status == SURGE_OPEN else "已回落", "window": window_text(
                timedelta(seconds=row.window_seconds)), "count": row.count, "peak": row.peak,
            "expected": row.expected, "min_count": row.min_count, "ratio": row.ratio,
            "opened_at": iso(row.opened_at), "last_seen_at": iso(row.last_seen_at), "ended_at": iso(row.ended_at),
            "incident_id": row.incident_id, "action": row.action,
            "categories": {_category_name(plan, k): v for k, v in (row.details or {}).get("categories", {}).items()},
            "amount": (row.details or {}).get("amount")}


def recent(session: Session, *, limit: int = 20) -> list[Surge]:
    """Return the open surges and the latest ended ones, newest first."""
    return list(session.scalars(select(Surge).order_by((Surge.status == SURGE_OPEN).desc(), Surge.id.desc())
                                .limit(limit)))


# --- consumer warnings (消费预警) -----------------------------------------------------------------------


def _draft_warning(plan: Plan, row: Surge, complaints: list[Complaint], *, now: datetime) -> ConsumerWarning:
    cats = Counter(c.category for c in complaints)
    top = _category_name(plan, cats.most_common(1)[0][0]) if cats else row.label
    subject = {"business": f"{top}消费", "category": f"{row.label}消费", "area": f"{row.label}地区{top}消费"}[
        row.dimension]
    day = local_day(plan.tz, now)
    body = (f"近期，{plan.bureau}12315投诉举报平台陆续收到涉及{subject}的投诉举报，数量明显高于往常。"
            f"为维护消费者合法权益，现发布消费提示：\n"
            f"一、理性消费，选择证照齐全、信誉良好的经营者，警惕“低价”“免费”等诱导宣传；\n"
            f"二、索要并保存好发票、购物小票、订单截图、聊天记录等消费凭证；\n"
            f"三、合法权益受到侵害时，可先与经营者协商；协商不成的，可拨打12315或通过本局12315网上平台投诉举报。\n"
            f"{plan.bureau}\n{day.year}年{day.month}月{day.day}日")
    return ConsumerWarning(surge_id=row.id, title=f"关于{subject}的消费预警提示"[:MAX_TITLE], body=body,
                           status=WARNING_DRAFT, drafted_at=now)


def may_edit_warnings(user, plan: Plan) -> bool:
    """Tell whether the user drafts consumer warnings: the complaint centre and the office."""
    return (user.role in DEPARTMENT_ROLES and user.unit == plan.complaints.centre) or user.role == OFFICE


def may_approve_warnings(user, plan: Plan) -> bool:
    """Tell whether the user's role approves consumer warnings for publication (the plan says which)."""
    return user.role in plan.surge.warnings_approved_by


def get_warning(session: Session, warning_id: int, *, for_update: bool = False) -> ConsumerWarning:
    """Load a consumer warning."""
    stmt = select(ConsumerWarning).where(ConsumerWarning.id == warning_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("not_found", f"消费预警 {warning_id} 不存在", f"consumer warning {warning_id} not found")
    return row


def draft_warning(session: Session, plan: Plan, *, title: str, body: str, actor, now: datetime) -> ConsumerWarning:
    """Draft a consumer warning by hand (not from a surge)."""
    if not may_edit_warnings(actor, plan):
        raise Forbidden("forbidden", "只有315投诉中心或应急办公室可以起草消费预警", "only the centre or the office drafts")
    row = ConsumerWarning(title=checked_text(title, field="title", label="标题", limit=MAX_TITLE, clean=True, ask="请填写"), body=redact(checked_text(body, field="body", label="正文", limit=MAX_BODY, clean=True, ask="请填写")),
                          status=WARNING_DRAFT, drafted_at=now, edited_at=now, edited_by_id=actor_id(actor))
    session.add(row)
    session.flush()
    _warning_event(session, plan, row, what="drafted", actor=actor, at=now)
    return row


def edit_warning(session: Session, plan: Plan, *, warning_id: int, title: str, body: str, actor,
                 now: datetime) -> ConsumerWarning:
    """Change a draft's title and text."""
    if not may_edit_warnings(actor, plan):
        raise Forbidden("forbidden", "只有315投诉中心或应急办公室可以修改消费预警", "only the centre or the office edits")
    row = get_warning(session, warning_id, for_update=True)
    if row.status != WARNING_DRAFT:
        raise Conflict("not_draft", "只能修改草稿（已提交的须先退回）", "only a draft can be edited")
    row.title = checked_text(title, field="title", label="标题", limit=MAX_TITLE, clean=True, ask="请填写")
    row.body = redact(checked_text(body, field="body", label="正文", limit=MAX_BODY, clean=True, ask="请填写"))  # no complainant's number ever goes public
    row.edited_at, row.edited_by_id = now, actor_id(actor)
    _warning_event(session, plan, row, what="edited", actor=actor, at=now)
    return row


def submit_warning(session: Session, plan: Plan, *, warning_id: int, actor, now: datetime) -> ConsumerWarning:
    """Submit a draft to leadership for approval (重要信息发布须经领导小组审批)."""
    if not may_edit_warnings(actor, plan):
        raise Forbidden("forbidden", "只有315投诉中心或应急办公室可以提交消费预警", "only the centre or the office submits")
    row = get_warning(session, warning_id, for_update=True)
    if row.status != WARNING_DRAFT:
        raise Conflict("not_draft", "只能提交草稿", "only a draft can be submitted")
    row.status, row.submitted_at, row.submitted_by_id = WARNING_SUBMITTED, now, actor_id(actor)
    row.decision_note = None
    _warning_event(session, plan, row, what="submitted", actor=actor, at=now)
    return row


def decide_warning(session: Session, plan: Plan, *, warning_id: int, approve: bool, note: str | None, actor,
                   now: datetime) -> ConsumerWarning:
    """Approve (and so publish) a submitted warning, or return it to the drafters with a note."""
    if not may_approve_warnings(actor, plan):
        names = "、".join({"leader": "应急领导小组", "commander": "专项应急指挥部"}.get(r, r)
                         for r in plan.surge.warnings_approved_by)
        raise Forbidden("forbidden", f"消费预警须经{names}审批后发布", "only the approvers named by the plan")
    row = get_warning(session, warning_id, for_update=True)
    if row.status != WARNING_SUBMITTED:
        raise Conflict("not_submitted", "只能审批已提交的消费预警", "only a submitted warning can be decided")
    note = (note or "").strip()[:2000] or None
    if not approve and not note:
        raise InvalidInput("missing_field", "退回须写明意见", "returning needs a note", field="note")
    row.decided_at, row.decided_by_id, row.decision_note = now, actor_id(actor), note
    if approve:
        row.status, row.published_at = WARNING_PUBLISHED, now
    else:
        row.status = WARNING_DRAFT
    _warning_event(session, plan, row, what="published" if approve else "returned", actor=actor, at=now)
    return row


def withdraw_warning(session: Session, plan: Plan, *, warning_id: int, note: str | None, actor,
                     now: datetime) -> ConsumerWarning:
    """Withdraw a warning: a draft by its drafters, a published one by its approvers."""
    row = get_warning(session, warning_id, for_update=True)
    if row.status == WARNING_WITHDRAWN:
        raise Conflict("withdrawn", "该消费预警已撤回", "already withdrawn")
    allowed = may_approve_warnings(actor, plan) if row.status == WARNING_PUBLISHED else (
        may_edit_warnings(actor, plan) or may_approve_warnings(actor, plan))
    if not allowed:
        raise Forbidden("forbidden", "无权撤回该消费预警", "you may not withdraw this warning")
    row.status, row.decided_at, row.decided_by_id = WARNING_WITHDRAWN, now, actor_id(actor)
    row.decision_note = (note or "").strip()[:2000] or row.decision_note
    _warning_event(session, plan, row, what="withdrawn", actor=actor, at=now)
    return row


def warning_view(row: ConsumerWarning) -> dict:
    """Return a consumer warning as staff see it."""
    return {"id": row.id, "surge_id": row.surge_id, "title": row.title, "body": row.body, "status": row.status,
            "status_name": labels.WARNING_STATUS[row.status], "drafted_at": iso(row.drafted_at),
            "edited_at": iso(row.edited_at), "submitted_at": iso(row.submitted_at), "decided_at": iso(row.decided_at),
            "decision_note": row.decision_note, "published_at": iso(row.published_at)}


def public_warning_view(row: ConsumerWarning) -> dict:
    """Return a published consumer warning as the public sees it: no internal notes, drafts or surge."""
    return {"id": row.id, "title": row.title, "body": row.body, "published_at": iso(row.published_at)}


def _warning_event(session: Session, plan: Plan, row: ConsumerWarning, *, what: str, actor, at: datetime) -> None:
    audit.record(session, actor=actor, action=f"warning.{what}", entity="consumer_warning", entity_id=row.id, at=at,
                 data={"status": row.status, "title": row.title, "surge_id": row.surge_id})
    rooms = {OVERVIEW, department_room(plan.complaints.centre), department_room(plan.office_department)}
    board_events.publish(session, rooms=rooms, event_name="warning",
                         payload={"what": what, "warning": {k: v for k, v in warning_view(row).items() if k != "body"}},
                         at=at)


def warnings(session: Session, *, statuses: tuple[str, ...] | None = None, limit: int = 50) -> list[ConsumerWarning]:
    """Return consumer warnings, newest first, optionally of some statuses."""
    stmt = select(ConsumerWarning).order_by(ConsumerWarning.id.desc()).limit(limit)
    if statuses:
        stmt = stmt.where(ConsumerWarning.status.in_(statuses))
    return list(session.scalars(stmt))


def published(session: Session, *, limit: int = 50) -> list[ConsumerWarning]:
    """Return the published consumer warnings for the public page, newest first."""
    return list(session.scalars(select(ConsumerWarning).where(ConsumerWarning.status == WARNING_PUBLISHED)
                                .order_by(ConsumerWarning.published_at.desc()).limit(limit)))
