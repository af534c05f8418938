"""The Sender interface every phone channel implements, what it sends and what it answers.

Two kinds of channel live in notifiers/:
- a `Sender` delivers one `Message` (an SMS or a call) to one phone and answers a `SendResult`;
- a `NoticeSender` broadcasts a `Notice` (board push, console log); the clock dispatcher uses these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


SMS = "sms"
VOICE = "voice"
KINDS = (SMS, VOICE)

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


class NotifierConfigError(ValueError):
    """A sender cannot be built from the settings; the message is Chinese, then English."""


@dataclass(frozen=True)
class Notice:
    """Something to tell someone: a clock warning, an overdue clock, an assignment."""

    kind: str  # warning | overdue | ...
    text: str  # Chinese, short enough for one or two SMS segments
    incident_id: int | None = None
    department: str | None = None
    station: str | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One SMS or one call to one phone, in international format (+86...)."""

    to: str
    text: str
    kind: str = SMS  # sms | voice
    reference: str | None = None  # what it is about, e.g. an escalation step id; carried to callbacks

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"message kind must be one of {KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class SendResult:
    """What the provider answered: accepted (queued or sent) or failed, and whether to retry."""

    provider: str
    status: str  # queued | sent | failed
    provider_id: str | None = None  # Twilio's SM.../CA... sid
    error_code: str | None = None
    error_message: str | None = None
    permanent: bool = False  # a failure that no retry can fix (invalid or landline number)

    @property
    def ok(self) -> bool:
        """Return whether the provider accepted the message."""
        return self.status != FAILED


class Sender(Protocol):
    """A channel that delivers messages of one kind (SMS or voice) to a phone."""

    provider: str  # console | twilio | ...
    kind: str  # sms | voice

    def send(self, message: Message) -> SendResult:
        """Hand one message to the provider; answer a failed result instead of raising for provider errors."""
        ...


class NoticeSender(Protocol):
    """A channel that broadcasts notices (board push, console log)."""

    channel: str

    def send(self, notice: Notice) -> None:
        """Deliver one notice, or raise."""
        ...
