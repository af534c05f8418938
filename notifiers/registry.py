"""Which class sends SMS and which places calls, chosen by SMS_BACKEND / VOICE_BACKEND.

A new provider (e.g. a mainland SMS service) is a new class taking the settings dict, named
here or given directly as "package.module:Class" in the setting. No flask: the settings are
a plain dict built by the web layer.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

from notifiers.base import SMS, VOICE, NotifierConfigError, Sender

BACKENDS: dict[str, dict[str, str]] = {
    SMS: {"console": "notifiers.console:ConsoleSms", "twilio": "notifiers.twilio:TwilioSms"},
    VOICE: {"console": "notifiers.console:ConsoleVoice", "twilio": "notifiers.twilio:TwilioVoice"},
}
SETTING = {SMS: "SMS_BACKEND", VOICE: "VOICE_BACKEND"}

# Every setting the senders read, with its embedded default.
DEFAULTS: dict[str, Any] = {
    "SMS_BACKEND": "console",
    "VOICE_BACKEND": "console",
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_FROM_NUMBER": None,
    "TWILIO_API_BASE": "https://api.twilio.com",
    "PUBLIC_BASE_URL": None,  # derives the two webhooks below when they are not set
    "TWILIO_STATUS_CALLBACK": None,  # for the delivery-status webhook
    "TWILIO_VOICE_ACTION": None,  # where Twilio posts the keypress of an alert call
    "TWILIO_TIMEOUT": 10.0,
}


def settings_from(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the senders' settings: the app's config (read from the environment once), else the defaults."""
    out = {}
    for key, default in DEFAULTS.items():
        value = config.get(key)
        out[key] = value if value not in (None, "") else default
    base = (out["PUBLIC_BASE_URL"] or "").rstrip("/")
    if base:
        out["TWILIO_STATUS_CALLBACK"] = out["TWILIO_STATUS_CALLBACK"] or base + "/hooks/twilio/status"
        out["TWILIO_VOICE_ACTION"] = out["TWILIO_VOICE_ACTION"] or base + "/hooks/twilio/voice"
    return out


def sender_class(kind: str, name: str) -> type:
    """Return the class for a backend name ("console", "twilio") or a "module:Class" path."""
    path = BACKENDS[kind].get(name) or (name if ":" in name else None)
    if path is None:
        choices = ", ".join(sorted(BACKENDS[kind]))
        raise NotifierConfigError(f"未知的{SETTING[kind]}：{name}（可选 {choices}）/ "
                                  f"unknown {SETTING[kind]} {name!r} (choose from {choices} or module:Class)")
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def build(kind: str, settings: Mapping[str, Any]) -> Sender:
    """Build the sender of one kind (sms or voice) that the settings ask for."""
    name = settings.get(SETTING[kind]) or DEFAULTS[SETTING[kind]]
    return sender_class(kind, name)(settings)


def sms_sender(settings: Mapping[str, Any]) -> Sender:
    """Build the configured SMS sender."""
    return build(SMS, settings)


def voice_sender(settings: Mapping[str, Any]) -> Sender:
    """Build the configured voice sender."""
    return build(VOICE, settings)
