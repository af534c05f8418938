"""The channels a step tells people on, and the purposes of a delivery (their names: kernel/labels)."""
from __future__ import annotations

BOARD, SMS, VOICE = "board", "sms", "voice"
ALERT, HANDLED, TEST = "alert", "handled", "test"
