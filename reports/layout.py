"""The furniture every PDF shares: page metadata, the opening block, times in the document's zone."""
from __future__ import annotations

from datetime import datetime

from reportlab.platypus import Flowable

from reports import pdf
from reports.pdf import DocMeta, para, styles


def meta_of(doc: dict, reference: str = "") -> DocMeta:
    """Return the page furniture of a document snapshot."""
    return DocMeta(title=doc["title"], bureau=doc["bureau"], classification=doc["classification"],
                   generated_at=datetime.fromisoformat(doc["generated_at"]), timezone=doc["timezone"],
                   reference=reference, subject=doc.get("incident", {}).get("number", doc["title"]))


def time_formatter(doc: dict):
    """Return a formatter of the snapshot's ISO times in its zone."""
    tz = doc["timezone"]
    return lambda value, **kw: pdf.local(value, tz, **kw)


def subtitle_block(doc: dict, subtitle: str) -> list[Flowable]:
    """Return the bureau, the title and a subtitle, as every document opens."""
    s = styles()
    return [para(doc["bureau"], s.subtitle), para(doc["title"], s.title), para(subtitle, s.subtitle)]
