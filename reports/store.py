"""Stored briefings: ask for one, generate it in a worker, keep its bytes with their SHA-256.

A request never renders: it finds or creates a `briefings` row and commits. A worker (a
thread of the web process, or the scheduler for the daily report and the weekly complaints
summary) claims the row, reads a snapshot, closes its session, renders, and stores the PDF
with its hash, page count and an audit entry. The audit chain then holds, for every version
a leader was given, its hash: hashing the file they kept proves which version it is
(GET /api/v1/briefings?sha256=).

Asking twice for the same thing within a few minutes, with nothing changed in between,
gets the same stored version instead of a new one.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import Text, and_, cast, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker, undefer

from incidents.kernel import labels
from incidents.records import audit
from incidents import complaints
from incidents.response import service
from incidents.people import permissions
from incidents.kernel.errors import Forbidden, Gone, NotFound
from incidents.models import (
    BRIEFING_FAILED,
    BRIEFING_PENDING,
    BRIEFING_PRUNED,
    BRIEFING_READY,
    BRIEFING_RUNNING,
    AuditEntry,
    AuditHead,
    Briefing,
    Complaint,
)
from incidents.plan import Plan
from incidents.kernel.roles import ADMIN, COMMANDER, LEADER, OFFICE, UNIT_ROLES, VIEWER
from incidents.kernel.actors import SystemActor, actor_id
from reports import render, snapshots, weekly_snapshot

log = logging.getLogger("yingji.reports")

KINDS = {"incident": "事件简报", "daily": "每日汇总", "closing": "应急处置工作总结", "accountability": "迟报漏报情况表",
         "complaints_weekly": "每周投诉举报情况汇总"}
# The same content asked again within this time, with nothing changed, is the same version.
REUSE_FOR = timedelta(minutes=5)
# A row still pending or running after this long lost its worker (the process stopped).
STALE_AFTER = timedelta(minutes=2)
# Roles that see every open incident, and so the daily report across them.
DAILY_ROLES = frozenset({ADMIN, LEADER, COMMANDER, OFFICE, VIEWER})
GENERATOR = SystemActor(name="reports")


def reference(briefing_id: int) -> str:
    """Return the reference printed on every page of a stored briefing: 简报编号 B000012."""
    return f"简报编号 B{briefing_id:06d}"


# --- who may read what ----------------------------------------------------------------------


def check_access(session: Session, user, *, kind: str, incident_id: int | None, params: dict,
                 plan: Plan | None = None) -> None:
    """Raise NotFound or Forbidden unless the user may read this kind of briefing with these parameters."""
    if kind in ("incident", "closing"):
        service.get_incident(session, incident_id, user=user)
    elif kind == "daily":
        if user.role not in DAILY_ROLES and user.role != "system":
            raise Forbidden("forbidden", "每日汇总涵盖全部在办事件，仅领导小组、指挥部、应急办公室和只读用户可以查看",
                            "the daily report covers every open incident; your role may not read it")
    elif kind == "complaints_weekly":
        # The complaint centre is a department the plan names: without the plan, only the roles above it.
        if user.role not in DAILY_ROLES and user.role != "system" and not (plan and complaints.is_centre(user, plan)):
            raise Forbidden("forbidden", "投诉举报周汇总仅供领导小组、指挥部、应急办公室和315投诉中心查看",
                            "the weekly complaints summary is for leadership, the command, the office and the centre")
    elif kind == "accountability":
        permissions.require(user, "accountability")
        if user.role in UNIT_ROLES and params.get("unit") != user.unit:
            raise Forbidden("forbidden", "只能查看本单位的迟报漏报情况", "you may see only your own unit's accountability")
    else:
        raise NotFound("not_found", "未知的简报类别", f"unknown briefing kind '{kind}'")


# --- asking ----------------------------------------------------------------------------------


def _head_seq(session: Session) -> int:
    return session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0


def _changed_since(session: Session, row: Briefing) -> bool:
    """Tell whether anything a briefing shows changed after it was asked for (briefings' own entries aside)."""
    stmt = select(AuditEntry.seq).where(AuditEntry.seq > row.source_seq, AuditEntry.entity != "briefing").limit(1)
    if row.kind in ("incident", "closing"):
        stmt = stmt.where(AuditEntry.incident_id == row.incident_id)
    if session.scalar(stmt) is not None:
        return True
    if row.kind == "complaints_weekly":
        # A new complaint reaches the audit trail only with the next intake digest.
        newer = select(Complaint.id).where(Complaint.received_at >= row.requested_at).limit(1)
        return session.scalar(newer) is not None
    return False


def _titles(session: Session, kind: str, incident_id: int | None, params: dict, now: datetime, plan: Plan):
    stamp = now.astimezone(plan.tz).strftime("%Y%m%d-%H%M")
    if kind in ("incident", "closing"):
        number = service.get_incident(session, incident_id).number
        return f"{KINDS[kind]} {number}", f"{KINDS[kind]}-{number}-{stamp}.pdf"
    if kind == "daily":
        return f"每日汇总 {params['day']}", f"每日汇总-{params['day']}-{stamp}.pdf"
    if kind == "complaints_weekly":
        monday = date.fromisoformat(params["week"])
        sunday = (monday + timedelta(days=6)).isoformat()
        return f"{KINDS[kind]} {monday}至{sunday}", f"{KINDS[kind]}-{monday}-{sunday}-{stamp}.pdf"
    return (f"迟报漏报情况表 {params['from']}至{params['to']}",
            f"迟报漏报情况表-{params['from']}-{params['to']}-{stamp}.pdf")


def request(session: Session, plan: Plan, *, kind: str, incident_id: int | None = None, params: dict | None = None,
            actor, now: datetime, job_key: str | None = None) -> Briefing:
    """Return the briefing to serve: one being made or just made for the same content, else a new pending row."""
    params = dict(params or {})
    if job_key is None:
        stmt = (select(Briefing).where(Briefing.kind == kind, Briefing.requested_at >= now - REUSE_FOR,
                                       Briefing.status.not_in((BRIEFING_FAILED, BRIEFING_PRUNED)))
                .order_by(Briefing.id.desc()).limit(20))
        stmt = stmt.where(Briefing.incident_id == incident_id if incident_id is not None
                          else Briefing.incident_id.is_(None))
        for row in session.scalars(stmt):
            if row.params != params or row.job_key is not None:
                continue
            if row.status in (BRIEFING_PENDING, BRIEFING_RUNNING):
                if stale(row, now):
                    continue
                return row
            if not _changed_since(session, row):
                return row
    title, filename = _titles(session, kind, incident_id, params, now, plan)
    row = Briefing(kind=kind, incident_id=incident_id, params=params, job_key=job_key, status=BRIEFING_PENDING,
                   source_seq=_head_seq(session), requested_by_id=actor_id(actor), requested_at=now, title=title,
                   filename=filename)
    session.add(row)
    session.flush()
    return row


def stale(row: Briefing, now: datetime) -> bool:
    """Tell whether a pending or running briefing has lost its worker."""
    since = row.started_at or row.requested_at
    return row.status in (BRIEFING_PENDING, BRIEFING_RUNNING) and now - since > STALE_AFTER


# --- generating ------------------------------------------------------------------------------


def document(session: Session, plan: Plan, row: Briefing, *, now: datetime) -> dict:
    """Read the snapshot a briefing row asks for."""
    p = row.params or {}
    if row.kind == "incident":
        return snapshots.incident_briefing(session, row.incident_id, now=now)
    if row.kind == "closing":
        return snapshots.closing_document(session, row.incident_id, now=now)
    if row.kind == "daily":
        return snapshots.daily_snapshot(session, plan, day=date.fromisoformat(p["day"]), now=now)
    if row.kind == "complaints_weekly":
        return weekly_snapshot.complaints_weekly_snapshot(session, plan, monday=date.fromisoformat(p["week"]), now=now)
    if row.kind == "accountability":
        ids = frozenset(p["incident_ids"]) if p.get("incident_ids") is not None else None
        return snapshots.accountability_snapshot(session, plan, start=date.fromisoformat(p["from"]),
                                                 end=date.fromisoformat(p["to"]), unit=p.get("unit"),
                                                 incident_ids=ids, now=now)
    raise ValueError(f"unknown briefing kind {row.kind!r}")


def generate(sessions: sessionmaker, plan: Plan, briefing_id: int, *, now: Callable[[], datetime]) -> str:
    """Claim a pending briefing, render it and store the PDF with its hash; return the row's final status."""
    with sessions() as session:
        claimed = session.execute(update(Briefing).where(Briefing.id == briefing_id,
                                                         Briefing.status == BRIEFING_PENDING)
                                  .values(status=BRIEFING_RUNNING, started_at=now())).rowcount
        session.commit()
    if not claimed:
        return "taken"  # another worker has it, or it is done
    try:
        as_of = now()
        with sessions() as session:
            row = session.get(Briefing, briefing_id)
            doc = document(session, plan, row, now=as_of)
        # Rendered with no transaction open: on SQLite every transaction holds the write lock.
        data, pages = render.render(doc, reference(briefing_id))
        digest = hashlib.sha256(data).hexdigest()
        with sessions() as session:
            row = session.get(Briefing, briefing_id)
            row.status, row.pdf, row.size, row.pages, row.sha256 = BRIEFING_READY, data, len(data), pages, digest
            row.generated_at, row.finished_at, row.error = as_of, now(), None
            audit.record(session, actor=GENERATOR, action="briefing.generated", entity="briefing",
                         entity_id=briefing_id, at=row.finished_at,
                         data={"kind": row.kind, "incident_id": row.incident_id, "params": row.params,
                               "sha256": digest, "size": len(data), "pages": pages,
                               "generated_at": as_of.isoformat(), "requested_by": row.requested_by_id})
            session.commit()
        return BRIEFING_READY
    except Exception:  # noqa: BLE001 - the log has the exception; the reader gets words they can act on
        with sessions() as session:
            row = session.get(Briefing, briefing_id)
            log.exception("briefing B%06d failed (kind %s, incident %s, params %s)", briefing_id,
                          row.kind if row else "?", row.incident_id if row else "?", row.params if row else "?")
            session.execute(update(Briefing).where(Briefing.id == briefing_id).values(
                status=BRIEFING_FAILED, finished_at=now(),
                error=f"系统未能排版这份文件，已记入系统日志；请把{reference(briefing_id)}告知系统管理员"))
            session.commit()
        return BRIEFING_FAILED


# --- reading ---------------------------------------------------------------------------------


def get(session: Session, briefing_id: int, *, user=None, with_pdf: bool = False, plan: Plan | None = None) -> Briefing:
    """Load a briefing the user may read (NotFound otherwise), marking one that lost its worker failed."""
    stmt = select(Briefing).where(Briefing.id == briefing_id)
    if with_pdf:
        stmt = stmt.options(undefer(Briefing.pdf))
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("not_found", f"简报 {briefing_id} 不存在", f"briefing {briefing_id} not found")
    if user is not None:
        check_access(session, user, kind=row.kind, incident_id=row.incident_id, params=row.params or {}, plan=plan)
    return row


def refuse_if_pruned(row: Briefing) -> None:
    """Say so (410) when a version's bytes were dropped by the retention rule; its record and hash remain."""
    if row.status == BRIEFING_PRUNED:
        raise Gone("briefing_pruned",
                   f"简报 {reference(row.id)} 已被新版本取代，其文件已按保存规则清除；"
                   f"记录和 SHA-256 指纹（{row.sha256}）仍保留，请生成或下载最新版本",
                   f"briefing {row.id} was superseded and its file removed by the retention rule; "
                   "its record and SHA-256 remain")


# Kinds whose every version is kept whole: the written closing report is a report of record.
KEPT_WHOLE = frozenset({"closing"})


def prune_superseded(session: Session, *, now: datetime, keep: timedelta, batch: int) -> int:
    """Drop the bytes of on-demand versions superseded by a newer one more than `keep` ago; return how many.

    What stays: every row with its hash, size, pages and who asked (the audit trail has who was given
    which version); every scheduled briefing's PDF (the daily and weekly ones sent to the leaders);
    every closing report; and the newest version of each briefing, however old.
    """
    newer = aliased(Briefing)
    superseded = exists().where(
        newer.kind == Briefing.kind, newer.id > Briefing.id, newer.status.in_((BRIEFING_READY, BRIEFING_PRUNED)),
        newer.finished_at < now - keep,
        or_(newer.incident_id == Briefing.incident_id,
            and_(newer.incident_id.is_(None), Briefing.incident_id.is_(None))),
        cast(newer.params, Text) == cast(Briefing.params, Text))
    chosen = list(session.scalars(
        select(Briefing.id).where(Briefing.status == BRIEFING_READY, Briefing.job_key.is_(None),
                                  Briefing.kind.not_in(KEPT_WHOLE), superseded)
        .order_by(Briefing.id).limit(batch)))
    if chosen:
        session.execute(update(Briefing).where(Briefing.id.in_(chosen)).values(status=BRIEFING_PRUNED, pdf=None)
                        .execution_options(synchronize_session=False))
    return len(chosen)


def fail_if_stale(session: Session, row: Briefing, now: datetime) -> None:
    """Mark a briefing whose worker is gone as failed, so that the reader is told to ask again."""
    if stale(row, now):
        row.status, row.finished_at = BRIEFING_FAILED, now
        row.error = "生成中断（服务已重启），请重新生成"


def record_download(session: Session, row: Briefing, *, user, now: datetime) -> None:
    """Write to the audit trail who was given which version (by its hash)."""
    audit.record(session, actor=user, action="briefing.downloaded", entity="briefing", entity_id=row.id, at=now,
                 data={"kind": row.kind, "incident_id": row.incident_id, "sha256": row.sha256})


def as_dict(row: Briefing) -> dict:
    """Return a briefing's metadata as the API shows it (never the bytes)."""
    iso = lambda m: m.isoformat() if m else None  # noqa: E731
    return {"id": row.id, "kind": row.kind, "kind_name": KINDS.get(row.kind, row.kind), "title": row.title,
            "incident_id": row.incident_id, "params": row.params, "status": row.status,
            "status_name": labels.BRIEFING_STATUS.get(row.status, row.status), "reference": reference(row.id),
            "requested_by": row.requested_by_id, "requested_at": iso(row.requested_at),
            "generated_at": iso(row.generated_at), "finished_at": iso(row.finished_at), "size": row.size,
            "pages": row.pages, "sha256": row.sha256, "error": row.error, "filename": row.filename,
            "pdf_url": f"/api/v1/briefings/{row.id}.pdf", "status_url": f"/api/v1/briefings/{row.id}"}
