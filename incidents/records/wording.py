"""Audit entries, levels, units and categories said in Chinese, the same on the boards and in the briefings."""
from __future__ import annotations

import json

from incidents.kernel import labels
from incidents.kernel.durations import chinese_duration
from incidents.kernel.roles import ROLES
from incidents.models import AuditEntry
from incidents.plan import REPORT_KINDS, Plan
from incidents.plan.model import DELIVERY_CHANNELS

UNGRADED = {"code": None, "numeral": "", "name": "未定级", "colour": "grey", "label": "未定级"}


def level(plan: Plan, code: str | None) -> dict:
    """Return a level's numeral, name, colour and label (Ⅱ级); grey when ungraded."""
    if not code:
        return dict(UNGRADED)
    try:
        lv = plan.level(code)
    except KeyError:
        return {**UNGRADED, "code": code, "label": code}
    return {"code": lv.code, "numeral": lv.numeral, "name": lv.name, "colour": lv.colour, "label": f"{lv.numeral}级"}


def unit(plan: Plan, code: str | None) -> str:
    """Return a department's or station's Chinese name (the code when the plan lacks it)."""
    if not code:
        return "事发地市场监督管理所（未指定）"
    return plan.unit_name(code) if plan.has_unit(code) else code


def category(plan: Plan, code: str) -> str:
    """Return an event category's Chinese name."""
    try:
        return plan.category(code).name
    except KeyError:
        return code


def actor(text: str) -> str:
    """Turn an audit actor ("office:张三", "system:scheduler") into 应急办公室 张三."""
    role, _, name = text.partition(":")
    if role == "system":
        return labels.SYSTEM_ACTORS.get(name, f"系统（{name}）")
    return f"{ROLES.get(role, role)} {name}".strip()


def describe(plan: Plan, action: str, data: dict, fmt) -> str:
    """Say in Chinese what an audit entry recorded; `fmt` formats an ISO time."""
    kind, cycle = data.get("kind"), data.get("cycle") or 0
    if action == "incident.registered":
        return f"{level(plan, data.get('level'))['label']}，{category(plan, data.get('category') or '')}"
    if action == "incident.graded":
        return (f"{level(plan, data.get('from'))['label']} → {level(plan, data.get('to'))['label']}："
                f"{data.get('reason') or ''}")
    if action == "incident.activated":
        return f"按{level(plan, data.get('level'))['label']}启动"
    if action == "incident.ended":
        return f"结束时间 {fmt(data.get('ended_at'))}：{data.get('reason') or ''}"
    if action in ("incident.closed", "incident.withdrawn"):
        return f"{labels.WITHDRAW_KIND.get(kind, kind or '')}：{data.get('reason') or ''}"
    if action == "command_hq.named":
        members = "、".join(data.get("member_names") or []) or "无"
        said = f"总指挥 {data.get('commander_name') or ''}，成员：{members}"
        return f"{said}；理由：{data['reason']}" if data.get("reason") else said
    if action == "report.submitted":
        what = labels.REPORT_KIND.get(kind, kind or "")
        if kind == "measure" and data.get("measure"):
            what += f"（{labels.clock_name(plan, data['measure'])}）"
        return f"{what}，报送时间 {fmt(data.get('submitted_at'))}"
    if action == "report.released":
        return f"{data.get('number') or ''} {data.get('title') or ''}".strip()
    if action in ("report.delivered", "report.dispatched", "report.returned"):
        said = _recipient_name(plan, data.get("recipient"))
        if action == "report.delivered":
            channel = DELIVERY_CHANNELS.get(data.get("channel") or "", data.get("channel") or "")
            said = f"{said}，{channel}（{data.get('reference') or ''}），送达时间 {fmt(data.get('delivered_at'))}"
        return said
    if action.startswith("assignment."):
        dept = unit(plan, data.get("department")) if data.get("department") else ""
        said = data.get("task") or data.get("reason") or data.get("note") or ""
        return f"{dept}：{said}" if dept and said else (dept or said)
    if action.startswith("deadline."):
        name = labels.clock_name(plan, kind, cycle)
        if action == "deadline.started":
            return f"{name}，截止 {fmt(data.get('due_at'))}"
        if action == "deadline.retimed":
            return f"{name}，截止时间由 {fmt(data.get('due_before'))} 改为 {fmt(data.get('due_at'))}"
        if action == "deadline.cancelled":
            return f"{name}：{data.get('reason') or ''}"
        if action == "deadline.late":
            return f"{name}，迟报 {data.get('late_by') or chinese_duration(data.get('late_seconds') or 0)}"
        if action == "deadline.overdue":
            return f"{name}，截止 {fmt(data.get('due_at'))} 未完成"
        return name
    if action.startswith("holiday_watch."):
        if action == "holiday_watch.closed":
            tasks = data.get("tasks") or {}
            return f"{data.get('reason') or ''}；到期未完成任务 {len(tasks.get('missed') or [])} 项"
        basis = "依据放假通知" if data.get("certain") else "按法定节假日推算"
        return f"放假 {data.get('first_day') or ''} 至 {data.get('last_day') or ''}（{basis}）"
    if action.startswith("closing."):
        return data.get("reason") or data.get("note") or ""
    return ""


def _recipient_name(plan: Plan, code: str | None) -> str:
    """Return the name the plan gives a report's recipient (the code when the plan lacks it)."""
    rules = [r for kind in REPORT_KINDS for r in plan.reports.recipients_of(kind) + plan.reports.skip_level_of(kind)]
    return next((r.name for r in rules if r.code == code), code or "")


def audit_entry(row: AuditEntry, plan: Plan, fmt, departments: dict[str, str] | None = None) -> dict:
    """Return one audit entry in words: when, who, what and the detail; `fmt` formats an ISO time."""
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if row.entity == "assignment" and not data.get("department") and departments is not None:
        data["department"] = departments.get(str(row.entity_id))
    return {"seq": row.seq, "at": row.at, "actor": actor(row.actor), "action": row.action,
            "what": labels.ACTIONS.get(row.action, row.action), "detail": describe(plan, row.action, data, fmt),
            "hash": row.hash}
