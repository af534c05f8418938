"""Reports as official documents (公文, GB/T 9704-2012): sign-off (签发), numbering, frozen content.

A report of a kind the plan's `documents.sign_off` names waits for one of those roles to sign it off;
any other report with recipients goes as filed. Going out (`release`) gives it the bureau's next
document number of the year (机关代字〔年份〕序号号, never skipping: the counter row is locked and a
rolled-back transaction gives its number back), freezes what the document says as data, delivers it
to this bureau itself and queues it for the other bureaus' Yingji and for e-mail (sending.py). The PDF
is rendered once from that frozen content, the first time it is needed, and kept with its SHA-256.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incidents.kernel.actors import SystemActor, actor_id
from incidents.kernel.errors import InvalidInput
from incidents.kernel.moments import iso, local_day
from incidents.models import DocumentCounter, Incident, Report, ReportDocument
from incidents.people.users import name_of
from incidents.plan import Plan
from incidents.plan.model import INTERNAL, LOCAL_GOVERNMENT
from incidents.records import announce, audit
from incidents.response import sending

# The facts a report must carry (plan §三(二)3), in its order; a follow-up says which of them changed.
FACTS = (("discovered_at", "发生时间"), ("location", "地点"), ("source", "信息来源"), ("nature", "事件性质"),
         ("scope", "影响范围"), ("trend", "事件发展趋势"), ("measures_taken", "已经采取的措施"),
         ("casualties", "人员伤亡及财产损失"))
RENDERER = SystemActor("公文生成")
KIND_NAMES = {"initial": "事发地初报", "bureau": "局报告", "progress": "续报", "closing": "书面报告"}


def signers_of(plan: Plan, kind: str) -> tuple[str, ...]:
    """Return the roles that sign off a report of this kind (none: it goes as filed)."""
    return plan.reports.documents.signers_of(kind)


def awaits_sign_off(report: Report, plan: Plan) -> bool:
    """Tell whether a report still waits for its sign-off before anything goes out."""
    return bool(signers_of(plan, report.kind)) and report.signed_at is None


def document_of(session: Session, report_id: int) -> ReportDocument | None:
    """Return the document a report went out as, if it has gone out."""
    return session.scalar(select(ReportDocument).where(ReportDocument.report_id == report_id))


def _next_number(session: Session, issuer: str, year: int) -> int:
    """Take the year's next number; the counter row stays locked until the transaction ends (no gaps)."""
    row = session.get(DocumentCounter, (issuer, year), with_for_update=True)
    if row is None:
        # The year's first document: another transaction may be making the row at this moment. Its insert
        # then waits for that one and fails once it commits; the row it made is locked and counted on.
        try:
            with session.begin_nested():
                session.add(DocumentCounter(issuer=issuer, year=year, last=0))
        except IntegrityError:
            pass
        row = session.get(DocumentCounter, (issuer, year), with_for_update=True, populate_existing=True)
    row.last += 1
    session.flush()
    return row.last


def _issuer(incident: Incident, report: Report, plan: Plan) -> tuple[str, str]:
    """Return who issues the document and how it signs (a station's own initial report: the station)."""
    if report.kind == "initial" and incident.station:
        station = next((s for s in plan.stations if s.code == incident.station), None)
        if station is not None:
            return station.name, station.name
    docs = plan.reports.documents
    return docs.issuer_mark or plan.bureau, plan.bureau


def recipient_name(plan: Plan, incident: Incident, code: str, name: str) -> str:
    """Return a recipient's name for this incident (当地政府: the station's own township government)."""
    if code == LOCAL_GOVERNMENT and incident.station:
        station = next((s for s in plan.stations if s.code == incident.station), None)
        if station is not None and station.government:
            return station.government
    return name


def _facts(incident: Incident, plan: Plan) -> dict[str, str]:
    out = {}
    for field, _label in FACTS:
        value = getattr(incident, field)
        if field == "discovered_at":
            value = value.astimezone(plan.tz).strftime("%Y年%m月%d日%H时%M分")
        out[field] = str(value or "")
    return out


def _previous(session: Session, incident: Incident, report: Report) -> ReportDocument | None:
    return session.scalar(select(ReportDocument).join(Report, Report.id == ReportDocument.report_id)
                          .where(Report.incident_id == incident.id, ReportDocument.report_id != report.id)
                          .order_by(ReportDocument.signed_at.desc(), ReportDocument.id.desc()).limit(1))


def _body(session: Session, incident: Incident, report: Report, plan: Plan, facts: dict) -> list[dict]:
    level = plan.level(incident.level) if incident.level else None
    graded = f"{level.numeral}级（{level.name}）" if level else "尚未定级"
    sections: list[dict] = []
    if report.skip_level_reason:
        sections.append({"heading": None, "paragraphs": [f"因{report.skip_level_reason}，本报告越级上报，同时报告当地政府和上级市场监督管理局。"]})
    previous = _previous(session, incident, report) if report.kind in ("progress", "closing") else None
    if previous is not None:
        before = previous.content.get("facts", {})
        changed = [f"{label}：{facts[f]}" for f, label in FACTS if facts.get(f) != before.get(f)]
        sections.append({"heading": f"一、自上次报告（{previous.number}）以来的变化",
                         "paragraphs": changed or ["事件基本情况无变化。"]})
        sections.append({"heading": "二、处置进展", "paragraphs": _paragraphs(report.body)})
        return sections
    sections.append({"heading": "一、基本情况", "paragraphs": [
        f"{facts['discovered_at']}，{facts['location']}发生{incident.title}。信息来源：{facts['source']}。"]})
    sections.append({"heading": "二、事件性质和影响范围", "paragraphs": [
        f"事件性质：{facts['nature']}；事件等级：{graded}。", f"影响范围：{facts['scope']}。",
        f"人员伤亡及财产损失：{facts['casualties']}。"]})
    sections.append({"heading": "三、事件发展趋势", "paragraphs": [facts["trend"] or "尚在核实。"]})
    sections.append({"heading": "四、已经采取的措施", "paragraphs": [facts["measures_taken"] or "尚在核实。"]})
    sections.append({"heading": "五、报告内容", "paragraphs": _paragraphs(report.body)})
    return sections


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in (text or "").splitlines() if p.strip()] or ["（无）"]


def _content(session: Session, incident: Incident, report: Report, plan: Plan, *, number: str, signer: str | None,
             at: datetime) -> dict:
    issuer_mark, signature = _issuer(incident, report, plan)
    docs = plan.reports.documents
    n = sum(1 for r in incident.reports if r.kind == "progress" and r.id <= report.id)
    title = docs.title_of(report.kind).format(title=incident.title, n=n)
    main = [recipient_name(plan, incident, r.code, r.name) for r in report.recipients if r.channel != INTERNAL
            and not _internal(plan, report.kind, r.code)]
    facts = _facts(incident, plan)
    day = local_day(plan.tz, at)
    return {"issuer": signature, "issuer_mark": issuer_mark, "doc_number": number, "signer": signer,
            "urgency": docs.urgency_of(report.kind),
            "classification": None, "title": title, "main_recipients": main,
            "body": _body(session, incident, report, plan, facts), "attachments": [],
            "issuer_signature": signature, "date": day.isoformat(), "copy_to": [],
            "printer": docs.printer or plan.bureau, "printed_on": day.isoformat(),
            "facts": facts, "incident_number": incident.number, "kind": report.kind,
            "kind_name": KIND_NAMES.get(report.kind, report.kind), "skip_level_reason": report.skip_level_reason}


def _internal(plan: Plan, kind: str, code: str) -> bool:
    rules = plan.reports.recipients_of(kind) + plan.reports.skip_level_of(kind)
    return any(r.code == code and r.channel == INTERNAL for r in rules)


def release(session: Session, report: Report, plan: Plan, *, actor, now: datetime,
            received_as: str | None = None) -> ReportDocument | None:
    """Send a report out: number and freeze its document, deliver it here, queue it for other bureaus and e-mail.

    `received_as`: the report is another bureau's document that arrived here (its number): it is not
    numbered again, only delivered to this bureau.
    """
    if not report.recipients or document_of(session, report.id) is not None:
        return None
    if received_as is not None:
        sending.deliver_and_queue(session, report, None, plan, actor=actor, now=now, reference=received_as)
        return None
    incident = report.incident
    docs = plan.reports.documents
    issuer = docs.abbreviation or plan.bureau_code or "文"
    year = local_day(plan.tz, now).year
    seq = _next_number(session, issuer, year)
    number = f"{issuer}〔{year}〕{seq}号"
    signer = name_of(session, report.signed_by_id)
    content = _content(session, incident, report, plan, number=number, signer=signer, at=now)
    doc = ReportDocument(report_id=report.id, issuer=issuer, year=year, seq=seq, number=number,
                         title=content["title"], signer_id=report.signed_by_id, signer_name=signer, signed_at=now,
                         content=content, pdf=b"", sha256="")
    session.add(doc)
    session.flush()
    audit.record(session, actor=actor, action="report.released", entity="report", entity_id=report.id,
                 incident_id=incident.id, at=now,
                 data={"document_id": doc.id, "number": number, "title": doc.title, "signer": signer,
                       "recipients": [r.code for r in report.recipients]})
    sending.deliver_and_queue(session, report, doc, plan, actor=actor, now=now)
    return doc


def sign(session: Session, report: Report, plan: Plan, *, actor, now: datetime) -> None:
    """Record the sign-off and send the report out (the filer's own sign-off at filing comes here too)."""
    report.signed_at, report.signed_by_id = now, actor_id(actor)
    audit.record(session, actor=actor, action="report.signed_off", entity="report", entity_id=report.id,
                 incident_id=report.incident_id, at=now, data={"kind": report.kind})
    release(session, report, plan, actor=actor, now=now)
    announce.incident_changed(session, report.incident, plan, what="report:signed", at=now)


def may_sign(actor, plan: Plan, kind: str) -> bool:
    """Tell whether this person's role signs off reports of this kind."""
    return getattr(actor, "role", None) in signers_of(plan, kind)


def pdf_of(session: Session, doc: ReportDocument, render: Callable[[dict], bytes], *, now: datetime) -> bytes:
    """Return the document's PDF: rendered once from its frozen content, then always the same bytes."""
    if doc.pdf:
        return doc.pdf
    data = render(doc.content)
    if not data:
        raise InvalidInput("render_failed", "公文生成失败", "the document could not be rendered")
    doc.pdf, doc.sha256 = data, hashlib.sha256(data).hexdigest()
    audit.record(session, actor=RENDERER, action="document.rendered", entity="report", entity_id=doc.report_id,
                 at=now, data={"document_id": doc.id, "number": doc.number, "sha256": doc.sha256, "bytes": len(data)})
    return data


def as_dict(doc: ReportDocument | None) -> dict | None:
    """Return a document as the API and pages show it (without its PDF)."""
    if doc is None:
        return None
    return {"id": doc.id, "number": doc.number, "title": doc.title, "signer": doc.signer_name,
            "signed_at": iso(doc.signed_at), "sha256": doc.sha256 or None, "rendered": bool(doc.sha256),
            "main_recipients": doc.content.get("main_recipients", [])}


