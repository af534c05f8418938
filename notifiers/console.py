"""The embedded default sender: it logs what it would send."""
from __future__ import annotations

import logging

from notifiers.base import Notice

log = logging.getLogger("yingji.notify")


class ConsoleSender:
    """Write each notice to the log instead of sending it."""

    channel = "console"

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger

    def send(self, notice: Notice) -> None:
        """Log the notice, with where it would go."""
        target = notice.department or notice.station or "-"
        self.log.warning("[%s → %s] %s", notice.kind, target, notice.text)
