"""The Sender interface every channel implements, and the notice it sends."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Notice:
    """Something to tell someone: a clock warning, an overdue clock, an assignment."""

    kind: str  # warning | overdue | ...
    text: str  # Chinese, short enough for one or two SMS segments
    incident_id: int | None = None
    department: str | None = None
    station: str | None = None
    data: dict = field(default_factory=dict)


class Sender(Protocol):
    """A channel that delivers notices."""

    channel: str

    def send(self, notice: Notice) -> None:
        """Deliver one notice, or raise."""
        ...
