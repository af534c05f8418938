"""Official documents (公文) in the layout of GB/T 9704-2012 党政机关公文格式.

`render(OfficialDocument(...))` returns the PDF: A4, a 156 × 225 mm 版心 of 22 lines of 28
characters, the red issuer mark and separator, the title in a trapezoid or diamond, the body with
its four heading levels, signature and date, the 版记 at the foot of the last (even) page and the
page numbers — 1 — alternating right and left. model.py says what a document holds, fonts.py which
fonts fill the typefaces the standard names, typesetting.py how it is laid out and drawn.
"""
from reports.official_document.model import Heading, OfficialDocument, chinese_date
from reports.official_document.typesetting import render, render_with_pages, typeset

__all__ = ["Heading", "OfficialDocument", "chinese_date", "render", "render_with_pages", "typeset"]
