"""SMS and voice through the official twilio SDK; TWILIO_API_BASE points it at a compatible gateway."""
from __future__ import annotations

import logging
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from incidents.kernel.masking import mask_phone
from notifiers.base import FAILED, QUEUED, SENT, SMS, VOICE, Message, NotifierConfigError, SendResult

log = logging.getLogger("yingji.notify.twilio")

DEFAULT_API_BASE = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0  # seconds; the SDK's own default is to wait forever
ACK_PROMPT = "按1键签收"

# Errors about the recipient's number: retrying the same number can never succeed, so the
# escalation moves on to the next channel or person. Everything else (network, 5xx, 429,
# credentials being fixed) is transient.
PERMANENT_CODES = frozenset({
    21211,  # invalid 'To' phone number
    21214,  # 'To' number cannot be reached
    21217,  # phone number does not appear to be valid
    21401,  # invalid phone number
    21407,  # this phone number type does not support SMS or MMS
    21408,  # permission to send to this region is not enabled
    21610,  # the recipient replied STOP
    21612,  # the 'To' number is not reachable by this route
    21614,  # 'To' number is not a valid mobile number (landline or unknown)
    13223,  # invalid phone number format (calls)
    13224,  # invalid phone number (calls)
    13227,  # no international permission for this number (calls)
})


def _is_twilio_host(host: str | None) -> bool:
    return bool(host) and (host == "twilio.com" or host.endswith(".twilio.com"))


class BaseUrlHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends every *.twilio.com request to another base URL."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        """Rewrite the URL onto the configured base, then send it as the SDK would."""
        parts = urlsplit(url)
        if _is_twilio_host(parts.hostname):
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def make_client(settings: Mapping[str, Any]) -> Client:
    """Build a twilio REST client from the settings, routed to TWILIO_API_BASE when it is set."""
    sid, token = settings.get("TWILIO_ACCOUNT_SID"), settings.get("TWILIO_AUTH_TOKEN")
    missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER") if not settings.get(k)]
    if missing:
        raise NotifierConfigError(f"缺少 Twilio 设置：{', '.join(missing)} / missing Twilio settings: {', '.join(missing)}")
    timeout = float(settings.get("TWILIO_TIMEOUT") or DEFAULT_TIMEOUT)
    base = (settings.get("TWILIO_API_BASE") or DEFAULT_API_BASE).rstrip("/")
    # requests reads the proxy and CA settings of the environment (HTTPS_PROXY, REQUESTS_CA_BUNDLE)
    # once here, for the one host we call: left to itself it reads them again on every message.
    with requests.Session() as probe:
        found = probe.merge_environment_settings(base, {}, None, None, None)
    proxy = found["proxies"]
    if base == DEFAULT_API_BASE:
        http = TwilioHttpClient(timeout=timeout, proxy=proxy)
    else:
        http = BaseUrlHttpClient(base, timeout=timeout, proxy=proxy)
    http.session.trust_env = False
    http.session.verify = found["verify"]
    return Client(sid, token, http_client=http)


def failure(exc: Exception) -> SendResult:
    """Turn an SDK or network error into a failed result, permanent only for a bad recipient number."""
    if isinstance(exc, TwilioRestException) or (hasattr(exc, "status") and hasattr(exc, "code")):
        # TwilioRestException (Twilio's classic error JSON) or TwilioServiceException (RFC 9457)
        code = getattr(exc, "code", None)
        status = getattr(exc, "status", None)
        message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or str(exc)
        permanent = code in PERMANENT_CODES
        return SendResult(provider="twilio", status=FAILED, error_code=str(code or status),
                          error_message=f"HTTP {status}: {message}", permanent=permanent)
    if isinstance(exc, requests.RequestException):
        return SendResult(provider="twilio", status=FAILED, error_code="network",
                          error_message=f"{type(exc).__name__}: {exc}", permanent=False)
    return SendResult(provider="twilio", status=FAILED, error_code="error",
                      error_message=f"{type(exc).__name__}: {exc}", permanent=False)


def _status(provider_status: str | None) -> str:
    return SENT if provider_status in ("sent", "delivered", "in-progress", "completed") else QUEUED


def with_ref(url: str | None, reference: str | None) -> str | None:
    """Return a webhook URL carrying the delivery it is about (?ref=), signed along with the rest."""
    if not url or not reference:
        return url
    return url + ("&" if "?" in url else "?") + urlencode({"ref": reference})


def voice_twiml(text: str, *, action: str | None = None, reference: str | None = None) -> str:
    """Return the TwiML of an alert call: read the message in Chinese and gather one key (1 acknowledges)."""
    action = with_ref(action, reference)
    response = VoiceResponse()
    for _ in range(2):  # read it twice: the first words of a call at 3 a.m. are often missed
        gather = response.gather(num_digits=1, action=action or None, method="POST", timeout=8)
        gather.say(text, language="zh-CN")
        gather.say(ACK_PROMPT, language="zh-CN")
    response.say("未收到按键，再见。", language="zh-CN")
    return str(response)


class _TwilioSender:
    provider = "twilio"
    kind = SMS

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.client = make_client(settings)
        self.from_number = settings["TWILIO_FROM_NUMBER"]
        self.status_callback = settings.get("TWILIO_STATUS_CALLBACK") or None
        self.voice_action = settings.get("TWILIO_VOICE_ACTION") or None

    def send(self, message: Message) -> SendResult:
        """Hand the message to Twilio; a provider or network error becomes a failed result."""
        if message.kind != self.kind:
            raise ValueError(f"{type(self).__name__} sends {self.kind}, not {message.kind}")
        try:
            sid, status = self._create(message)
        except (TwilioException, requests.RequestException) as exc:
            result = failure(exc)
            log.warning("twilio %s to %s failed: %s %s (permanent: %s)", self.kind, mask_phone(message.to),
                        result.error_code, result.error_message, result.permanent)
            return result
        log.info("twilio %s to %s: %s %s", self.kind, mask_phone(message.to), sid, status)
        return SendResult(provider=self.provider, status=_status(status), provider_id=sid)

    def _create(self, message: Message) -> tuple[str, str | None]:
        raise NotImplementedError


class TwilioSms(_TwilioSender):
    """SMS through Twilio's Messages resource."""

    kind = SMS

    def _create(self, message: Message) -> tuple[str, str | None]:
        # The delivery's id rides on the callback: a status may come before its SID is recorded.
        extra = {"status_callback": with_ref(self.status_callback, message.reference)} if self.status_callback else {}
        created = self.client.messages.create(to=message.to, from_=self.from_number, body=message.text, **extra)
        return created.sid, created.status


class TwilioVoice(_TwilioSender):
    """Calls through Twilio's Calls resource, with the TwiML given inline."""

    kind = VOICE

    def _create(self, message: Message) -> tuple[str, str | None]:
        extra = {"status_callback": with_ref(self.status_callback, message.reference)} if self.status_callback else {}
        twiml = voice_twiml(message.text, action=self.voice_action, reference=message.reference)
        created = self.client.calls.create(to=message.to, from_=self.from_number, twiml=twiml, **extra)
        return created.sid, created.status
