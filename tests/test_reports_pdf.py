"""Every briefing renders as a proper Chinese PDF: embedded CJK font, text that extracts, pages with ink.

The checks use Debian's poppler-utils (`make poppler` installs them): pdftotext for the text,
pdffonts for the embedding, pdftoppm for the pages as images. The helpers here are shared by
the other report tests.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from reports import fonts, render, samples
from tests.conftest import IN_CI

POPPLER = ("pdftotext", "pdffonts", "pdftoppm")


def need_poppler() -> None:
    """Fail under CI, skip elsewhere, when poppler-utils are missing."""
    missing = [t for t in POPPLER if shutil.which(t) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (make poppler)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _run(args: list[str], data: bytes) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run([*args, str(path)], capture_output=True, check=True, cwd=tmp)


def pdf_text(data: bytes) -> str:
    """Return the PDF's text as pdftotext extracts it, spaces squeezed."""
    need_poppler()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return re.sub(r"[ \t]+", " ", out.stdout.decode("utf-8"))


def flat(text: str) -> str:
    """Return text without any white space, for phrases that a table cell may wrap."""
    return re.sub(r"\s+", "", text)


@dataclass
class Font:
    """One row of pdffonts."""

    name: str
    type: str
    embedded: bool
    unicode: bool


def pdf_fonts(data: bytes) -> list[Font]:
    """Return the fonts the PDF uses, as pdffonts lists them."""
    need_poppler()
    lines = _run(["pdffonts"], data).stdout.decode().splitlines()[2:]
    out = []
    for line in lines:
        cols = line.split()
        # name type [type word 2] encoding emb sub uni object ID
        emb, _sub, uni = cols[-5], cols[-4], cols[-3]
        out.append(Font(cols[0], " ".join(cols[1:-6]), emb == "yes", uni == "yes"))
    return out


def page_ink(data: bytes, dpi: int = 24) -> list[float]:
    """Return, per page, the share of pixels that are not white (pdftoppm -gray, read as PGM)."""
    need_poppler()
    shares = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(path), str(Path(tmp) / "page")], check=True)
        for page in sorted(Path(tmp).glob("page-*.pgm")):
            shares.append(_pgm_ink(page.read_bytes()))
    return shares


def _pgm_ink(raw: bytes) -> float:
    # Binary PGM: "P5", width, height, maxval, each separated by white space, then one byte a pixel.
    fields, pos = [], 0
    while len(fields) < 4:
        while raw[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not raw[pos:pos + 1].isspace():
            pos += 1
        fields.append(raw[start:pos])
    pixels = raw[pos + 1:]
    assert fields[0] == b"P5", fields
    width, height = int(fields[1]), int(fields[2])
    assert len(pixels) >= width * height
    return sum(1 for b in pixels[: width * height] if b < 200) / (width * height)


def page_colours(data: bytes, page: int = 1, dpi: int = 30) -> set[tuple[int, int, int]]:
    """Return the colours of a page rendered as PPM (pdftoppm), rounded to steps of 16."""
    need_poppler()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-r", str(dpi), str(path),
                        str(Path(tmp) / "page")], check=True)
        raw = next(Path(tmp).glob("page-*.ppm")).read_bytes()
    header = raw.split(maxsplit=4)
    assert header[0] == b"P6"
    width, height = int(header[1]), int(header[2])
    pixels = raw[len(raw) - width * height * 3:]
    return {(pixels[i] // 16, pixels[i + 1] // 16, pixels[i + 2] // 16) for i in range(0, len(pixels), 3)}


def texts_of(value) -> list[str]:
    """Return every string inside a document snapshot."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in texts_of(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in texts_of(v)]
    return []


def check_pdf(data: bytes, pages: int, *, expect: list[str]) -> str:
    """Check a rendered briefing the way a reader would need it; return its text."""
    assert data.startswith(b"%PDF-")
    used = pdf_fonts(data)
    assert used, "no font in the PDF"
    for font in used:
        # Only the CJK TrueType font, embedded (as a subset) with a Unicode map: it shows and extracts anywhere.
        assert font.embedded and font.unicode, font
        assert fonts.FONT_NAME in font.name and font.type == "TrueType", font
    text = pdf_text(data)
    squeezed = flat(text)
    for phrase in expect:
        assert flat(phrase) in squeezed, phrase
    assert f"第1页共{pages}页" in squeezed and f"第{pages}页共{pages}页" in squeezed
    ink = page_ink(data)
    assert len(ink) == pages
    for n, share in enumerate(ink, 1):
        assert share > 0.01, f"page {n} is blank ({share:.4f})"
    return text


def check_glyphs(doc: dict) -> None:
    """Fail if any character of the document would fall back to an empty box."""
    missing = {ch for s in texts_of(doc) for ch in fonts.missing(fonts.drawable(s))}
    assert not missing, missing
    assert not {ch for s in texts_of(doc) for ch in fonts.missing(s)}, "the sample needs no replacement"


# --- the font ------------------------------------------------------------------------------------


def test_the_font_ships_with_the_project_with_its_licence():
    assert fonts.FONT_FILE.is_file()
    size = fonts.FONT_FILE.stat().st_size
    assert 4_000_000 < size < 6_000_000, size  # WenQuanYi Micro Hei: all GBK ideographs in ~5 MB
    licence = (fonts.FONT_DIR / "LICENSE-Apache-2.0.txt").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    readme = (fonts.FONT_DIR / "README.md").read_text()
    assert "WenQuanYi" in readme and "Apache" in readme


def test_the_font_draws_everything_the_plan_and_the_briefings_write():
    from incidents.plan import DEFAULT_PLAN_FILE

    plan_text = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
    chinese_lines = "".join(line for line in plan_text.splitlines() if re.search(r"[\u4e00-\u9fff]", line))
    assert fonts.missing(chinese_lines) == []
    assert fonts.missing("ⅠⅡⅢⅣ级 第 1 页 共 9 页 （北京时间）：；、。“”《》【】—…·→└　％℃") == []
    # The briefings' own words: every name in the labels module, and the closing report's sections.
    import reports.render as rendering
    from incidents.kernel import labels

    names = [v for v in vars(labels).values() if isinstance(v, dict)]
    assert len(names) > 20
    words = "".join(texts_of([*names, rendering.CLOSING_SECTIONS]))
    assert fonts.missing(words) == []


def test_a_character_the_font_lacks_is_written_as_its_code_point_not_a_box():
    assert fonts.missing("报告😀𠀀") == ["😀", "𠀀"]
    assert fonts.drawable("报告😀𠀀") == "报告[U+1F600][U+20000]"
    doc = samples.incident_doc(5)
    doc["reports"][0]["body"] = "现场照片已上传 😀 𠀀"
    data, pages = render.render(doc)
    text = pdf_text(data)
    assert "[U+1F600]" in text and "[U+20000]" in text
    assert "😀" not in text


# --- each document -----------------------------------------------------------------------------


COMMON = ["中牟县市场监督管理局", "内部资料", "注意保管", "生成时间：2026-11-20 17:00（北京时间）"]
EXPECT = {
    "incident": ["事件简报", "YJ2026-00001", "某学校食堂疑似食物中毒", "Ⅱ级 重大", "事件基本情况", "信息来源", "县医院急诊科电话报告",
                 "报告与处置时限", "迟报 16分钟", "超时未报", "时限完成情况图", "任务派发与办理", "已采取的措施", "升级通知记录",
                 "任务A12：24小时内派出工作组", "+86138****0001", "无人接听", "处置时间线", "第200条处置进展"],
    "daily": ["每日汇总", "2026-11-20", "在办事件 6 起", "Ⅰ级2起", "当日迟报漏报", "当日动态", "某商场电梯伤人事故"],
    "closing": ["应急处置工作总结", "事件发生的原因", "皂素中毒", "处置经过", "善后处置情况", "经验教训", "改进工作的要求和建议",
                "开展校园食堂专项检查", "组长刘一", "附件：事件完整记录", "处置时间线"],
    "accountability": ["迟报漏报情况表", "2026-01-01 至 2026-11-20", "迟报漏报明细", "各单位时限完成情况图", "45分钟", "2天3小时",
                       "漏报（超时未报）", "YJ2026-00001", "不作为情况", "超时未完成", "指挥部不同意", "未签收",
                       "未启动响应即关闭的事件", "决定不启动响应", "YJ2026-00012"],
}


@pytest.mark.parametrize("kind", sorted(EXPECT))
def test_every_document_renders_chinese_that_shows_and_extracts(kind):
    doc = samples.all_docs()[kind]
    check_glyphs(doc)
    data, pages = render.render(doc, "简报编号 B000042")
    assert pages >= 1
    check_pdf(data, pages, expect=COMMON + EXPECT[kind] + ["简报编号 B000042"])


def test_the_level_has_its_national_warning_colour():
    # Ⅰ red, Ⅱ orange, Ⅲ yellow, Ⅳ blue, on the first page next to the title.
    expected = {"I": (0xC6, 0x28, 0x28), "II": (0xEF, 0x6C, 0x00), "III": (0xF9, 0xA8, 0x25), "IV": (0x15, 0x65, 0xC0)}
    for level, rgb in expected.items():
        data, _ = render.render(samples.incident_doc(3, level=level))
        colours = page_colours(data)
        assert (rgb[0] // 16, rgb[1] // 16, rgb[2] // 16) in colours, level
        assert f"{samples.LEVELS[level]['label']} {samples.LEVELS[level]['name']}" in pdf_text(data)


def test_an_incident_without_escalation_says_so():
    doc = samples.incident_doc(3)
    doc["escalation"] = {"available": False, "items": []}
    data, pages = render.render(doc)
    assert "无升级通知记录" in pdf_text(data)


def test_a_long_briefing_breaks_across_pages_with_every_entry_and_the_header_on_each_page():
    data, pages = render.render(samples.incident_doc(400))
    assert pages >= 10
    text = check_pdf(data, pages, expect=["第1条处置进展", "第400条处置进展"])
    assert text.count("中牟县市场监督管理局") >= pages
    assert text.count("内部资料") == pages
