"""What the briefings call things in Chinese: statuses, report kinds, audit actions.

The board pages (app/board/views.py) use these too: reports may not import the web layer,
so the names live here.
"""
from __future__ import annotations

from incidents.response.assignments import STATUS_NAMES as ASSIGNMENT_STATUS
from incidents.kernel.durations import chinese_duration
from incidents.plan import Plan
from incidents.kernel.roles import ROLES

__all__ = ["ASSIGNMENT_STATUS", "INCIDENT_STATUS", "CLOCK_STATUS", "OUTCOME", "REPORT_KIND", "ACTIONS",
           "level", "unit", "category", "clock", "actor", "describe"]

INCIDENT_STATUS = {"registered": "已登记", "active": "应急响应中", "ended": "应急状态已结束", "archived": "已归档",
                   "watching": "节日预警中", "withdrawn": "已作废"}
CLOCK_STATUS = {"pending": "进行中", "met": "按时完成", "late": "迟报", "overdue": "超时未报", "cancelled": "已取消"}
OUTCOME = {"met": "按时", "late": "迟报", "missed": "漏报（超时未报）", "running": "进行中"}
REPORT_KIND = {"initial": "事发地初报", "bureau": "局报告", "progress": "续报", "closing": "总结报告",
               "measure": "措施完成"}
CLOSING_STATUS = {"submitted": "已提交，待审批", "returned": "已退回修改", "approved": "已批准"}
ACTIONS = {
    "incident.registered": "登记事件",
    "incident.graded": "定级",
    "incident.activated": "启动应急响应",
    "incident.ended": "宣布应急状态结束",
    "incident.archived": "归档",
    "report.submitted": "报送报告",
    "deadline.started": "时限开始计时",
    "deadline.retimed": "时限重新计算",
    "deadline.cancelled": "时限取消",
    "deadline.met": "时限按时完成",
    "deadline.late": "迟报",
    "deadline.overdue": "超时未报",
    "assignment.created": "派发任务",
    "assignment.acknowledged": "签收任务",
    "assignment.in_progress": "任务办理中",
    "assignment.progress": "报告办理情况",
    "assignment.done": "任务完成",
    "assignment.declined": "否定报备",
    "closing.submitted": "提交总结报告",
    "closing.returned": "退回总结报告",
    "closing.approved": "批准总结报告",
    "briefing.generated": "生成简报",
    "escalation.acknowledged": "签收升级通知",
    "escalation.resolved": "升级通知结束（已办结）",
    "escalation.stopped": "升级通知停止",
    "escalation.exhausted": "升级通知已至最后一步",
    "holiday_watch.opened": "发布节日市场预警",
    "holiday_watch.moved": "节日预警日期按放假通知调整",
    "holiday_watch.closed": "节日市场预警结束",
    "calendar.notice_entered": "录入放假通知",
    "complaints.limits_recounted": "投诉举报办理时限重算",
}
SYSTEM_ACTORS = {"scheduler": "系统定时任务", "cli": "命令行", "tests": "测试", "reports": "简报生成",
                 "escalation": "升级通知", "demo": "演示数据", "holiday-watch": "节日市场预警", "calendar": "节假日日历"}
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


def clock(plan: Plan, kind: str | None, cycle: int = 0, fallback: str | None = None) -> str:
    """Return a clock's name, with the round of a repeating one: 应急处置情况续报（第2次）."""
    try:
        rule = plan.clock(kind or "")
    except KeyError:
        return fallback or kind or "—"
    name = fallback or rule.name
    return f"{name}（第{cycle + 1}次）" if rule.repeats else name


def actor(text: str) -> str:
    """Turn an audit actor ("office:张三", "system:scheduler") into 应急办公室 张三."""
    role, _, name = text.partition(":")
    if role == "system":
        return SYSTEM_ACTORS.get(name, f"系统（{name}）")
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
    if action == "report.submitted":
        what = REPORT_KIND.get(kind, kind or "")
        if kind == "measure" and data.get("measure"):
            what += f"（{clock(plan, data['measure'])}）"
        return f"{what}，报送时间 {fmt(data.get('submitted_at'))}"
    if action.startswith("assignment."):
        dept = unit(plan, data.get("department")) if data.get("department") else ""
        said = data.get("task") or data.get("reason") or data.get("note") or ""
        return f"{dept}：{said}" if dept and said else (dept or said)
    if action.startswith("deadline."):
        name = clock(plan, kind, cycle)
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
