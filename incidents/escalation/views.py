"""What the boards, the API and the briefing show of escalations and their deliveries."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from incidents.kernel import labels
from incidents.escalation import messages
from incidents.models import (
    ESC_RUNNING,
    Assignment,
    ComplaintLimitRow,
    Deadline,
    Delivery,
    Escalation,
)
from incidents.kernel.masking import mask_phone
from incidents.records.snapshots import iso
from incidents.escalation.deliveries import Result
from incidents.escalation.channels import TEST
from incidents.escalation.notices import item_code, summary


def delivery_dict(d: Delivery) -> dict:
    """Return a delivery as staff see it, the phone masked."""
    return {"id": d.id, "at": iso(d.sent_at or d.created_at), "created_at": iso(d.created_at), "step": d.step,
            "purpose": d.purpose, "channel": d.channel, "channel_name": labels.CHANNEL.get(d.channel, d.channel),
            "audience": d.audience, "to_name": d.name, "phone_masked": mask_phone(d.phone) if d.phone else None, "status": d.status,
            "status_name": labels.DELIVERY_STATUS.get(d.status, d.status), "provider": d.provider,
            "provider_status": d.provider_status, "attempts": d.attempts, "bundle_id": d.bundle_id,
            "error": " ".join(x for x in (d.error_code, d.error_message) if x) or None, "content": d.content}


def history(session: Session, incident_id: int | None = None, *, complaint_limit_ids: Iterable[int] = ()) -> list[dict]:
    """Return every escalation of an incident (or of these complaint limits) with its deliveries, phones masked."""
    where = (Escalation.incident_id == incident_id) if incident_id is not None else \
        Escalation.complaint_limit_id.in_(list(complaint_limit_ids))
    rows = session.scalars(select(Escalation).where(where)
                           .options(selectinload(Escalation.deliveries)).order_by(Escalation.id))
    out = []
    for row in rows:
        item = _describe(session, row)
        out.append({**summary(row), "item": item,
                    "deliveries": [delivery_dict(d) for d in row.deliveries]})
    return out


def _describe(session: Session, row: Escalation) -> str:
    if row.complaint_limit_id is not None:
        limit = session.get(ComplaintLimitRow, row.complaint_limit_id)
        return (f"投诉时限{item_code(row)}：{limit.complaint.tracking_no}“{limit.name}”"
                f"（{labels.ESCALATION_TRIGGER.get(row.trigger, row.trigger)}）")
    if row.assignment_id is not None:
        a = session.get(Assignment, row.assignment_id)
        return f"任务{item_code(row)}：{messages.short_title(a.task, 40)}"
    d = session.get(Deadline, row.deadline_id)
    return f"时限{item_code(row)}：{d.name}（{labels.ESCALATION_TRIGGER.get(row.trigger, row.trigger)}）"


def running_count(session: Session) -> int:
    """Return how many escalations are running."""
    return session.scalar(select(func.count()).select_from(Escalation).where(Escalation.status == ESC_RUNNING))


def record_test(session: Session, *, phone: str, channel: str, content: str, result: Result, now: datetime) -> Delivery:
    """Record a test message sent by an operator (`flask notify test`) like any other delivery."""
    import uuid

    d = Delivery(dedupe_key=f"test:{uuid.uuid4().hex}", purpose=TEST, channel=channel, name="测试", phone=phone,
                 content=content, status=(result.status or "queued") if result.ok else "failed",
                 provider=result.provider, provider_id=result.provider_id,
                 provider_status=result.status if result.ok else None, error_code=result.error_code,
                 error_message=result.error_message, attempts=1, sent_at=now if result.ok else None,
                 created_at=now, updated_at=now)
    session.add(d)
    return d
