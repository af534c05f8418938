"""Lay the snapshots out as PDFs: incident briefing, daily report, handling summary, accountability sheet
(the weekly complaints summary is in weekly_render.py)."""
from __future__ import annotations


from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak

from reports import pdf
from reports.charts import compliance_chart, tally
from reports.layout import meta_of, subtitle_block as _title, time_formatter as _t
from reports.pdf import OUTCOME_COLOURS, data_table, empty, heading, key_values, para, paras, spacer, styles
from reports.weekly_render import render_complaints_weekly

# How an escalation was acknowledged, in words (the escalation history gives the channel's code).
CHANNELS = {"board": "看板签收", "sms": "短信回复", "voice": "电话按键"}


def _headline(doc: dict) -> list[Flowable]:
    """The incident's level (coloured), status and milestones under the title."""
    t, inc = _t(doc), doc["incident"]
    s = styles()
    milestones = [f"登记 {t(inc['created_at'])}"]
    if inc.get("activated_at"):
        milestones.append(f"启动响应 {t(inc['activated_at'])}")
    if inc.get("ended_at"):
        milestones.append(f"应急状态结束 {t(inc['ended_at'])}")
    if inc.get("archived_at"):
        milestones.append(f"归档 {t(inc['archived_at'])}")
    row = pdf.Table([[pdf.level_badge(doc["level"]), para(f"状态：{inc['status_name']}", s.body),
                      para("；".join(milestones), s.small)]],
                    colWidths=[46 * pdf.mm, 54 * pdf.mm, pdf.CONTENT_W - 100 * pdf.mm])
    row.setStyle(pdf.TableStyle([("FONTNAME", (0, 0), (-1, -1), s.font), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                 ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    out: list[Flowable] = [row]
    if inc.get("end_reason"):
        out += paras(f"结束理由：{inc['end_reason']}", s.small)
    return out


# --- sections of an incident ------------------------------------------------------------------


def _clock_section(doc: dict) -> list[Flowable]:
    t = _t(doc)
    totals = doc["clock_totals"]
    out: list[Flowable] = [heading("二、报告与处置时限")]
    out.append(para(f"按时 {totals['met']} 项，迟报 {totals['late']} 项，漏报（超时未报） {totals['missed']} 项，"
                    f"进行中 {totals['running']} 项。", styles().body))
    if not doc["clocks"]:
        return out + [empty("本事件目前没有报告时限。")]
    rows, tints = [], []
    for n, c in enumerate(doc["clocks"]):
        rows.append([c["name"], c["unit"], t(c["starts_at"]), t(c["due_at"]), c["state"],
                     t(c["satisfied_at"]) if c["satisfied_at"] else "—"])
        if c["outcome"] in OUTCOME_COLOURS:
            tints.append((n, OUTCOME_COLOURS[c["outcome"]]))
    out.append(data_table(["时限", "责任单位", "开始", "截止", "状态", "完成时间"], rows,
                          [0.22, 0.16, 0.14, 0.14, 0.20, 0.14], tints))
    chart_rows = tally(doc["clocks"], "name")
    if chart_rows:
        out += [spacer(2), KeepTogether([heading("时限完成情况图", 2), compliance_chart(chart_rows)])]
    return out


def _assignment_section(doc: dict) -> list[Flowable]:
    t = _t(doc)
    out: list[Flowable] = [heading("三、任务派发与办理")]
    if not doc["assignments"]:
        return out + [empty("尚未派发任务。")]
    tint = {"pushed": OUTCOME_COLOURS["missed"], "declined": OUTCOME_COLOURS["late"], "done": OUTCOME_COLOURS["met"]}
    rows, tints = [], []
    for n, a in enumerate(doc["assignments"]):
        when = f"派发 {t(a['created_at'])}"
        if a["acknowledged_at"]:
            when += f"\n签收 {t(a['acknowledged_at'])}"
        if a["done_at"]:
            when += f"\n完成 {t(a['done_at'])}"
        rows.append([a["department"], a["task"], a["status_name"], when, t(a["due_at"]) if a["due_at"] else "—",
                     a["note"]])
        if a["status"] in tint:
            tints.append((n, tint[a["status"]]))
    return out + [data_table(["科室", "任务", "状态", "时间", "完成时限", "办理情况"], rows,
                             [0.13, 0.25, 0.08, 0.22, 0.12, 0.20], tints)]


def _measure_section(doc: dict) -> list[Flowable]:
    t = _t(doc)
    out: list[Flowable] = [heading("四、已采取的措施")]
    facts = dict(doc["contents"]).get("已采取的措施")
    if facts:
        out += paras(f"登记时：{facts}", styles().body)
    if doc["measures"]:
        out.append(data_table(["时间", "措施", "完成情况"],
                              [[t(m["at"]), m["what"], m["body"] + (f"（{m['by']}）" if m["by"] else "")]
                               for m in doc["measures"]], [0.16, 0.34, 0.50]))
    elif not facts:
        out.append(empty("尚无措施记录。"))
    return out


def _escalation_section(doc: dict) -> list[Flowable]:
    t = _t(doc)
    esc = doc.get("escalation") or {}
    out: list[Flowable] = [heading("五、升级通知记录")]
    items = esc.get("items") or []
    if not items:
        return out + [empty(esc.get("error") or "无升级通知记录")]
    rows = []
    for item in items:
        channel = CHANNELS.get(item.get("ack_channel") or "", item.get("ack_channel") or "")
        ack = f"{item.get('ack_by') or ''}（{channel}）" if item.get("ack_by") else "—"
        rows.append([item.get("item", ""), item.get("trigger_name") or item.get("trigger", ""),
                     t(item.get("started_at")), item.get("status_name") or item.get("status", ""),
                     t(item.get("stopped_at")) if item.get("stopped_at") else "—", ack])
        for d in item.get("deliveries") or []:
            to = d.get("to_name") or ""
            if d.get("phone_masked"):
                to += f"\n{d['phone_masked']}"
            state = d.get("status_name") or d.get("status", "")
            if d.get("error"):
                state += f"：{d['error']}"
            rows.append([f"　└ {d.get('channel_name') or d.get('channel', '')}", to, t(d.get("at")), state, "", ""])
    return out + [data_table(["事项 / 通知方式", "触发 / 对象", "时间", "状态", "停止", "签收"], rows,
                             [0.24, 0.20, 0.14, 0.16, 0.12, 0.14])]


def _report_section(doc: dict, number: str = "六") -> list[Flowable]:
    t = _t(doc)
    out: list[Flowable] = [heading(f"{number}、报告")]
    if not doc["reports"]:
        return out + [empty("尚未报送任何报告。")]
    rows = [[t(r["submitted_at"]) + (f"\n{r['mark']}\n录入 {t(r['entered_at'])}" if r.get("mark") else ""),
             r["kind_name"] + (f"（{r['measure']}）" if r["measure"] else ""), r["by"],
             r["body"] + (f"\n\n报送对象：\n{r['recipients']}" if r.get("recipients") else "")]
            for r in doc["reports"]]
    return out + [data_table(["报送时间", "类别", "报送人", "内容"], rows, [0.17, 0.16, 0.11, 0.56])]


def _level_section(doc: dict) -> list[Flowable]:
    t = _t(doc)
    rows = [[t(c["at"]), f"{c['from']} → {c['to']}" if n else f"登记：{c['to']}", c["reason"], c["by"]]
            for n, c in enumerate(doc["levels"])]
    return [heading("定级记录", 2), data_table(["时间", "等级", "理由", "操作人"], rows, [0.16, 0.18, 0.50, 0.16])]


def _timeline_section(doc: dict, number: str = "七") -> list[Flowable]:
    t = _t(doc)
    out: list[Flowable] = [heading(f"{number}、处置时间线")]
    if not doc["timeline"]:
        return out + [empty("暂无记录。")]
    rows = [[t(e["at"], seconds=True), e["what"], e["detail"], e["actor"]] for e in doc["timeline"]]
    return out + [para(f"共 {len(rows)} 条，取自不可篡改的操作记录（审计链）。", styles().small),
                  data_table(["时间", "事项", "内容", "操作人"], rows, [0.18, 0.17, 0.45, 0.20])]


def incident_story(doc: dict) -> list[Flowable]:
    """Return the flowables of an incident's record: contents, clocks, tasks, measures, escalation, reports, timeline."""
    story: list[Flowable] = [heading("一、事件基本情况（报告要素）"), key_values(doc["contents"])]
    if doc["levels"]:
        story += _level_section(doc)
    story += _clock_section(doc)
    story += _assignment_section(doc)
    story += _measure_section(doc)
    story += _escalation_section(doc)
    story += _report_section(doc)
    story += [CondPageBreak(40 * pdf.mm)] + _timeline_section(doc)
    return story


def render_incident(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render the incident briefing (事件简报)."""
    inc = doc["incident"]
    story = _title(doc, f"{inc['number']}　{inc['title']}") + _headline(doc) + [spacer(2)] + incident_story(doc)
    story.append(para(f"依据：{inc['plan']}", styles().small))
    return pdf.render(story, meta_of(doc, reference))


# --- daily -----------------------------------------------------------------------------------------


def render_daily(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render the daily situation report (每日汇总) across open incidents."""
    t, s = _t(doc), styles()
    totals = doc["totals"]
    day = doc["day"]
    story = _title(doc, f"{day}　（截至 {t(doc['generated_at'])}）")
    levels = "，".join(f"{b['level']['label']}{b['count']}起" for b in doc["by_level"]) or "无"
    story += [heading("一、总体情况"), para(
        f"在办事件 {totals['open']} 起（{levels}），其中应急响应中 {totals['active']} 起、已登记待响应 "
        f"{totals['registered']} 起、应急状态已结束待总结 {totals['ended']} 起"
        + (f"、节日市场预警 {totals['watching']} 项（预警，不启动响应）" if totals.get("watching") else "")
        + f"；当日新登记 {totals['new_today']} 起。"
        f"当日到期时限中迟报 {totals['late_today']} 项、漏报（超时未报） {totals['missed_today']} 项；"
        f"目前超时未报 {totals['overdue_now']} 项，待签收任务 {totals['unacknowledged']} 项。", s.body)]
    story.append(heading("二、在办事件"))
    if doc["incidents"]:
        rows, tints = [], []
        for n, i in enumerate(doc["incidents"]):
            c = i["clocks"]
            nxt = "\n".join(f"{x['name']}：{x['state']}" for x in i["next_clocks"]) or "—"
            tasks = f"未办结 {i['open_assignments']}，待签收 {i['unacknowledged']}"
            if i["declined"]:
                tasks += f"，否定报备 {i['declined']}"
            rows.append([i["level"]["label"], f"{i['number']}\n{i['title']}", i["status_name"],
                         i["lead_department_name"], f"按时 {c['met']}／迟报 {c['late']}／漏报 {c['missed']}", nxt,
                         tasks])
            tints.append((n, pdf.LEVEL_COLOURS.get(i["level"]["colour"], pdf.LEVEL_COLOURS["grey"])))
        story.append(data_table(["等级", "事件", "状态", "牵头科室", "时限", "待办时限", "任务"], rows,
                                [0.07, 0.22, 0.10, 0.12, 0.15, 0.20, 0.14], tints))
    else:
        story.append(empty("当前没有在办事件。"))
    if doc["chart"]:
        story += [spacer(2), KeepTogether([heading("时限完成情况图（在办事件）", 2), compliance_chart(doc["chart"])])]
    story.append(heading("三、当日迟报漏报"))
    if doc["problems"]:
        story.append(data_table(["事件", "时限", "责任单位", "截止", "情况", "时长"],
                                [[p["number"], p["name"], p["unit"], t(p["due_at"]), p["outcome_name"], p["lateness"]]
                                 for p in doc["problems"]], [0.15, 0.27, 0.18, 0.15, 0.13, 0.12],
                                [(n, OUTCOME_COLOURS[p["outcome"]]) for n, p in enumerate(doc["problems"])]))
    else:
        story.append(empty("当日没有迟报或漏报。"))
    story.append(heading("四、当日动态"))
    if doc["events"]:
        story.append(data_table(["时间", "事件", "事项", "内容", "操作人"],
                                [[t(e["at"]), e["number"], e["what"], e["detail"], e["actor"]] for e in doc["events"]],
                                [0.15, 0.14, 0.14, 0.40, 0.17]))
    else:
        story.append(empty("当日没有新的动态。"))
    return pdf.render(story, meta_of(doc, reference))


# --- accountability ------------------------------------------------------------------------------


def render_accountability(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render the accountability sheet (迟报漏报情况表): every late or missed report by unit, with lateness."""
    t, s = _t(doc), styles()
    start, end = doc["period"]
    totals = doc["totals"]
    subtitle = f"{start} 至 {end}" + (f"　{doc['unit']}" if doc.get("unit") else "")
    story = _title(doc, subtitle)
    story += [heading("一、总体情况"), para(
        f"期间到期的报告与处置时限共 {totals['met'] + totals['late'] + totals['missed'] + totals['running']} 项，"
        f"涉及事件 {doc['incidents']} 起：按时 {totals['met']} 项，迟报 {totals['late']} 项（累计迟延 "
        f"{totals['late_total']}），漏报（超时未报） {totals['missed']} 项，尚未到期 {totals['running']} 项。", s.body)]
    if doc["units"]:
        story.append(data_table(["责任单位", "按时", "迟报", "漏报", "进行中", "迟报累计时长"],
                                [[u["name"], u["met"], u["late"], u["missed"], u["running"], u["late_total"]]
                                 for u in doc["units"]], [0.34, 0.11, 0.11, 0.11, 0.11, 0.22]))
        story += [spacer(2), KeepTogether([heading("各单位时限完成情况图", 2), compliance_chart(doc["chart"])])]
    story.append(heading("二、迟报漏报明细（按责任单位）"))
    any_problem = False
    for u in doc["units"]:
        if not u["problems"]:
            continue
        any_problem = True
        story.append(heading(f"{u['name']}：迟报 {u['late']} 项，漏报 {u['missed']} 项", 2))
        story.append(data_table(["事件", "时限", "截止时间", "完成时间", "情况", "迟延时长"],
                                [[_incident_cell(p), p["name"], t(p["due_at"]),
                                  t(p["satisfied_at"]) if p["satisfied_at"] else "未报送",
                                  p["outcome_name"] + (f"\n{p['mark']}" if p.get("mark") else ""),
                                  p["lateness"]] for p in u["problems"]],
                                [0.25, 0.24, 0.14, 0.14, 0.11, 0.12],
                                [(n, OUTCOME_COLOURS[p["outcome"]]) for n, p in enumerate(u["problems"])]))
    if not any_problem:
        story.append(empty("期间没有迟报或漏报。"))
    story.append(para("说明：迟报指在截止时间之后报送；漏报指截止时间已过仍未报送（超时时长计至本表生成时）；"
                      "书面报告以全部报送对象收到的时间计。", s.small))
    story += _inaction_section(doc)
    story.append(heading("四、补录时间确认情况"))
    if doc.get("backdated"):
        story.append(data_table(["事件", "时限", "责任单位", "声称报送", "实际录入", "确认情况", "确认人", "凭证"],
                                [[b["number"], b["name"], b["unit"], b["claimed"], f"{b['entered']}\n{b['entered_by']}",
                                  b["status_name"], b["decided"], b["evidence"]] for b in doc["backdated"]],
                                [0.12, 0.14, 0.12, 0.11, 0.13, 0.09, 0.13, 0.16]))
        story.append(para("补录：报送时间早于录入时间超过预案容许的时长。未经办公室负责人或领导小组凭证确认的，按录入时间计算是否迟报；"
                          "不予确认的，始终按录入时间计算。", s.small))
    else:
        story.append(empty("期间没有补录的报告。"))
    story.append(heading("五、报告送达与签收情况（初报、局报告、续报和书面报告报送情况）"))
    # Listed for the late and missed clocks (the evidence of who got what, when); on-time ones are counted above.
    story.append(para("以下列出迟报、漏报和尚未到期的时限所涉报告的报送对象与收到时间；按时完成的时限只计入总体情况的项数。", s.small))
    if doc.get("written"):
        story.append(data_table(["事件", "时限", "截止时间", "情况", "报送对象：方式、收到时间、凭证、签收"],
                                [[f"{w['number']}\n{w['title']}",
                                  "\n".join(x for x in (w["name"], w.get("document"), w.get("signed")) if x),
                                  t(w["due_at"]), w["state"], w["recipients"]]
                                 for w in doc["written"]], [0.2, 0.18, 0.12, 0.12, 0.38]))
    else:
        story.append(empty("期间没有应报送的报告。"))
    story += _closed_without_response(doc.get("closed_without_response") or [])
    return pdf.render(story, meta_of(doc, reference))


# What went wrong with a task, in the sheet's colours: not done or not acknowledged as a miss, a decline as late.
INACTION_TINTS = {"overdue": OUTCOME_COLOURS["missed"], "unacknowledged": OUTCOME_COLOURS["missed"],
                  "declined": OUTCOME_COLOURS["late"]}


def _inaction_section(doc: dict) -> list[Flowable]:
    """三、不作为情况: per department, tasks overdue, declined (with the approval) and never acknowledged."""
    t, s = _t(doc), styles()
    totals = doc.get("inaction_totals") or {"overdue": 0, "declined": 0, "declined_pending": 0, "unacknowledged": 0}
    out: list[Flowable] = [heading("三、不作为情况（按科室）"), para(
        f"期间派发的任务中，超时未完成 {totals['overdue']} 项，否定报备 {totals['declined']} 项（待审批 "
        f"{totals['declined_pending']} 项），未签收 {totals['unacknowledged']} 项。", s.body)]
    rows = doc.get("inaction") or []
    if not rows:
        return out + [empty("期间派发的任务没有超时未完成、否定报备或未签收的情况。")]
    for d in rows:
        c = d["counts"]
        out.append(heading(f"{d['name']}：超时未完成 {c['overdue']} 项，否定报备 {c['declined']} 项，"
                           f"未签收 {c['unacknowledged']} 项", 2))
        items = d["items"]
        out.append(data_table(
            ["情况", "事件", "任务", "完成时限", "任务状态", "说明"],
            [[i["problem_name"] + (f"\n（{i['decline_status_name']}）" if i.get("decline_status_name") else ""),
              f"{i['number']}\n{i['title']}", i["task"], t(i["due_at"]) if i["due_at"] else "—", i["status_name"],
              i["what"]] for i in items],
            [0.13, 0.17, 0.24, 0.13, 0.10, 0.23],
            [(n, INACTION_TINTS[i["problem"]]) for n, i in enumerate(items) if i["problem"] in INACTION_TINTS]))
    out.append(para("说明：依据预案§五(三)2，对不积极配合、推诿扯皮的追究不作为责任。按任务派发时间计入期间；"
                    "推送后超过预案第一次升级通知的时间仍未签收的，计为未签收。", s.small))
    return out


def _incident_cell(p: dict) -> str:
    """The event column of a problem: number, title and, for an event closed without a response, how (不属实，已关闭)."""
    return f"{p['number']}\n{p['title']}" + (f"\n（{p['disposition']}）" if p.get("disposition") else "")


def _closed_without_response(kinds: list[dict]) -> list:
    """The sheet's section on events closed without a response (不启动, 不属实, 重复), with their numbers."""
    s = styles()
    story = [heading("六、未启动响应即关闭的事件")]
    total = sum(k["count"] for k in kinds)
    if not total:
        # Kept with its heading: a heading alone at the foot of a page reads as a section left blank.
        return [KeepTogether([*story, empty("期间没有未启动响应即关闭的事件。")])]
    story.append(para(f"期间关闭的事件共 {total} 起；关闭前已超时未报的时限仍计入上表。", s.body))
    story.append(data_table(["关闭类别", "起数", "事件编号"],
                            [[k["name"], k["count"], "、".join(k["numbers"]) or "—"] for k in kinds],
                            [0.25, 0.12, 0.63]))
    return story


# --- closing report --------------------------------------------------------------------------------


CLOSING_SECTIONS = (("cause", "一、事件发生的原因"), ("handling", "二、处置经过"), ("aftermath", "三、善后处置情况"),
                    ("lessons", "四、经验教训"), ("improvements", "五、改进工作的要求和建议"))


def render_closing(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render the closing report (应急处置工作总结): the summary, then the full record attached."""
    t, s = _t(doc), styles()
    inc, closing = doc["incident"], doc["closing"]
    story = _title(doc, f"{inc['number']}　{inc['title']}") + _headline(doc)
    facts = [("事件编号", inc["number"]), ("事件等级", f"{doc['level']['label']} {doc['level']['name']}"
                                        if doc["level"]["code"] else "未定级"),
             ("牵头科室", inc["lead_department_name"]), ("发现时间", t(inc["discovered_at"])),
             ("启动应急响应", t(inc["activated_at"])), ("应急状态结束", t(inc["ended_at"])),
             ("宣布结束", inc.get("ended_by") or "—"),
             ("工作总结状态", closing["status_name"]),
             ("提交", f"{closing['submitted_by']} {t(closing['submitted_at'])}（第{closing['version']}稿）"),
             ("原因调查小组", closing.get("investigators") or "—")]
    if closing.get("decided_at"):
        facts.append(("审批", f"{closing['decided_by']} {t(closing['decided_at'])}"
                              + (f"：{closing['decision_note']}" if closing.get("decision_note") else "")))
    clock = closing.get("clock")
    if clock:
        facts.append(("书面报告时限", f"截止 {t(clock['due_at'])}，{clock['state']}"))
    story += [spacer(2), key_values(facts)]
    for key, title in CLOSING_SECTIONS:
        story.append(heading(title))
        story += paras(closing.get(key) or "（未填写）", s.body)
    story += [PageBreak(), para("附件：事件完整记录", s.title),
              para("以下为生成本报告时系统中的事件完整记录。", s.subtitle)]
    story += incident_story(doc)
    return pdf.render(story, meta_of(doc, reference))


RENDERERS = {"incident": render_incident, "daily": render_daily, "accountability": render_accountability,
             "closing": render_closing, "complaints_weekly": render_complaints_weekly}


def render(doc: dict, reference: str = "") -> tuple[bytes, int]:
    """Render any document snapshot by its kind; return the PDF bytes and the page count."""
    return RENDERERS[doc["kind"]](doc, reference)
