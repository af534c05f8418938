"""12315 verification (issue 15 item 7): SMS codes to the complainant's phone, the form's captcha, and surges
that count distinct verified phones only, on SQLite and PostgreSQL.

"64 junk complaints from a few addresses opened a surge, proposed a Ⅳ incident and drafted three consumer
warnings": now they are stored and handled, and open nothing.
"""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.intake import verify
from app.jobs import complaints as complaint_jobs
from incidents import complaints
from incidents.complaints import verification
from incidents.kernel.calendar import WeekdayCalendar
from incidents.models import Complaint, ConsumerWarning, Incident, IntakeChallenge, Surge
from notifiers.base import SENT, SendResult
from tests.test_complaints import body
from tests.test_complaints_pages import sign_in

SENT_SMS: list = []


class RecordingSms:
    """An SMS sender that keeps what it was asked to send (SMS_BACKEND="tests.test_intake_verification:RecordingSms")."""

    provider, kind = "recording", "sms"

    def __init__(self, settings=None) -> None:
        pass

    def send(self, message) -> SendResult:
        SENT_SMS.append(message)
        return SendResult(provider=self.provider, status=SENT, provider_id=f"rec-{len(SENT_SMS)}")


def use_sms(app) -> None:
    SENT_SMS.clear()
    app.config["SMS_BACKEND"] = "tests.test_intake_verification:RecordingSms"
    app.config["INTAKE_VERIFICATION"] = "sms"


def last_code(phone: str = "13812345678") -> str:
    message = SENT_SMS[-1]
    assert message.to == "+86" + phone
    return re.search(r"验证码为(\d{6})", message.text).group(1)


def send_code(client, phone="13812345678", address="10.1.0.1"):
    return client.post("/api/v1/complaints/verification-codes", json={"phone": phone},
                       environ_base={"REMOTE_ADDR": address})


def file(client, address="10.1.0.1", **fields):
    return client.post("/api/v1/complaints", json=body(**fields), environ_base={"REMOTE_ADDR": address})


def stored(wiring, tracking_no: str) -> Complaint:
    with wiring.sessions() as s:
        return s.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))


def counts(wiring) -> tuple[int, int, int, int]:
    with wiring.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Complaint, Surge, Incident,
                                                                                ConsumerWarning))


# --- the surge test of the issue -------------------------------------------------------------------------


def test_64_junk_complaints_from_a_few_addresses_open_no_surge(app, wiring, clock):
    use_sms(app)
    client = app.test_client()
    for i in range(64):
        r = file(client, address=f"203.0.113.{i % 4}", phone=str(13900000000 + i),
                 description=f"垃圾投诉第{i}条，内容随意填写凑字数")
        assert r.status_code == 201 and r.get_json()["verified"] is False
    clock.advance(minutes=2)
    result = complaint_jobs.surge_watch(wiring)
    assert (result.opened, result.proposed, result.linked) == ([], [], [])
    assert counts(wiring) == (64, 0, 0, 0)  # all 64 are kept for handling; no surge, incident or warning


def test_64_complaints_from_one_verified_phone_count_once(wiring, clock):
    plan, now = wiring.plan, clock.now()
    one = verification.Verified("sms", verification.phone_key(b"k", "13812345678"))
    with wiring.sessions() as s:
        for i in range(64):
            clean = complaints.validate(plan, body(description=f"同一手机号第{i}次投诉，吃完以后腹泻"), now=now)
            complaints.submit(s, plan, WeekdayCalendar(), clean, now=now - timedelta(minutes=50 - i * 0.5),
                              verified=one)
        s.commit()
    assert complaint_jobs.surge_watch(wiring).opened == []
    assert counts(wiring) == (64, 0, 0, 0)


def test_thirty_verified_phones_through_the_api_do_open_a_surge(app, wiring, clock):
    use_sms(app)
    client = app.test_client()
    for i in range(30):
        phone = str(13700000000 + i)
        assert send_code(client, phone, address=f"198.51.100.{i}").status_code == 202
        r = file(client, address=f"198.51.100.{i}", phone=phone, verification_code=last_code(phone))
        assert r.status_code == 201 and r.get_json()["verified"] is True
    clock.advance(minutes=2)
    result = complaint_jobs.surge_watch(wiring)
    assert result.opened and result.proposed
    with wiring.sessions() as s:
        hit = s.scalar(select(Surge).where(Surge.dimension == "business"))
        assert hit.count == 30  # distinct verified phones


# --- SMS codes ------------------------------------------------------------------------------------------


def test_a_code_verifies_the_phone_once_and_is_stored_hashed(app, wiring, users):
    use_sms(app)
    client = app.test_client()
    r = send_code(client)
    assert r.status_code == 202
    assert r.get_json() == {"phone": "138****5678", "expires_in": 300, "message": "验证码已发送至 138****5678，5分钟内有效"}
    code = last_code()
    with wiring.sessions() as s:
        row = s.scalar(select(IntakeChallenge))
        assert row.kind == "sms" and code not in (row.code_hash or "") and "13812345678" not in (row.subject or "")
    r = file(client, verification_code=code)
    assert r.status_code == 201 and r.get_json()["verified"] is True
    complaint = stored(wiring, r.get_json()["tracking_no"])
    assert complaint.verified_by == "sms" and complaint.verified_phone and "13812345678" not in complaint.verified_phone
    again = file(client, verification_code=code)  # a code verifies one complaint
    assert again.status_code == 400 and again.get_json()["error"]["field"] == "verification_code"
    listed = users["office"].get("/api/v1/complaints").get_json()["complaints"]
    assert [(c["verified"], c["verification_name"]) for c in listed] == [(True, "已验证（短信验证码）")]


def test_three_wrong_tries_end_a_code_and_filing_without_one_still_works(app, wiring):
    use_sms(app)
    client = app.test_client()
    send_code(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    answers = [file(client, verification_code=wrong).get_json()["error"]["message"] for _ in range(3)]
    assert answers[0] == "验证码不正确，还可以再试2次" and "次数过多" in answers[2]
    assert file(client, verification_code=code).status_code == 400  # the right code is dead now
    r = file(client)  # no code: filed, unverified (a citizen without signal is not turned away)
    assert r.status_code == 201 and r.get_json()["verified"] is False
    assert stored(wiring, r.get_json()["tracking_no"]).verified_by is None
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1  # refused tries stored nothing


def test_a_code_expires_after_five_minutes_and_a_new_one_ends_the_old(app, wiring, clock):
    use_sms(app)
    client = app.test_client()
    send_code(client)
    old = last_code()
    send_code(client)
    new = last_code()
    if old != new:
        assert file(client, verification_code=old).status_code == 400
    clock.advance(minutes=5, seconds=1)
    r = file(client, verification_code=new)
    assert r.status_code == 400 and "失效" in r.get_json()["error"]["message"]
    clock.advance(days=1, minutes=1)
    assert complaint_jobs.housekeeping(wiring)["challenges_dropped"] == 2  # expired codes do not pile up


def test_codes_are_limited_per_phone_and_per_address(app):
    use_sms(app)
    client = app.test_client()
    for _ in range(5):
        assert send_code(client).status_code == 202
    r = send_code(client)
    assert r.status_code == 429 and r.headers["Retry-After"] and len(SENT_SMS) == 5
    app.config["INTAKE_SMS_PER_ADDRESS"] = 7
    assert send_code(client, phone="13912345678").status_code == 202
    assert send_code(client, phone="13712345678").status_code == 429  # the address's 8th


def test_bad_phones_and_captcha_deployments_refuse_codes(app):
    use_sms(app)
    client = app.test_client()
    r = send_code(client, phone="12345")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "phone"
    assert client.post("/api/v1/complaints/verification-codes", json={"phone": ["x"]}).status_code == 400
    app.config["INTAKE_VERIFICATION"] = "captcha"
    r = send_code(client)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "sms_verification_off" and not SENT_SMS


def test_production_without_an_sms_provider_verifies_by_captcha(app):
    with app.test_request_context():
        app.config.update(INTAKE_VERIFICATION="", SMS_BACKEND="console", YINGJI_ENV="production")
        assert verify.method() == "captcha"
        app.config["SMS_BACKEND"] = "twilio"
        assert verify.method() == "sms"
        app.config.update(SMS_BACKEND="console", YINGJI_ENV="development")
        assert verify.method() == "sms"  # the local demo logs the code


# --- the public form, without JavaScript ----------------------------------------------------------------


def form_token(client) -> tuple[str, str]:
    html = client.get("/12315").get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_form_sends_a_code_keeps_what_was_typed_and_files_verified(app, wiring, make_user):
    use_sms(app)
    client = app.test_client()
    html, token = form_token(client)
    assert 'value="send_code"' in html and 'name="verification_code"' in html
    r = client.post("/12315", data={**body(), "csrf_token": token, "action": "send_code"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "验证码已发送至 138****5678" in page and "张记烧烤" in page
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 0  # sending a code files nothing
    r = client.post("/12315", data={**body(), "csrf_token": token, "verification_code": "999999"
                                    if last_code() != "999999" else "888888"})
    assert r.status_code == 400 and "验证码不正确" in r.get_data(as_text=True)
    r = client.post("/12315", data={**body(), "csrf_token": token, "verification_code": last_code()})
    assert r.status_code == 303
    r = client.post("/12315", data={**body(business_name="王记面馆"), "csrf_token": token})
    assert r.status_code == 303  # no code: filed all the same
    with wiring.sessions() as s:
        rows = {c.business_name: c.verified_by for c in s.scalars(select(Complaint))}
    assert rows == {"张记烧烤": "sms", "王记面馆": None}
    centre = sign_in(app, wiring, make_user, "duty_officer", "complaints")
    listing = centre.get("/complaints").get_data(as_text=True)
    assert "已验证" in listing and "未验证" in listing
    with wiring.sessions() as s:
        number = s.scalar(select(Complaint.tracking_no).where(Complaint.verified_by.is_(None)))
    detail = centre.get(f"/complaints/{number}").get_data(as_text=True)
    assert "未验证" in detail and "不计入投诉高峰统计" in detail


def captcha_answer(app, html: str) -> tuple[str, str]:
    token = re.search(r'name="captcha_token" value="([^"]+)"', html).group(1)
    with app.test_request_context():
        return token, verification.captcha_code(verify.secret(), token)


def test_the_captcha_is_checked_before_anything_is_stored(app, wiring):
    app.config["INTAKE_VERIFICATION"] = "captcha"
    client = app.test_client()
    html, csrf = form_token(client)
    assert 'name="verification_code"' not in html
    token, answer = captcha_answer(app, html)
    image = client.get(f"/12315/captcha/{token}.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    audio = client.get(f"/12315/captcha/{token}.wav")
    assert audio.status_code == 200 and audio.data.startswith(b"RIFF") and audio.headers["Content-Type"] == "audio/wav"
    assert client.get(f"/12315/captcha/{token[:-1]}x.png").status_code == 404  # a forged token
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": ""})
    assert r.status_code == 400 and "请输入图中的数字" in r.get_data(as_text=True)
    wrong = str((int(answer) + 1) % 100000).zfill(5)
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": wrong})
    assert r.status_code == 400 and "验证码不正确" in r.get_data(as_text=True)
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": answer})
    assert r.status_code == 400 and "已使用过" in r.get_data(as_text=True)  # a wrong answer used it up
    with wiring.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 0
    token, answer = captcha_answer(app, r.get_data(as_text=True))  # the page came back with a fresh one
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": answer})
    assert r.status_code == 303
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": answer})
    assert r.status_code == 400 and "已使用过" in r.get_data(as_text=True)  # no replay
    with wiring.sessions() as s:
        assert [c.verified_by for c in s.scalars(select(Complaint))] == ["captcha"]


def test_a_captcha_expires(app, clock):
    app.config["INTAKE_VERIFICATION"] = "captcha"
    client = app.test_client()
    html, csrf = form_token(client)
    token, answer = captcha_answer(app, html)
    clock.advance(minutes=11)
    r = client.post("/12315", data={**body(), "csrf_token": csrf, "captcha_token": token, "captcha": answer})
    assert r.status_code == 400 and "已过期" in r.get_data(as_text=True)


def test_another_captcha_keeps_what_was_typed(app):
    app.config["INTAKE_VERIFICATION"] = "captcha"
    client = app.test_client()
    html, csrf = form_token(client)
    first, _ = captcha_answer(app, html)
    r = client.post("/12315", data={**body(description="我写了很长的经过，换验证码不能丢"), "csrf_token": csrf,
                                    "action": "new_captcha"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "我写了很长的经过，换验证码不能丢" in page
    assert captcha_answer(app, page)[0] != first
