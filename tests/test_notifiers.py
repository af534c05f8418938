"""SMS and voice senders: the real twilio SDK against the local stub, the console sender, the registry."""
from __future__ import annotations

import logging
import socket

import pytest
from flask import Flask, request
from twilio.request_validator import RequestValidator

from app import config, create_app
from notifiers import registry
from notifiers.console import ConsoleSms, ConsoleVoice
from incidents.kernel.masking import mask_phone
from notifiers.base import FAILED, QUEUED, SENT, SMS, VOICE, Message, NotifierConfigError
from incidents.escalation.messages import MAX_UNITS, assignment_text, clock_text, segments, ucs2_units
from notifiers.twilio import BaseUrlHttpClient, TwilioSms, TwilioVoice, make_client
from tests.twilio_stub import ACCOUNT_SID, Expectation, Received, TwilioStub, twilio_stub, unmet  # noqa: F401

PHONE = "+8613812345678"
ASSIGNMENT = {"id": 12, "incident_number": "YJ-2026-0012", "incident_title": "城关镇第一小学学生集体食物中毒",
              "level_numeral": "Ⅱ", "department": "food_coord", "department_name": "食品协调科",
              "task": "立即派员赴现场封存留样食品", "due_at": "2026-11-20T01:30:00+00:00"}


# --- messages ------------------------------------------------------------------------------
def test_assignment_text_names_level_incident_task_beijing_deadline_and_how_to_acknowledge():
    text = assignment_text(ASSIGNMENT, reply_code="K7QX")
    assert text == ("【应急Ⅱ级】YJ-2026-0012 城关镇第一小学学生集体食物中毒：请食品协调科：立即派员赴现场封存留样食品，"
                    "北京时间11月20日09:30前。回复K7QX签收[A12]")
    assert segments(text) == 2


def test_a_long_title_is_cut_first_and_the_text_fits_two_segments():
    text = assignment_text({**ASSIGNMENT, "incident_title": "某某县城关镇第一小学学生集体食物中毒事件" * 10},
                           reply_code="K7QX")
    assert ucs2_units(text) <= MAX_UNITS == 134
    assert "…：请食品协调科：立即派员赴现场封存留样食品，北京时间11月20日09:30前。回复K7QX签收[A12]" in text
    assert segments(text) <= 2


def test_a_long_task_is_cut_too_but_the_deadline_and_code_stay():
    text = assignment_text({**ASSIGNMENT, "incident_title": "标题" * 40, "task": "任务说明" * 60}, reply_code="K7QX")
    assert ucs2_units(text) <= 134
    assert text.endswith("北京时间11月20日09:30前。回复K7QX签收[A12]")
    assert "标题标题…" in text


def test_characters_beyond_the_bmp_count_twice():
    text = assignment_text({**ASSIGNMENT, "incident_title": "𠀀" * 100})
    assert ucs2_units(text) <= 134


def test_clock_text_says_overdue_in_beijing_time():
    clock = {"id": 7, "name": "局向县政府和市局报告", "due_at": "2026-11-20T02:00:00+00:00", "status": "overdue"}
    incident = {"number": "YJ-2026-0003", "title": "超市冷冻肉来源不明", "level_numeral": "Ⅰ"}
    text = clock_text(clock, incident, reply_code="M3RT")
    assert text == ("【应急Ⅰ级】YJ-2026-0003 超市冷冻肉来源不明：局向县政府和市局报告已超时(时限北京时间11月20日10:00)。"
                    "回复M3RT签收[D7]")
    assert "须于北京时间11月20日10:00前完成" in clock_text({**clock, "status": "pending"}, incident)


# --- console -------------------------------------------------------------------------------
@pytest.mark.parametrize("phone, masked", [("+8613812345678", "+86138****5678"), ("13812345678", "138****5678"),
                                           ("+14155550100", "+14****0100"), ("+861234", "+86**34")])
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_console_senders_log_with_the_phone_masked(caplog):
    caplog.set_level(logging.WARNING, logger="yingji.notify")
    sms = ConsoleSms().send(Message(PHONE, "短信内容", SMS, reference="step-3"))
    call = ConsoleVoice().send(Message(PHONE, "电话内容", VOICE))
    assert sms.ok and sms.status == SENT and sms.provider == "console" and sms.provider_id.startswith("console-")
    assert call.ok and call.provider_id != sms.provider_id
    assert "[sms → +86138****5678] 短信内容" in caplog.text and "ref step-3" in caplog.text
    assert "[voice → +86138****5678] 电话内容" in caplog.text
    assert "13812345678" not in caplog.text


def test_a_sender_refuses_the_other_kind():
    with pytest.raises(ValueError):
        ConsoleSms().send(Message(PHONE, "x", VOICE))
    with pytest.raises(ValueError):
        Message(PHONE, "x", "fax")


# --- registry ------------------------------------------------------------------------------
def test_registry_defaults_to_the_console():
    settings = registry.settings_from({})
    assert type(registry.sms_sender(settings)) is ConsoleSms
    assert type(registry.voice_sender(settings)) is ConsoleVoice


def test_registry_picks_twilio_from_settings(twilio_stub):
    settings = twilio_stub.settings()
    assert type(registry.sms_sender(settings)) is TwilioSms
    assert type(registry.voice_sender(settings)) is TwilioVoice
    mixed = {**settings, "VOICE_BACKEND": "console"}
    assert type(registry.voice_sender(mixed)) is ConsoleVoice


def test_a_new_provider_is_a_class_and_a_setting():
    sender = registry.sms_sender({"SMS_BACKEND": "notifiers.console:ConsoleVoice"})
    assert type(sender) is ConsoleVoice
    with pytest.raises(NotifierConfigError, match="未知的SMS_BACKEND.*unknown SMS_BACKEND"):
        registry.sms_sender({"SMS_BACKEND": "carrier-pigeon"})


def test_settings_come_from_the_environment_through_the_config_then_defaults():
    # app/config.py reads the environment once; the app's own settings override it.
    environment = config.from_environment({"TWILIO_ACCOUNT_SID": "ACenv", "SMS_BACKEND": "twilio",
                                           "TWILIO_AUTH_TOKEN": "tok", "VOICE_BACKEND": "",
                                           "TWILIO_TIMEOUT": "3"})
    settings = registry.settings_from({**environment, "TWILIO_ACCOUNT_SID": "ACcfg"})
    assert settings["TWILIO_ACCOUNT_SID"] == "ACcfg"
    assert settings["SMS_BACKEND"] == "twilio" and settings["TWILIO_AUTH_TOKEN"] == "tok"
    assert settings["TWILIO_TIMEOUT"] == "3"
    # An empty or missing setting is the default.
    assert settings["TWILIO_API_BASE"] == "https://api.twilio.com" and settings["VOICE_BACKEND"] == "console"
    assert registry.settings_from({"SMS_BACKEND": ""})["SMS_BACKEND"] == "console"


def test_the_twilio_client_reads_the_proxy_and_ca_of_the_environment_once(monkeypatch):
    for name in ("https_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bureau-ca.pem")
    http = make_client({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+1"}).http_client
    assert http.proxy == {"https": "http://proxy.example:3128"}
    assert http.session.verify == "/etc/ssl/bureau-ca.pem" and http.session.trust_env is False


def test_twilio_without_credentials_is_a_clear_error():
    with pytest.raises(NotifierConfigError, match="TWILIO_AUTH_TOKEN"):
        registry.sms_sender({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM_NUMBER": "+1"})


# --- twilio SDK against the stub -----------------------------------------------------------
def test_sms_through_the_sdk(twilio_stub):
    twilio_stub.expect_sms(to=PHONE, contains="回复K7QX签收[A12]")
    text = assignment_text(ASSIGNMENT, reply_code="K7QX")
    result = TwilioSms(twilio_stub.settings(TWILIO_STATUS_CALLBACK="https://yj.example/hooks/twilio/status")).send(
        Message(PHONE, text, SMS))
    assert result.ok and result.status == QUEUED and result.provider == "twilio"
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    [got] = twilio_stub.received
    assert got.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json" and got.authorized
    assert got.params["Body"] == text and got.params["From"] == "+15005550006"
    assert got.params["StatusCallback"] == "https://yj.example/hooks/twilio/status"


def test_call_through_the_sdk_reads_chinese_and_gathers_a_key(twilio_stub):
    twilio_stub.expect_call(to=PHONE, contains='<Say language="zh-CN">请签收</Say>')
    sender = TwilioVoice(twilio_stub.settings(TWILIO_VOICE_ACTION="https://yj.example/hooks/twilio/voice"))
    result = sender.send(Message(PHONE, "请签收", VOICE, reference="step-9"))
    assert result.ok and result.status == QUEUED and result.provider_id.startswith("CA")
    [got] = twilio_stub.received
    twiml = got.params["Twiml"]
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Gather')
    assert '<Gather action="https://yj.example/hooks/twilio/voice?ref=step-9" method="POST" numDigits="1"' in twiml
    assert '<Say language="zh-CN">按1键签收</Say>' in twiml
    assert "Url" not in got.params  # the TwiML is inline


def test_api_base_routes_every_twilio_host_to_the_stub(twilio_stub):
    twilio_stub.expect_request("/v1/Services")
    twilio_stub.expect_request("/2010-04-01/Accounts/ACx/Calls/CAx.json")
    client = make_client(twilio_stub.settings())
    assert isinstance(client.http_client, BaseUrlHttpClient)
    # messaging.twilio.com is not api.twilio.com: base_url alone would miss it
    response = client.request("GET", "https://messaging.twilio.com/v1/Services")
    assert response.status_code == 404
    client.request("GET", "https://api.sydney.au1.twilio.com/2010-04-01/Accounts/ACx/Calls/CAx.json")
    assert [r.path for r in twilio_stub.received] == ["/v1/Services", "/2010-04-01/Accounts/ACx/Calls/CAx.json"]


def test_default_api_base_is_twilio_and_not_rewritten():
    client = make_client({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+1"})
    assert not isinstance(client.http_client, BaseUrlHttpClient)
    assert client.http_client.timeout == 10.0
    rewriting = BaseUrlHttpClient("http://gw.local/twilio/")
    assert rewriting.base_url == "http://gw.local/twilio"


def test_invalid_number_is_a_permanent_failure(twilio_stub):
    twilio_stub.reject("+8612345", code=21211)
    twilio_stub.reject("+862088880000", code=21614, message="'To' number is not a valid mobile number")
    twilio_stub.expect_sms(to="+8612345")
    twilio_stub.expect_sms(to="+862088880000")
    sender = TwilioSms(twilio_stub.settings())
    bad = sender.send(Message("+8612345", "x"))
    assert bad.status == FAILED and not bad.ok and bad.permanent
    assert bad.error_code == "21211" and "not a valid phone number" in bad.error_message
    landline = sender.send(Message("+862088880000", "x"))
    assert landline.permanent and landline.error_code == "21614"


def test_a_stub_500_is_a_transient_failure(twilio_stub):
    twilio_stub.fail_next(500)
    twilio_stub.expect_call(to=PHONE)
    result = TwilioVoice(twilio_stub.settings()).send(Message(PHONE, "x", VOICE))
    assert result.status == FAILED and not result.permanent and "HTTP 500" in result.error_message


def test_a_network_error_is_a_transient_failure():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    stub = TwilioStub()
    settings = {"TWILIO_ACCOUNT_SID": stub.account_sid, "TWILIO_AUTH_TOKEN": stub.auth_token,
                "TWILIO_FROM_NUMBER": "+1", "TWILIO_API_BASE": f"http://127.0.0.1:{port}", "TWILIO_TIMEOUT": 2}
    result = TwilioSms(settings).send(Message(PHONE, "x"))
    assert result.status == FAILED and result.error_code == "network" and not result.permanent


def test_wrong_credentials_are_refused_and_flagged(twilio_stub):
    result = TwilioSms(twilio_stub.settings(TWILIO_AUTH_TOKEN="wrong")).send(Message(PHONE, "x"))
    assert result.status == FAILED and result.error_code == "20003" and not result.permanent
    assert [p.split(":")[0] for p in twilio_stub.problems()] == ["unauthorized request"]
    twilio_stub.received.clear()  # the point was the refusal; keep teardown's check for the rest


# --- the stub's strictness -----------------------------------------------------------------
def _got(kind: str, to: str, body: str = "x") -> Received:
    return Received("POST", "/2010-04-01/Accounts/AC/Messages.json", kind, {"To": to, "Body": body}, True)


def test_the_fixture_check_fails_on_a_duplicate_message():
    expectations = [Expectation("sms", to=PHONE, contains="签收")]
    assert unmet(expectations, [_got("sms", PHONE, "请签收")]) == []
    problems = unmet(expectations, [_got("sms", PHONE, "请签收"), _got("sms", PHONE, "请签收")])
    assert len(problems) == 1 and problems[0].startswith("duplicate message (sms to='+8613812345678'")


def test_the_fixture_check_fails_on_unexpected_and_missing_messages():
    expectations = [Expectation("sms", to=PHONE), Expectation("voice", to=PHONE)]
    problems = unmet(expectations, [_got("sms", PHONE), _got("sms", "+8613900000000")])
    assert problems[0].startswith("unexpected message: POST") and "+8613900000000" in problems[0]
    assert problems[1] == "expected message never came: voice to='+8613812345678'"


def test_the_stub_check_fails_the_test_on_a_duplicate_sent_through_the_sdk():
    stub = TwilioStub().start()
    try:
        stub.expect_sms(to=PHONE)
        sender = TwilioSms(stub.settings())
        sender.send(Message(PHONE, "x"))
        stub.check()  # exactly once so far
        sender.send(Message(PHONE, "x"))
        with pytest.raises(pytest.fail.Exception, match="duplicate message"):
            stub.check()
    finally:
        stub.stop()


def test_signed_callbacks_pass_twilio_validation(twilio_stub):
    twilio_stub.expect_sms(to=PHONE)
    sid = TwilioSms(twilio_stub.settings()).send(Message(PHONE, "x")).provider_id
    hooks = Flask("hooks")
    seen = []

    @hooks.post("/hooks/twilio/status")
    def status():
        valid = RequestValidator(twilio_stub.auth_token).validate(
            request.url, request.form.to_dict(), request.headers.get("X-Twilio-Signature", ""))
        seen.append(request.form.to_dict())
        return ("", 204) if valid else ("", 403)

    params = twilio_stub.status_params(sid, "delivered")
    assert params["MessageSid"] == sid and params["MessageStatus"] == "delivered" and params["To"] == PHONE
    client = hooks.test_client()
    assert twilio_stub.callback("http://localhost/hooks/twilio/status", params, client=client).status_code == 204
    forged = {"X-Twilio-Signature": twilio_stub.signature("http://localhost/hooks/twilio/status", params)}
    tampered = {**params, "MessageStatus": "failed"}
    assert client.post("/hooks/twilio/status", data=tampered, headers=forged).status_code == 403
    assert twilio_stub.status_params("CA" + "0" * 32, "completed")["CallStatus"] == "completed"


# --- flask notify test ---------------------------------------------------------------------
@pytest.fixture
def notify_app(tmp_path):
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'notify.db'}"
    upgrade(url)
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "SCHEDULER": "off"})
    yield application
    application.extensions["yingji"].engine.dispose()


def test_every_twilio_hook_refuses_an_unsigned_request(notify_app, twilio_stub):
    """The blueprint checks the signature before any of its routes, a hook added later included."""
    notify_app.config.update(twilio_stub.settings())
    hooks = [r.rule for r in notify_app.url_map.iter_rules() if r.endpoint.startswith("hooks.")]
    assert {"/hooks/twilio/sms", "/hooks/twilio/voice", "/hooks/twilio/status"} <= set(hooks)
    client = notify_app.test_client()
    for rule in hooks:
        r = client.post(rule, data={"From": PHONE, "Body": "1"})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "bad_signature", rule


def test_notify_test_sends_an_sms_and_a_call_through_the_stub(notify_app, twilio_stub):
    notify_app.config.update(twilio_stub.settings())
    twilio_stub.expect_sms(to=PHONE, contains="测试短信")
    twilio_stub.expect_call(to=PHONE, contains="测试电话")
    result = notify_app.test_cli_runner().invoke(args=["notify", "test", "--phone", PHONE])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("sms: twilio SM") and lines[0].endswith(" queued")
    assert lines[1].startswith("voice: twilio CA") and lines[1].endswith(" queued")
    # Both are kept as delivery rows, so the provider's status callbacks find them.
    from sqlalchemy import select

    from incidents.models import Delivery

    with notify_app.extensions["yingji"].sessions() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.purpose, d.channel, d.status, d.provider_id) for d in rows] == [
            ("test", "sms", "queued", lines[0].split()[2]), ("test", "voice", "queued", lines[1].split()[2])]


def test_notify_test_with_the_console_default(notify_app, caplog, monkeypatch):
    for key in ("SMS_BACKEND", "VOICE_BACKEND"):
        monkeypatch.delenv(key, raising=False)
        notify_app.config.pop(key, None)
    caplog.set_level(logging.WARNING, logger="yingji.notify")
    result = notify_app.test_cli_runner().invoke(args=["notify", "test", "--phone", PHONE])
    assert result.exit_code == 0, result.output
    assert "sms: console console-" in result.output and "+86138****5678" in caplog.text


def test_notify_test_refuses_a_bad_phone(notify_app, twilio_stub):
    notify_app.config.update(twilio_stub.settings())
    result = notify_app.test_cli_runner().invoke(args=["notify", "test", "--phone", "13812345678"])
    assert result.exit_code == 1
    assert "电话号码须为国际格式" in result.output and "international format" in result.output


def test_notify_test_reports_a_provider_error(notify_app, twilio_stub):
    notify_app.config.update(twilio_stub.settings())
    twilio_stub.reject(PHONE, code=21614)
    twilio_stub.expect_sms(to=PHONE)
    twilio_stub.expect_call(to=PHONE)
    result = notify_app.test_cli_runner().invoke(args=["notify", "test", "--phone", PHONE])
    assert result.exit_code == 1
    assert "短信发送失败 / sms failed: twilio error 21614" in result.output
    assert "电话发送失败 / voice failed" in result.output and "permanent" in result.output


def test_console_senders_mask_numbers_inside_the_text(caplog):
    caplog.set_level(logging.WARNING, logger="yingji.notify")
    ConsoleSms().send(Message(PHONE, "投诉人座机0371-62100001，身份证410122199001011235", SMS))
    assert "0371-****0001" in caplog.text and "62100001" not in caplog.text
    assert "410122199001011235" not in caplog.text
