"""The Chinese SMS (and call) text for an assignment or a clock, within two SMS segments."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
MAX_UNITS = 134  # UCS-2: 70 in one segment, 67 per part when concatenated; two parts
MIN_TITLE = 6  # characters of the title kept (with "…") before the task is cut too
ELLIPSIS = "…"


def ucs2_units(text: str) -> int:
    """Return the UCS-2 code units an SMS needs for the text (characters beyond the BMP take two)."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """Return how many SMS segments a Chinese (UCS-2) text takes."""
    units = ucs2_units(text)
    return 1 if units <= 70 else -(-units // 67)


def beijing(moment: str | datetime | None) -> str:
    """Format a time (ISO text or aware datetime) as Beijing time, e.g. 11月20日09:30."""
    if moment is None:
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    when = when.astimezone(BEIJING)
    return f"{when.month}月{when.day}日{when:%H:%M}"


def item_code(kind: str, item_id: int) -> str:
    """Return the short code a reply can name: A12 for assignment 12, D7 for clock 7."""
    return f"{'A' if kind == 'assignment' else 'D'}{item_id}"


def ack_tail(code: str, reply_code: str | None) -> str:
    """Return the end of an alert SMS: how to acknowledge it (the random reply code), and the item's number."""
    return (f"。回复{reply_code}签收[{code}]" if reply_code else f"。[{code}]")


def _cut(text: str, units: int) -> str:
    if ucs2_units(text) <= units:
        return text
    out = ""
    for ch in text:
        if ucs2_units(out + ch + ELLIPSIS) > units:
            break
        out += ch
    return out + ELLIPSIS if units > 0 else ""


def _fit(template: str, title: str, ask: str) -> str:
    """Fill the template, cutting the title first, then the ask, so the text fits MAX_UNITS."""
    text = template.format(title=title, ask=ask)
    if ucs2_units(text) <= MAX_UNITS:
        return text
    fixed = ucs2_units(template.format(title="", ask=ask))
    room = MAX_UNITS - fixed
    if room >= MIN_TITLE + 1:
        return template.format(title=_cut(title, room), ask=ask)
    title = _cut(title, MIN_TITLE + 1)
    room = MAX_UNITS - ucs2_units(template.format(title=title, ask=""))
    return template.format(title=title, ask=_cut(ask, max(room, 0)))[:MAX_UNITS]


def _head(level_numeral: str | None, number: str | None) -> str:
    level = f"{level_numeral}级" if level_numeral else ""
    return f"【应急{level}】{number or ''} "


def assignment_text(assignment: dict, *, reply_code: str | None = None) -> str:
    """Return the SMS for an assignment (a snapshots.assignment dict): incident, task, deadline, how to sign."""
    due = beijing(assignment.get("due_at"))
    deadline = f"，北京时间{due}前" if due else ""
    dept = assignment.get("department_name") or assignment.get("department") or ""
    template = (_head(assignment.get("level_numeral"), assignment.get("incident_number")) + "{title}：请" + dept
                + "{ask}" + deadline + ack_tail(item_code("assignment", assignment["id"]), reply_code))
    return _fit(template, assignment.get("incident_title") or "", "：" + (assignment.get("task") or "处置任务"))


def clock_text(clock: dict, incident: dict, *, overdue: bool | None = None, reply_code: str | None = None) -> str:
    """Return the SMS for a reporting clock (snapshots.deadline and snapshots.incident dicts)."""
    if overdue is None:
        overdue = clock.get("status") == "overdue"
    due = beijing(clock.get("due_at"))
    when = f"已超时(时限北京时间{due})" if overdue else f"须于北京时间{due}前完成"
    template = (_head(incident.get("level_numeral"), incident.get("number")) + "{title}：{ask}" + when
                + ack_tail(item_code("clock", clock["id"]), reply_code))
    return _fit(template, incident.get("title") or "", clock.get("name") or "报告")


def sms_text(item: dict, incident: dict | None = None, *, overdue: bool | None = None,
             reply_code: str | None = None) -> str:
    """Return the SMS for an assignment dict, or for a clock dict with its incident dict."""
    if incident is None:
        return assignment_text(item, reply_code=reply_code)
    return clock_text(item, incident, overdue=overdue, reply_code=reply_code)


ACK_TAIL = re.compile(r"。(回复[A-Z0-9]+签收)?\[[ADC]\d+\]$")
BUNDLE_ASK = "回复签收码签收（可一次回复多个）"
HANDLED = {
    "acknowledged": "已由{by}签收",
    "resolved": "已办结",
    "stopped": "已撤销",
}


def spoken(text: str) -> str:
    """Return an SMS text as a call reads it: without the reply instruction (the call asks for a key)."""
    return ACK_TAIL.sub("。", text)


def handled_text(code: str, title: str, *, outcome: str, by: str | None = None, reason: str | None = None) -> str:
    """Return the SMS that tells someone already alerted that the item is handled and needs nothing more."""
    what = HANDLED.get(outcome, HANDLED["stopped"]).format(by=by or "他人")
    if outcome == "stopped" and reason:
        what = reason
    template = "【已处理】[" + code + "]{title}：" + what + "，无需再处理。{ask}"
    return _fit(template, title, "")


def bundle_text(items: list[tuple[str, str]], *, handled: int = 0) -> str:
    """Return one SMS for several items to one phone: codes with short titles, then how to sign."""
    alerts = len(items)
    head = f"【应急】您有{alerts}项待签收" if alerts else "【已处理】"
    tail = "。" + BUNDLE_ASK if alerts else "。"
    note = f"（另有{handled}项已处理）" if handled and alerts else (f"{handled}项事项已处理，无需再处理" if handled else "")
    text = head + note + "："
    room = MAX_UNITS - ucs2_units(text + tail)
    listed = ""
    for i, (code, title) in enumerate(items):
        piece = ("；" if i else "") + code + " " + title
        if ucs2_units(listed + piece) > room:
            # Fit as many whole items as the room allows, with the rest as codes or a count.
            rest = [c for c, _ in items[i:]]
            short = ("；" if i else "") + "、".join(rest)
            if ucs2_units(listed + short) <= room:
                listed += short
            else:
                listed += ("；" if i else "") + f"等{alerts - i}项"
            break
        listed += piece
    return (text + listed + tail) if alerts else (head + note + tail)


def short_title(title: str, limit: int = 10) -> str:
    """Return the first characters of a title, with an ellipsis when cut."""
    return title if len(title) <= limit else title[: limit - 1] + ELLIPSIS


def complaint_limit_text(*, code: str, tracking_no: str, business: str, limit_name: str, due_at: datetime,
                         overdue: bool, reply_code: str | None = None) -> str:
    """Return the SMS for a 12315 time limit about to run out, or run out; the business is cut first."""
    due = beijing(due_at)
    when = f"已超时(时限北京时间{due})" if overdue else f"须于北京时间{due}前办结"
    template = "【12315】" + tracking_no + " {title}：“{ask}”" + when + ack_tail(code, reply_code)
    return _fit(template, business, limit_name)
