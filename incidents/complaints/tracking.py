"""Tracking numbers (TS/JB + day + check character) the public looks a submission up by."""
from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date

from incidents.complaints.states import COMPLAINT, TIPOFF

# Crockford's base 32: no I, L, O, U, so that a number read out over the phone is not misheard.
_TRACK = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TRACK_FIX = str.maketrans({"I": "1", "L": "1", "O": "0"})
_TRACK_RE = re.compile(r"^(TS|JB)(\d{8})-([0-9A-Z]{7})$")
PREFIX = {COMPLAINT: "TS", TIPOFF: "JB"}


def _track_check(body: str) -> str:
    # A prime modulus: every single mistyped character changes the check character.
    return _TRACK[sum((i + 1) * _TRACK.index(ch) for i, ch in enumerate(body)) % 31]


def new_tracking_no(kind: str, day: date) -> str:
    """Return a fresh tracking number, e.g. TS20261120-7K3M9QX (6 random characters and a check character)."""
    body = "".join(secrets.choice(_TRACK) for _ in range(6))
    return f"{PREFIX[kind]}{day:%Y%m%d}-{body}{_track_check(body)}"


def normalise_tracking_no(raw: str) -> str | None:
    """Return the tracking number as stored, from what a person typed; None if it cannot be one."""
    text = re.sub(r"[\s\-－—]", "", unicodedata.normalize("NFKC", raw or "")).upper()
    if len(text) != 17:
        return None
    text = text[:10] + text[10:].translate(_TRACK_FIX)
    candidate = f"{text[:10]}-{text[10:]}"
    m = _TRACK_RE.match(candidate)
    if not m or any(ch not in _TRACK for ch in m.group(3)) or _track_check(m.group(3)[:6]) != m.group(3)[6]:
        return None
    return candidate
