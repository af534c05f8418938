"""The second factor (issue 15 item 2): TOTP and SMS codes enrolled on a page, recovery codes, the second
login step, forced enrolment by role, codes that count toward the lockout, and every step audited.

Everything goes through the login form with the test client; pyotp computes the authenticator's codes
from the FakeClock's time, as a phone would from its own.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from app import config
from incidents.kernel.actors import SystemActor
from incidents.models import AuditEntry, LoginSession, OneTimeCode, SecondFactor, User
from incidents.people import two_factor
from incidents.people.users import create_user
from notifiers.base import SENT, SendResult
from tests.helpers import signed_in_client
from tests.test_login_security import GOOD, csrf_of, post_login

PHONE = "+8613900000009"


class RecordingSms:
    """An SMS sender (SMS_BACKEND=tests.test_two_factor:RecordingSms) that keeps what it was given."""

    provider = "recording"
    sent: list = []

    def __init__(self, settings=None) -> None:
        pass

    def send(self, message) -> SendResult:
        RecordingSms.sent.append(message)
        return SendResult(provider=self.provider, status=SENT, provider_id=f"rec-{len(RecordingSms.sent)}")


def last_sms_code() -> str:
    return re.search(r"验证码为(\d{6})", RecordingSms.sent[-1].text).group(1)


@pytest.fixture(autouse=True)
def real_settings(app):
    """The default roles that must enrol, and the recording SMS sender."""
    app.config["TWO_FACTOR_ROLES"] = config.from_environment({})["TWO_FACTOR_ROLES"]
    app.config["SMS_BACKEND"] = "tests.test_two_factor:RecordingSms"
    RecordingSms.sent = []


def person(wiring, clock, *, login="shen", role="leader", phone=None, name="申局长") -> int:
    with wiring.sessions() as s:
        user, _ = create_user(s, wiring.plan, name=name, login=login, role=role, password=GOOD, phone=phone,
                              now=clock.now(), actor=SystemActor(name="tests"))
        s.commit()
        return user.id


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_of(client), **data})


def actions(wiring, user_id: int | None = None) -> list[str]:
    with wiring.sessions() as s:
        q = select(AuditEntry).where(AuditEntry.action.like("user.2fa%")).order_by(AuditEntry.seq)
        return [e.action for e in s.scalars(q) if user_id is None or str(e.entity_id) == str(user_id)]


def signed_in(client) -> bool:
    r = client.get("/")
    return r.status_code == 200


def enrol_totp(app, clock, client=None, login="shen"):
    """Log in, be sent to enrolment, scan the QR code's URI, confirm: return client, totp, recovery codes."""
    client = client or app.test_client()
    r = post_login(client, login, GOOD)
    assert r.status_code == 302 and r.headers["Location"] == "/account/two-factor", r.headers.get("Location")
    assert not signed_in(client)  # no session before the second factor
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "须绑定第二种身份验证方式" in page
    r = post(client, "/account/two-factor", action="totp")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'src="data:image/svg+xml' in page
    uri = re.search(r'<code id="totp-uri">([^<]+)</code>', page).group(1).replace("&amp;", "&")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp" and login in parts.path
    totp = pyotp.TOTP(parse_qs(parts.query)["secret"][0])
    r = post(client, "/account/two-factor", action="confirm", code=totp.at(clock.now()))
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    return client, totp, codes


def test_a_leader_must_enrol_before_a_session_opens_then_gives_a_code_at_every_login(app, wiring, clock):
    uid = person(wiring, clock)
    client, totp, codes = enrol_totp(app, clock)
    assert signed_in(client)  # the session opened with the confirmation
    with wiring.sessions() as s:
        factor = s.scalar(select(SecondFactor).where(SecondFactor.user_id == uid))
        assert factor.confirmed_at == clock.now() and factor.method == "totp"
        stored = [c.code_hash for c in s.scalars(select(OneTimeCode).where(OneTimeCode.user_id == uid))]
        assert len(stored) == 10 and not any(code.replace("-", "") in h for code in codes for h in stored)
    # The next login: password, then the authenticator's code.
    clock.advance(minutes=2)
    other = app.test_client()
    r = post_login(other, "shen", GOOD, next_url="/duty")
    assert r.status_code == 302 and r.headers["Location"] == "/login/verify"
    assert not signed_in(other)
    r = post(other, "/login/verify", code=totp.at(clock.now()))
    assert r.status_code == 302 and r.headers["Location"] == "/duty"
    assert signed_in(other)
    assert actions(wiring, uid) == ["user.2fa_enrolled", "user.2fa_verified"]
    with wiring.sessions() as s:
        last = [e for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)) if e.action.startswith("user.")][-3:]
        assert [e.action for e in last] == ["user.password_accepted", "user.2fa_verified", "user.login"]
        assert json.loads(last[-1].data)["second_factor"] is True


def test_a_totp_code_is_not_accepted_twice(app, wiring, clock):
    person(wiring, clock)
    _, totp, _ = enrol_totp(app, clock)
    clock.advance(seconds=30)
    first = app.test_client()
    post_login(first, "shen", GOOD)
    code = totp.at(clock.now())
    assert post(first, "/login/verify", code=code).status_code == 302
    second = app.test_client()
    post_login(second, "shen", GOOD)
    r = post(second, "/login/verify", code=code)  # the same code, within its window
    assert r.status_code == 401 and "验证码错误" in r.get_data(as_text=True)
    assert not signed_in(second)
    # Nor an older code of the window; the next step's code works.
    assert post(second, "/login/verify", code=totp.at(clock.now() - timedelta(seconds=30))).status_code == 401
    clock.advance(seconds=30)
    assert post(second, "/login/verify", code=totp.at(clock.now())).status_code == 302


def test_the_code_of_the_enrolment_itself_cannot_log_in_again(app, wiring, clock):
    person(wiring, clock)
    _, totp, _ = enrol_totp(app, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert post(client, "/login/verify", code=totp.at(clock.now())).status_code == 401


def test_wrong_codes_count_toward_the_lockout_and_the_password_does_not_reset_it(app, wiring, clock):
    uid = person(wiring, clock)
    _, totp, _ = enrol_totp(app, clock)
    clock.advance(minutes=1)
    statuses = []
    for i in range(5):
        client = app.test_client()
        assert post_login(client, "shen", GOOD).status_code == 302  # the password again each time
        statuses.append(post(client, "/login/verify", code=f"{(i * 7919) % 10**6:06d}").status_code)
    assert statuses == [401, 401, 401, 401, 429]
    client = app.test_client()
    assert post_login(client, "shen", GOOD).status_code == 429  # locked: not even the password
    clock.advance(minutes=16)
    assert post_login(client, "shen", GOOD).status_code == 302
    assert post(client, "/login/verify", code=totp.at(clock.now())).status_code == 302
    assert actions(wiring, uid).count("user.2fa_failed") == 5
    with wiring.sessions() as s:
        assert "user.locked" in [e.action for e in s.scalars(select(AuditEntry))]


def test_a_recovery_code_works_once(app, wiring, clock):
    uid = person(wiring, clock)
    _, _, codes = enrol_totp(app, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert post(client, "/login/verify", code=codes[3].upper().replace("-", " ")).status_code == 302
    assert signed_in(client)
    again = app.test_client()
    post_login(again, "shen", GOOD)
    assert post(again, "/login/verify", code=codes[3]).status_code == 401
    assert post(again, "/login/verify", code=codes[4]).status_code == 302
    assert actions(wiring, uid).count("user.2fa_recovery_used") == 2
    with wiring.sessions() as s:
        assert two_factor.recovery_codes_left(s, uid) == 8


def test_sms_codes_enrol_and_log_in_expire_after_5_minutes_and_are_rate_limited(app, wiring, clock):
    uid = person(wiring, clock, phone=PHONE)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    r = post(client, "/account/two-factor", action="sms")
    assert r.status_code == 200 and RecordingSms.sent[-1].to == PHONE
    r = post(client, "/account/two-factor", action="confirm", code=last_sms_code())
    assert r.status_code == 200 and "恢复码" in r.get_data(as_text=True)
    assert signed_in(client)
    # Login: ask for a code, give it.
    clock.advance(minutes=2)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert post(client, "/login/verify", action="sms").status_code == 200
    code = last_sms_code()
    assert post(client, "/login/verify", action="sms").status_code == 429  # within a minute: refused
    assert len(RecordingSms.sent) == 2
    assert post(client, "/login/verify", code=code).status_code == 302
    # An SMS code expires after 5 minutes.
    clock.advance(minutes=2)
    late = app.test_client()
    post_login(late, "shen", GOOD)
    post(late, "/login/verify", action="sms")
    clock.advance(minutes=4)  # the pending login lives 5 minutes too: log in again, keep the code
    post_login(late, "shen", GOOD)
    clock.advance(minutes=1, seconds=1)
    assert post(late, "/login/verify", code=last_sms_code()).status_code == 401
    # At most 5 per hour.
    statuses = []
    for _ in range(3):
        clock.advance(minutes=1, seconds=1)
        post_login(late, "shen", GOOD)
        statuses.append(post(late, "/login/verify", action="sms").status_code)
    assert statuses == [200, 200, 429]  # the sixth within the hour is refused
    clock.advance(minutes=1, seconds=1)
    post_login(late, "shen", GOOD)
    r = post(late, "/login/verify", action="sms")
    assert r.status_code == 429 and "次数过多" in r.get_data(as_text=True)
    assert "user.2fa_sms_sent" in actions(wiring, uid)


def test_sms_enrolment_needs_a_phone_on_file(app, wiring, clock):
    person(wiring, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    r = post(client, "/account/two-factor", action="sms")
    assert r.status_code == 400 and "未登记手机号码" in r.get_data(as_text=True)
    assert RecordingSms.sent == []


def test_the_pending_step_expires_and_is_not_a_session(app, wiring, clock):
    person(wiring, clock)
    _, totp, _ = enrol_totp(app, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert client.get("/api/v1/plan").status_code == 401
    clock.advance(minutes=6)
    r = post(client, "/login/verify", code=totp.at(clock.now()))
    assert r.status_code == 302 and r.headers["Location"] == "/login"


def test_roles_outside_the_setting_are_not_forced_but_may_enrol(app, wiring, clock):
    person(wiring, clock, login="zhao", role="viewer", name="赵观察")
    client = app.test_client()
    r = post_login(client, "zhao", GOOD)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "使用身份验证器应用" in client.get("/account/two-factor").get_data(as_text=True)
    page = post(client, "/account/two-factor", action="totp").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    r = post(client, "/account/two-factor", action="confirm", code=pyotp.TOTP(secret).at(clock.now()))
    assert r.status_code == 200 and "恢复码" in r.get_data(as_text=True)
    clock.advance(minutes=1)
    r = post_login(app.test_client(), "zhao", GOOD)
    assert r.headers["Location"] == "/login/verify"  # enrolled: asked from now on


def test_an_open_session_of_a_role_that_must_enrol_is_sent_to_enrolment(app, wiring, clock):
    person(wiring, clock)
    app.config["TWO_FACTOR_ROLES"] = ""
    client = app.test_client()
    assert post_login(client, "shen", GOOD).headers["Location"] == "/"
    app.config["TWO_FACTOR_ROLES"] = "leader"
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/account/two-factor"


def test_demo_users_are_not_forced_outside_production(app, wiring, clock):
    person(wiring, clock, login="leader", name="申局长")  # the name `flask demo load` gives
    assert post_login(app.test_client(), "leader", GOOD).headers["Location"] == "/"
    app.config["YINGJI_ENV"] = "production"
    assert post_login(app.test_client(), "leader", GOOD).headers["Location"] == "/account/two-factor"


def test_an_administrator_resets_a_lost_factor(app, wiring, clock):
    uid = person(wiring, clock)
    client, totp, _ = enrol_totp(app, clock)
    r = app.test_cli_runner().invoke(args=["users", "reset-2fa", "shen"])
    assert r.exit_code == 0, r.output
    assert not signed_in(client)  # every session ended
    with wiring.sessions() as s:
        assert s.scalar(select(SecondFactor).where(SecondFactor.user_id == uid)) is None
        assert s.scalar(select(OneTimeCode).where(OneTimeCode.user_id == uid)) is None
        assert s.scalar(select(LoginSession).where(LoginSession.user_id == uid,
                                                   LoginSession.ended_at.is_(None))) is None
    clock.advance(minutes=1)
    r = post_login(app.test_client(), "shen", GOOD)
    assert r.headers["Location"] == "/account/two-factor"  # enrols anew
    assert actions(wiring, uid)[-1] == "user.2fa_reset"
    r = app.test_cli_runner().invoke(args=["users", "reset-2fa", "nobody"])
    assert r.exit_code != 0 and "nobody" in r.output


def test_a_wrong_enrolment_code_is_refused_and_counted(app, wiring, clock):
    uid = person(wiring, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    post(client, "/account/two-factor", action="totp")
    r = post(client, "/account/two-factor", action="confirm", code="000000")
    assert r.status_code == 400 and "验证码错误" in r.get_data(as_text=True)
    assert not signed_in(client)
    with wiring.sessions() as s:
        assert two_factor.factor_of(s, uid) is None
    assert actions(wiring, uid) == ["user.2fa_failed"]


def test_a_signed_in_user_regenerates_recovery_codes_with_a_current_code(app, wiring, clock):
    uid = person(wiring, clock)
    client, totp, old = enrol_totp(app, clock)
    clock.advance(seconds=30)
    r = post(client, "/account/two-factor", action="recovery", code=totp.at(clock.now()))
    new = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", r.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    other = app.test_client()
    post_login(other, "shen", GOOD)
    assert post(other, "/login/verify", code=old[0]).status_code == 401
    assert post(other, "/login/verify", code=new[0]).status_code == 302


def test_a_second_enrolment_is_refused(app, wiring, clock):
    person(wiring, clock)
    client, _, _ = enrol_totp(app, clock)
    r = post(client, "/account/two-factor", action="totp")
    assert r.status_code == 409 and "已启用双因素认证" in r.get_data(as_text=True)


@pytest.mark.parametrize("data", [{"code": "x" * 5000}, {"code": "１２３４５６"}, {}, {"action": "nonsense"},
                                  {"code": "\x00" * 6}])
def test_no_input_gives_a_500(app, wiring, clock, data):
    person(wiring, clock)
    _, _, _ = enrol_totp(app, clock)
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert post(client, "/login/verify", **data).status_code in (400, 401)
    assert post(client, "/account/two-factor", **data).status_code in (302, 400)


def test_the_totp_secret_is_sealed_with_a_key_outside_the_database(app, wiring, clock):
    uid = person(wiring, clock)
    _, totp, _ = enrol_totp(app, clock)
    with wiring.sessions() as s:
        stored = s.scalar(select(SecondFactor.secret).where(SecondFactor.user_id == uid))
    assert stored.startswith("v1:") and totp.secret not in stored
    # Another key (a database copied elsewhere) does not open it: the code is refused, never a 500.
    clock.advance(seconds=30)
    app.config["TWO_FACTOR_KEY"] = "another key"
    client = app.test_client()
    post_login(client, "shen", GOOD)
    assert post(client, "/login/verify", code=totp.at(clock.now())).status_code == 401
    app.config["TWO_FACTOR_KEY"] = None
    assert post(client, "/login/verify", code=totp.at(clock.now())).status_code == 302
    # Copied onto another user's row, it does not open either.
    other = person(wiring, clock, login="li", name="李指挥", role="commander")
    with wiring.sessions() as s:
        s.add(SecondFactor(user_id=other, method="totp", secret=stored, created_at=clock.now(),
                           confirmed_at=clock.now()))
        s.commit()
    clock.advance(seconds=30)
    thief = app.test_client()
    assert post_login(thief, "li", GOOD).headers["Location"] == "/login/verify"
    assert post(thief, "/login/verify", code=totp.at(clock.now())).status_code == 401


def test_the_system_administrator_resets_a_password_and_a_second_factor_on_the_admin_page(app, wiring, clock):
    app.config["TWO_FACTOR_ROLES"] = "leader"  # the administrators' own factors are not what this test is about
    leader_id = person(wiring, clock)
    client, _totp, _codes = enrol_totp(app, clock)
    assert signed_in(client)
    with wiring.sessions() as s:
        sysadmin, _ = create_user(s, wiring.plan, name="系统管理员甲", role="sysadmin", now=clock.now(),
                                  actor=SystemActor(name="tests"))
        secadmin, _ = create_user(s, wiring.plan, name="安全管理员乙", role="secadmin", now=clock.now(),
                                  actor=SystemActor(name="tests"))
        s.commit()
        sysadmin_id, secadmin_id = sysadmin.id, secadmin.id
    # The security administrator issues tokens; resetting an account is the system administrator's.
    security = signed_in_client(app, secadmin_id)
    assert security.post(f"/admin/users/{leader_id}/reset-2fa", data={"csrf_token": "t"}).status_code == 403
    admin = signed_in_client(app, sysadmin_id)
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "重置密码</button>" in html and "重置双因素认证</button>" in html
    r = admin.post(f"/admin/users/{leader_id}/reset-password", data={"csrf_token": "t"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    temporary = html.split('<code id="token-secret">')[1].split("</code>")[0]
    assert "临时密码" in html and temporary not in admin.get("/admin/users").get_data(as_text=True)
    assert not signed_in(client)  # every session of the leader ended
    r = admin.post(f"/admin/users/{leader_id}/reset-2fa", data={"csrf_token": "t"})
    assert r.status_code == 302
    with wiring.sessions() as s:
        assert s.scalar(select(SecondFactor).where(SecondFactor.user_id == leader_id)) is None
        leader = s.get(User, leader_id)
        assert leader.must_change_password
    assert actions(wiring, leader_id)[-1] == "user.2fa_reset"
    # The temporary password works once, to choose a new one; the factor is enrolled again.
    again = app.test_client()
    r = post_login(again, "shen", temporary)
    assert r.status_code == 302 and r.headers["Location"] in ("/password", "/account/two-factor"), r.headers
