"""E-mail a PDF document through SMTP, and say whether a failure is worth a retry.

Transient (retry later): no connection, a time-out, a dropped connection, any 4xx reply.
Permanent (a person must look): any 5xx reply (550 mailbox unavailable, 535 bad credentials), a
server without STARTTLS when it is required, a certificate that does not verify, a bad address.
Recipients are offices of the bureaus; logs still show them masked, the receipt in full.
"""
from __future__ import annotations

import base64
import logging
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Callable, Mapping, Sequence

from notifiers.base import NotifierConfigError

log = logging.getLogger("yingji.notify.mail")

STARTTLS, SSL, NONE = "starttls", "ssl", "none"
PORTS = {STARTTLS: 587, SSL: 465, NONE: 25}
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class MailSettings:
    """Where and as whom mail is sent; app/config.py fills it from SMTP_* and MAIL_FROM*."""

    host: str
    from_address: str
    from_name: str = ""  # a Chinese display name, e.g. 某某县市场监督管理局应急指挥
    port: int | None = None  # None: 587, 465 or 25 for the security mode
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = STARTTLS  # starttls | ssl | none
    timeout: float = DEFAULT_TIMEOUT
    ca_file: str | None = None  # a private CA's certificates (PEM); default: the system's
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)  # overrides ca_file

    def __post_init__(self) -> None:
        if self.security not in PORTS:
            raise NotifierConfigError(f"SMTP_SECURITY 只能是 starttls、ssl 或 none，不能是 {self.security!r} / "
                                      f"SMTP_SECURITY must be starttls, ssl or none, not {self.security!r}")
        if not _address_ok(self.from_address):
            raise NotifierConfigError(f"发件地址无效：{self.from_address!r} / invalid MAIL_FROM {self.from_address!r}")

    @property
    def effective_port(self) -> int:
        """Return the port to connect to: the one set, else the usual one for the security mode."""
        return self.port or PORTS[self.security]

    def tls_context(self) -> ssl.SSLContext:
        """Return the TLS context that checks the server's certificate and name."""
        return self.ssl_context or ssl.create_default_context(cafile=self.ca_file)


def settings_from(config: Mapping[str, Any]) -> MailSettings | None:
    """Build the mail settings from the app's config; None when SMTP_HOST is not set (no e-mail)."""
    host = config.get("SMTP_HOST")
    if not host:
        return None
    name, address = parseaddr(config.get("MAIL_FROM") or "")
    if not address:
        raise NotifierConfigError("设置了 SMTP_HOST 但缺少 MAIL_FROM / SMTP_HOST is set but MAIL_FROM is missing")
    return MailSettings(host=host, port=int(config["SMTP_PORT"]) if config.get("SMTP_PORT") else None,
                        username=config.get("SMTP_USER") or None, password=config.get("SMTP_PASSWORD") or None,
                        security=(config.get("SMTP_SECURITY") or STARTTLS).strip().lower(),
                        from_address=address, from_name=config.get("MAIL_FROM_NAME") or name,
                        timeout=float(config.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT),
                        ca_file=config.get("SMTP_CA_FILE") or None)


# --- errors --------------------------------------------------------------------------------------
class MailError(Exception):
    """A message not sent; `code`, `smtp_code` (if the server answered) and Chinese + English say why."""

    transient = False

    def __init__(self, code: str, message_zh: str, message_en: str, *, smtp_code: int | None = None,
                 refused: dict[str, tuple[int, str]] | None = None) -> None:
        super().__init__(message_en)
        self.code, self.message_zh, self.message_en = code, message_zh, message_en
        self.smtp_code, self.refused = smtp_code, refused or {}


class TransientMailError(MailError):
    """A failure that a later retry may get past (no connection, 4xx)."""

    transient = True


class PermanentMailError(MailError):
    """A failure no retry fixes (5xx, TLS refused, bad address)."""


@dataclass(frozen=True)
class MailReceipt:
    """What the server accepted: the Message-ID, when, for whom, and its own answer (queue id)."""

    message_id: str
    accepted_at: datetime
    recipients: tuple[str, ...]
    refused: dict[str, tuple[int, str]]  # addresses the server refused while it took the others
    server_reply: str


# --- the message ---------------------------------------------------------------------------------
def build_message(settings: MailSettings, *, to: Sequence[str], subject: str, body: str, pdf: bytes,
                  filename: str, now: datetime) -> EmailMessage:
    """Build the MIME message: UTF-8 subject (RFC 2047), text body, PDF attached (RFC 2231 filename)."""
    bad = [a for a in to if not _address_ok(a)]
    if not to or bad:
        raise PermanentMailError("mail_invalid_address", f"收件地址无效：{', '.join(bad) or '（无）'}",
                                 f"invalid recipient address: {', '.join(bad) or '(none)'}")
    msg = EmailMessage(policy=policy.SMTP)
    local, _, domain = settings.from_address.rpartition("@")
    msg["From"] = Address(display_name=settings.from_name, username=local, domain=domain)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(timezone.utc))
    # 96 random bits at the sender's domain: unique, and short enough not to be folded onto a second line.
    msg["Message-ID"] = f"<{secrets.token_hex(12)}@{domain}>"
    # base64, not 8bit: a relay without 8BITMIME must not mangle the Chinese text.
    msg.set_content(body, charset="utf-8", cte="base64")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def _address_ok(address: str) -> bool:
    """Accept a plain ASCII addr-spec: one @, no spaces, no line breaks, no display name."""
    if not address or not address.isascii() or any(c in address for c in " \t\r\n<>,;\"()"):
        return False
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and "@" not in local)


def mask_address(address: str) -> str:
    """Hide most of the local part for logs: duty.office@scj.gov.cn -> d***@scj.gov.cn."""
    local, _, domain = address.rpartition("@")
    return (local[:1] + "***@" + domain) if local else "***"


# --- sending -------------------------------------------------------------------------------------
def send_pdf(settings: MailSettings, *, to: Sequence[str], subject: str, body: str, pdf: bytes,
             filename: str, clock: Callable[[], datetime] | None = None) -> MailReceipt:
    """Send one PDF to the addresses; return the receipt, or raise TransientMailError / PermanentMailError."""
    clock = clock or (lambda: datetime.now(timezone.utc))
    to = list(dict.fromkeys([to] if isinstance(to, str) else to))  # one copy per address, order kept
    msg = build_message(settings, to=to, subject=subject, body=body, pdf=pdf, filename=filename, now=clock())
    data = msg.as_bytes()
    try:
        smtp = _connect(settings)
        try:
            refused, reply = _transact(smtp, settings.from_address, to, data)
            accepted_at = clock()
        finally:
            _close(smtp)
    except MailError:
        raise
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentMailError("mail_not_supported", f"邮件服务器不支持：{exc}",
                                 f"not supported by the server: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        raise _classified(exc.smtp_code, exc.smtp_error, "session") from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentMailError("mail_tls", f"邮件服务器证书验证失败：{exc.verify_message}",
                                 f"the server's certificate does not verify: {exc.verify_message}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, time-out, disconnected, TLS handshake
        what = "timeout" if _timed_out(exc) else "unreachable"
        raise TransientMailError(f"mail_{what}", f"无法连接邮件服务器 {settings.host}：{exc}",
                                 f"cannot reach the mail server {settings.host}: {exc!r}") from exc
    log.info("mail %s sent to %s (refused: %s): %s", msg["Message-ID"],
             ", ".join(mask_address(a) for a in to if a not in refused) or "-",
             ", ".join(mask_address(a) for a in refused) or "-", reply)
    return MailReceipt(message_id=msg["Message-ID"], accepted_at=accepted_at,
                       recipients=tuple(a for a in to if a not in refused), refused=refused, server_reply=reply)


def _connect(settings: MailSettings) -> smtplib.SMTP:
    """Open the SMTP session: implicit TLS, or STARTTLS before anything else; then log in if asked."""
    port = settings.effective_port
    if settings.security == SSL:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout,
                                              context=settings.tls_context())
    else:
        smtp = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == STARTTLS:
            if not smtp.has_extn("starttls"):  # never fall back to plain text
                raise PermanentMailError("mail_no_starttls", "邮件服务器不支持 STARTTLS",
                                         "the server offers no STARTTLS")
            smtp.starttls(context=settings.tls_context())
            smtp.ehlo()
        if settings.username:
            if not smtp.has_extn("auth"):
                raise PermanentMailError("mail_no_auth", "邮件服务器未提供登录（AUTH），请检查 SMTP_USER 与加密方式",
                                         "the server offers no AUTH: check SMTP_USER and SMTP_SECURITY")
            _login(smtp, settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """Log in; non-ASCII credentials go as UTF-8 through AUTH PLAIN (RFC 4616), which smtplib cannot send."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _timed_out(exc: BaseException | None) -> bool:
    """Tell whether a time-out caused the error (smtplib wraps it in SMTPServerDisconnected)."""
    while exc is not None:
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _transact(smtp: smtplib.SMTP, sender: str, to: list[str], data: bytes) -> tuple[dict, str]:
    """Run MAIL, RCPT for each address, DATA; return the refused addresses and the server's last reply."""
    options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _reset(smtp)
        raise _classified(code, reply, "MAIL FROM")
    refused: dict[str, tuple[int, str]] = {}
    for address in to:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, _text(reply))
    if len(refused) == len(to):
        _reset(smtp)
        transient = any(c < 500 for c, _ in refused.values())  # a later try may reach those
        kind = TransientMailError if transient else PermanentMailError
        listed = "; ".join(f"{a}: {c} {r}" for a, (c, r) in refused.items())
        raise kind("mail_recipients_refused", f"所有收件地址均被拒收：{listed}", f"every recipient was refused: {listed}",
                   smtp_code=next(iter(refused.values()))[0], refused=refused)
    code, reply = smtp.data(data)
    if code != 250:
        _reset(smtp)
        raise _classified(code, reply, "DATA")
    return refused, _text(reply)


def _close(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close; a failure here changes nothing (after DATA the message is the server's)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reset(smtp: smtplib.SMTP) -> None:
    try:
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        pass


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _classified(code: int, reply: bytes | str, stage: str) -> MailError:
    """Return the error for an SMTP reply: 4xx transient, anything else permanent."""
    text = f"{code} {_text(reply)}".strip()
    if 400 <= code < 500:
        return TransientMailError("mail_deferred", f"邮件服务器暂时拒绝（{stage}）：{text}",
                                  f"the server deferred it at {stage}: {text}", smtp_code=code)
    return PermanentMailError("mail_rejected", f"邮件服务器拒绝（{stage}）：{text}",
                              f"the server rejected it at {stage}: {text}", smtp_code=code)
