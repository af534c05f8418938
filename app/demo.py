"""Demo data for a first look: users of every role and incidents at every stage.

The stories are played through the real use cases with `now` set in the past, so the
clocks, the audit trail and the accountability are exactly what the system would hold.

Escalation: every assignment of the stories was acknowledged by its department in the
story, and the office acknowledged the reminders of the clocks that ran out long before
the demo was loaded, so the scheduler's first run does not ring them all at once. One
assignment is fresh and nobody signs it: a few minutes after `make run` its chain goes on
by itself, SMS to the food department's officer on duty, then a call, then the department
head, then the leadership, in the log (console senders) and on the boards.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from flask import Flask
from sqlalchemy import select

from app.calendar import calendar_for
from incidents.response import assignments, claims, closing, dispositions, flows, recipients, service, sign_off
from incidents.response.closing import ClosingForm
from incidents import complaints, escalation
from incidents.people import duty
from incidents.response.firing import fire_due
from incidents.models import ESC_RUNNING, Escalation, User
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user

DEMO_PASSWORD = "yingji-demo"
DEMO_USERS = (
    # login, name, role, unit, phone
    ("admin", "系统管理员", "admin", None, None),
    ("leader", "申局长", "leader", None, "+8613800000010"),
    ("commander", "吕副局长", "commander", None, "+8613800000011"),
    ("office", "李顺岭", "office", "office", "+8613800000012"),
    ("food", "王值班（食品安全协调督查科）", "duty_officer", "food_coord", "+8613800000013"),
    ("prices", "赵值班（价格监督检查）", "duty_officer", "prices", "+8613800000014"),
    ("anti", "钱值班（反不正当竞争）", "duty_officer", "anti_unfair", "+8613800000015"),
    ("sepe", "孙值班（特种设备安全监察科）", "duty_officer", "special_equipment", "+8613800000016"),
    ("food_head", "陈科长（食品安全协调督查科）", "department_head", "food_coord", "+8613800000019"),
    ("sepe_head", "郑科长（特种设备安全监察科）", "department_head", "special_equipment", "+8613800000020"),
    ("centre", "周值班（315投诉中心）", "duty_officer", "complaints", None),
    ("catering", "吴值班（餐饮服务监督管理科）", "duty_officer", "catering", "+8613800000021"),
    ("chengguan", "城关所", "station", "chengguan", "+8613800000017"),
    ("guandu", "官渡所", "station", "guandu", "+8613800000018"),
    ("viewer", "观察员", "viewer", None, None),
)
LOADER = SystemActor(name="demo")
# The fresh assignment nobody signs was pushed this long before the demo was loaded: its
# chain (Ⅱ: board at once, SMS after 5 minutes) sends the first SMS about two minutes later.
FRESH_AGE = timedelta(minutes=3)
FRESH_TASK = "排查涉事学校周边餐饮单位，今日内报告排查情况"


MASS_INCIDENT_SUMMARY = ClosingForm(
    investigators="组长吕副局长，成员李顺岭、东风路所所长",
    cause="市场主办方上调摊位费未与商户协商，商户集体停业表达诉求。",
    handling="指挥部当日提出处理意见，分管局长赴现场；约谈主办方，暂缓调价，组织双方协商。",
    aftermath="主办方与商户代表签订协议，全部商户次日恢复营业，市场秩序正常。",
    lessons="对市场主办方收费行为的日常监管不足，商户诉求渠道不畅。",
    improvements="建立市场主办方收费调整报告制度，每季度召开商户座谈会。")
MASS_INCIDENT_REPORT = ("关于东风路某综合市场商户集体罢市事件应急处置情况的报告：事件经过、处置情况、原因分析和"
                        "整改措施见应急处置工作总结。")


def _facts(**kw) -> service.NewIncident:
    base = dict(station=None, scope="", trend="", measures_taken="", casualties="无", level=None, level_reason=None)
    base.update(kw)
    return service.NewIncident(**base)


def load(app: Flask) -> Iterator[str]:
    """Create the demo users and incidents once; yield what was done."""
    wiring = app.extensions["yingji"]
    plan, now = wiring.plan, wiring.clock.now()
    with wiring.sessions() as session:
        if session.scalar(select(User.id).where(User.login == "leader")) is not None:
            yield "demo data already loaded; nothing changed"
            return
        people: dict[str, User] = {}
        for login, name, role, unit, phone in DEMO_USERS:
            user, _token = create_user(session, plan, name=name, role=role, unit=unit, phone=phone, login=login,
                                       password=DEMO_PASSWORD, now=now - timedelta(days=30), actor=LOADER)
            people[login] = user
        session.commit()
        _rosters(session, plan, people, now)
        session.commit()

        def at(**ago) -> object:
            return now - timedelta(**ago)

        # 1. Ⅱ food poisoning, active: initial on time, bureau report 10 minutes late, work team sent.
        inc = service.register_incident(session, plan, actor=people["chengguan"], now=at(hours=5, minutes=50),
                                        facts=_facts(
            title="城关镇某中学食堂疑似集体食物中毒", category="food_poisoning", discovered_at=at(hours=6),
            location="城关镇某中学食堂", station="chengguan", source="县人民医院急诊科电话报告",
            nature="疑似集体性食物中毒", scope="在校师生23人出现腹痛、呕吐、腹泻", trend="新增病例减少，病情平稳",
            measures_taken="封存留样食品和原料，暂停食堂供餐，配合卫健部门流调", casualties="23人就医，无危重，无死亡"))
        flows.grade(session, incident_id=inc.id, level="II", reason="集体性食物中毒，就医人数超过20人",
                      actor=people["office"], now=at(hours=5, minutes=10))
        # The station phoned its initial report in to the bureau and to the township government at 5:20 ago and
        # typed both in 20 minutes later (补录): the leadership confirms the claimed times on the duty phone logs,
        # so the phoned time judges the clock.
        initial = flows.submit_report(session, incident_id=inc.id, kind="initial",
                                      body="城关所初报：学校食堂疑似食物中毒，23人就医。（已于电话报告县局值班室和城关镇政府，现补录）",
                                      submitted_at=at(hours=5, minutes=20), actor=people["chengguan"],
                                      now=at(hours=5))
        recipients.record_delivery(session, report_id=initial.id, code="local_government",
                                   delivered_at=at(hours=5, minutes=20), channel="phone",
                                   reference="电话报告城关镇党政办", actor=people["chengguan"], now=at(hours=5))
        claims.review(session, report_id=initial.id, decision="confirmed", evidence_kind="phone_log",
                      evidence_ref="县局值班电话记录：城关所来电报告", note=None, actor=people["leader"],
                      now=at(hours=4, minutes=50))
        claims.review(session, report_id=initial.id, recipient="local_government", decision="confirmed",
                      evidence_kind="phone_log", evidence_ref="城关镇党政办值班电话记录：城关所来电报告", note=None,
                      actor=people["leader"], now=at(hours=4, minutes=50))
        # The office drafts the bureau's report, the leadership signs it off (签发) and the office sends it to the
        # county government and the city bureau through 政务内网, 10 minutes past the 30.
        bureau = flows.submit_report(session, incident_id=inc.id, kind="bureau",
                                     body="学校食堂疑似集体食物中毒，23人就医，已封存留样食品、暂停供餐。",
                                     actor=people["office"], now=at(hours=4, minutes=42))
        sign_off.sign_off(session, report_id=bureau.id, actor=people["leader"], now=at(hours=4, minutes=41))
        for code, receipt in (("county_government", "政务内网回执 ZMX-2026-0398"),
                              ("city_bureau", "政务内网回执 ZZS-2026-1127")):
            recipients.record_delivery(session, report_id=bureau.id, code=code, delivered_at=None,
                                       channel="gov_intranet", reference=receipt, actor=people["office"],
                                       now=at(hours=4, minutes=40))
        # Plan §三(三): the leadership names the command HQ with the activation.
        flows.activate(session, incident_id=inc.id, actor=people["leader"], now=at(hours=4, minutes=30),
                       hq={"commander": people["commander"].id, "members": [people["office"].id, people["food"].id],
                           "reason": "分管局长任总指挥"})
        food_tasks = {a.clock: a for a in inc.assignments if a.department == "food_coord"}
        team = food_tasks["work_team_dispatched"]
        assignments.acknowledge(session, assignment_id=team.id, actor=people["food"], now=at(hours=4, minutes=25))
        assignments.progress(session, assignment_id=team.id, note="工作组已出发", actor=people["food"],
                             now=at(hours=4))
        flows.complete_assignment(session, assignment_id=team.id, note="食品安全协调督查科、餐饮科组成工作组赶赴现场。",
                             actor=people["food"], now=at(hours=2))
        office_task = next(a for a in inc.assignments if a.department == "office")
        assignments.acknowledge(session, assignment_id=office_task.id, actor=people["office"],
                                now=at(hours=4, minutes=28))
        measures = food_tasks["measures_issued"]
        assignments.acknowledge(session, assignment_id=measures.id, actor=people["food"], now=at(hours=4, minutes=26))
        assignments.progress(session, assignment_id=measures.id, note="应对措施草案已起草，待指挥部审定",
                             actor=people["food"], now=at(hours=1))
        _support_desks_sign(session, plan, inc, now=at(hours=4, minutes=20))
        session.commit()
        food_poisoning = inc.id
        yield f"{inc.number} Ⅱ级 食物中毒：应急响应中（局报告迟报10分钟）"

        # 2. Ⅲ price anomaly, registered by the station and graded, not yet activated: the station's 1-hour report
        #    is running (the bureau's 30 minutes start with it). The office has drafted the bureau's report ahead;
        #    it waits for the leadership's sign-off (签发) before it goes to the county government and the city.
        inc = service.register_incident(session, plan, actor=people["guandu"], now=at(minutes=35), facts=_facts(
            title="官渡镇农贸市场蔬菜价格异常上涨", category="price_anomaly", discovered_at=at(minutes=40),
            location="官渡镇农贸市场", station="guandu", source="价格监测点报告",
            nature="价格异常波动", scope="叶菜类价格单日上涨超过50%", trend="仍在上涨",
            measures_taken="派员赴市场核查价格"))
        flows.grade(session, incident_id=inc.id, level="III", reason="县域范围内影响较大", actor=people["office"],
                    now=at(minutes=30))
        flows.submit_report(session, incident_id=inc.id, kind="bureau",
                            body="官渡镇农贸市场叶菜类价格单日上涨超过50%，官渡所已派员核查，拟报县政府和市局。",
                            actor=people["office"], now=at(minutes=15))
        session.commit()
        yield f"{inc.number} Ⅲ级 价格异常：已登记，事发地初报计时中，局报告待领导签发"

        # 3. Ungraded: a station's fresh report of counterfeit goods; the 1-hour clock runs anyway.
        inc = service.register_incident(session, plan, actor=people["chengguan"], now=at(minutes=8), facts=_facts(
            title="城关镇商超发现疑似假冒品牌白酒", category="counterfeit", discovered_at=at(minutes=10),
            location="城关镇某商超", station="chengguan", source="消费者举报", nature="疑似制售假冒伪劣商品",
            scope="一家商超，约40箱"))
        session.commit()
        yield f"{inc.number} 未定级 假冒白酒：事发地初报计时中"

        # 4. Ⅳ pyramid selling, active for two days: no 1-hour/30-minute clocks, weekly progress.
        inc = service.register_incident(session, plan, actor=people["office"], now=at(days=2, hours=1), facts=_facts(
            title="韩寺镇疑似传销聚集活动", category="pyramid_selling", discovered_at=at(days=2, hours=2),
            location="韩寺镇某出租屋", station="hansi", source="群众举报", nature="疑似传销",
            scope="约30人聚集", trend="已控制", level="IV", level_reason="个别地方的传销事件"))
        flows.activate(session, incident_id=inc.id, actor=people["leader"], now=at(days=2))
        case_team = next(a for a in inc.assignments if a.department == "anti_unfair")
        assignments.acknowledge(session, assignment_id=case_team.id, actor=people["anti"],
                                now=at(days=1, hours=23, minutes=50))
        assignments.progress(session, assignment_id=case_team.id, note="专案小组已进驻韩寺镇，正在取证",
                             actor=people["anti"], now=at(days=1, hours=20))
        _support_desks_sign(session, plan, inc, now=at(days=1, hours=23, minutes=45), people=people)
        session.commit()
        yield f"{inc.number} Ⅳ级 传销：应急响应中，每周续报"

        # 5. Ⅱ elevator accident: the station never filed its 1-hour report (漏报), response active.
        inc = service.register_incident(session, plan, actor=people["office"], now=at(hours=30), facts=_facts(
            title="某商场自动扶梯伤人事故", category="special_equipment_accident", discovered_at=at(hours=30),
            location="青年路某商场", station="qingnianlu", source="110联动转报", nature="特种设备事故",
            scope="3人受伤", trend="已停用封存", level="II", level_reason="特种设备事故致多人受伤",
            casualties="3人受伤，无死亡"))
        flows.activate(session, incident_id=inc.id, actor=people["leader"], now=at(hours=29))
        for task in (a for a in inc.assignments if a.department == "special_equipment"):
            assignments.acknowledge(session, assignment_id=task.id, actor=people["sepe"],
                                    now=at(hours=28, minutes=40))
        _support_desks_sign(session, plan, inc, now=at(hours=28, minutes=30), people=people)
        session.commit()
        yield f"{inc.number} Ⅱ级 扶梯事故：事发地初报漏报"

        # 6. Ⅲ mass incident, ended yesterday: the closing report clock (4 days) runs.
        inc = service.register_incident(session, plan, actor=people["office"], now=at(days=3), facts=_facts(
            title="某市场商户集体罢市", category="mass_incident", discovered_at=at(days=3, minutes=20),
            location="东风路某综合市场", station="dongfenglu", source="市场主办方报告", nature="群体性事件",
            scope="约60户商户", trend="已平息", level="III", level_reason="涉及市场监管职能的罢市"))
        initial = flows.submit_report(session, incident_id=inc.id, kind="initial", body="东风路所初报。",
                                      actor=people["office"], now=at(days=2, hours=23, minutes=30))
        recipients.record_delivery(session, report_id=initial.id, code="local_government", delivered_at=None,
                                   channel="phone", reference="电话报告东风路街道办事处", actor=people["office"],
                                   now=at(days=2, hours=23, minutes=30))
        bureau = flows.submit_report(session, incident_id=inc.id, kind="bureau", body="东风路某综合市场约60户商户罢市。",
                                     actor=people["office"], now=at(days=2, hours=23, minutes=12))
        sign_off.sign_off(session, report_id=bureau.id, actor=people["leader"], now=at(days=2, hours=23, minutes=11))
        for code in ("county_government", "city_bureau"):
            recipients.record_delivery(session, report_id=bureau.id, code=code, delivered_at=None,
                                       channel="gov_intranet", reference=f"政务内网回执 {code}",
                                       actor=people["office"], now=at(days=2, hours=23, minutes=10))
        # The command's 总指挥 ends a Ⅲ (plan §五(一)), so the leadership names the HQ on activation.
        flows.activate(session, incident_id=inc.id, actor=people["leader"], now=at(days=2, hours=23),
                       hq={"commander": people["commander"].id})
        for task in [a for a in inc.assignments if a.status == "pushed" and a.department == "office"]:
            assignments.acknowledge(session, assignment_id=task.id, actor=people["office"],
                                    now=at(days=2, hours=22, minutes=50))
        _support_desks_sign(session, plan, inc, now=at(days=2, hours=22, minutes=45), people=people)
        flows.submit_report(session, incident_id=inc.id, kind="measure", measure="handling_opinion",
                              body="指挥部提出处理意见和措施，分管局长赴现场。", actor=people["commander"],
                              now=at(days=2, hours=10))
        # Plan §五(一): the command's handling summary, approved by the leadership, decides the end.
        closing.submit(session, incident_id=inc.id, form=MASS_INCIDENT_SUMMARY, actor=people["office"],
                       now=at(days=1, hours=3))
        closing.approve(session, incident_id=inc.id, note="同意结束应急状态", actor=people["leader"],
                        now=at(days=1, hours=1))
        service.end_emergency(session, incident_id=inc.id, reason="商户恢复营业，诉求已协调解决",
                              actor=people["commander"], now=at(days=1))
        # The written report went up this morning, signed off by the leadership; the county government signed for
        # it, the city bureau not yet.
        written = flows.submit_report(session, incident_id=inc.id, kind="closing", body=MASS_INCIDENT_REPORT,
                                      actor=people["office"], now=at(hours=3))
        sign_off.sign_off(session, report_id=written.id, actor=people["leader"], now=at(hours=2, minutes=50))
        recipients.record_delivery(session, report_id=written.id, code="county_government", delivered_at=None,
                                   channel="gov_intranet", reference="政务内网回执 ZMX-2026-0412",
                                   actor=people["office"], now=at(hours=2, minutes=30))
        session.commit()
        yield f"{inc.number} Ⅲ级 罢市：应急状态已结束，书面报告已送县政府、待市局签收"

        # 7. A tip-off that proved false on the spot: the office closes it without a response (不属实); the
        #    station's hour ran out before the check and stays missed on the record.
        inc = service.register_incident(session, plan, actor=people["guandu"], now=at(hours=26), facts=_facts(
            title="官渡镇某批发部疑似销售过期食品", category="food_circulation_safety", discovered_at=at(hours=27),
            location="官渡镇某食品批发部", station="guandu", source="群众电话举报", nature="疑似销售过期食品"))
        dispositions.close_without_response(session, incident_id=inc.id, kind="false_report",
                                            reason="官渡所现场核查：在售食品均在保质期内，举报不属实",
                                            actor=people["office"], now=at(hours=25))
        session.commit()
        yield f"{inc.number} 不属实：未启动响应即关闭（漏报的初报仍在迟报漏报情况表上）"

        # The clocks that ran out while nobody was watching (the escalator accident's station
        # report and measures) fire now, as the scheduler's first run would; the office has
        # known for hours and acknowledges their reminders, so they do not ring at start.
        fire_due(wiring.sessions, now=now)
        for row in session.scalars(select(Escalation).where(Escalation.status == ESC_RUNNING,
                                                            Escalation.deadline_id.is_not(None))):
            escalation.acknowledge(session, row.id, by=people["office"], now=now)
        session.commit()

        # The one that escalates: pushed minutes ago, not signed yet.
        fresh = assignments.assign(session, incident_id=food_poisoning, department="food_coord", task=FRESH_TASK,
                                   actor=people["office"], now=now - FRESH_AGE, due_at=now + timedelta(hours=8))
        session.commit()
        yield (f"任务A{fresh.id}（食品安全协调督查科）待签收：无人签收时按Ⅱ级升级链依次短信、电话通知值班人员王值班、"
               f"科室负责人陈科长、领导小组（控制台日志可见）")
        yield from _complaints(session, plan, people, now)
        session.commit()
    yield f"demo users (password {DEMO_PASSWORD}): " + ", ".join(u[0] for u in DEMO_USERS)


DEMO_COMPLAINTS = (
    # hours ago, what the public typed, and what the centre did with it
    (50, {"kind": "complaint", "name": "张女士", "phone": "13812345678", "address": "中牟县城关镇青年路8号",
          "business_name": "老街烧烤", "business_address": "中牟县城关镇人民路1号", "category": "catering",
          "purchased_at": "", "amount": "128.50", "order_no": "", "demand": "refund",
          "description": "在该店吃烧烤后全家腹泻，要求退款并赔偿医药费。"}, "accept"),
    (26, {"kind": "complaint", "name": "李先生", "phone": "13987654321", "address": "中牟县官渡镇",
          "business_name": "万家福超市", "business_address": "中牟县官渡镇建设路18号", "category": "prices",
          "purchased_at": "", "amount": "36", "order_no": "", "demand": "refund",
          "description": "鸡蛋标价每斤5.8元，结账按7.8元收取，要求退还差价。"}, "triage"),
    (3, {"kind": "tipoff", "name": "", "phone": "13700001111", "address": "",
         "business_name": "某小作坊", "business_address": "中牟县城关镇东关村", "category": "food",
         "purchased_at": "", "amount": "", "order_no": "", "demand": "",
         "description": "村东头有小作坊用地沟油炸制油条，卫生条件很差。"}, None),
)


def _complaints(session, plan, people: dict[str, User], now) -> Iterator[str]:
    """A few 12315 complaints at different stages, for the complaint centre's page."""
    calendar = calendar_for(session, plan)
    for hours, data, step in DEMO_COMPLAINTS:
        at = now - timedelta(hours=hours)
        receipt = complaints.submit(session, plan, calendar, complaints.validate(plan, data, now=at), now=at)
        number = receipt.tracking_no
        if step in ("triage", "accept"):
            department = plan.complaints.category(data["category"]).department
            complaints.triage(session, plan, tracking_no=number, department=department, note=None,
                              actor=people["office"], now=at + timedelta(hours=1))
        if step == "accept":
            complaints.change_status(session, plan, calendar, tracking_no=number, to="accepted",
                                     actor=people["office"], now=at + timedelta(hours=2))
        yield f"12315 {number}：{data['business_name']}（{ {None: '待分流', 'triage': '已分流', 'accept': '已受理'}[step] }）"


def _support_desks_sign(session, plan, incident, *, now, people: dict[str, User] | None = None) -> None:
    """The support departments' duty desks (office, publicity, finance, personnel, legal) sign their tasks."""
    for task in list(incident.assignments):
        if task.status != "pushed" or task.department == incident.lead_department:
            continue
        if task.department == "office" and people is not None:
            actor = people["office"]
        else:
            actor = SystemActor(name=f"{plan.department(task.department).name}值班员", role="duty_officer",
                                unit=task.department)
        assignments.acknowledge(session, assignment_id=task.id, actor=actor, now=now)


def _rosters(session, plan, people: dict[str, User], now) -> None:
    """Eight-hour shifts from yesterday to two days ahead; one gap and one phone missing, on purpose."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=now.hour % 8 + 8)
    officers = {"office": "office", "food_coord": "food", "prices": "prices", "anti_unfair": "anti",
                "special_equipment": "sepe"}
    for department, login in officers.items():
        cursor = start
        while cursor < now + timedelta(days=2):
            end = cursor + timedelta(hours=8)
            if not (department == "office" and cursor > now + timedelta(hours=20)
                    and cursor <= now + timedelta(hours=28)):  # the office's gap tomorrow night
                duty.add_shift(session, plan, department=department, starts_at=cursor, ends_at=end,
                               officer_id=people[login].id, actor=LOADER, now=now - timedelta(days=1))
            cursor = end
    # A station keeps its own roster too (holiday duty is checked for every unit): 城关所 round the clock.
    duty.add_shift(session, plan, department="chengguan", starts_at=start, ends_at=now + timedelta(days=2),
                   officer_id=people["chengguan"].id, actor=LOADER, now=now - timedelta(days=1))
    # The 12315 centre's evening officer has not registered a phone yet.
    duty.add_shift(session, plan, department="complaints", starts_at=start, ends_at=now + timedelta(days=2),
                   officer_name="周值班(315投诉中心)", actor=LOADER, now=now - timedelta(days=1))
