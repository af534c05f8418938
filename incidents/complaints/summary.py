"""The weekly summary for the leadership (每周汇总)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from incidents.complaints.states import COMPLAINT, TIPOFF
from incidents.complaints.views import area_name, category_name
from incidents.kernel import labels
from incidents.kernel.moments import at_local, iso, local_day
from incidents.models import (
    LATE,
    MET,
    PENDING,
    Complaint,
    ComplaintLimitRow,
    ConsumerWarning,
    Surge,
)
from incidents.plan import Plan


def last_week(plan: Plan, now: datetime) -> tuple[datetime, datetime]:
    """Return Monday 00:00 to Monday 00:00 (Beijing) of the last full week before now."""
    today = local_day(plan.tz, now)
    monday = today - timedelta(days=today.weekday())
    return at_local(plan.tz, monday - timedelta(days=7)), at_local(plan.tz, monday)


def weekly_summary(session: Session, plan: Plan, *, start: datetime, end: datetime, now: datetime,
                   top: int = 10) -> dict:
    """Return the week's complaint figures: counts, categories, areas, top businesses, limits met."""
    in_week = and_(Complaint.received_at >= start, Complaint.received_at < end)
    by_kind = dict(session.execute(select(Complaint.kind, func.count()).where(in_week).group_by(Complaint.kind)).all())
    by_category = session.execute(select(Complaint.category, func.count()).where(in_week)
                                  .group_by(Complaint.category).order_by(func.count().desc())).all()
    by_area = session.execute(select(Complaint.area, func.count()).where(in_week)
                              .group_by(Complaint.area).order_by(func.count().desc())).all()
    by_status = dict(session.execute(select(Complaint.status, func.count()).where(in_week)
                                     .group_by(Complaint.status)).all())
    businesses = session.execute(
        select(Complaint.business_key, func.max(Complaint.business_name), func.count(),
               func.coalesce(func.sum(Complaint.amount), 0))
        .where(in_week).group_by(Complaint.business_key).order_by(func.count().desc(), Complaint.business_key)
        .limit(top)).all()
    finished = session.execute(select(Complaint.status, func.count())
                               .where(Complaint.finished_at >= start, Complaint.finished_at < end)
                               .group_by(Complaint.status)).all()
    amount = session.scalar(select(func.coalesce(func.sum(Complaint.amount), 0)).where(in_week)) or 0
    # Limits that ended in the week, or ran out in it without being met.
    limits: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(ComplaintLimitRow.kind, ComplaintLimitRow.status, ComplaintLimitRow.due_at, ComplaintLimitRow.satisfied_at)
        .where(or_(and_(ComplaintLimitRow.satisfied_at >= start, ComplaintLimitRow.satisfied_at < end),
                   and_(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.due_at >= start,
                        ComplaintLimitRow.due_at < end)))).all()
    for kind, status, due_at, _ in rows:
        entry = limits.setdefault(kind, {"met": 0, "late": 0, "missed": 0, "running": 0})
        if status == MET:
            entry["met"] += 1
        elif status == LATE:
            entry["late"] += 1
        elif due_at <= now:
            entry["missed"] += 1
        else:
            entry["running"] += 1
    open_overdue = session.scalar(select(func.count()).select_from(ComplaintLimitRow).where(
        ComplaintLimitRow.status == PENDING, ComplaintLimitRow.due_at <= now)) or 0
    linked = session.scalar(select(func.count()).select_from(Complaint).where(in_week, Complaint.incident_id.is_not(None)))
    names = {r.kind: r.name for r in plan.complaints.limits}
    total_met = sum(v["met"] for v in limits.values())
    total_ended = sum(v["met"] + v["late"] + v["missed"] for v in limits.values())
    surges = session.execute(select(Surge.dimension, Surge.label, Surge.count, Surge.opened_at, Surge.action,
                                    Surge.incident_id)
                             .where(Surge.opened_at >= start, Surge.opened_at < end).order_by(Surge.opened_at)).all()
    warnings = session.scalar(select(func.count()).select_from(ConsumerWarning).where(
        ConsumerWarning.published_at >= start, ConsumerWarning.published_at < end)) or 0
    return {
        "period": {"from": iso(start), "to": iso(end), "from_day": local_day(plan.tz, start).isoformat(),
                   "to_day": (local_day(plan.tz, end) - timedelta(days=1)).isoformat()},
        "received": {"total": sum(by_kind.values()), "complaints": by_kind.get(COMPLAINT, 0),
                     "tipoffs": by_kind.get(TIPOFF, 0), "amount": float(amount)},
        "by_status": {s: by_status.get(s, 0) for s in labels.COMPLAINT_STATUS},
        "by_category": [{"category": c, "name": category_name(plan, c), "count": n} for c, n in by_category],
        "by_area": [{"area": a, "name": area_name(plan, a) or "未识别", "count": n} for a, n in by_area],
        "top_businesses": [{"business": name, "count": n, "amount": float(total)}
                           for _, name, n, total in businesses],
        "finished": {s: n for s, n in finished},
        "limits": [{"kind": k, "name": names.get(k, k), **v} for k, v in sorted(limits.items())],
        "limits_met_rate": round(total_met / total_ended, 4) if total_ended else None,
        "overdue_now": open_overdue,
        "linked_to_incidents": linked or 0,
        "surges": [{"dimension": d, "label": label, "count": n, "opened_at": iso(at), "action": action,
                    "incident_id": inc} for d, label, n, at, action, inc in surges],
        "warnings_published": warnings,
        "generated_at": iso(now),
    }
