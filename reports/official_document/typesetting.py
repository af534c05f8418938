"""Lay an official document out on A4 pages as GB/T 9704-2012 prescribes, and draw it with ReportLab.

Everything in the 版心 (156 × 225 mm, 37 mm from the top and 28 mm from the left edge) sits on a grid
of 22 lines; a body line holds 28 characters of 3号 (16 pt) text and fills the width (5.2). The page
is laid out as lines first (`typeset`), then drawn (`render`): pages, line numbers on the grid and
the page numbers are known before anything is drawn.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Iterable

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from reports.official_document import fonts
from reports.official_document.model import Heading, OfficialDocument, chinese_date
from reports.pdf import NO_LINE_START

PAGE_W, PAGE_H = A4
LEFT = 28 * mm  # 订口
TOP = 37 * mm  # 天头
BOX_W, BOX_H = 156 * mm, 225 * mm  # 版心
BOX_TOP = PAGE_H - TOP
BOX_BOTTOM = BOX_TOP - BOX_H
RIGHT = LEFT + BOX_W
LINES, CHARS = 22, 28
PITCH = BOX_H / LINES  # one line of the grid, 28.99 pt
SIZE_2, SIZE_3, SIZE_4 = 22.0, 16.0, 14.0  # 2号, 3号, 4号
# The character spacing that puts 28 characters of 3号 on a line, the first at its left edge and the
# last at its right (撑满版心); a little under zero, as 28 × 16 pt is 5.8 pt more than 156 mm.
BODY_SPACE = (BOX_W - CHARS * SIZE_3) / (CHARS - 1)
CHAR = SIZE_3 + BODY_SPACE  # one 字 of body text, the unit of indents (空二字)
RED = Color(1, 0, 0)
MARK_TOP = 35 * mm  # the issuer mark's top edge below the 版心's (7.2.4)
MARK_MAX = 48.0  # the mark's largest size; a long name is set smaller to fit the width
RULE_BELOW_NUMBER = 4 * mm  # the red separator under the document number (7.2.7)
RED_RULE = 0.75 * mm  # the standard gives no thickness for the red separator
THICK, THIN = 0.35 * mm, 0.25 * mm  # 版记 separators (7.4.1)
PAGE_NUMBER_DROP = 7 * mm  # the page number's dashes below the 版心 (7.5)
# A CJK em box runs from 0.12 em below the baseline to 0.88 em above it.
EM_TOP, EM_BOTTOM = 0.88, 0.12
EM_MIDDLE = (EM_TOP - EM_BOTTOM) / 2

NO_LINE_END = frozenset("（《「『【〔〈“‘([{")
# 文种: a title's last word, never broken across lines.
KINDS = ("决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函",
         "纪要")
HEADING_ROLES = {1: "hei", 2: "kai", 3: "fangsong", 4: "fangsong"}
NUMBERED = {1: re.compile(r"^[一二三四五六七八九十百]+、"), 2: re.compile(r"^（[一二三四五六七八九十百]+）"),
            3: re.compile(r"^\d+[.．]"), 4: re.compile(r"^[（(]\d+[）)]")}


# --- text as units of one character -------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One character (or one character of a [U+XXXX] replacement) in the font that draws it."""

    text: str
    font: str
    width: float  # at the size it was shaped for, without character spacing


_widths: dict[tuple[str, str], float] = {}


def _width(text: str, font: str, size: float) -> float:
    w = _widths.get((font, text))
    if w is None:
        w = _widths[(font, text)] = stringWidth(text, font, 1000)
    return w * size / 1000


def shape(text: str, role: str, size: float) -> list[Unit]:
    """Return the text as units in the fonts that can draw them (a character no font has as [U+XXXX])."""
    text = text.replace("\t", " ").replace("\r", "")
    return [Unit(ch, font, _width(ch, font, size)) for font, piece in fonts.glyphs(text, role) for ch in piece]


def extent(units: list[Unit], space: float) -> float:
    """Return the width the units take on the page, from the first one's left to the last one's right."""
    return sum(u.width for u in units) + space * max(0, len(units) - 1)


def _tokens(units: list[Unit]) -> list[list[Unit]]:
    """Group units that a line may not break inside: a run of Latin letters, digits and signs (数字不回行),
    a dash or ellipsis pair (—— ……)."""
    out: list[list[Unit]] = []
    for u in units:
        prev = out[-1][-1].text if out else ""
        latin = u.text.isascii() and not u.text.isspace()
        if out and ((latin and prev.isascii() and not prev.isspace()) or (u.text in "—…" and prev == u.text)):
            out[-1].append(u)
        else:
            out.append([u])
    return out


def wrap(units: list[Unit], first: float, rest: float, space: float) -> list[list[Unit]]:
    """Break units into lines no wider than `first` (the first line) and `rest` points.

    Punctuation that may not start a line takes the character before it down with it (避头), and an
    opening bracket does not end a line (避尾).
    """
    lines: list[list[Unit]] = []
    line: list[list[Unit]] = []
    room = first
    pending = _tokens(units)
    i = 0
    while i < len(pending):
        token = pending[i]
        if not line and token[0].text.isspace():
            i += 1
            continue
        flat = [u for t in line for u in t]
        if extent(flat + token, space) <= room + 0.01:
            line.append(token)
            i += 1
            continue
        if not line:  # a token wider than the line: break it where it must
            take = 1
            while take < len(token) and extent(token[:take + 1], space) <= room + 0.01:
                take += 1
            line.append(token[:take])
            pending[i] = token[take:]
        else:
            carry: list[list[Unit]] = []
            if token[0].text in NO_LINE_START and len(line) > 1:
                carry.insert(0, line.pop())
            while len(line) > 1 and line[-1][-1].text in NO_LINE_END:
                carry.insert(0, line.pop())
            while len(line) > 1 and line[-1][0].text.isspace():
                line.pop()
            lines.append([u for t in line for u in t])
            line = carry
            room = rest
            continue
    if line or not lines:
        lines.append([u for t in line for u in t])
    return lines


# --- lines on the grid -------------------------------------------------------------------------


@dataclass
class Piece:
    """Units drawn from x on a line, in one size, spacing and colour."""

    x: float
    units: list[Unit]
    size: float
    space: float = 0.0
    colour: Color = black


@dataclass
class Line:
    """One line of the grid; `keep` keeps it on the page of the line after it."""

    pieces: list[Piece] = field(default_factory=list)
    keep: bool = False

    @property
    def blank(self) -> bool:
        """Return whether the line is empty (空一行)."""
        return not self.pieces

    @property
    def text(self) -> str:
        """Return the characters on the line."""
        return "".join(u.text for p in self.pieces for u in p.units)


def paragraph(segments: Iterable[tuple[str, str]], *, size: float = SIZE_3, space: float = BODY_SPACE,
              indent: float = 2 * CHAR, hang: float = 0.0, left: float = LEFT, right: float = RIGHT,
              justify: bool = True) -> list[Line]:
    """Set text (segments of (text, role)) as lines: the first indented, the others at `hang`, each
    but the last spread to fill the width (撑满版心)."""
    units = [u for text, role in segments for u in shape(text, role, size)]
    first, rest = right - left - indent, right - left - hang
    rows = wrap(units, first, rest, space)
    out = []
    for n, row in enumerate(rows):
        room = first if n == 0 else rest
        gap = space
        slack = room - extent(row, space)
        if justify and n < len(rows) - 1 and len(row) > 1 and 0 < slack < 3 * size:
            gap = space + slack / (len(row) - 1)
        out.append(Line([Piece(left + (indent if n == 0 else hang), row, size, gap)]))
    return out


def _placed(text: str, role: str, x: float, size: float = SIZE_3, space: float = BODY_SPACE,
            colour: Color = black) -> Piece:
    return Piece(x, shape(text, role, size), size, space, colour)


def _right(text: str, role: str, right: float, size: float = SIZE_3, space: float = BODY_SPACE) -> Piece:
    units = shape(text, role, size)
    return Piece(right - extent(units, space), units, size, space)


def _centred(text: str, role: str, size: float, space: float = 0.0, colour: Color = black,
             centre: float = LEFT + BOX_W / 2) -> Piece:
    units = shape(text, role, size)
    return Piece(centre - extent(units, space) / 2, units, size, space, colour)


def baseline(row: int, size: float) -> float:
    """Return the baseline of text of this size centred on grid line `row` (0 = the first)."""
    return BOX_TOP - row * PITCH - PITCH / 2 - EM_MIDDLE * size


# --- the parts of a document ------------------------------------------------------------------------


_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """Return 1..99 in Chinese numerals: 一, 十, 十一, 二十一."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def heading_number(level: int, n: int) -> str:
    """Return the number of the n-th heading of a level: 一、 （一） 1. （1）."""
    return {1: f"{chinese_number(n)}、", 2: f"（{chinese_number(n)}）", 3: f"{n}.", 4: f"（{n}）"}[level]


def body_lines(body: Iterable[str | Heading]) -> list[Line]:
    """Set the body: paragraphs in 仿宋, headings numbered and set in their level's face."""
    out: list[Line] = []
    counters = [0, 0, 0, 0]
    for block in body:
        if isinstance(block, Heading):
            counters[block.level - 1] += 1
            counters[block.level:] = [0] * (4 - block.level)
            title = block.title.strip()
            if not NUMBERED[block.level].match(title):
                title = heading_number(block.level, counters[block.level - 1]) + title
            segments = [(title, HEADING_ROLES[block.level])]
            if block.text.strip():
                segments.append((block.text.strip(), "fangsong"))
            lines = paragraph(segments)
            if not block.text.strip():
                lines[-1].keep = True  # a heading is not the last line of a page
            out += lines
        else:
            for text in block.split("\n"):
                if text.strip():
                    out += paragraph([(text.strip(), "fangsong")])
    return out


def title_rows(title: str, size: float = SIZE_2) -> list[str]:
    """Break the title into lines of at most the 版心's width, in a trapezoid or diamond (7.3.1).

    A title with line breaks ("\\n") keeps them. Otherwise the lines are balanced, never equal in
    length (a rectangle) nor short in the middle (an hourglass), and broken after punctuation or
    before 关于 where possible, never inside a number or the final kind of document (通知, 报告…).
    """
    font = fonts.font_name("song")
    given = [t.strip() for t in title.split("\n") if t.strip()]
    if len(given) > 1:
        return [row for t in given for row in _greedy(t, size)]
    title = given[0]
    widths = [_width(ch, font, size) for ch in title]
    total = sum(widths)
    if total <= BOX_W + 0.01:
        return [title]
    least = math.ceil(total / BOX_W)
    # One line more than the fewest possible is worth it when it keeps the words whole.
    options = [(cost + (count - least), rows) for count in range(least, min(least + 1, 3) + 1)
               for cost, rows in [_best_split(title, widths, count)] if rows]
    return min(options)[1] if options else _greedy(title, size)


def _greedy(text: str, size: float) -> list[str]:
    units = shape(text, "song", size)
    return ["".join(u.text for u in row) for row in wrap(units, BOX_W, BOX_W, 0.0)]


def _break_cost(title: str, at: int) -> float | None:
    """The cost of breaking the title before index `at`; None where it may not break."""
    before, after = title[at - 1], title[at]
    if after in NO_LINE_START or before in NO_LINE_END:
        return None
    if before.isascii() and after.isascii() and not before.isspace() and not after.isspace():
        return None
    kind = next((k for k in KINDS if title.endswith(k)), "")
    if kind and at > len(title) - len(kind):
        return None
    if before in "，、；：。”’）》」』】〕" or after in "“‘（《「『【〔":
        return 0.0
    if title.startswith("关于", at):
        return 0.0
    if kind and title.startswith("的", at) and at == len(title) - len(kind) - 1:
        return 2.0
    # Without a dictionary, a few words that often start or end a phrase of a title mark where a
    # break keeps words whole (词意完整); elsewhere a break may split a word. A "\n" in the title decides.
    if any(title.startswith(w, at) for w in _STARTS) or any(title.endswith(w, 0, at) for w in _ENDS):
        return 1.0
    return 4.0


_STARTS = ("的", "进一步", "加强", "开展", "做好", "印发", "转发", "专项", "应急", "有关", "实施", "工作", "情况")
_ENDS = ("关于", "的", "和", "及", "与", "暨", "事件", "事故", "情况", "工作", "问题", "期间", "活动")


def _best_split(title: str, widths: list[float], count: int) -> tuple[float, list[str] | None]:
    costs = {at: _break_cost(title, at) for at in range(1, len(title))}
    allowed = [at for at, c in costs.items() if c is not None]
    em = _width("中", fonts.font_name("song"), SIZE_2)
    best: tuple[float, list[str]] | None = None
    candidates: Iterable[tuple[int, ...]]
    if count == 2:
        candidates = ((a,) for a in allowed)
    else:
        candidates = ((a, b) for a in allowed for b in allowed if b > a)
    for cuts in candidates:
        bounds = (0, *cuts, len(title))
        lengths = [sum(widths[bounds[k]:bounds[k + 1]]) for k in range(count)]
        if max(lengths) > BOX_W + 0.01:
            continue
        chars = [n / em for n in lengths]
        cost = sum(costs[c] for c in cuts) + 0.25 * (max(chars) - min(chars))
        if max(chars) - min(chars) < 0.5:
            cost += 6  # a rectangle
        if count == 3 and chars[1] < chars[0] and chars[1] < chars[2]:
            cost += 20  # an hourglass
        if best is None or cost < best[0]:
            best = (cost, [title[bounds[k]:bounds[k + 1]] for k in range(count)])
    return best if best else (math.inf, None)


def _signature_lines(doc: OfficialDocument) -> list[Line]:
    """The 署名 and 成文日期 (7.3.5), and the 附注 under them (7.3.6)."""
    signature = shape(doc.signature, "fangsong", SIZE_3)
    day = shape(chinese_date(doc.date), "fangsong", SIZE_3)
    sig_w, day_w = extent(signature, BODY_SPACE), extent(day, BODY_SPACE)
    if doc.sealed:
        # The date 右空四字, the name centred over it; the seal will press on both (7.3.5.1).
        day_x = RIGHT - 4 * CHAR - day_w
        sig_x = min(day_x + day_w / 2 - sig_w / 2, RIGHT - sig_w)
        blank = 2  # the seal's top comes within one line of the text above it
    else:
        # The name 右空二字, the date two characters further right, or 右空二字 when it is longer (7.3.5.2).
        sig_x = RIGHT - 2 * CHAR - sig_w
        day_x = sig_x + 2 * CHAR
        if day_x + day_w > RIGHT - 2 * CHAR:
            day_x = RIGHT - 2 * CHAR - day_w
            sig_x = day_x - 2 * CHAR
        blank = 1
    out = [Line() for _ in range(blank)]
    out.append(Line([Piece(max(LEFT, sig_x), signature, SIZE_3, BODY_SPACE)]))
    out.append(Line([Piece(day_x, day, SIZE_3, BODY_SPACE)]))
    if doc.note and doc.note.strip():
        note = doc.note.strip()
        if not (note.startswith("（") and note.endswith("）")):
            note = f"（{note}）"
        out += paragraph([(note, "fangsong")])
    return out


def _attachment_lines(names: tuple[str, ...]) -> list[Line]:
    """The 附件说明 (7.3.4): under the body after a blank line, names aligned under the first."""
    out = [Line()]
    label = "附件："
    label_w = extent(shape(label, "fangsong", SIZE_3), BODY_SPACE) + BODY_SPACE
    start = 2 * CHAR + label_w
    for n, name in enumerate(names, 1):
        number = f"{n}." if len(names) > 1 else ""
        number_w = extent(shape(number, "fangsong", SIZE_3), BODY_SPACE) + BODY_SPACE if number else 0.0
        text = (label if n == 1 else "") + number + name.strip()
        lines = paragraph([(text, "fangsong")], indent=2 * CHAR if n == 1 else start, hang=start + number_w,
                          justify=False)
        out += lines
    return out


def _imprint_lines(doc: OfficialDocument, recipients_moved: bool) -> tuple[list[Line], int]:
    """The 版记 (7.4), in 4号 仿宋 one character in from each side; and the count of lines above
    the thin separator (主送 and 抄送)."""
    left, right = LEFT + SIZE_4, RIGHT - SIZE_4
    upper: list[Line] = []

    def listing(label: str, names: tuple[str, ...], sep: str) -> list[Line]:
        label_w = extent(shape(label, "fangsong", SIZE_4), 0.0)
        return paragraph([(label + sep.join(n.strip() for n in names) + "。", "fangsong")], size=SIZE_4, space=0.0,
                         indent=0.0, hang=label_w, left=left, right=right, justify=False)

    if recipients_moved:
        upper += listing("主送：", doc.main_recipients, "、")
    if doc.copy_to:
        upper += listing("抄送：", doc.copy_to, "，")
    printed = Line([_placed(doc.printed_by, "fangsong", left, SIZE_4, 0.0),
                    _right(chinese_date(doc.printed_on or doc.date) + "印发", "fangsong", right, SIZE_4, 0.0)])
    return upper + [printed], len(upper)


# --- pages --------------------------------------------------------------------------------------------


@dataclass
class Page:
    """One page: the lines on its grid, the header on the first, the 版记 on the last."""

    number: int
    lines: dict[int, Line] = field(default_factory=dict)
    numbered: bool = True  # a blank page, and the 版记 page after it, carry no page number (7.5)
    imprint: list[Line] = field(default_factory=list)
    imprint_upper: int = 0


@dataclass
class Header:
    """What sits above the title on the first page, with its grid positions."""

    marks: list[tuple[int, Piece]]  # 份号, 密级, 紧急程度 on the first lines
    mark: Piece  # 发文机关标志
    mark_baseline: float
    number_row: int
    number: list[Piece]  # 发文字号, and 签发人 for an upward document
    rule_y: float  # the red separator
    title_row: int


@dataclass
class Typeset:
    """A document laid out on pages, ready to draw."""

    doc: OfficialDocument
    header: Header
    pages: list[Page]
    recipients_moved: bool

    @property
    def page_count(self) -> int:
        """Return the number of pages, blank ones included."""
        return len(self.pages)


def _header(doc: OfficialDocument) -> Header:
    marks = []
    for text in (doc.copy_number, doc.classification, doc.urgency):
        if text and text.strip():
            marks.append((len(marks), _placed(text.strip(), "hei", LEFT)))
    song = fonts.font_name("song")
    mark_text = doc.mark.strip()
    size = min(MARK_MAX, BOX_W * 0.95 / (stringWidth(mark_text, song, 1) or 1))
    mark = _centred(mark_text, "song", size, colour=RED)
    mark_baseline = BOX_TOP - MARK_TOP - EM_TOP * size
    last_row = int((MARK_TOP + size) // PITCH)  # the grid line the mark's bottom edge falls on
    number_row = last_row + 3  # 下空二行 (7.2.5)
    if doc.upward:
        # 上行文: the number 居左空一字, 签发人 居右空一字 on the same line (7.2.5, 7.2.6).
        label = shape("签发人：", "fangsong", SIZE_3)
        name = shape(doc.signer.strip(), "kai", SIZE_3)
        name_x = RIGHT - CHAR - extent(name, BODY_SPACE)
        number = [_placed(doc.doc_number.strip(), "fangsong", LEFT + CHAR),
                  Piece(name_x - extent(label, BODY_SPACE) - BODY_SPACE, label, SIZE_3, BODY_SPACE),
                  Piece(name_x, name, SIZE_3, BODY_SPACE)]
    else:
        number = [_centred(doc.doc_number.strip(), "fangsong", SIZE_3, BODY_SPACE)]
    rule_y = baseline(number_row, SIZE_3) - EM_BOTTOM * SIZE_3 - RULE_BELOW_NUMBER
    rule_row = int((BOX_TOP - rule_y) // PITCH)
    return Header(marks, mark, mark_baseline, number_row, number, rule_y, rule_row + 3)  # 标题 下空二行 (7.3.1)


def typeset(doc: OfficialDocument, *, duplex: bool = True) -> Typeset:
    """Lay the document out on pages.

    With `duplex` (公文 are printed on both sides, 6.3) the 版记 goes on an even page, the back of
    the last sheet: a blank page is added where needed, and then neither it nor the 版记 page is
    numbered (7.5).
    """
    header = _header(doc)
    title = [Line([_centred(row, "song", SIZE_2)], keep=True) for row in title_rows(doc.title)]
    recipients: list[Line] = []
    if doc.main_recipients:
        names = "、".join(n.strip().rstrip("：:") for n in doc.main_recipients) + "："
        recipients = paragraph([(names, "fangsong")], indent=0.0, justify=False)
    body = body_lines(doc.body)
    # 公文首页必须显示正文: recipients that would push the body off the first page go to the 版记 (7.3.2).
    moved = bool(recipients) and header.title_row + len(title) + 1 + len(recipients) >= LINES
    flow: list[Line] = [*title, Line(keep=True)]
    if recipients and not moved:
        for line in recipients:
            line.keep = True
        flow += recipients
    tail = (_attachment_lines(doc.attachments) if doc.attachments else []) + _signature_lines(doc)
    # The signature and date share a page with the body's last line (印章与正文同处一面).
    body[-1].keep = True
    for line in tail[:-1]:
        line.keep = True
    flow += body + tail

    pages = [Page(1)]
    row = header.title_row
    group: list[Line] = []
    for line in flow:
        group.append(line)
        if line.keep:
            continue
        start = header.title_row if len(pages) == 1 else 0
        if row + len(group) > LINES and row > start and len(group) <= LINES:
            pages.append(Page(len(pages) + 1))
            row = 0
        for item in group:
            if row >= LINES:
                pages.append(Page(len(pages) + 1))
                row = 0
            if row == 0 and item.blank:
                continue  # no page opens with an empty line
            pages[-1].lines[row] = item
            row += 1
        group = []

    imprint, upper = _imprint_lines(doc, moved)
    need = len(imprint)
    if row > LINES - need - 1 or (duplex and len(pages) % 2):
        blank = False
        pages.append(Page(len(pages) + 1))
        if duplex and len(pages) % 2:
            pages[-1].numbered = False
            pages.append(Page(len(pages) + 1))
            blank = True
        pages[-1].numbered = not blank
    pages[-1].imprint, pages[-1].imprint_upper = imprint, upper
    return Typeset(doc, header, pages, moved)


# --- drawing ---------------------------------------------------------------------------------------------


def _draw(c: Canvas, piece: Piece, y: float) -> None:
    if not piece.units:
        return
    text = c.beginText(piece.x, y)
    text.setCharSpace(piece.space)
    text.setFillColor(piece.colour)
    font, run = piece.units[0].font, ""
    for u in piece.units:
        if u.font != font:
            text.setFont(font, piece.size)
            text.textOut(run)
            font, run = u.font, ""
        run += u.text
    text.setFont(font, piece.size)
    text.textOut(run)
    c.drawText(text)


def _rule(c: Canvas, y: float, width: float, colour: Color = black) -> None:
    c.setStrokeColor(colour)
    c.setLineWidth(width)
    c.line(LEFT, y, RIGHT, y)


def _draw_header(c: Canvas, header: Header) -> None:
    for row, piece in header.marks:
        _draw(c, piece, baseline(row, SIZE_3))
    _draw(c, header.mark, header.mark_baseline)
    for piece in header.number:
        _draw(c, piece, baseline(header.number_row, SIZE_3))
    _rule(c, header.rule_y, RED_RULE, RED)


def _draw_imprint(c: Canvas, page: Page) -> None:
    first = LINES - len(page.imprint)
    for n, line in enumerate(page.imprint):
        for piece in line.pieces:
            _draw(c, piece, baseline(first + n, SIZE_4))
    _rule(c, BOX_TOP - first * PITCH, THICK)
    if page.imprint_upper:
        _rule(c, BOX_TOP - (first + page.imprint_upper) * PITCH, THIN)
    _rule(c, BOX_BOTTOM, THICK)


def page_number_text(number: int) -> str:
    """Return a page number as printed: — 1 —."""
    return f"— {number} —"


def _draw_page_number(c: Canvas, number: int) -> None:
    # 4号半角宋体, the dashes 7 mm under the 版心; odd pages 居右空一字, even ones 居左空一字 (7.5).
    units = shape(page_number_text(number), "song", SIZE_4)
    width = extent(units, 0.0)
    x = RIGHT - SIZE_4 - width if number % 2 else LEFT + SIZE_4
    _draw(c, Piece(x, units, SIZE_4), BOX_BOTTOM - PAGE_NUMBER_DROP - EM_MIDDLE * SIZE_4)


def draw(layout: Typeset) -> bytes:
    """Draw the laid-out pages and return the PDF."""
    doc = layout.doc
    out = io.BytesIO()
    # The initial font is one that gets embedded: left at its default, every page would name Helvetica.
    c = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=fonts.font_name("fangsong"),
               initialFontSize=SIZE_3)
    c.setTitle(doc.title.replace("\n", ""))
    c.setAuthor(doc.issuer)
    c.setSubject(doc.doc_number)
    c.setCreator("Yingji 应急指挥")
    for page in layout.pages:
        if page.number == 1:
            _draw_header(c, layout.header)
        for row, line in sorted(page.lines.items()):
            for piece in line.pieces:
                _draw(c, piece, baseline(row, piece.size))
        if page.imprint:
            _draw_imprint(c, page)
        if page.numbered:
            _draw_page_number(c, page.number)
        c.showPage()
    c.save()
    return out.getvalue()


def render_with_pages(doc: OfficialDocument, *, duplex: bool = True) -> tuple[bytes, int]:
    """Render the document as a PDF and return it with its page count."""
    layout = typeset(doc, duplex=duplex)
    return draw(layout), layout.page_count


def render(doc: OfficialDocument, *, duplex: bool = True) -> bytes:
    """Render the document as a GB/T 9704-2012 PDF."""
    return render_with_pages(doc, duplex=duplex)[0]
