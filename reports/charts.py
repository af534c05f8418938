"""The charts: clock compliance per clock or department (met, late, missed, running), and counts per category."""
from __future__ import annotations

from typing import Callable, Sequence

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from reports import fonts
from reports.pdf import CONTENT_W, MUTED, OUTCOME_COLOURS, RULE, styles

OUTCOMES = (("met", "按时"), ("late", "迟报"), ("missed", "漏报/超时"), ("running", "进行中"))
MAX_ROWS = 14
BAR_H = 5.5 * mm
GAP = 2.5 * mm
LABEL_W = 58 * mm


def _fold(rows: Sequence[dict], keys: Sequence[str], order: Callable[[dict], tuple]) -> list[dict]:
    """Keep the first rows in this order; fold the rest into one line so the chart stays a chart."""
    rows = sorted(rows, key=order)
    if len(rows) <= MAX_ROWS:
        return list(rows)
    kept, rest = rows[: MAX_ROWS - 1], rows[MAX_ROWS - 1:]
    other = {"label": f"其他{len(rest)}项"}
    for key in keys:
        other[key] = sum(r.get(key, 0) for r in rest)
    return kept + [other]


def _problems_first(row: dict) -> tuple:
    return -(row["late"] + row["missed"]), -sum(row[k] for k, _ in OUTCOMES), row["label"]


def compliance_chart(rows: Sequence[dict], width: float = CONTENT_W, names: dict[str, str] | None = None) -> Drawing:
    """Draw stacked horizontal bars, one per row {label, met, late, missed, running}, with a legend."""
    # `names` renames the legend's outcomes: a complaint's limit is 超期办结, not 迟报.
    names = names or {}
    series = [(key, names.get(key, name), OUTCOME_COLOURS[key]) for key, name in OUTCOMES]
    return stacked_bars(_fold(rows, [k for k, _ in OUTCOMES], _problems_first), series, width)


def count_chart(rows: Sequence[dict], series: Sequence[tuple[str, str, colors.Color]],
                width: float = CONTENT_W) -> Drawing:
    """Draw stacked bars of counts, largest first: rows {label, <key>: n}, series (key, name, colour)."""
    keys = [key for key, _, _ in series]
    return stacked_bars(_fold(rows, keys, lambda r: (-sum(r.get(k, 0) for k in keys), r["label"])), series, width)


def stacked_bars(rows: Sequence[dict], series: Sequence[tuple[str, str, colors.Color]],
                 width: float = CONTENT_W) -> Drawing:
    """Draw one stacked horizontal bar per row, in the order given, with the series' legend across the top."""
    font = styles().font
    legend_h = 8 * mm
    height = legend_h + len(rows) * (BAR_H + GAP) + 6 * mm
    d = Drawing(width, height)
    # The renderer starts every drawing in Helvetica (not embedded) unless told otherwise.
    d.initialFontName = font
    # Legend across the top.
    x = 0.0
    for _, name, colour in series:
        d.add(Rect(x, height - 5 * mm, 4 * mm, 4 * mm, fillColor=colour, strokeColor=None))
        d.add(String(x + 5.5 * mm, height - 4.3 * mm, name, fontName=font, fontSize=8.5, fillColor=MUTED))
        x += 28 * mm
    largest = max((sum(r.get(k, 0) for k, _, _ in series) for r in rows), default=0) or 1
    bar_w = width - LABEL_W - 12 * mm
    y = height - legend_h - BAR_H
    for row in rows:
        label = fonts.drawable(str(row["label"]))
        if len(label) > 20:
            label = label[:19] + "…"
        d.add(String(LABEL_W - 2 * mm, y + 1.6 * mm, label, fontName=font, fontSize=8.5, textAnchor="end"))
        x = LABEL_W
        for key, _, colour in series:
            n = row.get(key, 0)
            if not n:
                continue
            w = bar_w * n / largest
            d.add(Rect(x, y, w, BAR_H, fillColor=colour, strokeColor=colors.white, strokeWidth=0.5))
            if w >= 5 * mm:
                d.add(String(x + w / 2, y + 1.6 * mm, str(n), fontName=font, fontSize=8, fillColor=colors.white,
                             textAnchor="middle"))
            x += w
        total = sum(row.get(k, 0) for k, _, _ in series)
        d.add(String(x + 1.5 * mm, y + 1.6 * mm, str(total), fontName=font, fontSize=8, fillColor=MUTED))
        y -= BAR_H + GAP
    d.add(Line(LABEL_W, y + BAR_H, LABEL_W, height - legend_h + 1 * mm, strokeColor=RULE, strokeWidth=0.5))
    return d


def tally(items: Sequence[dict], key: str) -> list[dict]:
    """Count the outcomes of clock items grouped by one of their fields (clock name, unit); cancelled ones left out.

    The rounds of a repeating clock count together: 应急处置情况续报, not 应急处置情况续报（第3次）.
    """
    out: dict[str, dict] = {}
    for item in items:
        outcome = item.get("outcome")
        if outcome not in OUTCOME_COLOURS:
            continue
        label = str(item.get(key) or "—").split("（第")[0]
        row = out.setdefault(label, {"label": label, "met": 0, "late": 0, "missed": 0, "running": 0})
        row[outcome] += 1
    return list(out.values())
