"""What the boards, the briefings and the texts call things in Chinese: one name per state and action.

The boards (app/board/presenters.py), the PDFs (reports/) and the domain's own messages read
their names here, so the incident page and the briefing cannot name the same thing twice.
"""
from __future__ import annotations

from typing import Protocol

from incidents.kernel.states import (
    AssignmentStatus,
    BriefingStatus,
    ClaimDecision,
    DeclineStatus,
    ClockStatus,
    ClosingStatus,
    ComplaintKind,
    ComplaintStatus,
    DeliveryStatus,
    EscalationStatus,
    IncidentKind,
    IncidentStatus,
    ReportKind,
    WarningStatus,
    WithdrawKind,
)

INCIDENT_STATUS = {IncidentStatus.REGISTERED: "已登记", IncidentStatus.ACTIVE: "应急响应中",
                   IncidentStatus.ENDED: "应急状态已结束", IncidentStatus.ARCHIVED: "已归档",
                   IncidentStatus.WATCHING: "节日预警中", IncidentStatus.WITHDRAWN: "已作废",
                   IncidentStatus.CLOSED: "已关闭（未启动响应）"}
INCIDENT_KIND = {IncidentKind.EVENT: "突发事件", IncidentKind.HOLIDAY_WATCH: "节日市场预警"}
WATCH_CLOSED = "预警已结束"
WITHDRAW_KIND = {WithdrawKind.DUPLICATE: "重复登记", WithdrawKind.TEST: "测试登记", WithdrawKind.FALSE_REPORT: "不属实",
                 WithdrawKind.NOT_ACTIVATED: "决定不启动响应"}
CLAIM_DECISION = {ClaimDecision.CONFIRMED: "已确认", ClaimDecision.REJECTED: "不予确认"}
# A backdated report or delivery (补录) until someone judged it.
CLAIM_PENDING = "待确认"
BACKDATED = "补录"
EVIDENCE_KIND = {"phone_log": "电话记录", "fax": "传真记录", "gov_intranet": "政务内网回执", "document": "公文文号",
                 "sms": "短信记录", "other": "其他凭证"}
DECLINE_STATUS = {DeclineStatus.PENDING: "待指挥部审批", DeclineStatus.APPROVED: "指挥部已同意",
                  DeclineStatus.REJECTED: "指挥部不同意", DeclineStatus.NOT_REQUIRED: "无须审批"}
# The accountability sheet's 不作为情况 (plan §五(三)2: 不积极配合、推诿扯皮): what went wrong with a task.
INACTION = {"overdue": "超时未完成", "declined": "否定报备", "unacknowledged": "未签收"}
INACTION_TITLE = "不作为情况"
CLOCK_STATUS = {ClockStatus.PENDING: "进行中", ClockStatus.MET: "按时完成", ClockStatus.LATE: "迟报",
                ClockStatus.OVERDUE: "超时未报", ClockStatus.CANCELLED: "已取消"}
# A clock's outcome in the accountability record (the plan's 迟报 and 漏报).
OUTCOME = {"met": "按时", "late": "迟报", "missed": "漏报（超时未报）", "running": "进行中"}
REPORT_KIND = {ReportKind.INITIAL: "事发地初报", ReportKind.BUREAU: "局报告", ReportKind.PROGRESS: "续报",
               ReportKind.CLOSING: "书面报告（上报政府和市局）", ReportKind.MEASURE: "措施完成",
               ReportKind.SUMMARY: "应急处置工作总结"}
ASSIGNMENT_STATUS = {AssignmentStatus.PUSHED: "待签收", AssignmentStatus.ACKNOWLEDGED: "已签收",
                     AssignmentStatus.IN_PROGRESS: "办理中", AssignmentStatus.DONE: "已完成",
                     AssignmentStatus.DECLINED: "已否定报备",
                     AssignmentStatus.DECLINE_REQUESTED: "否定报备待批", AssignmentStatus.CANCELLED: "已撤销"}
CLOSING_STATUS = {ClosingStatus.SUBMITTED: "已提交，待审批", ClosingStatus.RETURNED: "已退回修改",
                  ClosingStatus.APPROVED: "已批准"}
BRIEFING_STATUS = {BriefingStatus.PENDING: "排队中", BriefingStatus.RUNNING: "正在生成", BriefingStatus.READY: "已生成",
                   BriefingStatus.FAILED: "生成失败", BriefingStatus.PRUNED: "文件已按保存规则清除（保留指纹）"}
ESCALATION_STATUS = {EscalationStatus.RUNNING: "升级中", EscalationStatus.ACKNOWLEDGED: "已签收",
                     EscalationStatus.RESOLVED: "已办结", EscalationStatus.STOPPED: "已停止",
                     EscalationStatus.EXHAUSTED: "已升级至最后一步，仍无人签收"}
ESCALATION_TRIGGER = {"unacknowledged": "任务未签收", "warning": "时限即将届满", "overdue": "时限已超时"}
CHANNEL = {"board": "看板", "sms": "短信", "voice": "电话"}
DELIVERY_PURPOSE = {"alert": "告警", "handled": "已处理通知", "test": "测试"}
AUDIENCE = {"duty_officer": "值班人员", "department_head": "科室负责人", "leadership": "领导小组"}
DELIVERY_STATUS = {DeliveryStatus.PENDING: "待发送", DeliveryStatus.HELD: "限流暂缓", DeliveryStatus.SENDING: "发送中",
                   DeliveryStatus.QUEUED: "已提交", DeliveryStatus.SENT: "已发出", DeliveryStatus.DELIVERED: "已送达",
                   DeliveryStatus.UNDELIVERED: "未送达", DeliveryStatus.FAILED: "发送失败",
                   DeliveryStatus.BUNDLED: "已合并发送", DeliveryStatus.SKIPPED: "无人可通知",
                   DeliveryStatus.CANCELLED: "已取消（已签收）", DeliveryStatus.UNKNOWN: "发送中断，未知"}
# How a 12315 complainant was verified before the complaint was stored (incidents/complaints/verification.py).
COMPLAINT_VERIFICATION = {"sms": "已验证（短信验证码）", "captcha": "已验证（图形验证码）", None: "未验证"}
COMPLAINT_KIND = {ComplaintKind.COMPLAINT: "投诉", ComplaintKind.TIPOFF: "举报"}
COMPLAINT_STATUS = {ComplaintStatus.RECEIVED: "已收到，待受理", ComplaintStatus.ACCEPTED: "已受理",
                    ComplaintStatus.REFUSED: "不予受理", ComplaintStatus.MEDIATING: "调解中",
                    ComplaintStatus.CLOSED: "已办结", ComplaintStatus.FILED: "已立案",
                    ComplaintStatus.NOT_FILED: "不予立案"}
# The button (and audit entry) that moves a complaint into each status.
COMPLAINT_ACTION = {ComplaintStatus.ACCEPTED: "受理", ComplaintStatus.REFUSED: "不予受理",
                    ComplaintStatus.MEDIATING: "开始调解", ComplaintStatus.CLOSED: "办结并答复",
                    ComplaintStatus.FILED: "立案", ComplaintStatus.NOT_FILED: "不予立案"}
COMPLAINT_LIMIT_STATE = {"running": "计时中", "warn": "即将到期", "overdue": "已超期", ClockStatus.MET: "按时办结",
                         ClockStatus.LATE: "超期办结", ClockStatus.CANCELLED: "已取消"}
WARNING_STATUS = {WarningStatus.DRAFT: "草稿", WarningStatus.SUBMITTED: "待审批", WarningStatus.PUBLISHED: "已发布",
                  WarningStatus.WITHDRAWN: "已撤回"}
SURGE_DIMENSION = {"business": "经营者", "category": "投诉类别", "area": "区域"}

# Audit actions as the incident page and the briefing's timeline name them.
ACTIONS = {
    "incident.registered": "登记事件",
    "incident.graded": "定级",
    "incident.activated": "启动应急响应",
    "incident.ended": "宣布应急状态结束",
    "command_hq.named": "指定专项应急指挥部",
    "incident.archived": "归档",
    "incident.withdrawn": "作废登记",
    "incident.closed": "未启动响应即关闭",
    "report.submitted": "报送报告",
    "report.signed_off": "签发报告",
    "report.released": "报告编号发出",
    "report.delivered": "登记送达",
    "report.dispatched": "局际报送",
    "report.receipt": "对方签收",
    "report.returned": "报告被退回",
    "report.claim_confirmed": "确认补录时间",
    "report.claim_rejected": "不予确认补录时间",
    "document.rendered": "生成公文",
    "dispatch.failed": "局际报送失败",
    "deadline.rejudged": "时限重新判定",
    "deadline.reopened": "时限重新计时",
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
    "assignment.decline_requested": "否定报备（报请审批）",
    "assignment.decline_approved": "同意否定报备",
    "assignment.decline_rejected": "不同意否定报备",
    "assignment.cancelled": "撤销任务",
    "closing.submitted": "提交应急处置工作总结",
    "closing.returned": "退回应急处置工作总结",
    "closing.approved": "批准应急处置工作总结",
    "briefing.generated": "生成简报",
    "escalation.acknowledged": "签收升级通知",
    "escalation.resolved": "升级通知结束（已办结）",
    "escalation.stopped": "升级通知停止",
    "escalation.exhausted": "升级通知已至最后一步",
    "webhook.replayed": "拒绝重复的短信回复或按键回执（未作处理）",
    "holiday_watch.opened": "发布节日市场预警",
    "holiday_watch.moved": "节日预警日期按放假通知调整",
    "holiday_watch.closed": "节日市场预警结束",
    "calendar.notice_entered": "录入放假通知",
    "complaints.limits_recounted": "投诉举报办理时限重算",
    "complaint.triaged": "分流",
    "complaint.accepted": "受理",
    "complaint.refused": "不予受理",
    "complaint.mediating": "开始调解",
    "complaint.closed": "办结并答复",
    "complaint.filed": "立案",
    "complaint.not_filed": "不予立案",
    "complaint.contact_viewed": "查看完整联系方式",
}
SYSTEM_ACTORS = {"scheduler": "系统定时任务", "cli": "命令行", "tests": "测试", "reports": "简报生成",
                 "escalation": "升级通知", "demo": "演示数据", "holiday-watch": "节日市场预警", "calendar": "节假日日历",
                 "provider": "短信电话平台回执", "retention": "过期数据清理", "sessions": "登录会话",
                 "login": "登录"}


class _Clocks(Protocol):
    def clock(self, kind: str): ...


def clock_name(plan: _Clocks, kind: str | None, cycle: int = 0, fallback: str | None = None) -> str:
    """Return a clock's name, with the round of a repeating one: 应急处置情况续报（第2次）."""
    try:
        rule = plan.clock(kind or "")
    except KeyError:
        return fallback or kind or "—"
    name = fallback or rule.name
    return f"{name}（第{cycle + 1}次）" if rule.repeats else name

# The banner on every staff page of the embedded local demo (`make run`; not YINGJI_ENV=production).
DEMO_BANNER = "本地演示环境，请勿用于生产"
# The second factor of a login (incidents/people/two_factor.py).
SECOND_FACTOR = {"totp": "身份验证器应用（TOTP 动态口令）", "sms": "短信验证码", "recovery": "恢复码"}
SMS_CODE_TEXT = "【应急指挥】您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略并联系系统管理员。"

# API tokens (incidents/people/tokens.py) and the admin page.
TOKEN_SCOPE = {"read": "只读", "write": "读写", "actions": "限定操作"}
TOKEN_STATUS = {"live": "有效", "expired": "已过期", "revoked": "已吊销"}
# Login sessions and lockouts (incidents/people/login_sessions.py, logins.py) on the security page.
SESSION_END = {"logout": "退出登录", "idle": "空闲超时", "expired": "超过最长登录时长", "password_changed": "修改密码",
               "deactivated": "用户已停用", "2fa_reset": "重置双因素认证", "admin_ended": "安全管理员结束"}
LOCK_KIND = {"account": "登录名", "address": "客户端地址"}
