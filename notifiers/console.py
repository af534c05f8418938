"""The embedded default senders: they log what they would send."""
from __future__ import annotations

import logging
import uuid
from typing import Any, Mapping

from incidents.kernel.masking import mask_phone, redact
from notifiers.base import SENT, SMS, VOICE, Message, Notice, SendResult

log = logging.getLogger("yingji.notify")


class ConsoleSender:
    """Write each notice to the log instead of sending it."""

    channel = "console"

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger

    def send(self, notice: Notice) -> None:
        """Log the notice, with where it would go."""
        target = notice.department or notice.station or "-"
        self.log.warning("[%s → %s] %s", notice.kind, target, redact(notice.text))


class ConsoleMessageSender:
    """Log each SMS or call, with the phone masked, and answer it as sent."""

    provider = "console"
    kind = SMS

    def __init__(self, settings: Mapping[str, Any] | None = None, logger: logging.Logger = log) -> None:
        self.log = logger

    def send(self, message: Message) -> SendResult:
        """Log the message instead of sending it."""
        if message.kind != self.kind:
            raise ValueError(f"{type(self).__name__} sends {self.kind}, not {message.kind}")
        provider_id = f"console-{uuid.uuid4().hex[:12]}"
        self.log.warning("[%s → %s] %s (%s%s)", self.kind, mask_phone(message.to), redact(message.text), provider_id,
                         f", ref {message.reference}" if message.reference else "")
        return SendResult(provider=self.provider, status=SENT, provider_id=provider_id)


class ConsoleSms(ConsoleMessageSender):
    """Log SMS."""

    kind = SMS


class ConsoleVoice(ConsoleMessageSender):
    """Log calls."""

    kind = VOICE
