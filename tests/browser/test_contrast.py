"""Every status colour pairing meets WCAG 2.1 AA (4.5:1), measured in Chromium with the real stylesheets.

The national level colours stay as backgrounds; what changes is the text paired with them.
"""
from __future__ import annotations

from tests.browser.test_boards import no_page_errors

# Each pairing as the pages write it: the classes of the element (and of a parent where the colour
# depends on it).
BOARD = [
    "lv lv-red", "lv lv-orange", "lv lv-yellow", "lv lv-blue", "lv lv-grey",
    "status status-registered", "status status-active", "status status-ended", "status status-archived",
    "status status-watching", "status status-withdrawn", "status status-closed",
    "task-state", "task-state state-pushed", "task-state state-acknowledged", "task-state state-in_progress",
    "task-state state-done", "task-state state-declined",
    "outcome outcome-met", "outcome outcome-late", "outcome outcome-missed", "outcome outcome-cancelled",
    "tag", "tag tag-watch", "tag tag-tipoff", "tag tag-open", "tag tag-submitted", "tag tag-published",
    "cstatus status-received", "cstatus status-accepted", "cstatus status-refused", "cstatus status-closed",
    "cstatus status-mediating", "cstatus status-filed", "cstatus status-not_filed",
    "muted", "estimated", "a-uncovered", "task-uncovered", "field-error", "calendar-certain",
]
NESTED = [("clock state-warn", "countdown"), ("clock state-overdue", "countdown"), ("lv-bar lv-orange", "x"),
          ("lv-bar lv-yellow", "x"), ("lv-bar lv-red", "x"), ("lv-bar lv-blue", "x"), ("cmeta", "n-warn"),
          ("problem-late", "problem-how"), ("n-late", "b")]

MEASURE = """(pairs) => {
  function lum(rgb) {
    const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function parse(c) { const m = c.match(/rgba?\\(([^)]+)\\)/); const p = m[1].split(",").map(Number);
                      return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 }; }
  function background(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c.rgb;
    }
    return [255, 255, 255];
  }
  const host = document.createElement("div");
  document.querySelector("main").appendChild(host);
  const out = [];
  for (const [outer, inner] of pairs) {
    const a = document.createElement("span");
    a.className = outer;
    let target = a;
    if (inner) { target = document.createElement(inner === "b" ? "b" : "span"); target.className = inner; a.appendChild(target); }
    target.textContent = "测试文字";
    host.appendChild(a);
    const fg = lum(parse(getComputedStyle(target).color).rgb), bg = lum(background(target));
    out.push([outer + (inner ? " > " + inner : ""), (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)]);
  }
  host.remove();
  return out;
}"""


def test_every_status_colour_reads_at_4_5_to_1(sqlite_server, open_as):
    page = open_as(sqlite_server, "office")
    page.goto(sqlite_server.url + "/complaints")  # board.css and complaints.css together
    pairs = [[c, None] for c in BOARD] + [list(p) for p in NESTED]
    low = [(name, round(ratio, 2)) for name, ratio in page.evaluate(MEASURE, pairs) if ratio < 4.5]
    assert low == [], low
    no_page_errors(page)
