"""Official documents (公文) come out in the layout of GB/T 9704-2012, as a reader's tools see them.

The PDF checks use poppler-utils (`make poppler`): pdffonts for the embedding, pdftotext for the
text and its order, pdfinfo for the paper, pdftoppm for where the ink is and what colour it has.
The layout checks read the typeset pages directly.
"""
from __future__ import annotations

import io
import logging
import re
import subprocess
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from reports import samples
from reports.official_document import Heading, OfficialDocument, chinese_date, fonts, render, render_with_pages
from reports.official_document import typesetting as ts
from tests.conftest import IN_CI
from tests.test_reports_pdf import need_poppler

MM = 72 / 25.4  # points in a millimetre


def need_fonts() -> None:
    """Fail under CI, skip elsewhere, when the Debian fonts of the roles are missing (make fonts)."""
    missing = [r for r, f in fonts.role_fonts().items() if f.fallback]
    if missing:
        message = f"no Debian font for {', '.join(missing)} (make fonts)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def run(args: list[str], data: bytes) -> str:
    need_poppler()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run([*args, str(path), *(["-"] if args[0] == "pdftotext" else [])], capture_output=True,
                              check=True).stdout.decode("utf-8")


def page_image(data: bytes, page: int, dpi: int = 50) -> Image.Image:
    """Return one page as pdftoppm renders it to PNG."""
    need_poppler()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", str(path),
                        str(Path(tmp) / "page")], check=True)
        raw = next(Path(tmp).glob("page-*.png")).read_bytes()
    return Image.open(io.BytesIO(raw)).convert("RGB")


def ink(image: Image.Image, box_mm: tuple[float, float, float, float], dpi: int = 50) -> list[tuple[int, ...]]:
    """Return the non-white pixels (x, y, r, g, b) inside a box given in millimetres from the top left."""
    scale = dpi / 25.4
    left, top, right, bottom = (round(v * scale) for v in box_mm)
    pixels = image.load()
    out = []
    for y in range(max(0, top), min(image.height, bottom)):
        for x in range(max(0, left), min(image.width, right)):
            r, g, b = pixels[x, y]
            if min(r, g, b) < 200:
                out.append((x, y, r, g, b))
    return out


def bbox_mm(points, dpi: int = 50) -> tuple[float, float, float, float]:
    """Return the bounding box of pixels, in millimetres: left, top, right, bottom."""
    scale = 25.4 / dpi
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) * scale, min(ys) * scale, (max(xs) + 1) * scale, (max(ys) + 1) * scale


@pytest.fixture(scope="module")
def sample():
    doc = samples.official_document(sections=5, paragraphs=4)
    data, pages = render_with_pages(doc)
    return doc, data, pages


def test_every_font_is_embedded_as_a_subset(sample):
    need_fonts()
    _, data, _ = sample
    rows = run(["pdffonts"], data).splitlines()[2:]
    assert rows
    names = set()
    for row in rows:
        cols = row.split()
        emb, sub = cols[-5], cols[-4]
        assert emb == "yes" and sub == "yes", row
        assert re.match(r"^[A-Z]{6}\+", cols[0]), row
        assert "TrueType" in row
        names.add(cols[0].split("+")[1])
    # 宋/仿宋 (UMing), 楷 (UKai: the 签发人 and the second-level headings), 黑 (Zen Hei: 特急 and 一、).
    assert {"UMingCN-0", "UKaiCN-0", "WenQuanYiZenHei-0"} <= names, names


def test_the_text_reads_in_the_order_of_the_standard(sample):
    need_fonts()
    doc, data, pages = sample
    layout = run(["pdftotext", "-layout", "-enc", "UTF-8"], data)
    text = re.sub(r"\s+", "", layout)
    expected = ["特急", "中牟县市场监督管理局文件", "中市监〔2026〕12号", "签发人：张三",
                "中牟县市场监督管理局关于某学校食堂疑似食物中毒事件应急处置情况的报告",
                "郑州市市场监督管理局、中牟县人民政府：", "一、事件基本情况", "2026年11月20日9时，第1部分：接报后",
                "（一）加强组织领导。成立由局长任组长的应急处置工作领导小组", "（二）开展现场调查", "1.封存可疑食品。",
                "（1）流行病学调查。", "二、应急处置情况", "五、下一步工作打算", "附件：1.某学校食堂疑似食物中毒事件处置时间线",
                "2.抽样检验结果汇总表", "中牟县市场监督管理局2026年12月7日", "（联系人：王五，电话：0371-62171234）",
                "抄送：县卫生健康委员会，县教育局，城关镇人民政府。", "中牟县市场监督管理局办公室2026年12月7日印发"]
    at = 0
    for phrase in expected:
        found = text.find(phrase, at)
        assert found >= 0, f"{phrase!r} missing or out of order"
        at = found + len(phrase)
    # The document number and 签发人 share a line, the number on the left (上行文).
    assert re.search(r"中市监〔2026〕12号\s+签发人：张三", layout)
    # Every page but the 版记 page after a blank one carries its number, continuing across pages.
    sheets = layout.split("\f")[:pages]
    layout_pages = ts.typeset(doc).pages
    assert len(layout_pages) == pages >= 5
    for number, (sheet, page) in enumerate(zip(sheets, layout_pages), 1):
        if page.numbered:
            assert f"— {number} —" in sheet, number
        else:
            assert "—" not in sheet


def test_the_paper_is_a4_and_the_page_count_is_reported(sample):
    _, data, pages = sample
    info = run(["pdfinfo"], data)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts \(A4\)", info)
    assert size, info
    assert abs(float(size.group(1)) - 595.28) < 0.01 and abs(float(size.group(2)) - 841.89) < 0.01
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) == pages


def test_the_issuer_mark_is_red_and_the_body_black(sample):
    _, data, _ = sample
    page = page_image(data, 1)
    # The mark's top edge is 35 mm below the 版心's (37 mm from the top of the paper).
    mark = ink(page, (28, 37 + 33, 184, 37 + 52))
    assert len(mark) > 200
    red = [p for p in mark if reddish(p)]
    assert len(red) / len(mark) > 0.95
    assert 37 + 34 <= bbox_mm(red)[1] <= 37 + 37  # top edge
    body = ink(page, (28, 200, 184, 262))
    assert body and sum(1 for p in body if reddish(p)) / len(body) < 0.01


def reddish(pixel) -> bool:
    """Whether a pixel is red, or a lighter shade of red where the edge of a glyph is smoothed."""
    r, g, b = pixel[2:]
    return r >= 150 and g < 0.8 * r and b < 0.8 * r


def test_the_text_stays_inside_the_type_area(sample):
    doc, data, pages = sample
    layout = ts.typeset(doc).pages
    last_text = max(p.number for p in layout if p.lines)
    for number in (1, 2, last_text):
        page = page_image(data, number)
        # Everything but the page number lies in the 版心: 28 mm from the left, 37 mm from the top, 156 × 225 mm.
        points = ink(page, (0, 0, 210, 37 + 225 + 2))
        left, top, right, bottom = bbox_mm(points)
        assert 27 <= left <= 29.5, (number, left)
        assert 37 <= top <= 41, (number, top)
        assert right <= 28 + 156 + 0.6, (number, right)
        assert bottom <= 37 + 225 + 0.6, (number, bottom)
        assert not ink(page, (0, 0, 210, 36)) and not ink(page, (0, 0, 27, 297))
    for page in layout:
        if not page.lines and not page.imprint:  # a blank page before the 版记 is blank indeed
            assert not ink(page_image(data, page.number), (0, 0, 210, 297))
    # A full body page runs to the right edge of the 版心 (撑满版心).
    assert bbox_mm(ink(page_image(data, 2), (0, 0, 210, 262)))[2] >= 28 + 156 - 1.5


def test_page_numbers_alternate_right_and_left(sample):
    _, data, _ = sample
    for number in (1, 2, 3):
        zone = ink(page_image(data, number), (0, 37 + 225 + 2, 210, 297))
        left, top, right, bottom = bbox_mm(zone)
        # 4号 digits between dashes, the dashes 7 mm under the 版心, one 4号 character (4.9 mm) from its edge.
        assert 37 + 225 + 4 <= top and bottom <= 37 + 225 + 11, (number, top, bottom)
        if number % 2:
            assert abs(right - (28 + 156 - 4.94)) < 1.2 and left > 105, (number, left, right)
        else:
            assert abs(left - (28 + 4.94)) < 1.2 and right < 105, (number, left, right)


def test_a_body_page_has_22_lines_of_28_characters(sample):
    doc, data, _ = sample
    layout = ts.typeset(doc)
    assert max(len(p.lines) for p in layout.pages[1:-1]) == ts.LINES == 22
    # A line of a paragraph that goes on is 28 characters of CJK text wide, spread to the edges.
    lines = [line for p in layout.pages for line in p.lines.values() if line.pieces]
    widths = {len(line.text) for line in lines if re.fullmatch(r"[\u4e00-\u9fff，、。：；]+", line.text)
              and abs(line.pieces[0].x - ts.LEFT) < 0.1}
    assert 28 in widths and max(widths) == 28
    # And so a reader's tool sees it.
    rows = [row for row in run(["pdftotext", "-enc", "UTF-8"], data).splitlines()
            if re.fullmatch(r"[\u4e00-\u9fff，、。：；]+", row)]
    assert 28 in {len(row) for row in rows} and max(len(row) for row in rows) <= 28


def test_a_character_no_font_has_is_written_as_its_code_point_and_others_borrow_a_font():
    doc = replace(samples.official_document(1, 1), body=("现场照片 😀 已上传，生僻字㐀照录。",))
    data = render(doc)
    text = run(["pdftotext", "-enc", "UTF-8"], data)
    assert "[U+1F600]" in text and "😀" not in text
    # 㐀 is not in the 仿宋 stand-in (UMing) but is in Zen Hei, which draws it.
    assert "㐀" in text
    need_fonts()
    assert 0x3400 not in fonts.role_fonts()["fangsong"].face.codepoints
    assert [f for f, piece in fonts.runs("字㐀字", "fangsong")] == [
        fonts.font_name("fangsong"), fonts.font_name("hei"), fonts.font_name("fangsong")]


def test_a_missing_role_font_falls_back_to_the_shipped_font(monkeypatch, caplog):
    monkeypatch.setitem(fonts.CANDIDATES, "kai", (("/nonexistent/ukai.ttc", 0, "fonts-arphic-ukai"),))
    fonts.reset()
    try:
        with caplog.at_level(logging.WARNING, logger=fonts.__name__):
            chosen = fonts.role_fonts()
        assert chosen["kai"].fallback and chosen["kai"].face.package == "shipped"
        assert "kai" in caplog.text and "make fonts" in caplog.text
        data = render(samples.official_document(1, 1))
        assert "签发人：张三" in re.sub(r"\s+", "", run(["pdftotext", "-enc", "UTF-8"], data))
    finally:
        monkeypatch.undo()
        fonts.reset()


def test_a_role_font_can_be_named_in_the_environment(monkeypatch):
    from reports import fonts as shipped

    monkeypatch.setenv("YINGJI_FONT_HEI", f"{shipped.FONT_FILE}#0")
    fonts.reset()
    try:
        assert fonts.role_fonts()["hei"].face.package == "YINGJI_FONT_HEI"
    finally:
        monkeypatch.undo()
        fonts.reset()


def test_the_fonts_are_registered_once():
    first = fonts.role_fonts()
    assert fonts.role_fonts() == first
    assert set(first) == {"song", "fangsong", "kai", "hei"}


# --- layout --------------------------------------------------------------------------------------------


def _doc(**changes) -> OfficialDocument:
    base = OfficialDocument(issuer="中牟县市场监督管理局", doc_number="中市监〔2026〕3号", title="关于开展专项检查的通知",
                            main_recipients=["各市场监督管理所"], body=["请按要求开展检查。"], date=date(2026, 12, 7))
    return replace(base, **changes)


def test_the_date_is_written_in_arabic_numerals_without_leading_zeros():
    assert chinese_date(date(2026, 1, 5)) == "2026年1月5日"
    assert chinese_date(date(2026, 12, 7)) == "2026年12月7日"


def test_headings_are_numbered_by_level_and_set_in_their_faces():
    lines = ts.body_lines([Heading("总体要求"), Heading("工作目标", 2), Heading("任务", 2), Heading("检查", 3),
                           Heading("抽检", 4), Heading("保障措施"), Heading("组织", 2, "成立专班。"),
                           Heading("三、已有编号的标题")])
    texts = [line.text for line in lines]
    assert texts == ["一、总体要求", "（一）工作目标", "（二）任务", "1.检查", "（1）抽检", "二、保障措施", "（一）组织成立专班。",
                     "三、已有编号的标题"]
    faces = [line.pieces[0].units[0].font for line in lines]
    assert faces[0] == fonts.font_name("hei") and faces[1] == fonts.font_name("kai")
    assert faces[3] == faces[4] == fonts.font_name("fangsong")
    # The run-in text after a heading is in the body face, the heading's own words in its level's face.
    run_in = lines[6].pieces[0].units
    assert run_in[0].font == fonts.font_name("kai") and run_in[-1].font == fonts.font_name("fangsong")
    # Every paragraph opens two characters in; a heading with nothing after it keeps with the next line.
    assert all(abs(line.pieces[0].x - (ts.LEFT + 2 * ts.CHAR)) < 0.01 for line in lines)
    assert lines[0].keep and not lines[6].keep
    assert ts.chinese_number(11) == "十一" and ts.chinese_number(21) == "二十一" and ts.chinese_number(10) == "十"


def test_a_long_title_is_a_trapezoid_or_diamond_never_a_rectangle_or_hourglass():
    for title in ("中牟县市场监督管理局关于进一步加强节日期间食品安全应急处置工作的通知",
                  "中牟县市场监督管理局关于某学校食堂疑似食物中毒事件应急处置情况的报告",
                  "中牟县市场监督管理局关于转发郑州市市场监督管理局关于做好元旦春节期间食品安全监督检查工作的通知的通知",
                  "关于印发中牟县市场监管突发事件应急预案的通知"):
        rows = ts.title_rows(title)
        assert "".join(rows) == title and len(rows) > 1
        lengths = [len(r) for r in rows]
        assert max(lengths) <= 20  # 2号 characters in 156 mm
        assert len(set(lengths)) > 1, rows
        if len(rows) == 3:
            assert not (lengths[1] < lengths[0] and lengths[1] < lengths[2]), rows
        assert not rows[-1].startswith(("知", "告")) and "通\n知" not in "\n".join(rows)
    assert ts.title_rows("关于开展专项检查的通知") == ["关于开展专项检查的通知"]
    assert ts.title_rows("中牟县市场监督管理局关于某学校食堂\n疑似食物中毒事件应急处置情况的报告") == [
        "中牟县市场监督管理局关于某学校食堂", "疑似食物中毒事件应急处置情况的报告"]


def test_the_header_follows_the_standard_distances():
    layout = ts.typeset(_doc(urgency="加急", classification="秘密★1年", copy_number="000012"))
    header = layout.header
    assert [piece.units[0].text for _, piece in header.marks] == ["0", "秘", "加"]  # 份号, 密级, 紧急程度, top down
    mark = header.mark
    assert mark.colour == ts.RED
    assert abs(header.mark_baseline + ts.EM_TOP * mark.size - (ts.BOX_TOP - 35 * MM)) < 0.01
    width = ts.extent(mark.units, 0)
    assert abs(mark.x + width / 2 - (ts.LEFT + ts.BOX_W / 2)) < 0.01 and width <= ts.BOX_W
    # A downward document centres its number; the red rule is 4 mm under it; the title two lines under that.
    number = header.number[0]
    assert len(header.number) == 1
    assert abs(number.x + ts.extent(number.units, number.space) / 2 - (ts.LEFT + ts.BOX_W / 2)) < 0.01
    assert abs(ts.baseline(header.number_row, 16) - ts.EM_BOTTOM * 16 - header.rule_y - 4 * MM) < 0.01
    assert header.title_row - int((ts.BOX_TOP - header.rule_y) // ts.PITCH) == 3
    first = layout.pages[0].lines
    assert first[header.title_row].text == "关于开展专项检查的通知"
    assert first[header.title_row + 1].blank and first[header.title_row + 2].text == "各市场监督管理所："


def test_an_upward_document_puts_the_number_left_and_the_signer_right():
    header = ts.typeset(_doc(signer="张三")).header
    number, label, name = header.number
    assert abs(number.x - (ts.LEFT + ts.CHAR)) < 0.01
    assert abs(name.x + ts.extent(name.units, name.space) - (ts.RIGHT - ts.CHAR)) < 0.01
    assert "".join(u.text for u in label.units) == "签发人：" and label.units[0].font == fonts.font_name("fangsong")
    assert name.units[0].font == fonts.font_name("kai")


def _signature(layout: ts.Typeset):
    lines = [line for p in layout.pages for _, line in sorted(p.lines.items())]
    at = next(n for n, line in enumerate(lines) if line.text == "2026年12月7日")
    return lines[at - 1].pieces[0], lines[at].pieces[0], lines[:at - 1]


def test_a_sealed_document_dates_four_characters_from_the_right_with_the_name_centred_above():
    signature, day, before = _signature(ts.typeset(_doc()))
    day_right = day.x + ts.extent(day.units, day.space)
    assert abs(day_right - (ts.RIGHT - 4 * ts.CHAR)) < 0.01
    centre = lambda p: p.x + ts.extent(p.units, p.space) / 2  # noqa: E731
    assert abs(centre(signature) - centre(day)) < 0.01
    assert before[-1].blank and before[-2].blank and not before[-3].blank  # room for the seal


def test_an_unsealed_document_signs_two_characters_from_the_right():
    signature, day, before = _signature(ts.typeset(_doc(sealed=False, issuer="中牟县市场监督管理局城关市场监督管理所")))
    assert abs(signature.x + ts.extent(signature.units, signature.space) - (ts.RIGHT - 2 * ts.CHAR)) < 0.01
    assert abs(day.x - (signature.x + 2 * ts.CHAR)) < 0.01
    assert before[-1].blank and not before[-2].blank
    # A date longer than the name goes 右空二字 and the name moves left to stay two characters before it.
    signature, day, _ = _signature(ts.typeset(_doc(sealed=False, issuer="县局")))
    assert abs(day.x + ts.extent(day.units, day.space) - (ts.RIGHT - 2 * ts.CHAR)) < 0.01
    assert abs(day.x - (signature.x + 2 * ts.CHAR)) < 0.01


def test_the_imprint_sits_at_the_foot_of_an_even_last_page():
    for paragraphs in range(1, 40, 3):
        layout = ts.typeset(_doc(body=["请按要求开展检查，做好记录。" * 6] * paragraphs, copy_to=["县卫生健康委员会"]))
        last = layout.pages[-1]
        assert last.imprint and all(not p.imprint for p in layout.pages[:-1])
        assert last.number % 2 == 0, paragraphs
        texts = [line.text for line in last.imprint]
        assert texts == ["抄送：县卫生健康委员会。", "中牟县市场监督管理局2026年12月7日印发"]
        assert max(last.lines, default=-1) < ts.LINES - len(last.imprint) - 1
        blank = [p for p in layout.pages if not p.lines and not p.imprint]
        for page in blank:  # a blank page before the 版记, and the 版记 page, carry no number
            assert not page.numbered and not last.numbered
        if not blank:
            assert all(p.numbered for p in layout.pages)
    single = ts.typeset(_doc(), duplex=False)
    assert len(single.pages) == 1 and single.pages[0].imprint


def test_a_blank_page_before_the_imprint_happens_and_is_unnumbered():
    found = False
    for paragraphs in range(1, 80):
        layout = ts.typeset(_doc(body=["请按要求开展检查，做好记录。" * 4] * paragraphs))
        if any(not p.lines and not p.imprint for p in layout.pages):
            assert [p.numbered for p in layout.pages[-2:]] == [False, False]
            found = True
            break
    assert found


def test_recipients_that_would_push_the_body_off_the_first_page_go_to_the_imprint():
    many = [f"第{n}市场监督管理所（城关镇、韩寺镇、官渡镇联合执法检查组）" for n in range(1, 13)]
    layout = ts.typeset(_doc(main_recipients=many, copy_to=["县教育局"]))
    assert layout.recipients_moved
    first = layout.pages[0]
    assert any(line.text == "请按要求开展检查。" for line in first.lines.values())
    texts = [line.text for line in layout.pages[-1].imprint]
    assert texts[0].startswith("主送：第1市场监督管理所") and any(t.startswith("抄送：县教育局") for t in texts)
    assert layout.pages[-1].imprint_upper == len(texts) - 1


def test_the_signature_never_sits_alone_on_a_page():
    for paragraphs in range(1, 60):
        layout = ts.typeset(_doc(body=["请按要求开展检查，做好记录。" * 4] * paragraphs))
        for page in layout.pages:
            texts = [line.text for _, line in sorted(page.lines.items()) if not line.blank]
            if "2026年12月7日" in texts:
                assert texts.index("2026年12月7日") >= 2, paragraphs  # a body line, the name, the date
                assert texts[0] != "中牟县市场监督管理局"


def test_the_document_needs_a_title_and_a_body():
    with pytest.raises(ValueError):
        _doc(title=" ")
    with pytest.raises(ValueError):
        _doc(body=[""])
    with pytest.raises(ValueError):
        Heading("标题", 5)
    assert _doc(main_recipients=["甲", "乙"]).main_recipients == ("甲", "乙")


def test_a_short_downward_notice_fills_one_sheet_with_the_imprint_on_its_back():
    data, pages = render_with_pages(_doc(attachments=["检查表"], copy_to=["县教育局"]))
    assert pages == 2
    text = re.sub(r"\s+", "", run(["pdftotext", "-enc", "UTF-8"], data))
    for phrase in ("中牟县市场监督管理局", "中市监〔2026〕3号", "关于开展专项检查的通知", "各市场监督管理所：", "请按要求开展检查。",
                   "附件：检查表", "2026年12月7日", "—1—", "抄送：县教育局。", "2026年12月7日印发", "—2—"):
        assert phrase in text, phrase
    assert "签发人" not in text
