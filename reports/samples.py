"""Synthetic documents of any size, shaped exactly like the snapshots: for tests, benchmarks and previews.

`python -m reports.samples OUT_DIR` writes one PDF of each kind to look at.
"""
from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from incidents.kernel.durations import chinese_duration
from reports.official_document import Heading, OfficialDocument, render_with_pages

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing time
HEADER = {"bureau": "中牟县市场监督管理局", "classification": "内部资料　注意保管", "timezone": "Asia/Shanghai",
          "generated_at": (T0 + timedelta(hours=8)).isoformat(),
          "plan": {"title": "市场监管突发事件应急管理预案(试行)", "version": "2021-12-06.1"}}
LEVELS = {
    "I": {"code": "I", "numeral": "Ⅰ", "name": "特别重大", "colour": "red", "label": "Ⅰ级"},
    "II": {"code": "II", "numeral": "Ⅱ", "name": "重大", "colour": "orange", "label": "Ⅱ级"},
    "III": {"code": "III", "numeral": "Ⅲ", "name": "较大", "colour": "yellow", "label": "Ⅲ级"},
    "IV": {"code": "IV", "numeral": "Ⅳ", "name": "一般", "colour": "blue", "label": "Ⅳ级"},
}
DEPARTMENTS = ("食品安全协调督查科", "餐饮服务监管科", "价格监督检查科", "办公室（应急管理科）", "新闻宣传", "法制科",
               "财务科", "人事科", "特种设备安全监察科", "城关市场监督管理所")
OUTCOMES = ("met", "late", "missed", "running")


def _iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def incident_doc(timeline: int = 200, *, level: str = "II", assignments: int = 12, reports: int = 8) -> dict:
    """Return an incident briefing document with this many timeline entries."""
    clocks = []
    for n in range(10):
        outcome = OUTCOMES[n % 4]
        state = {"met": "按时完成", "late": f"迟报 {chinese_duration(900 + n * 60)}",
                 "missed": "超时未报（已超 3小时5分钟）", "running": "进行中（剩余 1天2小时）"}[outcome]
        clocks.append({"id": n + 1, "kind": "progress_report" if n > 3 else "initial_report", "cycle": n,
                       "name": f"应急处置情况续报（第{n + 1}次）" if n > 3 else "事发地市场监督管理所报告",
                       "unit": DEPARTMENTS[n % len(DEPARTMENTS)], "starts_at": _iso(n * 60), "due_at": _iso(n * 60 + 60),
                       "status": {"met": "met", "late": "late", "missed": "overdue", "running": "pending"}[outcome],
                       "status_name": "", "outcome": outcome, "state": state,
                       "satisfied_at": _iso(n * 60 + 50) if outcome in ("met", "late") else None,
                       "late_seconds": 900 if outcome == "late" else None, "cancel_reason": None})
    return {
        "kind": "incident", "title": "事件简报", **HEADER,
        "incident": {"id": 1, "number": "YJ2026-00001", "title": "某学校食堂疑似食物中毒", "status": "active",
                     "status_name": "应急响应中", "category_name": "食物中毒", "lead_department_name": DEPARTMENTS[0],
                     "discovered_at": _iso(0), "created_at": _iso(5), "activated_at": _iso(65), "ended_at": None,
                     "archived_at": None, "end_reason": None, "ended_by": None,
                     "plan": "市场监管突发事件应急管理预案(试行) 2021-12-06.1"},
        "level": LEVELS[level],
        "contents": [["事件名称", "某学校食堂疑似食物中毒"], ["事件编号", "YJ2026-00001"], ["发生（发现）时间", "2026-11-20 09:00"],
                     ["地点", "城关镇某中学食堂"], ["信息来源", "县医院急诊科电话报告"], ["事件性质", "集体性食物中毒"],
                     ["事件类别", "食物中毒"], ["事件等级", f"{LEVELS[level]['label']} {LEVELS[level]['name']}"],
                     ["影响范围", "在校师生约20人出现腹痛、呕吐"], ["人员伤亡及财产损失", "20人就医，无死亡"],
                     ["发展趋势", "新增病例减少"], ["已采取的措施", "封存留样食品，暂停食堂供餐"],
                     ["后续工作", "应急处置情况续报（第2次）截止 2026-11-23 10:05"], ["牵头科室", DEPARTMENTS[0]],
                     ["事发地市场监督管理所", "城关市场监督管理所"]],
        "levels": [{"from": "未定级", "to": "未定级", "reason": "登记时未定级", "at": _iso(5), "by": "王五"},
                   {"from": "未定级", "to": LEVELS[level]["label"], "reason": "20人就医，定为重大", "at": _iso(40),
                    "by": "李四"}],
        "clocks": clocks,
        "clock_totals": {k: sum(1 for c in clocks if c["outcome"] == k) for k in OUTCOMES},
        "assignments": [{"id": n + 1, "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                         "task": f"第{n + 1}项任务：24小时内派出工作组实地调查取证，查清原因", "status": "done" if n % 3 else "pushed",
                         "status_name": "已完成" if n % 3 else "待签收", "created_at": _iso(65 + n),
                         "due_at": _iso(65 + 24 * 60), "acknowledged_at": _iso(70 + n) if n % 3 else None,
                         "done_at": _iso(300 + n) if n % 3 else None, "note": "已完成，详见报告" if n % 3 else ""}
                        for n in range(assignments)],
        "reports": [{"id": n + 1, "kind": "progress", "kind_name": "续报", "measure": None,
                     "body": f"第{n + 1}次续报：病例{20 - n}人，均已出院观察。" * 3, "submitted_at": _iso(600 + n * 60),
                     "by": "张三"} for n in range(reports)],
        "measures": [{"at": _iso(120), "what": "派出工作组实地调查", "body": "工作组已到达现场", "by": "张三"}],
        "escalation": {"available": True, "items": [{
            "item": "任务A12：24小时内派出工作组", "trigger": "assignment", "trigger_name": "任务未签收",
            "started_at": _iso(70), "status": "acknowledged", "status_name": "已签收", "stopped_at": _iso(80),
            "ack_by": "赵六", "ack_channel": "sms",
            "deliveries": [{"at": _iso(71), "channel": "sms", "channel_name": "短信", "to_name": "赵六",
                            "phone_masked": "+86138****0001", "status": "delivered", "status_name": "已送达",
                            "error": None},
                           {"at": _iso(76), "channel": "voice", "channel_name": "语音电话", "to_name": "赵六",
                            "phone_masked": "+86138****0001", "status": "failed", "status_name": "失败",
                            "error": "无人接听"}]}]},
        "timeline": [{"seq": n + 1, "at": _iso(n * 3), "actor": "应急办公室 张三", "action": "assignment.progress",
                      "what": "报告办理情况", "detail": f"食品安全协调督查科：第{n + 1}条处置进展，现场检查餐具消毒记录"}
                     for n in range(timeline)],
    }


def closing_doc(timeline: int = 60) -> dict:
    """Return a closing report document."""
    doc = incident_doc(timeline)
    doc.update(kind="closing", title="应急处置工作总结")
    doc["incident"].update(status="ended", status_name="应急状态已结束", ended_at=_iso(3000), end_reason="事态已得到控制",
                           ended_by="应急领导小组 刘一")
    doc["closing"] = {"status": "submitted", "status_name": "已提交，待审批", "version": 1,
                      "cause": "食堂从无证摊贩采购的豆角未煮熟，皂素中毒。", "handling": "封存食品，送检样品，约谈负责人。",
                      "aftermath": "患者全部出院，食堂整改后恢复供餐。", "lessons": "原料采购查验不严。",
                      "improvements": "开展校园食堂专项检查。", "investigators": "组长刘一，成员张三、李四",
                      "submitted_by": "张三", "submitted_at": _iso(3100), "decided_by": None, "decided_at": None,
                      "decision_note": None, "clock": {"due_at": _iso(3000 + 4 * 1440), "state": "按时完成"}}
    return doc


def accountability_doc(rows: int = 2000, units: int = 10) -> dict:
    """Return an accountability sheet with this many late or missed reports spread over the units."""
    unit_rows = []
    for u in range(units):
        problems = []
        for n in range(u, rows, units):
            late = n % 3 != 0
            problems.append({"deadline_id": n + 1, "incident_id": n // 4 + 1, "number": f"YJ2026-{n // 4 + 1:05d}",
                             "title": "某超市节日促销价格欺诈", "name": "应急处置情况续报（第2次）",
                             "unit": DEPARTMENTS[u % len(DEPARTMENTS)], "unit_code": f"u{u}", "due_at": _iso(n * 30),
                             "satisfied_at": _iso(n * 30 + 45) if late else None,
                             "outcome": "late" if late else "missed", "outcome_name": "迟报" if late else "漏报（超时未报）",
                             "seconds": 2700, "lateness": "45分钟" if late else "2天3小时"})
        late = sum(1 for p in problems if p["outcome"] == "late")
        unit_rows.append({"code": f"u{u}", "name": DEPARTMENTS[u % len(DEPARTMENTS)] + (f"{u}" if u >= 10 else ""),
                          "type": "department", "met": 40, "late": late, "missed": len(problems) - late, "running": 2,
                          "late_total": chinese_duration(late * 2700), "problems": problems})
    late = sum(u["late"] for u in unit_rows)
    missed = sum(u["missed"] for u in unit_rows)
    return {"kind": "accountability", "title": "迟报漏报情况表", **HEADER, "period": ["2026-01-01", "2026-11-20"],
            "unit": None, "incidents": rows // 4,
            "totals": {"met": 40 * units, "late": late, "missed": missed, "running": 2 * units,
                       "late_seconds_total": late * 2700, "late_total": chinese_duration(late * 2700)},
            "units": unit_rows,
            "chart": [{"label": u["name"], **{k: u[k] for k in OUTCOMES}} for u in unit_rows],
            "closed_without_response": [
                {"kind": "not_activated", "name": "决定不启动响应", "count": 1, "numbers": ["YJ2026-00007"]},
                {"kind": "false_report", "name": "不属实", "count": 2, "numbers": ["YJ2026-00009", "YJ2026-00012"]},
                {"kind": "duplicate", "name": "重复登记", "count": 0, "numbers": []}],
            "written": written_sample(),
            **inaction_sample(units)}


def written_sample() -> list[dict]:
    """Return the sheet's reports and their recipients: sent to another bureau's Yingji and signed for, recorded by
    fax (a 补录), one whose sending failed, one waiting for its sign-off."""
    return [
        {"number": "YJ2026-00001", "title": "某学校食堂疑似食物中毒", "name": "局报告", "due_at": _iso(30),
         "outcome": "late", "state": "迟报 12分钟", "document": "中市监〔2026〕1号", "signed": "签发 王五 2026-11-20 09:40",
         "recipients": "中牟县人民政府：2026-11-20 09:42 政务内网（政务内网回执 ZM-2026-001）\n"
                       "郑州市市场监督管理局：2026-11-20 09:41 应急指挥系统（局际）（17），2026-11-20 09:45 签收（郑州市局值班员）\n"
                       "河南省市场监督管理局（越级）：2026-11-20 10:05 应急指挥系统（局际）/实际：传真（传真 0371-65000000），补录·待确认"},
        {"number": "YJ2026-00001", "title": "某学校食堂疑似食物中毒", "name": "续报（第1次）", "due_at": _iso(1440),
         "outcome": "running", "state": "进行中", "document": None, "signed": "待签发",
         "recipients": "中牟县人民政府：尚未送达（政务内网）\n"
                       "郑州市市场监督管理局：尚未送达（应急指挥系统（局际），发送失败：单位“zhengzhou”未登记地址或已停用）"},
    ]


def inaction_sample(units: int) -> dict:
    """Return the sheet's 不作为情况: per unit one task overdue, one declined (rejected), one never acknowledged."""
    rows = []
    for u in range(units):
        base = {"number": f"YJ2026-{u + 1:05d}", "title": "某超市节日促销价格欺诈", "measure": None,
                "due_at": _iso(u * 60), "decline_status_name": None}
        rows.append({"code": f"u{u}", "name": DEPARTMENTS[u % len(DEPARTMENTS)] + (f"{u}" if u >= 10 else ""),
                     "counts": {"overdue": 1, "declined": 1, "declined_pending": 0, "unacknowledged": 1},
                     "items": [
                         {**base, "task": "排查辖区超市促销价格", "status_name": "办理中", "problem": "overdue",
                          "problem_name": "超时未完成", "what": "超过完成时限仍未完成，已超 3小时20分钟"},
                         {**base, "task": "24小时内派出工作组", "measure": "派出工作组实地调查", "status_name": "已签收",
                          "problem": "declined", "problem_name": "否定报备", "decline_status_name": "指挥部不同意",
                          "what": "否定报备（指挥部不同意）：人员不足；王指挥审批，不同意理由：抽调执法人员"},
                         {**base, "task": "保障应急车辆", "status_name": "待签收", "problem": "unacknowledged",
                          "problem_name": "未签收", "what": "推送后 1小时5分钟 仍未签收"}]})
    return {"inaction": rows, "inaction_totals": {"overdue": units, "declined": units, "declined_pending": 0,
                                                  "unacknowledged": units, "departments": units}}


def daily_doc(incidents: int = 6) -> dict:
    """Return a daily situation report across this many open incidents."""
    rows = []
    for n in range(incidents):
        level = ("I", "II", "III", "IV")[n % 4]
        rows.append({"id": n + 1, "number": f"YJ2026-{n + 1:05d}", "title": "某商场电梯伤人事故", "level": LEVELS[level],
                     "status": "active", "status_name": "应急响应中", "lead_department_name": DEPARTMENTS[8],
                     "discovered_at": _iso(n * 60), "clocks": {"met": 3, "late": 1, "missed": n % 2, "running": 2},
                     "next_clocks": [{"name": "应急处置情况续报（第2次）", "due_at": _iso(2000), "state": "进行中（剩余 5小时）",
                                      "outcome": "running"}],
                     "open_assignments": 3, "unacknowledged": 1, "declined": n % 2, "last_report_at": _iso(500)})
    return {"kind": "daily", "title": "每日汇总", **HEADER, "day": "2026-11-20",
            "window": [_iso(-540), _iso(900)],
            "totals": {"open": incidents, "active": incidents, "ended": 0, "registered": 0, "new_today": 2,
                       "overdue_now": 3, "late_today": 1, "missed_today": 2, "unacknowledged": incidents},
            "by_level": [{"level": LEVELS[lv], "count": sum(1 for r in rows if r["level"]["code"] == lv)}
                         for lv in ("I", "II", "III", "IV") if any(r["level"]["code"] == lv for r in rows)],
            "incidents": rows,
            "events": [{"at": _iso(n * 20), "number": "YJ2026-00001", "what": "报送报告", "detail": "续报，报送时间 2026-11-20 10:00",
                        "actor": "应急办公室 张三"} for n in range(10)],
            "problems": accountability_doc(6, 3)["units"][0]["problems"],
            "chart": [{"label": "应急处置情况续报", "met": 5, "late": 2, "missed": 1, "running": 4},
                      {"label": "事发地市场监督管理所报告", "met": 6, "late": 0, "missed": 0, "running": 0}]}


CATEGORIES = ("餐饮服务", "食品", "网络购物", "价格收费", "产品质量", "药品", "化妆品", "医疗器械", "特种设备（电梯、锅炉、游乐设施等）",
              "计量（缺斤短两等）", "广告宣传", "传销、直销", "其他")
AREAS = ("城关", "韩寺", "官渡", "狼城岗", "万滩", "白沙", "郑庵", "黄店")


def complaints_weekly_doc(businesses: int = 10, departments: int = 8) -> dict:
    """Return a weekly complaints summary for the week of Monday 16 November 2026 (figures only)."""
    cats = [{"code": f"c{n}", "name": name, "complaint": 40 - 3 * n, "tipoff": n % 4, "total": 40 - 3 * n + n % 4}
            for n, name in enumerate(CATEGORIES)]
    total = sum(c["total"] for c in cats)
    tipoffs = sum(c["tipoff"] for c in cats)
    status = {"complaint": {"received": 30, "accepted": 120, "refused": 25, "mediating": 60, "closed": 0},
              "tipoff": {"filed": 6, "not_filed": 5, "received": 4, "closed": 0}}
    status["complaint"]["closed"] = total - tipoffs - 235
    status["tipoff"]["closed"] = tipoffs - 15
    rows = [{"kind": k, "name": {"complaint": "投诉", "tipoff": "举报"}[k],
             **dict.fromkeys(("received", "accepted", "refused", "mediating", "closed", "filed", "not_filed"), 0),
             **v, "total": sum(v.values())} for k, v in status.items()]
    limits = [{"kind": "acceptance", "name": "作出受理或不予受理决定", "met": 150, "late": 6, "missed": 2, "running": 0},
              {"kind": "mediation", "name": "终结调解", "met": 70, "late": 3, "missed": 1, "running": 0},
              {"kind": "filing_decision", "name": "作出是否立案决定", "met": 11, "late": 1, "missed": 0, "running": 0}]
    met = sum(r["met"] for r in limits)
    ended = sum(r["met"] + r["late"] + r["missed"] for r in limits)
    return {
        "kind": "complaints_weekly", "title": "每周投诉举报情况汇总", **HEADER,
        "week": {"monday": "2026-11-16", "sunday": "2026-11-22", "year": 2026, "number": 47,
                 "from": "2026-11-15T16:00:00+00:00", "to": "2026-11-22T16:00:00+00:00", "complete": True},
        "received": {"total": total, "complaints": total - tipoffs, "tipoffs": tipoffs, "amount": 48213.5},
        "previous": {"total": total - 37, "complaint": total - tipoffs - 35, "tipoff": tipoffs - 2},
        "status": rows,
        "handled": [{"kind": "complaint", "name": "投诉", "triaged": 301, "accepted": 160, "refused": 25, "mediating": 70,
                     "filed": 0, "not_filed": 0, "closed": 140},
                    {"kind": "tipoff", "name": "举报", "triaged": 19, "accepted": 0, "refused": 0, "mediating": 0,
                     "filed": 6, "not_filed": 5, "closed": 3}],
        "categories": cats,
        "areas": [{"name": name, "count": 60 - 7 * n} for n, name in enumerate(AREAS)] + [{"name": "未识别", "count": 12}],
        "businesses": [{"name": f"中牟县某某餐饮管理有限公司第{n + 1}分店", "count": 30 - 2 * n, "tipoffs": n % 3,
                        "amount": 1288.5 * (n + 1), "categories": ["餐饮服务", "食品"][: 1 + n % 2],
                        "areas": [AREAS[n % len(AREAS)]]} for n in range(businesses)],
        "limits": limits, "limits_met_rate": round(met / ended, 4), "overdue_now": 5,
        "departments": [{"code": f"d{n}", "name": DEPARTMENTS[n % len(DEPARTMENTS)], "met": 30 - n, "late": n % 3,
                         "missed": n % 2, "running": 0, "overdue_now": n % 2} for n in range(departments)],
        "linked_to_incidents": 31,
        "surges": [{"dimension": "business", "dimension_name": "经营者", "label": "张记烧烤", "count": 31, "peak": 35,
                    "window": "1小时", "opened_at": _iso(-4000), "ended_at": _iso(-3000), "status_name": "已回落",
                    "action": "提出Ⅳ级事件 YJ2026-00007"}],
        "warnings": [{"title": "关于餐饮服务消费的消费预警提示", "status": "published", "status_name": "已发布",
                      "drafted_at": _iso(-3990), "published_at": _iso(-3000)}],
        "warnings_published": 1,
    }


def official_document(sections: int = 3, paragraphs: int = 3, *, upward: bool = True) -> OfficialDocument:
    """Return an official document (公文): a report with headings of every level, attachments and 抄送.

    `sections` first-level headings of `paragraphs` paragraphs each make the body as long as wanted.
    """
    words = ("接报后，我局立即启动食品安全事故应急预案，主要负责同志带队赶赴现场，会同县卫生健康委员会、县教育局"
             "开展调查处置，封存留样食品和可疑原料，暂停该食堂供餐，对患病师生逐一登记并协助医院救治。")
    titles = ("事件基本情况", "应急处置情况", "原因调查和抽样检验", "善后处置和风险防控", "下一步工作打算")
    body: list = []
    for n in range(sections):
        body.append(Heading(titles[n % len(titles)] + ("" if n < len(titles) else f"（续{n // len(titles)}）")))
        body.append(f"2026年11月20日9时，第{n + 1}部分：" + words * 2)
        body.append(Heading("加强组织领导。", 2, "成立由局长任组长的应急处置工作领导小组，下设综合协调、调查取证、"
                                                  "抽样检验和宣传报道四个工作组，明确责任分工。"))
        body.append(Heading("开展现场调查", 2))
        body.append(Heading("封存可疑食品。", 3, "对食堂库存的米、面、食用油及调味品全部封存，共计12批次。"))
        body.append(Heading("流行病学调查。", 4, "配合疾病预防控制机构对20名就诊人员逐一询问。"))
        for k in range(max(0, paragraphs - 1)):
            body.append(words * (k % 3 + 1))
    return OfficialDocument(
        issuer="中牟县市场监督管理局", issuer_mark="中牟县市场监督管理局文件", doc_number="中市监〔2026〕12号",
        signer="张三" if upward else None, urgency="特急",
        title="中牟县市场监督管理局关于某学校食堂疑似食物中毒事件应急处置情况的报告",
        main_recipients=["郑州市市场监督管理局", "中牟县人民政府"] if upward else ["各市场监督管理所", "局机关各科室"],
        body=body, attachments=["某学校食堂疑似食物中毒事件处置时间线", "抽样检验结果汇总表"],
        date=date(2026, 12, 7), note="联系人：王五，电话：0371-62171234",
        copy_to=["县卫生健康委员会", "县教育局", "城关镇人民政府"], printer="中牟县市场监督管理局办公室",
        printed_on=date(2026, 12, 7))


def all_docs() -> dict[str, dict]:
    """Return one sample document of each kind."""
    return {"incident": incident_doc(), "daily": daily_doc(), "closing": closing_doc(),
            "accountability": accountability_doc(120, 6), "complaints_weekly": complaints_weekly_doc()}


if __name__ == "__main__":
    from reports.render import render

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for kind, doc in all_docs().items():
        data, pages = render(doc, "简报编号 B000000")
        (out / f"{kind}.pdf").write_bytes(data)
        print(f"{kind}: {pages} pages, {len(data)} bytes")
    data, pages = render_with_pages(official_document())
    (out / "official_document.pdf").write_bytes(data)
    print(f"official_document: {pages} pages, {len(data)} bytes")
