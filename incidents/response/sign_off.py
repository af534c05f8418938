"""Signing a report off (签发, plan §三(二)2: the leadership group reports up) and sending it out at once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents.kernel.errors import Conflict, Forbidden
from incidents.kernel.roles import ROLES
from incidents.models import CLOSED, WITHDRAWN, Report
from incidents.plan.versions import plan_of
from incidents.response import documents, recipients


def sign_off(session: Session, *, report_id: int, actor, now: datetime) -> Report:
    """Sign a report off: only a role the plan names for its kind may; then it goes out at once."""
    report = recipients.get_report(session, report_id, actor=actor)
    incident = report.incident
    plan = plan_of(incident)
    roles = documents.signers_of(plan, report.kind)
    if not roles:
        raise Conflict("no_sign_off", "预案不要求该类报告签发，报送即发出", "this kind of report goes as filed")
    if not documents.may_sign(actor, plan, report.kind):
        names = "、".join(ROLES.get(r, r) for r in roles)
        raise Forbidden("forbidden", f"该报告须由{names}签发", f"this report is signed off by: {', '.join(roles)}")
    if report.signed_at is not None:
        raise Conflict("already_signed", "该报告已签发", "the report is already signed off")
    if incident.status in (WITHDRAWN, CLOSED):
        raise Conflict("closed", "事件已关闭或作废，不能签发", "the incident is closed or withdrawn")
    documents.sign(session, report, plan, actor=actor, now=now)
    return report
