"""The channels and purposes of a delivery, and what escalations, steps and deliveries are called on the
boards and in the briefings."""
from __future__ import annotations



from incidents.models import (
    ESC_ACKNOWLEDGED,
    ESC_EXHAUSTED,
    ESC_RESOLVED,
    ESC_RUNNING,
    ESC_STOPPED,
)


BOARD, SMS, VOICE = "board", "sms", "voice"


ALERT, HANDLED, TEST = "alert", "handled", "test"


STATUS_NAMES = {ESC_RUNNING: "升级中", ESC_ACKNOWLEDGED: "已签收", ESC_RESOLVED: "已办结", ESC_STOPPED: "已停止",
                ESC_EXHAUSTED: "已升级至最后一步，仍无人签收"}


TRIGGER_NAMES = {"unacknowledged": "任务未签收", "warning": "时限即将届满", "overdue": "时限已超时"}


CHANNEL_NAMES = {BOARD: "看板", SMS: "短信", VOICE: "电话"}


AUDIENCE_NAMES = {"duty_officer": "值班人员", "department_head": "科室负责人", "leadership": "领导小组"}


DELIVERY_NAMES = {"pending": "待发送", "held": "限流暂缓", "sending": "发送中", "queued": "已提交", "sent": "已发出",
                  "delivered": "已送达", "undelivered": "未送达", "failed": "发送失败", "bundled": "已合并发送",
                  "skipped": "无人可通知", "cancelled": "已取消（已签收）", "unknown": "发送中断，未知"}
