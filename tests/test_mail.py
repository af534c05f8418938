"""E-mail of a PDF against a real SMTP server (aiosmtpd) on 127.0.0.1: MIME, TLS, login, and failures."""
from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifiers import mail
from notifiers.base import NotifierConfigError
from notifiers.mail import MailSettings, PermanentMailError, TransientMailError, send_pdf

SUBJECT = "关于城关镇第一小学学生集体食物中毒事件的续报（第2次）"
BODY = "市局应急办：\n\n附件为城关镇第一小学学生集体食物中毒事件的续报（第2次），请查收。\n\n某某县市场监督管理局\n"
FILENAME = "续报（第2次）城关镇第一小学食物中毒 2026-11-20.pdf"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
TO = ["yjb@scj.zz.gov.cn", "duty@scj.henan.gov.cn"]
SENT_AT = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
USER, PASSWORD = "yingji@scj.example.gov.cn", "s3cret-口令"


class RandomPortController(Controller):
    """aiosmtpd's controller on a port the system picks (port=0), read back once it listens."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Collect:
    """An SMTP handler that keeps what it is given; `rcpt` and `data` replies can be set to refuse."""

    def __init__(self, rcpt=None, data="250 2.0.0 Ok: queued as 4F2A9C"):
        self.rcpt, self.data = rcpt or {}, data
        self.messages: list[tuple[str, list[str], bytes, object]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt or "*" in self.rcpt:
            return self.rcpt.get(address) or self.rcpt["*"]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if not self.data.startswith("250"):
            return self.data
        tls = server.transport.get_extra_info("ssl_object")  # after STARTTLS or with implicit TLS
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls))
        return self.data


@pytest.fixture
def smtp_server():
    """Start an SMTP server on 127.0.0.1 with the handler and options given; stop them all afterwards."""
    started = []

    def start(handler, **kwargs):
        controller = RandomPortController(handler, hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        started.append(controller)
        return controller.port
    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: the server's TLS context, and a client's that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return {"server": server, "client": ssl.create_default_context(cadata=cert_pem.decode()),
            "ca_file": str(folder / "cert.pem")}


def settings(port, **kwargs) -> MailSettings:
    base = dict(host="127.0.0.1", port=port, security="none", from_address="yingji@scj.example.gov.cn",
                from_name="某某县市场监督管理局应急指挥", timeout=5)
    return MailSettings(**{**base, **kwargs})


def send(config, to=TO, **kwargs):
    times = iter([SENT_AT, SENT_AT + timedelta(seconds=2)])  # the Date header, then the server's acceptance
    return send_pdf(config, to=to, subject=SUBJECT, body=BODY, pdf=PDF, filename=FILENAME,
                    clock=lambda: next(times), **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- delivery and MIME ---------------------------------------------------------------------------
def test_the_pdf_arrives_once_with_chinese_subject_body_and_filename(smtp_server):
    handler = Collect()
    receipt = send(settings(smtp_server(handler)))
    assert len(handler.messages) == 1
    mail_from, rcpt_tos, raw, _ = handler.messages[0]
    assert mail_from == "yingji@scj.example.gov.cn" and rcpt_tos == TO
    assert raw.isascii()  # 7-bit clean: no relay needs 8BITMIME or SMTPUTF8
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "某某县市场监督管理局应急指挥"
    assert [a.addr_spec for a in msg["To"].addresses] == TO
    assert msg["Message-ID"] == receipt.message_id and receipt.message_id.endswith("@scj.example.gov.cn>")
    assert msg["Date"].datetime == SENT_AT
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY  # CRLF: MIME's canonical text
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == FILENAME
    assert attachment.get_content() == PDF


def test_the_headers_are_encoded_as_rfc_2047_and_rfc_2231():
    raw = mail.build_message(settings(25), to=TO, subject=SUBJECT, body=BODY, pdf=PDF, filename=FILENAME,
                             now=SENT_AT).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "Subject: =?utf-8?b?" in head and "From: =?utf-8?b?" in head
    assert b"Content-Disposition: attachment;\r\n filename*0*=utf-8''%E7%BB%AD%E6%8A%A5" in raw
    assert b"Content-Type: application/pdf" in raw


def test_the_receipt_says_when_and_for_whom_the_server_took_it(smtp_server):
    receipt = send(settings(smtp_server(Collect())))
    assert receipt.accepted_at == SENT_AT + timedelta(seconds=2)
    assert receipt.recipients == tuple(TO) and receipt.refused == {}
    assert "queued as 4F2A9C" in receipt.server_reply


def test_an_address_given_twice_gets_one_copy(smtp_server):
    handler = Collect()
    send(settings(smtp_server(handler)), to=[TO[0], TO[0]])
    assert [m[1] for m in handler.messages] == [[TO[0]]]


def test_a_single_address_may_be_a_string(smtp_server):
    handler = Collect()
    assert send(settings(smtp_server(handler)), to=TO[0]).recipients == (TO[0],)


@pytest.mark.parametrize("to", [[], ["no-at-sign"], ["a@b.cn\r\nBcc: x@y.cn"], ["张三@scj.gov.cn"], ["Name <a@b.cn>"]])
def test_a_bad_address_is_refused_before_connecting(to):
    with pytest.raises(PermanentMailError) as caught:
        send(settings(free_port()), to=to)
    assert caught.value.code == "mail_invalid_address"


def test_the_logs_mask_the_addresses(smtp_server, caplog):
    caplog.set_level("INFO", logger="yingji.notify.mail")
    send(settings(smtp_server(Collect())))
    assert "y***@scj.zz.gov.cn" in caplog.text and "yjb@" not in caplog.text
    assert mail.mask_address("duty.office@scj.gov.cn") == "d***@scj.gov.cn"


# --- failures ------------------------------------------------------------------------------------
def test_451_at_data_is_transient(smtp_server):
    handler = Collect(data="451 4.3.0 Mail server temporarily rejected message")
    with pytest.raises(TransientMailError) as caught:
        send(settings(smtp_server(handler)))
    exc = caught.value
    assert exc.transient and exc.smtp_code == 451 and exc.code == "mail_deferred"
    assert "451" in exc.message_en and "暂时" in exc.message_zh
    assert handler.messages == []


def test_550_for_every_recipient_is_permanent(smtp_server):
    handler = Collect(rcpt={"*": "550 5.1.1 Mailbox unavailable"})
    with pytest.raises(PermanentMailError) as caught:
        send(settings(smtp_server(handler)))
    exc = caught.value
    assert not exc.transient and exc.smtp_code == 550 and exc.code == "mail_recipients_refused"
    assert set(exc.refused) == set(TO) and exc.refused[TO[0]][0] == 550
    assert handler.messages == []


def test_450_for_every_recipient_is_transient(smtp_server):
    handler = Collect(rcpt={"*": "450 4.2.1 Mailbox busy"})
    with pytest.raises(TransientMailError) as caught:
        send(settings(smtp_server(handler)))
    assert caught.value.smtp_code == 450


def test_554_at_data_is_permanent(smtp_server):
    with pytest.raises(PermanentMailError) as caught:
        send(settings(smtp_server(Collect(data="554 5.7.1 Message rejected as spam"))))
    assert caught.value.smtp_code == 554 and caught.value.code == "mail_rejected"


def test_one_refused_recipient_does_not_stop_the_others(smtp_server):
    handler = Collect(rcpt={TO[1]: "550 5.1.1 No such user"})
    receipt = send(settings(smtp_server(handler)))
    assert [m[1] for m in handler.messages] == [[TO[0]]]
    assert receipt.recipients == (TO[0],) and receipt.refused == {TO[1]: (550, "5.1.1 No such user")}


def test_no_server_listening_is_transient():
    with pytest.raises(TransientMailError) as caught:
        send(settings(free_port()))
    assert caught.value.code == "mail_unreachable" and caught.value.smtp_code is None


def test_a_server_that_never_answers_is_a_transient_timeout():
    with socket.socket() as listener:  # accepts the connection (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with pytest.raises(TransientMailError) as caught:
            send(settings(listener.getsockname()[1], timeout=0.3))
    assert caught.value.code == "mail_timeout"


# --- TLS and login -------------------------------------------------------------------------------
def authenticator(seen):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
        seen.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself
    return check


def test_starttls_then_login_with_a_certificate_the_client_trusts(smtp_server, certificate):
    handler, logins = Collect(), []
    port = smtp_server(handler, tls_context=certificate["server"], require_starttls=True,
                       authenticator=authenticator(logins), auth_required=True)
    receipt = send(settings(port, security="starttls", username=USER, password=PASSWORD,
                            ssl_context=certificate["client"]))
    assert logins == [("PLAIN", True)] or logins == [("LOGIN", True)]
    [(_, _, raw, tls)] = handler.messages
    assert tls is not None  # the session was encrypted before MAIL FROM
    assert message_from_bytes(raw, policy=policy.default)["Message-ID"] == receipt.message_id


def test_the_ca_file_setting_is_what_the_certificate_is_checked_against(smtp_server, certificate):
    handler = Collect()
    port = smtp_server(handler, tls_context=certificate["server"], require_starttls=True)
    send(settings(port, security="starttls", ca_file=certificate["ca_file"]))
    assert len(handler.messages) == 1


def test_a_wrong_password_is_permanent(smtp_server, certificate):
    port = smtp_server(Collect(), tls_context=certificate["server"], require_starttls=True,
                       authenticator=authenticator([]), auth_required=True)
    with pytest.raises(PermanentMailError) as caught:
        send(settings(port, security="starttls", username=USER, password="wrong", ssl_context=certificate["client"]))
    assert caught.value.smtp_code == 535


def test_an_untrusted_certificate_is_permanent(smtp_server, certificate):
    handler = Collect()
    port = smtp_server(handler, tls_context=certificate["server"], require_starttls=True)
    with pytest.raises(PermanentMailError) as caught:
        send(settings(port, security="starttls"))  # the system's CAs only
    assert caught.value.code == "mail_tls" and "certificate" in caught.value.message_en
    assert handler.messages == []


def test_a_server_without_starttls_is_refused_when_starttls_is_required(smtp_server):
    handler = Collect()
    with pytest.raises(PermanentMailError) as caught:
        send(settings(smtp_server(handler), security="starttls"))
    assert caught.value.code == "mail_no_starttls" and handler.messages == []


def test_implicit_tls(smtp_server, certificate):
    handler = Collect()
    port = smtp_server(handler, ssl_context=certificate["server"])
    send(settings(port, security="ssl", ssl_context=certificate["client"]))
    [(_, _, _, tls)] = handler.messages
    assert tls is not None


# --- settings ------------------------------------------------------------------------------------
def test_settings_from_the_apps_config():
    config = {"SMTP_HOST": "mail.scj.gov.cn", "SMTP_PORT": None, "SMTP_SECURITY": "SSL", "SMTP_USER": USER,
              "SMTP_PASSWORD": PASSWORD, "MAIL_FROM": "某某县市场监督管理局 <yingji@scj.gov.cn>", "SMTP_TIMEOUT": 12}
    s = mail.settings_from(config)
    assert (s.host, s.effective_port, s.security) == ("mail.scj.gov.cn", 465, "ssl")
    assert (s.username, s.password) == (USER, PASSWORD)
    assert (s.from_address, s.from_name, s.timeout) == ("yingji@scj.gov.cn", "某某县市场监督管理局", 12.0)
    assert PASSWORD not in repr(s)
    named = mail.settings_from({**config, "MAIL_FROM": "yingji@scj.gov.cn", "MAIL_FROM_NAME": "应急指挥",
                                "SMTP_PORT": 2525})
    assert (named.from_name, named.effective_port) == ("应急指挥", 2525)
    assert mail.settings_from({"SMTP_HOST": ""}) is None


@pytest.mark.parametrize("security,port", [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_usual_port_of_each_security_mode(security, port):
    assert settings(None, security=security).effective_port == port


@pytest.mark.parametrize("config", [{"SMTP_HOST": "h"}, {"SMTP_HOST": "h", "MAIL_FROM": "x", "SMTP_SECURITY": "tls"},
                                    {"SMTP_HOST": "h", "MAIL_FROM": "a@b.cn", "SMTP_SECURITY": "tls"}])
def test_incomplete_or_wrong_settings_are_named(config):
    with pytest.raises(NotifierConfigError):
        mail.settings_from(config)


def test_the_environment_fills_the_smtp_settings():
    from app.config import from_environment
    config = from_environment({"SMTP_HOST": "mail.scj.gov.cn", "SMTP_PORT": "2525", "SMTP_SECURITY": " STARTTLS ",
                               "SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD, "MAIL_FROM": "yingji@scj.gov.cn",
                               "MAIL_FROM_NAME": "应急指挥", "SMTP_TIMEOUT": "7", "SMTP_CA_FILE": "/etc/ca.pem"})
    s = mail.settings_from(config)
    assert (s.port, s.security, s.timeout, s.ca_file, s.from_name) == (2525, "starttls", 7.0, "/etc/ca.pem", "应急指挥")
    empty = from_environment({})
    assert empty["SMTP_HOST"] is None and empty["SMTP_SECURITY"] == "starttls" and mail.settings_from(empty) is None


def test_a_login_asked_of_a_server_without_auth_is_permanent(smtp_server):
    with pytest.raises(PermanentMailError) as caught:
        send(settings(smtp_server(Collect()), username=USER, password=PASSWORD))
    assert caught.value.code == "mail_no_auth"
