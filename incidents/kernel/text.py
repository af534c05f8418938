"""Text as people type it: one cleaner, one length-and-presence check with a Chinese message."""
from __future__ import annotations

import re
from typing import Any

from incidents.kernel.errors import InvalidInput

# NUL and the other control characters, but not tab and line breaks: PostgreSQL refuses NUL.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """Drop control characters; one line collapses its spaces, several lines keep their breaks."""
    if value is None:
        return ""
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise TypeError
    text = CONTROL_CHARS.sub("", text)
    if not multiline:
        text = " ".join(text.split())
    else:
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return text.strip()


def checked_text(value: str | None, *, field: str, label: str, limit: int, required: bool = True,
                 clean: bool = False, ask: str = "缺少") -> str:
    """Return the stripped (or cleaned) text, refusing a missing one or one over `limit` characters."""
    text = clean_text(value, multiline=True) if clean else (value or "").strip()
    if required and not text:
        raise InvalidInput("missing_field", f"{ask}{label}", f"{field} is required", field=field)
    if len(text) > limit:
        raise InvalidInput("too_long", f"{label}过长（最多{limit}字）", f"{field} is longer than {limit} characters",
                           field=field)
    return text
