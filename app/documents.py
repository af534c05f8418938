"""The frozen content of a report's document (incidents/response/documents.py) drawn as a GB/T 9704 PDF."""
from __future__ import annotations

from datetime import date

from reports.official_document import Heading, OfficialDocument, render as draw


def as_document(content: dict) -> OfficialDocument:
    """Return the official document a report's frozen content describes."""
    body: list = []
    for section in content.get("body") or []:
        if section.get("heading"):
            body.append(Heading(section["heading"], level=1))
        body.extend(section.get("paragraphs") or [])
    printed = content.get("printed_on") or content["date"]
    return OfficialDocument(
        issuer=content["issuer"], doc_number=content["doc_number"], title=content["title"],
        main_recipients=tuple(content.get("main_recipients") or ()), body=tuple(body),
        date=date.fromisoformat(content["date"]), issuer_mark=content.get("issuer_mark") or "",
        issuer_signature=content.get("issuer_signature") or "", signer=content.get("signer"),
        urgency=content.get("urgency"), classification=content.get("classification"),
        attachments=tuple(content.get("attachments") or ()), copy_to=tuple(content.get("copy_to") or ()),
        printer=content.get("printer") or "", printed_on=date.fromisoformat(printed))


def render(content: dict) -> bytes:
    """Return the PDF of a report's document."""
    return draw(as_document(content))
