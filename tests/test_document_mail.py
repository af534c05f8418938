"""A recipient the plan reaches by e-mail gets the signed-off document as a PDF, through a real SMTP server.

On SQLite and PostgreSQL, against aiosmtpd on 127.0.0.1 (tests/test_mail.py has the server). The plan
here extends the county's and sends its reports to the county government by e-mail: the office records
nothing, the delivery is the server's acceptance, with the Message-ID as its reference. A server that
refuses the address for good (550) stops the sending and tells the office, which records another way.
"""
from __future__ import annotations

import email
from email import policy

import pytest
from sqlalchemy import select

from incidents.models import BoardEvent, Dispatch
from incidents.plan.model import DEFAULT_PLAN_FILE
from tests.bureaus import make_app, send, user
from tests.helpers import incident_payload, iso
from tests.test_mail import Collect, smtp_server  # noqa: F401 - the fixture
from tests.test_reports_api import ok

ADDRESS = "zfb@zhongmou.gov.cn"
PLAN = f"""extends: {{base}}
plan:
  id: zhongmou-mail-test
reports:
  recipients:
    bureau:
      - {{code: county_government, name: 中牟县人民政府, channel: email, email: {ADDRESS}}}
"""


def plan_file(tmp_path):
    """The county's plan, its reports to the county government going by e-mail."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("{base}", str(DEFAULT_PLAN_FILE)), encoding="utf-8")
    return plan


@pytest.fixture
def mailing(db_url, clock, tmp_path, smtp_server):  # noqa: F811 - the fixture imported above
    def start(handler):
        port = smtp_server(handler)
        plan = plan_file(tmp_path)
        application = make_app(db_url, clock, tmp_path, plan_file=plan, SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                               SMTP_SECURITY="none", MAIL_FROM="中牟县市场监督管理局应急指挥 <yingji@zhongmou.gov.cn>")
        made.append(application)
        return application
    made = []
    yield start
    for application in made:
        application.extensions["yingji"].engine.dispose()


def filed(application, clock) -> tuple[object, int, dict]:
    leader = user(application, "leader")
    office = user(application, "office", "office")
    iid = ok(office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()))), 201).get_json()["id"]
    clock.advance(minutes=5)
    report = ok(leader.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "bureau", "body": "情况属实"}),
                201).get_json()["report"]
    return office, iid, report


def test_the_county_government_gets_the_pdf_by_mail_and_that_is_its_delivery(mailing, clock):
    handler = Collect()
    application = mailing(handler)
    office, iid, report = filed(application, clock)
    clock.advance(seconds=20)
    assert send(application) == 1  # the e-mail; the city bureau is not registered here (its dispatch fails)
    assert send(application) == 0
    assert len(handler.messages) == 1
    sender, to, raw, _tls = handler.messages[0]
    assert to == [ADDRESS] and sender == "yingji@zhongmou.gov.cn"
    message = email.message_from_bytes(raw, policy=policy.default)
    number = report["document"]["number"]
    assert number in str(message["Subject"]) and "关于某学校食堂疑似食物中毒的报告" in str(message["Subject"])
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_filename() == f"{number}.pdf"
    sent = attachment.get_content()
    stored = office.get(f"/api/v1/reports/{report['id']}/document.pdf")
    assert sent == stored.data and sent.startswith(b"%PDF")
    got = {r["code"]: r for r in ok(office.get(f"/api/v1/incidents/{iid}")).get_json()["reports"][0]["recipients"]}
    county = got["county_government"]
    assert county["channel"] == "email" and county["delivered_at"] == iso(clock.now())
    assert county["reference"] == message["Message-ID"] and county["dispatch"]["status"] == "sent"


def test_a_mailbox_refused_for_good_stops_and_the_office_records_another_way(mailing, clock):
    application = mailing(Collect(rcpt={"*": "550 5.1.1 mailbox unavailable"}))
    office, iid, report = filed(application, clock)
    assert send(application) == 0
    with application.extensions["yingji"].sessions() as session:
        row = session.scalar(select(Dispatch).where(Dispatch.channel == "email"))
        assert row.status == "failed" and "550" in row.last_error
        told = [(e.room, e.payload) for e in session.scalars(select(BoardEvent).where(BoardEvent.event == "dispatch"))]
        assert any(room == "dept:office" and p["what"] == "failed" and p["recipient"] == "county_government"
                   and "550" in p["error"] for room, p in told)
    got = {r["code"]: r for r in ok(office.get(f"/api/v1/incidents/{iid}")).get_json()["reports"][0]["recipients"]}
    assert got["county_government"]["delivered_at"] is None and got["county_government"]["dispatch"]["status"] == "failed"
    ok(office.post(f"/api/v1/reports/{report['id']}/recipients/county_government/delivery",
                   json={"channel": "fax", "reference": "传真 0371-62171234"}))
    assert send(application) == 0


def test_no_mail_server_configured_is_told_at_once(db_url, clock, tmp_path):
    application = make_app(db_url, clock, tmp_path, plan_file=plan_file(tmp_path))
    try:
        _office, _iid, _report = filed(application, clock)
        assert send(application) == 0
        with application.extensions["yingji"].sessions() as session:
            row = session.scalar(select(Dispatch).where(Dispatch.channel == "email"))
            assert row.status == "failed" and "SMTP_HOST" in row.last_error
    finally:
        application.extensions["yingji"].engine.dispose()
