"""Every PDF renders whatever the forms accept: 20,000-character fields, 500 progress reports, 300 tasks.

The record is made through the domain's use cases (as the forms would make it), each PDF is asked for
through the API as a leader would, and read back with pdftotext: the end of every long text is there.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from incidents.response import assignments, closing, flows, service
from incidents.response.closing import ClosingForm
from incidents.models import User
from tests.helpers import incident_payload, iso
from tests.test_reports_pdf import flat, pdf_text

LONG = 20_000


def long_text(tag: str) -> str:
    """A text as long as a form takes: Chinese prose in paragraphs, a table pasted in, an URL, an odd character."""
    unit = (f"{tag}：现场检查发现后厨餐具消毒记录缺失三天，留样冰箱温度记录不全；已责令整改并封存可疑食品送检。\n"
            "检查项目\t结果\t备注\nhttps://example.gov.cn/notice/" + "a1b2c3d4e5" * 6 + "\t合格\t—\n")
    body = (unit * (LONG // len(unit) + 1))
    end = f"【{tag}结束】"
    return body[:LONG - len(end)] + end


@pytest.fixture
def record(app, wiring, users, clock):
    """A Ⅱ response with every text at its longest, 500 progress reports, 300 tasks, then ended and summarised."""
    app.config["REPORTS_WAIT"] = 300
    fields = {f: long_text(label) for f, label in (("source", "来源"), ("nature", "性质"),
                                                    ("scope", "影响范围"), ("trend", "趋势"),
                                                    ("measures_taken", "已采取的措施"), ("casualties", "伤亡"))}
    r = users["office"].post("/api/v1/incidents", json=incident_payload(
        discovered_at=iso(clock.now()), level="II", title="长" * 200, location="城关镇" * 100, **fields))
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    with wiring.sessions() as s:
        office, leader = s.get(User, users["office"].id), s.get(User, users["leader"].id)
        flows.activate(s, incident_id=iid, actor=leader, now=clock.now())
        s.commit()
        for n in range(300):
            clock.advance(seconds=20)
            task = ("排查" + "周边餐饮单位食品安全状况，" * 160)[:1999] + "。" if n % 50 == 0 else f"第{n}项任务：核查供货商台账"
            assignments.assign(s, incident_id=iid, department=("prices", "catering", "food_circulation")[n % 3],
                               task=task, actor=office, now=clock.now())
            if n % 100 == 99:
                s.commit()
        s.commit()
        for n in range(500):
            clock.advance(minutes=3)
            body = long_text(f"续报{n}") if n in (0, 250, 499) else f"第{n}次续报：病例{n % 30}人，情况平稳。"
            flows.submit_report(s, incident_id=iid, kind="progress", body=body, actor=office, now=clock.now())
            if n % 50 == 49:
                s.commit()
        s.commit()
        closing.submit(s, incident_id=iid, form=ClosingForm(
            cause=long_text("原因"), handling=long_text("处置经过"), aftermath=long_text("善后"),
            lessons=long_text("教训"), improvements=long_text("改进"), investigators="调查组：" + "张三、" * 300),
            actor=office, now=clock.now())
        clock.advance(minutes=30)
        closing.approve(s, incident_id=iid, actor=leader, now=clock.now(), note=long_text("审批意见")[:2000])
        clock.advance(hours=1)
        service.end_emergency(s, incident_id=iid, reason=long_text("结束理由")[:2000], actor=leader, now=clock.now())
        s.commit()
    clock.advance(minutes=5)
    return iid


def read(user, url: str) -> str:
    r = user.get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf", (r.status_code, r.get_data()[:300])
    return flat(pdf_text(r.data).replace("\u200b", ""))


def test_every_pdf_holds_the_longest_texts_the_forms_take(record, users, clock):
    leader = users["leader"]
    briefing = read(leader, f"/api/v1/incidents/{record}/briefing.pdf")
    for tag in ("来源", "性质", "影响范围", "趋势", "已采取的措施", "伤亡", "续报0", "续报250", "续报499"):
        assert flat(f"【{tag}结束】") in briefing, tag
    assert flat("第498次续报：病例18人，情况平稳。") in briefing and flat("第299项任务：核查供货商台账") in briefing
    assert flat("https://example.gov.cn/notice/" + "a1b2c3d4e5" * 6) in briefing  # a long address, whole
    closing_pdf = read(leader, f"/api/v1/incidents/{record}/closing-report.pdf")
    for tag in ("原因", "处置经过", "善后", "教训", "改进"):
        assert flat(f"【{tag}结束】") in closing_pdf, tag
    day = (clock.now() + timedelta(hours=8)).date().isoformat()
    assert flat("在办事件") in read(leader, f"/api/v1/reports/daily.pdf?date={day}")
    start = (clock.now() - timedelta(days=3)).date().isoformat()
    sheet = read(leader, f"/api/v1/accountability.pdf?from={start}&to={day}")
    assert flat("迟报漏报") in sheet
    assert read(leader, "/api/v1/reports/complaints-weekly.pdf")
