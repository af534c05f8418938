"""The weekly complaints summary (本周投诉举报汇总) as a plain dict, read from the database."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from incidents.kernel import labels
from incidents.records import wording
from incidents import complaints
from incidents.complaints import surge
from incidents.kernel.moments import iso, local_day
from incidents.models import LATE, MET, PENDING, Complaint, ComplaintLimitRow, ConsumerWarning, Incident, Surge
from incidents.plan import Plan
from reports.snapshots import day_window, header

TOP_BUSINESSES = 10


def week_start(day: date) -> date:
    """Return the Monday of the week a day falls in (weeks run Monday to Sunday)."""
    return day - timedelta(days=day.weekday())


def last_full_week(plan: Plan, now: datetime) -> date:
    """Return the Monday of the last full week before now, in the plan's zone."""
    return local_day(plan.tz, complaints.last_week(plan, now)[0])


def _within(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _scrub(value):
    """Return the value with every mobile or ID number in its texts masked."""
    # Business names and warning titles are typed by people (the public, staff): whatever they
    # typed, this document must carry no personal data.
    if isinstance(value, str):
        return complaints.redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def complaints_weekly_snapshot(session: Session, plan: Plan, *, monday: date, now: datetime) -> dict:
    """Return the weekly complaints summary for leadership (每周投诉举报情况汇总): figures only, no personal data."""
    # The figures of incidents.complaints.weekly_summary, so that the PDF and GET /complaints/summary
    # agree; then what a leader reads besides: kind by status, the week's handling, categories by
    # kind, where the top businesses are, limits by department, the surges and the warnings.
    monday = week_start(monday)
    start, end = day_window(plan, monday)[0], day_window(plan, monday + timedelta(days=7))[0]
    summary = complaints.weekly_summary(session, plan, start=start, end=end, now=now, top=TOP_BUSINESSES)
    in_week = _within(Complaint.received_at, start, end)
    kinds = labels.COMPLAINT_KIND

    status = {k: dict.fromkeys(labels.COMPLAINT_STATUS, 0) for k in kinds}
    for kind, st, n in session.execute(select(Complaint.kind, Complaint.status, func.count()).where(in_week)
                                       .group_by(Complaint.kind, Complaint.status)):
        status.setdefault(kind, dict.fromkeys(labels.COMPLAINT_STATUS, 0))[st] = n

    previous = dict(session.execute(
        select(Complaint.kind, func.count())
        .where(_within(Complaint.received_at, day_window(plan, monday - timedelta(days=7))[0], start))
        .group_by(Complaint.kind)).all())

    # What was done in the week, to complaints of any week: each step leaves its own time on the row.
    decided = _within(Complaint.decided_at, start, end)
    steps = {
        "triaged": _within(Complaint.triaged_at, start, end),
        "accepted": _within(Complaint.accepted_at, start, end),
        "refused": and_(decided, Complaint.status == complaints.REFUSED),
        "mediating": _within(Complaint.mediation_started_at, start, end),
        # A tip-off's decision is its only decided_at: filed (and maybe closed since) unless not filed.
        "filed": and_(decided, Complaint.kind == complaints.TIPOFF, Complaint.status != complaints.NOT_FILED),
        "not_filed": and_(decided, Complaint.status == complaints.NOT_FILED),
        "closed": _within(Complaint.closed_at, start, end),
    }
    handled = {k: dict.fromkeys(steps, 0) for k in kinds}
    stmt = (select(Complaint.kind, *(_count_if(cond).label(step) for step, cond in steps.items()))
            .where(or_(*steps.values())).group_by(Complaint.kind))
    for row in session.execute(stmt):
        handled.setdefault(row.kind, dict.fromkeys(steps, 0)).update({step: int(row._mapping[step]) for step in steps})

    category_names = {c["category"]: c["name"] for c in summary["by_category"]}
    categories: dict[str, dict] = {}
    for code, kind, n in session.execute(select(Complaint.category, Complaint.kind, func.count()).where(in_week)
                                         .group_by(Complaint.category, Complaint.kind)):
        row = categories.setdefault(code, {"code": code, "name": category_names.get(code, code), "total": 0,
                                           **dict.fromkeys(kinds, 0)})
        row[kind] = row.get(kind, 0) + n
        row["total"] += n

    # Ranked as weekly_summary ranks them, so the two lists agree.
    top = session.execute(
        select(Complaint.business_key, func.max(Complaint.business_name), func.count(),
               _count_if(Complaint.kind == complaints.TIPOFF), func.coalesce(func.sum(Complaint.amount), 0))
        .where(in_week).group_by(Complaint.business_key)
        .order_by(func.count().desc(), Complaint.business_key).limit(TOP_BUSINESSES)).all()
    spread: dict[str, tuple[Counter, Counter]] = {key: (Counter(), Counter()) for key, *_ in top}
    if spread:
        area_names = {a["area"]: a["name"] for a in summary["by_area"]}
        for key, code, area, n in session.execute(
                select(Complaint.business_key, Complaint.category, Complaint.area, func.count())
                .where(in_week, Complaint.business_key.in_(list(spread)))
                .group_by(Complaint.business_key, Complaint.category, Complaint.area)):
            spread[key][0][category_names.get(code, code)] += n
            spread[key][1][area_names.get(area, "未识别")] += n
    businesses = [{"name": name, "count": n, "tipoffs": int(tipoffs), "amount": float(amount),
                   "categories": [c for c, _ in spread[key][0].most_common()],
                   "areas": [a for a, _ in spread[key][1].most_common()]}
                  for key, name, n, tipoffs, amount in top]

    # Limits by the department that answers for them, counted as weekly_summary counts them.
    departments: dict[str, dict] = {}

    def department(code: str) -> dict:
        return departments.setdefault(code, {"code": code, "name": wording.unit(plan, code), "met": 0, "late": 0,
                                             "missed": 0, "running": 0, "overdue_now": 0})

    limit_rows = session.execute(
        select(ComplaintLimitRow.department, ComplaintLimitRow.status, ComplaintLimitRow.due_at)
        .where(or_(_within(ComplaintLimitRow.satisfied_at, start, end),
                   and_(ComplaintLimitRow.status == PENDING, _within(ComplaintLimitRow.due_at, start, end))))).all()
    for code, st, due_at in limit_rows:
        outcome = "met" if st == MET else "late" if st == LATE else "missed" if due_at <= now else "running"
        department(code)[outcome] += 1
    for code, n in session.execute(select(ComplaintLimitRow.department, func.count())
                                   .where(ComplaintLimitRow.status == PENDING, ComplaintLimitRow.due_at <= now)
                                   .group_by(ComplaintLimitRow.department)):
        department(code)["overdue_now"] = n

    surges = []
    stmt = (select(Surge, Incident.number).outerjoin(Incident, Incident.id == Surge.incident_id)
            .where(_within(Surge.opened_at, start, end)).order_by(Surge.opened_at, Surge.id))
    for row, number in session.execute(stmt):
        action = {"linked": "关联至事件", "proposed": "提出Ⅳ级事件"}.get(row.action or "", "")
        surges.append({"dimension": row.dimension, "dimension_name": labels.SURGE_DIMENSION.get(row.dimension, ""),
                       "label": row.label, "count": row.count, "peak": row.peak,
                       "window": surge.window_text(timedelta(seconds=row.window_seconds)),
                       "opened_at": iso(row.opened_at), "ended_at": iso(row.ended_at),
                       "status_name": "已回落" if row.ended_at else "高峰中",
                       "action": f"{action} {number}" if action and number else action or "—"})
    warnings = [{"title": w.title, "status": w.status,
                 "status_name": labels.WARNING_STATUS.get(w.status, w.status),
                 "drafted_at": iso(w.drafted_at), "published_at": iso(w.published_at)}
                for w in session.scalars(select(ConsumerWarning)
                                         .where(or_(_within(ConsumerWarning.drafted_at, start, end),
                                                    _within(ConsumerWarning.published_at, start, end)))
                                         .order_by(ConsumerWarning.drafted_at, ConsumerWarning.id))]

    iso_year, iso_week, _ = monday.isocalendar()
    doc = {
        "kind": "complaints_weekly", **header(plan, title="每周投诉举报情况汇总", now=now),
        "week": {"monday": monday.isoformat(), "sunday": (monday + timedelta(days=6)).isoformat(),
                 "year": iso_year, "number": iso_week, "from": iso(start), "to": iso(end), "complete": now >= end},
        "received": summary["received"],
        "previous": {"total": sum(previous.values()), **{k: previous.get(k, 0) for k in kinds}},
        "status": [{"kind": k, "name": kinds[k], "total": sum(status[k].values()), **status[k]} for k in kinds],
        "handled": [{"kind": k, "name": kinds[k], **handled[k]} for k in kinds],
        "categories": sorted(categories.values(), key=lambda c: (-c["total"], c["name"])),
        "areas": [{"name": a["name"], "count": a["count"]} for a in summary["by_area"]],
        "businesses": businesses,
        "limits": summary["limits"],
        "limits_met_rate": summary["limits_met_rate"],
        "overdue_now": summary["overdue_now"],
        "departments": sorted(departments.values(),
                              key=lambda d: (-(d["late"] + d["missed"] + d["overdue_now"]), d["name"])),
        "linked_to_incidents": summary["linked_to_incidents"],
        "surges": surges,
        "warnings": warnings,
        "warnings_published": summary["warnings_published"],
    }
    return _scrub(doc)
