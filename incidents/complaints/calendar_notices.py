"""Holiday notices the office enters (放假通知): checked, kept, audited, and applied at once.

A notice for a year the calendar package lacks is entered from a file, the API or a page. It is
checked against the statutory rules (every statutory day of the year is a day off, a make-up
working day is a Saturday or a Sunday, every date is of that year), stored as a new row (a later
notice for the same year supersedes it, with a reason), written to the audit trail, and every
open complaint limit it touches is counted again at once; the complaint centre is told which
limits moved and by how much.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents import escalation
from incidents.complaints.limits import limit_timing
from incidents.complaints.views import change_dict
from incidents.kernel import labels
from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.calendar import (
    EDITIONS,
    HOLIDAY_NAMES,
    LAST_YEAR,
    Calendar,
    CalendarGap,
    LunarDates,
    Notice,
    NoticeBreak,
    chinese_date,
)
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput
from incidents.kernel.moments import at_local
from incidents.kernel.roles import ADMIN, OFFICE
from incidents.models import (
    ESC_STOPPED,
    PENDING,
    CalendarNotice,
    ComplaintLimitChange,
    ComplaintLimitRow,
)
from incidents.plan import Plan
from incidents.records import audit, board_events
from incidents.records.board_events import department_room

ENTER_ROLES = frozenset({OFFICE, ADMIN})
FIRST_YEAR = EDITIONS[-1].since
MAX_BREAK_DAYS = 15
MAX_BREAKS = 20
MAX_WORKDAYS = 10
MAX_FILE = 64_000
# How the office may write a holiday's name in a file: the plan's code or its Chinese names.
ALIASES = {**{code: code for code in HOLIDAY_NAMES}, **{zh: code for code, zh in HOLIDAY_NAMES.items()},
           "清明": "qingming", "五一": "labour_day", "端午": "dragon_boat", "中秋": "mid_autumn",
           "国庆": "national_day", "十一": "national_day"}
PLAN_SOURCE = "预案 complaints.calendar"


@dataclass(frozen=True)
class Sources:
    """What the calendar needs from outside the domain: lunar dates and the package's notices."""

    lunar: LunarDates
    package: Mapping[int, Notice]


def version(session: Session) -> tuple[tuple[int, str], ...]:
    """Return a stamp that changes whenever a notice is entered (to rebuild cached calendars): ids and digests."""
    rows = session.execute(select(CalendarNotice.id, CalendarNotice.sha256).order_by(CalendarNotice.id))
    return tuple((row_id, digest) for row_id, digest in rows)


def plan_notices(plan: Plan) -> dict[int, Notice]:
    """Return the years the plan file fills in, as notices."""
    return {y.year: Notice(y.year, PLAN_SOURCE, days_off=tuple(date.fromisoformat(d) for d in y.days_off),
                           workdays=tuple(date.fromisoformat(d) for d in y.workdays))
            for y in plan.complaints.calendar}


def _notice_of(row: CalendarNotice) -> Notice:
    breaks = tuple(NoticeBreak(tuple(b["holidays"]), date.fromisoformat(b["from"]), date.fromisoformat(b["to"]),
                               tuple(date.fromisoformat(w) for w in b.get("workdays", ())))
                   for b in row.breaks)
    return Notice(row.year, f"办公室录入的放假通知（{row.title}，第{row.id}号录入）", breaks)


def current_rows(session: Session) -> dict[int, CalendarNotice]:
    """Return the notice in force for each year the office entered one for."""
    rows = session.scalars(select(CalendarNotice).order_by(CalendarNotice.id))
    return {row.year: row for row in rows}


def build_calendar(session: Session, plan: Plan, sources: Sources) -> Calendar:
    """Return the calendar: statutory rules, the package's notices, the plan's years, the office's notices."""
    notices = dict(sources.package)
    notices.update(plan_notices(plan))
    notices.update({year: _notice_of(row) for year, row in current_rows(session).items()})
    return Calendar(sources.lunar, notices)


# --- reading and checking a notice ---------------------------------------------------------------------------


class NoticeRefused(InvalidInput):
    """A notice that breaks the rules: every problem is listed, each naming its date."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        shown = "；".join(zh for zh, _ in problems[:8]) + (f"；等共{len(problems)}处" if len(problems) > 8 else "")
        super().__init__("bad_notice", f"放假通知有误，未录入：{shown}",
                         "the notice was refused: " + "; ".join(en for _, en in problems[:8]), field="breaks")
        self.problems = problems

    def as_dict(self) -> dict:
        return {**super().as_dict(), "problems": [zh for zh, _ in self.problems]}


@dataclass(frozen=True)
class ParsedNotice:
    """A checked notice, ready to store."""

    year: int
    title: str
    document_no: str | None
    reason: str | None
    breaks: tuple[NoticeBreak, ...]

    def content(self) -> list[dict]:
        """Return the breaks as stored: ISO dates, in date order."""
        return [{"holidays": list(b.holidays), "from": b.first_day.isoformat(), "to": b.last_day.isoformat(),
                 "workdays": [w.isoformat() for w in b.workdays]} for b in self.breaks]

    def sha256(self) -> str:
        """Return the digest of the notice's days (title and reason aside)."""
        return hashlib.sha256(audit.canonical({"year": self.year, "breaks": self.content()}).encode()).hexdigest()


def read_file_text(text: str) -> Any:
    """Read a notice file (YAML or JSON) into plain data, refusing what is not one."""
    if len(text) > MAX_FILE:
        raise InvalidInput("too_long", f"文件过大（最多{MAX_FILE}字符）", f"the file is longer than {MAX_FILE} characters")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else ""
        raise InvalidInput("bad_file", f"文件格式有误（{where}），须为 YAML 或 JSON", f"not YAML or JSON: {exc}") from None


def _text(raw: Mapping, key: str, label: str, limit: int, problems: list) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.append((f"{label}（{key}）须为文本", f"{key} must be text"))
        return None
    if len(value.strip()) > limit:
        problems.append((f"{label}过长（最多{limit}字）", f"{key} is longer than {limit} characters"))
        return None
    return value.strip()


def _day(value: Any, where: str, problems: list) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    shown = str(value)[:40]
    problems.append((f"{where}：“{shown}”不是有效日期（应为 YYYY-MM-DD）", f"{where}: '{shown}' is not a date"))
    return None


def _holidays(raw: Mapping, where: str, problems: list) -> tuple[str, ...]:
    value = raw.get("holidays", raw.get("holiday"))
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or len(names) > len(HOLIDAY_NAMES):
        problems.append((f"{where}：须写明节日（holiday），如 春节", f"{where}: name the holiday"))
        return ()
    out: list[str] = []
    for name in names:
        code = ALIASES.get(name.strip()) if isinstance(name, str) else None
        if code is None:
            shown = str(name)[:20]
            problems.append((f"{where}：未知节日“{shown}”", f"{where}: unknown holiday '{shown}'"))
        elif code not in out:
            out.append(code)
    return tuple(code for code in HOLIDAY_NAMES if code in out)


def _in_year(day: date, year: int, holidays: tuple[str, ...]) -> bool:
    # 元旦 may begin in the December before (e.g. 2023-12-30 to 2024-01-01); nothing else may leave the year.
    return day.year == year or ("new_year" in holidays and day.year == year - 1 and day.month == 12)


def parse_notice(calendar: Calendar, year: Any, raw: Any) -> ParsedNotice:
    """Check a notice for a year against the statutory rules; raise NoticeRefused listing every problem."""
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        shown = str(year)[:12]
        raise InvalidInput("bad_year", f"年份“{shown}”无效：只能录入{FIRST_YEAR}年至{LAST_YEAR}年的放假通知",
                           f"year '{shown}' is outside {FIRST_YEAR}..{LAST_YEAR}", field="year")
    if not isinstance(raw, dict):
        raise InvalidInput("bad_notice", "放假通知须为一个对象（含 breaks 列表）", "a notice must be a mapping with breaks")
    problems: list[tuple[str, str]] = []
    unknown = sorted(str(k)[:30] for k in raw if k not in ("year", "title", "document_no", "reason", "breaks"))
    for key in unknown:
        problems.append((f"未知字段“{key}”", f"unknown field '{key}'"))
    if "year" in raw and raw["year"] != year:
        shown = str(raw["year"])[:12]
        problems.append((f"文件中的年份{shown}与录入的{year}年不符", f"the file says year {shown}, not {year}"))
    title = _text(raw, "title", "标题", 200, problems) or f"国务院办公厅关于{year}年部分节假日安排的通知"
    document_no = _text(raw, "document_no", "文号", 100, problems)
    reason = _text(raw, "reason", "原因", 2000, problems)
    items = raw.get("breaks")
    if not isinstance(items, list) or not items or len(items) > MAX_BREAKS:
        problems.append((f"须列出各节日的放假安排（breaks，1至{MAX_BREAKS}项）", f"breaks must list 1..{MAX_BREAKS} holidays"))
        raise NoticeRefused(problems)
    breaks: list[NoticeBreak] = []
    for i, item in enumerate(items, 1):
        where = f"第{i}项"
        if not isinstance(item, dict):
            problems.append((f"{where}须为对象（holiday、from、to、workdays）", f"item {i} must be a mapping"))
            continue
        for key in sorted(str(k)[:30] for k in item if k not in ("holiday", "holidays", "from", "to", "workdays")):
            problems.append((f"{where}：未知字段“{key}”", f"item {i}: unknown field '{key}'"))
        holidays = _holidays(item, where, problems)
        label = f"{where}（{'、'.join(HOLIDAY_NAMES[h] for h in holidays)}）" if holidays else where
        first, last = _day(item.get("from"), f"{label}放假起始日", problems), _day(item.get("to"), f"{label}放假结束日", problems)
        raw_work = item.get("workdays") or []
        if not isinstance(raw_work, list) or len(raw_work) > MAX_WORKDAYS:
            problems.append((f"{label}：调休上班日（workdays）须为日期列表，最多{MAX_WORKDAYS}天", f"item {i}: bad workdays"))
            raw_work = []
        workdays = [d for d in (_day(w, f"{label}调休上班日", problems) for w in raw_work) if d is not None]
        if not holidays or first is None or last is None:
            continue
        ok = True
        for d in (first, last, *workdays):
            if not _in_year(d, year, holidays):
                problems.append((f"{label}：{d.isoformat()}不在{year}年内", f"item {i}: {d} is not in {year}"))
                ok = False
        if first > last:
            problems.append((f"{label}：放假起始日{first.isoformat()}晚于结束日{last.isoformat()}",
                             f"item {i}: {first} is after {last}"))
            continue
        if (last - first).days + 1 > MAX_BREAK_DAYS:
            problems.append((f"{label}：{first.isoformat()}至{last.isoformat()}共{(last - first).days + 1}天，"
                             f"超过{MAX_BREAK_DAYS}天，请核对", f"item {i}: longer than {MAX_BREAK_DAYS} days"))
            continue
        for d in workdays:
            if d.weekday() < 5:
                problems.append((f"{label}：调休上班日{chinese_date(d, year=True)}不是星期六或星期日",
                                 f"item {i}: make-up working day {d} is not a Saturday or Sunday"))
                ok = False
        if ok:
            breaks.append(NoticeBreak(holidays, first, last, tuple(sorted(set(workdays)))))
    _check_together(calendar, year, breaks, problems)
    if problems:
        raise NoticeRefused(problems)
    return ParsedNotice(year, title, document_no, reason, tuple(sorted(breaks, key=lambda b: b.first_day)))


def _check_together(calendar: Calendar, year: int, breaks: list[NoticeBreak], problems: list) -> None:
    ordered = sorted(breaks, key=lambda b: b.first_day)
    for a, b in zip(ordered, ordered[1:]):
        if b.first_day <= a.last_day:
            problems.append((f"{a.first_day.isoformat()}至{a.last_day.isoformat()}与{b.first_day.isoformat()}至"
                             f"{b.last_day.isoformat()}的放假日期重叠", f"breaks overlap at {b.first_day}"))
    seen: dict[str, NoticeBreak] = {}
    for b in ordered:
        for h in b.holidays:
            if h in seen:
                problems.append((f"{HOLIDAY_NAMES[h]}出现在两项放假安排中", f"{h} appears twice"))
            seen[h] = b
    off = {b.first_day + timedelta(days=k): b for b in ordered for k in range(b.days)}
    for b in ordered:
        for w in b.workdays:
            if w in off:
                problems.append((f"{w.isoformat()}既是放假日又是调休上班日", f"{w} is both a day off and a working day"))
    statutory = calendar.statutory(year)
    for day, holidays in sorted(statutory.items()):
        for h in holidays:
            holder = off.get(day)
            if holder is not None and h in holder.holidays:
                continue
            name = f"{chinese_date(day, year=True)}（{HOLIDAY_NAMES[h]}）"
            if holder is not None:
                problems.append((f"{name}在“{'、'.join(HOLIDAY_NAMES[x] for x in holder.holidays)}”放假期间，"
                                 f"该项须同时注明{HOLIDAY_NAMES[h]}", f"{day} ({h}) lies in a break that does not name {h}"))
            else:
                problems.append((f"{name}是法定节假日，未列为放假日", f"{day} ({h}) is a statutory day off and is missing"))
    for b in ordered:
        for h in b.holidays:
            if not any(day in off and off[day] is b for day, hs in statutory.items() if h in hs):
                problems.append((f"{HOLIDAY_NAMES[h]}的法定假日不在{b.first_day.isoformat()}至{b.last_day.isoformat()}之内",
                                 f"no statutory day of {h} lies in {b.first_day}..{b.last_day}"))


def describe(notice: Notice | ParsedNotice) -> str:
    """Return a notice in Chinese, as a notice reads: 春节：2月5日（星期五）至2月13日（星期六）放假，共9天；…上班。"""
    lines = []
    for b in notice.breaks:
        name = "、".join(HOLIDAY_NAMES[h] for h in b.holidays) or "其他"
        span = (f"{chinese_date(b.first_day)}放假，共1天" if b.days == 1 else
                f"{chinese_date(b.first_day)}至{chinese_date(b.last_day)}放假，共{b.days}天")
        if b.first_day.year != notice.year:
            span = f"{b.first_day.year}年" + span
        work = f"；{'、'.join(chinese_date(w) for w in b.workdays)}上班" if b.workdays else ""
        lines.append(f"{name}：{span}{work}。")
    return "\n".join(lines)


# --- entering a notice -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entered:
    """A notice as entered, and the complaint limits it moved."""

    row: CalendarNotice
    description: str
    changes: tuple[ComplaintLimitChange, ...]


def enter_notice(session: Session, plan: Plan, sources: Sources, *, year: Any, raw: Any, actor,
                 now: datetime) -> Entered:
    """Check and store a year's notice, audit it, and count the open complaint limits it touches again."""
    if actor.role not in ENTER_ROLES:
        raise Forbidden("forbidden", "只有应急办公室可以录入放假通知", "only the office enters holiday notices")
    calendar = build_calendar(session, plan, sources)
    parsed = parse_notice(calendar, year, raw)
    current = current_rows(session).get(parsed.year)
    existing = calendar.notice(parsed.year)
    if current is not None and current.sha256 == parsed.sha256():
        raise Conflict("same_notice", f"与现行{parsed.year}年放假通知（第{current.id}号录入）相同，无需重新录入",
                       f"the notice is the same as the one in force for {parsed.year}")
    if existing is not None and not parsed.reason:
        raise InvalidInput("reason_required", f"{parsed.year}年已有放假安排（{existing.source}），重新录入须说明原因",
                           f"{parsed.year} already has a notice ({existing.source}); give a reason", field="reason")
    row = CalendarNotice(year=parsed.year, title=parsed.title, document_no=parsed.document_no, breaks=parsed.content(),
                         sha256=parsed.sha256(), reason=parsed.reason, replaces_id=current.id if current else None,
                         entered_by_id=actor_id(actor), entered_at=now)
    session.add(row)
    session.flush()
    description = describe(parsed)
    audit.record(session, actor=actor, action="calendar.notice_entered", entity="calendar_notice", entity_id=row.id,
                 at=now, data={"year": parsed.year, "title": parsed.title, "document_no": parsed.document_no,
                               "breaks": parsed.content(), "sha256": row.sha256, "reason": parsed.reason,
                               "replaces": row.replaces_id, "replaces_source": existing.source if existing else None})
    fresh = build_calendar(session, plan, sources)
    changes = recount_limits(session, plan, fresh, first=date(parsed.year - 1, 12, 1), last=date(parsed.year, 12, 31),
                             cause=f"录入{parsed.year}年放假通知（{parsed.title}）", notice_id=row.id, now=now)
    board_events.publish(session, rooms={board_events.OVERVIEW, department_room(plan.office_department)},
                         event_name="alert", at=now,
                         payload={"what": "calendar_notice", "year": parsed.year, "notice_id": row.id,
                                  "message": f"已录入{parsed.year}年放假通知：{parsed.title}；"
                                             f"{len(changes)}件投诉举报的办理时限随之重算"})
    return Entered(row, description, tuple(changes))


def recount_limits(session: Session, plan: Plan, calendar: Calendar, *, first: date, last: date, cause: str,
                   now: datetime, notice_id: int | None = None, estimated_only: bool = False,
                   batch: int | None = None) -> list[ComplaintLimitChange]:
    """Count the open complaint limits that reach into [first, last] again; keep and announce every change."""
    stmt = (select(ComplaintLimitRow).where(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.starts_on <= last,
                                            ComplaintLimitRow.due_on >= first)
            .options(selectinload(ComplaintLimitRow.complaint)).order_by(ComplaintLimitRow.id))
    if estimated_only:
        stmt = stmt.where(ComplaintLimitRow.estimated.is_(True))
    if batch:
        stmt = stmt.limit(batch)
    rules = {r.kind: r for r in plan.complaints.limits}
    changes: list[ComplaintLimitChange] = []
    for row in session.scalars(stmt.with_for_update(of=ComplaintLimitRow)):
        rule = rules.get(row.kind)
        if rule is None:
            continue
        timing = limit_timing(plan, calendar, rule, at_local(plan.tz, row.starts_on))
        if (timing.due_on, timing.warn_at, timing.estimated, timing.note) == \
                (row.due_on, row.warn_at, row.estimated, row.estimate_note):
            continue
        change = ComplaintLimitChange(limit_id=row.id, complaint_id=row.complaint_id, notice_id=notice_id, cause=cause,
                                      due_on_before=row.due_on, due_on=timing.due_on, due_at_before=row.due_at,
                                      due_at=timing.due_at, estimated_before=row.estimated, estimated=timing.estimated,
                                      changed_at=now)
        session.add(change)
        row.due_on, row.due_at, row.warn_at = timing.due_on, timing.due_at, timing.warn_at
        row.estimated, row.estimate_note = timing.estimated, timing.note
        if (row.overdue_at and row.due_at > now) or (row.warned_at and row.warn_at > now):
            # Told too early under the old count: the boards are told again when the new time comes.
            escalation.settle_complaint_limit(session, row, status=ESC_STOPPED, reason=f"时限已重算：{cause}", now=now)
            row.overdue_at = row.overdue_at if row.due_at <= now else None
            row.warned_at = row.warned_at if row.warn_at <= now else None
        changes.append(change)
    if changes:
        session.flush()
        audit.record(session, actor=_RECOUNT, action="complaints.limits_recounted", entity="complaint_limit_batch",
                     entity_id=f"{changes[0].limit_id}..{changes[-1].limit_id}", at=now,
                     data={"cause": cause, "notice_id": notice_id, "changes": [change_dict(c) for c in changes]})
        _announce(session, plan, changes, cause=cause, now=now)
    return changes


_RECOUNT = SystemActor(name="calendar")


def _announce(session: Session, plan: Plan, changes: list[ComplaintLimitChange], *, cause: str, now: datetime) -> None:
    limits = {r.id: r for r in session.scalars(select(ComplaintLimitRow).where(
        ComplaintLimitRow.id.in_([c.limit_id for c in changes])).options(selectinload(ComplaintLimitRow.complaint)))}
    listed = []
    rooms = {department_room(plan.complaints.centre)}
    for change in changes:
        limit = limits[change.limit_id]
        complaint = limit.complaint
        rooms.add(department_room(limit.department))
        listed.append({**change_dict(change, limit), "tracking_no": complaint.tracking_no,
                       "kind_name": labels.COMPLAINT_KIND[complaint.kind], "business_name": complaint.business_name,
                       "department": limit.department})
    board_events.publish(session, rooms=rooms, event_name="complaint", at=now,
                         payload={"what": "limits_recounted", "cause": cause, "count": len(changes),
                                  "changes": listed[:200],
                                  "message": f"{cause}：{len(changes)}项办理时限已重新计算"})


def refresh_estimates(session: Session, plan: Plan, calendar: Calendar, *, now: datetime, batch: int = 500) -> int:
    """Count estimated limits again once the calendar knows more of their years (e.g. a package update)."""
    changes = recount_limits(session, plan, calendar, first=date.min, last=date.max, now=now, batch=batch,
                             cause="节假日数据更新", estimated_only=True)
    return len(changes)


def history(session: Session, year: int) -> list[CalendarNotice]:
    """Return every notice entered for a year, newest first."""
    return list(session.scalars(select(CalendarNotice).where(CalendarNotice.year == year)
                                .order_by(CalendarNotice.id.desc())))


def changes_of(session: Session, notice_id: int) -> list[tuple[ComplaintLimitChange, ComplaintLimitRow]]:
    """Return the complaint limits a notice moved, with the limits."""
    return list(session.execute(select(ComplaintLimitChange, ComplaintLimitRow)
                                .join(ComplaintLimitRow, ComplaintLimitRow.id == ComplaintLimitChange.limit_id)
                                .where(ComplaintLimitChange.notice_id == notice_id)
                                .options(selectinload(ComplaintLimitRow.complaint))
                                .order_by(ComplaintLimitChange.id)))


def year_view(calendar: Calendar, year: int) -> dict:
    """Return what the calendar says of a year: its breaks, how sure, and from where."""
    try:
        breaks = calendar.breaks(year)
        statutory = calendar.statutory(year) if FIRST_YEAR <= year <= LAST_YEAR else {}
    except CalendarGap as gap:
        raise InvalidInput("no_calendar", f"{year}年超出日历范围（{gap.source}）",
                           f"{year} is outside the calendar ({gap.source})", field="year") from None
    notice = calendar.notice(year)
    return {
        "year": year,
        "certain": notice is not None,
        "source": notice.source if notice else calendar.day(date(year, 6, 1)).source,
        "description": describe(notice) if notice and notice.breaks else None,
        "statutory": [{"date": d.isoformat(), "holidays": list(hs), "names": "、".join(HOLIDAY_NAMES[h] for h in hs)}
                      for d, hs in sorted(statutory.items())],
        "breaks": [{"holidays": list(b.holidays), "name": b.name, "first_day": b.first_day.isoformat(),
                    "last_day": b.last_day.isoformat(), "days": b.days,
                    "workdays": [w.isoformat() for w in b.workdays], "certain": b.certain} for b in breaks],
    }


def notice_dict(row: CalendarNotice) -> dict:
    """Return an entered notice as the API shows it."""
    return {"id": row.id, "year": row.year, "title": row.title, "document_no": row.document_no,
            "breaks": row.breaks, "sha256": row.sha256, "reason": row.reason, "replaces": row.replaces_id,
            "entered_by_id": row.entered_by_id, "entered_at": row.entered_at.isoformat(),
            "description": describe(_notice_of(row))}
