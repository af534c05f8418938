"""The page and the building blocks every briefing shares: A4, header, footer, styles, tables.

Every page carries the bureau's name and the classification line at the top, and at the
bottom the time of generation in the plan's zone (Beijing time), the document's reference
and "第 x 页 共 y 页". The total is known only at the end, so the canvas keeps each page
until the document is complete and then stamps the footers.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence
from xml.sax.saxutils import escape


from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    LongTable,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from incidents.kernel.moments import zone
from reports import fonts

PAGE_W, PAGE_H = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 20 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X

# The national warning colours of the four levels; grey for an ungraded event.
LEVEL_COLOURS = {
    "red": colors.HexColor("#C62828"),
    "orange": colors.HexColor("#EF6C00"),
    "yellow": colors.HexColor("#F9A825"),
    "blue": colors.HexColor("#1565C0"),
    "grey": colors.HexColor("#757575"),
}
# Yellow needs dark text to stay readable, in print too.
LEVEL_TEXT = {"yellow": colors.HexColor("#3E2723")}
OUTCOME_COLOURS = {
    "met": colors.HexColor("#2E7D32"),
    "late": colors.HexColor("#EF6C00"),
    "missed": colors.HexColor("#C62828"),
    "running": colors.HexColor("#90A4AE"),
}
INK = colors.HexColor("#212121")
MUTED = colors.HexColor("#616161")
RULE = colors.HexColor("#BDBDBD")
HEAD_BG = colors.HexColor("#ECEFF1")
ACCENT = colors.HexColor("#B71C1C")


@dataclass(frozen=True)
class DocMeta:
    """What every page shows besides the content."""

    title: str
    bureau: str
    classification: str
    generated_at: datetime
    timezone: str
    zone_label: str = "北京时间"
    reference: str = ""  # e.g. 简报编号 B000012
    subject: str = ""


def local(moment: datetime | str | None, tz: str, *, seconds: bool = False, date_only: bool = False) -> str:
    """Format a time (datetime or ISO text) in the plan's zone: 2026-11-20 09:00."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    moment = moment.astimezone(zone(tz))
    if date_only:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


# --- styles -------------------------------------------------------------------------


class Styles:
    """The paragraph styles, built once the font is registered."""

    def __init__(self) -> None:
        font = fonts.register()

        def style(name: str, size: float, leading: float, **kw) -> ParagraphStyle:
            # CJK wrapping breaks between any two ideographs and keeps Chinese punctuation
            # off the start of a line.
            return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, textColor=kw.pop("color", INK),
                                  wordWrap="CJK", **kw)

        self.font = font
        self.title = style("title", 20, 28, alignment=TA_CENTER, color=ACCENT, spaceAfter=4)
        self.subtitle = style("subtitle", 11, 16, alignment=TA_CENTER, color=MUTED, spaceAfter=8)
        self.h1 = style("h1", 14, 20, color=ACCENT, spaceBefore=10, spaceAfter=5)
        self.h2 = style("h2", 12, 17, spaceBefore=6, spaceAfter=3)
        self.body = style("body", 10.5, 16)
        self.cell = style("cell", 9, 12.5)
        self.cell_head = style("cell_head", 9, 12.5, color=colors.HexColor("#37474F"))
        self.small = style("small", 8.5, 12, color=MUTED)
        self.badge = style("badge", 12, 16, alignment=TA_CENTER, color=colors.white)


_styles: Styles | None = None


def styles() -> Styles:
    """Return the shared paragraph styles."""
    global _styles
    if _styles is None:
        _styles = Styles()
    return _styles


def markup(text: object) -> str:
    """Turn plain text (typed by users) into safe Paragraph markup: escaped, drawable, line breaks kept."""
    value = fonts.drawable("" if text is None else str(text))
    return escape(value).replace("\r\n", "\n").replace("\n", "<br/>")


def para(text: object, style: ParagraphStyle | None = None) -> Paragraph:
    """Return a paragraph of plain text."""
    return Paragraph(markup(text), style or styles().body)


def paras(text: object, style: ParagraphStyle | None = None) -> list[Flowable]:
    """Return typed text of any length as paragraphs of a few dozen lines each, wrapped once, here.

    One paragraph of 20,000 characters is wrapped again at every page it breaks over (slow); pieces
    that already fit the width are not.
    """
    style = style or styles().body
    lines = wrap_lines(fonts.drawable("" if text is None else str(text)), CONTENT_W, style.fontName, style.fontSize)
    step = 2 * ROW_LINES
    return [Paragraph("<br/>".join(escape(line) for line in lines[i:i + step]), style)
            for i in range(0, len(lines), step)]


def heading(text: str, level: int = 1) -> Paragraph:
    """Return a section heading."""
    s = styles()
    return Paragraph(markup(text), s.h1 if level == 1 else s.h2)


def spacer(height_mm: float = 3) -> Spacer:
    """Return vertical space."""
    return Spacer(1, height_mm * mm)


def level_badge(level: dict, width: float = 42 * mm) -> Table:
    """Return the level as a coloured block: Ⅱ级 重大 on orange."""
    colour = level.get("colour") or "grey"
    s = styles()
    text_style = ParagraphStyle("badge-" + colour, parent=s.badge, textColor=LEVEL_TEXT.get(colour, colors.white))
    label = f"{level['label']} {level['name']}" if level.get("code") else level.get("label", "未定级")
    t = Table([[Paragraph(markup(label), text_style)]], colWidths=[width])
    t.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), s.font),
        ("BACKGROUND", (0, 0), (-1, -1), LEVEL_COLOURS.get(colour, LEVEL_COLOURS["grey"])),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    return t


def key_values(pairs: Sequence[tuple[str, object]], label_width: float = 34 * mm) -> Table:
    """Return a two-column table of labels and values (the report contents); long values run on over rows."""
    label = label_width / CONTENT_W
    return _table(None, [[k, v if v not in (None, "") else "—"] for k, v in pairs], [label, 1 - label],
                  label_column=True)


def data_table(header: Sequence[str], rows: Iterable[Sequence[object]], widths: Sequence[float],
               row_colours: Sequence[tuple[int, colors.Color]] = ()) -> Table:
    """Return a table with a header row repeated on every page it spans.

    Widths are fractions of the content width. Cells are plain text; a cell that is already a
    Flowable is used as it is. `row_colours` tints the text of data rows (index, colour).
    """
    return _table(header, rows, widths, row_colours=row_colours)


# A table row is never taller than about this many lines: a longer value goes on in the rows below
# it, so that the table can break between them (a row taller than a page cannot be laid out).
ROW_LINES = 20
CELL_PAD = 3


def _table(header: Sequence[str] | None, rows: Iterable[Sequence[object]], widths: Sequence[float], *,
           row_colours: Sequence[tuple[int, colors.Color]] = (), label_column: bool = False) -> Table:
    s = styles()
    room = [w * CONTENT_W - 2 * CELL_PAD for w in widths]
    data: list[list] = [[Paragraph(markup(h), s.cell_head) for h in header]] if header else []
    first_row = len(data)
    spans: list[tuple[int, int]] = []  # each record's first and last table row
    for row in rows:
        cells = [[c] if isinstance(c, Flowable) else _cells(c, room[n], s.cell_head if label_column and n == 0
                                                             else s.cell, s)
                 for n, c in enumerate(row)]
        start = len(data)
        for k in range(max(len(c) for c in cells)):
            data.append([c[k] if k < len(c) else "" for c in cells])
        spans.append((start, len(data) - 1))
    # LongTable splits a long table across pages without measuring all remaining rows per page.
    t = LongTable(data or [[""]], colWidths=[w * CONTENT_W for w in widths], repeatRows=1 if header else 0)
    commands = [
        # Short cells are plain strings drawn in the table's own font; left at its default it is
        # Helvetica, which is not embedded.
        ("FONTNAME", (0, 0), (-1, -1), s.font),
        ("FONTSIZE", (0, 0), (-1, -1), s.cell.fontSize), ("LEADING", (0, 0), (-1, -1), s.cell.leading),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        # The rows of one record share their cells' sides: lines run between records only.
        ("BOX", (0, 0), (-1, -1), 0.4, RULE), ("LINEAFTER", (0, 0), (-2, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD), ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
    ]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("LINEBELOW", (0, 0), (-1, 0), 0.4, RULE)]
    if label_column:
        commands += [("BACKGROUND", (0, first_row), (0, -1), HEAD_BG),
                     ("TEXTCOLOR", (0, first_row), (0, -1), s.cell_head.textColor)]
    commands += [("LINEBELOW", (0, last), (-1, last), 0.4, RULE) for _, last in spans[:-1]]
    for index, colour in row_colours:
        first, last = spans[index]
        commands.append(("LINEBEFORE", (0, first), (0, last), 2.5, colour))
    t.setStyle(TableStyle(commands))
    return t


def _cells(value: object, room: float, style: ParagraphStyle, s: Styles) -> list[Flowable | str]:
    """Return a value as cells of at most ROW_LINES lines, wrapped here to the column: plain strings are
    laid out and drawn many times faster than paragraphs, which matters for a record of hundreds of pages."""
    text = fonts.drawable("—" if value in (None, "") else str(value))
    lines = wrap_lines(text, room, s.font, style.fontSize)
    return ["\n".join(lines[i:i + ROW_LINES]) for i in range(0, len(lines), ROW_LINES)] or [""]


# Punctuation that may not begin a line (标点避头): it goes down with the character before it.
NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’…—,.;:?!)]}%")
_widths: dict[tuple[str, float], dict[str, float]] = {}


def wrap_lines(text: str, room: float, font: str, size: float) -> list[str]:
    """Break text into lines no wider than `room` points: anywhere between ideographs, at spaces in Latin text."""
    widths = _widths.setdefault((font, size), {})

    def width(ch: str) -> float:
        w = widths.get(ch)
        if w is None:
            w = widths[ch] = stringWidth(ch, font, size)
        return w

    out: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").split("\n"):
        line: list[str] = []
        used = 0.0
        for ch in paragraph:
            w = width(ch)
            if line and used + w > room:
                keep = len(line)
                if ch in NO_LINE_START and keep > 1:
                    keep -= 1
                elif ch.isascii() and ch.isalnum() and line[-1].isascii() and line[-1].isalnum():
                    # Move a Latin word down whole when it started near the end of the line.
                    space = next((i for i in range(len(line) - 1, max(-1, len(line) - 24), -1) if line[i] == " "), -1)
                    if space > 0:
                        keep = space + 1
                out.append("".join(line[:keep]).rstrip(" "))
                line = line[keep:]
                used = sum(width(c) for c in line)
            line.append(ch)
            used += w
        out.append("".join(line))
    return out


def empty(text: str) -> Paragraph:
    """Return the muted line shown where a section has nothing."""
    return para(text, styles().small)


# --- the page -------------------------------------------------------------------------


class _NumberedCanvas(pdfcanvas.Canvas):
    """A canvas that stamps every page's header and footer once the page count is known."""

    meta: DocMeta

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        meta, font = self.meta, styles().font
        page = self._pageNumber
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        top = PAGE_H - 14 * mm
        self.setFont(font, 9)
        self.setFillColor(MUTED)
        self.drawString(MARGIN_X, top, fonts.drawable(meta.bureau))
        self.setFillColor(ACCENT)
        self.drawRightString(PAGE_W - MARGIN_X, top, fonts.drawable(meta.classification))
        self.line(MARGIN_X, top - 2.5 * mm, PAGE_W - MARGIN_X, top - 2.5 * mm)
        bottom = 11 * mm
        self.line(MARGIN_X, bottom + 4.5 * mm, PAGE_W - MARGIN_X, bottom + 4.5 * mm)
        self.setFillColor(MUTED)
        self.setFont(font, 8.5)
        made = local(meta.generated_at, meta.timezone)
        self.drawString(MARGIN_X, bottom, f"生成时间：{made}（{meta.zone_label}）")
        self.drawCentredString(PAGE_W / 2, bottom, f"第 {page} 页 共 {total} 页")
        self.drawRightString(PAGE_W - MARGIN_X, bottom, fonts.drawable(meta.reference or meta.title))
        self.restoreState()


def render(story: list[Flowable], meta: DocMeta) -> tuple[bytes, int]:
    """Lay the story out on A4 pages and return the PDF bytes and the page count."""
    styles()
    out = io.BytesIO()
    doc = BaseDocTemplate(out, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                          bottomMargin=MARGIN_BOTTOM, title=meta.title, author=meta.bureau,
                          subject=meta.subject or meta.title, creator="Yingji 应急指挥",
                          # Otherwise every page opens with Helvetica, a font that is not embedded.
                          initialFontName=styles().font)
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])

    class Canvas(_NumberedCanvas):
        pass

    Canvas.meta = meta
    doc.build(story, canvasmaker=Canvas)
    return out.getvalue(), doc.page
