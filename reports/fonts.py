"""The CJK font every PDF embeds: WenQuanYi Micro Hei, shipped in reports/fonts/ with its licence.

A TrueType font is embedded as a subset, so the PDF shows and extracts its Chinese text in any
viewer; ReportLab's built-in CID fonts (STSong-Light) are not embedded and depend on the
viewer's language packs. The font has no bold face: headings use size and colour instead.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILE = FONT_DIR / "wqy-microhei.ttc"
FONT_NAME = "WenQuanYiMicroHei"
# Shown instead of a character the font lacks (an emoji, a rare ideograph), so that nothing
# turns into an empty box: the reader still sees which character was written.
REPLACEMENT = "[U+{:04X}]"
_lock = threading.Lock()


def register() -> str:
    """Register the CJK font with ReportLab once and return its name."""
    with _lock:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE), subfontIndex=0))
    return FONT_NAME


@lru_cache(maxsize=1)
def codepoints() -> frozenset[int]:
    """Return every code point the font has a glyph for."""
    register()
    face = pdfmetrics.getFont(FONT_NAME).face
    return frozenset(cp for cp, glyph in face.charToGlyph.items() if glyph)


# Characters that are never drawn, so the font need not have them.
_INVISIBLE = frozenset({0x09, 0x0A, 0x0D})


def missing(text: str) -> list[str]:
    """Return the characters of the text that the font cannot draw, in order, each once."""
    have = codepoints()
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp not in have and cp not in _INVISIBLE and ch not in out:
            out.append(ch)
    return out


def drawable(text: str) -> str:
    """Return the text with every character the font lacks written as [U+XXXX]."""
    have = codepoints()
    if all(ord(ch) in have or ord(ch) in _INVISIBLE for ch in text):
        return text  # the common case, without building a new string
    return "".join(ch if ord(ch) in have or ord(ch) in _INVISIBLE else REPLACEMENT.format(ord(ch)) for ch in text)
