"""Provider webhooks (Twilio): inbound SMS replies, call keypresses, delivery statuses; all signed."""
from __future__ import annotations

from app.hooks.twilio import bp

__all__ = ["bp"]
