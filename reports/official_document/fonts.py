"""The four typefaces of a 公文 (小标宋/宋体, 仿宋, 黑体, 楷体), filled with free TrueType fonts Debian ships.

GB/T 9704 names typefaces that are not free. Each role is filled with a CJK TrueType font from a
Debian package, installed by `make fonts` (ReportLab embeds TrueType as subsets; the CFF outlines
of Noto CJK cannot be embedded):

| role       | used for                                      | font (package)                                   |
|------------|-----------------------------------------------|--------------------------------------------------|
| song       | 发文机关标志, 标题 (小标宋), 页码 (宋体)      | AR PL UMing CN (fonts-arphic-uming)              |
| fangsong   | 正文, 发文字号, 主送, 署名, 日期, 版记        | AR PL UMing CN (fonts-arphic-uming), a stand-in  |
| kai        | second-level headings （一）, 签发人姓名     | AR PL UKai CN (fonts-arphic-ukai)                |
| hei        | first-level headings 一、, 密级, 紧急程度     | WenQuanYi Zen Hei (fonts-wqy-zenhei)             |

Debian ships no free 仿宋 for simplified Chinese (cwTeX FangSong, fonts-cwtex-fs, lacks about a
third of GB 2312's simplified characters), so the body is set in the Ming/Song face: a 楷 stand-in
would make the body look like the second-level headings, which GB/T 9704 sets in 楷体.

A bureau with its own licensed TrueType fonts points a role at one with an environment variable,
YINGJI_FONT_FANGSONG=/path/to/fangsong.ttf (YINGJI_FONT_SONG, _KAI, _HEI likewise; `path#1` picks the
second face of a .ttc). When a role's font is missing (a machine without the Debian packages) the
role falls back, with one warning, to the WenQuanYi Micro Hei shipped in reports/fonts/, so a PDF
is always produced. A character a role's font lacks is drawn in the first other font that has it;
one that no font has is written as [U+XXXX] (reports.fonts.REPLACEMENT), never dropped.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from reports import fonts as shipped

log = logging.getLogger(__name__)

ROLES = ("song", "fangsong", "kai", "hei")
_UMING = ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, "fonts-arphic-uming")
_UKAI = ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0, "fonts-arphic-ukai")
_ZENHEI = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "fonts-wqy-zenhei")
_MICROHEI = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "fonts-wqy-microhei")
# Each role's candidates in order of preference, at their Debian paths.
CANDIDATES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "song": (_UMING,),
    "fangsong": (_UMING,),
    "kai": (_UKAI,),
    "hei": (_ZENHEI, _MICROHEI),
}
# Characters that are never drawn, so no font need have them.
_INVISIBLE = frozenset({0x09, 0x0A, 0x0D})


@dataclass(frozen=True)
class Face:
    """One registered TrueType face and the code points it can draw."""

    name: str  # the ReportLab font name
    path: str
    subfont: int
    package: str  # the Debian package, or "shipped" / "YINGJI_FONT_..." for the others
    codepoints: frozenset[int]


@dataclass(frozen=True)
class RoleFont:
    """The face that fills a role, and whether it is the fallback."""

    role: str
    face: Face
    fallback: bool


_lock = threading.Lock()
_faces: dict[tuple[str, int], Face] = {}
_roles: dict[str, RoleFont] = {}
_chains: dict[str, tuple[Face, ...]] = {}


def _register(path: str, subfont: int, package: str) -> Face:
    key = (str(Path(path).resolve()), subfont)
    face = _faces.get(key)
    if face is None:
        name = f"GW-{Path(path).stem}-{subfont}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=subfont))
        glyphs = pdfmetrics.getFont(name).face.charToGlyph
        face = _faces[key] = Face(name, path, subfont, package, frozenset(cp for cp, g in glyphs.items() if g))
    return face


def _shipped() -> Face:
    name = shipped.register()
    return Face(name, str(shipped.FONT_FILE), 0, "shipped", shipped.codepoints())


def _candidates(role: str) -> list[tuple[str, int, str]]:
    override = os.environ.get(f"YINGJI_FONT_{role.upper()}", "").strip()
    out = list(CANDIDATES[role])
    if override:
        path, _, index = override.partition("#")
        out.insert(0, (path, int(index or 0), f"YINGJI_FONT_{role.upper()}"))
    return out


def _load() -> None:
    tried: dict[str, list[str]] = {}
    for role in ROLES:
        chosen = None
        for path, subfont, package in _candidates(role):
            if not Path(path).is_file():
                tried.setdefault(role, []).append(f"{path} (missing; package {package})")
                continue
            try:
                chosen = RoleFont(role, _register(path, subfont, package), False)
                break
            except Exception as exc:  # noqa: BLE001 - a font ReportLab cannot read (CFF outlines) is skipped
                tried.setdefault(role, []).append(f"{path} ({exc})")
        if chosen is None:
            log.warning("公文 font role %s: no font found (%s); using the shipped WenQuanYi Micro Hei. "
                        "Install it with `make fonts`.", role, "; ".join(tried[role]))
            chosen = RoleFont(role, _shipped(), True)
        _roles[role] = chosen
    every = [_roles[r].face for r in ("fangsong", "song", "kai", "hei")] + [_shipped()]
    for role in ROLES:
        chain = [_roles[role].face] + [f for f in every if f.name != _roles[role].face.name]
        _chains[role] = tuple(dict((f.name, f) for f in chain).values())


def role_fonts() -> dict[str, RoleFont]:
    """Register the role fonts once and return which face fills each role."""
    with _lock:
        if not _roles:
            _load()
    return dict(_roles)


def font_name(role: str) -> str:
    """Return the ReportLab font name that fills a role."""
    return role_fonts()[role].face.name


def glyphs(text: str, role: str) -> list[tuple[str, str]]:
    """Return each character of the text as (font name, text to draw): in the role's font, in the first
    other font that has it, or written as [U+XXXX] in the role's font when no font has it."""
    role_fonts()
    chain = _chains[role]
    out: list[tuple[str, str]] = []
    for ch in text:
        cp = ord(ch)
        face = next((f for f in chain if cp in f.codepoints or cp in _INVISIBLE), None)
        out.append((face.name, ch) if face else (chain[0].name, shipped.REPLACEMENT.format(cp)))
    return out


def runs(text: str, role: str) -> list[tuple[str, str]]:
    """Split text into (font name, text) runs, each character drawn as glyphs() says."""
    out: list[tuple[str, str]] = []
    for name, piece in glyphs(text, role):
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + piece)
        else:
            out.append((name, piece))
    return out


def reset() -> None:
    """Forget which faces fill the roles, so that the next document looks for them again (tests)."""
    with _lock:
        _roles.clear()
        _chains.clear()
