"""Reports another bureau's Yingji delivers here, their 签收, and the receipts that come back (plan §三(二)2).

A report arriving from a bureau below opens a local incident at this bureau's own level, under this
bureau's own plan, registered by the bureau itself at the moment it arrived: so this bureau's own
report upward (its 30 minutes) starts then. Later reports on the same incident join it (IncidentLink).
Every arrival is kept as received (its document and PDF) and shown to the office at once; the office's
签收 travels back to the sender, where it is the recipient's receipt time.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.durations import as_utc
from incidents.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from incidents.kernel.moments import iso
from incidents.models import ACTIVE, REGISTERED, InboundReport, Incident, IncidentLink, Peer, Report, ReportRecipient
from incidents.people import permissions
from incidents.plan import LEVEL_CODES, REPORT_KINDS, Plan
from incidents.plan.versions import plan_of
from incidents.records import announce, audit, board_events
from incidents.records.board_events import OVERVIEW, department_room
from incidents.response import flows, sending, service

INBOX = SystemActor("局际收文")
MAX_PDF = 20 * 1024 * 1024


def _text(data: dict, key: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput("bad_payload", f"报告数据缺少或超长：{key}", f"`{key}` is missing, not text or too long",
                           field=key)
    return value.strip()


def _int(data: dict, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise InvalidInput("bad_payload", f"报告数据的 {key} 须为正整数", f"`{key}` must be a positive integer", field=key)
    return value


def _moment(data: dict, key: str, *, required: bool = True) -> datetime | None:
    raw = data.get(key)
    if raw is None and not required:
        return None
    try:
        value = as_utc(datetime.fromisoformat(str(raw)))
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput("bad_payload", f"报告数据的 {key} 不是有效时间", f"`{key}` is not an ISO 8601 time",
                           field=key) from None
    if value.tzinfo is None:
        raise InvalidInput("bad_payload", f"报告数据的 {key} 须带时区", f"`{key}` needs a time zone", field=key)
    return value


def fingerprint(payload: dict) -> str:
    """Return the SHA-256 of a payload in canonical JSON: the same report id must carry the same report."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def accept(session: Session, plan: Plan, *, sender: Peer, payload: dict, pdf: bytes | None,
           now: datetime) -> tuple[InboundReport, bool]:
    """Keep a report another bureau delivered; open or join its local incident. A repeat changes nothing."""
    if not isinstance(payload, dict):
        raise InvalidInput("bad_payload", "报告数据须为对象", "the payload must be an object")
    uid = _text(payload, "report_uid", 80)
    found = session.scalar(select(InboundReport).where(InboundReport.sender == sender.code,
                                                       InboundReport.report_uid == uid))
    digest = fingerprint(payload)
    if found is not None:
        if found.payload.get("_fingerprint") != digest:
            raise Conflict("changed_report", "同一报告编号的内容与已收到的不同，拒收",
                           "a report with this id was already received with different content")
        return found, False
    if payload.get("sender") != sender.code:
        raise Forbidden("wrong_sender", "报告数据中的报送单位与签名单位不符", "the payload's sender is not the signer")
    kind = _text(payload, "kind", 20)
    if kind not in REPORT_KINDS:
        raise InvalidInput("bad_payload", "报告类别无效", "unknown report kind", field="kind")
    incident_data = payload.get("incident")
    document = payload.get("document")
    if not isinstance(incident_data, dict) or not isinstance(document, dict):
        raise InvalidInput("bad_payload", "报告数据缺少事件或公文", "the payload lacks `incident` or `document`")
    remote_id = _int(incident_data, "id")
    remote_number = _text(incident_data, "number", 40)
    if pdf is not None and len(pdf) > MAX_PDF:
        raise InvalidInput("too_large", "公文 PDF 过大", "the document PDF is too large", field="pdf")
    link = session.scalar(select(IncidentLink).where(IncidentLink.peer == sender.code,
                                                     IncidentLink.remote_incident_id == remote_id))
    if link is None:
        incident = _open_incident(session, plan, sender, payload, incident_data, now=now)
        link = IncidentLink(incident_id=incident.id, peer=sender.code, remote_incident_id=remote_id,
                            remote_number=remote_number, created_at=now)
        session.add(link)
    else:
        incident = session.get(Incident, link.incident_id)
        _follow_level(session, incident, sender, incident_data, document, now=now)
    row = InboundReport(sender=sender.code, report_uid=uid, recipient_code=_text(payload, "recipient_code", 40),
                        sender_incident_id=remote_id, sender_incident_number=remote_number, kind=kind,
                        title=_text(document, "title", 2000), document_number=_text(document, "number", 40,
                                                                                    required=False),
                        skip_level=bool(payload.get("skip_level")), sent_at=_moment(payload, "sent_at", required=False),
                        received_at=now, payload={**payload, "_fingerprint": digest}, pdf=pdf,
                        sha256=hashlib.sha256(pdf).hexdigest() if pdf else None, incident_id=incident.id)
    session.add(row)
    session.flush()
    audit.record(session, actor=INBOX, action="inbound.received", entity="inbound_report", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"sender": sender.code, "report_uid": uid, "kind": kind, "document_number": row.document_number,
                       "sender_incident": remote_number, "sha256": row.sha256, "fingerprint": digest})
    tell(session, row, plan, what="received", at=now)
    return row, True


def _open_incident(session: Session, plan: Plan, sender: Peer, payload: dict, data: dict, *, now: datetime) -> Incident:
    """Register the event here, as this bureau learned it now, at the level the sender gave it."""
    codes = {c.code for c in plan.categories}
    category = data.get("category") if data.get("category") in codes else plan.categories[0].code
    level = data.get("level") if data.get("level") in LEVEL_CODES else None
    number = str(data.get("number"))[:40]
    document = payload.get("document") or {}
    discovered = _moment(data, "discovered_at") or now
    # A bureau that reports here is one of this plan's reporting units (a county to its city): its report
    # is the event's first report here, as a station's is to a county.
    station = sender.code if sender.code in plan.station_codes() else None
    facts = service.NewIncident(
        title=_text(data, "title", 200), category=category, discovered_at=min(discovered, now),
        location=_text(data, "location", 300), station=station,
        source=f"{sender.name}报告（{document.get('number') or '无文号'}，该局事件编号 {number}）："
               f"{str(data.get('source') or '')[:2000]}",
        nature=_text(data, "nature", 20000), scope=str(data.get("scope") or "")[:20000],
        trend=str(data.get("trend") or "")[:20000], measures_taken=str(data.get("measures_taken") or "")[:20000],
        casualties=str(data.get("casualties") or "")[:20000], level=level,
        level_reason=f"依据{sender.name}报告定级" if level else None)
    incident = service.register_incident(session, plan, facts=facts, actor=INBOX, now=now)
    body = "\n".join(p for section in (document.get("content") or {}).get("body") or []
                     for p in ([section.get("heading")] if section.get("heading") else []) + list(section.get("paragraphs") or []))
    # The arrival is this bureau's first report of the event, whether a bureau below sent it or one further
    # down skipped a level to send it here.
    if plan.reports.recipients_of("initial"):
        service.submit_report(session, incident_id=incident.id, kind="initial", actor=INBOX, now=now,
                              received_as=str(document.get("number") or f"{sender.code}:{payload.get('report_uid')}")[:40],
                              body=f"{sender.name}报告《{document.get('title') or ''}》（{document.get('number') or '无文号'}）"
                                   f"\n{body}"[:20000])
    return incident


def _follow_level(session: Session, incident: Incident, sender: Peer, data: dict, document: dict, *,
                  now: datetime) -> None:
    """Follow the sender's re-grade while the level here is still the one its report gave (nobody here changed it)."""
    level = data.get("level")
    if level not in LEVEL_CODES or level == incident.level or incident.status not in (REGISTERED, ACTIVE):
        return
    last = max(incident.level_changes, key=lambda c: (c.changed_at, c.id), default=None)
    if last is not None and last.changed_by_id is not None:
        return  # this bureau graded it itself: the office decides; the board shows the report
    flows.grade(session, incident_id=incident.id, level=level, actor=INBOX, now=now,
                reason=f"依据{sender.name}续报（{document.get('number') or '无文号'}）调整等级")


def tell(session: Session, row: InboundReport, plan: Plan, *, what: str, at: datetime) -> None:
    """Tell the office's board and the overview about an inbound report (with a sound on arrival)."""
    board_events.publish(session, rooms={department_room(plan.office_department), OVERVIEW}, event_name="inbound",
                         payload={"what": what, "sound": what == "received", "inbound": as_dict(row)}, at=at)


def get(session: Session, inbound_id: int, *, for_update: bool = False) -> InboundReport:
    """Return an inbound report, or raise NotFound."""
    row = session.get(InboundReport, inbound_id, with_for_update=for_update) if 0 < inbound_id < 2**31 else None
    if row is None:
        raise NotFound("not_found", f"来文 {inbound_id} 不存在", f"inbound report {inbound_id} not found")
    return row


def sign_for(session: Session, *, inbound_id: int, actor, now: datetime) -> InboundReport:
    """Sign for an inbound report (签收): the receipt goes back to the sender."""
    row = get(session, inbound_id, for_update=True)
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    plan = plan_of(incident) if incident is not None else None
    permissions.require(actor, "receive", incident, plan)
    if row.receipt_at is not None:
        raise Conflict("already_signed_for", "该来文已签收", "this report was already signed for")
    row.receipt_at, row.receipt_by_id = now, actor_id(actor)
    sending.queue_receipt(session, row, now=now)
    audit.record(session, actor=actor, action="inbound.signed_for", entity="inbound_report", entity_id=row.id,
                 incident_id=row.incident_id, at=now, data={"sender": row.sender, "report_uid": row.report_uid})
    if plan is not None:
        tell(session, row, plan, what="signed_for", at=now)
        announce.incident_changed(session, incident, plan, what="inbound:signed_for", at=now)
    return row


def record_receipt(session: Session, plan: Plan, *, sender: Peer, payload: dict, now: datetime) -> ReportRecipient:
    """Record a recipient bureau's 签收 of a report sent from here (idempotent)."""
    if not isinstance(payload, dict):
        raise InvalidInput("bad_payload", "签收数据须为对象", "the payload must be an object")
    uid = _text(payload, "report_uid", 80)
    code, _, local = uid.rpartition(":")
    if code != (plan.bureau_code or plan.id) or not local.isdigit() or not 0 < int(local) < 2**31:
        raise NotFound("not_found", "没有这份报告", "no such report was sent from here")
    report = session.get(Report, int(local))
    recipient_code = _text(payload, "recipient_code", 40)
    row = next((r for r in report.recipients if r.code == recipient_code), None) if report else None
    if row is None:
        raise NotFound("not_found", "没有这份报告", "no such report was sent from here")
    rule = sending.plan_recipient(plan_of(report.incident), report.kind, row.code)
    if rule is None or rule.peer != sender.code:
        raise Forbidden("wrong_sender", "该报告不是报送给签收单位的", "this report was not sent to the signing bureau")
    if row.receipt_at is not None:
        return row
    at = _moment(payload, "receipt_at") or now
    row.receipt_at = min(at, now)
    row.receipt_by = str(payload.get("receipt_by") or "")[:80] or None
    row.remote_ref = row.remote_ref or str(payload.get("inbound_id") or "")[:200] or None
    audit.record(session, actor=INBOX, action="report.receipt", entity="report_recipient", entity_id=row.id,
                 incident_id=report.incident_id, at=now,
                 data={"report_id": report.id, "recipient": row.code, "receipt_at": iso(row.receipt_at),
                       "receipt_by": row.receipt_by, "sender": sender.code})
    announce.incident_changed(session, report.incident, plan_of(report.incident), what="report:receipt", at=now)
    return row


def as_dict(row: InboundReport) -> dict:
    """Return an inbound report as the office's board and the API show it."""
    return {"id": row.id, "sender": row.sender, "sender_name": (row.payload or {}).get("sender_name"),
            "report_uid": row.report_uid, "kind": row.kind, "title": row.title,
            "document_number": row.document_number, "skip_level": row.skip_level,
            "sender_incident_number": row.sender_incident_number, "sent_at": iso(row.sent_at),
            "received_at": iso(row.received_at), "incident_id": row.incident_id, "sha256": row.sha256,
            "receipt_at": iso(row.receipt_at), "signed_for": row.receipt_at is not None}


def recent(session: Session, *, limit: int = 200) -> list[InboundReport]:
    """Return the latest inbound reports, newest first."""
    return list(session.scalars(select(InboundReport).order_by(InboundReport.received_at.desc(),
                                                               InboundReport.id.desc()).limit(limit)))


def pending(session: Session, *, limit: int = 200) -> list[InboundReport]:
    """Return the inbound reports not yet signed for, oldest first."""
    return list(session.scalars(select(InboundReport).where(InboundReport.receipt_at.is_(None))
                                .order_by(InboundReport.received_at, InboundReport.id).limit(limit)))


def origins(session: Session, incident_id: int) -> list[dict]:
    """Return the other bureaus' incidents a local incident was opened for: who, and its number there."""
    links = session.scalars(select(IncidentLink).where(IncidentLink.incident_id == incident_id)
                            .order_by(IncidentLink.id))
    out = []
    for link in links:
        peer = session.scalar(select(Peer).where(Peer.code == link.peer))
        name = peer.name if peer is not None else None
        if name is None:  # a bureau no longer registered: the name its own reports gave
            first = session.scalar(select(InboundReport).where(InboundReport.sender == link.peer,
                                                               InboundReport.incident_id == incident_id).limit(1))
            name = (first.payload or {}).get("sender_name") if first is not None else None
        out.append({"peer": link.peer, "name": name or link.peer, "remote_number": link.remote_number,
                    "remote_incident_id": link.remote_incident_id, "linked_at": iso(link.created_at)})
    return out


def link_of(session: Session, incident_id: int) -> dict | None:
    """Return the other bureau whose report opened this incident here, and its number there (None: our own)."""
    found = origins(session, incident_id)
    if not found:
        return None
    return {"peer": found[0]["peer"], "peer_name": found[0]["name"], "remote_number": found[0]["remote_number"]}


def of_incident(session: Session, incident_id: int) -> list[InboundReport]:
    """Return the reports from other bureaus that joined a local incident, oldest first."""
    return list(session.scalars(select(InboundReport).where(InboundReport.incident_id == incident_id)
                                .order_by(InboundReport.received_at, InboundReport.id)))
