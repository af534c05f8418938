"""Masks for phone numbers, ID numbers and names, wherever they are shown or logged."""
from __future__ import annotations

import re

_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def mask_phone(phone: str | None) -> str:
    """Hide the middle of a phone number: 13812345678 -> 138****5678, +8613812345678 -> +86138****5678."""
    if not phone:
        return ""
    prefix, national = ("+86", phone[3:]) if phone.startswith("+86") else ("", phone)
    if len(national) <= 7:
        return prefix + "*" * max(len(national) - 2, 0) + national[-2:]
    return prefix + national[:3] + "****" + national[-4:]


def id_number_valid(number: str) -> bool:
    """Tell whether an 18-character resident ID number has the right check character (GB 11643)."""
    if not re.fullmatch(r"\d{17}[\dXx]", number or ""):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def mask_id_number(number: str) -> str:
    """Hide the middle of an ID number: 410122199001011234 -> 4101**********1234."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def redact(text: str | None) -> str:
    """Mask mobile and ID numbers written inside free text, for boards, pushed events and logs."""
    if not text:
        return text or ""
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)) if id_number_valid(m.group(0)) else m.group(0),
                           text)


def mask_name(name: str | None) -> str:
    """Keep the first character of a name: 张三丰 -> 张**."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def mask_login(login: str | None) -> str:
    """Hide most of a login name that matched no user (it may be a mistyped password): a*** (6)."""
    if not login:
        return ""
    shown = login[:1] + "***"
    return f"{shown} ({len(login)})"
