"""Lay the weekly complaints summary (本周投诉举报汇总) out as a PDF."""
from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import KeepTogether

from reports import pdf
from reports.charts import compliance_chart, count_chart
from reports.layout import meta_of, subtitle_block as _title, time_formatter as _t
from reports.pdf import OUTCOME_COLOURS, data_table, empty, heading, para, spacer, styles


KIND_SERIES = (("complaint", "投诉", colors.HexColor("#1565C0")), ("tipoff", "举报", colors.HexColor("#8E24AA")))
# A complaint's limit is settled late or not at all: 超期, not 迟报/漏报 (which are about reports).
LIMIT_OUTCOMES = {"met": "按时办结", "late": "超期办结", "missed": "超期未办", "running": "未到期"}


def _yuan(amount: float) -> str:
    return f"{amount:,.2f}"


def _share(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "—"


def _rate(rate: float | None) -> str:
    return f"{rate:.1%}" if rate is not None else "—"


def _change(now: int, before: int) -> str:
    """Say how this week compares with the last: 较上周（8 件）增加 4 件（+50%）."""
    if now == before:
        return f"与上周持平（{before} 件）"
    diff = now - before
    word = "增加" if diff > 0 else "减少"
    pct = f"（{diff / before:+.0%}）" if before else ""
    return f"较上周（{before} 件）{word} {abs(diff)} 件{pct}"


def _figures(items: list[tuple[object, str]]) -> pdf.Table:
    """Return the key figures as a strip of boxes: a large number over its label."""
    s = styles()
    number = ParagraphStyle("figure", parent=s.title, fontSize=17, leading=22, spaceAfter=0, textColor=pdf.INK)
    label = ParagraphStyle("figure-label", parent=s.small, alignment=number.alignment)
    width = pdf.CONTENT_W / len(items)
    t = pdf.Table([[para(v, number) for v, _ in items], [para(k, label) for _, k in items]],
                  colWidths=[width] * len(items))
    t.setStyle(pdf.TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), s.font),
        ("BOX", (0, 0), (-1, -1), 0.4, pdf.RULE), ("LINEAFTER", (0, 0), (-2, -1), 0.4, pdf.RULE),
        ("BACKGROUND", (0, 0), (-1, -1), pdf.HEAD_BG),
        ("TOPPADDING", (0, 0), (-1, 0), 5), ("BOTTOMPADDING", (0, -1), (-1, -1), 5),
    ]))
    return t


def _kind_table(rows: list[dict], columns: list[tuple[str, str, tuple[str, ...]]], first: str, lead: float
                ) -> pdf.Table:
    """Return a table of counts per kind (投诉, 举报) and their sum; a column a kind does not have shows —."""
    body = []
    for row in rows:
        body.append([row["name"]] + [row[key] if row["kind"] in applies else "—" for _, key, applies in columns])
    body.append(["合计"] + [sum(r[key] for r in rows if r["kind"] in applies) for _, key, applies in columns])
    rest = (1 - lead) / len(columns)
    return _total_row(data_table([first] + [name for name, _, _ in columns], body, [lead] + [rest] * len(columns)))


def _total_row(table: pdf.Table) -> pdf.Table:
    """Shade a table's last row, its 合计."""
    table.setStyle(pdf.TableStyle([("BACKGROUND", (0, -1), (-1, -1), pdf.HEAD_BG)]))
    return table


BOTH = ("complaint", "tipoff")
STATUS_COLUMNS = [("收到", "total", BOTH), ("待受理", "received", BOTH), ("已受理", "accepted", ("complaint",)),
                  ("不予受理", "refused", ("complaint",)), ("调解中", "mediating", ("complaint",)),
                  ("已立案", "filed", ("tipoff",)), ("不予立案", "not_filed", ("tipoff",)), ("已办结", "closed", BOTH)]
HANDLED_COLUMNS = [("分流", "triaged", BOTH), ("受理", "accepted", ("complaint",)), ("不予受理", "refused", ("complaint",)),
                   ("开始调解", "mediating", ("complaint",)), ("立案", "filed", ("tipoff",)),
                   ("不予立案", "not_filed", ("tipoff",)), ("办结", "closed", BOTH)]


def _limit_row(label: str, r: dict) -> list:
    ended = r["met"] + r["late"] + r["missed"]
    return [label, r["met"], r["late"], r["missed"], r["running"], _share(r["met"], ended)]


def render_complaints_weekly(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render the weekly complaints summary for leadership (每周投诉举报情况汇总); figures only, no personal data."""
    t, s = _t(doc), styles()
    week, got, handled = doc["week"], doc["received"], doc["handled"]
    subtitle = f"{week['year']}年第{week['number']}周　{week['monday']}（星期一）至 {week['sunday']}（星期日）"
    if not week["complete"]:
        subtitle += f"　本周尚未结束，数据截至 {t(doc['generated_at'])}"
    story = _title(doc, subtitle)

    def did(step: str) -> int:
        return sum(h[step] for h in handled)

    limits = {k: sum(r[k] for r in doc["limits"]) for k in ("met", "late", "missed", "running")}
    ended = limits["met"] + limits["late"] + limits["missed"]
    story += [_figures([(got["total"], "收到投诉举报（件）"), (got["complaints"], "其中投诉"), (got["tipoffs"], "其中举报"),
                        (did("closed"), "本周办结"), (_rate(doc["limits_met_rate"]), "时限按时率"),
                        (doc["overdue_now"], "目前超期未办（项）"), (len(doc["surges"]), "投诉高峰（起）")]),
              heading("一、总体情况")]
    story.append(para(f"本周共收到投诉举报 {got['total']} 件，其中投诉 {got['complaints']} 件、举报 {got['tipoffs']} 件，"
                      f"{_change(got['total'], doc['previous']['total'])}；涉及金额合计 {_yuan(got['amount'])} 元。", s.body))
    story.append(para(f"本周分流 {did('triaged')} 件；受理投诉 {did('accepted')} 件、不予受理 {did('refused')} 件，"
                      f"开始调解 {did('mediating')} 件；举报立案 {did('filed')} 件、不予立案 {did('not_filed')} 件；"
                      f"办结 {did('closed')} 件。", s.body))
    if ended + limits["running"]:
        story.append(para(f"本周办结或到期的法定时限 {ended + limits['running']} 项：按时办结 {limits['met']} 项，"
                          f"超期办结 {limits['late']} 项，超期未办 {limits['missed']} 项，按时率 "
                          f"{_rate(doc['limits_met_rate'])}；截至生成时，全部超期未办的时限共 {doc['overdue_now']} 项。",
                          s.body))
    else:
        story.append(para(f"本周没有办结或到期的法定时限；截至生成时，全部超期未办的时限共 {doc['overdue_now']} 项。", s.body))
    story.append(para(f"本周出现投诉高峰 {len(doc['surges'])} 起，发布消费预警 {doc['warnings_published']} 条；"
                      f"本周收到的投诉举报中已关联应急事件 {doc['linked_to_incidents']} 件。", s.body))

    story.append(heading("二、受理与办理情况"))
    story.append(heading("（一）本周收到的投诉举报及目前状态", 2))
    story.append(_kind_table(doc["status"], STATUS_COLUMNS, "类型", 0.12))
    story.append(heading("（二）本周办理情况（含以前收到的）", 2))
    story.append(_kind_table(doc["handled"], HANDLED_COLUMNS, "类型", 0.16))

    story.append(heading("三、投诉举报类别"))
    if doc["categories"]:
        total = got["total"]
        story.append(data_table(["类别", "投诉", "举报", "合计", "占比"],
                                [[c["name"], c["complaint"], c["tipoff"], c["total"], _share(c["total"], total)]
                                 for c in doc["categories"]], [0.44, 0.14, 0.14, 0.14, 0.14]))
        chart = count_chart([{"label": c["name"], "complaint": c["complaint"], "tipoff": c["tipoff"]}
                             for c in doc["categories"]], KIND_SERIES)
        story += [spacer(2), KeepTogether([heading("类别分布图", 2), chart])]
    else:
        story.append(empty("本周没有收到投诉举报。"))

    story.append(heading(f"四、被投诉举报较多的经营者（前 {len(doc['businesses'])} 名）" if doc["businesses"]
                         else "四、被投诉举报较多的经营者"))
    if doc["businesses"]:
        story.append(data_table(["序号", "经营者", "件数", "其中举报", "主要类别", "所在区域", "涉及金额（元）"],
                                [[n, b["name"], b["count"], b["tipoffs"], "、".join(b["categories"][:3]),
                                  "、".join(b["areas"][:2]), _yuan(b["amount"])]
                                 for n, b in enumerate(doc["businesses"], 1)],
                                [0.06, 0.28, 0.08, 0.09, 0.23, 0.12, 0.14]))
    else:
        story.append(empty("本周没有被投诉举报的经营者。"))

    story.append(heading("五、区域分布（按经营者所在乡镇、街道）"))
    known = [a for a in doc["areas"] if a["name"] != "未识别"]
    if known:
        story.append(data_table(["区域", "件数", "占比"], [[a["name"], a["count"], _share(a["count"], got["total"])]
                                                      for a in doc["areas"]], [0.50, 0.25, 0.25]))
    else:
        story.append(empty("本周的投诉举报没有可识别所在乡镇（街道）的经营者地址。" if doc["areas"] else "本周没有收到投诉举报。"))

    story.append(heading("六、法定时限执行情况"))
    story.append(para("统计本周内办结的时限，以及本周到期仍未办结的时限；按时率 = 按时办结 ÷（按时办结 + 超期办结 + 超期未办）。"
                      "时限按工作日计算（法定节假日和调休按国务院安排）。", s.small))
    header_row = ["时限", LIMIT_OUTCOMES["met"], LIMIT_OUTCOMES["late"], LIMIT_OUTCOMES["missed"],
                  LIMIT_OUTCOMES["running"], "按时率"]
    if doc["limits"]:
        rows = [_limit_row(r["name"], r) for r in doc["limits"]] + [_limit_row("合计", limits)]
        story.append(_total_row(data_table(header_row, rows, [0.36, 0.13, 0.13, 0.13, 0.12, 0.13])))
    else:
        story.append(empty("本周没有办结或到期的法定时限。"))
    if doc["departments"]:
        story.append(heading("各承办单位", 2))
        tint = [(n, OUTCOME_COLOURS["missed"]) for n, d in enumerate(doc["departments"])
                if d["missed"] or d["overdue_now"]]
        story.append(data_table(["承办单位"] + header_row[1:5] + ["目前超期未办（全部）"],
                                [[d["name"], d["met"], d["late"], d["missed"], d["running"], d["overdue_now"]]
                                 for d in doc["departments"]], [0.32, 0.12, 0.12, 0.12, 0.12, 0.20], tint))
        chart_rows = [{"label": d["name"], **{k: d[k] for k in LIMIT_OUTCOMES}} for d in doc["departments"]
                      if any(d[k] for k in LIMIT_OUTCOMES)]
        if chart_rows:
            story += [spacer(2), KeepTogether([heading("各承办单位时限执行情况图", 2),
                                               compliance_chart(chart_rows, names=LIMIT_OUTCOMES)])]

    story.append(heading("七、投诉高峰与消费预警"))
    story.append(heading("投诉高峰", 2))
    if doc["surges"]:
        story.append(data_table(["发现时间", "监测维度", "对象", "件数", "处置", "状态"],
                                [[t(x["opened_at"]), x["dimension_name"], x["label"], f"{x['window']}内{x['count']}件",
                                  x["action"], x["status_name"] + (f"\n{t(x['ended_at'])}" if x["ended_at"] else "")]
                                 for x in doc["surges"]], [0.16, 0.10, 0.22, 0.14, 0.24, 0.14]))
    else:
        story.append(empty("本周未出现投诉高峰。"))
    story.append(heading("消费预警", 2))
    if doc["warnings"]:
        story.append(data_table(["标题", "状态", "起草时间", "发布时间"],
                                [[w["title"], w["status_name"], t(w["drafted_at"]), t(w["published_at"])]
                                 for w in doc["warnings"]], [0.50, 0.14, 0.18, 0.18]))
    else:
        story.append(empty("本周没有起草或发布消费预警。"))
    story += [spacer(3), para("说明：时间均为北京时间，一周自星期一0时起至星期日24时止。本汇总仅含统计数字和经营者名称，"
                              "不含投诉举报人的姓名、联系电话、证件号码、地址等个人信息。", s.small),
              para(f"数据来源：12315投诉举报平台；依据：{doc['plan']['title']} {doc['plan']['version']}", s.small)]
    return pdf.render(story, meta_of(doc, reference))
