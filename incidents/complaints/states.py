"""Kinds and statuses of a 12315 submission, what each may become, and the field names and limits."""
from __future__ import annotations

from decimal import Decimal

from incidents.kernel.actors import SystemActor
from incidents.kernel.states import ComplaintKind, ComplaintStatus

COMPLAINT, TIPOFF = ComplaintKind.COMPLAINT, ComplaintKind.TIPOFF
RECEIVED, ACCEPTED, REFUSED, MEDIATING, CLOSED = (ComplaintStatus.RECEIVED, ComplaintStatus.ACCEPTED, ComplaintStatus.REFUSED,
                                                  ComplaintStatus.MEDIATING, ComplaintStatus.CLOSED)
FILED, NOT_FILED = ComplaintStatus.FILED, ComplaintStatus.NOT_FILED
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
