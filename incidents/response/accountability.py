"""Accountability (迟报、漏报): every clock met, met late by how long, or missed.

An event closed without a response stays on the sheet (its missed clocks too) with its
disposition; only a test registration, withdrawn, is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from incidents.kernel.batches import chunks
from incidents.kernel.durations import chinese_duration
from incidents.models import (
    CANCELLED,
    LATE,
    MET,
    OVERDUE,
    PENDING,
    WITHDRAWN,
    Deadline,
    Incident,
    Report,
    ReportRecipient,
)
from incidents.plan import REPORT_KINDS
from incidents.response import dispositions, inaction, report_record
from incidents.response.service import plan_of

# Outcomes as accountability counts them; a pending clock past due is already missed.
OUTCOMES = ("met", "late", "missed", "running")


@dataclass(frozen=True)
class Filter:
    """Which clocks to count: by due time, unit, incident."""

    due_from: datetime | None = None
    due_to: datetime | None = None
    unit: str | None = None
    incident_id: int | None = None
    incident_ids: frozenset[int] | None = None  # restrict to incidents the viewer may see


@dataclass
class _Tally:
    met: int = 0
    late: int = 0
    missed: int = 0
    running: int = 0
    late_seconds: int = 0
    items: list[dict] = field(default_factory=list)

    def add(self, item: dict) -> None:
        setattr(self, item["outcome"], getattr(self, item["outcome"]) + 1)
        self.late_seconds += item["late_seconds"] or 0
        self.items.append(item)

    def summary(self) -> dict:
        return {"met": self.met, "late": self.late, "missed": self.missed, "running": self.running,
                "late_seconds_total": self.late_seconds}


def outcome(row: Deadline, now: datetime) -> str:
    """Say how a clock stands for accountability: met, late, missed or running."""
    if row.status == MET:
        return "met"
    if row.status == LATE:
        return "late"
    if row.status == OVERDUE or (row.status == PENDING and row.due_at <= now):
        return "missed"
    return "running"


def _where(stmt, flt: Filter):
    """Narrow a statement over Deadline joined to Incident to the clocks the filter counts."""
    stmt = stmt.where(Deadline.status != CANCELLED, Incident.status != WITHDRAWN)
    if flt.due_from is not None:
        stmt = stmt.where(Deadline.due_at >= flt.due_from)
    if flt.due_to is not None:
        stmt = stmt.where(Deadline.due_at < flt.due_to)
    if flt.unit:
        stmt = stmt.where((Deadline.department == flt.unit) | (Deadline.station == flt.unit))
    if flt.incident_id is not None:
        stmt = stmt.where(Deadline.incident_id == flt.incident_id)
    if flt.incident_ids is not None:
        stmt = stmt.where(Deadline.incident_id.in_(flt.incident_ids or {-1}))
    return stmt


def _outcome_sql(now: datetime):
    """The SQL twin of `outcome`: the counts are taken in the database, so both must say the same."""
    return case((Deadline.status == MET, literal("met")), (Deadline.status == LATE, literal("late")),
                (or_(Deadline.status == OVERDUE, and_(Deadline.status == PENDING, Deadline.due_at <= now)),
                 literal("missed")), else_=literal("running"))


def _rows_stmt():
    # The plan version (the plan file verbatim) is loaded once per version, not once per clock.
    return (select(Deadline).join(Incident)
            .options(joinedload(Deadline.incident).selectinload(Incident.plan_version)))


def report(session: Session, *, now: datetime, flt: Filter = Filter()) -> dict:
    """Return per-incident and per-unit accountability for the clocks that match the filter, every clock in full."""
    stmt = _where(_rows_stmt(), flt).order_by(Deadline.due_at, Deadline.id)
    totals, by_unit, by_incident = _Tally(), {}, {}
    rows = list(session.scalars(stmt).unique())
    for row, item in zip(rows, _items(session, rows, now)):
        incident = row.incident
        plan = plan_of(incident)
        unit = row.department or row.station or ""
        totals.add(item)
        by_unit.setdefault(unit, (_unit_head(plan, row), _Tally()))[1].add(item)
        by_incident.setdefault(incident.id, (_incident_head(incident, plan), _Tally()))[1].add(item)
    return {
        "generated_at": now.isoformat(),
        "totals": totals.summary(),
        "backdated": _backdated(totals.items),
        "by_department": [{**head, **t.summary(), "deadlines": t.items} for head, t in by_unit.values()],
        "by_incident": [{**head, **t.summary(), "deadlines": t.items} for head, t in by_incident.values()],
        **inaction.section(session, now=now, flt=flt),  # "inaction" and "inaction_totals": tasks, by department
        # Events closed without a response (不启动, 不属实, 重复) in the period; a test withdrawal is in no count.
        "closed_without_response": dispositions.closed_counts(session, flt),
    }


# The sheet lists this many clocks a page unless asked otherwise; a year of a city has tens of thousands.
PER_PAGE = 100
MAX_PER_PAGE = 500
PROBLEMS = ("late", "missed")


def sheet(session: Session, *, now: datetime, flt: Filter = Filter(), outcomes: tuple[str, ...] = PROBLEMS,
          page: int = 1, per_page: int | None = PER_PAGE) -> dict:
    """Return the sheet's counts (taken in SQL) and one page of its clocks of these outcomes, in full."""
    if not set(outcomes) <= set(OUTCOMES):
        raise ValueError(f"unknown outcome in {outcomes!r}")
    oc = _outcome_sql(now)
    late = func.coalesce(func.sum(case((oc == "late", Deadline.late_seconds), else_=0)), 0)
    counted = (func.count().label("n"), late.label("late_seconds"), func.min(Deadline.due_at).label("first"))
    # Per unit over the whole period: a handful of rows however long the period.
    units = session.execute(_where(
        select(Deadline.department, Deadline.station, oc.label("outcome"), *counted,
               func.min(Deadline.incident_id).label("incident_id"))
        .select_from(Deadline).join(Incident), flt).group_by(Deadline.department, Deadline.station, oc)).all()
    incidents_total = session.scalar(_where(
        select(func.count(func.distinct(Deadline.incident_id))).select_from(Deadline).join(Incident), flt))
    totals = _Tally()
    for g in units:
        _count(totals, g)
    listed = sum(getattr(totals, o) for o in outcomes)
    pages = 1 if per_page is None else max(1, -(-listed // per_page))
    rows = _problem_rows(session, flt, oc, outcomes, per_page, (page - 1) * (per_page or 0))
    # 补录 is evidence whatever the outcome, so its clocks are found in SQL and listed whole (they are few);
    # so are the clocks still running, whose reports may be on their way (only the live ones, never history).
    shown = {r.id for r in rows}
    running = [] if "running" in outcomes else _problem_rows(session, flt, oc, ("running",), None, 0)
    extra = [r for r in [*running, *_backdated_rows(session, flt)] if r.id not in shown]
    extra = list({r.id: r for r in extra}.values())
    items = dict(zip([r.id for r in [*rows, *extra]], _items(session, [*rows, *extra], now)))
    flagged = sorted([*rows, *extra], key=lambda r: (r.due_at, r.id))
    # Per event only for the events of the listed clocks: a year has thousands of events, a page a few dozen.
    ids = sorted({r.incident_id for r in [*rows, *extra]})
    per_incident = [g for chunk in chunks(ids) for g in session.execute(_where(
        select(Deadline.incident_id, oc.label("outcome"), *counted).select_from(Deadline).join(Incident)
        .where(Deadline.incident_id.in_(chunk)), flt).group_by(Deadline.incident_id, oc))]
    heads = {r.incident_id: r.incident for r in [*rows, *extra]}
    missing = sorted({g.incident_id for g in units} - heads.keys())
    heads.update({i.id: i for chunk in chunks(missing) for i in session.scalars(
        select(Incident).where(Incident.id.in_(chunk)).options(selectinload(Incident.plan_version)))})
    by_unit, by_incident, first = {}, {}, {}
    for g in units:
        unit = g.department or g.station or ""
        _count(by_unit.setdefault(unit, (_unit_head(plan_of(heads[g.incident_id]), g), _Tally()))[1], g)
        first[("u", unit)] = min(first.get(("u", unit), _as_utc(g.first)), _as_utc(g.first))
    for g in per_incident:
        incident = heads[g.incident_id]
        _count(by_incident.setdefault(g.incident_id, (_incident_head(incident, plan_of(incident)), _Tally()))[1], g)
        first[("i", g.incident_id)] = min(first.get(("i", g.incident_id), _as_utc(g.first)), _as_utc(g.first))
    return {
        "generated_at": now.isoformat(),
        "totals": totals.summary(),
        "backdated": _backdated([items[r.id] for r in flagged]),
        "by_department": [{**head, **t.summary()} for k, (head, t) in
                          sorted(by_unit.items(), key=lambda kv: (first[("u", kv[0])], kv[0]))],
        "by_incident": [{**head, **t.summary()} for k, (head, t) in
                        sorted(by_incident.items(), key=lambda kv: (first[("i", kv[0])], kv[0]))],
        "deadlines": [items[r.id] for r in rows],
        "running": [items[r.id] for r in running],
        "paging": {"page": page, "per_page": per_page, "pages": pages, "total": listed, "outcomes": list(outcomes),
                   "incidents": incidents_total},
        **inaction.section(session, now=now, flt=flt),
        "closed_without_response": dispositions.closed_counts(session, flt),
    }


def _count(tally: _Tally, group) -> None:
    """Add a GROUP BY row (an outcome, how many, seconds late) to a tally."""
    setattr(tally, group.outcome, getattr(tally, group.outcome) + group.n)
    tally.late_seconds += int(group.late_seconds or 0)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands MIN() back as text or naive time; only the order matters here.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _problem_rows(session: Session, flt: Filter, oc, outcomes, limit: int | None, offset: int) -> list[Deadline]:
    """Load one page of the clocks of these outcomes, in due order."""
    stmt = _where(_rows_stmt(), flt).where(oc.in_(outcomes)).order_by(Deadline.due_at, Deadline.id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt).unique())


def _backdated_rows(session: Session, flt: Filter) -> list[Deadline]:
    """Load the clocks a backdated report (补录) judged, or may still judge: satisfied by one, or still open
    in an incident that has one (the latest report sent for an open clock is shown with it)."""
    backdated = select(Report.id).where(Report.backdated.is_(True))
    open_in = select(Report.incident_id).where(Report.backdated.is_(True))
    stmt = _where(_rows_stmt(), flt).where(or_(
        Deadline.satisfied_by_report_id.in_(backdated),
        and_(Deadline.satisfied_by_report_id.is_(None), Deadline.incident_id.in_(open_in))))
    return list(session.scalars(stmt.order_by(Deadline.due_at, Deadline.id)).unique())


def _items(session: Session, rows: list[Deadline], now: datetime) -> list[dict]:
    """Build each clock's line of the sheet with its report record, loading the reports for all rows at once."""
    reports = _reports(session, rows)
    out = []
    for row in rows:
        plan = plan_of(row.incident)
        unit = row.department or row.station or ""
        item = _item(row, row.incident, plan.unit_name(unit) if unit and plan.has_unit(unit) else unit, now)
        item["report"] = _report_of(session, row, reports)
        out.append(item)
    return out


def _backdated(items: list[dict]) -> dict:
    """Count the clocks judged on a backdated report (补录) by the state of its judgement, and list them."""
    out = {"pending": 0, "confirmed": 0, "rejected": 0, "items": []}
    for item in items:
        claim = (item["report"] or {}).get("claim")
        if claim:
            out[claim["status"]] += 1
            out["items"].append({"deadline_id": item["deadline_id"], "incident_number": item["incident_number"],
                                 "name": item["name"], "unit_name": item["unit_name"], **item["report"]})
    return out


def _reports(session: Session, rows: list[Deadline]) -> dict:
    """Load, in a few queries, the reports that satisfied the clocks and the reports still on their way to
    their recipients (every report the plan sends to named recipients, not only the written one)."""
    ids = sorted({r.satisfied_by_report_id for r in rows if r.satisfied_by_report_id})
    # In chunks: a year of a city's clocks names more reports than one statement may carry parameters.
    by_id = {r.id: r for chunk in chunks(ids) for r in session.scalars(
        select(Report).where(Report.id.in_(chunk))
        .options(selectinload(Report.review), selectinload(Report.recipients).selectinload(ReportRecipient.review)))}
    # A clock owed to named recipients shows the latest report sent for it even before everyone has it.
    waiting = {(r.incident_id, kind) for r in rows if r.satisfied_by_report_id is None
               for kind in (_report_kind(r),) if kind}
    incidents = sorted({i for i, _ in waiting})
    kinds = sorted({k for _, k in waiting})
    # The latest report per event and kind that has recipients and satisfied no clock, picked in SQL: a long
    # event has hundreds of progress reports, and only the latest one is shown with its open clock.
    picked = {}
    for chunk in chunks(incidents):
        used = select(Deadline.satisfied_by_report_id).where(
            Deadline.incident_id.in_(chunk), Deadline.satisfied_by_report_id.is_not(None))
        for incident_id, kind, report_id in session.execute(
                select(Report.incident_id, Report.kind, func.max(Report.id))
                .where(Report.incident_id.in_(chunk), Report.kind.in_(kinds), Report.id.not_in(used),
                       select(ReportRecipient.id).where(ReportRecipient.report_id == Report.id).exists())
                .group_by(Report.incident_id, Report.kind)):
            if (incident_id, kind) in waiting:
                picked[report_id] = (incident_id, kind)
    latest = {picked[r.id]: r for chunk in chunks(sorted(picked)) for r in session.scalars(
        select(Report).where(Report.id.in_(chunk))
        .options(selectinload(Report.review), selectinload(Report.recipients).selectinload(ReportRecipient.review)))}
    loaded = report_record.preload(session, [*by_id.values(), *latest.values()], relations=False)
    return {"by_id": by_id, "latest": latest, "loaded": loaded}


def _report_kind(row: Deadline) -> str | None:
    """Return the kind of report that satisfies a clock (None: a measure)."""
    try:
        kind = plan_of(row.incident).clock(row.kind).satisfied_by
    except KeyError:
        return None
    return kind if kind in REPORT_KINDS else None


def _report_of(session: Session, row: Deadline, reports: dict) -> dict | None:
    report = reports["by_id"].get(row.satisfied_by_report_id) if row.satisfied_by_report_id else None
    if report is None and row.satisfied_by_report_id is None:
        report = reports["latest"].get((row.incident_id, _report_kind(row)))
    if report is None:
        return None
    out = {"id": report.id, "kind": report.kind, **report_record.record(session, report, reports["loaded"])}
    out["backdated_mark"] = report_record.backdated_label(out)
    return out


def _item(row: Deadline, incident: Incident, unit_name: str, now: datetime) -> dict:
    result = outcome(row, now)
    missed_for = int((now - row.due_at).total_seconds()) if result == "missed" else None
    return {
        "deadline_id": row.id, "incident_id": incident.id, "incident_number": incident.number,
        "kind": row.kind, "cycle": row.cycle, "name": row.name, "department": row.department,
        "station": row.station, "unit_name": unit_name, "starts_at": row.starts_at.isoformat(),
        "due_at": row.due_at.isoformat(), "status": row.status, "outcome": result,
        "satisfied_at": row.satisfied_at.isoformat() if row.satisfied_at else None, "judged_by": row.judged_by,
        "note": row.cancel_reason,
        "late_seconds": row.late_seconds if result == "late" else None,
        "late_by": chinese_duration(row.late_seconds) if result == "late" and row.late_seconds else None,
        "overdue_seconds": missed_for,
        "overdue_by": chinese_duration(missed_for) if missed_for is not None else None,
    }


def _unit_head(plan, row: Deadline) -> dict:
    if row.department:
        return {"department": row.department, "unit_type": "department",
                "name": plan.unit_name(row.department) if plan.has_unit(row.department) else row.department}
    code = row.station or ""
    return {"department": code, "unit_type": "station",
            "name": plan.unit_name(code) if code and plan.has_unit(code) else "事发地市场监督管理所（未指定）"}


def _incident_head(incident: Incident, plan) -> dict:
    return {"incident_id": incident.id, "number": incident.number, "title": incident.title,
            "level": incident.level, "status": incident.status, "lead_department": incident.lead_department,
            "disposition": dispositions.disposition(incident)}
